"""The approval pages over HTTP, end to end with fakes: sign-in, session, CSRF and origin checks, then the decision."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
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
    REGISTRANT,
    REQUESTED_AT_TIME,
    TASK_TOKEN,
    approval_payload,
    approver_claims,
)
from fakes import FakeApprovalStore, FakeApprovedModels, FakeMailer, FakeSignIn, FakeWorkflow, s256

from model_promotion.config import ApprovalApiSettings, ApprovalRequestSettings
from model_promotion.domain.approvals import RequestStatus, request_key
from model_promotion.domain.web_security import csrf_token
from model_promotion.handlers.approval_api import SECURITY_HEADERS, http_request, http_response
from model_promotion.services.approval_web import (
    BODY_MAX,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    ApprovalPages,
    HttpRequest,
    HttpResponse,
)
from model_promotion.services.approvals import request_approval

SETTINGS = ApprovalApiSettings.from_environ(APPROVAL_API_ENV)
REQUEST_SETTINGS = ApprovalRequestSettings.from_environ(APPROVAL_ENV)
HTTPS = "https://abc123.execute-api.eu-west-1.amazonaws.com"
HTTP = "http://127.0.0.1:3000"
NOW = REQUESTED_AT_TIME + timedelta(hours=2)
SESSION_ENDS = NOW + timedelta(minutes=50)
TEST_KEY = request_key(EXECUTION_NAME, "test")
UNKNOWN_ID = "U" * 32
FORM = "application/x-www-form-urlencoded"

LEAD = "id-token-of-qa-lead"
DEPUTY = "id-token-of-qa-deputy"
OUTSIDER = "id-token-of-a-dev-approver"
REGISTRANT_TOKEN = "id-token-of-the-registrant"
EXPIRED = "id-token-that-expired"
NO_SUBJECT = "id-token-without-a-subject"
TOKENS = {
    LEAD: approver_claims("qa.lead@example.com", groups=("approvers-test",), exp=SESSION_ENDS),
    DEPUTY: approver_claims("qa.deputy@example.com", groups=("approvers-test",), exp=SESSION_ENDS),
    OUTSIDER: approver_claims("dev.lead@example.com", groups=("approvers-dev",), exp=SESSION_ENDS),
    REGISTRANT_TOKEN: approver_claims(REGISTRANT, groups=("approvers-test",), exp=SESSION_ENDS),
    EXPIRED: approver_claims("qa.lead@example.com", groups=("approvers-test",), exp=NOW - timedelta(seconds=1)),
    NO_SUBJECT: {**approver_claims("qa.lead@example.com", exp=SESSION_ENDS), "sub": ""},
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
    """One browser against the approval pages; the request for stage test was mailed to the two QA approvers."""

    pages: ApprovalPages
    store: FakeApprovalStore
    workflow: FakeWorkflow
    sign_in: FakeSignIn
    ids: dict[str, str]  # recipient -> approval id

    @property
    def lead_id(self) -> str:
        return self.ids["qa.lead@example.com"]

    @property
    def deputy_id(self) -> str:
        return self.ids["qa.deputy@example.com"]

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
        wanted: dict[str, str | None] = {"content-type": FORM, "sec-fetch-site": "same-origin", "origin": base_url}
        wanted.update(headers or {})
        sent_headers = {k: v for k, v in wanted.items() if v is not None}
        return self.request(
            "POST",
            f"/approvals/{approval_id}",
            session=session,
            headers=sent_headers,
            body=urlencode(fields),
            base_url=base_url,
        )


def _site() -> Site:
    store, mailer, workflow = FakeApprovalStore(), FakeMailer(), FakeWorkflow()
    request_approval(
        approval_payload("test"),
        settings=REQUEST_SETTINGS,
        store=store,
        mailer=mailer,
        approved_models=FakeApprovedModels(),
    )
    ids = {}
    for email in mailer.sent:
        [approval_id] = re.findall(r"/approvals/([A-Za-z0-9_-]{32})", email.text)
        ids[email.to[0]] = approval_id
    sign_in = FakeSignIn(TOKENS, clock=lambda: NOW)
    pages = ApprovalPages(SETTINGS, store=store, workflow=workflow, sign_in=sign_in, clock=lambda: NOW)
    return Site(pages, store, workflow, sign_in, ids)


@pytest.fixture
def site() -> Site:
    return _site()


def _login(site: Site, next_path: str | None, base_url: str = HTTPS) -> tuple[HttpResponse, SetCookie]:
    response = site.get("/auth/login", query={} if next_path is None else {"next": next_path}, base_url=base_url)
    return response, _set_cookies(response)[LOGIN_COOKIE]


def _query_of(location: str | None) -> dict[str, str]:
    assert location is not None
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _sign_in(site: Site, token: str, next_path: str | None = None, base_url: str = HTTPS) -> HttpResponse:
    """The whole round trip: login redirect, the hosted UI grants a code for `token`, the callback."""
    _, login_cookie = _login(site, next_path, base_url)
    state, verifier, _ = login_cookie.value.split(".")
    site.sign_in.grant("code-1", token, challenge=s256(verifier))
    return site.get(
        "/auth/callback",
        query={"code": "code-1", "state": state},
        cookies={LOGIN_COOKIE: login_cookie.value},
        base_url=base_url,
    )


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
    assert verifier not in response.location
    assert re.fullmatch(r"[A-Za-z0-9_-]{43,128}", verifier), "RFC 7636: 43 to 128 unreserved characters"
    assert len(state) >= 22
    assert base64.urlsafe_b64decode(encoded_next + "=" * (-len(encoded_next) % 4)).decode() == (
        f"/approvals/{site.lead_id}"
    )


def test_the_login_cookie_is_short_lived_http_only_lax_and_scoped_to_the_auth_paths(site: Site) -> None:
    # When
    _, cookie = _login(site, "/")

    # Then
    assert cookie.attributes == {"max-age": "600", "path": "/auth", "httponly": "", "samesite": "Lax", "secure": ""}


def test_every_login_starts_a_fresh_state_and_verifier(site: Site) -> None:
    # When
    attempts = [_login(site, "/")[1].value.split(".")[:2] for _ in range(3)]

    # Then
    assert len({state for state, _ in attempts}) == 3
    assert len({verifier for _, verifier in attempts}) == 3


def test_login_over_plain_http_uses_the_http_callback_and_no_secure_flag(site: Site) -> None:
    # When
    response, cookie = _login(site, "/", base_url=HTTP)

    # Then
    assert _query_of(response.location)["redirect_uri"] == f"{HTTP}/auth/callback"
    assert "secure" not in cookie.attributes


# /auth/callback


def test_a_callback_sets_an_http_only_lax_secure_session_cookie_and_returns_to_the_approval(site: Site) -> None:
    # When
    response = _sign_in(site, LEAD, f"/approvals/{site.lead_id}")

    # Then
    assert response.status == 303
    assert response.location == f"/approvals/{site.lead_id}"
    cookies = _set_cookies(response)
    session = cookies[SESSION_COOKIE]
    assert session.value == LEAD
    lifetime = int(SESSION_ENDS.timestamp()) - int(NOW.timestamp())
    assert session.attributes == {
        "max-age": str(lifetime),
        "path": "/",
        "httponly": "",
        "samesite": "Lax",
        "secure": "",
    }
    assert cookies[LOGIN_COOKIE].value == ""
    assert cookies[LOGIN_COOKIE].attributes["max-age"] == "0"
    assert cookies[LOGIN_COOKIE].attributes["path"] == "/auth"


def test_a_callback_over_plain_http_sets_the_session_cookie_without_the_secure_flag(site: Site) -> None:
    # When
    response = _sign_in(site, LEAD, f"/approvals/{site.lead_id}", base_url=HTTP)

    # Then
    assert response.status == 303
    session = _set_cookies(response)[SESSION_COOKIE]
    assert session.value == LEAD
    assert "secure" not in session.attributes
    assert session.attributes["httponly"] == ""
    assert session.attributes["samesite"] == "Lax"


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

    # When
    response = site.get("/auth/callback", query=query, cookies={LOGIN_COOKIE: cookie.value} if send_cookie else {})

    # Then
    assert response.status == 400
    assert "Sign-in expired" in response.html
    assert SESSION_COOKIE not in _set_cookies(response)
    assert response.location is None
    assert site.sign_in.exchanges == []


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
    assert _set_cookies(response)[SESSION_COOKIE].value == LEAD


def test_a_next_path_with_a_trailing_newline_goes_home(site: Site) -> None:
    # When
    response = _sign_in(site, LEAD, f"/approvals/{site.lead_id}\n")

    # Then
    assert response.location == "/"


# /auth/logout


def test_logout_clears_the_session_cookie(site: Site) -> None:
    # When
    response = site.get("/auth/logout", session=LEAD)

    # Then
    assert response.status == 200
    session = _set_cookies(response)[SESSION_COOKIE]
    assert session.value == ""
    assert session.attributes["max-age"] == "0"
    assert session.attributes["path"] == "/"


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
    "token",
    [
        pytest.param(EXPIRED, id="expired"),
        pytest.param("forged.jwt.value", id="unknown"),
        pytest.param(NO_SUBJECT, id="no-subject"),
        pytest.param("", id="empty"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_invalid_session_gets_the_sign_in_page_and_the_cookie_is_cleared(
    site: Site, token: str, method: str
) -> None:
    # Given
    unchanged = _unchanged(site)
    known = site.request(method, f"/approvals/{site.lead_id}")

    # When
    response = site.request(
        method,
        f"/approvals/{site.lead_id}",
        session=token,
        headers={"content-type": FORM},
        body=urlencode({"csrf": csrf_token(token, site.lead_id), "decision": "approve"}),
    )

    # Then
    assert response.status == 401
    assert response.html == known.html
    cleared = _set_cookies(response)[SESSION_COOKIE]
    assert cleared.value == ""
    assert cleared.attributes["max-age"] == "0"
    assert cleared.attributes["path"] == "/"
    unchanged()


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
        assert "<form" not in response.html
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
    [csrf] = re.findall(r"name='csrf' value='([^']*)'", review.html)
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
        ("POST", "/auth/logout"),
        ("PUT", "/approvals/" + "A" * 32),
        ("DELETE", "/approvals/" + "A" * 32),
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
    assert request.callback_url == "https://abc123.execute-api.us-east-1.amazonaws.com/auth/callback"


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
