"""Sessions in a real browser: the `__Host-` cookie Chromium keeps on http://127.0.0.1, signing out (here and at the
hosted UI), and signing in again at signing, the decision and comment kept."""

from __future__ import annotations

import hashlib

import pytest

from embedded_aws.demo_users import DEMO_PASSWORD
from stack_helpers import SESSION_COOKIE, register

APPROVER = "dana.dev@example.com"


def _sign_in_from_the_link(page, link: str, approver: str = APPROVER) -> None:
    page.goto(link)
    page.get_by_role("link", name="Sign in").click()
    page.fill("#username", approver)
    page.fill("#password", DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _session_cookie(page) -> dict:
    [cookie] = [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]
    return cookie


def _age_sign_in(stack, page, minutes: int) -> None:
    """As if the approver had signed in `minutes` ago: the session's authTime, moved back through DynamoDB's API."""
    digest = hashlib.sha256(_session_cookie(page)["value"].encode()).hexdigest()
    stack.client("dynamodb").update_item(
        TableName=stack.resources["SessionsTable"],
        Key={"pk": {"S": f"session#{digest}"}},
        UpdateExpression="SET authTime = authTime - :age",
        ExpressionAttributeValues={":age": {"N": str(minutes * 60)}},
        ConditionExpression="attribute_exists(pk)",
    )


def test_chromium_keeps_the_host_prefixed_secure_session_cookie_on_plain_http_loopback(
    page, single_stage_stack, demo_assets
):
    # Given a pending approval on the embedded AWS (plain http on 127.0.0.1)
    promotion = register(single_stage_stack, demo_assets, "browser-cookie")

    # When the approver signs in from the link
    _sign_in_from_the_link(page, promotion.link("dev"))

    # Then Chromium kept the Secure, HttpOnly, Lax __Host- cookie (127.0.0.1 is a secure context) and uses it
    cookie = _session_cookie(page)
    assert (cookie["secure"], cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, True, "Lax", "/")
    assert cookie["domain"] == "127.0.0.1" and len(cookie["value"]) == 43
    assert page.get_by_role("heading", level=1).inner_text().startswith("Approve ")


def test_signing_out_in_the_browser_ends_the_session_and_the_hosted_uis(page, browser, single_stage_stack, demo_assets):
    # Given an approver on a review page
    promotion = register(single_stage_stack, demo_assets, "browser-logout")
    link = promotion.link("dev")
    _sign_in_from_the_link(page, link)
    stolen = _session_cookie(page)

    # When they press Sign out
    page.get_by_role("button", name="Sign out").click()

    # Then they are signed out here and at the hosted UI
    assert page.get_by_role("heading", level=1).inner_text() == "Signed out"
    assert not [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]

    # And the link shows the sign-in page again, and signing in asks for the password
    page.goto(link)
    assert page.get_by_role("heading", level=1).inner_text() == "Sign in to review this request"
    page.get_by_role("link", name="Sign in").click()
    assert page.locator("#password").is_visible()

    # And the old cookie, replayed in another browser, opens nothing
    other = browser.new_context()
    try:
        other.add_cookies([{k: stolen[k] for k in ("name", "value", "domain", "path", "secure", "httpOnly")}])
        replay = other.new_page()
        replay.goto(link)
        assert replay.get_by_role("heading", level=1).inner_text() == "Sign in to review this request"
    finally:
        other.close()
    assert not promotion.decisions()


def test_signing_the_last_stage_with_an_old_sign_in_asks_for_the_password_and_keeps_the_comment(
    page, single_stage_stack, demo_assets
):
    # Given the approver of the only (so last) stage, on its review page, signed in 11 minutes ago
    promotion = register(single_stage_stack, demo_assets, "browser-reauth")
    _sign_in_from_the_link(page, promotion.link("dev"))
    _age_sign_in(single_stage_stack, page, 11)

    # When they write a comment and press Approve
    page.fill("#comment", "Holdout metrics checked")
    page.get_by_role("button", name="Approve").click()

    # Then the hosted UI asks for the password again (prompt=login), though it holds a sign-in of its own
    assert page.get_by_role("heading", level=1).inner_text() == "Sign in"
    assert "prompt=login" in page.url or page.locator("#password").is_visible()
    assert not promotion.decisions()

    # When they sign in, Then the review page is back with their comment, and nothing is signed yet
    page.fill("#username", APPROVER)
    page.fill("#password", DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Approve ")
    assert page.input_value("#comment") == "Holdout metrics checked"
    assert "press Approve again to sign" in page.inner_text("body")
    assert not promotion.decisions()

    # When they press Approve again, Then it is signed, with the comment
    page.get_by_role("button", name="Approve").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Recorded: approved"
    assert promotion.finish()["status"] == "SUCCEEDED"
    [entry] = promotion.audit_entries()
    assert entry["comment"] == "Holdout metrics checked"


@pytest.fixture(autouse=True)
def _no_stray_hosts(page):
    """Pages must not reach outside the machine: every request goes to the embedded stack on 127.0.0.1."""
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    yield
    assert all(url.startswith("http://127.0.0.1:") for url in seen), seen
