"""Who signs: the approver read from verified ID token claims, and whether they may decide a stage of a version."""

from __future__ import annotations

import json
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest
from builders import GROUP, REGISTERED_BY, REGISTRANT, VERSION, approver, approver_claims, model_version

from model_promotion.domain.errors import ConfigurationError, InvalidPayload
from model_promotion.domain.identity import (
    Approver,
    FederatedIdentity,
    NotAuthorized,
    NotSignedIn,
    UnverifiedEmail,
    approver_from_claims,
    authorize,
    federated_groups,
    is_approver_group,
    parse_groups,
    registered_by,
    registrant_of,
    stage_group,
)
from model_promotion.domain.model_version import ModelVersion

SSO_ROLE = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_DataScientist_0123456789abcdef"
VERIFIED = {"email_verified": True}
IDENTITIES = [
    {
        "userId": "dana@corp.example",
        "providerName": "Corporate",
        "providerType": "SAML",
        "issuer": None,
        "primary": "true",
        "dateCreated": "1700000000000",
    }
]

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
    assert person.identity_source == "cognito"
    assert person.identifiers == frozenset({"7d8e9f00-1111-2222-3333-444455556666", "qlead"})


@pytest.mark.parametrize(
    ("extra", "name"),
    [
        pytest.param({"name": "Quinn Lead"}, "Quinn Lead", id="the-directorys-name"),
        pytest.param({"name": "  Quinn Lead "}, "Quinn Lead", id="trimmed"),
        pytest.param({"given_name": "Quinn", "family_name": "Lead"}, "qa.lead@example.com", id="given-names-unread"),
        pytest.param({"name": "", "given_name": "", "family_name": ""}, "qa.lead@example.com", id="blank-names"),
        pytest.param({"name": 42}, "qa.lead@example.com", id="not-a-string"),
        pytest.param({}, "qa.lead@example.com", id="email-when-no-name"),
    ],
)
def test_the_printed_name_is_the_directorys_name_attribute_else_the_email(extra: dict[str, Any], name: str) -> None:
    # Given: given_name and family_name are not among the attributes the pages' client reads
    claims = {"sub": "s-1", "cognito:username": "qlead", "email": "qa.lead@example.com", **VERIFIED, **extra}

    # When
    person = approver_from_claims(claims)

    # Then
    assert person.name == name


def test_without_email_or_name_a_federated_users_user_name_names_and_identifies_them() -> None:
    # When
    person = approver_from_claims({"sub": "s-1", "cognito:username": "Corporate_qlead", "identities": IDENTITIES})

    # Then
    assert person.email is None
    assert person.name == "Corporate_qlead"
    assert person.identity == "Corporate_qlead"
    assert person.signature == "Corporate_qlead"


def test_without_a_user_name_the_subject_is_the_user_name() -> None:
    # When
    person = approver_from_claims({"sub": "s-1", **VERIFIED})

    # Then
    assert (person.username, person.name, person.identity, person.groups) == ("s-1", "s-1", "s-1", frozenset())


@pytest.mark.parametrize("email", [None, "", 42, ["qa.lead@example.com"]])
def test_an_email_claim_that_is_not_a_non_empty_string_is_no_email(email: Any) -> None:
    # When
    person = approver_from_claims({"sub": "s-1", "cognito:username": "qlead", "email": email, **VERIFIED})

    # Then
    assert not person.email
    assert person.identity == "qlead"


@pytest.mark.parametrize("claims", [{}, {"sub": ""}, {"sub": None}, {"sub": 7}, {"email": "qa.lead@example.com"}])
def test_claims_without_a_subject_are_not_a_sign_in(claims: dict[str, Any]) -> None:
    # When
    with pytest.raises(NotSignedIn):
        approver_from_claims(claims)


@pytest.mark.parametrize("verified", [False, "false", "", None, 1, "yes"])
def test_a_user_pool_user_whose_email_is_not_verified_is_no_established_person(verified: Any) -> None:
    # Given
    claims = {"sub": "s-1", "email": "new.address@example.com", "email_verified": verified}

    # When
    with pytest.raises(UnverifiedEmail) as raised:
        approver_from_claims(claims)

    # Then
    assert "new.address@example.com" in str(raised.value) and "not verified" in str(raised.value)


