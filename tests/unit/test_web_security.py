"""The approval pages' browser safeguards: sessions, CSRF tokens, origin checks, PKCE and the login cookie."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
from fakes import s256

from model_promotion.domain.identity import Approver
from model_promotion.domain.web_security import (
    LoginAttempt,
    Session,
    csrf_token,
    csrf_valid,
    digest_of,
    new_session_id,
    origin_of,
    safe_next_path,
    same_origin,
)

SESSION = "eyJraWQiOiJrMSJ9.eyJzdWIiOiJhYmMifQ.c2lnbmF0dXJl"
OTHER_SESSION = "eyJraWQiOiJrMSJ9.eyJzdWIiOiJkZWYifQ.c2lnbmF0dXJl"
APPROVAL_ID = "q0Xh3Jb9t2c8V1kLmN4pR7sT5uW6yZ_a"
OTHER_ID = "Zz9Xh3Jb9t2c8V1kLmN4pR7sT5uW6y-b"
BASE_URL = "https://abc123.execute-api.eu-west-1.amazonaws.com"


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# csrf_token / csrf_valid


def test_a_csrf_token_is_the_same_for_the_same_session_and_request() -> None:
    # When
    tokens = {csrf_token(SESSION, APPROVAL_ID) for _ in range(3)}

    # Then
    [token] = tokens
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token), "32 bytes, URL-safe base64 without padding"


def test_a_csrf_token_is_bound_to_the_session_and_to_the_request() -> None:
    # When
    tokens = {
        csrf_token(SESSION, APPROVAL_ID),
        csrf_token(OTHER_SESSION, APPROVAL_ID),
        csrf_token(SESSION, OTHER_ID),
        csrf_token(OTHER_SESSION, OTHER_ID),
    }

    # Then
    assert len(tokens) == 4


def test_a_csrf_token_reveals_neither_the_session_nor_the_request() -> None:
    # When
    token = csrf_token(SESSION, APPROVAL_ID)

    # Then
    assert SESSION not in token
    assert APPROVAL_ID not in token
    assert token != csrf_token(APPROVAL_ID, SESSION)


def test_the_csrf_token_of_the_session_and_request_is_valid() -> None:
    # Then
    assert csrf_valid(SESSION, APPROVAL_ID, csrf_token(SESSION, APPROVAL_ID)) is True


@pytest.mark.parametrize(
    "submitted",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param(csrf_token(SESSION, OTHER_ID), id="another-request"),
        pytest.param(csrf_token(OTHER_SESSION, APPROVAL_ID), id="another-session"),
        pytest.param(csrf_token(SESSION, APPROVAL_ID) + " ", id="trailing-space"),
        pytest.param(csrf_token(SESSION, APPROVAL_ID)[:-1], id="truncated"),
        pytest.param(csrf_token(SESSION, APPROVAL_ID).upper(), id="case-changed"),
        pytest.param(SESSION, id="the-session-itself"),
    ],
)
def test_any_other_csrf_value_is_invalid(submitted: str | None) -> None:
    # Then
    assert csrf_valid(SESSION, APPROVAL_ID, submitted) is False


def test_a_non_ascii_csrf_value_is_invalid() -> None:
    # Then
    assert csrf_valid(SESSION, APPROVAL_ID, "caf\u00e9") is False


# origin_of / same_origin


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        (BASE_URL, BASE_URL),
        (f"{BASE_URL}/approvals/x?y=1#z", BASE_URL),
        ("http://127.0.0.1:3000/prod", "http://127.0.0.1:3000"),
    ],
)
def test_the_origin_of_a_url_is_its_scheme_and_host(url: str, origin: str) -> None:
    # Then
    assert origin_of(url) == origin


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="neither-header-older-browser"),
        pytest.param({"sec-fetch-site": "same-origin"}, id="fetch-metadata-same-origin"),
        pytest.param({"sec-fetch-site": "none"}, id="fetch-metadata-user-initiated"),
        pytest.param({"origin": BASE_URL}, id="our-origin"),
        pytest.param({"sec-fetch-site": "same-origin", "origin": BASE_URL}, id="both-ours"),
        # Browsers send "Origin: null" with our Referrer-Policy: no-referrer; it tells nothing either way.
        pytest.param({"origin": "null"}, id="opaque-origin-without-fetch-metadata"),
        # Fetch Metadata, where sent, decides; the CSRF token is checked either way.
        pytest.param({"sec-fetch-site": "same-origin", "origin": "null"}, id="fetch-metadata-with-opaque-origin"),
        pytest.param({"sec-fetch-site": "same-origin", "origin": "https://evil.example"}, id="fetch-metadata-decides"),
    ],
)
def test_a_post_from_our_own_pages_is_same_origin(headers: dict[str, str]) -> None:
    # Then
    assert same_origin(headers, BASE_URL) is True


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"sec-fetch-site": "cross-site"}, id="cross-site"),
        pytest.param({"sec-fetch-site": "same-site"}, id="same-site-sibling-subdomain"),
        pytest.param({"sec-fetch-site": "cross-site", "origin": BASE_URL}, id="cross-site-despite-origin"),
        pytest.param({"origin": "https://evil.example"}, id="foreign-origin"),
        pytest.param({"origin": BASE_URL.replace("https", "http")}, id="other-scheme"),
        pytest.param({"origin": BASE_URL + ":444"}, id="other-port"),
        pytest.param({"origin": "https://abc123.execute-api.eu-west-1.amazonaws.com.evil.example"}, id="suffix-host"),
        pytest.param({"sec-fetch-site": "cross-site", "origin": "null"}, id="cross-site-opaque-origin"),
        pytest.param({"sec-fetch-site": "garbage"}, id="unknown-fetch-metadata"),
    ],
)
def test_a_post_from_anywhere_else_is_not_same_origin(headers: dict[str, str]) -> None:
    # Then
    assert same_origin(headers, BASE_URL) is False


def test_the_origin_is_compared_with_the_base_urls_origin_not_its_path() -> None:
    # Then
    assert same_origin({"origin": "http://127.0.0.1:3000"}, "http://127.0.0.1:3000/prod") is True


# LoginAttempt


def test_a_login_attempt_carries_random_state_and_a_pkce_verifier_and_its_s256_challenge() -> None:
    # When
    attempts = [LoginAttempt.start(f"/approvals/{APPROVAL_ID}") for _ in range(5)]

    # Then
    assert len({a.state for a in attempts}) == 5
    assert len({a.verifier for a in attempts}) == 5
    for attempt in attempts:
        assert attempt.next_path == f"/approvals/{APPROVAL_ID}"
        assert re.fullmatch(r"[A-Za-z0-9_-]{43,128}", attempt.verifier)
        assert attempt.challenge == s256(attempt.verifier)
        assert attempt.challenge != attempt.verifier


def test_the_s256_challenge_matches_rfc_7636s_example() -> None:
    # Given: RFC 7636, Appendix B
    attempt = LoginAttempt("state", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "/")

    # Then
    assert attempt.challenge == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@pytest.mark.parametrize("next_path", [f"/approvals/{APPROVAL_ID}", "/"])
def test_a_login_attempt_survives_its_cookie(next_path: str) -> None:
    # Given
    attempt = LoginAttempt.start(next_path)

    # When
    restored = LoginAttempt.from_cookie(attempt.cookie_value())

    # Then
    assert restored == attempt


def test_a_login_cookie_is_cookie_safe() -> None:
    # When
    value = LoginAttempt.start(f"/approvals/{APPROVAL_ID}").cookie_value()

    # Then
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", value), "no ';', ',', '=', spaces or quotes"


@pytest.mark.parametrize(
    "next_path", ["https://evil.example", "//evil.example", "/approvals/x/../../evil", "", "/\\evil.example"]
)
def test_a_login_attempt_never_starts_with_an_unsafe_next_path(next_path: str) -> None:
    # Then
    assert LoginAttempt.start(next_path).next_path == "/"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="no-cookie"),
        pytest.param("", id="empty"),
        pytest.param("state", id="one-part"),
        pytest.param("state.verifier", id="two-parts"),
        pytest.param(f"state.verifier.{_b64('/')}.extra", id="four-parts"),
        pytest.param("state.verifier.\u00e9", id="non-ascii"),
        pytest.param("state.verifier.gA", id="next-not-utf-8"),
        pytest.param("state.verifier.A", id="next-bad-base64-length"),
    ],
)
def test_a_missing_or_garbled_login_cookie_gives_no_attempt(value: str | None) -> None:
    # Then
    assert LoginAttempt.from_cookie(value) is None


@pytest.mark.parametrize(
    "next_path",
    ["https://evil.example", "//evil.example", "/auth/logout", "/approvals/a?b", "javascript:alert(1)"],
)
def test_a_login_cookie_tampered_to_point_elsewhere_gives_the_home_path(next_path: str) -> None:
    # When
    attempt = LoginAttempt.from_cookie(f"state.verifier.{_b64(next_path)}")

    # Then
    assert attempt == LoginAttempt("state", "verifier", "/")


# safe_next_path


@pytest.mark.parametrize(
    "path",
    [f"/approvals/{APPROVAL_ID}", "/approvals/a", "/approvals/" + "A" * 64, "/approvals/-_-"],
)
def test_an_approval_page_is_a_safe_next_path(path: str) -> None:
    # Then
    assert safe_next_path(path) == path


@pytest.mark.parametrize(
    "path",
    [
        None,
        "",
        "/",
        "/approvals",
        "/approvals/",
        "/approvals/" + "A" * 65,
        "/approvals/a/b",
        "/approvals/a b",
        "/approvals/a%2F..",
        "/approvals/a?next=x",
        "/approvals/a#x",
        "/approvals/\u00e9",
        "//evil.example/approvals/a",
        "https://evil.example/approvals/a",
        "/\\evil.example",
        "/APPROVALS/a",
        " /approvals/a",
    ],
)
def test_anything_else_is_replaced_by_the_home_path(path: str | None) -> None:
    # Then
    assert safe_next_path(path) == "/"


def test_a_next_path_with_a_trailing_newline_is_replaced_by_the_home_path() -> None:
    # Then
    assert safe_next_path("/approvals/a\n") == "/"


# sessions: the opaque id, what the server stores, and when a session ends


def test_a_session_id_is_256_random_bits_url_safe_and_new_every_time() -> None:
    # When
    ids = {new_session_id() for _ in range(50)}

    # Then
    assert len(ids) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", i) for i in ids), "32 bytes, URL-safe base64 without padding"


def test_the_server_keeps_the_sha256_of_a_secret_never_the_secret() -> None:
    # Given
    secret = new_session_id()

    # When
    digest = digest_of(secret)

    # Then
    assert digest == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in digest and digest_of(secret + "x") != digest


def test_a_non_ascii_cookie_value_has_a_digest_too() -> None:
    # Then: a forged cookie may hold anything; looking it up must not raise
    assert len(digest_of("\udcff\u00e9")) == 64


_NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
_PERSON = Approver("s-1", "u-1", "a@example.com", "Ann", frozenset({"approvers-test"}))


def _started(idle: int = 30, most: int = 480) -> Session:
    return Session.start(
        "d", _PERSON, _NOW - timedelta(minutes=1), _NOW, timedelta(minutes=idle), timedelta(minutes=most)
    )


def test_a_session_ends_when_unused_for_the_idle_time_or_at_its_absolute_end_whichever_comes_first() -> None:
    # Given
    session = _started()

    # Then
    assert session.is_live(_NOW + timedelta(minutes=29, seconds=59))
    assert not session.is_live(_NOW + timedelta(minutes=30))
    assert session.seen(_NOW + timedelta(minutes=29), timedelta(minutes=30)).is_live(_NOW + timedelta(minutes=58))
    assert session.expires_at == _NOW + timedelta(hours=8)


def test_being_seen_never_carries_a_session_past_its_absolute_end() -> None:
    # Given
    session = _started()

    # When
    late = session.seen(_NOW + timedelta(hours=7, minutes=50), timedelta(minutes=30))

    # Then
    assert late.idle_expires_at == session.expires_at
    assert not late.is_live(_NOW + timedelta(hours=8))


def test_an_idle_limit_longer_than_the_absolute_one_ends_at_the_absolute_one() -> None:
    # When
    session = _started(idle=600, most=60)

    # Then
    assert session.idle_expires_at == session.expires_at == _NOW + timedelta(hours=1)
