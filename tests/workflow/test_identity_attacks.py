"""An ordinary approver account attacks the sign-off, and gains nothing: identity comes only from what
administrators and the IdP control, sessions end, and signing needs a fresh sign-in.

Driven only through public interfaces: the hosted UI and the approval pages over HTTP, the Cognito API as a user
(with her own tokens) and as an administrator, DynamoDB's API to let time pass for a session, and the audit log.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
from botocore.exceptions import ClientError

from embedded_aws.demo_users import DEMO_PASSWORD, OUTSIDER
from embedded_aws.stack import FEDERATED_USER
from stack_helpers import (
    REGISTRANT,
    SESSION_COOKIE,
    age_session,
    browser,
    cognito_username,
    hidden_fields,
    register,
    session_id,
    session_key,
    sign_in,
)

pytestmark = pytest.mark.workflow


# -- helpers: what an attacker does with the hosted UI and the Cognito API ------------------------------------


def hosted_ui_tokens(stack, email: str, scope: str = "openid email profile aws.cognito.signin.user.admin") -> dict:
    """Tokens from the hosted UI for the approval pages' (public) client, the way anyone can get them: run the
    authorization-code flow with PKCE herself, take the code from the redirect, and redeem it."""
    client_id = stack.resources["ApprovalWebClient"]
    callback = f"{stack.parameters['ApprovalBaseUrl']}/auth/callback"
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    session = browser()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": callback,
        "scope": scope,
        "state": "attack",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    form = session.get(f"{stack.api_url}/oauth2/authorize?{urlencode(query)}", timeout=30)
    answer = session.post(
        f"{stack.api_url}/login",
        data={**hidden_fields(form), "username": email, "password": DEMO_PASSWORD},
        allow_redirects=False,
        timeout=30,
    )
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    tokens = session.post(
        f"{stack.api_url}/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "client_id": client_id,
            "code": code,
            "redirect_uri": callback,
            "code_verifier": verifier,
        },
        timeout=30,
    )
    tokens.raise_for_status()
    return tokens.json()


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def error_of(call, **kwargs) -> dict[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]


def new_approver(stack, email: str, name: str, groups: list[str]) -> str:
    """A user the test owns (so changing her harms no other test): verified email, the demo password, in groups."""
    cognito, pool = stack.client("cognito-idp"), stack.resources["ApproverUserPool"]
    cognito.admin_create_user(
        UserPoolId=pool,
        Username=email,
        UserAttributes=[
            {"Name": "email", "Value": email},
            {"Name": "email_verified", "Value": "true"},
            {"Name": "name", "Value": name},
        ],
        MessageAction="SUPPRESS",
    )
    cognito.admin_set_user_password(UserPoolId=pool, Username=email, Password=DEMO_PASSWORD, Permanent=True)
    for group in groups:
        cognito.admin_add_user_to_group(UserPoolId=pool, Username=email, GroupName=group)
    return email


def form_of(page) -> tuple[str, str]:
    """The review page's decision form action and its CSRF token (the first form; sign-out comes after)."""
    action = re.search(r"<form method='post' action='([^']+)'>", page.text)
    csrf = re.search(r"<input type='hidden' name='csrf' value='([^']+)'>", page.text)
    assert action and csrf, page.text[:500]
    return action.group(1), csrf.group(1)


def sign_out_csrf(page) -> str:
    found = re.search(
        r"action='/auth/logout' class='sign-out'><input type='hidden' name='csrf' value='([^']+)'>", page.text
    )
    assert found, page.text[-800:]
    return found.group(1)


# -- identity only administrators and the IdP control --------------------------------------------------------


