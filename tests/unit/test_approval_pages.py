"""The approval pages over HTTP, end to end with fakes: sign-in, server-side sessions, sign-out, re-authentication
at signing, CSRF and origin checks, then the decision."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import EllipsisType
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
from builders import (
    APPROVAL_API_ENV,
    APPROVAL_ENV,
    EXECUTION_NAME,
    GROUP,
    PACKAGE_ARN,
    REGISTERED_BY,
    REGISTRANT,
    REQUESTED_AT_TIME,
    TASK_TOKEN,
    VERSION,
    approval_payload,
    approver_claims,
    model_version,
)
from fakes import (
    Clock,
    FakeApprovalStore,
    FakeApprovedModels,
    FakeDirectory,
    FakeExecutionHistory,
    FakeMailer,
    FakeSessionStore,
    FakeSigner,
    FakeSignIn,
    FakeWorkflow,
    s256,
)

from model_promotion.config import ApprovalApiSettings, ApprovalRequestSettings
from model_promotion.domain.approvals import RequestStatus, request_key
from model_promotion.domain.identity import approver_from_claims
from model_promotion.domain.web_security import Session, csrf_token, digest_of
from model_promotion.handlers._http import SECURITY_HEADERS, http_request, http_response
from model_promotion.ports import DirectoryEntry
from model_promotion.services.approval_web import (
    BODY_MAX,
    LOGIN_COOKIE,
    LOGOUT_PURPOSE,
    SESSION_COOKIE,
    ApprovalPages,
    HttpRequest,
    HttpResponse,
)
from model_promotion.services.approvals import request_approval

SETTINGS = ApprovalApiSettings.from_environ(APPROVAL_API_ENV)
# Signing for test needs a sign-in at most 10 minutes old (the default asks it of prod only).
REAUTH_SETTINGS = ApprovalApiSettings.from_environ({**APPROVAL_API_ENV, "SIGNING_REAUTH_MINUTES": "test=10"})
REQUEST_SETTINGS = ApprovalRequestSettings.from_environ(APPROVAL_ENV)
HTTPS = "https://abc123.execute-api.eu-west-1.amazonaws.com"
HTTP = "http://127.0.0.1:3000"
NOW = REQUESTED_AT_TIME + timedelta(hours=2)
SESSION_ENDS = NOW + timedelta(minutes=50)
SIGNED_IN_AT = (NOW - timedelta(minutes=2)).replace(microsecond=0)
TEST_KEY = request_key(EXECUTION_NAME, "test")
UNKNOWN_ID = "U" * 32
FORM = "application/x-www-form-urlencoded"


def _claims(email: str, groups: tuple[str, ...], **extra: Any) -> dict[str, Any]:
    """A verified ID token's claims: a user pool user with a verified email, signed in SIGNED_IN_AT."""
    claims = {"email_verified": True, "auth_time": int(SIGNED_IN_AT.timestamp()), **extra}
    return approver_claims(email, groups=groups, exp=SESSION_ENDS, **claims)


# The fake hosted UI's ID tokens, and the session ids of browsers already signed in (sessions of the same names).
LEAD = "id-token-of-qa-lead"
DEPUTY = "id-token-of-qa-deputy"
OUTSIDER = "id-token-of-a-dev-approver"
REGISTRANT_TOKEN = "id-token-of-the-registrant"
EXPIRED = "id-token-that-expired"
NO_SUBJECT = "id-token-without-a-subject"
TOKENS = {
    LEAD: _claims("qa.lead@example.com", ("approvers-test",)),
    DEPUTY: _claims("qa.deputy@example.com", ("approvers-test",)),
    OUTSIDER: _claims("dev.lead@example.com", ("approvers-dev",)),
    # The registrant's Cognito user name is the SageMaker Studio user profile name CreatedBy names.
    REGISTRANT_TOKEN: _claims(REGISTRANT, ("approvers-test",), username=REGISTERED_BY),
    EXPIRED: {
        **_claims("qa.lead@example.com", ("approvers-test",)),
        "exp": int((NOW - timedelta(seconds=1)).timestamp()),
    },
    NO_SUBJECT: {**_claims("qa.lead@example.com", ("approvers-test",)), "sub": ""},
}
# What the signed-out page may not reveal: anything about the model, the request or its approvers.
MODEL_FACTS = (GROUP, PACKAGE_ARN, "version", "Version", "qa.lead", "qa.deputy", "dana", "0.9123", "test", "expires")


@dataclass(frozen=True)
class SetCookie:
    name: str
    value: str
    attributes: dict[str, str]  # lower-case names; flags map to ""


def _set_cookies(response: HttpResponse) -> dict[str, SetCookie]:
    cookies: dict[str, SetCookie] = {}
    for header in response.cookies:
        pair, *attributes = (part.strip() for part in header.split(";"))
        name, _, value = pair.partition("=")
        parsed = {}
        for attribute in attributes:
            key, _, attribute_value = attribute.partition("=")
            parsed[key.lower()] = attribute_value
        assert name not in cookies, f"{name} set twice"
        cookies[name] = SetCookie(name, value, parsed)
    return cookies


@dataclass
class Site:
    """One browser against the approval pages; the request for stage test was mailed to the two QA approvers.

    Browsers named LEAD, DEPUTY, OUTSIDER, REGISTRANT_TOKEN and EXPIRED are signed in already: their session
    cookie holds that name, and the session store a session for it (EXPIRED's has ended)."""

    pages: ApprovalPages
    store: FakeApprovalStore
    workflow: FakeWorkflow
    sign_in: FakeSignIn
    ids: dict[str, str]  # recipient -> approval id
    sessions: FakeSessionStore = field(default_factory=FakeSessionStore)
    directory: FakeDirectory = field(default_factory=FakeDirectory)
    clock: Clock = field(default_factory=lambda: Clock(NOW))

    @property
    def lead_id(self) -> str:
        return self.ids["qa.lead@example.com"]

    @property
    def deputy_id(self) -> str:
        return self.ids["qa.deputy@example.com"]

    def session_of(self, session_id: str) -> Session | None:
        return self.sessions.get(digest_of(session_id))

    def request(
        self,
        method: str,
        path: str,
        *,
        session: str | None = None,
        cookies: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: str = "",
        base_url: str = HTTPS,
    ) -> HttpResponse:
        jar = dict(cookies or {})
        if session is not None:
            jar[SESSION_COOKIE] = session
        return self.pages.handle(
            HttpRequest(
                method=method,
                path=path,
                query=dict(query or {}),
                headers=dict(headers or {}),
                cookies=jar,
                body=body,
                base_url=base_url,
            )
        )

    def get(self, path: str, **kwargs: Any) -> HttpResponse:
        return self.request("GET", path, **kwargs)

    def post(
        self,
        path: str,
        fields: Mapping[str, str],
        *,
        session: str | None,
        headers: Mapping[str, str | None] | None = None,
        base_url: str = HTTPS,
    ) -> HttpResponse:
        """A form post from our own pages (same-origin fetch metadata), unless told otherwise; None drops a header."""
        wanted: dict[str, str | None] = {"content-type": FORM, "sec-fetch-site": "same-origin", "origin": base_url}
        wanted.update(headers or {})
        sent_headers = {k: v for k, v in wanted.items() if v is not None}
        return self.request(
            "POST", path, session=session, headers=sent_headers, body=urlencode(dict(fields)), base_url=base_url
        )

    def post_decision(
        self,
        approval_id: str,
        form: Mapping[str, str] | None = None,
        *,
        session: str = LEAD,
        csrf: str | EllipsisType | None = ...,
        headers: Mapping[str, str | None] | None = None,
        base_url: str = HTTPS,
    ) -> HttpResponse:
        """A post from the review page: same-origin fetch metadata and this session's token, unless told otherwise.

        A header given as None is left out; csrf=None leaves the field out.
        """
        fields = dict(form or {"decision": "approve", "comment": ""})
        if isinstance(csrf, EllipsisType):
            csrf = csrf_token(session, approval_id)
        if csrf is not None:
            fields = {"csrf": csrf, **fields}
        return self.post(f"/approvals/{approval_id}", fields, session=session, headers=headers, base_url=base_url)


