"""Every Settings.from_environ fails with a ConfigurationError that names the variable to fix."""

from __future__ import annotations

import importlib
import json
import typing
from pathlib import Path
from typing import Any

import pytest
from builders import APPROVAL_API_ENV, APPROVAL_ENV, CONSOLE_ENV, OUTCOME_ENV, STARTER_ENV

from model_promotion.config import (
    FUNCTION_SETTINGS,
    ApprovalApiSettings,
    ApprovalRequestSettings,
    OperatorConsoleSettings,
    OutcomeSettings,
    SignInConfig,
    StarterSettings,
)
from model_promotion.domain.errors import ConfigurationError

API_ENV = APPROVAL_API_ENV

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
    assert approval.parameter_prefix == "/model-promotion"
    key = API_ENV["SIGNING_KEY_ID"]
    one_each = {"dev": 1, "test": 1, "uat": 1, "prod": 1}
    assert api == ApprovalApiSettings(
        approvals_table="model-promotion-approvals",
        approver_group_prefix="approvers-",
        sign_in_parameter="/model-promotion-config/sign-in",
        signing_key_id=key,
        sessions_table="model-promotion-sessions",
        quorum=one_each,
        signing_reauth_minutes={"prod": 10},
    )
    assert outcome == OutcomeSettings(
        parameter_prefix="/model-promotion",
        decision_log_table="model-promotion-decisions",
        sender="model-promotion@example.com",
        operations_email="ml-ops@example.com",
        signing_key_id=key,
        quorum=one_each,
    )


@pytest.mark.parametrize(
    ("quorum", "reauth", "expected_quorum", "expected_reauth"),
    [
        ("prod=2", "", {"dev": 1, "test": 1, "uat": 1, "prod": 2}, {"prod": 10}),
        ("uat=2, prod=3", "none", {"dev": 1, "test": 1, "uat": 2, "prod": 3}, {}),
        ("", "uat=30,prod=5", {"dev": 1, "test": 1, "uat": 1, "prod": 1}, {"uat": 30, "prod": 5}),
    ],
)
def test_quorum_and_signing_reauthentication_are_read_per_stage(
    quorum: str, reauth: str, expected_quorum: dict[str, int], expected_reauth: dict[str, int]
) -> None:
    # When
    api = ApprovalApiSettings.from_environ({**API_ENV, "STAGE_QUORUM": quorum, "SIGNING_REAUTH_MINUTES": reauth})

    # Then
    assert api.quorum == expected_quorum
    assert api.signing_reauth_minutes == expected_reauth


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("STAGE_QUORUM", "prod=0", "STAGE_QUORUM: quorum for 'prod' is '0'; it must be a whole number from 1 to 10"),
        ("STAGE_QUORUM", "staging=2", "STAGE_QUORUM: quorum is given for 'staging', which is not in the stage list"),
        ("STAGE_QUORUM", "prod", "STAGE_QUORUM: quorum entry 'prod' has no '='"),
        ("SIGNING_REAUTH_MINUTES", "prod=ten", "SIGNING_REAUTH_MINUTES: re-authentication minutes for 'prod' is"),
        ("SIGNING_KEY_ID", "my key", "SIGNING_KEY_ID='my key' is not a KMS key id or key ARN"),
    ],
)
def test_a_wrong_quorum_reauthentication_or_key_is_refused_by_name(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        ApprovalApiSettings.from_environ({**API_ENV, name: value})
    assert str(raised.value).startswith(message)


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
        StarterSettings,
        STARTER_ENV,
        "STAGES",
        ",".join(f"s{i}" for i in range(17)),
        "at most 16 are allowed",
        id="starter-stages-more-than-the-registry-metadata-holds",
    ),
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
    pytest.param(
        ApprovalRequestSettings,
        APPROVAL_ENV,
        "PARAMETER_PREFIX",
        "/model promotion",
        "'/model promotion'",
        id="approval-prefix-with-a-space",
    ),
    pytest.param(
        ApprovalRequestSettings,
        APPROVAL_ENV,
        "PARAMETER_PREFIX",
        "/model-promotion/",
        "'/model-promotion/'",
        id="approval-prefix-trailing-slash",
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


# SignInConfig: the user pool wiring the template writes to an SSM parameter

SIGN_IN_PARAMETER = "/model-promotion-config/sign-in"
SIGN_IN = {
    "userPoolId": "eu-west-1_AbCdEf123",
    "clientId": "4u2tlf1ghsmdtlr9dd1a9bqk2c",
    "issuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123",
    "signInUrl": "https://model-approvals.auth.eu-west-1.amazoncognito.com",
}


def test_the_sign_in_parameter_is_read_into_its_config() -> None:
    # When
    config = SignInConfig.from_json(SIGN_IN_PARAMETER, json.dumps(SIGN_IN))

    # Then
    assert config == SignInConfig(
        user_pool_id="eu-west-1_AbCdEf123",
        client_id="4u2tlf1ghsmdtlr9dd1a9bqk2c",
        issuer="https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123",
        sign_in_url="https://model-approvals.auth.eu-west-1.amazoncognito.com",
    )


def test_trailing_slashes_of_the_issuer_and_sign_in_url_are_dropped_and_extra_keys_ignored() -> None:
    # Given
    text = json.dumps(
        {**SIGN_IN, "issuer": SIGN_IN["issuer"] + "/", "signInUrl": "http://127.0.0.1:4566/hosted-ui//", "x": 1}
    )

    # When
    config = SignInConfig.from_json(SIGN_IN_PARAMETER, text)

    # Then
    assert config.issuer == SIGN_IN["issuer"]
    assert config.sign_in_url == "http://127.0.0.1:4566/hosted-ui"


@pytest.mark.parametrize("text", ["", "not json", "{'userPoolId': 'x'}", '{"userPoolId": '])
def test_a_sign_in_parameter_that_is_not_json_is_a_configuration_error_naming_it(text: str) -> None:
    # When
    with pytest.raises(ConfigurationError) as raised:
        SignInConfig.from_json(SIGN_IN_PARAMETER, text)

    # Then
    assert str(raised.value) == f"parameter {SIGN_IN_PARAMETER} is not JSON"


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        pytest.param(json.dumps({k: v for k, v in SIGN_IN.items() if k != "clientId"}), "clientId", id="no-client"),
        pytest.param(json.dumps({**SIGN_IN, "issuer": ""}), "issuer", id="empty-issuer"),
        pytest.param(json.dumps({**SIGN_IN, "userPoolId": 42}), "userPoolId", id="pool-id-a-number"),
        pytest.param(json.dumps({**SIGN_IN, "signInUrl": None}), "signInUrl", id="sign-in-url-null"),
        pytest.param("{}", "userPoolId, clientId, issuer, signInUrl", id="empty-object"),
        pytest.param(json.dumps([SIGN_IN]), "userPoolId, clientId, issuer, signInUrl", id="a-list"),
        pytest.param('"eu-west-1_AbCdEf123"', "userPoolId, clientId, issuer, signInUrl", id="a-string"),
    ],
)
def test_a_sign_in_parameter_lacking_a_key_names_the_parameter_and_the_keys(text: str, missing: str) -> None:
    # When
    with pytest.raises(ConfigurationError) as raised:
        SignInConfig.from_json(SIGN_IN_PARAMETER, text)

    # Then
    assert str(raised.value) == f"parameter {SIGN_IN_PARAMETER} lacks {missing}"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        pytest.param("userPoolId", "AbCdEf123", id="pool-id-without-region"),
        pytest.param("userPoolId", "eu-west-1_Ab Cd", id="pool-id-with-a-space"),
        pytest.param("issuer", "cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123", id="issuer-no-scheme"),
        pytest.param("issuer", "ftp://cognito-idp.example.com", id="issuer-ftp"),
        pytest.param("signInUrl", "model-approvals.auth.eu-west-1.amazoncognito.com", id="sign-in-url-no-scheme"),
        pytest.param("signInUrl", "https://", id="sign-in-url-no-host"),
    ],
)
def test_a_malformed_sign_in_value_names_the_parameter_and_the_value(key: str, value: str) -> None:
    # When
    with pytest.raises(ConfigurationError) as raised:
        SignInConfig.from_json(SIGN_IN_PARAMETER, json.dumps({**SIGN_IN, key: value}))

    # Then
    assert str(raised.value).startswith(f"parameter {SIGN_IN_PARAMETER}: ")
    assert repr(value) in str(raised.value)


