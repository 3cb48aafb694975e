"""Every Settings.from_environ fails with a ConfigurationError that names the variable to fix."""

from __future__ import annotations

from typing import Any

import pytest
from builders import APPROVAL_ENV, OUTCOME_ENV, STARTER_ENV

from model_promotion.config import ApprovalApiSettings, ApprovalRequestSettings, OutcomeSettings, StarterSettings
from model_promotion.domain.errors import ConfigurationError

API_ENV = {"APPROVALS_TABLE": "model-promotion-approvals"}

SETTINGS_AND_ENV: list[tuple[Any, dict[str, str]]] = [
    (StarterSettings, STARTER_ENV),
    (ApprovalRequestSettings, APPROVAL_ENV),
    (ApprovalApiSettings, API_ENV),
    (OutcomeSettings, OUTCOME_ENV),
]

MISSING_CASES = [
    pytest.param(settings, env, name, id=f"{settings.__name__}-{name}")
    for settings, env in SETTINGS_AND_ENV
    for name in env
]


def test_complete_environments_are_read_into_typed_settings() -> None:
    # When
    starter = StarterSettings.from_environ(STARTER_ENV)
    approval = ApprovalRequestSettings.from_environ(APPROVAL_ENV)
    api = ApprovalApiSettings.from_environ(API_ENV)
    outcome = OutcomeSettings.from_environ(OUTCOME_ENV)

    # Then
    assert starter == StarterSettings(STARTER_ENV["STATE_MACHINE_ARN"], ("dev", "test", "uat", "prod"))
    assert approval.approval_base_url == "https://abc123.execute-api.eu-west-1.amazonaws.com"
    assert approval.approvers["test"] == ("qa.lead@example.com", "qa.deputy@example.com")
    assert approval.approvals_table == api.approvals_table == "model-promotion-approvals"
    assert approval.sender == "model-promotion@example.com"
    assert outcome == OutcomeSettings(
        parameter_prefix="/model-promotion",
        decision_log_table="model-promotion-decisions",
        sender="model-promotion@example.com",
        operations_email="ml-ops@example.com",
    )


@pytest.mark.parametrize(("settings", "env", "name"), MISSING_CASES)
@pytest.mark.parametrize("absent", ["missing", "empty", "blank"])
def test_a_missing_variable_is_named_in_the_error(settings: Any, env: dict[str, str], name: str, absent: str) -> None:
    # Given
    environ = dict(env)
    if absent == "missing":
        del environ[name]
    else:
        environ[name] = "" if absent == "empty" else "   "

    # When
    with pytest.raises(ConfigurationError) as raised:
        settings.from_environ(environ)

    # Then
    assert str(raised.value) == f"environment variable {name} is not set"


INVALID_CASES = [
    pytest.param(StarterSettings, STARTER_ENV, "STATE_MACHINE_ARN", "model-promotion", id="starter-arn-not-an-arn"),
    pytest.param(
        StarterSettings,
        STARTER_ENV,
        "STATE_MACHINE_ARN",
        "arn:aws:lambda:eu-west-1:123456789012:function:start",
        id="starter-arn-of-a-function",
    ),
    pytest.param(ApprovalRequestSettings, APPROVAL_ENV, "APPROVAL_BASE_URL", "ftp://example.com", id="url-ftp"),
    pytest.param(ApprovalRequestSettings, APPROVAL_ENV, "APPROVAL_BASE_URL", "example.com/x", id="url-no-scheme"),
    pytest.param(ApprovalRequestSettings, APPROVAL_ENV, "APPROVAL_BASE_URL", "https://", id="url-no-host"),
    pytest.param(ApprovalRequestSettings, APPROVAL_ENV, "SENDER_ADDRESS", "model-promotion", id="sender-not-email"),
    pytest.param(OutcomeSettings, OUTCOME_ENV, "SENDER_ADDRESS", "noreply@", id="outcome-sender-not-email"),
    pytest.param(OutcomeSettings, OUTCOME_ENV, "OPERATIONS_EMAIL", "ml ops@example.com", id="operations-not-email"),
]

_NOT_NAMED = (
    "BUG config.py:43,55,61,86: the error comes from domain code (parse_stages / parse_stage_approvers / "
    "validate_parameter_prefix) and never names the environment variable, contrary to config.py's docstring"
)

INVALID_CASES_NOT_NAMED = [
    pytest.param(StarterSettings, STARTER_ENV, "STAGES", "dev,Test", "'Test'", id="starter-stages-bad-name"),
    pytest.param(ApprovalRequestSettings, APPROVAL_ENV, "STAGES", "dev,dev", "dev", id="approval-stages-duplicate"),
    pytest.param(
        ApprovalRequestSettings,
        APPROVAL_ENV,
        "STAGE_APPROVERS",
        "dev=a@example.com",
        "test, uat, prod",
        id="approvers-missing-stages",
    ),
    pytest.param(
        ApprovalRequestSettings,
        APPROVAL_ENV,
        "STAGE_APPROVERS",
        APPROVAL_ENV["STAGE_APPROVERS"].replace("dev.lead@example.com", "dev.lead"),
        "'dev.lead'",
        id="approvers-bad-address",
    ),
    pytest.param(
        OutcomeSettings, OUTCOME_ENV, "PARAMETER_PREFIX", "model-promotion", "'model-promotion'", id="prefix-no-slash"
    ),
]


@pytest.mark.parametrize(("settings", "env", "name", "value"), INVALID_CASES)
def test_an_invalid_variable_is_named_in_the_error_with_its_value(
    settings: Any, env: dict[str, str], name: str, value: str
) -> None:
    # Given
    environ = {**env, name: value}

    # When
    with pytest.raises(ConfigurationError) as raised:
        settings.from_environ(environ)

    # Then
    assert str(raised.value).startswith(f"{name}=")
    assert value.rstrip("/") in str(raised.value)


@pytest.mark.parametrize(("settings", "env", "name", "value", "problem"), INVALID_CASES_NOT_NAMED)
def test_an_invalid_list_or_prefix_variable_is_named_in_the_error(
    settings: Any, env: dict[str, str], name: str, value: str, problem: str
) -> None:
    # Given
    environ = {**env, name: value}

    # When
    with pytest.raises(ConfigurationError) as raised:
        settings.from_environ(environ)

    # Then
    assert name in str(raised.value)


@pytest.mark.parametrize(("settings", "env", "name", "value", "problem"), INVALID_CASES_NOT_NAMED)
def test_an_invalid_list_or_prefix_variable_is_a_configuration_error_naming_the_problem(
    settings: Any, env: dict[str, str], name: str, value: str, problem: str
) -> None:
    # Given
    environ = {**env, name: value}

    # When
    with pytest.raises(ConfigurationError) as raised:
        settings.from_environ(environ)

    # Then
    assert problem in str(raised.value)


def test_a_trailing_slash_on_the_approval_base_url_is_dropped() -> None:
    # Given
    environ = {**APPROVAL_ENV, "APPROVAL_BASE_URL": "https://approvals.example.com/prod///"}

    # When
    settings = ApprovalRequestSettings.from_environ(environ)

    # Then
    assert settings.approval_base_url == "https://approvals.example.com/prod"