def _session(token: str, *, authenticated_at: datetime = SIGNED_IN_AT, ends: datetime | None = None) -> Session:
    session = Session.start(
        digest_of(token),
        approver_from_claims(TOKENS[token]),
        authenticated_at,
        NOW,
        timedelta(minutes=SETTINGS.session_idle_minutes),
        timedelta(minutes=SETTINGS.session_max_minutes),
    )
    return session if ends is None else replace(session, idle_expires_at=ends, expires_at=ends)


def _site(settings: ApprovalApiSettings = SETTINGS, model: Any = None) -> Site:
    store, mailer, workflow = FakeApprovalStore(), FakeMailer(), FakeWorkflow()
    payload = approval_payload("test") if model is None else approval_payload("test", model=model.to_payload())
    request_approval(
        payload,
        settings=REQUEST_SETTINGS,
        store=store,
        mailer=mailer,
        history=FakeExecutionHistory(),
        approved_models=FakeApprovedModels(),
    )
    ids = {}
    for email in mailer.sent:
        [approval_id] = re.findall(r"/approvals/([A-Za-z0-9_-]{32})", email.text)
        ids[email.to[0]] = approval_id
    clock = Clock(NOW)
    sign_in = FakeSignIn(TOKENS, clock=clock)
    sessions, directory = FakeSessionStore(), FakeDirectory()
    for token in (LEAD, DEPUTY, OUTSIDER, REGISTRANT_TOKEN):
        sessions.save(_session(token), new=True)
        claims = TOKENS[token]
        directory.users[claims["cognito:username"]] = DirectoryEntry(True, frozenset(claims["cognito:groups"]))
    sessions.save(_session(EXPIRED, ends=NOW - timedelta(seconds=1)), new=True)
    pages = ApprovalPages(
        settings,
        store=store,
        workflow=workflow,
        sign_in=sign_in,
        signer=FakeSigner(),
        sessions=sessions,
        directory=directory,
        clock=clock,
    )
    return Site(pages, store, workflow, sign_in, ids, sessions, directory, clock)


@pytest.fixture
def site() -> Site:
    return _site()


def _login(site: Site, next_path: str | None, base_url: str = HTTPS) -> tuple[HttpResponse, SetCookie]:
    response = site.get("/auth/login", query={} if next_path is None else {"next": next_path}, base_url=base_url)
    return response, _set_cookies(response)[LOGIN_COOKIE]


def _query_of(location: str | None) -> dict[str, str]:
    assert location is not None
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _callback(site: Site, login: HttpResponse, token: str, **kwargs: Any) -> HttpResponse:
    """The hosted UI signs the person in as `token` for the login that sent the browser there, and the browser
    comes back with its code."""
    cookie = _set_cookies(login)[LOGIN_COOKIE]
    hosted_ui = _query_of(login.location)
    site.sign_in.grant("code-1", token, challenge=hosted_ui["code_challenge"])
    return site.get(
        "/auth/callback",
        query={"code": "code-1", "state": hosted_ui["state"]},
        cookies={LOGIN_COOKIE: cookie.value},
        **kwargs,
    )


def _sign_in(site: Site, token: str, next_path: str | None = None, base_url: str = HTTPS) -> HttpResponse:
    """The whole round trip: login redirect, the hosted UI grants a code for `token`, the callback."""
    login, _ = _login(site, next_path, base_url)
    return _callback(site, login, token, base_url=base_url)


def _new_session(response: HttpResponse) -> str:
    return _set_cookies(response)[SESSION_COOKIE].value


def _unchanged(site: Site) -> Callable[[], None]:
    before = site.store.snapshot()

    def check() -> None:
        assert site.store.snapshot() == before
        assert site.workflow.sends == 0

    return check


# /auth/login


def test_login_redirects_to_the_hosted_ui_with_state_and_the_s256_challenge_of_the_cookies_verifier(
    site: Site,
) -> None:
    # When
    response, cookie = _login(site, f"/approvals/{site.lead_id}")

    # Then
    assert response.status == 302
    assert response.location is not None
    assert response.location.startswith(f"{FakeSignIn.HOSTED_UI}/oauth2/authorize?")
    state, verifier, encoded_next = cookie.value.split(".")
    query = _query_of(response.location)
    assert query["state"] == state
    assert query["code_challenge"] == s256(verifier)
    assert query["code_challenge_method"] == "S256"
    assert query["redirect_uri"] == f"{HTTPS}/auth/callback"
    assert "prompt" not in query, "a first sign-in may use the hosted UI's own sign-in session"
    assert verifier not in response.location
    assert re.fullmatch(r"[A-Za-z0-9_-]{43,128}", verifier), "RFC 7636: 43 to 128 unreserved characters"
    assert len(state) >= 22
    assert base64.urlsafe_b64decode(encoded_next + "=" * (-len(encoded_next) % 4)).decode() == (
        f"/approvals/{site.lead_id}"
    )


@pytest.mark.parametrize("base_url", [HTTPS, HTTP])
def test_the_login_cookie_is_a_short_lived_secure_http_only_lax_host_cookie_over_https_and_plain_http(
    site: Site, base_url: str
) -> None:
    # When
    response, cookie = _login(site, "/", base_url=base_url)

    # Then: Secure even over http (browsers keep Secure cookies on http://localhost and http://127.0.0.1)
    assert cookie.name.startswith("__Host-")
    assert cookie.attributes == {"max-age": "600", "path": "/", "secure": "", "httponly": "", "samesite": "Lax"}
    assert _query_of(response.location)["redirect_uri"] == f"{base_url}/auth/callback"


def test_every_login_starts_a_fresh_state_and_verifier(site: Site) -> None:
    # When
    attempts = [_login(site, "/")[1].value.split(".")[:2] for _ in range(3)]

    # Then
    assert len({state for state, _ in attempts}) == 3
    assert len({verifier for _, verifier in attempts}) == 3


# /auth/callback


@pytest.mark.parametrize("base_url", [HTTPS, HTTP])
def test_a_callback_starts_a_server_side_session_under_a_new_random_id_in_a_host_cookie(
    site: Site, base_url: str
) -> None:
    # When
    response = _sign_in(site, LEAD, f"/approvals/{site.lead_id}", base_url=base_url)

    # Then: back to the approval, with an opaque 256-bit id in a __Host- cookie that lives as long as the session
    assert response.status == 303
    assert response.location == f"/approvals/{site.lead_id}"
    cookies = _set_cookies(response)
    session_id = cookies[SESSION_COOKIE].value
    assert SESSION_COOKIE.startswith("__Host-")
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", session_id) and session_id != LEAD
    assert cookies[SESSION_COOKIE].attributes == {
        "max-age": str(SETTINGS.session_max_minutes * 60),
        "path": "/",
        "secure": "",
        "httponly": "",
        "samesite": "Lax",
    }
    assert cookies[LOGIN_COOKIE].value == "" and cookies[LOGIN_COOKIE].attributes["max-age"] == "0"

    # And the store keeps the verified identity under the id's SHA-256, never the id or the ID token
    session = site.session_of(session_id)
    assert session is not None
    assert session.digest == digest_of(session_id) and session_id not in site.sessions.sessions
    assert LEAD not in repr(session) and session_id not in repr(session)
    assert session.approver.subject == TOKENS[LEAD]["sub"]
    assert session.approver.groups == frozenset({"approvers-test"})
    assert session.authenticated_at == SIGNED_IN_AT
    assert session.idle_expires_at == NOW + timedelta(minutes=SETTINGS.session_idle_minutes)
    assert session.expires_at == NOW + timedelta(minutes=SETTINGS.session_max_minutes)

    # And the new session opens the review page
    assert site.get(f"/approvals/{site.lead_id}", session=session_id).status == 200


