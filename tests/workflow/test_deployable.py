"""Defects that hid behind a lenient emulator, each proven fixed on the strict embedded AWS (issue 8).

Each test fails with its fix reverted: the strict embedded AWS refuses what AWS refuses (IAM from the
SAM-transformed template, botocore's request models, SSM's 4 KB, SES's sandbox), so a promotion that
would fail in an account fails here too.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from embedded_aws.client import StackClient
from stack_helpers import Promotion, register

from .test_cli import cli

pytestmark = pytest.mark.workflow

UNVERIFIED_REGISTRANT = "new.hire@example.com"  # nobody verified this address in SES's sandbox


def state_file_of(stack: StackClient, tmp_path: Path) -> Path:
    path = tmp_path / "stack.json"
    path.write_text(json.dumps(stack.info))
    return path


@pytest.fixture
def arm(stack: StackClient):
    """Arms faults on the session stack, and disarms whatever is left when the test ends."""

    def arm_one(**fault: Any) -> None:
        answer = requests.post(f"{stack.api_url}/_local/faults", json=fault, timeout=10)
        assert answer.status_code == 201, answer.text

    yield arm_one
    requests.delete(f"{stack.api_url}/_local/faults", timeout=10)


def test_an_approval_reaches_the_workflow_and_the_registry_under_the_generated_policies(
    single_stage_stack, demo_assets
):
    # Given a registered version (SendTask* allowed only on "*"; a 36-character ClientToken)
    promotion = register(single_stage_stack, demo_assets, "deployable-approve")

    # When its approver approves
    answer = promotion.decide("dev", "approve", "fine")

    # Then the workflow resumes and the registry records the decision
    assert answer.status_code == 200, answer.text
    assert promotion.finish()["status"] == "SUCCEEDED"
    described = promotion.describe()
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["CustomerMetadataProperties"]["dev"] == "Approved"


def test_a_long_non_ascii_comment_is_recorded_in_full_in_the_audit_log_and_ssm_keeps_a_small_pointer(
    single_stage_stack, demo_assets
):
    # Given an approver who writes 550 accented characters (3,300 bytes as \\u escapes)
    promotion = register(single_stage_stack, demo_assets, "deployable-comment")
    comment = "é" * 550

    # When they approve
    answer = promotion.decide("dev", "approve", comment)

    # Then the page's "Recorded" is true: SSM holds the pointer, the audit log the whole comment
    assert answer.status_code == 200, answer.text
    assert promotion.finish()["status"] == "SUCCEEDED"
    record = promotion.ssm_record("dev")
    assert record is not None and record["modelVersion"] == promotion.version and "comment" not in record
    [entry] = promotion.audit_entries()
    assert entry["comment"] == comment
    # and the registry's one-line description is within SageMaker's 1,024 characters
    assert len(promotion.describe()["ApprovalDescription"]) <= 1024


def test_a_rejection_ends_as_a_rejection_when_ses_refuses_the_registrants_address(single_stage_stack, demo_assets):
    # Given a version whose registrant's address is not verified in SES's sandbox
    promotion = register(single_stage_stack, demo_assets, "deployable-refused", registrant=UNVERIFIED_REGISTRANT)

    # When the approver rejects it
    answer = promotion.decide("dev", "reject", "recall is too low")

    # Then the execution ends as a rejection, not as a failure of the notice
    assert answer.status_code == 200, answer.text
    result = promotion.finish()
    assert (result["status"], result["error"]) == ("FAILED", "ApprovalRejected")
    assert promotion.describe()["ModelApprovalStatus"] == "Rejected"
    # and operations got the notice, with the refused address named
    operations = single_stage_stack.parameters["OperationsEmail"]
    notice = single_stage_stack.wait_for_email(
        lambda m: (
            operations in m["to"] and m["subject"].endswith("dev was rejected") and promotion.group in m["subject"]
        ),
        "the rejection notice to operations",
    )
    assert UNVERIFIED_REGISTRANT in notice["text"]


def test_a_registration_whose_handling_fails_for_good_is_kept_in_the_on_failure_queue(stack, demo_assets, arm):
    # Given the registry refuses StartPromotion's reads (a broken policy or an SCP) three times over
    arm(
        service="sagemaker",
        operation="DescribeModelPackage",
        fault="error",
        code="AccessDeniedException",
        status=400,
        count=3,
        caller="StartPromotionFunction",
    )
    sqs = stack.client("sqs")
    queue = stack.resources["AsyncFailuresQueue"]

    # When a version is registered (its event reaches StartPromotion, which fails, twice retried by Lambda)
    group = f"deployable-dlq-{int(time.time())}"
    from embedded_aws.scenario import publish_model, register_version

    url = publish_model(stack, demo_assets.model_archive, f"{group}/model.tar.gz")
    package = register_version(stack, group, url, registrant_email="dana.scientist@example.com", statistics_uri=None)

    # Then the event is not lost: it waits in the on-failure queue with why it failed
    def failed_event() -> dict[str, Any] | None:
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            record = json.loads(message["Body"])
            if record["requestPayload"]["detail"].get("ModelPackageArn") == package["ModelPackageArn"]:
                return record
        return None

    record = stack.wait_for("the registration in the on-failure queue", failed_event, timeout=30, interval=0.5)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert "AccessDeniedException" in record["responsePayload"]["errorMessage"]


def test_the_sweep_resumes_a_transform_wait_whose_completion_event_was_lost(slow_transform_stack, demo_assets):
    # Given the next transform completion event is lost on the way (the sweep runs every 0.5 s here)
    promotion = register(slow_transform_stack, demo_assets, "deployable-lost-completion")
    dropped = requests.post(
        f"{slow_transform_stack.api_url}/_local/drop-next-events",
        params={"count": 1, "detail-type": "SageMaker Transform Job State Change"},
        timeout=10,
    )
    assert dropped.status_code == 204

    # When dev is approved and the dev batch is scored
    assert promotion.decide("dev", "approve", "ok").status_code == 200

    # Then the sweep finds the finished job and resumes the wait: the test approver is asked, with metrics
    email = promotion.approval_email("test", timeout=30)
    assert "accuracy" in email["text"]


def test_an_expired_promotion_is_not_restarted_by_reconcile_and_an_operator_can_retry_it(
    short_timeout_stack, demo_assets, tmp_path
):
    # Given a version whose dev request expired (the execution is closed; Step Functions may purge it)
    promotion = register(short_timeout_stack, demo_assets, "deployable-zombie")
    result = promotion.finish(timeout=90)  # a completion wait: under a full suite a cold RecordOutcome can take long
    assert result["error"] == "ApprovalExpired"
    metadata = promotion.describe()["CustomerMetadataProperties"]
    assert metadata["promotion-ended"].startswith("expired at dev")
    state_file = state_file_of(short_timeout_stack, tmp_path)

    # When reconcile runs, Then it leaves the ended promotion alone: no new execution, no new email
    mails_before = len(promotion.emails())
    answer = cli(state_file, "reconcile", "--group", promotion.group)
    assert answer == {"started": [], "alreadyRunning": 0, "ended": 1}
    # and the sweep closed the expired request, so nothing counts as waiting any more
    short_timeout_stack.wait_for(
        "the expired request to be closed", lambda: cli(state_file, "pending") == [] or None, timeout=10
    )

    # When an operator retries it
    retried = cli(
        state_file,
        "retry",
        promotion.group,
        str(promotion.version),
        "--reason",
        "approver was away",
        "--operator",
        "olga.operator@example.com",
    )

    # Then a second attempt runs under a name of its own, asks the dev approver again, and is audited
    assert retried["executionName"] == f"{promotion.group}-v{promotion.version}-attempt2"
    second = Promotion(
        short_timeout_stack, promotion.group, promotion.version, promotion.package_arn, retried["executionArn"]
    )
    short_timeout_stack.wait_for(
        "the second attempt's dev email", lambda: len(promotion.emails()) > mails_before, timeout=30
    )
    assert [e["outcome"] for e in second.audit_entries()][:2] == ["expired", "retried"]
    assert "promotion-ended" not in promotion.describe()["CustomerMetadataProperties"]
