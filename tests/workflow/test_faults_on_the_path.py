"""Every AWS dependency of the decision path and the recording path, failing the way AWS calls fail in the
field (throttling, a 5xx, a response lost after the request was applied): the promotion still completes,
once, with one SSM version, one audit entry and the registry approved.

Faults come from the embedded AWS's fault injector (docs/embedded-aws.md), aimed at the one function
whose call it is, on the one-stage stack: a promotion there is a registration and one click.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from stack_helpers import arm_fault, register

pytestmark = pytest.mark.workflow

# (function, service, operation): what the click and the recording call, in the order they call it.
DECISION_PATH = [
    ("RequestApprovalFunction", "ssm", "GetParameter"),
    ("RequestApprovalFunction", "dynamodb", "PutItem"),
    ("RequestApprovalFunction", "sesv2", "SendEmail"),
    ("ApprovalApiFunction", "dynamodb", "GetItem"),
    ("ApprovalApiFunction", "dynamodb", "UpdateItem"),
    ("ApprovalApiFunction", "stepfunctions", "SendTaskSuccess"),
]
RECORDING_PATH = [
    ("RecordOutcomeFunction", "dynamodb", "Query"),
    ("RecordOutcomeFunction", "dynamodb", "TransactWriteItems"),
    ("RecordOutcomeFunction", "sagemaker", "DescribeModelPackage"),
    ("RecordOutcomeFunction", "sagemaker", "UpdateModelPackage"),
    ("RecordOutcomeFunction", "ssm", "GetParameter"),
    ("RecordOutcomeFunction", "ssm", "PutParameter"),
]
# Applied, answer lost, retried by the SDK: safe where the repeat is the same write.
LOST_IS_SAFE = [
    ("RecordOutcomeFunction", "dynamodb", "TransactWriteItems"),
    ("RecordOutcomeFunction", "sagemaker", "UpdateModelPackage"),
    ("RequestApprovalFunction", "dynamodb", "PutItem"),
    # The claim: its retry meets its own write, which is this decision's claim, not another's.
    ("ApprovalApiFunction", "dynamodb", "UpdateItem"),
    # Not a repeatable write (each put adds a version, SSM keeps 100): the adapter reads back before retrying.
    ("RecordOutcomeFunction", "ssm", "PutParameter"),
]


@pytest.fixture
def faults(single_stage_stack):
    def arm(function: str, service: str, operation: str, fault: str, count: int) -> None:
        arm_fault(single_stage_stack, function, service, operation, fault, count)

    yield arm
    requests.delete(f"{single_stage_stack.api_url}/_local/faults", timeout=10)


def _promote_once(stack: Any, demo_assets: Any, prefix: str) -> None:
    promotion = register(stack, demo_assets, prefix)
    answer = promotion.decide("dev", "approve", "fine")
    assert answer.status_code == 200, answer.text
    assert promotion.finish()["status"] == "SUCCEEDED"
    assert promotion.describe()["CustomerMetadataProperties"]["dev"] == "Approved"
    assert promotion.ssm_versions("dev") == 1
    assert [e["outcome"] for e in promotion.audit_entries()] == ["approved"]
    armed = requests.get(f"{stack.api_url}/_local/faults", timeout=10).json()
    assert armed == [], f"a fault was never reached: {armed}"


# Each test arms its fault on every dependency at once (each aimed at its own caller), so one promotion
# proves them all; the faults left armed name any dependency the promotion never reached.


def test_every_throttled_dependency_is_retried_and_the_promotion_completes_once(
    single_stage_stack, demo_assets, faults
):
    for function, service, operation in DECISION_PATH + RECORDING_PATH:
        faults(function, service, operation, "throttle", 1)
    _promote_once(single_stage_stack, demo_assets, "throttled")


def test_every_dependency_answering_5xx_is_retried_and_the_promotion_completes_once(
    single_stage_stack, demo_assets, faults
):
    for function, service, operation in DECISION_PATH + RECORDING_PATH:
        faults(function, service, operation, "error", 1)
    _promote_once(single_stage_stack, demo_assets, "server-errors")


def test_every_write_applied_with_its_answer_lost_is_repeated_harmlessly(single_stage_stack, demo_assets, faults):
    for function, service, operation in LOST_IS_SAFE:
        faults(function, service, operation, "lost", 1)
    _promote_once(single_stage_stack, demo_assets, "lost-answers")
