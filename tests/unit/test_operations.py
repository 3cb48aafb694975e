"""The operators' services (status, pending, history, resend, cancel) with fakes, and the CLI's printing,
argument and target handling."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from builders import GROUP, STAGES, decision_record, model_description, model_version, stage_task_payload
from fakes import (
    FakeApprovalStore,
    FakeApprovedModels,
    FakeDecisionLog,
    FakeExecutions,
    FakeMailer,
    FakeModelVersions,
    FakeRegistry,
    FakeWorkflow,
    StoppedExecution,
)

from model_promotion import cli
from model_promotion.domain.approvals import ApprovalRequest, RequestStatus, StageTask, request_key
from model_promotion.domain.errors import TransientAwsError
from model_promotion.domain.records import audit_entry
from model_promotion.domain.registration import execution_name
from model_promotion.domain.stages import Outcome, approval_description
from model_promotion.services.operations import (
    CANCEL_ERROR,
    BadRequest,
    CancelIncomplete,
    NotFound,
    OperationError,
    batch_metrics,
    cancel_promotion,
    decision_history,
    pending_approvals,
    promotion_overview,
    request_rollback,
    resend_request,
    retry_promotion,
    version_status,
    version_timeline,
)

NOW = datetime(2026, 11, 21, 15, 0, 0, tzinfo=UTC)
BASE_URL = "https://approvals.example.com"
OPERATOR = "arn:aws:sts::123456789012:assumed-role/MLOps/olga"
TOKEN = "SECRET-TASK-TOKEN-" * 5


def description(version: int, status: str = "PendingManualApproval", **metadata: str) -> dict[str, Any]:
    d = model_description(status=status, metadata={"RegistrantEmail": "dana.scientist@example.com", **metadata})
    d.update(
        ModelPackageVersion=version,
        ModelPackageArn=f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/{version}",
    )
    return d


def task(stage: str, version: int) -> StageTask:
    model = dataclasses.replace(
        model_version(),
        version=version,
        package_arn=f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/{version}",
    )
    payload = stage_task_payload(stage, model=model)
    payload["executionArn"] = payload["executionArn"].rsplit(":", 1)[0] + ":" + execution_name(GROUP, version)
    return StageTask.from_payload(payload)


def pending_request(
    store: FakeApprovalStore,
    stage: str,
    version: int,
    *,
    requested: timedelta = timedelta(hours=2),
    expires_in: timedelta = timedelta(hours=22),
    recipients: tuple[str, ...] = ("qa.lead@example.com", "qa.deputy@example.com"),
) -> ApprovalRequest:
    stage_task = task(stage, version)
    request = ApprovalRequest(
        key=request_key(stage_task.execution_name, stage),
        task=stage_task,
        requested_at=NOW - requested,
        expires_at=NOW + expires_in,
        recipients=recipients,
        evidence=None,
    )
    store.save_request(request, TOKEN, NOW + timedelta(days=30))
    return request


@dataclasses.dataclass
class World:
    registry: FakeRegistry
    store: FakeApprovalStore
    executions: FakeExecutions
    log: FakeDecisionLog
    mailer: FakeMailer

    def status(self, version: int | None = None) -> dict[str, Any]:
        return version_status(
            catalog=FakeModelVersions(self.registry),
            executions=self.executions,
            store=self.store,
            group=GROUP,
            stages=STAGES,
            now=NOW,
            version=version,
        )

    def cancel(self, version: int = 3, reason: str = "trained on the wrong snapshot", **kwargs: Any) -> dict[str, Any]:
        return cancel_promotion(
            store=self.store,
            executions=self.executions,
            registry=self.registry,
            log=self.log,
            group=GROUP,
            version=version,
            reason=reason,
            operator=kwargs.pop("operator", OPERATOR),
            now=NOW,
            **kwargs,
        )

    def resend(self, version: int = 3, **kwargs: Any) -> dict[str, Any]:
        return resend_request(
            store=self.store,
            mailer=self.mailer,
            log=self.log,
            base_url=BASE_URL,
            group=GROUP,
            version=version,
            operator=kwargs.pop("operator", OPERATOR),
            now=NOW,
            **kwargs,
        )


@pytest.fixture
def world() -> World:
    """Version 2 approved through prod (its execution succeeded); version 3 approved for dev, waiting for test."""
    approved = {s: "Approved" for s in STAGES} | {
        f"{s}-{k}": v for s in STAGES for k, v in (("signed-by", f"{s}.approver@example.com"), ("signed-at", "T"))
    }
    registry = FakeRegistry(
        description(2, "Approved", **approved),
        description(
            3,
            "Approved",
            dev="Approved",
            test="PendingManualApproval",
            uat="PendingManualApproval",
            prod="PendingManualApproval",
            **{"dev-signed-by": "dev.lead@example.com", "dev-signed-at": "2026-11-21T12:00:00Z"},
        ),
    )
    executions = FakeExecutions()
    executions.add(execution_name(GROUP, 2), "SUCCEEDED", startDate=NOW - timedelta(days=3), stopDate=NOW)
    executions.add(execution_name(GROUP, 3), startDate=NOW - timedelta(hours=5))
    store = FakeApprovalStore()
    pending_request(store, "test", 3)
    return World(registry, store, executions, FakeDecisionLog(), FakeMailer())


# status


def test_status_shows_every_version_newest_first_with_stages_signatures_execution_and_what_waits(world: World) -> None:
    result = world.status()

    assert result["group"] == GROUP and result["stages"] == list(STAGES)
    newest, older = result["versions"]
    assert (newest["version"], older["version"]) == (3, 2)
    assert newest["modelApprovalStatus"] == "Approved"
    assert [(s["stage"], s["status"]) for s in newest["stages"]] == [
        ("dev", "Approved"),
        ("test", "PendingManualApproval"),
        ("uat", "PendingManualApproval"),
        ("prod", "PendingManualApproval"),
    ]
    assert newest["stages"][0]["signedBy"] == "dev.lead@example.com"
    assert newest["execution"]["status"] == "RUNNING" and newest["execution"]["name"] == execution_name(GROUP, 3)
    assert newest["pending"]["stage"] == "test"
    assert newest["pending"]["recipients"] == ["qa.lead@example.com", "qa.deputy@example.com"]
    assert older["pending"] is None and older["execution"]["status"] == "SUCCEEDED"
    assert older["stages"][3] == {
        "stage": "prod",
        "status": "Approved",
        "signedBy": "prod.approver@example.com",
        "signedAt": "T",
    }


def test_status_of_one_version_and_of_a_version_whose_execution_never_started(world: World) -> None:
    world.registry.add(description(4))

    (only,) = world.status(version=4)["versions"]

    assert only["version"] == 4 and only["execution"]["status"] is None and only["pending"] is None


def test_status_refuses_unknown_versions_and_groups(world: World) -> None:
    with pytest.raises(NotFound, match="has no version 9"):
        world.status(version=9)
    with pytest.raises(NotFound, match="no versions"):
        version_status(
            catalog=FakeModelVersions(FakeRegistry()),
            executions=world.executions,
            store=world.store,
            group="nobody",
            stages=STAGES,
            now=NOW,
        )


# pending


def test_pending_lists_each_waiting_request_for_whom_since_when_and_until_when(world: World) -> None:
    pending_request(world.store, "dev", 4, requested=timedelta(minutes=5), expires_in=timedelta(hours=1))
    decided = pending_request(world.store, "dev", 5)
    world.store.claim(decided.key, decision_record("dev", version=5), 0, NOW)
    world.store.mark_reminded(request_key(execution_name(GROUP, 4), "dev"), NOW)

    rows = pending_approvals(store=world.store, now=NOW)

    # Soonest expiry first; the decided request is not pending any more
    assert [(r["version"], r["stage"]) for r in rows] == [(4, "dev"), (3, "test")]
    first, second = rows
    assert first["ageSeconds"] == 300 and first["secondsLeft"] == 3600 and first["reminded"] is True
    assert second["requestedAt"] == "2026-11-21T13:00:00Z" and second["expiresAt"] == "2026-11-22T13:00:00Z"
    assert second["recipients"] == ["qa.lead@example.com", "qa.deputy@example.com"]
    assert second["reminded"] is False and second["expired"] is False


def test_nothing_pending_is_an_empty_list() -> None:
    assert pending_approvals(store=FakeApprovalStore(), now=NOW) == []


# history


def _approve(log: FakeDecisionLog, stage: str, version: int, approver: str, at: str) -> None:
    record = dataclasses.replace(
        decision_record(stage, version=version, approver=approver, approver_name="Priya Prod"),
        decided_at=at,
        decision_id=f"d{version}{stage}",
    )
    log.append(audit_entry(task(stage, version), Outcome.APPROVED, at, decision=record))


def test_history_returns_every_decision_of_a_group_beyond_ssms_hundred_versions() -> None:
    log = FakeDecisionLog()
    for version in range(1, 151):
        _approve(
            log,
            "prod",
            version,
            "priya.prod@example.com",
            f"2026-{1 + version // 28:02d}-{1 + version % 28:02d}T10:00:00Z",
        )

    rows = decision_history(log=log, group=GROUP)

    assert len(rows) == 150
    assert [r["version"] for r in rows] == sorted(r["version"] for r in rows)  # oldest first
    assert decision_history(log=log, group=GROUP, version=7)[0]["version"] == 7


def test_history_answers_who_approved_version_n_for_prod_and_when(world: World) -> None:
    _approve(world.log, "dev", 2, "dev.lead@example.com", "2026-11-01T09:00:00Z")
    _approve(world.log, "prod", 2, "priya.prod@example.com", "2026-11-03T16:30:00Z")
    _approve(world.log, "prod", 1, "paul.prod@example.com", "2026-10-03T16:30:00Z")

    (row,) = decision_history(log=world.log, group=GROUP, stage="prod", version=2)

    assert row["who"] == "Priya Prod <priya.prod@example.com>"
    assert row["at"] == "2026-11-03T16:30:00Z"
    assert row["meaning"] == "approved for prod" and row["outcome"] == "approved"
    assert row["comment"] == "Looks good"


def test_history_orders_one_versions_outcomes_within_the_same_second_by_stage(world: World) -> None:
    for stage in ("prod", "dev", "uat", "test"):
        _approve(world.log, stage, 2, f"{stage}@example.com", "2026-11-03T16:30:00Z")

    rows = decision_history(log=world.log, group=GROUP, stages=STAGES)

    assert [r["stage"] for r in rows] == list(STAGES)


def test_history_with_nothing_recorded_is_not_found(world: World) -> None:
    with pytest.raises(NotFound, match=re.escape(f"no decisions are recorded for {GROUP} version 2 at prod")):
        decision_history(log=world.log, group=GROUP, stage="prod", version=2)


# resend


def test_resend_mails_each_recipient_a_fresh_link_to_the_same_request_and_keeps_the_token(world: World) -> None:
    key = request_key(execution_name(GROUP, 3), "test")
    links_before = set(world.store.links)

    result = world.resend()

    assert result == {
        "group": GROUP,
        "version": 3,
        "stage": "test",
        "recipients": ["qa.lead@example.com", "qa.deputy@example.com"],
        "sent": 2,
        "expiresAt": "2026-11-22T13:00:00Z",
    }
    new_links = [world.store.links[i] for i in set(world.store.links) - links_before]
    assert sorted(link.recipient for link in new_links) == ["qa.deputy@example.com", "qa.lead@example.com"]
    assert {link.request_key for link in new_links} == {key}
    assert world.store.tokens[key] == TOKEN and world.store.requests[key].status is RequestStatus.PENDING
    assert [m.to for m in world.mailer.sent] == [("qa.lead@example.com",), ("qa.deputy@example.com",)]
    assert all(m.subject.startswith("Approval needed:") for m in world.mailer.sent)
    for message, link in zip(
        world.mailer.sent, sorted(new_links, key=lambda x: x.recipient, reverse=True), strict=True
    ):
        assert f"{BASE_URL}/approvals/{link.approval_id}" in message.text
        assert TOKEN not in message.text + message.html
    [entry] = world.log.entries(GROUP)
    assert (entry["outcome"], entry["actor"], entry["stage"], entry["modelVersion"]) == ("resent", OPERATOR, "test", 3)
    assert entry["meaning"] == "approval request for test mailed again to qa.lead@example.com, qa.deputy@example.com"


def test_resend_refuses_when_nothing_is_pending_or_the_request_expired(world: World) -> None:
    with pytest.raises(NotFound, match="version 2 has no pending approval request"):
        world.resend(version=2)
    with pytest.raises(NotFound, match="no pending approval request at prod"):
        world.resend(stage="prod")
    pending_request(world.store, "dev", 4, requested=timedelta(days=2), expires_in=timedelta(seconds=-1))
    with pytest.raises(NotFound, match="expired at"):
        world.resend(version=4)
    with pytest.raises(BadRequest, match="needs an operator"):
        world.resend(operator=" ")
    assert world.mailer.sent == [] and world.log.entries(GROUP) == []


def test_resend_asks_for_the_stage_when_a_version_has_two_pending_requests(world: World) -> None:
    pending_request(world.store, "uat", 3)
    with pytest.raises(BadRequest, match="give --stage"):
        world.resend()
    assert world.resend(stage="uat")["stage"] == "uat"


# cancel


def test_cancel_closes_the_request_stops_the_execution_and_records_who_and_why(world: World) -> None:
    key = request_key(execution_name(GROUP, 3), "test")

    result = world.cancel()

    # The request is closed without a decision and its token dropped; its links now explain that
    assert world.store.requests[key].status is RequestStatus.CANCELLED
    assert key not in world.store.tokens
    # The execution was stopped with the reason
    arn = world.executions.executions[execution_name(GROUP, 3)]["executionArn"]
    assert world.executions.stopped == [StoppedExecution(arn, CANCEL_ERROR, "trained on the wrong snapshot")]
    # The audit log has the cancellation, by the operator, with the reason
    (entry,) = world.log.entries(GROUP)
    assert entry["outcome"] == "cancelled" and entry["stage"] == "test" and entry["modelVersion"] == 3
    assert entry["actor"] == OPERATOR and entry["reason"] == "trained on the wrong snapshot"
    assert entry["at"] == "2026-11-21T15:00:00Z" and entry["executionArn"] == arn
    # The registry shows the stage Cancelled, keeps the version's status and says who, when and why
    stored = world.registry.descriptions[task("test", 3).model.package_arn]
    assert stored["CustomerMetadataProperties"]["test"] == "Cancelled"
    assert stored["CustomerMetadataProperties"]["dev"] == "Approved"
    assert stored["CustomerMetadataProperties"]["RegistrantEmail"] == "dana.scientist@example.com"
    assert stored["ModelApprovalStatus"] == "Approved"
    assert stored["ApprovalDescription"] == (
        f"test cancelled by {OPERATOR} at 2026-11-21T15:00:00Z: trained on the wrong snapshot"
    )
    assert result["approvalDescription"] == stored["ApprovalDescription"]
    assert result["cancelledBy"] == OPERATOR and result["stage"] == "test"
    # No output names the token
    assert TOKEN not in json.dumps(result)


@pytest.mark.parametrize("reason", ["", "   ", "x" * 1001])
def test_cancel_without_a_reason_or_with_an_overlong_one_changes_nothing(world: World, reason: str) -> None:
    with pytest.raises(BadRequest, match="reason"):
        world.cancel(reason=reason)
    assert world.executions.stopped == [] and world.log.entries(GROUP) == [] and world.registry.updates == []
    assert world.store.requests[request_key(execution_name(GROUP, 3), "test")].status is RequestStatus.PENDING


def test_cancel_without_an_operator_is_refused(world: World) -> None:
    with pytest.raises(BadRequest, match="operator"):
        world.cancel(operator=" ")


def test_cancel_with_nothing_pending_is_refused_and_stops_nothing(world: World) -> None:
    with pytest.raises(NotFound, match="version 2 has no pending approval request"):
        world.cancel(version=2)
    assert world.executions.stopped == [] and world.log.entries(GROUP) == []


def test_a_cancel_that_fails_half_way_says_what_is_done_and_what_is_left(world: World) -> None:
    del world.executions.executions[execution_name(GROUP, 3)]  # StopExecution will refuse

    with pytest.raises(CancelIncomplete, match=r"version 3 is closed, but stopping the execution failed"):
        world.cancel()
    assert world.log.entries(GROUP) == [] and world.registry.updates == []


def test_a_decision_that_wins_the_race_with_cancel_is_kept_and_nothing_is_cancelled(world: World) -> None:
    key = request_key(execution_name(GROUP, 3), "test")

    class DecidedFirst(FakeApprovalStore):
        def close(self, key: str, status: RequestStatus) -> None:
            # An approver's claim lands between our read and our close
            self.claim(key, decision_record("test", approver="qa.lead@example.com", approver_name="Quinn QA"), 0, NOW)
            super().close(key, status)

    store = DecidedFirst()
    store.requests, store.tokens = world.store.requests, world.store.tokens
    world.store = store

    with pytest.raises(NotFound, match=re.escape("was approved by Quinn QA <qa.lead@example.com> a moment ago")):
        world.cancel()
    assert store.requests[key].status is RequestStatus.SENDING  # claimed; its delivery is the approver's to confirm
    assert world.executions.stopped == [] and world.log.entries(GROUP) == [] and world.registry.updates == []


# The CLI: printing


def _results(world: World) -> dict[str, Any]:
    _approve(world.log, "prod", 2, "priya.prod@example.com", "2026-11-03T16:30:00Z")
    return {
        "status": world.status(),
        "pending": pending_approvals(store=world.store, now=NOW),
        "history": decision_history(log=world.log, group=GROUP),
        "resend": world.resend(),
        "cancel": world.cancel(),
        "reconcile": {"started": ["breast-cancer-classifier-v4"], "alreadyRunning": 2},
    }


def test_json_output_has_stable_keys_for_scripts(world: World) -> None:
    printed = {command: json.loads(cli.render(command, result, True)) for command, result in _results(world).items()}

    assert set(printed["status"]) == {"group", "stages", "versions"}
    version = printed["status"]["versions"][0]
    assert set(version) == {
        "version",
        "packageArn",
        "modelApprovalStatus",
        "approvalDescription",
        "registeredAt",
        "stages",
        "promotionEnded",
        "attempt",
        "execution",
        "pending",
    }
    assert set(version["stages"][0]) == {"stage", "status", "signedBy", "signedAt"}
    assert set(version["execution"]) == {"name", "arn", "status", "startedAt", "stoppedAt", "error", "cause"}
    pending_keys = {
        "group",
        "version",
        "stage",
        "recipients",
        "requestedAt",
        "ageSeconds",
        "expiresAt",
        "secondsLeft",
        "expired",
        "reminded",
        "remindedAt",
        "executionArn",
    }
    assert set(version["pending"]) == pending_keys
    assert [set(row) for row in printed["pending"]] == [pending_keys]
    assert set(printed["history"][0]) == {
        "at",
        "version",
        "stage",
        "outcome",
        "meaning",
        "actor",
        "actorName",
        "who",
        "comment",
        "reason",
        "decisionId",
        "packageArn",
        "executionArn",
    }
    assert set(printed["resend"]) == {"group", "version", "stage", "recipients", "sent", "expiresAt"}
    assert set(printed["cancel"]) == {
        "group",
        "version",
        "stage",
        "executionArn",
        "cancelledBy",
        "cancelledAt",
        "reason",
        "approvalDescription",
    }
    assert printed["reconcile"] == {"started": ["breast-cancer-classifier-v4"], "alreadyRunning": 2}


def test_tables_for_people_are_aligned_and_say_what_matters(world: World) -> None:
    results = _results(world)
    status = cli.render("status", results["status"], False)
    header, *rows = status.split("\n\n")[1].splitlines()
    assert header.split() == ["VERSION", "REGISTRY", "DEV", "TEST", "UAT", "PROD", "EXECUTION", "WAITING", "FOR"]
    assert rows[0].split()[:7] == ["3", "Approved", "Approved", "Pending", "Pending", "Pending", "RUNNING"]
    assert "test approval for 2h, 22h left" in rows[0]
    for row in rows:  # columns start where their headers do
        assert row.index(row.split()[1]) == header.index("REGISTRY")

    pending = cli.render("pending", results["pending"], False)
    assert "qa.lead@example.com, qa.deputy@example.com" in pending and "22h" in pending
    history = cli.render("history", results["history"], False)
    assert "approved for prod" in history and "Priya Prod <priya.prod@example.com>" in history
    assert "Sent 2 fresh links to the test request" in cli.render("resend", results["resend"], False)
    assert "test = Cancelled" in cli.render("cancel", results["cancel"], False)
    assert "breast-cancer-classifier-v4" in cli.render("reconcile", results["reconcile"], False)
    assert cli.render("pending", [], False) == "Nothing is pending."


def test_one_versions_status_adds_its_stage_signatures() -> None:
    registry = FakeRegistry(description(5, "Approved", dev="Approved", **{"dev-signed-by": "dana.dev@example.com"}))
    result = version_status(
        catalog=FakeModelVersions(registry),
        executions=FakeExecutions(),
        store=FakeApprovalStore(),
        group=GROUP,
        stages=STAGES,
        now=NOW,
        version=5,
    )
    text = cli.render("status", result, False)
    assert "execution      breast-cancer-classifier-v5: not started" in text
    assert "dev    Approved  dana.dev@example.com" in text


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (59, "59s"), (65, "1m 5s"), (3600, "1h"), (7380, "2h 3m"), (90061, "1d 1h")]
)
def test_durations_read_like_a_person_would_say_them(seconds: int, text: str) -> None:
    assert cli.duration(seconds) == text


# The CLI: arguments, targets and errors


def _invocation(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> cli.Invocation:
    """The options main() saw, caught where the command asks for its target."""
    seen: list[cli.Invocation] = []

    def caught(invocation: cli.Invocation) -> cli.Target:
        seen.append(invocation)
        raise cli.UsageError("caught")

    monkeypatch.setattr(cli, "resolve_target", caught)
    assert cli.main(argv, stdout=io.StringIO(), stderr=io.StringIO()) == 2
    (invocation,) = seen
    return invocation


def test_local_means_the_default_state_file_and_json_may_follow_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    invocation = _invocation(monkeypatch, ["--local", "status", GROUP, "--json"])
    assert (invocation.local, invocation.state_file, invocation.as_json) == (True, cli.DEFAULT_STATE_FILE, True)
    invocation = _invocation(monkeypatch, ["--local", "--state-file", "/tmp/x.json", "--json", "pending"])
    assert (invocation.state_file, invocation.as_json) == ("/tmp/x.json", True)
    invocation = _invocation(monkeypatch, ["--stack-name", "prod-stack", "--profile", "ops", "pending"])
    assert (invocation.local, invocation.stack_name, invocation.profile, invocation.as_json) == (
        False,
        "prod-stack",
        "ops",
        False,
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--local", "pending", "extra"], "unexpected extra argument"),
        (["--local", "status", "not a group"], "not a model package group name"),
        (["--local", "resend", GROUP, "zero"], "not a version number"),
        (["--local", "cancel", GROUP, "3"], "--reason"),
        (["--local", "--stack-name", "s", "pending"], "choose one"),
        (["pending"], "choose a target"),
        (
            ["--local", "--state-file", "/nonexistent/stack.json", "pending"],
            "no embedded AWS state file at /nonexistent/stack.json",
        ),
        ([], "Missing command"),
        (["--local", "launch"], "No such command 'launch'"),
    ],
)
def test_bad_arguments_are_one_line_on_stderr_and_exit_2(argv: list[str], message: str) -> None:
    out, err = io.StringIO(), io.StringIO()

    code = cli.main(argv, stdout=out, stderr=err)

    assert code == 2 and out.getvalue() == ""
    assert err.getvalue().count("\n") == 1 and message in err.getvalue() and "Traceback" not in err.getvalue()


def _state_file(tmp_path: Path, **extra: Any) -> Path:
    state = tmp_path / "stack.json"
    state.write_text(
        json.dumps(
            {
                **extra,
                "aws_endpoint": "http://127.0.0.1:4010",
                "api_url": "http://127.0.0.1:3000",
                "region": "us-east-1",
                "resources": {
                    "PromotionStateMachine": "arn:aws:states:us-east-1:123456789012:stateMachine:sm",
                    "ApprovalsTable": "approvals",
                    "DecisionLogTable": "decisions",
                },
                "parameters": {
                    "Stages": "dev,prod",
                    "SenderAddress": "mp@example.com",
                    "ApprovalBaseUrl": "",
                    "ModelPackageGroupNames": [""],
                },
            }
        )
    )
    return state


def test_the_local_target_gives_the_adapters_a_session_for_the_embedded_aws_and_leaves_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "a-profile-this-machine-lacks")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://elsewhere.example.com")
    before = dict(os.environ)

    target = cli.local_target(_state_file(tmp_path, pid=os.getpid()))

    assert dict(os.environ) == before
    dynamodb = target.approvals().client("dynamodb")
    assert dynamodb.meta.endpoint_url == "http://127.0.0.1:4010" and dynamodb.meta.region_name == "us-east-1"
    assert dynamodb._request_signer._credentials.access_key == cli.LOCAL_CREDENTIALS
    assert target.state_machine_arn.endswith(":stateMachine:sm")
    assert (target.approvals_table, target.decision_log_table, target.sender) == (
        "approvals",
        "decisions",
        "mp@example.com",
    )
    assert target.approval_base_url == "http://127.0.0.1:3000" and target.stages == ("dev", "prod")
    assert target.groups == ()


def test_a_state_file_of_something_else_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "stack.json"
    state.write_text(json.dumps({"region": "us-east-1"}))
    with pytest.raises(cli.UsageError, match="lacks"):
        cli.local_target(state)


def test_a_state_file_left_by_an_embedded_aws_that_is_gone_is_one_line(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", ""])
    gone.wait()
    state = _state_file(tmp_path, pid=gone.pid)
    out, err = io.StringIO(), io.StringIO()

    code = cli.main(["--local", "--state-file", str(state), "pending"], stdout=out, stderr=err)

    assert code == 2 and out.getvalue() == ""
    assert err.getvalue() == (
        f"error: the embedded AWS that wrote {state} (process {gone.pid}) is no longer running: "
        "start it again with make up\n"
    )


def test_the_stack_target_reads_the_stacks_outputs_and_stages(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import mock_aws

    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    outputs = {
        "PromotionStateMachineArn": "arn:aws:states:eu-west-1:123456789012:stateMachine:mp",
        "ApprovalsTableName": "mp-approvals",
        "DecisionLogTableName": "mp-decisions",
        "ParameterPrefix": "/model-promotion",
        "SenderAddress": "mp@example.com",
        "ApprovalApiUrl": "https://abc.execute-api.eu-west-1.amazonaws.com",
    }
    template = {
        "Parameters": {"Stages": {"Type": "String"}},
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    before = dict(os.environ)
    with mock_aws():
        boto3.client("cloudformation", region_name="eu-west-1").create_stack(
            StackName="model-promotion",
            TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": "Stages", "ParameterValue": "dev,uat,prod"}],
        )
        target = cli.stack_target("model-promotion", None, "eu-west-1")
        with pytest.raises(cli.UsageError, match="stack nope does not exist"):
            cli.stack_target("nope", None, "eu-west-1")

    assert dict(os.environ) == before
    assert target.region == "eu-west-1" and target.executions().client("stepfunctions").meta.region_name == "eu-west-1"
    assert target.state_machine_arn == outputs["PromotionStateMachineArn"]
    assert (target.approvals_table, target.decision_log_table) == ("mp-approvals", "mp-decisions")
    assert target.approval_base_url == outputs["ApprovalApiUrl"] and target.stages == ("dev", "uat", "prod")


def test_aws_failures_are_one_line_without_a_traceback() -> None:
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    refused = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not you"}}, "StopExecution")
    assert cli.describe_failure(refused) == "AWS refused StopExecution: AccessDeniedException not you"
    assert "no AWS credentials" in cli.describe_failure(NoCredentialsError())
    assert "cannot reach AWS at http://x" in cli.describe_failure(EndpointConnectionError(endpoint_url="http://x"))
    assert cli.describe_failure(RuntimeError("boom")) == "unexpected failure (RuntimeError): boom"


def test_a_not_found_answer_exits_1_with_one_line(monkeypatch: pytest.MonkeyPatch, world: World) -> None:
    target = cli.Target("the test", "arn:aws:states:us-east-1:1:stateMachine:x", "a", "d", "s@example.com", BASE_URL)
    monkeypatch.setattr(cli, "resolve_target", lambda invocation: target)
    monkeypatch.setattr(
        cli, "decision_history", lambda log, group, **kwargs: decision_history(log=world.log, group=group)
    )
    out, err = io.StringIO(), io.StringIO()

    assert cli.main(["--local", "history", GROUP], stdout=out, stderr=err) == 1
    assert err.getvalue() == f"error: no decisions are recorded for {GROUP}\n" and out.getvalue() == ""


def test_the_registry_description_of_a_cancellation_says_who_when_and_why() -> None:
    assert approval_description(Outcome.CANCELLED, "uat", "ops", "2026-11-21T15:00:00Z", "why") == (
        "uat cancelled by ops at 2026-11-21T15:00:00Z: why"
    )


# retry


def _retry(world: World, workflow: FakeWorkflow, version: int, **kwargs: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "reason": "the approver was on leave",
        "operator": "olga.operator@example.com",
    } | kwargs
    return retry_promotion(
        catalog=FakeModelVersions(world.registry),
        registry=world.registry,
        executions=world.executions,
        workflow=workflow,
        log=world.log,
        group=GROUP,
        version=version,
        stages=STAGES,
        now=NOW,
        **arguments,
    )


def _expired_at_test(world: World) -> None:
    """Version 3's test request expired: the execution failed with ApprovalExpired, the registry carries the marker."""
    world.executions.executions[execution_name(GROUP, 3)]["status"] = "FAILED"
    stored = world.registry.descriptions[description(3)["ModelPackageArn"]]
    stored["CustomerMetadataProperties"] |= {"test": "Expired", "promotion-ended": "expired at test"}


