"""A stage that needs two approvers, in a real browser: the first approval says "1 of 2" and the stage waits, the
second approver's review page shows who approved before and when, and the second approval resumes the promotion."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from embedded_aws.client import StackClient
from embedded_aws.demo_users import DEMO_PASSWORD
from embedded_aws.scenario import publish_batches
from stack_helpers import register, start_stack

PRIYA = "priya.prod@example.com"
OMAR = "omar.ops@example.com"


@pytest.fixture(scope="module")
def quorum_stack(tmp_path_factory: pytest.TempPathFactory, demo_assets: Any) -> Iterator[StackClient]:
    overrides = {
        "Stages": "prod",
        "StageApprovers": f"prod={PRIYA},{OMAR}",
        "StageQuorum": "prod=2",
        "QualityGates": "{}",
    }
    for client in start_stack(tmp_path_factory, "browser-quorum", overrides):
        publish_batches(client, demo_assets)
        yield client


def _approve_as(browser: Any, link: str, approver: str, comment: str) -> Any:
    """A new browser of the approver's: sign in from the link, read the page, approve."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(link)
    page.get_by_role("link", name="Sign in").click()
    page.fill("#username", approver)
    page.fill("#password", DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    return page


def test_two_approvers_sign_prod_one_after_the_other_and_each_sees_the_progress(browser, quorum_stack, demo_assets):
    # Given a version waiting for prod, which needs two distinct approvers
    promotion = register(quorum_stack, demo_assets, "browser-quorum")

    # When Priya signs in from her email and approves
    priya = _approve_as(browser, promotion.link("prod", PRIYA), PRIYA, "ship it")
    assert "0 of 2 approvals" in priya.get_by_role("status").first.inner_text()
    priya.fill("#comment", "ship it")
    priya.get_by_role("button", name="Approve").click()

    # Then her page says the approval is recorded, one of two, and the promotion waits
    assert priya.get_by_role("heading", level=1).inner_text() == "Recorded: approved (1 of 2)"
    assert (
        quorum_stack.client("stepfunctions").describe_execution(executionArn=promotion.execution_arn)["status"]
        == "RUNNING"
    )
    # and reopening her link says her approval is already counted, with no form to sign twice
    priya.goto(promotion.link("prod", PRIYA))
    assert priya.get_by_role("heading", level=1).inner_text() == "Your approval is already counted"
    assert priya.locator("button[value=approve]").count() == 0

    # When Omar opens his link, his review page shows who approved before him
    omar = _approve_as(browser, promotion.link("prod", OMAR), OMAR, "agreed")
    progress = omar.get_by_role("status").first.inner_text()
    assert "1 of 2 approvals: Priya Prod <priya.prod@example.com> at" in progress
    omar.fill("#comment", "agreed")
    omar.get_by_role("button", name="Approve").click()

    # Then the stage is approved by both, and the promotion ends
    assert omar.get_by_role("heading", level=1).inner_text() == "Recorded: approved"
    assert "Signed by Priya Prod <priya.prod@example.com>, Omar Ops <omar.ops@example.com>" in omar.inner_text("body")
    assert promotion.finish()["status"] == "SUCCEEDED"
    assert [a["by"] for a in promotion.ssm_record("prod")["approvers"]] == [PRIYA, OMAR]