def test_a_sign_in_ends_the_browsers_previous_session(site: Site) -> None:
    # Given: this browser is signed in as the deputy, and starts a sign-in
    login, _ = _login(site, "/")

    # When: the lead signs in from it
    response = _callback(site, login, LEAD, session=DEPUTY)

    # Then: the deputy's session is over; the browser holds only the lead's new one
    assert response.status == 303
    assert site.session_of(DEPUTY) is None
    assert site.session_of(_new_session(response)).approver.email == "qa.lead@example.com"


def test_the_callback_exchanges_the_code_with_the_cookies_verifier_and_the_same_redirect_uri(site: Site) -> None:
    # Given
    _, cookie = _login(site, "/")
    state, verifier, _ = cookie.value.split(".")
    site.sign_in.grant("the-code", LEAD, challenge=s256(verifier))

    # When
    site.get("/auth/callback", query={"code": "the-code", "state": state}, cookies={LOGIN_COOKIE: cookie.value})

    # Then
    [exchange] = site.sign_in.exchanges
    assert (exchange.code, exchange.verifier, exchange.redirect_uri) == ("the-code", verifier, f"{HTTPS}/auth/callback")
    assert site.sign_in.verified == [LEAD]


@pytest.mark.parametrize(
    ("query", "send_cookie"),
    [
        pytest.param({"code": "code-1", "state": "someone-elses-state"}, True, id="wrong-state"),
        pytest.param({"code": "code-1"}, True, id="no-state"),
        pytest.param({"code": "code-1", "state": ""}, True, id="empty-state"),
        pytest.param({"state": None}, True, id="no-code"),
        pytest.param({"code": "code-1", "state": None}, False, id="no-login-cookie"),
    ],
)
def test_a_callback_that_does_not_match_this_browsers_login_is_refused_without_a_session(
    site: Site, query: dict[str, Any], send_cookie: bool
) -> None:
    # Given
    _, cookie = _login(site, f"/approvals/{site.lead_id}")
    state = cookie.value.split(".")[0]
    site.sign_in.grant("code-1", LEAD)
    query = {k: (state if v is None else v) for k, v in query.items()}
    sessions_before = dict(site.sessions.sessions)

    # When
    response = site.get("/auth/callback", query=query, cookies={LOGIN_COOKIE: cookie.value} if send_cookie else {})

    # Then
    assert response.status == 400
    assert "Sign-in expired" in response.html
    assert SESSION_COOKIE not in _set_cookies(response)
    assert response.location is None
    assert site.sign_in.exchanges == []
    assert site.sessions.sessions == sessions_before


@pytest.mark.parametrize(
    "cookie_value", ["", "garbled", "st.ver", "st.ver.Lw.x", "st.ver.\u00e9", "st.ver.gA", "st.ver._-_-"]
)
def test_a_garbled_login_cookie_is_refused_without_a_session(site: Site, cookie_value: str) -> None:
    # When
    response = site.get("/auth/callback", query={"code": "code-1", "state": "st"}, cookies={LOGIN_COOKIE: cookie_value})

    # Then
    assert response.status == 400
    assert SESSION_COOKIE not in _set_cookies(response)
    assert site.sign_in.exchanges == []


def test_a_cancelled_sign_in_is_unauthorized_without_a_session(site: Site) -> None:
    # Given
    _, cookie = _login(site, "/")

    # When
    response = site.get(
        "/auth/callback",
        query={"error": "access_denied", "state": cookie.value.split(".")[0]},
        cookies={LOGIN_COOKIE: cookie.value},
    )

    # Then
    assert response.status == 401
    assert SESSION_COOKIE not in _set_cookies(response)
    assert site.sign_in.exchanges == []


def test_a_refused_code_is_unauthorized_without_a_session(site: Site) -> None:
    # Given: the hosted UI never granted this code
    _, cookie = _login(site, "/")

    # When
    response = site.get(
        "/auth/callback",
        query={"code": "forged", "state": cookie.value.split(".")[0]},
        cookies={LOGIN_COOKIE: cookie.value},
    )

    # Then
    assert response.status == 401
    assert "Sign-in failed" in response.html
    assert SESSION_COOKIE not in _set_cookies(response)


def test_a_code_cannot_be_redeemed_with_another_verifier(site: Site) -> None:
    # Given: a code bound to this login's challenge, and a cookie whose verifier was swapped
    _, cookie = _login(site, "/")
    state, verifier, encoded_next = cookie.value.split(".")
    site.sign_in.grant("code-1", LEAD, challenge=s256(verifier))
    swapped = f"{state}.{'x' * 64}.{encoded_next}"

    # When
    response = site.get("/auth/callback", query={"code": "code-1", "state": state}, cookies={LOGIN_COOKIE: swapped})

    # Then
    assert response.status == 401
    assert SESSION_COOKIE not in _set_cookies(response)


def test_a_callback_whose_token_does_not_verify_is_unauthorized_without_a_session(site: Site) -> None:
    # Given: the token endpoint answers with a token that fails verification (expired)
    _, cookie = _login(site, "/")
    state, verifier, _ = cookie.value.split(".")
    site.sign_in.grant("code-1", EXPIRED, challenge=s256(verifier))

    # When
    response = site.get(
        "/auth/callback", query={"code": "code-1", "state": state}, cookies={LOGIN_COOKIE: cookie.value}
    )

    # Then
    assert response.status == 401
    assert SESSION_COOKIE not in _set_cookies(response)


@pytest.mark.parametrize("verified", [False, "false", None], ids=["false", "string-false", "absent"])
def test_a_user_pool_user_whose_email_is_not_verified_is_refused_with_a_clear_page_and_no_session(
    site: Site, verified: Any
) -> None:
    # Given: an ID token whose email_verified is not true
    claims = _claims("new.address@example.com", ("approvers-test",))
    claims.pop("email_verified")
    if verified is not None:
        claims["email_verified"] = verified
    site.sign_in.tokens["unverified"] = claims

    # When
    response = _sign_in(site, "unverified", f"/approvals/{site.lead_id}")

    # Then
    assert response.status == 403
    assert "Email address not verified" in response.html and "new.address@example.com" in response.html
    assert SESSION_COOKIE not in _set_cookies(response)


def test_a_federated_users_email_is_the_idps_and_needs_no_email_verified(site: Site) -> None:
    # Given: a SAML user, whose email_verified Cognito leaves false
    claims = _claims("fay.federated@corp.example", ("approvers-test",), email_verified=False)
    claims["identities"] = [{"providerName": "Corporate", "userId": "fay@corp.example", "providerType": "SAML"}]
    site.sign_in.tokens["federated"] = claims

    # When
    response = _sign_in(site, "federated", f"/approvals/{site.lead_id}")

    # Then
    assert response.status == 303
    session = site.session_of(_new_session(response))
    assert session.approver.identity_source == "Corporate"
    assert "fay@corp.example" in session.approver.identifiers


