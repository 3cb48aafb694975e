"""Fuzzing the approval pages through their Lambda handler: any path, method, header, cookie, query and body a
browser (or anyone) can send gets a readable page, never a server error, never a token, and decides nothing."""

from __future__ import annotations

import base64
import json
import re
from html import unescape
from typing import Any
from urllib.parse import quote, unquote, urlencode

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from property_helpers import (
    examples,
    huge_strings,
    json_values,
    lambda_context,
    looks_like_a_traceback,
    nasty_strings,
    odd_strings,
)
from test_approval_pages import (
    DEPUTY,
    EXPIRED,
    FORM,
    HTTP,
    HTTPS,
    LEAD,
    NO_SUBJECT,
    OUTSIDER,
    REGISTRANT_TOKEN,
    UNKNOWN_ID,
    Site,
    _site,
)

from model_promotion.handlers import approval_api
from model_promotion.handlers._http import http_request
from model_promotion.services.approval_web import LOGIN_COOKIE, SESSION_COOKIE

SESSIONS = (LEAD, DEPUTY, OUTSIDER, EXPIRED, NO_SUBJECT, REGISTRANT_TOKEN)
# API Gateway (and the embedded AWS's HTTP API) set the scheme and the domain name; the client sets the rest.
GATEWAYS = (("https", HTTPS.removeprefix("https://")), ("http", HTTP.removeprefix("http://")))
LEAD_ID, DEPUTY_ID = "{lead-approval-id}", "{deputy-approval-id}"


