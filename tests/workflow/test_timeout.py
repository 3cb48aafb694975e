"""An approval nobody decides: reminded before it expires, then expired, recorded, notified, escalated."""

from __future__ import annotations

import pytest

from stack_helpers import REGISTRANT, register

pytestmark = pytest.mark.workflow
ESCALATION = "ml-leads@example.com"


def test_an_undecided_stage_is_reminded_then_expires_and_is_escalated(short_timeout_stack, demo_assets):
    # Given a stack whose approvals expire after 3 seconds, with reminders 2 seconds before
    promotion = register(short_timeout_stack, demo_assets, "expiry")
    link = promotion.link("dev")

    # When nobody decides
    result = promotion.finish(timeout=30)

    # Then the approver got one reminder, with a link of its own to the same request
    reminders = [m for m in promotion.emails() if m["subject"].startswith("Reminder, expires ")]
    assert len(reminders) == 1 and reminders[0]["to"] == [promotion.approvers("dev")[0]]
    assert promotion.stack.links(reminders[0]) != [link]

    # And the execution ends as expired, not as a generic failure
    assert result["status"] == "FAILED"
    assert result["error"] == "ApprovalExpired"
    assert "expired" in result["cause"]

    # And the registry records the stage as expired, leaving the version's status alone
    described = promotion.describe()
    assert described["CustomerMetadataProperties"]["dev"] == "Expired"
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert promotion.ssm_record("dev") is None
    assert [e["outcome"] for e in promotion.audit_entries()] == ["expired"]

    # And the registrant and the escalation group are told
    notice = next(m for m in promotion.emails() if m["subject"].endswith("dev expired without a decision"))
    assert notice["to"] == [REGISTRANT, ESCALATION]

    # And both links now answer that the request expired, changing nothing
    for url in (link, *promotion.stack.links(reminders[0])):
        late = short_timeout_stack.signed_in(promotion.approvers("dev")[0]).get(url)
        assert late.status_code == 410 and "expired" in late.text
    assert promotion.describe()["CustomerMetadataProperties"]["dev"] == "Expired"