@pytest.mark.parametrize(
    "next_path",
    [
        pytest.param("//evil.example", id="protocol-relative"),
        pytest.param("https://evil.example", id="absolute-url"),
        pytest.param("https://evil.example/approvals/abc", id="absolute-url-with-approval-path"),
        pytest.param("/\\evil.example", id="backslash"),
        pytest.param("javascript:alert(1)", id="javascript"),
        pytest.param("/approvals/../auth/logout", id="dot-dot"),
        pytest.param("/approvals/abc?next=//evil.example", id="query"),
        pytest.param("/approvals/abc/extra", id="deeper-path"),
        pytest.param("/approvals/" + "a" * 65, id="id-too-long"),
        pytest.param("/approvals/", id="no-id"),
        pytest.param("", id="empty"),
        pytest.param(None, id="no-next"),
    ],
)
def test_after_sign_in_only_an_approval_page_is_a_destination_anything_else_goes_home(
    site: Site, next_path: str | None
) -> None:
    # When
    response = _sign_in(site, LEAD, next_path)

    # Then
    assert response.status == 303
    assert response.location == "/"


def test_a_login_cookie_tampered_to_send_the_browser_elsewhere_goes_home(site: Site) -> None:
    # Given: the next path inside the login cookie was rewritten to another site
    _, cookie = _login(site, f"/approvals/{site.lead_id}")
    state, verifier, _ = cookie.value.split(".")
    evil = base64.urlsafe_b64encode(b"//evil.example/approvals/x").decode().rstrip("=")
    site.sign_in.grant("code-1", LEAD, challenge=s256(verifier))

    # When
    response = site.get(
        "/auth/callback",
        query={"code": "code-1", "state": state},
        cookies={LOGIN_COOKIE: f"{state}.{verifier}.{evil}"},
    )

    # Then
    assert response.status == 303
    assert response.location == "/"


@pytest.mark.parametrize("garbled_next", ["%%%", "", "!!"])
def test_a_login_cookie_whose_return_path_is_unreadable_still_signs_in_and_goes_home(
    site: Site, garbled_next: str
) -> None:
    # Given
    _, cookie = _login(site, f"/approvals/{site.lead_id}")
    state, verifier, _ = cookie.value.split(".")
    site.sign_in.grant("code-1", LEAD, challenge=s256(verifier))

    # When
    response = site.get(
        "/auth/callback",
        query={"code": "code-1", "state": state},
        cookies={LOGIN_COOKIE: f"{state}.{verifier}.{garbled_next}"},
    )

    # Then
    assert response.status == 303
    assert response.location == "/"
    assert site.session_of(_new_session(response)) is not None


def test_a_next_path_with_a_trailing_newline_goes_home(site: Site) -> None:
    # When
    response = _sign_in(site, LEAD, f"/approvals/{site.lead_id}\n")

    # Then
    assert response.location == "/"


# sign-out


def _logout(site: Site, session: str | None, **kwargs: Any) -> HttpResponse:
    csrf = kwargs.pop("csrf", csrf_token(session or "", LOGOUT_PURPOSE))
    fields = {} if csrf is None else {"csrf": csrf}
    return site.post("/auth/logout", fields, session=session, **kwargs)


def test_every_signed_in_page_names_who_is_signed_in_with_a_not_you_sign_out(site: Site) -> None:
    page = site.get(f"/approvals/{site.lead_id}", session=LEAD)

    form = page.html.split("class='sign-out'>")[1]
    assert "Signed in as Qa Lead &lt;qa.lead@example.com&gt;. Not you? <button type='submit'>Sign out</button>" in form


def test_signing_out_ends_the_session_here_and_at_the_hosted_ui_and_the_old_cookie_opens_nothing(site: Site) -> None:
    # When the lead presses Sign out
    response = _logout(site, LEAD)

    # Then the session is gone, the cookie cleared, and the browser goes on to end the hosted UI's session
    assert response.status == 303
    assert response.location == (
        f"{FakeSignIn.HOSTED_UI}/logout?client_id=fake-client&logout_uri={quote(HTTPS + '/auth/signed-out', safe='')}"
    )
    cleared = _set_cookies(response)[SESSION_COOKIE]
    assert (cleared.value, cleared.attributes["max-age"]) == ("", "0")
    assert site.session_of(LEAD) is None

    # And a replay of the old cookie gets the sign-in page, for a review and for a decision alike
    assert site.get(f"/approvals/{site.lead_id}", session=LEAD).status == 401
    assert site.post_decision(site.lead_id, session=LEAD).status == 401
    assert site.workflow.sends == 0

    # And the hosted UI returns to a page that says so
    signed_out = site.get("/auth/signed-out")
    assert signed_out.status == 200 and "signed out" in signed_out.html


@pytest.mark.parametrize(
    "forgery",
    [
        pytest.param({"csrf": None}, id="no-csrf"),
        pytest.param({"csrf": csrf_token(DEPUTY, LOGOUT_PURPOSE)}, id="another-sessions-csrf"),
        pytest.param({"csrf": "x"}, id="garbled-csrf"),
        pytest.param({"headers": {"sec-fetch-site": "cross-site"}}, id="cross-site"),
    ],
)
def test_a_forged_sign_out_is_refused_and_the_session_lives_on(site: Site, forgery: dict[str, Any]) -> None:
    # When
    response = _logout(site, LEAD, **forgery)

    # Then
    assert response.status == 403
    assert site.session_of(LEAD) is not None
    assert SESSION_COOKIE not in _set_cookies(response)


def test_a_sign_out_without_a_session_still_ends_the_hosted_uis(site: Site) -> None:
    # When
    response = _logout(site, None)

    # Then
    assert response.status == 303
    assert response.location is not None and response.location.startswith(f"{FakeSignIn.HOSTED_UI}/logout?")


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_opening_the_sign_out_page_signs_nobody_out_and_offers_the_button(site: Site, method: str) -> None:
    # When
    response = site.request(method, "/auth/logout", session=LEAD)

    # Then
    assert response.status == 200
    assert site.session_of(LEAD) is not None
    assert f"name='csrf' value='{csrf_token(LEAD, LOGOUT_PURPOSE)}'" in response.html
    assert "<form method='post' action='/auth/logout'" in response.html


def test_every_signed_in_page_carries_a_sign_out_button_after_the_decision_form(site: Site) -> None:
    # When
    review = site.get(f"/approvals/{site.lead_id}", session=LEAD)
    refused = site.get(f"/approvals/{site.lead_id}", session=OUTSIDER)

    # Then
    for page, session in ((review, LEAD), (refused, OUTSIDER)):
        assert f"name='csrf' value='{csrf_token(session, LOGOUT_PURPOSE)}'" in page.html
    assert review.html.index(f"action='/approvals/{site.lead_id}'") < review.html.index("action='/auth/logout'")


# /approvals/<id> without a valid session


def _signed_out_html(response: HttpResponse, approval_id: str) -> str:
    """The page with its own id taken out: the only thing allowed to differ between ids is the return path."""
    return response.html.replace(quote(f"/approvals/{approval_id}", safe=""), "/approvals/ID")


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
def test_without_a_session_every_id_known_or_not_gets_the_same_sign_in_page_without_model_facts(
    site: Site, method: str
) -> None:
    # Given
    unchanged = _unchanged(site)
    ids = [site.lead_id, site.deputy_id, UNKNOWN_ID, "garbled"]
    headers = {"content-type": FORM, "origin": HTTPS, "sec-fetch-site": "same-origin"} if method == "POST" else {}

    # When
    responses = {
        approval_id: site.request(method, f"/approvals/{approval_id}", headers=headers, body="decision=approve&csrf=x")
        for approval_id in ids
    }

    # Then
    pages = {_signed_out_html(response, approval_id) for approval_id, response in responses.items()}
    assert len(pages) == 1
    for approval_id, response in responses.items():
        assert response.status == 401
        assert response.cookies == ()
        assert response.location is None
        assert f"/auth/login?next=%2Fapprovals%2F{approval_id}" in response.html
        page = _signed_out_html(response, approval_id)
        for fact in MODEL_FACTS:
            assert fact not in page, fact
        assert "csrf" not in page
    unchanged()