@pytest.mark.parametrize("verified", [True, "true", "True"])
def test_email_verified_is_true_as_a_boolean_or_as_cognitos_attribute_string(verified: Any) -> None:
    # Then
    assert approver_from_claims({"sub": "s-1", "email": "a@example.com", "email_verified": verified}).email


@pytest.mark.parametrize("identities", [IDENTITIES, json.dumps(IDENTITIES)], ids=["id-token-array", "attribute-string"])
def test_a_federated_user_is_identified_by_the_idps_subject_too(identities: Any) -> None:
    # When
    person = approver_from_claims(
        {
            "sub": "s-1",
            "cognito:username": "Corporate_dana@corp.example",
            "email": "d@x.example",
            "identities": identities,
        }
    )

    # Then: no email_verified is asked of the IdP's email
    assert person.federated == (FederatedIdentity("Corporate", "dana@corp.example"),)
    assert person.identity_source == "Corporate"
    assert person.identifiers == frozenset({"s-1", "corporate_dana@corp.example", "dana@corp.example"})


@pytest.mark.parametrize(
    "identities",
    [
        "not json",
        "{}",
        "[1, 2]",
        [{"providerName": "Corporate"}],
        [{"userId": "x"}],
        [{"providerName": "", "userId": "x"}],
    ],
)
def test_an_identities_claim_that_cannot_be_read_is_no_federation(identities: Any) -> None:
    # When / Then: without federation, the email must be verified
    with pytest.raises(UnverifiedEmail):
        approver_from_claims({"sub": "s-1", "email": "a@example.com", "identities": identities})


@pytest.mark.parametrize(
    ("extra", "groups"),
    [
        pytest.param({"cognito:groups": ["approvers-dev"]}, {"approvers-dev"}, id="cognito-groups"),
        pytest.param({"custom:groups": "approvers-test"}, set(), id="custom-groups-alone-grant-nothing"),
        pytest.param(
            {"cognito:groups": ["approvers-dev"], "custom:groups": "approvers-test,approvers-prod"},
            {"approvers-dev"},
            id="custom-groups-never-added",
        ),
        pytest.param({"cognito:groups": [], "custom:groups": ""}, set(), id="both-empty"),
        pytest.param({"cognito:groups": None}, set(), id="null"),
        pytest.param({"cognito:groups": "approvers-dev"}, {"approvers-dev"}, id="a-single-string"),
        pytest.param({}, set(), id="neither"),
    ],
)
def test_groups_are_cognito_groups_only(extra: dict[str, Any], groups: set[str]) -> None:
    # When
    person = approver_from_claims({"sub": "s-1", **VERIFIED, **extra})

    # Then
    assert person.groups == frozenset(groups)


def test_the_claims_builder_and_the_approver_builder_describe_the_same_person() -> None:
    # Then
    assert approver_from_claims(approver_claims("qa.lead@example.com", **VERIFIED)) == approver("qa.lead@example.com")


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


def test_new_groups_keep_everything_else_about_the_approver() -> None:
    # Given
    person = Approver("s", "u", "a@example.com", "Ann", frozenset({"x"}), (FederatedIdentity("Corporate", "ann"),))

    # When
    changed = person.with_groups(frozenset({"approvers-prod"}))

    # Then
    assert changed == replace(person, groups=frozenset({"approvers-prod"}))


# federated_groups: what the pre-token trigger and the directory take from the IdP's claim


@pytest.mark.parametrize(
    ("value", "groups"),
    [
        pytest.param("[approvers-test, staff, approvers-prod]", {"approvers-test", "approvers-prod"}, id="saml"),
        pytest.param('["approvers-test","staff"]', {"approvers-test"}, id="oidc-json"),
        pytest.param("staff,approvers-uat", {"approvers-uat"}, id="comma-list"),
        pytest.param("approvers-dev", {"approvers-dev"}, id="single"),
        pytest.param("[approvers-staging, approvers-]", set(), id="not-stages"),
        pytest.param(None, set(), id="no-claim"),
    ],
)
def test_a_federated_users_approver_groups_are_the_stage_groups_of_the_idps_claim(value: Any, groups: set[str]) -> None:
    # Given
    attributes = {"identities": json.dumps(IDENTITIES)}
    if value is not None:
        attributes["custom:groups"] = value

    # When
    found = federated_groups(attributes, is_approver_group("approvers-", ("dev", "test", "uat", "prod")))

    # Then
    assert found == frozenset(groups)