def test_retry_starts_a_second_attempt_at_the_stage_that_expired_and_audits_who_and_why(world: World) -> None:
    # Given version 3 approved for dev, whose test request expired
    _expired_at_test(world)
    workflow = FakeWorkflow()

    # When an operator retries it
    result = _retry(world, workflow, 3)

    # Then a new execution, named for attempt 2, starts at test (position 1), not at dev again
    name = execution_name(GROUP, 3, attempt=2)
    assert name.endswith("-v3-attempt2")
    assert result["executionName"] == name and result["fromStage"] == "test" and result["attempt"] == 2
    assert workflow.started[name]["position"] == 1
    # after scoring dev's batch again, so the test approvers see its evidence
    assert workflow.started[name]["resume"] == {"stage": "dev", "stageIndex": 0}
    # the registry no longer says the promotion ended, and counts the attempt; its status is unchanged
    [update] = world.registry.updates
    assert "promotion-ended" not in update.metadata and update.metadata["promotion-attempt"] == "2"
    assert update.approval_status == "Approved"
    assert update.description.startswith("promotion retried from test by olga.operator@example.com")
    # and the audit log says who retried, why, and after what
    [entry] = world.log.entries(GROUP)
    assert (entry["outcome"], entry["actor"], entry["reason"]) == (
        "retried",
        "olga.operator@example.com",
        "the approver was on leave",
    )
    assert entry["previousOutcome"] == "expired at test"