def test_the_settings_checked_at_start_up_are_the_ones_each_function_reads() -> None:
    handlers_dir = Path(importlib.import_module("model_promotion.handlers").__file__).parent
    with_settings = {
        f"model_promotion.handlers.{path.stem}"
        for path in handlers_dir.glob("*.py")
        if "def settings()" in path.read_text(encoding="utf-8")
    }
    assert with_settings <= set(FUNCTION_SETTINGS)
    for module_name, read in FUNCTION_SETTINGS.items():
        module = importlib.import_module(module_name)
        settings_class = read.__self__  # type: ignore[attr-defined]
        if module_name in with_settings:
            assert typing.get_type_hints(module.settings)["return"] is settings_class, module_name
        else:  # the approval pages and the console read theirs when they build their site
            source = Path(module.__file__).read_text(encoding="utf-8")
            assert f"{settings_class.__name__}.from_environ(os.environ)" in source, module_name


def test_the_consoles_settings_name_a_missing_or_malformed_variable() -> None:
    without_table = {k: v for k, v in CONSOLE_ENV.items() if k != "CONSOLE_SESSIONS_TABLE"}
    with pytest.raises(ConfigurationError, match="CONSOLE_SESSIONS_TABLE"):
        OperatorConsoleSettings.from_environ(without_table)
    with pytest.raises(ConfigurationError, match="OPERATOR_GROUP='ops team' is not a user pool group name"):
        OperatorConsoleSettings.from_environ({**CONSOLE_ENV, "OPERATOR_GROUP": "ops team"})
    # An empty approval base: the links use the API that serves the console (the template's default)
    assert OperatorConsoleSettings.from_environ({**CONSOLE_ENV, "APPROVAL_BASE_URL": ""}).approval_base_url == ""
