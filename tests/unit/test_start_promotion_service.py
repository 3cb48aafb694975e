"""start_promotion starts exactly one execution per pending model version, from the registry's own answer."""

from __future__ import annotations

import pytest
from builders import (
    EXECUTION_NAME,
    GROUP,
    MODEL_DATA_URL,
    PACKAGE_ARN,
    REGISTRANT,
    STAGES,
    VERSION,
    model_description,
    registration_event,
)
from fakes import EXECUTION_ARN_PREFIX, FakeRegistry, FakeWorkflow

from model_promotion.services.start_promotion import start_promotion


def test_a_pending_registration_starts_one_execution_named_after_the_version_with_the_model_and_stages() -> None:
    # Given
    registry = FakeRegistry(model_description())
    workflow = FakeWorkflow()

    # When
    result = start_promotion(registration_event(), registry=registry, workflow=workflow, stages=STAGES)

    # Then
    assert result.outcome == "started"
    assert result.execution_name == EXECUTION_NAME == "breast-cancer-classifier-v3"
    assert result.execution_arn == EXECUTION_ARN_PREFIX + EXECUTION_NAME
    assert workflow.started == {
        EXECUTION_NAME: {
            "model": {
                "group": GROUP,
                "version": VERSION,
                "packageArn": PACKAGE_ARN,
                "modelDataUrl": MODEL_DATA_URL,
                "registeredBy": "dana-scientist",
                "registeredAt": "2026-11-21T10:14:58.123000+00:00",
                "registrantEmail": REGISTRANT,
                "task": "CLASSIFICATION",
            },
            "stages": ["dev", "test", "uat", "prod"],
            "position": 0,
            "resume": None,
            "evidence": None,
        }
    }


def test_the_execution_input_comes_from_the_registry_not_from_the_event() -> None:
    # Given: a partial event without the container, and a registry that knows it
    registry = FakeRegistry(model_description())
    workflow = FakeWorkflow()
    event = registration_event({"InferenceSpecification": None, "CustomerMetadataProperties": None})

    # When
    start_promotion(event, registry=registry, workflow=workflow, stages=STAGES)

    # Then
    started = workflow.started[EXECUTION_NAME]["model"]
    assert started["modelDataUrl"] == MODEL_DATA_URL
    assert started["registrantEmail"] == REGISTRANT
    assert registry.described == [PACKAGE_ARN]


def test_the_stage_list_is_fixed_in_the_execution_input() -> None:
    # Given
    registry = FakeRegistry(model_description())
    workflow = FakeWorkflow()

    # When
    start_promotion(registration_event(), registry=registry, workflow=workflow, stages=("dev", "prod"))

    # Then
    assert workflow.started[EXECUTION_NAME]["stages"] == ["dev", "prod"]


def test_a_second_identical_event_is_a_duplicate_and_starts_nothing_more() -> None:
    # Given
    registry = FakeRegistry(model_description())
    workflow = FakeWorkflow()
    start_promotion(registration_event(), registry=registry, workflow=workflow, stages=STAGES)

    # When
    result = start_promotion(registration_event(), registry=registry, workflow=workflow, stages=STAGES)

    # Then
    assert result.outcome == "duplicate"
    assert result.execution_name == EXECUTION_NAME
    assert result.execution_arn is None
    assert list(workflow.started) == [EXECUTION_NAME]


def test_a_repeat_that_races_past_the_existence_check_is_still_a_duplicate() -> None:
    # Given: the first start is not yet visible to DescribeExecution when the repeat asks
    class LaggingWorkflow(FakeWorkflow):
        def execution_exists(self, name: str) -> bool:
            return False

    registry = FakeRegistry(model_description())
    workflow = LaggingWorkflow()
    start_promotion(registration_event(), registry=registry, workflow=workflow, stages=STAGES)

    # When
    result = start_promotion(registration_event(), registry=registry, workflow=workflow, stages=STAGES)

    # Then
    assert result.outcome == "duplicate"
    assert list(workflow.started) == [EXECUTION_NAME]


@pytest.mark.parametrize("status", ["Approved", "Rejected"])
def test_an_event_for_a_decided_version_is_ignored_without_reading_the_registry(status: str) -> None:
    # Given
    registry = FakeRegistry(model_description(status=status))
    workflow = FakeWorkflow()

    # When
    result = start_promotion(
        registration_event({"ModelApprovalStatus": status}), registry=registry, workflow=workflow, stages=STAGES
    )

    # Then
    assert result.outcome == "ignored"
    assert status in result.reason
    assert workflow.started == {}
    assert registry.described == []


def test_a_stale_pending_event_for_a_version_the_registry_shows_approved_is_ignored() -> None:
    # Given: the workflow's own update already approved the version when this late event arrives
    registry = FakeRegistry(model_description(status="Approved", metadata={"dev": "Approved"}))
    workflow = FakeWorkflow()

    # When
    result = start_promotion(registration_event(), registry=registry, workflow=workflow, stages=STAGES)

    # Then
    assert result.outcome == "ignored"
    assert "now Approved" in result.reason
    assert workflow.started == {}


def test_a_malformed_event_is_ignored_with_its_reason_and_starts_nothing() -> None:
    # Given
    registry = FakeRegistry(model_description())
    workflow = FakeWorkflow()
    event = registration_event({"ModelPackageVersion": "3"})

    # When
    result = start_promotion(event, registry=registry, workflow=workflow, stages=STAGES)

    # Then
    assert result.outcome == "ignored"
    assert "ModelPackageVersion" in result.reason
    assert workflow.started == {}
    assert registry.described == []


def test_an_update_event_of_a_version_whose_promotion_ended_starts_nothing() -> None:
    # Given a version whose promotion expired (its own UpdateModelPackage sends a PendingManualApproval event)
    registry = FakeRegistry(model_description(metadata={"dev": "Expired", "promotion-ended": "expired at dev"}))
    workflow = FakeWorkflow()

    # When the event arrives (also after Step Functions purged the closed execution)
    result = start_promotion(registration_event(), registry=registry, workflow=workflow, stages=STAGES)

    # Then it is ignored, and the reason says how to start it again
    assert result.outcome == "ignored"
    assert "expired at dev" in result.reason and "retry" in result.reason
    assert workflow.started == {}
