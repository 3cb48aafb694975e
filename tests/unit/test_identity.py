"""Who signs: the approver read from verified ID token claims, and whether they may decide a stage of a version."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from builders import GROUP, REGISTERED_BY, REGISTRANT, VERSION, approver, approver_claims, model_version

from model_promotion.domain.identity import (
    Approver,
    NotAuthorized,
    NotSignedIn,
    approver_from_claims,
    authorize,
    parse_groups,
    registered_by,
    stage_group,
)
from model_promotion.domain.model_version import ModelVersion

SSO_ROLE = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_DataScientist_0123456789abcdef"

# approver_from_claims


def test_a_cognito_id_token_is_read_into_an_approver() -> None:
    # Given
    claims = {
        "sub": "7d8e9f00-1111-2222-3333-444455556666",
        "cognito:username": "qlead",
        "email": "qa.lead@example.com",
        "email_verified": True,
        "name": "Quinn Lead",
        "cognito:groups": ["approvers-test", "approvers-uat"],
        "token_use": "id",
        "exp": 1795266000,
    }

    # When
    person = approver_from_claims(claims)

    # Then
    assert person == Approver(
        subject="7d8e9f00-1111-2222-3333-444455556666",
        username="qlead",
        email="qa.lead@example.com",
        name="Quinn Lead",
        groups=frozenset({"approvers-test", "approvers-uat"}),
    )
    assert person.signature == "Quinn Lead <qa.lead@example.com>"
    assert person.identity == "qa.lead@example.com"


@pytest.mark.parametrize(
    ("extra", "name"),
    [
        pytest.param({"name": "Quinn Lead", "given_name": "Q", "family_name": "L"}, "Quinn Lead", id="name-first"),
        pytest.param({"given_name": "Quinn", "family_name": "Lead"}, "Quinn Lead", id="given-and-family"),
        pytest.param({"given_name": "Quinn"}, "Quinn", id="given-only"),
        pytest.param({"family_name": "Lead"}, "Lead", id="family-only"),
        pytest.param({"name": "", "given_name": "", "family_name": ""}, "qa.lead@example.com", id="blank-names"),
        pytest.param({}, "qa.lead@example.com", id="email-when-no-name"),
    ],
)
def test_the_name_is_the_name_claim_else_given_and_family_name_else_the_email(extra: dict[str, Any], name: str) -> None:
    # Given
    claims = {"sub": "s-1", "cognito:username": "qlead", "email": "qa.lead@example.com", **extra}

    # When
    person = approver_from_claims(claims)

    # Then
    assert person.name == name


def test_without_email_or_name_the_user_name_names_and_identifies_the_approver() -> None:
    # When
    person = approver_from_claims({"sub": "s-1", "cognito:username": "corp-idp_qlead"})

    # Then
    assert person.email is None
    assert person.name == "corp-idp_qlead"
    assert person.identity == "corp-idp_qlead"
    assert person.signature == "corp-idp_qlead"


def test_without_a_user_name_the_subject_is_the_user_name() -> None:
    # When
    person = approver_from_claims({"sub": "s-1"})

    # Then
    assert (person.username, person.name, person.identity, person.groups) == ("s-1", "s-1", "s-1", frozenset())


@pytest.mark.parametrize("email", [None, "", 42, ["qa.lead@example.com"]])
def test_an_email_claim_that_is_not_a_non_empty_string_is_no_email(email: Any) -> None:
    # When
    person = approver_from_claims({"sub": "s-1", "cognito:username": "qlead", "email": email})

    # Then
    assert not person.email
    assert person.identity == "qlead"


@pytest.mark.parametrize("claims", [{}, {"sub": ""}, {"sub": None}, {"email": "qa.lead@example.com"}])
def test_claims_without_a_subject_are_not_a_sign_in(claims: dict[str, Any]) -> None:
    # When
    with pytest.raises(NotSignedIn):
        approver_from_claims(claims)


@pytest.mark.parametrize(
    ("extra", "groups"),
    [
        pytest.param({"cognito:groups": ["approvers-dev"]}, {"approvers-dev"}, id="cognito-groups"),
        pytest.param({"custom:groups": "approvers-test"}, {"approvers-test"}, id="one-custom-group"),
        pytest.param(
            {"custom:groups": " approvers-test , approvers-uat,,  ,approvers-prod "},
            {"approvers-test", "approvers-uat", "approvers-prod"},
            id="custom-groups-comma-separated-with-spaces-and-blanks",
        ),
        pytest.param(
            {"cognito:groups": ["approvers-dev", "approvers-test"], "custom:groups": "approvers-test,approvers-prod"},
            {"approvers-dev", "approvers-test", "approvers-prod"},
            id="both-merged",
        ),
        pytest.param({"cognito:groups": [], "custom:groups": ""}, set(), id="both-empty"),
        pytest.param({"cognito:groups": None, "custom:groups": None}, set(), id="both-null"),
        pytest.param({}, set(), id="neither"),
    ],
)
def test_groups_are_cognito_groups_plus_comma_separated_custom_groups(extra: dict[str, Any], groups: set[str]) -> None:
    # When
    person = approver_from_claims({"sub": "s-1", **extra})

    # Then
    assert person.groups == frozenset(groups)


def test_the_claims_builder_and_the_approver_builder_describe_the_same_person() -> None:
    # Then
    assert approver_from_claims(approver_claims("qa.lead@example.com")) == approver("qa.lead@example.com")


@pytest.mark.parametrize(
    ("person", "signature"),
    [
        pytest.param(Approver("s", "u", "a@example.com", "Ann Example", frozenset()), "Ann Example <a@example.com>"),
        pytest.param(
            Approver("s", "u", "a@example.com", "a@example.com", frozenset()), "a@example.com", id="name-is-email"
        ),
        pytest.param(Approver("s", "u", None, "Ann Example", frozenset()), "Ann Example", id="no-email"),
    ],
)
def test_the_signature_prints_the_name_and_the_email(person: Approver, signature: str) -> None:
    # Then
    assert person.signature == signature


# registered_by


def _model(*, registered: str | None, email: str | None = None) -> ModelVersion:
    return replace(model_version(registrant_email=email), registered_by=registered)


def _person(email: str | None, username: str) -> Approver:
    return approver(email, username=username, groups=("approvers-test",))


SAME_PERSON = [
    pytest.param(_model(registered=None, email=REGISTRANT), _person(REGISTRANT, "x"), id="registrant-email"),
    pytest.param(
        _model(registered=None, email="Dana.Scientist@Example.com"),
        _person("dana.scientist@EXAMPLE.com", "x"),
        id="registrant-email-any-case",
    ),
    pytest.param(
        _model(registered=None, email=REGISTRANT), _person(None, REGISTRANT), id="registrant-email-as-user-name"
    ),
    pytest.param(_model(registered=REGISTERED_BY), _person("d@corp.example.com", "dana-scientist"), id="profile-name"),
    pytest.param(
        _model(registered="Dana-Scientist"), _person("d@corp.example.com", "DANA-scientist"), id="profile-case"
    ),
    pytest.param(_model(registered=REGISTRANT), _person(REGISTRANT, "x"), id="profile-named-by-email"),
    pytest.param(
        _model(registered=f"{SSO_ROLE}/dana.scientist@example.com"),
        _person("Dana.Scientist@example.com", "x"),
        id="assumed-role-session-is-email",
    ),
    pytest.param(
        _model(registered=f"{SSO_ROLE}/dana-scientist"),
        _person("d@corp.example.com", "dana-scientist"),
        id="assumed-role-session-is-user-name",
    ),
    pytest.param(
        _model(registered="arn:aws:iam::123456789012:user/ml/dana-scientist"),
        _person("d@corp.example.com", "Dana-Scientist"),
        id="iam-user-name",
    ),
]

SOMEONE_ELSE = [
    pytest.param(_model(registered=None, email=None), _person(REGISTRANT, "dana-scientist"), id="nothing-recorded"),
    pytest.param(_model(registered=None, email=REGISTRANT), _person("ana.scientist@example.com", "x"), id="similar"),
    pytest.param(
        _model(registered=None, email=REGISTRANT), _person("dana.scientist@example.com.evil", "x"), id="prefix"
    ),
    pytest.param(
        _model(registered=f"{SSO_ROLE}/dana.scientist@example.com"),
        _person("qa.lead@example.com", "AWSReservedSSO_DataScientist_0123456789abcdef"),
        id="role-name-is-not-the-session",
    ),
    pytest.param(
        _model(registered="arn:aws:sts::123456789012:assumed-role/dana-scientist/pipeline-session"),
        _person("qa.lead@example.com", "dana-scientist"),
        id="role-named-like-a-user",
    ),
    pytest.param(
        _model(registered=REGISTERED_BY, email=REGISTRANT), _person(None, "qa-lead"), id="no-email-other-user-name"
    ),
]


@pytest.mark.parametrize(("model", "person"), SAME_PERSON)
def test_the_person_who_registered_the_version_is_recognised(model: ModelVersion, person: Approver) -> None:
    # Then
    assert registered_by(person, model) is True


@pytest.mark.parametrize(("model", "person"), SOMEONE_ELSE)
def test_someone_else_is_not_taken_for_the_registrant(model: ModelVersion, person: Approver) -> None:
    # Then
    assert registered_by(person, model) is False


# authorize


def test_a_member_of_the_stages_group_who_did_not_register_the_version_may_decide() -> None:
    # Then
    authorize(approver("qa.lead@example.com", groups=("approvers-test",)), model_version(), "test", "approvers-")


@pytest.mark.parametrize(
    "groups", [(), ("approvers-dev",), ("approvers-testing",), ("Approvers-test",), ("test",), ("approvers-",)]
)
def test_someone_outside_the_stages_group_may_not_decide(groups: tuple[str, ...]) -> None:
    # When
    with pytest.raises(NotAuthorized) as raised:
        authorize(approver("qa.lead@example.com", groups=groups), model_version(), "test", "approvers-")

    # Then
    assert str(raised.value) == (
        "You are signed in as qa.lead@example.com, who is not in the approvers-test group. Only members of "
        "approvers-test can decide the test stage."
    )


@pytest.mark.parametrize(("model", "person"), SAME_PERSON)
def test_the_registrant_may_not_decide_even_in_the_stages_group(model: ModelVersion, person: Approver) -> None:
    # When
    with pytest.raises(NotAuthorized) as raised:
        authorize(person, model, "test", "approvers-")

    # Then
    assert str(raised.value).startswith(f"You registered {GROUP} version {VERSION} yourself")


def test_the_group_check_comes_first_for_a_registrant_outside_the_group() -> None:
    # When
    with pytest.raises(NotAuthorized) as raised:
        authorize(approver(REGISTRANT, groups=("approvers-dev",)), model_version(), "test", "approvers-")

    # Then
    assert "not in the approvers-test group" in str(raised.value)


@pytest.mark.parametrize(("prefix", "group"), [("approvers-", "approvers-prod"), ("", "prod"), ("ml.", "ml.prod")])
def test_the_stages_group_is_the_prefix_followed_by_the_stage(prefix: str, group: str) -> None:
    # Then
    assert stage_group(prefix, "prod") == group
    authorize(approver("risk.officer@example.com", groups=(group,)), model_version(), "prod", prefix)


def _claims(**overrides: Any) -> dict[str, Any]:
    return {**approver_claims("qa.lead@example.com"), **overrides}


def test_custom_groups_from_a_federated_idp_authorize_like_cognito_groups() -> None:
    # Given
    person = approver_from_claims(_claims(**{"cognito:groups": [], "custom:groups": "staff,approvers-test"}))

    # Then
    authorize(person, model_version(), "test", "approvers-")


# parse_groups: every form Cognito writes a group claim in


@pytest.mark.parametrize(
    ("value", "groups"),
    [
        pytest.param(["approvers-dev", "approvers-test"], {"approvers-dev", "approvers-test"}, id="id-token-list"),
        pytest.param("[approvers-test, approvers-prod]", {"approvers-test", "approvers-prod"}, id="saml-multi-valued"),
        pytest.param(
            "  [ approvers-test ,   approvers-prod ]  ", {"approvers-test", "approvers-prod"}, id="saml-with-spaces"
        ),
        pytest.param('["approvers-test","approvers-prod"]', {"approvers-test", "approvers-prod"}, id="oidc-json-array"),
        pytest.param(
            '[ "approvers-test" ,\n "approvers-prod" ]', {"approvers-test", "approvers-prod"}, id="json-with-spaces"
        ),
        pytest.param(
            '["Risk, Compliance & Audit","approvers-prod"]',
            {"Risk, Compliance & Audit", "approvers-prod"},
            id="json-name-with-a-comma-is-not-split",
        ),
        pytest.param("approvers-test", {"approvers-test"}, id="single-value"),
        pytest.param("[approvers-test]", {"approvers-test"}, id="saml-single-value"),
        pytest.param('["approvers-test"]', {"approvers-test"}, id="json-single-value"),
        pytest.param(' "approvers-test" ', {"approvers-test"}, id="quoted-single-value"),
        pytest.param("['approvers-test', 'approvers-uat']", {"approvers-test", "approvers-uat"}, id="single-quotes"),
        pytest.param("approvers-test,approvers-uat", {"approvers-test", "approvers-uat"}, id="comma-separated"),
        pytest.param("[]", set(), id="empty-saml-or-json"),
        pytest.param("[ ]", set(), id="empty-with-space"),
        pytest.param("", set(), id="empty-string"),
        pytest.param([], set(), id="empty-list"),
        pytest.param(None, set(), id="absent"),
    ],
)
def test_group_claims_are_read_in_every_form_cognito_writes_them(value: Any, groups: set[str]) -> None:
    # When / Then
    assert parse_groups(value) == frozenset(groups)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param('{"groups": ["approvers-prod"]}', id="json-object"),
        pytest.param("[approvers-prod", id="bracket-never-closed"),
        pytest.param("approvers-prod]", id="bracket-never-opened"),
        pytest.param('[["approvers-prod"]]', id="nested-json-list"),
        pytest.param([1, None, {"a": "approvers-prod"}], id="list-without-strings"),
        pytest.param(42, id="number"),
        pytest.param({"approvers-prod": True}, id="object"),
        pytest.param('"', id="a-lone-quote"),
        pytest.param("[,, ,]", id="only-separators"),
    ],
)
def test_a_group_claim_that_cannot_be_read_grants_no_group_and_does_not_crash(value: Any) -> None:
    # When / Then
    assert parse_groups(value) == frozenset()


def test_a_federated_approver_with_a_saml_group_list_may_decide_the_stage() -> None:
    # Given: Cognito's form for a multi-valued SAML attribute mapped to custom:groups
    person = approver_from_claims(_claims(**{"cognito:groups": [], "custom:groups": "[staff, approvers-test]"}))

    # Then
    assert person.groups == frozenset({"staff", "approvers-test"})
    authorize(person, model_version(), "test", "approvers-")


def test_a_federated_approver_with_an_oidc_group_array_may_decide_the_stage() -> None:
    # Given: an OIDC IdP's array claim mapped to custom:groups, as Cognito stores it
    person = approver_from_claims(_claims(**{"custom:groups": '["staff","approvers-test"]'}))

    # Then
    assert person.groups >= {"approvers-test"}
    authorize(person, model_version(), "test", "approvers-")