@pytest.mark.parametrize(
    "session",
    [
        pytest.param(EXPIRED, id="ended"),
        pytest.param("forged.jwt.value", id="unknown"),
        pytest.param(LEAD.upper(), id="another-case"),
        pytest.param("", id="empty"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_unknown_or_ended_session_gets_the_sign_in_page_and_the_cookie_is_cleared(
    site: Site, session: str, method: str
) -> None:
    # Given
    unchanged = _unchanged(site)
    known = site.request(method, f"/approvals/{site.lead_id}")

    # When
    response = site.request(
        method,
        f"/approvals/{site.lead_id}",
        session=session,
        headers={"content-type": FORM},
        body=urlencode({"csrf": csrf_token(session, site.lead_id), "decision": "approve"}),
    )

    # Then
    assert response.status == 401
    assert response.html == known.html
    cleared = _set_cookies(response)[SESSION_COOKIE]
    assert cleared.value == ""
    assert cleared.attributes["max-age"] == "0"
    assert cleared.attributes["path"] == "/"
    unchanged()
    if session == EXPIRED:
        assert site.session_of(EXPIRED) is None, "an ended session is deleted when it is next presented"


def test_a_session_unused_for_longer_than_the_idle_limit_ends(site: Site) -> None:
    # Given: the lead's session, unused past its idle limit
    site.clock.advance(minutes=SETTINGS.session_idle_minutes, seconds=1)

    # When
    response = site.get(f"/approvals/{site.lead_id}", session=LEAD)

    # Then
    assert response.status == 401
    assert site.session_of(LEAD) is None


def test_a_session_in_use_ends_at_its_absolute_limit_all_the_same(site: Site) -> None:
    # Given: the lead opens the page every 20 minutes (inside the idle limit) from sign-in on
    step = SETTINGS.session_idle_minutes - 10
    for _ in range(SETTINGS.session_max_minutes // step - 1):
        site.clock.advance(minutes=step)
        assert site.get(f"/approvals/{site.lead_id}", session=LEAD).status == 200

    # When the absolute limit passes
    site.clock.now = NOW + timedelta(minutes=SETTINGS.session_max_minutes)

    # Then
    assert site.get(f"/approvals/{site.lead_id}", session=LEAD).status == 401


def test_last_seen_is_written_at_most_once_a_minute(site: Site) -> None:
    # Given
    site.clock.advance(minutes=2)
    saved = site.sessions.saved

    # When: five page views within half a minute
    for _ in range(5):
        site.get(f"/approvals/{site.lead_id}", session=LEAD)
        site.clock.advance(seconds=5)

    # Then
    assert site.sessions.saved == saved + 1
    assert site.session_of(LEAD).last_seen_at == NOW + timedelta(minutes=2)


# the directory: groups re-read every few minutes


def test_a_removal_from_the_stage_group_takes_effect_at_the_next_recheck() -> None:
    # Given: groups are re-read every minute, and an administrator removes the lead from approvers-test
    site = _site(ApprovalApiSettings.from_environ({**APPROVAL_API_ENV, "GROUPS_RECHECK_MINUTES": "1"}))
    site.directory.users["qa.lead@example.com"] = DirectoryEntry(True, frozenset())

    # When: before the recheck is due, and after
    site.clock.advance(seconds=50)
    before = site.get(f"/approvals/{site.lead_id}", session=LEAD)
    site.clock.advance(seconds=15)
    after = site.get(f"/approvals/{site.lead_id}", session=LEAD)
    decided = site.post_decision(site.lead_id, {"decision": "approve", "comment": "still me"})

    # Then: the page is refused from the recheck on, and nothing is decided
    assert before.status == 200
    assert after.status == 403 and "not in the approvers-test group" in after.html
    assert decided.status == 403
    assert site.workflow.sends == 0
    assert site.directory.lookups == ["qa.lead@example.com"]
    assert site.session_of(LEAD).approver.groups == frozenset()


def test_groups_added_in_the_directory_count_at_the_next_recheck(site: Site) -> None:
    # Given: the dev approver is added to approvers-test
    site.directory.users["dev.lead@example.com"] = DirectoryEntry(True, frozenset({"approvers-dev", "approvers-test"}))
    assert site.get(f"/approvals/{site.lead_id}", session=OUTSIDER).status == 403

    # When
    site.clock.advance(minutes=SETTINGS.groups_recheck_minutes)

    # Then
    assert site.get(f"/approvals/{site.lead_id}", session=OUTSIDER).status == 200


@pytest.mark.parametrize(
    "entry", [None, DirectoryEntry(False, frozenset({"approvers-test"}))], ids=["deleted", "disabled"]
)
def test_a_deleted_or_disabled_user_is_signed_out_at_the_next_recheck(site: Site, entry: DirectoryEntry | None) -> None:
    # Given
    if entry is None:
        del site.directory.users["qa.lead@example.com"]
    else:
        site.directory.users["qa.lead@example.com"] = entry
    site.clock.advance(minutes=SETTINGS.groups_recheck_minutes)

    # When
    response = site.get(f"/approvals/{site.lead_id}", session=LEAD)

    # Then
    assert response.status == 401
    assert site.session_of(LEAD) is None


# /approvals/<id> signed in: the review page


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_signed_in_approver_sees_the_review_page_with_a_csrf_token_for_this_session_and_request(
    site: Site, method: str
) -> None:
    # Given
    unchanged = _unchanged(site)

    # When
    response = site.request(method, f"/approvals/{site.lead_id}", session=LEAD)

    # Then
    assert response.status == 200
    assert response.cookies == ()
    assert f"<input type='hidden' name='csrf' value='{csrf_token(LEAD, site.lead_id)}'>" in response.html
    assert f"<form method='post' action='/approvals/{site.lead_id}'>" in response.html
    assert "Signed in as <strong>Qa Lead &lt;qa.lead@example.com&gt;</strong>" in response.html
    assert PACKAGE_ARN in response.html
    assert TASK_TOKEN not in response.html
    assert LEAD not in response.html
    unchanged()


def test_a_signed_in_approver_sees_not_found_for_an_unknown_id(site: Site) -> None:
    # When
    response = site.get(f"/approvals/{UNKNOWN_ID}", session=LEAD)

    # Then
    assert response.status == 404


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        pytest.param(OUTSIDER, "not in the approvers-test group", id="other-stages-approver"),
        pytest.param(REGISTRANT_TOKEN, "registered", id="registrant"),
    ],
)
def test_someone_who_may_not_decide_is_refused_on_the_page_and_on_post(site: Site, token: str, reason: str) -> None:
    # Given
    unchanged = _unchanged(site)

    # When
    shown = site.get(f"/approvals/{site.lead_id}", session=token)
    posted = site.post_decision(site.lead_id, session=token)

    # Then
    for response in (shown, posted):
        assert response.status == 403
        assert reason in response.html
        assert "name='decision'" not in response.html
    unchanged()


def _signed_in(site: Site, claims: dict[str, Any]) -> str:
    """A browser signed in through the hosted UI with these claims; its session id."""
    site.sign_in.tokens["custom"] = claims
    return _new_session(_sign_in(site, "custom", f"/approvals/{site.lead_id}"))


def test_a_groups_attribute_set_by_anyone_grants_nothing_only_cognito_groups_count(site: Site) -> None:
    # Given: a user in no Cognito group whose custom:groups names the stage's group (an administrator's or
    # anyone's value: the pre-token trigger suppresses it, and the pages never read it either)
    session = _signed_in(site, _claims("mallory@example.com", (), **{"custom:groups": "approvers-test"}))

    # When
    shown = site.get(f"/approvals/{site.lead_id}", session=session)

    # Then
    assert shown.status == 403
    assert "not in the approvers-test group" in shown.html


def test_the_registrant_is_matched_on_immutable_identifiers_never_on_the_registrant_email() -> None:
    # Given: a version CreatedBy an SSO session of "dana", whose RegistrantEmail names the lead
    model = replace(
        model_version(registrant_email="qa.lead@example.com"),
        registered_by="arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_DataScientist_0123/dana",
    )
    site = _site(model=model)
    dana = _signed_in(site, _claims("dana.other@example.com", ("approvers-test",), username="dana"))

    # When
    lead = site.get(f"/approvals/{site.lead_id}", session=LEAD)
    registrant = site.get(f"/approvals/{site.lead_id}", session=dana)

    # Then: the email metadata decides nothing; the session name of CreatedBy does
    assert lead.status == 200
    assert registrant.status == 403 and f"You registered {GROUP} version {VERSION} yourself" in registrant.html


@pytest.mark.parametrize(
    ("registered_by", "missing"),
    [
        pytest.param(None, "SageMaker CreatedBy is empty", id="no-created-by"),
        pytest.param(
            "arn:aws:iam::123456789012:role/ml-pipeline",
            "SageMaker CreatedBy names only the role ml-pipeline, no session",
            id="role",
        ),
    ],
)
def test_a_version_whose_registrant_cannot_be_established_is_refused_with_a_page_naming_what_is_missing(
    registered_by: str | None, missing: str
) -> None:
    # Given
    site = _site(model=replace(model_version(), registered_by=registered_by))
    unchanged = _unchanged(site)

    # When
    shown = site.get(f"/approvals/{site.lead_id}", session=LEAD)
    posted = site.post_decision(site.lead_id, {"decision": "approve", "comment": "fine"})

    # Then
    for response in (shown, posted):
        assert response.status == 403
        assert f"Version {VERSION} of {GROUP} records no registrant ({missing})" in response.html
        assert "nobody can be shown not to be approving their own work" in response.html
    unchanged()


# /approvals/<id> signed in: the decision


def test_a_valid_post_from_the_review_page_approves_once(site: Site) -> None:
    # When
    first = site.post_decision(site.lead_id, {"decision": "approve", "comment": "Ship it"})
    second = site.post_decision(site.lead_id, {"decision": "approve", "comment": "Ship it"})
    third = site.post_decision(site.deputy_id, {"decision": "reject", "comment": "No"}, session=DEPUTY)

    # Then
    assert first.status == 200
    assert "Recorded: approved" in first.html
    assert (second.status, third.status) == (409, 409)
    [(token, output)] = site.workflow.succeeded
    assert token == TASK_TOKEN
    assert output["approver"] == "qa.lead@example.com"
    assert output["approverName"] == "Qa Lead"
    assert output["approverSubject"] == TOKENS[LEAD]["sub"]
    assert output["comment"] == "Ship it"
    assert site.workflow.failed == []
    assert site.store.requests[TEST_KEY].status is RequestStatus.APPROVED


def test_the_signature_names_the_directorys_name_from_the_sign_in(site: Site) -> None:
    # Given: the directory's name for the approver (an administrator's or the IdP's)
    session = _signed_in(site, _claims("qa.lead@example.com", ("approvers-test",), name="Quinn A. Lead"))

    # When
    site.post_decision(site.lead_id, {"decision": "approve", "comment": "ok"}, session=session)

    # Then
    [(_, output)] = site.workflow.succeeded
    assert output["approverName"] == "Quinn A. Lead"


# re-authentication at signing


def _stale_site() -> Site:
    """Signing for test needs a sign-in at most 10 minutes old; the lead signed in 20 minutes ago."""
    site = _site(REAUTH_SETTINGS)
    site.sessions.save(_session(LEAD, authenticated_at=NOW - timedelta(minutes=20)), new=True)
    return site


def test_a_decision_from_a_sign_in_older_than_the_stage_allows_is_sent_to_sign_in_again_and_nothing_is_signed() -> None:
    # Given
    site = _stale_site()
    unchanged = _unchanged(site)

    # When the lead approves with a comment
    response = site.post_decision(site.lead_id, {"decision": "approve", "comment": "Reviewed the metrics"})

    # Then the browser goes to the hosted UI, which must ask for the password again (prompt=login)
    assert response.status == 303
    query = _query_of(response.location)
    assert response.location.startswith(f"{FakeSignIn.HOSTED_UI}/oauth2/authorize?")
    assert query["prompt"] == "login"
    assert query["redirect_uri"] == f"{HTTPS}/auth/callback"
    login = _set_cookies(response)[LOGIN_COOKIE]
    assert login.value.split(".")[0] == query["state"]

    # And the decision and comment wait server-side with the attempt, never in the URL
    assert "Reviewed" not in response.location and "approve" not in response.location
    [pending] = site.sessions.logins.values()
    assert (pending.refill.approval_id, pending.refill.decision, pending.refill.comment) == (
        site.lead_id,
        "approve",
        "Reviewed the metrics",
    )
    assert pending.state_digest == digest_of(query["state"]) and query["state"] not in repr(site.sessions.logins)
    unchanged()


def _signed_in_again(site: Site, response: HttpResponse, auth_time: datetime, token: str = LEAD) -> HttpResponse:
    site.sign_in.tokens[f"{token}-again"] = {**TOKENS[token], "auth_time": int(auth_time.timestamp())}
    return _callback(site, response, f"{token}-again", session=LEAD)


def test_after_signing_in_again_the_review_page_shows_the_decision_and_comment_again_to_press_once_more() -> None:
    # Given: the lead was sent to sign in again, and enters the password a minute later
    site = _stale_site()
    sent = site.post_decision(site.lead_id, {"decision": "approve", "comment": "Reviewed the metrics"})
    site.clock.advance(minutes=1)

    # When they come back from the hosted UI
    back = _signed_in_again(site, sent, site.clock.now)
    session = _new_session(back)
    review = site.get(str(back.location), session=session)

    # Then they are on the same review page, the comment in the box, told to press Approve again: nothing signed yet
    assert back.status == 303 and back.location == f"/approvals/{site.lead_id}"
    assert review.status == 200
    assert ">Reviewed the metrics</textarea>" in review.html
    assert "press Approve again to sign" in review.html
    assert site.workflow.sends == 0
    assert site.session_of(LEAD) is None, "the stale session ended; the new one has a new id"

    # When they press Approve, Then it is signed with the comment
    decided = site.post_decision(
        site.lead_id, {"decision": "approve", "comment": "Reviewed the metrics"}, session=session
    )
    assert decided.status == 200 and "Recorded: approved" in decided.html
    [(_, output)] = site.workflow.succeeded
    assert output["comment"] == "Reviewed the metrics"

    # And the refill is shown once only
    assert ">Reviewed the metrics</textarea>" not in site.get(f"/approvals/{site.deputy_id}", session=session).html


def test_a_sign_in_again_whose_auth_time_is_not_fresh_signs_nothing_and_says_why() -> None:
    # Given: the hosted UI let the lead through on its own earlier session (it ignored prompt=login)
    site = _stale_site()
    sent = site.post_decision(site.lead_id, {"decision": "approve", "comment": "Reviewed the metrics"})

    # When
    back = _signed_in_again(site, sent, NOW - timedelta(minutes=20))

    # Then
    assert back.status == 401 and "Sign-in not fresh" in back.html
    review = site.get(f"/approvals/{site.lead_id}", session=_new_session(back))
    assert "Reviewed the metrics" not in review.html
    assert site.workflow.sends == 0


def test_someone_else_signing_in_at_the_prompt_does_not_inherit_the_decision() -> None:
    # Given: the lead was sent to sign in again, and the deputy signs in on that browser instead
    site = _stale_site()
    sent = site.post_decision(site.lead_id, {"decision": "approve", "comment": "Reviewed the metrics"})

    # When
    back = _signed_in_again(site, sent, NOW, token=DEPUTY)
    review = site.get(f"/approvals/{site.lead_id}", session=_new_session(back))

    # Then
    assert "Reviewed the metrics" not in review.html
    assert site.session_of(_new_session(back)).approver.email == "qa.deputy@example.com"


def test_a_decision_from_a_fresh_enough_sign_in_signs_at_once() -> None:
    # Given: the lead signed in 9 minutes ago
    site = _site(REAUTH_SETTINGS)
    site.sessions.save(_session(LEAD, authenticated_at=NOW - timedelta(minutes=9)), new=True)

    # When
    response = site.post_decision(site.lead_id, {"decision": "approve", "comment": "fresh"})

    # Then
    assert response.status == 200
    assert site.workflow.sends == 1


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"sec-fetch-site": None, "origin": None}, id="neither-header"),
        pytest.param({"sec-fetch-site": None, "origin": "null"}, id="opaque-origin-from-no-referrer"),
        pytest.param({"sec-fetch-site": "same-origin", "origin": "null"}, id="fetch-metadata-and-opaque-origin"),
        pytest.param({"sec-fetch-site": None, "origin": HTTPS}, id="our-origin-only"),
    ],
)
def test_a_post_without_fetch_metadata_or_a_real_origin_is_judged_by_its_csrf_token(
    site: Site, headers: dict[str, str | None]
) -> None:
    # When
    response = site.post_decision(site.lead_id, headers=headers)

    # Then
    assert response.status == 200
    assert site.workflow.sends == 1


