"""A person's path in a real browser: the outbox email, the sign-in, the review page, the decision."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from embedded_aws.demo_users import DEMO_PASSWORD

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _screenshot_path(tmp_path: Path, name: str) -> Path:
    """docs/ gets the README's screenshots only when asked (`make screenshots`); test runs keep the tree clean."""
    return (DOCS if os.environ.get("SAVE_SCREENSHOTS") else tmp_path) / name


def _open_from_outbox_and_sign_in(page, stack, email, approver):
    page.goto(f"{stack.api_url}/outbox")
    page.get_by_role("link", name=email["subject"]).first.click()
    page.get_by_role("link", name="Review and decide").click()
    # Not signed in yet: the link leads to the sign-in page, not to the request.
    page.get_by_role("link", name="Sign in").click()
    page.fill("#username", approver)
    page.fill("#password", DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_an_approver_signs_in_from_the_emailed_link_reviews_and_approves(page, stack, promotion_factory, tmp_path):
    # Given a version approved for dev, whose test approval email waits in the outbox
    promotion = promotion_factory("browser-approve")
    promotion.decide("dev", "approve", "dev ok")
    email = promotion.approval_email("test")

    # When the test approver opens it, signs in and reads the review page
    _open_from_outbox_and_sign_in(page, stack, email, "theo.test@example.com")

    # Then the page shows what is being signed: model, version, stage and the dev batch metrics
    heading = page.get_by_role("heading", level=1)
    assert heading.inner_text() == f"Approve {promotion.group} version {promotion.version} for test?"
    body = page.inner_text("body")
    assert promotion.package_arn in body
    assert "Signed in as Theo Test <theo.test@example.com>" in body
    for label in ("Batch run on", "Rows scored", "Accuracy", "ROC AUC"):
        assert label in body
    page.screenshot(path=str(_screenshot_path(tmp_path, "review-page.png")), full_page=True)

    # When they approve with a comment
    page.fill("#comment", "Test metrics reviewed")
    page.get_by_role("button", name="Approve").click()

    # Then the decision is recorded and the execution moves on to uat
    assert page.get_by_role("heading", level=1).inner_text() == "Recorded: approved"
    assert promotion.approval_email("uat")
    assert promotion.ssm_record("test")["approvedBy"] == "theo.test@example.com"

    # And the signature shows in the audit record, the registry and the execution history
    [entry] = [e for e in promotion.audit_entries() if e["stage"] == "test"]
    assert (entry["actorName"], entry["actor"], entry["meaning"]) == (
        "Theo Test",
        "theo.test@example.com",
        "approved for test",
    )
    assert entry["comment"] == "Test metrics reviewed"
    assert promotion.describe()["CustomerMetadataProperties"]["test-signed-by"] == "theo.test@example.com"
    outputs = [e["taskSucceededEventDetails"]["output"] for e in promotion.history() if e["type"] == "TaskSucceeded"]
    assert any('"approverName": "Theo Test"' in o and '"meaning": "approved for test"' in o for o in outputs)


def test_an_approver_rejects_with_a_reason_in_the_browser(page, stack, promotion_factory):
    # Given a pending dev approval
    promotion = promotion_factory("browser-reject")
    email = promotion.approval_email("dev")
    _open_from_outbox_and_sign_in(page, stack, email, "dana.dev@example.com")

    # When the approver presses Reject without a reason, then again with one
    page.get_by_role("button", name="Reject").click()
    assert "A rejection needs a reason" in page.inner_text("body")
    page.fill("#comment", "Precision on the dev batch is below our bar")
    page.get_by_role("button", name="Reject").click()

    # Then the rejection is recorded with its reason and the promotion ends as rejected
    assert page.get_by_role("heading", level=1).inner_text() == "Recorded: rejected"
    result = promotion.finish()
    assert result["status"] == "FAILED" and result["error"] == "ApprovalRejected"
    assert "Precision on the dev batch is below our bar" in result["cause"]


def test_the_review_page_reads_well_on_a_phone(phone_page, stack, promotion_factory, tmp_path):
    # Given a pending dev approval opened on a phone-sized screen
    promotion = promotion_factory("browser-phone")
    email = promotion.approval_email("dev")
    _open_from_outbox_and_sign_in(phone_page, stack, email, "dana.dev@example.com")

    # Then nothing overflows sideways and both buttons are on screen at full width
    overflow = phone_page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    for name in ("Approve", "Reject"):
        box = phone_page.get_by_role("button", name=name).bounding_box()
        assert box is not None and box["width"] > 300
    phone_page.screenshot(path=str(_screenshot_path(tmp_path, "review-page-phone.png")), full_page=True)


@pytest.fixture(autouse=True)
def _no_stray_hosts(page):
    """Pages must not reach outside the machine: every request goes to the embedded stack on 127.0.0.1."""
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    yield
    assert all(url.startswith("http://127.0.0.1:") for url in seen), seen