def test_retry_refuses_a_running_promotion_a_rejected_version_and_a_missing_reason(world: World) -> None:
    workflow = FakeWorkflow()
    with pytest.raises(BadRequest, match="still being promoted"):
        _retry(world, workflow, 3)  # version 3 is waiting for test
    world.registry.add(description(4, "Rejected", dev="Rejected"))
    with pytest.raises(BadRequest, match="a rejection is a decision"):
        _retry(world, workflow, 4)
    _expired_at_test(world)
    with pytest.raises(BadRequest, match="needs a reason"):
        _retry(world, workflow, 3, reason="  \n ")
    with pytest.raises(NotFound):
        _retry(world, workflow, 99)
    with pytest.raises(BadRequest, match="approved for every stage"):
        world.executions.executions[execution_name(GROUP, 2)]["status"] = "ABORTED"
        _retry(world, workflow, 2)
    assert workflow.started == {} and world.registry.updates == [] and world.log.entries(GROUP) == []


def test_a_second_retry_gets_attempt_three_and_its_own_name(world: World) -> None:
    # Given version 3 retried once, and the retry expired at test too
    _expired_at_test(world)
    workflow = FakeWorkflow()
    _retry(world, workflow, 3)
    world.executions.add(execution_name(GROUP, 3, attempt=2), "FAILED")
    stored = world.registry.descriptions[description(3)["ModelPackageArn"]]
    stored["CustomerMetadataProperties"]["promotion-ended"] = "expired at test"

    # When it is retried again
    result = _retry(world, workflow, 3)

    # Then it is attempt 3, under a third name
    assert result["attempt"] == 3
    assert set(workflow.started) == {execution_name(GROUP, 3, attempt=2), execution_name(GROUP, 3, attempt=3)}