def _mostly(common: st.SearchStrategy[Any], rare: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Three draws in four from `common`: the fuzz spends most of its examples where the pages do something."""
    return st.integers(min_value=0, max_value=3).flatmap(lambda pick: rare if pick == 3 else common)


methods = _mostly(
    st.sampled_from(("GET", "HEAD", "POST", "POST")),
    st.one_of(
        st.sampled_from(("PUT", "DELETE", "PATCH", "OPTIONS", "get", "post", "Post", "")),
        st.from_regex(r"[A-Za-z]{1,10}", fullmatch=True),
    ),
)
paths = _mostly(
    st.sampled_from(
        (
            "/auth/login",
            "/auth/callback",
            "/auth/logout",
            f"/approvals/{LEAD_ID}",
            f"/approvals/{LEAD_ID}",
            f"/approvals/{DEPUTY_ID}",
            f"/approvals/{UNKNOWN_ID}",
        )
    ),
    st.one_of(
        st.sampled_from(
            (
                "/",
                "/approvals",
                "/approvals/",
                "/auth",
                "/favicon.ico",
                f"/approvals/../approvals/{LEAD_ID}",
                "/approvals/%2e%2e/%2e%2e/etc/passwd",
                f"/approvals/{LEAD_ID}/../{DEPUTY_ID}",
                f"/..;/approvals/{LEAD_ID}",
                f"//approvals/{LEAD_ID}",
                f"/approvals/{LEAD_ID}%00",
                f"/approvals/{LEAD_ID}\n",
                f"/APPROVALS/{LEAD_ID}",
                f"/approvals/{LEAD_ID}/",
                f"/approvals/{LEAD_ID}?decision=approve",
            )
        ),
        st.builds(lambda rest: f"/approvals/{rest}", odd_strings()),
        st.builds(lambda rest: f"/approvals/{quote(rest, safe='')}", st.text()),
        st.builds(lambda rest: f"/{rest}", st.text()),
        st.builds(lambda count: "/approvals/" + "A" * count, st.integers(min_value=33, max_value=20_000)),
    ),
)

_header_values = {
    "sec-fetch-site": st.sampled_from(("same-origin", "same-site", "cross-site", "none", "", "SAME-ORIGIN")),
    "origin": st.sampled_from((HTTPS, HTTP, "null", "https://evil.example", "", f"{HTTPS}/", HTTPS.upper())),
    "content-type": st.sampled_from(
        (FORM, f"{FORM}; charset=utf-8", "APPLICATION/X-WWW-FORM-URLENCODED", "application/json", "text/plain", "")
    ),
}
header_names = st.one_of(
    st.sampled_from(
        (
            "sec-fetch-site",
            "Sec-Fetch-Site",
            "origin",
            "Origin",
            "content-type",
            "Content-Type",
            "cookie",
            "host",
            "content-length",
            "referer",
            "accept",
            "x-forwarded-for",
            "X-Forwarded-Proto",
        )
    ),
    st.from_regex(r"[A-Za-z0-9-]{1,30}", fullmatch=True),
)


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@st.composite
def headers(draw: st.DrawFn) -> dict[str, str]:
    found: dict[str, str] = {}
    for name in draw(st.lists(header_names, max_size=6)):
        realistic = _header_values.get(name.lower())
        found[name] = draw(odd_strings() if realistic is None else _mostly(realistic, odd_strings()))
    return found


@st.composite
def cookies(draw: st.DrawFn) -> tuple[list[str], dict[str, str]]:
    """The event's `cookies` list, and the query a matching login round trip would carry (state, code).

    Three requests in four carry a session cookie, mostly a valid one, so the signed-in paths get fuzzed too.
    """
    jar: list[str] = []
    query: dict[str, str] = {}
    garbled = st.one_of(st.sampled_from(SESSIONS).map(lambda s: s + "x"), odd_strings())
    sessions = _mostly(st.sampled_from((LEAD, LEAD, LEAD, *SESSIONS)), garbled)
    if draw(_mostly(st.just(True), st.just(False))):
        jar.append(f"{SESSION_COOKIE}={draw(sessions)}")
    for kind in draw(st.lists(st.sampled_from(("session", "login", "matching-login", "other", "raw")), max_size=3)):
        if kind == "session":
            jar.append(f"{SESSION_COOKIE}={draw(sessions)}")
        elif kind == "login":
            jar.append(f"{LOGIN_COOKIE}={draw(st.one_of(odd_strings(), st.just('a.b.c'), st.just('..')))}")
        elif kind == "matching-login":
            state = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=32))
            next_part = draw(st.one_of(st.text(max_size=20), st.just(_b64("/approvals/x"))))
            jar.append(f"{LOGIN_COOKIE}={state}.{draw(st.text(max_size=40))}.{next_part}")
            query.update(state=state, code=draw(st.text(min_size=1, max_size=40)))
        elif kind == "other":
            jar.append(f"{draw(st.text(max_size=20))}={draw(odd_strings())}")
        else:
            jar.append(draw(odd_strings()))
    if draw(st.booleans()):
        jar.reverse()
    return jar, query


queries = st.one_of(
    st.none(),
    st.dictionaries(
        st.one_of(st.sampled_from(("next", "code", "state", "error")), st.text(max_size=10)),
        st.one_of(
            odd_strings(),
            st.sampled_from(
                (f"/approvals/{LEAD_ID}", "https://evil.example/phish", "//evil.example", "/approvals/x\n")
            ),
        ),
        max_size=4,
    ),
)

_form_fields = st.dictionaries(
    st.one_of(st.sampled_from(("decision", "comment", "csrf")), st.text(max_size=10)),
    st.one_of(st.sampled_from(("approve", "reject", "APPROVE", " approve ", "")), odd_strings()),
    max_size=5,
)


@st.composite
def bodies(draw: st.DrawFn) -> tuple[str | None, bool]:
    """A body as API Gateway passes it: text as sent, or base64 (always ASCII) with isBase64Encoded."""
    kind = draw(st.sampled_from(("none", "text", "form", "form-b64", "bad-b64", "binary", "json", "huge")))
    if kind == "none":
        return draw(st.sampled_from((None, ""))), draw(st.booleans())
    if kind == "text":
        return draw(odd_strings()), False
    if kind in ("form", "form-b64"):
        form = urlencode(draw(_form_fields))
        return (base64.b64encode(form.encode()).decode(), True) if kind == "form-b64" else (form, False)
    if kind == "bad-b64":
        return draw(st.text(alphabet=st.characters(codec="ascii"), min_size=1)), True
    if kind == "binary":
        return base64.b64encode(draw(st.binary(max_size=200))).decode(), True
    if kind == "json":
        return json.dumps(draw(json_values)), False
    return "decision=reject&comment=" + "x" * draw(st.integers(min_value=16 * 1024, max_value=40_000)), False


@st.composite
def approval_events(draw: st.DrawFn) -> dict[str, Any]:
    """An API Gateway HTTP API (payload v2) event, with the approval ids as placeholders until a site exists."""
    method, path = draw(methods), draw(paths)
    jar, login_query = draw(cookies())
    query = draw(queries)
    if login_query and draw(st.booleans()):
        query = {**(query or {}), **login_query}
    sent = {k: v for k, v in draw(headers()).items() if k.lower() != "x-forwarded-proto"}
    scheme, domain = draw(st.sampled_from(GATEWAYS))
    body, encoded = draw(bodies())
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": {**sent, "x-forwarded-proto": scheme},
        "requestContext": {"domainName": domain, "http": {"method": method, "path": path, "protocol": "HTTP/1.1"}},
        "isBase64Encoded": encoded,
    }
    if jar:
        event["cookies"] = jar
    if query is not None:
        event["queryStringParameters"] = query
    if body is not None:
        event["body"] = body
    return event


def _on(site: Site, event: dict[str, Any]) -> dict[str, Any]:
    """The event with its placeholders replaced by the ids the site's approvers were mailed."""
    text = json.dumps(event).replace(LEAD_ID, site.lead_id).replace(DEPUTY_ID, site.deputy_id)
    return json.loads(text)


def _serve(site: Site, event: dict[str, Any]) -> dict[str, Any]:
    """One invocation of the ApprovalApi function, with the site's fakes behind it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(approval_api, "pages", lambda: site.pages)
        patch.setattr(approval_api.metrics, "namespace", "ModelPromotion")
        return approval_api.lambda_handler(_on(site, event), lambda_context("ApprovalApiFunction"))


def _decided_nothing(site: Site, before: Any) -> bool:
    return site.store.snapshot() == before and site.workflow.sends == 0


@settings(max_examples=examples(200))
@given(event=approval_events())
def test_no_request_gets_a_server_error(event: dict[str, Any]) -> None:
    """Given any request a client can send through API Gateway,
    When the approval function answers it,
    Then the answer is a well-formed HTTP API response whose status is below 500: a 5xx would tell the approver
    "try again" about a request that can never work."""
    site = _site()

    response = _serve(site, event)

    assert isinstance(response["statusCode"], int)
    assert 200 <= response["statusCode"] < 500, response["body"][:300]
    assert response["headers"]["Content-Type"] == "text/html; charset=utf-8"
    assert isinstance(response["body"], str)


_HEADING = re.compile(r"<h1>([^<]+)</h1>")


@settings(max_examples=examples(200))
@given(event=approval_events())
def test_every_refusal_is_a_page_a_person_can_read(event: dict[str, Any]) -> None:
    """Given any request,
    When the approval function refuses it (a 4xx),
    Then the page has a heading and a sentence saying what happened, and no Python traceback; a HEAD gets the
    same status and headers with an empty body."""
    site = _site()

    response = _serve(site, event)

    if not 400 <= response["statusCode"] < 500:
        return
    body = response["body"]
    if event["requestContext"]["http"]["method"].upper() == "HEAD":
        assert body == ""
        return
    heading = _HEADING.search(body)
    assert heading and heading.group(1).strip()
    assert re.search(r"<p>[^<]*[A-Za-z]{3,}", body)
    assert not looks_like_a_traceback(body)


@settings(max_examples=examples(200))
@given(event=approval_events())
def test_no_response_reveals_a_task_token_or_a_session_or_repeats_a_cookie_it_was_sent(
    event: dict[str, Any],
) -> None:
    """Given any request, with any cookies,
    When the approval function answers it,
    Then nothing in the answer holds a task token the store keeps, nor the session's ID token (unless the URL
    itself carried it: a page may name its own address); and no Set-Cookie carries a value the request sent,
    so a forged cookie is never planted back into the browser."""
    site = _site()
    request = _on(site, event)
    address = request["rawPath"] + json.dumps(request.get("queryStringParameters"))

    response = _serve(site, event)

    answer = json.dumps(response)
    assert not any(token in answer for token in site.store.tokens.values() if token not in address)
    assert not any(session in response["body"] for session in SESSIONS if session not in address)
    sent_values = [c.partition("=")[2].strip() for c in request.get("cookies", [])]
    for set_cookie in response["cookies"]:
        value = set_cookie.split(";", 1)[0].partition("=")[2]
        assert not any(len(sent) >= 8 and sent in value for sent in sent_values), set_cookie


@settings(max_examples=examples(200))
@given(event=approval_events())
def test_no_request_without_the_review_forms_csrf_token_decides_anything(event: dict[str, Any]) -> None:
    """Given any request, including posts to real approval links from signed-in approvers with any headers and
    any form fields (but never the review page's own CSRF token, which only the page knows),
    When the approval function answers it,
    Then no request is claimed, no token is used or dropped, Step Functions is told nothing, and no page
    says a decision was recorded."""
    site = _site()
    before = site.store.snapshot()

    response = _serve(site, event)

    assert _decided_nothing(site, before)
    assert "Recorded" not in response["body"]


REVIEW_PAGE_HEADERS = {"content-type": FORM, "sec-fetch-site": "same-origin", "origin": HTTPS}


@settings(max_examples=examples(200))
@given(
    session=_mostly(st.just(LEAD), st.sampled_from(SESSIONS)),
    kept=st.sets(st.sampled_from(sorted(REVIEW_PAGE_HEADERS))),
    sent_headers=headers(),
    form=_form_fields,
    encoded=st.booleans(),
    which=st.sampled_from((LEAD_ID, DEPUTY_ID)),
)
def test_a_signed_in_post_without_the_forms_csrf_token_is_refused_and_decides_nothing(
    session: str, kept: set[str], sent_headers: dict[str, str], form: dict[str, str], encoded: bool, which: str
) -> None:
    """Given a signed-in approver (or an outsider, an expired or subject-less session) posting any form to a
    real approval link, with some of the review page's own headers and any others,
    When the approval function answers,
    Then it refuses with a 4xx page (signed out, not theirs, cross-site, not a form, missing or wrong token) and
    the request is still pending with its task token."""
    site = _site()
    before = site.store.snapshot()
    body = urlencode(form)
    event = {
        "version": "2.0",
        "rawPath": f"/approvals/{which}",
        "headers": {**{k: REVIEW_PAGE_HEADERS[k] for k in kept}, **sent_headers, "x-forwarded-proto": "https"},
        "cookies": [f"{SESSION_COOKIE}={session}"],
        "requestContext": {"domainName": GATEWAYS[0][1], "http": {"method": "POST", "path": f"/approvals/{which}"}},
        "body": base64.b64encode(body.encode()).decode() if encoded else body,
        "isBase64Encoded": encoded,
    }

    response = _serve(site, event)

    assert 400 <= response["statusCode"] < 500
    assert _decided_nothing(site, before)


@example(body="é")
@settings(max_examples=examples(200))
@given(body=st.one_of(st.text(min_size=1), nasty_strings.filter(bool), huge_strings()))
def test_a_body_flagged_base64_that_is_not_base64_is_read_as_an_empty_form(body: str) -> None:
    """Given an event whose body is flagged isBase64Encoded but holds any text at all,
    When the handler turns it into a request,
    Then it does not raise (the conversion runs before the handler's error page can help): the body is the
    decoded text when it decodes to UTF-8, and empty otherwise."""
    event = {"body": body, "isBase64Encoded": True, "requestContext": {"http": {"method": "POST"}}}

    request = http_request(event)

    assert isinstance(request.body, str)


@settings(max_examples=examples(100))
@given(path=paths, method=methods)
def test_the_sign_in_link_of_a_signed_out_page_returns_only_to_an_approval_page(path: str, method: str) -> None:
    """Given a signed-out request for any path,
    When the page offers to sign in and the sign-in is started from its link,
    Then the hosted UI is reached, and the login cookie's return path is an approval page or "/", never
    another site."""
    site = _site()
    event = {
        "rawPath": path,
        "headers": {"x-forwarded-proto": "https"},
        "requestContext": {"domainName": GATEWAYS[0][1], "http": {"method": method, "path": path}},
    }

    page = _serve(site, event)
    link = re.search(r"href='/auth/login\?next=([^']*)'", page["body"])
    if link is None:
        return
    login = _serve(
        site,
        {
            "rawPath": "/auth/login",
            "rawQueryString": f"next={link.group(1)}",
            "queryStringParameters": {"next": unquote(unescape(link.group(1)))},
            "headers": {"x-forwarded-proto": "https"},
            "requestContext": {"domainName": GATEWAYS[0][1], "http": {"method": "GET", "path": "/auth/login"}},
        },
    )

    assert login["statusCode"] == 302
    assert login["headers"]["Location"].startswith(site.sign_in.HOSTED_UI + "/")
    [cookie] = login["cookies"]
    encoded = cookie.split(";", 1)[0].partition("=")[2].split(".")[2]
    return_path = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    assert return_path == "/" or re.fullmatch(r"/approvals/[A-Za-z0-9_-]{1,64}", return_path)
