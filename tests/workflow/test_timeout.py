"""An approval nobody decides expires: recorded, notified, and the link says so."""

from __future__ import annotations

import pytest

from stack_helpers import REGISTRANT, register

pytestmark = pytest.mark.workflow


def test_an_undecided_stage_expires_and_the_registrant_is_told(short_timeout_stack, demo_assets):
    # Given a stack whose approvals time out after 2 seconds, and a registered version
    promotion = register(short_timeout_stack, demo_assets, "expiry")
    link = promotion.link("dev")

    # When nobody decides
    result = promotion.finish(timeout=30)

    # Then the execution ends as expired, not as a generic failure
    assert result["status"] == "FAILED"
    assert result["error"] == "ApprovalExpired"
    assert "expired" in result["cause"]

    # And the registry records the stage as expired, leaving the version's status alone
    described = promotion.describe()
    assert described["CustomerMetadataProperties"]["dev"] == "Expired"
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert promotion.ssm_record("dev") is None
    assert [e["outcome"] for e in promotion.audit_entries()] == ["expired"]

    # And the registrant is notified, and the link now answers that it expired, changing nothing
    notice = next(m for m in promotion.emails() if m["subject"].endswith("dev expired without a decision"))
    assert notice["to"] == [REGISTRANT]
    late = short_timeout_stack.signed_in(promotion.approvers("dev")[0]).get(link)
    assert late.status_code == 410
    assert "expired" in late.text
    assert promotion.describe()["CustomerMetadataProperties"]["dev"] == "Expired"