def test_retry_refuses_a_rejection_even_when_its_recording_failed(world: World) -> None:
    # Given version 3's test approver rejected it, but recording the rejection failed (registry unchanged)
    world.executions.executions[execution_name(GROUP, 3)].update(status="FAILED", error="ApprovalRejected")

    # When an operator retries it, Then it is refused: a rejection is a decision
    with pytest.raises(BadRequest, match="a rejection is a decision"):
        _retry(world, FakeWorkflow(), 3)


def test_a_retry_whose_start_was_lost_is_started_again_under_the_same_attempt(world: World) -> None:
    # Given version 3 retried (the registry counts attempt 2) but whose attempt-2 execution never started
    _expired_at_test(world)
    lost = FakeWorkflow()
    lost.start = lambda name, execution_input: (_ for _ in ()).throw(TransientAwsError("StartExecution throttled"))  # type: ignore[method-assign]
    with pytest.raises(TransientAwsError):
        _retry(world, lost, 3)
    stored = world.registry.descriptions[description(3)["ModelPackageArn"]]["CustomerMetadataProperties"]
    assert stored["promotion-attempt"] == "2" and "promotion-ended" not in stored

    # When the operator runs retry again
    workflow = FakeWorkflow()
    result = _retry(world, workflow, 3)

    # Then attempt 2 starts (not 3), and the registry is not written again
    assert result["attempt"] == 2 and set(workflow.started) == {execution_name(GROUP, 3, attempt=2)}
    assert len(world.registry.updates) == 1