def test_a_user_cannot_get_a_token_that_lets_her_rewrite_her_own_groups_email_or_name(stack):
    cognito, pool = stack.client("cognito-idp"), stack.resources["ApproverUserPool"]
    client_id = stack.resources["ApprovalWebClient"]
    before = cognito.admin_get_user(UserPoolId=pool, Username=OUTSIDER)["UserAttributes"]

    # Given: a direct sign-in, which would hand her an access token with aws.cognito.signin.user.admin, is refused
    for flow, parameters in (
        ("USER_PASSWORD_AUTH", {"USERNAME": OUTSIDER, "PASSWORD": DEMO_PASSWORD}),
        ("USER_SRP_AUTH", {"USERNAME": OUTSIDER, "SRP_A": "a" * 256}),
    ):
        error = error_of(cognito.initiate_auth, ClientId=client_id, AuthFlow=flow, AuthParameters=parameters)
        assert error["Code"] == "InvalidParameterException" and "not enabled" in error["Message"]

    # When she asks the hosted UI for the admin scope anyway, Then her access token does not carry it
    tokens = hosted_ui_tokens(stack, OUTSIDER)
    assert claims(tokens["access_token"])["scope"].split() == ["openid", "email", "profile"]

    # And with that token, every attempt to change what she is is refused
    for attribute, value in (("custom:groups", "approvers-prod"), ("email", "paul.prod@example.com"), ("name", "P")):
        error = error_of(
            cognito.update_user_attributes,
            AccessToken=tokens["access_token"],
            UserAttributes=[{"Name": attribute, "Value": value}],
        )
        assert (error["Code"], error["Message"]) == (
            "NotAuthorizedException",
            "Access Token does not have required scopes",
        )
    after = cognito.admin_get_user(UserPoolId=pool, Username=OUTSIDER)["UserAttributes"]
    assert after == before
    assert "custom:groups" not in {a["Name"] for a in after}


