"""Which EventBridge events start a promotion, and the single execution name each model version gets."""

from __future__ import annotations

import re
from typing import Any

import pytest
from builders import GROUP, PACKAGE_ARN, VERSION, registration_event

from model_promotion.domain.registration import (
    EXECUTION_NAME_MAX,
    Ignored,
    RegistrationEvent,
    execution_name,
    read_registration_event,
)

_ALLOWED_NAME = re.compile(r"^[0-9A-Za-z_-]+$")


def test_a_pending_registration_event_is_read_into_its_package_group_and_version() -> None:
    # Given
    event = registration_event()

    # When
    result = read_registration_event(event)

    # Then
    assert result == RegistrationEvent(
        package_arn=PACKAGE_ARN, group=GROUP, version=VERSION, approval_status="PendingManualApproval"
    )


@pytest.mark.parametrize("status", ["Approved", "Rejected"])
def test_an_event_for_a_decided_version_is_ignored_with_its_status_in_the_reason(status: str) -> None:
    # Given
    event = registration_event({"ModelApprovalStatus": status})

    # When
    result = read_registration_event(event)

    # Then
    assert isinstance(result, Ignored)
    assert f"ModelApprovalStatus is {status}" in result.reason


@pytest.mark.parametrize(
    ("event", "reason_mentions"),
    [
        pytest.param(None, "not a JSON object", id="none"),
        pytest.param([registration_event()], "not a JSON object", id="list"),
        pytest.param("{}", "not a JSON object", id="string"),
        pytest.param(registration_event(source="aws.s3"), "aws.sagemaker", id="wrong-source"),
        pytest.param(
            registration_event(**{"detail-type": "SageMaker Model State Change"}),
            "SageMaker Model Package State Change",
            id="wrong-detail-type",
        ),
        pytest.param(
            {k: v for k, v in registration_event().items() if k != "detail-type"},
            "SageMaker Model Package State Change",
            id="no-detail-type",
        ),
        pytest.param({k: v for k, v in registration_event().items() if k != "detail"}, "'detail'", id="no-detail"),
        pytest.param(registration_event(detail="PendingManualApproval"), "'detail'", id="detail-not-an-object"),
    ],
)
def test_an_event_that_is_not_a_model_package_state_change_is_ignored_with_a_reason(
    event: Any, reason_mentions: str
) -> None:
    # When
    result = read_registration_event(event)

    # Then
    assert isinstance(result, Ignored)
    assert reason_mentions in result.reason


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("ModelApprovalStatus", None, id="status-missing"),
        pytest.param("ModelApprovalStatus", 1, id="status-not-a-string"),
        pytest.param("ModelPackageArn", None, id="arn-missing"),
        pytest.param("ModelPackageArn", "", id="arn-empty"),
        pytest.param("ModelPackageArn", "churn-model/3", id="arn-not-an-arn"),
        pytest.param("ModelPackageArn", ["arn:aws:sagemaker:x"], id="arn-a-list"),
        pytest.param("ModelPackageGroupName", None, id="group-missing"),
        pytest.param("ModelPackageGroupName", "", id="group-empty"),
        pytest.param("ModelPackageGroupName", 42, id="group-a-number"),
        pytest.param("ModelPackageVersion", None, id="version-missing"),
        pytest.param("ModelPackageVersion", True, id="version-bool"),
        pytest.param("ModelPackageVersion", 0, id="version-zero"),
        pytest.param("ModelPackageVersion", -3, id="version-negative"),
        pytest.param("ModelPackageVersion", "3", id="version-a-string"),
        pytest.param("ModelPackageVersion", 3.0, id="version-a-float"),
    ],
)
def test_a_pending_event_with_a_missing_or_wrongly_typed_field_is_ignored_naming_the_field(
    field: str, value: Any
) -> None:
    # Given
    event = registration_event()
    if value is None:
        del event["detail"][field]
    else:
        event["detail"][field] = value

    # When
    result = read_registration_event(event)

    # Then
    assert isinstance(result, Ignored)
    assert f"detail.{field}" in result.reason


def test_an_execution_name_that_needs_no_cleaning_is_the_group_and_version() -> None:
    # When
    name = execution_name("churn-model", 3)

    # Then
    assert name == "churn-model-v3"


@pytest.mark.parametrize(
    ("group", "version"),
    [
        pytest.param("g" * 63, 1, id="longest-group"),
        pytest.param("g" * 63, 2**31 - 1, id="longest-group-int32-version"),
        pytest.param("g" * 63, 2**63 - 1, id="longest-group-int64-version"),
        pytest.param("churn.model/with spaces:and*symbols", 12, id="forbidden-characters"),
        pytest.param("é" * 63, 7, id="non-ascii"),
    ],
)
def test_an_execution_name_only_uses_allowed_characters_within_80_characters(group: str, version: int) -> None:
    # When
    name = execution_name(group, version)

    # Then
    assert _ALLOWED_NAME.match(name), name
    assert len(name) <= EXECUTION_NAME_MAX
    assert f"-v{version}" in name


def test_an_execution_name_stays_within_80_characters_even_for_an_absurdly_large_version() -> None:
    # Given: nothing in read_registration_event bounds the version, so a 71-digit version reaches here
    version = 10**70

    # When
    name = execution_name("g" * 63, version)

    # Then
    assert len(name) <= EXECUTION_NAME_MAX


def test_groups_that_sanitise_to_the_same_text_get_different_execution_names() -> None:
    # When
    dotted = execution_name("a.b", 1)
    underscored = execution_name("a_b", 1)

    # Then
    assert dotted != underscored
    assert underscored == "a_b-v1"
    assert dotted.startswith("a_b-v1-")


def test_long_groups_that_differ_only_past_the_cut_get_different_execution_names() -> None:
    # Given: two 63-character groups whose names only differ in the last character
    first, second = "g" * 62 + "a", "g" * 62 + "b"

    # When
    names = {execution_name(first, 10**15), execution_name(second, 10**15)}

    # Then
    assert len(names) == 2
    assert all(len(name) <= EXECUTION_NAME_MAX for name in names)


def test_different_versions_of_one_group_get_different_execution_names() -> None:
    # When
    names = {execution_name("g" * 63, version) for version in (1, 2, 10, 10**15, 10**15 + 1)}

    # Then
    assert len(names) == 5


@pytest.mark.parametrize("group", ["churn-model", "churn.model", "g" * 63])
def test_the_execution_name_is_deterministic(group: str) -> None:
    # When
    names = {execution_name(group, 10**16) for _ in range(3)}

    # Then
    assert len(names) == 1


def test_the_execution_name_does_not_depend_on_the_process() -> None:
    # Given: a name derived from a salted hash() would differ between Lambda cold starts
    expected = "a_b-v1-0745b0741d"

    # When
    name = execution_name("a.b", 1)

    # Then
    assert name == expected