def test_a_rejection_through_the_pages_fails_the_task_with_the_reason(site: Site) -> None:
    # When
    response = site.post_decision(site.deputy_id, {"decision": "reject", "comment": "Recall too low"}, session=DEPUTY)

    # Then
    assert response.status == 200
    [failed] = site.workflow.failed
    assert failed.token == TASK_TOKEN
    assert '"approver": "qa.deputy@example.com"' in failed.cause


# Each forgery changes one thing about an otherwise valid post from the review page. Origin is judged only
# when the browser sends no Fetch Metadata (older browsers), so those forgeries send none.
_OLD_BROWSER = {"sec-fetch-site": None}
FORGERIES: dict[str, Callable[[Site], dict[str, Any]]] = {
    "no-csrf": lambda site: {"csrf": None},
    "empty-csrf": lambda site: {"csrf": ""},
    "another-approvals-csrf": lambda site: {"csrf": csrf_token(LEAD, site.deputy_id)},
    "another-sessions-csrf": lambda site: {"csrf": csrf_token(DEPUTY, site.lead_id)},
    "the-session-itself-as-csrf": lambda site: {"csrf": LEAD},
    "no-csrf-opaque-origin": lambda site: {"csrf": None, "headers": {**_OLD_BROWSER, "origin": "null"}},
    "cross-site": lambda site: {"headers": {"sec-fetch-site": "cross-site"}},
    "same-site": lambda site: {"headers": {"sec-fetch-site": "same-site"}},
    "cross-site-with-our-origin": lambda site: {"headers": {"sec-fetch-site": "cross-site", "origin": HTTPS}},
    "foreign-origin": lambda site: {"headers": {**_OLD_BROWSER, "origin": "https://evil.example"}},
    "origin-other-scheme": lambda site: {"headers": {**_OLD_BROWSER, "origin": HTTPS.replace("https:", "http:")}},
    "origin-other-port": lambda site: {"headers": {**_OLD_BROWSER, "origin": HTTPS + ":8443"}},
}


