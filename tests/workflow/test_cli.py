"""The operators' CLI, run as a person runs it (a subprocess, `--local STATE_FILE --json`) against the
session's embedded stack: status, pending, history, resend, cancel and reconcile."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from embedded_aws.client import StackClient
from embedded_aws.scenario import publish_model, publish_model_quality, register_version
from stack_helpers import PROJECT_ROOT, Promotion, new_group, operator_command, operator_env, register

pytestmark = pytest.mark.workflow

STAGES = ["dev", "test", "uat", "prod"]


@pytest.fixture(scope="module")
def state_file(stack: StackClient, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `make up` writes: the CLI's --local target."""
    path = tmp_path_factory.mktemp("cli") / "stack.json"
    path.write_text(json.dumps(stack.info))
    return path


def cli(state_file: Path, *args: str, expect: int = 0) -> Any:
    """Runs one command; returns its JSON answer (or stderr when a failure is expected)."""
    (answer,) = cli_all(state_file, [args], expect=expect)
    return answer


def cli_all(state_file: Path, commands: list[tuple[str, ...]], expect: int = 0) -> list[Any]:
    """Runs independent commands side by side (each is a Python start-up) and returns their answers in order."""
    processes = [
        subprocess.Popen(
            operator_command(state_file, "--json", *args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=operator_env(),
            cwd=PROJECT_ROOT,
        )
        for args in commands
    ]
    answers = []
    for args, process in zip(commands, processes, strict=True):
        out, err = process.communicate(timeout=60)
        assert process.returncode == expect, f"{args}: exit {process.returncode}\n{out}\n{err}"
        assert "Traceback" not in err, err
        answers.append(json.loads(out) if expect == 0 else err)
    return answers


def _no_token_in(text: str, promotion: Promotion) -> None:
    for token in promotion.task_tokens():
        assert token not in text


def test_reconcile_starts_the_promotion_whose_registration_event_was_lost(stack, demo_assets, state_file):
    # Given a version registered while EventBridge lost its event
    group = new_group("cli-lost")
    stack.client("sagemaker").create_model_package_group(ModelPackageGroupName=group)
    url = publish_model(stack, demo_assets.model_archive, f"{group}/model.tar.gz")
    statistics = publish_model_quality(stack, demo_assets.model_archive, demo_assets, f"{group}/evaluation.json")
    dropped = requests.post(f"{stack.api_url}/_local/drop-next-events?count=1&group={group}", timeout=10)
    assert dropped.status_code == 204
    package = register_version(
        stack, group, url, registrant_email="dana.scientist@example.com", statistics_uri=statistics
    )
    arn = f"{stack.state_machine_arn.replace(':stateMachine:', ':execution:')}:{group}-v1"
    lost = Promotion(stack, group, 1, package["ModelPackageArn"], arn)

    # Then nothing starts: no execution, no dev email
    time.sleep(2)
    (status,) = cli(state_file, "status", group)["versions"]
    assert status["execution"]["status"] is None and status["pending"] is None
    assert lost.emails() == []

    # When an operator runs reconcile
    result = cli(state_file, "reconcile", "--group", group)

    # Then the promotion starts, and the dev approver is asked as if the event had arrived
    assert result == {"started": [f"{group}-v1"], "alreadyRunning": 0, "ended": 0}
    assert stack.client("stepfunctions").describe_execution(executionArn=arn)["status"] == "RUNNING"
    assert "Approval needed" in lost.approval_email("dev")["subject"]
    # And a second run finds nothing more to do
    assert cli(state_file, "reconcile", "--group", group) == {"started": [], "alreadyRunning": 1, "ended": 0}


def test_status_pending_and_history_of_a_group_with_an_approved_and_a_pending_version(
    stack, demo_assets, promotion_factory, state_file
):
    # Given version 1 approved through prod, and version 2 waiting for its dev approver
    first = promotion_factory("cli-status")
    for stage in STAGES:
        assert first.decide(stage, "approve", f"{stage} reviewed").status_code == 200
    assert first.finish()["status"] == "SUCCEEDED"
    second = register(stack, demo_assets, "cli-status", group=first.group)
    second.approval_email("dev")

    # When an operator asks
    status, pending, history, prod_v1, metrics = cli_all(
        state_file,
        [
            ("status", first.group),
            ("pending",),
            ("history", first.group),
            ("history", first.group, "--stage", "prod", "--version", "1"),
            ("metrics", first.group),
        ],
    )

    # Then status shows both versions, newest first, each with its stages, execution and what it waits for
    v2, v1 = status["versions"]
    assert (v2["version"], v1["version"]) == (2, 1)
    assert v1["modelApprovalStatus"] == "Approved" and v1["execution"]["status"] == "SUCCEEDED"
    assert {s["stage"]: s["status"] for s in v1["stages"]} == dict.fromkeys(STAGES, "Approved")
    prod = next(s for s in v1["stages"] if s["stage"] == "prod")
    assert prod["signedBy"] == first.approvers("prod")[0] and prod["signedAt"]
    assert v1["pending"] is None
    assert v2["modelApprovalStatus"] == "PendingManualApproval" and v2["execution"]["status"] == "RUNNING"
    assert v2["pending"]["stage"] == "dev" and v2["pending"]["recipients"] == first.approvers("dev")

    # And metrics shows version 1's batch results at each stage it was scored in before the next one's approval
    assert [(row["stage"], row["version"]) for row in metrics["rows"]] == [("dev", 1), ("test", 1), ("uat", 1)]
    assert "accuracy" in metrics["metrics"] and all(row["metrics"] for row in metrics["rows"])

    # And pending shows version 2's dev request, for whom, since when and until when
    (waiting,) = [p for p in pending if p["group"] == first.group]
    assert (waiting["version"], waiting["stage"]) == (2, "dev")
    assert waiting["recipients"] == first.approvers("dev")
    assert waiting["ageSeconds"] >= 0 and waiting["secondsLeft"] > 0 and waiting["reminded"] is False
    assert waiting["expiresAt"] > waiting["requestedAt"]

    # And history says who approved version 1 for prod, and when, as the SSM record does
    assert [(h["version"], h["stage"], h["outcome"]) for h in history] == [(1, s, "approved") for s in STAGES]
    (row,) = prod_v1
    record = first.ssm_record("prod")
    assert row["who"] == f"Priya Prod <{first.approvers('prod')[0]}>"
    assert row["at"] == record["approvedAt"] and row["meaning"] == "approved for prod"
    assert row["comment"] == "prod reviewed"
    _no_token_in(json.dumps([status, pending, history]), first)


def test_resend_mails_a_fresh_link_to_the_same_request_and_it_decides(promotion_factory, state_file):
    # Given a version waiting for its dev approver, who mislaid the email
    promotion = promotion_factory("cli-resend")
    approver = promotion.approvers("dev")[0]
    old_link = promotion.link("dev")

    # When an operator resends the request
    result = cli(state_file, "resend", promotion.group, str(promotion.version))

    # Then the approver gets a new email with a new link
    assert result["stage"] == "dev" and result["recipients"] == [approver] and result["sent"] == 1
    resent = promotion.stack.wait_for_email(
        lambda m: (
            approver in m["to"]
            and m["subject"] == f"Approval needed: {promotion.group} version {promotion.version} for dev"
            and promotion.stack.links(m) != [old_link]
        ),
        "the resent dev email",
    )
    (new_link,) = promotion.stack.links(resent)
    _no_token_in(resent["text"] + resent["html"], promotion)

    # And approving through it moves the execution on to test
    answer = promotion.stack.decide(new_link, "approve", "approved from the resent link", as_user=approver)
    assert answer.status_code == 200, answer.text
    assert promotion.approval_email("test")
    # And it was the same request: the old link now says it is decided
    late = promotion.stack.signed_in(approver).get(old_link, timeout=30)
    assert late.status_code == 409 and "already approved" in late.text


def test_cancel_stops_the_promotion_and_records_who_cancelled_it_and_why(promotion_factory, state_file):
    # Given a version approved for dev and waiting for its test approver
    promotion = promotion_factory("cli-cancel")
    assert promotion.decide("dev", "approve", "dev ok").status_code == 200
    test_link = promotion.link("test")

    # When an operator cancels it (their AWS identity is the default operator)
    result = cli(state_file, "cancel", promotion.group, str(promotion.version), "--reason", "trained on stale data")

    # Then the execution is stopped
    assert result["stage"] == "test" and result["cancelledBy"].startswith("arn:aws:")
    sfn = promotion.stack.client("stepfunctions")
    stopped = promotion.stack.wait_for(
        "the cancelled execution to stop",
        lambda: (d := sfn.describe_execution(executionArn=promotion.execution_arn))["status"] != "RUNNING" and d,
        timeout=5,
    )
    assert stopped["status"] == "ABORTED"

    # And the registry shows the stage cancelled, by whom and why, leaving dev's approval as it was
    described = promotion.describe()
    assert described["CustomerMetadataProperties"]["test"] == "Cancelled"
    assert described["CustomerMetadataProperties"]["dev"] == "Approved"
    assert described["ApprovalDescription"] == (
        f"test cancelled by {result['cancelledBy']} at {result['cancelledAt']}: trained on stale data"
    )

    # And history shows the cancellation after dev's approval
    history = cli(state_file, "history", promotion.group)
    assert [(h["stage"], h["outcome"]) for h in history] == [("dev", "approved"), ("test", "cancelled")]
    assert history[1]["actor"] == result["cancelledBy"] and history[1]["reason"] == "trained on stale data"

    # And the test approver's link now says the request is closed, and deciding through it changes nothing
    answer = promotion.stack.decide(test_link, "approve", "too late", as_user=promotion.approvers("test")[0])
    assert answer.status_code in (409, 410) and "cancelled" in answer.text
    assert [e["outcome"] for e in promotion.audit_entries() if e["stage"] == "test"] == ["cancelled"]
    assert promotion.describe()["CustomerMetadataProperties"]["test"] == "Cancelled"

    # And a second cancel, or a resend, finds nothing pending
    for args in (
        ("cancel", promotion.group, str(promotion.version), "--reason", "again"),
        ("resend", promotion.group, str(promotion.version)),
    ):
        error = cli(state_file, *args, expect=1)
        assert "has no pending approval request" in error and error.count("\n") == 1