# rollback

V3_ARN = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/3"


def _rollback(world: World, to_version: int = 2, **kwargs: Any) -> tuple[dict[str, Any], FakeWorkflow]:
    """Version 2 was approved for dev before (with its batch results); version 3 runs in dev now."""
    world.log.append(
        {
            **audit_entry(task("dev", 2), Outcome.APPROVED, "2026-11-18T09:00:00Z", decision=decision_record("dev")),
            "evidence": {"stage": "dev", "metrics": {"accuracy": 0.93}},
        }
    )
    approved_models = FakeApprovedModels()
    approved_models.put(f"/model-promotion/{GROUP}/dev", {"modelVersion": 3, "modelPackageArn": V3_ARN})
    workflow = FakeWorkflow()
    arguments: dict[str, Any] = {
        "catalog": FakeModelVersions(world.registry),
        "log": world.log,
        "approved_models": approved_models,
        "workflow": workflow,
        "parameter_prefix": "/model-promotion",
        "group": GROUP,
        "stage": "dev",
        "to_version": to_version,
        "reason": "version 3 misroutes claims",
        "operator": OPERATOR,
        "stages": STAGES,
        "now": NOW,
    }
    return request_rollback(**{**arguments, **kwargs}), workflow


def test_a_rollback_starts_its_execution_with_both_versions_and_the_earlier_approval_and_audits_the_request(
    world: World,
) -> None:
    result, workflow = _rollback(world)

    ((name, execution_input),) = workflow.started.items()
    assert name == f"{GROUP}-v2-rollback-dev-20261121T150000Z" and result["executionName"] == name
    assert execution_input["model"]["version"] == 2 and execution_input["stage"] == "dev"
    assert execution_input["evidence"] == {"stage": "dev", "metrics": {"accuracy": 0.93}}
    assert execution_input["rollback"] == {
        "reason": "version 3 misroutes claims",
        "requestedBy": OPERATOR,
        "requestedAt": "2026-11-21T15:00:00Z",
        "replacesVersion": 3,
        "replacesPackageArn": V3_ARN,
        "approvedBefore": "0f1e2d3c4b5a6978",
        "approvedBeforeBy": "lead@example.com",
        "approvedBeforeAt": "2026-11-18T09:00:00Z",
    }
    StageTask.from_payload({**execution_input, "executionArn": result["executionArn"]})  # what the functions read
    requested = world.log.entries(GROUP)[-1]
    assert (requested["outcome"], requested["actor"], requested["reason"]) == (
        "rollback-requested",
        OPERATOR,
        "version 3 misroutes claims",
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"to_version": 3}, "was never approved for dev"),
        ({"to_version": 9}, f"{GROUP} has no version 9"),
        ({"reason": "  "}, "needs a reason"),
        ({"operator": ""}, "needs an operator"),
        ({"stage": "staging"}, "is not one of the stages"),
    ],
)
def test_a_rollback_that_cannot_be_signed_is_refused_and_starts_nothing(
    world: World, arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(OperationError, match=message):
        _rollback(world, **arguments)
    assert [e["outcome"] for e in world.log.entries(GROUP)] == ["approved"]


def test_a_rollback_to_the_version_running_there_or_to_one_rejected_since_is_refused(world: World) -> None:
    world.log.append(
        audit_entry(task("dev", 3), Outcome.APPROVED, "2026-11-20T09:00:00Z", decision=decision_record("dev"))
    )
    with pytest.raises(OperationError, match=r"runs .* version 3 already"):
        _rollback(world, to_version=3)
    world.registry.descriptions[task("dev", 2).model.package_arn]["ModelApprovalStatus"] = "Rejected"
    with pytest.raises(OperationError, match="was rejected after its dev approval"):
        _rollback(world)


# metrics


def test_batch_metrics_compare_versions_per_stage_from_the_evidence_each_decision_recorded(world: World) -> None:
    def approval(version: int, stage: str, at: str, scored_at: str, accuracy: float) -> dict[str, Any]:
        evidence = {"stage": scored_at, "rowCount": 500, "metrics": {"accuracy": accuracy, "recall": 0.8}}
        return audit_entry(
            task(stage, version), Outcome.APPROVED, at, decision=decision_record(stage), evidence=evidence
        )

    world.log.append(audit_entry(task("dev", 2), Outcome.APPROVED, "2026-11-18T09:00:00Z", decision=decision_record()))
    world.log.append(approval(2, "test", "2026-11-18T10:00:00Z", "dev", 0.93))
    world.log.append(approval(2, "uat", "2026-11-18T11:00:00Z", "test", 0.92))
    world.log.append(approval(3, "test", "2026-11-20T10:00:00Z", "dev", 0.88))

    result = batch_metrics(log=world.log, group=GROUP, stages=STAGES)

    assert result["metrics"] == ["accuracy", "recall"]
    assert [(r["stage"], r["version"], r["metrics"]["accuracy"]) for r in result["rows"]] == [
        ("dev", 2, 0.93),
        ("dev", 3, 0.88),
        ("test", 2, 0.92),
    ]
    text = cli.render("metrics", result, False)
    header, *lines = text.split("\n\n")[1].splitlines()
    assert header.split() == ["STAGE", "VERSION", "ROWS", "ACCURACY", "RECALL"]
    assert lines[1].split() == ["dev", "3", "500", "0.8800", "0.8000"]
    only_test = batch_metrics(log=world.log, group=GROUP, stages=STAGES, stage="test")
    assert [r["version"] for r in only_test["rows"]] == [2]
    with pytest.raises(NotFound, match="no batch metrics are recorded"):
        batch_metrics(log=world.log, group=GROUP, stages=STAGES, stage="prod")


def test_cancelling_a_pending_rollback_stops_it_and_audits_it_without_touching_any_version(world: World) -> None:
    rollback = {
        "reason": "r",
        "requestedBy": OPERATOR,
        "requestedAt": "2026-11-21T14:00:00Z",
        "replacesVersion": 3,
        "replacesPackageArn": V3_ARN,
        "approvedBefore": "d1",
        "approvedBeforeBy": "lead@example.com",
        "approvedBeforeAt": "2026-11-18T09:00:00Z",
    }
    stage_task = StageTask.from_payload({**task("prod", 2).to_payload(), "rollback": rollback})
    request = ApprovalRequest(
        key=request_key(stage_task.execution_name, "prod"),
        task=stage_task,
        requested_at=NOW - timedelta(minutes=5),
        expires_at=NOW + timedelta(hours=1),
        recipients=("head.of.ml@example.com",),
        evidence=None,
    )
    world.store.save_request(request, TOKEN, NOW + timedelta(days=30))
    before = json.dumps(world.registry.descriptions, sort_keys=True, default=str)

    world.cancel(version=2, stage="prod", reason="asked for by mistake")

    assert json.dumps(world.registry.descriptions, sort_keys=True, default=str) == before
    assert [s.execution_arn for s in world.executions.stopped] == [stage_task.execution_arn]
    assert world.log.entries(GROUP)[-1]["meaning"] == "rollback of prod to version 2 cancelled"


# the console's overview and timeline


def overview(world: World, **filters: Any) -> dict[str, Any]:
    return promotion_overview(
        catalog=FakeModelVersions(world.registry),
        executions=world.executions,
        store=world.store,
        stages=STAGES,
        now=NOW,
        **filters,
    )


def test_the_overview_shows_what_waits_what_failed_and_why_and_every_versions_state(world: World) -> None:
    world.registry.add(description(4, dev="Approved", **{"promotion-ended": "failed at test 2026-11-21T14:00:00Z"}))
    world.executions.add(
        execution_name(GROUP, 4),
        "FAILED",
        error="States.TaskFailed",
        cause='{"errorType": "ModelError", "errorMessage": "the batch job ran out of memory", "stackTrace": ["x"]}',
    )

    result = overview(world)

    assert [(v["version"], v["state"]) for v in result["versions"]] == [(4, "failed"), (3, "waiting"), (2, "promoted")]
    [failed] = result["failed"]
    assert failed["version"] == 4 and failed["execution"]["cause"] == "ModelError: the batch job ran out of memory"
    assert [(p["version"], p["stage"]) for p in result["pending"]] == [(3, "test")]
    assert (result["page"], result["pages"], result["versionCount"]) == (1, 1, 3)


def test_the_overview_filters_by_stage_and_state_and_pages_the_versions(world: World) -> None:
    for version in range(4, 9):
        world.registry.add(description(version))

    assert [v["version"] for v in overview(world, state="promoted")["versions"]] == [2]
    by_stage = overview(world, stage="test")
    assert [v["version"] for v in by_stage["versions"]] == [3, 2] and len(by_stage["pending"]) == 1
    assert overview(world, stage="prod")["pending"] == []
    second = overview(world, page=2, page_size=3)
    assert [v["version"] for v in second["versions"]] == [5, 4, 3] and second["pages"] == 3
    assert overview(world, page=9, page_size=3)["page"] == 3  # past the end: the last page
    with pytest.raises(BadRequest, match="stage 'staging' is not one of"):
        overview(world, stage="staging")
    with pytest.raises(BadRequest, match="state 'broken' is not one of"):
        overview(world, state="broken")


def test_a_versions_timeline_holds_its_registration_decisions_interventions_and_what_waits(world: World) -> None:
    world.log.append(
        {
            "modelPackageGroupName": GROUP,
            "entryKey": "2026-11-21T12:00:00Z#v00000003#dev#approved",
            "modelVersion": 3,
            "stage": "dev",
            "outcome": "approved",
            "at": "2026-11-21T12:00:00Z",
            "meaning": "approved for dev",
            "actor": "dev.lead@example.com",
            "comment": "looks right",
        }
    )
    world.resend(operator="Olive Ops <olive.ops@example.com>")

    result = version_timeline(
        catalog=FakeModelVersions(world.registry),
        executions=world.executions,
        store=world.store,
        log=world.log,
        group=GROUP,
        version=3,
        stages=STAGES,
        now=NOW,
    )

    whats = [e["what"] for e in result["timeline"]]
    assert "registered" in whats and "approved for dev" in whats
    assert any(w.startswith("promotion started") for w in whats)
    assert "approval requested for test from qa.lead@example.com, qa.deputy@example.com" in whats
    [resent] = [e for e in result["timeline"] if e.get("outcome") == "resent"]
    assert resent["who"] == "Olive Ops <olive.ops@example.com>"
    assert [e["at"] for e in result["timeline"]] == sorted(e["at"] for e in result["timeline"])
    assert result["state"] == "waiting"
