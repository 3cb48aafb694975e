"""Signed decisions, quorum and exactly-once delivery on the strict embedded AWS, through public interfaces only.

The stack has two stages: dev (one approver) and prod, which needs two distinct approvers (StageQuorum
prod=2). Its sweep runs every second and completes a decision whose delivery was left unconfirmed after
DeliveryGraceSeconds (5 s here).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from embedded_aws.client import StackClient
from embedded_aws.scenario import publish_batches
from stack_helpers import Promotion, arm_fault, log_text, register, start_stack

pytestmark = pytest.mark.workflow

DEV = "dana.dev@example.com"
PRIYA = "priya.prod@example.com"
OMAR = "omar.ops@example.com"


@pytest.fixture(scope="module")
def quorum_stack(tmp_path_factory: pytest.TempPathFactory, demo_assets: Any) -> Iterator[StackClient]:
    overrides = {
        "Stages": "dev,prod",
        "StageApprovers": f"dev={DEV};prod={PRIYA},{OMAR}",
        "StageQuorum": "prod=2",
        "SigningReauthMinutes": "none",
        "QualityGates": "{}",
        "DeliveryGraceSeconds": "5",
        "ReminderBeforeSeconds": "0",
    }
    for client in start_stack(tmp_path_factory, "quorum", overrides, schedule_seconds=1.0):
        publish_batches(client, demo_assets)
        yield client


@pytest.fixture
def faults(quorum_stack: StackClient) -> Iterator[Any]:
    def arm(function: str, service: str, operation: str, fault: str, count: int, **extra: Any) -> None:
        arm_fault(quorum_stack, function, service, operation, fault, count, **extra)

    yield arm
    requests.delete(f"{quorum_stack.api_url}/_local/faults", timeout=10)


def _decide(promotion: Promotion, stage: str, approver: str, decision: str, comment: str = "") -> requests.Response:
    return promotion.stack.decide(promotion.link(stage, approver), decision, comment, as_user=approver)


def _decisions(promotion: Promotion, stage: str) -> list[dict[str, Any]]:
    """The approvals of `stage` the workflow received (its TaskSucceeded outputs)."""
    return [
        e
        for e in promotion.decisions()
        if json.loads(e.get("taskSucceededEventDetails", {}).get("output", "{}")).get("stage") == stage
    ]


def _status(promotion: Promotion) -> str:
    sfn = promotion.stack.client("stepfunctions")
    return str(sfn.describe_execution(executionArn=promotion.execution_arn)["status"])


def test_a_forged_output_sent_with_a_token_read_from_the_history_is_refused_as_tampering(
    quorum_stack: StackClient, demo_assets: Any
) -> None:
    # Given a dev request waiting, and its task token read from the execution's history (states:GetExecutionHistory)
    promotion = register(quorum_stack, demo_assets, "forged")
    promotion.approval_email("dev")
    [token] = promotion.task_tokens()
    forged = {
        "decisionId": "f0f0f0f0f0f0f0f0",
        "decision": "approve",
        "meaning": "approved for dev",
        "stage": "dev",
        "approver": DEV,
        "approverName": "Dana Dev",
        "approverSubject": "anything",
        "comment": "looks fine",
        "decidedAt": "2026-12-02T10:00:00Z",
        "modelPackageArn": promotion.package_arn,
        "modelVersion": promotion.version,
        "executionArn": promotion.execution_arn,
        "cosigners": [],
        "seal": "bm90IGEgc2VhbA==",
    }

    # When someone with states:SendTaskSuccess sends an approval "by" the dev approver
    quorum_stack.client("stepfunctions").send_task_success(taskToken=token, output=json.dumps(forged))

    # Then it is recorded as a refused tampering attempt, and the stage does not advance
    execution = promotion.finish()
    assert execution["status"] == "FAILED"
    [entry] = promotion.audit_entries()
    assert (entry["outcome"], entry["stage"], entry.get("actor")) == ("tampered", "dev", None)
    assert "no valid signature" in entry["reason"]
    described = promotion.describe()
    assert described["CustomerMetadataProperties"]["dev"] == "RefusedUnsignedDecision"
    assert described["ModelApprovalStatus"] != "Approved"
    assert promotion.ssm_record("dev") is None
    assert not [m for m in promotion.emails() if m["subject"].endswith("for prod")]
    # The alarm's metric was emitted (StageOutcomes, outcome=tampered), and operations were told
    assert '"outcome": "tampered"' in log_text(quorum_stack) or '"outcome":"tampered"' in log_text(quorum_stack)
    operations = quorum_stack.parameters["OperationsEmail"]
    assert any(operations in m["to"] for m in promotion.emails() if "refused" in m["subject"])
    # and the real approver's link says truthfully that the request was answered another way
    page = _decide(promotion, "dev", DEV, "approve")
    assert page.status_code in (409, 410), page.text
    assert "Recorded" not in page.text


@pytest.mark.parametrize(
    ("error", "path"),
    [
        pytest.param("TransientAwsError", "retried", id="a-retried-error-name"),
        pytest.param("ConfigurationError", "caught", id="any-other-error-name"),
        pytest.param("Lambda.ServiceException", "lambda", id="a-retried-lambda-error-name"),
    ],
)
def test_a_failure_sent_with_a_token_read_from_the_history_is_refused_as_tampering_whatever_its_name(
    quorum_stack: StackClient, demo_assets: Any, error: str, path: str
) -> None:
    # Given a dev request waiting, and its task token read from the execution's history
    promotion = register(quorum_stack, demo_assets, f"sent-{path}")
    promotion.approval_email("dev")
    [token] = promotion.task_tokens()

    # When someone with states:SendTaskFailure fails the wait, naming an error the state retries or catches
    quorum_stack.client("stepfunctions").send_task_failure(
        taskToken=token, error=error, cause='{"errorMessage": "the approvals table is unavailable"}'
    )

    # Then it is recorded as a refused tampering attempt, not as a failure or an expiry
    execution = promotion.finish()
    assert execution["status"] == "FAILED"
    [entry] = promotion.audit_entries()
    assert (entry["outcome"], entry["stage"], entry.get("actor")) == ("tampered", "dev", None)
    assert f"SendTaskFailure (error {error})" in entry["reason"]
    assert promotion.describe()["CustomerMetadataProperties"]["dev"] == "RefusedUnsignedDecision"
    operations = quorum_stack.parameters["OperationsEmail"]
    assert any(operations in m["to"] for m in promotion.emails() if "refused" in m["subject"])
    # and the approvers were asked once: a sent, retried error name asks nobody again
    asked = [m for m in promotion.emails() if m["subject"].startswith("Approval needed")]
    assert len(asked) == 1, [m["subject"] for m in asked]


def test_prod_waits_for_two_distinct_approvers_and_records_both_signatures(
    quorum_stack: StackClient, demo_assets: Any
) -> None:
    # Given a version approved for dev
    promotion = register(quorum_stack, demo_assets, "quorum")
    assert _decide(promotion, "dev", DEV, "approve", "fine").status_code == 200

    # When Priya approves prod, then submits the same form again, and opens her link again
    browser = quorum_stack.signed_in(PRIYA)
    target, csrf = quorum_stack.form_of(browser.get(promotion.link("prod", PRIYA), timeout=30))
    form = {"decision": "approve", "comment": "ship it", "csrf": csrf}
    first = browser.post(target, data=form, timeout=30)
    again = browser.post(target, data=form, timeout=30)
    reopened = browser.get(promotion.link("prod", PRIYA), timeout=30)

    # Then one approval counts: the stage keeps waiting, and Omar's page shows the progress
    assert first.status_code == 200 and "1 of 2" in first.text, first.text
    for page in (again, reopened):
        assert page.status_code == 200 and "already counted" in page.text, page.text
    time.sleep(1)
    assert _status(promotion) == "RUNNING"
    assert promotion.ssm_record("prod") is None
    review = quorum_stack.signed_in(OMAR).get(promotion.link("prod", OMAR), timeout=30)
    assert review.status_code == 200
    assert "1 of 2 approvals: Priya" in review.text

    # When Omar approves too
    second = _decide(promotion, "prod", OMAR, "approve", "agreed")

    # Then the version is promoted once, signed by both, everywhere it is recorded
    assert second.status_code == 200, second.text
    assert promotion.finish()["status"] == "SUCCEEDED"
    assert len(_decisions(promotion, "prod")) == 1
    prod_entry = next(e for e in promotion.audit_entries() if e["stage"] == "prod")
    assert [s["by"] for s in prod_entry["signers"]] == [PRIYA, OMAR]
    record = promotion.ssm_record("prod")
    assert record is not None
    assert [a["by"] for a in record["approvers"]] == [PRIYA, OMAR]
    description = promotion.describe()["ApprovalDescription"]
    assert PRIYA in description and OMAR in description


def test_one_rejection_rejects_a_stage_that_needs_two_approvals(quorum_stack: StackClient, demo_assets: Any) -> None:
    # Given prod with one of its two approvals
    promotion = register(quorum_stack, demo_assets, "quorum-reject")
    assert _decide(promotion, "dev", DEV, "approve", "fine").status_code == 200
    assert _decide(promotion, "prod", PRIYA, "approve", "ship it").status_code == 200

    # When Omar rejects
    answer = _decide(promotion, "prod", OMAR, "reject", "the holdout recall dropped")

    # Then prod is rejected, and the rejection carries Priya's approval as its context
    assert answer.status_code == 200, answer.text
    assert promotion.finish()["status"] == "FAILED"
    assert promotion.describe()["CustomerMetadataProperties"]["prod"] == "Rejected"
    prod_entry = next(e for e in promotion.audit_entries() if e["stage"] == "prod")
    assert prod_entry["outcome"] == "rejected"
    assert promotion.ssm_record("prod") is None


def test_a_lost_answer_to_an_applied_send_is_one_decision_and_a_truthful_page(
    quorum_stack: StackClient, demo_assets: Any, faults: Any
) -> None:
    # Given SendTaskSuccess will be applied with its answer lost
    promotion = register(quorum_stack, demo_assets, "lost-send")
    promotion.approval_email("dev")
    faults("ApprovalApiFunction", "stepfunctions", "SendTaskSuccess", "lost", 1)

    # When the dev approver approves
    answer = _decide(promotion, "dev", DEV, "approve", "fine")

    # Then the page says what happened: recorded, once
    assert answer.status_code == 200, answer.text
    assert "Recorded: approved" in answer.text
    promotion.approval_email("prod", PRIYA)
    assert len(_decisions(promotion, "dev")) == 1
    # and the link, opened again, says it was decided, not that it expired
    page = quorum_stack.signed_in(DEV).get(promotion.link("dev", DEV), timeout=30)
    assert page.status_code == 409 and "already decided" in page.text, page.text


def test_a_decision_whose_delivery_stays_unconfirmed_is_completed_by_the_sweep(
    quorum_stack: StackClient, demo_assets: Any, faults: Any
) -> None:
    # Given every send of the approval pages fails with a 5xx (the outcome unknown each time)
    promotion = register(quorum_stack, demo_assets, "unconfirmed")
    promotion.approval_email("dev")
    faults("ApprovalApiFunction", "stepfunctions", "SendTaskSuccess", "error", 3)

    # When the dev approver approves
    answer = _decide(promotion, "dev", DEV, "approve", "fine")

    # Then the page says the signed decision is saved and will be delivered, not that nothing changed
    assert answer.status_code == 202, answer.text
    assert "Nothing more is needed from you" in answer.text
    # and the sweep delivers it, once
    promotion.approval_email("prod", PRIYA, timeout=60)
    assert len(_decisions(promotion, "dev")) == 1
    page = quorum_stack.signed_in(DEV).get(promotion.link("dev", DEV), timeout=30)
    assert page.status_code == 409 and "Dana" in page.text, page.text


def test_a_function_killed_between_claim_and_send_leaves_a_claim_the_sweep_completes(
    quorum_stack: StackClient, demo_assets: Any, faults: Any
) -> None:
    # Given the approval pages' sends and history reads hang: the function is killed at its 30 s timeout after its
    # claim, before any send got through (each hang is longer than the SDK's read timeout)
    promotion = register(quorum_stack, demo_assets, "killed")
    promotion.approval_email("dev")
    for operation, count in (("SendTaskSuccess", 3), ("GetExecutionHistory", 9)):
        faults("ApprovalApiFunction", "stepfunctions", operation, "timeout", count, seconds=10)

    # When the dev approver approves (her browser waits longer than the function may run)
    browser = quorum_stack.signed_in(DEV)
    target, csrf = quorum_stack.form_of(browser.get(promotion.link("dev", DEV), timeout=30))
    page = browser.post(target, data={"decision": "approve", "comment": "fine", "csrf": csrf}, timeout=90)

    # Then the browser gets an error page, not "Recorded" and not "nothing was changed"
    assert page.status_code >= 500, page.text
    assert "Recorded" not in page.text and "Nothing was changed" not in page.text
    # and the sweep finds the claim and delivers its sealed decision, once
    promotion.approval_email("prod", PRIYA, timeout=90)
    assert len(_decisions(promotion, "dev")) == 1
    entry = next(e for e in promotion.audit_entries() if e["stage"] == "dev")
    assert (entry["outcome"], entry["actor"]) == ("approved", DEV)