def test_a_user_pool_user_has_no_federated_groups_whatever_custom_groups_holds() -> None:
    # When
    found = federated_groups({"custom:groups": "approvers-prod"}, is_approver_group("approvers-"))

    # Then
    assert found is None


@pytest.mark.parametrize(
    ("group", "wanted"),
    [("approvers-prod", True), ("approvers-anything", True), ("approvers-", False), ("prod", False), ("x-prod", False)],
)
def test_without_a_stage_list_an_approver_group_is_any_group_with_the_prefix(group: str, wanted: bool) -> None:
    # Then
    assert is_approver_group("approvers-")(group) is wanted


# registrant_of / registered_by: only immutable identifiers


def _model(*, registered: str | None, email: str | None = None) -> ModelVersion:
    return replace(model_version(registrant_email=email), registered_by=registered)


def _person(email: str | None, username: str, idp_subject: str | None = None) -> Approver:
    person = approver(email, username=username, groups=("approvers-test",))
    federated = (FederatedIdentity("Corporate", idp_subject),) if idp_subject else ()
    return replace(person, federated=federated)


SAME_PERSON = [
    pytest.param(_model(registered=REGISTERED_BY), _person("d@corp.example.com", "dana-scientist"), id="profile-name"),
    pytest.param(
        _model(registered="Dana-Scientist"), _person("d@corp.example.com", "DANA-scientist"), id="profile-case"
    ),
    pytest.param(
        _model(registered=f"{SSO_ROLE}/dana.scientist@example.com"),
        _person("other@example.com", "x", idp_subject="Dana.Scientist@example.com"),
        id="assumed-role-session-is-the-idp-subject",
    ),
    pytest.param(
        _model(registered=f"{SSO_ROLE}/dana-scientist"),
        _person("d@corp.example.com", "dana-scientist"),
        id="assumed-role-session-is-the-user-name",
    ),
    pytest.param(
        _model(registered="arn:aws:iam::123456789012:user/ml/dana-scientist"),
        _person("d@corp.example.com", "Dana-Scientist"),
        id="iam-user-name",
    ),
    pytest.param(
        _model(registered="arn:aws-us-gov:iam::123456789012:user/dana-scientist"),
        _person("d@corp.example.com", "dana-scientist"),
        id="iam-user-in-another-partition",
    ),
]

SOMEONE_ELSE = [
    pytest.param(
        _model(registered="dana-scientist", email=REGISTRANT),
        _person(REGISTRANT, "someone-else"),
        id="the-registrant-email-names-nobody",
    ),
    pytest.param(
        _model(registered=f"{SSO_ROLE}/dana.scientist@example.com"),
        _person("dana.scientist@example.com", "corp-sso_dana"),
        id="an-email-equal-to-the-session-name-is-no-identifier",
    ),
    pytest.param(
        _model(registered=f"{SSO_ROLE}/dana.scientist@example.com"),
        _person("qa.lead@example.com", "AWSReservedSSO_DataScientist_0123456789abcdef"),
        id="role-name-is-not-the-session",
    ),
    pytest.param(_model(registered="dana-scientist"), _person(None, "dana-scientist-2"), id="similar-name"),
]


@pytest.mark.parametrize(("model", "person"), SAME_PERSON)
def test_the_person_who_registered_the_version_is_recognised(model: ModelVersion, person: Approver) -> None:
    # Then
    assert registered_by(person, model) is True


@pytest.mark.parametrize(("model", "person"), SOMEONE_ELSE)
def test_someone_else_is_not_taken_for_the_registrant(model: ModelVersion, person: Approver) -> None:
    # Then
    assert registered_by(person, model) is False