@pytest.mark.parametrize("case", list(FORGERIES))
@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_forged_or_cross_site_post_is_refused_and_the_workflow_sees_nothing(
    site: Site, case: str, decision: str
) -> None:
    # Given
    unchanged = _unchanged(site)
    form = {"decision": decision, "comment": "forged"}

    # When
    response = site.post_decision(site.lead_id, form, **FORGERIES[case](site))

    # Then
    assert response.status == 403
    assert "Refused" in response.html
    unchanged()
    assert site.store.requests[TEST_KEY].status is RequestStatus.PENDING


def test_a_post_with_a_non_ascii_csrf_token_is_refused(site: Site) -> None:
    # Given
    unchanged = _unchanged(site)

    # When
    response = site.post_decision(site.lead_id, csrf="\u00e9t\u00e9")

    # Then
    assert response.status == 403
    unchanged()


@pytest.mark.parametrize("content_type", ["application/json", "multipart/form-data; boundary=x", "text/plain", None])
def test_a_post_that_is_not_a_url_encoded_form_is_unsupported(site: Site, content_type: str | None) -> None:
    # Given
    unchanged = _unchanged(site)

    # When
    response = site.post_decision(site.lead_id, headers={"content-type": content_type})

    # Then
    assert response.status == 415
    unchanged()


def test_a_form_with_a_charset_is_read(site: Site) -> None:
    # When
    response = site.post_decision(site.lead_id, headers={"content-type": f"{FORM}; charset=UTF-8"})

    # Then
    assert response.status == 200


def test_a_post_larger_than_16_kib_is_too_large(site: Site) -> None:
    # Given
    unchanged = _unchanged(site)

    # When
    response = site.post_decision(site.lead_id, {"decision": "reject", "comment": "x" * BODY_MAX})

    # Then
    assert response.status == 413
    unchanged()


def test_a_post_of_exactly_16_kib_is_read(site: Site) -> None:
    # Given: a body of exactly BODY_MAX characters whose comment is too long for a decision
    csrf = csrf_token(LEAD, site.lead_id)
    prefix = urlencode({"csrf": csrf, "decision": "reject"}) + "&comment="
    body = prefix + "x" * (BODY_MAX - len(prefix))
    assert len(body) == BODY_MAX

    # When
    response = site.request(
        "POST",
        f"/approvals/{site.lead_id}",
        session=LEAD,
        headers={"content-type": FORM, "sec-fetch-site": "same-origin"},
        body=body,
    )

    # Then: the form was read and judged, not refused for its size
    assert response.status == 400
    assert "keep it within 1000" in response.html
    assert site.workflow.sends == 0


def test_an_invalid_decision_shows_the_form_again_with_a_working_csrf_token(site: Site) -> None:
    # When
    response = site.post_decision(site.lead_id, {"decision": "reject", "comment": ""})

    # Then
    assert response.status == 400
    assert "A rejection needs a reason" in response.html
    assert f"value='{csrf_token(LEAD, site.lead_id)}'" in response.html
    assert site.workflow.sends == 0


# the whole round trip


def test_sign_in_from_the_email_link_then_review_then_approve(site: Site) -> None:
    # Given: the signed-out page's sign-in link
    signed_out = site.get(f"/approvals/{site.lead_id}")
    [login_link] = re.findall(r"href='([^']*)'", signed_out.html)
    login_path, _, login_query = login_link.partition("?")

    # When: the browser follows it, signs in at the hosted UI, and comes back
    login = site.get(login_path, query={k: v[0] for k, v in parse_qs(login_query).items()})
    login_cookie = _set_cookies(login)[LOGIN_COOKIE].value
    hosted_ui = _query_of(login.location)
    site.sign_in.grant("code-7", LEAD, challenge=hosted_ui["code_challenge"])
    callback = site.get(
        "/auth/callback", query={"code": "code-7", "state": hosted_ui["state"]}, cookies={LOGIN_COOKIE: login_cookie}
    )
    session = _set_cookies(callback)[SESSION_COOKIE].value
    review = site.get(str(callback.location), session=session)
    [csrf] = re.findall(r"name='csrf' value='([^']*)'", review.html)[:1]
    decided = site.request(
        "POST",
        str(callback.location),
        session=session,
        headers={"content-type": FORM, "sec-fetch-site": "same-origin", "origin": HTTPS},
        body=urlencode({"csrf": csrf, "decision": "approve", "comment": "Looks right"}),
    )

    # Then
    assert callback.location == f"/approvals/{site.lead_id}"
    assert review.status == 200
    assert decided.status == 200
    [(_, output)] = site.workflow.succeeded
    assert output["approver"] == "qa.lead@example.com"


