"""Registration events: one execution per version, whatever EventBridge and SageMaker send."""

from __future__ import annotations

import json

import pytest

from embedded_aws.scenario import publish_model, register_version
from stack_helpers import new_group

pytestmark = pytest.mark.workflow


def _invoke_starter(stack, event):
    answer = stack.client("lambda").invoke(
        FunctionName=stack.resources["StartPromotionFunction"], Payload=json.dumps(event).encode()
    )
    return answer.get("FunctionError"), json.loads(answer["Payload"].read())


def _executions(stack):
    sfn = stack.client("stepfunctions")
    return sfn.list_executions(stateMachineArn=stack.state_machine_arn, maxResults=1000)["executions"]


def test_repeated_registration_events_start_exactly_one_execution(promotion_factory, stack, load_event):
    # Given a registered version whose promotion has started
    promotion = promotion_factory("duplicate")
    sagemaker = stack.client("sagemaker")
    described = promotion.describe()
    event = load_event("model_package_registered.json")
    event["detail"].update(
        ModelPackageGroupName=promotion.group,
        ModelPackageVersion=promotion.version,
        ModelPackageArn=promotion.package_arn,
    )

    # When the same event arrives again, and SageMaker emits another event for a metadata update
    error, again = _invoke_starter(stack, event)
    sagemaker.update_model_package(
        ModelPackageArn=promotion.package_arn,
        ModelApprovalStatus="PendingManualApproval",
        CustomerMetadataProperties={**described["CustomerMetadataProperties"], "Team": "diagnostics"},
    )
    # A later registration is queued behind that update's event; once it started, the update was handled.
    promotion_factory("duplicate-barrier")

    # Then the repeat is a no-op success and there is still one execution, which sent one dev email
    assert error is None
    assert again["outcome"] == "duplicate"
    assert [e["name"] for e in _executions(stack)].count(promotion.execution_arn.rsplit(":", 1)[-1]) == 1
    dev_emails = [m for m in promotion.emails() if m["subject"].endswith("for dev")]
    assert len(dev_emails) == 1


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("model_package_approved.json", "ModelApprovalStatus is Approved"),
        ("model_package_malformed.json", "ModelPackageArn is missing"),
    ],
)
def test_other_statuses_and_malformed_events_are_ignored_with_a_reason(stack, load_event, fixture, reason):
    # Given an event that is not a pending registration
    event = load_event(fixture)
    before = len(_executions(stack))

    # When it reaches the starter
    error, answer = _invoke_starter(stack, event)

    # Then it is answered as ignored, with the reason, and no execution starts
    assert error is None
    assert answer["outcome"] == "ignored"
    assert reason in answer["reason"]
    assert len(_executions(stack)) == before


@pytest.mark.parametrize("event", [[], "text", {"detail-type": 5}, {"source": "aws.sagemaker"}], ids=repr)
def test_events_of_the_wrong_shape_are_ignored_without_crashing(stack, event):
    error, answer = _invoke_starter(stack, event)
    assert error is None
    assert answer["outcome"] == "ignored"


def test_a_version_registered_as_approved_starts_no_promotion(stack, demo_assets):
    # Given a version registered directly as Approved
    group = new_group("pre-approved")
    url = publish_model(stack, demo_assets.model_archive, f"{group}/model.tar.gz")
    before = len(_executions(stack))
    register_version(stack, group, url, status="Approved")
    # A later pending registration is queued behind the first event; once it started, the first was handled.
    barrier = new_group("barrier")
    register_version(stack, barrier, url)
    stack.execution_for(f"{barrier}-v1")

    # Then only the barrier's execution exists
    assert len(_executions(stack)) == before + 1
    assert not [e for e in _executions(stack) if e["name"].startswith(group)]