@pytest.mark.parametrize(
    ("registered", "why"),
    [
        pytest.param(None, "SageMaker CreatedBy is empty", id="no-created-by"),
        pytest.param("  ", "SageMaker CreatedBy is empty", id="blank"),
        pytest.param(
            "arn:aws:iam::123456789012:role/service-role/ml-pipeline",
            "SageMaker CreatedBy names only the role ml-pipeline, no session",
            id="role-without-session",
        ),
        pytest.param(
            "arn:aws:sts::123456789012:assumed-role/DataScience/not-me",
            "SageMaker CreatedBy names the session 'not-me' of the role DataScience, and whoever may assume "
            "DataScience chooses that name, so it names no one",
            id="a-session-name-its-caller-chose",
        ),
        pytest.param(
            "arn:aws:sts::123456789012:assumed-role/SageMakerPipelineRole/SageMaker-PipelineStep-abc123",
            "SageMaker CreatedBy names the session 'SageMaker-PipelineStep-abc123' of the role SageMakerPipelineRole, "
            "and whoever may assume SageMakerPipelineRole chooses that name, so it names no one",
            id="a-pipeline-session",
        ),
        pytest.param(
            "arn:aws:sts::123456789012:federated-user/dana-scientist",
            "SageMaker CreatedBy names the federated user 'dana-scientist', a name its caller chose",
            id="a-federated-user-name-its-caller-chose",
        ),
        pytest.param(
            "arn:aws:iam::123456789012:root",
            "SageMaker CreatedBy names the account's root user, not a person",
            id="root",
        ),
        pytest.param(
            "arn:aws:sagemaker:us-east-1:123456789012:user-profile/d-1/x",
            "SageMaker CreatedBy names arn:aws:sagemaker:us-east-1:123456789012:user-profile/d-1/x, which is not "
            "a person",
            id="other-arn",
        ),
    ],
)
def test_a_registrant_that_cannot_be_established_says_what_is_missing(registered: str | None, why: str) -> None:
    # When
    registrant = registrant_of(_model(registered=registered))

    # Then
    assert registrant.names == frozenset()
    assert registrant.unknown_because == why


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


def test_nobody_may_decide_a_version_whose_registrant_cannot_be_established() -> None:
    # When
    with pytest.raises(NotAuthorized) as raised:
        authorize(approver("qa.lead@example.com"), _model(registered=None, email=REGISTRANT), "test", "approvers-")

    # Then: the message names what is missing and what to do
    assert str(raised.value) == (
        f"Version {VERSION} of {GROUP} records no registrant (SageMaker CreatedBy is empty), so nobody can be shown "
        "not to be approving their own work. Register it again with a person's own credentials (a SageMaker Studio "
        "user profile, an IAM Identity Center session or an IAM user), or ask an operator."
    )


def test_the_group_check_comes_first_for_a_registrant_outside_the_group() -> None:
    # When
    with pytest.raises(NotAuthorized) as raised:
        authorize(
            approver(REGISTRANT, username=REGISTERED_BY, groups=("approvers-dev",)),
            model_version(),
            "test",
            "approvers-",
        )

    # Then
    assert "not in the approvers-test group" in str(raised.value)


@pytest.mark.parametrize(("prefix", "group"), [("approvers-", "approvers-prod"), ("", "prod"), ("ml.", "ml.prod")])
def test_the_stages_group_is_the_prefix_followed_by_the_stage(prefix: str, group: str) -> None:
    # Then
    assert stage_group(prefix, "prod") == group
    authorize(approver("risk.officer@example.com", groups=(group,)), model_version(), "prod", prefix)


def test_a_custom_groups_claim_never_authorizes_not_even_an_administrators_value() -> None:
    # Given: no Cognito group, and custom:groups naming the stage's group (in a token only if a trigger let it be)
    person = approver_from_claims(
        {**approver_claims("qa.lead@example.com", groups=()), **VERIFIED, "custom:groups": "approvers-test"}
    )

    # When / Then
    with pytest.raises(NotAuthorized):
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


# the pre token generation trigger (handlers/pre_token_generation.py), with Cognito's V1_0 event


def _trigger_event(attributes: dict[str, str], groups: list[str] | None = None) -> dict[str, Any]:
    """A V1_0 pre token generation event, as Cognito sends it for a hosted UI sign-in."""
    return {
        "version": "1",
        "triggerSource": "TokenGeneration_HostedAuth",
        "region": "eu-west-1",
        "userPoolId": "eu-west-1_AbCdEf123",
        "userName": "Corporate_dana@corp.example",
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "fake-client"},
        "request": {
            "userAttributes": {"sub": "s-1", "email": "dana@corp.example", **attributes},
            "groupConfiguration": {"groupsToOverride": groups or [], "iamRolesToOverride": [], "preferredRole": None},
        },
        "response": {"claimsOverrideDetails": None},
    }


@pytest.fixture
def lambda_context() -> SimpleNamespace:
    """What Powertools' inject_lambda_context reads from the Lambda context object."""
    return SimpleNamespace(
        function_name="PreTokenGenerationFunction",
        memory_limit_in_mb=128,
        invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:PreTokenGenerationFunction",
        aws_request_id="c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
    )