# routing


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/approvals"),
        ("GET", "/approvals/"),
        ("GET", "/approvals/abc/def"),
        ("GET", "/auth"),
        ("GET", "/auth/login/extra"),
        ("POST", "/auth/login"),
        ("POST", "/auth/callback"),
        ("POST", "/auth/signed-out"),
        ("PUT", "/approvals/" + "A" * 32),
        ("DELETE", "/approvals/" + "A" * 32),
        ("DELETE", "/auth/logout"),
        ("GET", "/favicon.ico"),
    ],
)
def test_any_other_path_or_method_is_not_found(site: Site, method: str, path: str) -> None:
    # When
    response = site.request(method, path, session=LEAD)

    # Then
    assert response.status == 404
    assert response.cookies == ()
    assert site.workflow.sends == 0


# the Lambda handler's conversions between API Gateway (payload v2) and HttpRequest / HttpResponse


def test_an_api_gateway_event_becomes_a_request(load_event: Callable[[str], dict[str, Any]]) -> None:
    # Given
    event = load_event("approval_api_post.json")
    event["cookies"] = [f"{SESSION_COOKIE}=header.pay=load.sig", " theme = dark "]
    event["headers"]["Origin"] = "https://abc123.execute-api.us-east-1.amazonaws.com"
    event["headers"]["x-forwarded-proto"] = "https"
    event["queryStringParameters"] = {"next": "/approvals/x"}

    # When
    request = http_request(event)

    # Then
    assert request.method == "POST"
    assert request.path == "/approvals/q0Xh3Jb9t2c8V1kLmN4pR7sT5uW6yZ_a"
    assert request.body == "decision=approve&comment=Metrics+look+good"
    assert request.cookies == {SESSION_COOKIE: "header.pay=load.sig", "theme": "dark"}
    assert request.headers["origin"] == "https://abc123.execute-api.us-east-1.amazonaws.com"
    assert request.headers["content-type"] == FORM
    assert request.query == {"next": "/approvals/x"}
    assert request.base_url == "https://abc123.execute-api.us-east-1.amazonaws.com"
    assert request.base_url == "https://abc123.execute-api.us-east-1.amazonaws.com"


def test_a_get_event_without_body_cookies_or_query_becomes_an_empty_request(
    load_event: Callable[[str], dict[str, Any]],
) -> None:
    # When
    request = http_request(load_event("approval_api_get.json"))

    # Then
    assert request.method == "GET"
    assert (request.body, dict(request.cookies), dict(request.query)) == ("", {}, {})


@pytest.mark.parametrize(
    ("headers", "domain", "base_url"),
    [
        pytest.param({"x-forwarded-proto": "http"}, "127.0.0.1:3000", "http://127.0.0.1:3000", id="plain-http"),
        pytest.param(
            {"X-Forwarded-Proto": "https, http"}, "approve.example.com", "https://approve.example.com", id="list"
        ),
        pytest.param({}, "approve.example.com", "https://approve.example.com", id="https-by-default"),
        pytest.param({"host": "localhost:3000"}, None, "https://localhost:3000", id="host-header-without-domain"),
    ],
)
def test_the_base_url_is_the_scheme_and_host_the_browser_used(
    headers: dict[str, str], domain: str | None, base_url: str
) -> None:
    # Given
    context: dict[str, Any] = {"http": {"method": "GET", "path": "/auth/login"}}
    if domain:
        context["domainName"] = domain

    # When
    request = http_request({"rawPath": "/auth/login", "headers": headers, "requestContext": context})

    # Then
    assert request.base_url == base_url


def test_a_base64_encoded_body_is_decoded() -> None:
    # Given
    body = base64.b64encode(b"decision=reject&comment=Pas+assez+pr%C3%A9cis").decode()

    # When
    request = http_request({"body": body, "isBase64Encoded": True, "requestContext": {"http": {"method": "POST"}}})

    # Then
    assert request.body == "decision=reject&comment=Pas+assez+pr%C3%A9cis"


@pytest.mark.parametrize("body", ["abc", base64.b64encode(b"\xff\xfe\xfd").decode()])
def test_an_undecodable_base64_body_becomes_an_empty_body(body: str) -> None:
    # When
    request = http_request({"body": body, "isBase64Encoded": True, "requestContext": {"http": {"method": "POST"}}})

    # Then
    assert request.body == ""


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_response_carries_the_page_the_cookies_and_the_security_headers(method: str) -> None:
    # Given
    response = HttpResponse(409, "<!doctype html><p>decided</p>", cookies=("a=1; Path=/", "b=; Max-Age=0"))

    # When
    answer = http_response(response, method)

    # Then
    assert answer == {
        "statusCode": 409,
        "headers": SECURITY_HEADERS,
        "cookies": ["a=1; Path=/", "b=; Max-Age=0"],
        "body": "<!doctype html><p>decided</p>",
        "isBase64Encoded": False,
    }
    assert answer["headers"]["Cache-Control"] == "no-store"
    assert answer["headers"]["Referrer-Policy"] == "no-referrer"
    assert answer["headers"]["Content-Type"] == "text/html; charset=utf-8"


def test_a_redirect_carries_its_location_with_the_security_headers() -> None:
    # When
    answer = http_response(HttpResponse(302, location="https://sign-in.example/oauth2/authorize?x=1"), "GET")

    # Then
    assert answer["statusCode"] == 302
    assert answer["headers"] == {**SECURITY_HEADERS, "Location": "https://sign-in.example/oauth2/authorize?x=1"}
    assert "Location" not in SECURITY_HEADERS


def test_a_head_response_has_the_status_headers_and_cookies_but_no_body() -> None:
    # When
    answer = http_response(HttpResponse(200, "<!doctype html><form></form>", cookies=("a=1",)), "HEAD")

    # Then
    assert answer["statusCode"] == 200
    assert answer["body"] == ""
    assert answer["cookies"] == ["a=1"]
    assert answer["headers"]["Cache-Control"] == "no-store"


def test_changing_one_responses_headers_leaves_the_next_response_alone() -> None:
    # Given
    http_response(HttpResponse(200, "h"), "GET")["headers"]["Cache-Control"] = "public"

    # When
    answer = http_response(HttpResponse(200, "h"), "GET")

    # Then
    assert answer["headers"]["Cache-Control"] == "no-store"


def test_the_content_security_policy_lets_forms_lead_to_the_hosted_ui_and_nowhere_else() -> None:
    # When
    answer = http_response(HttpResponse(200, "<p>x</p>"), "GET", FakeSignIn.HOSTED_UI)

    # Then: a form (sign out, sign in again) may redirect there; browsers check form-action on redirects too
    policy = answer["headers"]["Content-Security-Policy"]
    assert f"form-action 'self' {FakeSignIn.HOSTED_UI};" in policy
    assert policy.replace(f" {FakeSignIn.HOSTED_UI}", "") == SECURITY_HEADERS["Content-Security-Policy"]