def test_an_email_change_takes_effect_only_once_the_new_address_is_verified(stack):
    # Given: a user signed in through a client of the pool that does allow a direct sign-in (not the pages')
    cognito, pool = stack.client("cognito-idp"), stack.resources["ApproverUserPool"]
    email = new_approver(stack, "eve.editor@example.com", "Eve Editor", [])
    other = cognito.create_user_pool_client(
        UserPoolId=pool, ClientName="attack-direct", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    tokens = cognito.initiate_auth(
        ClientId=other, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": email, "PASSWORD": DEMO_PASSWORD}
    )["AuthenticationResult"]

    # When she changes her email to a colleague's
    cognito.update_user_attributes(
        AccessToken=tokens["AccessToken"], UserAttributes=[{"Name": "email", "Value": "priya.prod@example.com"}]
    )

    # Then her verified email stays until the new address is confirmed (UserAttributeUpdateSettings)
    user = cognito.admin_get_user(UserPoolId=pool, Username=email)
    assert {a["Name"]: a["Value"] for a in user["UserAttributes"]}["email"] == email


def test_a_groups_attribute_even_an_administrator_sets_grants_nothing_and_never_reaches_a_token(
    stack, promotion_factory
):
    # Given: an administrator writes approvers-dev into the outsider's custom:groups (the attribute only a
    # federated IdP's claim should fill)
    cognito, pool = stack.client("cognito-idp"), stack.resources["ApproverUserPool"]
    cognito.admin_update_user_attributes(
        UserPoolId=pool, Username=OUTSIDER, UserAttributes=[{"Name": "custom:groups", "Value": "approvers-dev"}]
    )
    try:
        promotion = promotion_factory("attack-custom-groups")

        # When she signs in and opens a dev approval
        page = sign_in(stack, OUTSIDER).get(promotion.link("dev"), timeout=30)

        # Then she is refused, and her tokens carry neither the attribute nor any group (the trigger ran)
        assert page.status_code == 403 and "not in the approvers-dev group" in page.text
        id_token = claims(hosted_ui_tokens(stack, OUTSIDER)["id_token"])
        assert "custom:groups" not in id_token and "cognito:groups" not in id_token
        assert not promotion.decisions()
    finally:
        cognito.admin_delete_user_attributes(UserPoolId=pool, Username=OUTSIDER, UserAttributeNames=["custom:groups"])


def test_a_federated_approvers_groups_are_the_stage_groups_of_her_idps_claim(stack, promotion_factory):
    # Given: fran, federated, in no Cognito group; her IdP's claim says [approvers-dev, approvers-test, Finance]
    promotion = promotion_factory("attack-federated")

    # When she signs in
    tokens = hosted_ui_tokens(stack, FEDERATED_USER)
    session = sign_in(stack, FEDERATED_USER)

    # Then her ID token's groups are the claim's stage groups, put there by the pre token generation trigger
    id_token = claims(tokens["id_token"])
    assert id_token["cognito:groups"] == ["approvers-dev", "approvers-test"]
    assert "custom:groups" not in id_token
    assert id_token["identities"][0]["userId"] == FEDERATED_USER

    # And she may decide dev, where those groups say so
    assert session.get(promotion.link("dev"), timeout=30).status_code == 200


def test_the_signature_prints_the_name_the_directory_holds(stack, promotion_factory):
    # Given: an approver whose printed name an administrator set, and who cannot change it herself
    email = new_approver(stack, "nadia.named@example.com", "Nadia N. Named", ["approvers-dev"])
    tokens = hosted_ui_tokens(stack, email)
    error = error_of(
        stack.client("cognito-idp").update_user_attributes,
        AccessToken=tokens["access_token"],
        UserAttributes=[{"Name": "name", "Value": "Priya Prod"}],
    )
    assert error["Code"] == "NotAuthorizedException"
    promotion = promotion_factory("attack-name")

    # When she approves
    session = sign_in(stack, email)
    action, csrf = form_of(session.get(promotion.link("dev"), timeout=30))
    answer = session.post(
        f"{stack.api_url}{action}", data={"decision": "approve", "comment": "named", "csrf": csrf}, timeout=30
    )

    # Then the decision and the audit log carry the directory's name
    assert answer.status_code == 200 and "Nadia N. Named &lt;nadia.named@example.com&gt;" in answer.text
    promotion.approval_email("test")
    [entry] = promotion.audit_entries()
    assert entry["actorName"] == "Nadia N. Named"


# -- the registrant, by immutable identifiers -----------------------------------------------------------------


def test_a_registrant_known_only_by_created_by_is_refused(stack, demo_assets):
    # Given: dana.scientist registers through an IAM Identity Center session named with her Cognito user name,
    # and names somebody else in the RegistrantEmail metadata she writes herself
    promotion = register(
        stack,
        demo_assets,
        "attack-registrant",
        registrant="olive.outsider@example.com",
        registered_as=cognito_username(stack, REGISTRANT),
    )
    assert promotion.describe()["CreatedBy"]["IamIdentity"]["Arn"].endswith(f"/{cognito_username(stack, REGISTRANT)}")

    # When she (a dev approver too) opens the version's dev approval, Then she is refused; a colleague is not
    page = sign_in(stack, REGISTRANT).get(promotion.link("dev"), timeout=30)
    assert page.status_code == 403 and "You registered" in page.text
    assert sign_in(stack, "dana.dev@example.com").get(promotion.link("dev"), timeout=30).status_code == 200


def test_a_federated_registrant_is_refused_by_her_idps_subject(stack, demo_assets):
    # Given: fran registers from her IAM Identity Center session, whose session name is her IdP user name
    promotion = register(stack, demo_assets, "attack-federated-registrant", registered_as=FEDERATED_USER)

    # When she opens the dev approval
    page = sign_in(stack, FEDERATED_USER).get(promotion.link("dev"), timeout=30)

    # Then she is refused as its registrant
    assert page.status_code == 403 and "You registered" in page.text


# -- sessions that can end ---------------------------------------------------------------------------------------


def test_signing_out_ends_the_session_here_and_at_the_hosted_ui(stack, promotion_factory):
    # Given: an approver signed in, on a review page
    promotion = promotion_factory("attack-logout")
    session = sign_in(stack, "dana.dev@example.com")
    page = session.get(promotion.link("dev"), timeout=30)
    stolen = session_id(session)

    # When they press Sign out
    answer = session.post(f"{stack.api_url}/auth/logout", data={"csrf": sign_out_csrf(page)}, timeout=30)

    # Then the hosted UI ended its session too and returned to the signed-out page
    assert answer.status_code == 200 and "signed out" in answer.text
    assert [r.status_code for r in answer.history] == [303, 302]
    assert "/logout?client_id=" in answer.history[1].url

    # And a replay of the old cookie opens nothing
    replay = browser()
    replay.cookies.set(SESSION_COOKIE, stolen)
    assert replay.get(promotion.link("dev"), timeout=30).status_code == 401

    # And the next sign-in in that browser asks for the password again
    again = session.get(f"{stack.api_url}/auth/login?next=/", timeout=30)
    assert "name='password'" in again.text
    assert not promotion.decisions()


def test_a_removal_from_the_group_takes_effect_at_the_next_recheck(stack, promotion_factory):
    # Given: a dev approver on a review page
    email = new_approver(stack, "rita.removed@example.com", "Rita Removed", ["approvers-dev"])
    promotion = promotion_factory("attack-removed")
    session = sign_in(stack, email)
    assert session.get(promotion.link("dev"), timeout=30).status_code == 200

    # When an administrator removes her from approvers-dev, and the recheck interval (5 minutes) passes
    cognito, pool = stack.client("cognito-idp"), stack.resources["ApproverUserPool"]
    cognito.admin_remove_user_from_group(UserPoolId=pool, Username=email, GroupName="approvers-dev")
    age_session(stack, session, 6, "groupsCheckedAt")

    # Then her open session may no longer review or decide
    page = session.get(promotion.link("dev"), timeout=30)
    assert page.status_code == 403 and "not in the approvers-dev group" in page.text


def test_a_disabled_user_is_signed_out_at_the_next_recheck(stack, promotion_factory):
    # Given
    email = new_approver(stack, "dora.disabled@example.com", "Dora Disabled", ["approvers-dev"])
    promotion = promotion_factory("attack-disabled")
    session = sign_in(stack, email)
    key = session_key(session)

    # When an administrator disables her, and the recheck interval passes
    stack.client("cognito-idp").admin_disable_user(UserPoolId=stack.resources["ApproverUserPool"], Username=email)
    age_session(stack, session, 6, "groupsCheckedAt")

    # Then her session is over
    assert session.get(promotion.link("dev"), timeout=30).status_code == 401
    assert "Item" not in stack.client("dynamodb").get_item(TableName=stack.resources["ApprovalsTable"], Key=key)


def test_the_session_holds_no_token_and_is_stored_under_the_hash_of_its_id(stack):
    # When
    session = sign_in(stack, "dana.dev@example.com")

    # Then
    item = stack.client("dynamodb").get_item(TableName=stack.resources["SessionsTable"], Key=session_key(session))[
        "Item"
    ]
    text = json.dumps(item)
    assert session_id(session) not in text
    assert "eyJ" not in text, "no JWT is kept"
    assert item["subject"]["S"] and item["purgeAt"]["N"] and item["authTime"]["N"]


# -- re-authentication at signing -----------------------------------------------------------------------------


def test_a_sign_in_older_than_the_stage_allows_is_sent_to_sign_in_again_and_keeps_its_comment(
    single_stage_stack, demo_assets
):
    # Given: the only stage (the last, so 10 minutes) and its approver, who signed in 11 minutes ago
    stack = single_stage_stack
    promotion = register(stack, demo_assets, "attack-reauth")
    session = sign_in(stack, "dana.dev@example.com")
    link = promotion.link("dev")
    action, csrf = form_of(session.get(link, timeout=30))
    age_session(stack, session, 11, "authTime")

    # When they approve with a comment
    sent = session.post(
        f"{stack.api_url}{action}",
        data={"decision": "approve", "comment": "Checked the holdout metrics", "csrf": csrf},
        timeout=30,
    )

    # Then the hosted UI asks for the password again, although it holds a sign-in session of its own
    assert sent.history and sent.history[0].status_code == 303
    assert "prompt=login" in sent.history[0].headers["Location"]
    assert "Checked" not in sent.history[0].headers["Location"]
    assert "name='password'" in sent.text
    assert not promotion.decisions()

    # When they sign in, Then they are back on the review page with the comment, and nothing is signed yet
    back = session.post(
        f"{stack.api_url}/login",
        data={**hidden_fields(sent), "username": "dana.dev@example.com", "password": DEMO_PASSWORD},
        timeout=30,
    )
    assert back.url == link and back.status_code == 200
    assert ">Checked the holdout metrics</textarea>" in back.text and "press Approve again" in back.text
    assert not promotion.decisions()

    # When they press Approve, Then it is signed
    action, csrf = form_of(back)
    decided = session.post(
        f"{stack.api_url}{action}",
        data={"decision": "approve", "comment": "Checked the holdout metrics", "csrf": csrf},
        timeout=30,
    )
    assert decided.status_code == 200 and "Recorded: approved" in decided.text
    assert promotion.finish()["status"] == "SUCCEEDED"
    [entry] = promotion.audit_entries()
    assert entry["comment"] == "Checked the holdout metrics"


def test_a_fresh_sign_in_signs_the_last_stage_at_once(single_stage_stack, demo_assets):
    # Given
    promotion = register(single_stage_stack, demo_assets, "attack-fresh")

    # When the approver, signed in a moment ago, approves
    answer = single_stage_stack.decide(promotion.link("dev"), "approve", "fresh", as_user="dana.dev@example.com")

    # Then
    assert answer.status_code == 200 and "Recorded: approved" in answer.text