@pytest.fixture
def trigger(monkeypatch: pytest.MonkeyPatch) -> Any:
    from model_promotion.handlers import pre_token_generation

    monkeypatch.setenv("APPROVER_GROUP_PREFIX", "approvers-")
    monkeypatch.setenv("STAGES", "dev,test,uat,prod")
    monkeypatch.setenv("OPERATOR_GROUP", "operators")
    pre_token_generation.stage_groups.cache_clear()
    yield pre_token_generation
    pre_token_generation.stage_groups.cache_clear()


@pytest.mark.parametrize(
    ("claim", "groups"),
    [
        pytest.param("[approvers-test, Finance, approvers-prod]", ["approvers-prod", "approvers-test"], id="saml"),
        pytest.param('["approvers-uat","Finance","approvers-uat"]', ["approvers-uat"], id="oidc-json-array"),
        pytest.param("Finance, approvers-dev", ["approvers-dev"], id="comma-list"),
        pytest.param("approvers-prod", ["approvers-prod"], id="one-value"),
        pytest.param("[Finance, approvers-staging, Approvers-prod]", [], id="no-stage-group"),
        pytest.param('{"groups": "approvers-prod"}', [], id="unreadable"),
        pytest.param("[operators, Operators-x, Finance]", ["operators"], id="the-operators-group"),
    ],
)
def test_the_trigger_gives_a_federated_user_the_stage_groups_of_the_idps_claim_and_nothing_else(
    trigger: Any, claim: str, groups: list[str], lambda_context: Any
) -> None:
    # Given: a federated user whose Cognito groups (an administrator's) the IdP's claim replaces
    event = _trigger_event(
        {"identities": json.dumps(IDENTITIES), "custom:groups": claim}, groups=["approvers-dev", "admins"]
    )

    # When
    answer = trigger.lambda_handler(event, lambda_context)

    # Then
    details = answer["response"]["claimsOverrideDetails"]
    assert details == {"claimsToSuppress": ["custom:groups"], "groupOverrideDetails": {"groupsToOverride": groups}}
    assert answer["request"] == event["request"] and answer["userName"] == event["userName"]


def test_the_trigger_leaves_a_user_pool_users_groups_and_suppresses_their_custom_groups(
    trigger: Any, lambda_context: Any
) -> None:
    # Given: a user pool user whose custom:groups someone set to a stage group
    event = _trigger_event({"custom:groups": "approvers-prod"}, groups=["approvers-dev"])

    # When
    answer = trigger.lambda_handler(event, lambda_context)

    # Then: Cognito's own groups stand; the attribute never reaches the token
    assert answer["response"]["claimsOverrideDetails"] == {"claimsToSuppress": ["custom:groups"]}


def test_the_trigger_keeps_the_identity_pool_roles_cognito_would_have_sent(trigger: Any, lambda_context: Any) -> None:
    # Given
    event = _trigger_event({"identities": json.dumps(IDENTITIES), "custom:groups": "approvers-dev"})
    event["request"]["groupConfiguration"].update(iamRolesToOverride=["arn:aws:iam::1:role/r"], preferredRole="r")

    # When
    details = trigger.lambda_handler(event, lambda_context)["response"]["claimsOverrideDetails"]

    # Then
    assert details["groupOverrideDetails"] == {
        "groupsToOverride": ["approvers-dev"],
        "iamRolesToOverride": ["arn:aws:iam::1:role/r"],
        "preferredRole": "r",
    }


@pytest.mark.parametrize("event", [{}, {"request": None}, {"request": {"userAttributes": "x"}}])
def test_the_trigger_refuses_an_event_without_user_attributes(trigger: Any, event: Any, lambda_context: Any) -> None:
    # When / Then: a failure fails the sign-in, which is the safe answer
    with pytest.raises(InvalidPayload):
        trigger.lambda_handler(event, lambda_context)


def test_the_trigger_without_its_configuration_fails_with_the_variables_name(
    monkeypatch: pytest.MonkeyPatch, lambda_context: Any
) -> None:
    from model_promotion.handlers import pre_token_generation

    monkeypatch.delenv("APPROVER_GROUP_PREFIX", raising=False)
    pre_token_generation.stage_groups.cache_clear()
    try:
        with pytest.raises(ConfigurationError, match="APPROVER_GROUP_PREFIX"):
            pre_token_generation.lambda_handler(_trigger_event({}), lambda_context)
    finally:
        pre_token_generation.stage_groups.cache_clear()
