"""The operators' console in a real Chromium against the embedded AWS: the product's OperatorConsoleFunction behind
the HTTP API, signed in through the hosted UI stand-in as a member of the operators' group.

Everything is set up through public interfaces (the registry, S3, approval links) and read as an operator would.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest

from embedded_aws.demo_users import DEMO_PASSWORD, OPERATOR
from embedded_aws.scenario import publish_model
from stack_helpers import Promotion, new_group, register

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _screenshot_path(tmp_path: Path, name: str) -> Path:
    """docs/ gets the README's screenshots only when asked (`make screenshots`); test runs keep the tree clean."""
    return (DOCS if os.environ.get("SAVE_SCREENSHOTS") else tmp_path) / name


def _sign_in(page, email: str) -> None:
    """From the console's own sign-in page, through the hosted UI, back to the console."""
    page.get_by_role("link", name="Sign in").click()
    page.fill("#username", email)
    page.fill("#password", DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_an_operator_sees_what_waits_and_failed_filters_while_it_refreshes_and_retries_a_failed_version(
    page, stack, demo_assets, tmp_path
):
    from playwright.sync_api import expect

    # Given a group whose versions 1 and 2 were approved for dev and test (their dev batches scored), and whose
    # version 3 failed after its dev approval: its model artifact was not where the registry said
    group = new_group("console")
    first = register(stack, demo_assets, "console", group=group)
    other = register(stack, demo_assets, "console", group=group)
    for promotion in (first, other):
        for stage in ("dev", "test"):
            assert promotion.decide(stage, "approve", f"{stage} checked").status_code == 200
    missing = f"console-late-{uuid.uuid4().hex[:8]}/model.tar.gz"
    failed = register(stack, demo_assets, "console", group=group, model_key=missing)
    assert failed.decide("dev", "approve", "dev checked").status_code == 200
    assert failed.finish(timeout=90)["error"] == "PromotionFailed"
    # and, in another group, a version waiting for its dev approver
    waiting = register(stack, demo_assets, "console-waiting")
    waiting.approval_email("dev")

    # When an operator opens the console (refreshing every 2 s) and signs in
    page.goto(f"{stack.api_url}/console?refresh=2")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to the operators' console")
    _sign_in(page, OPERATOR)

    # Then they see what waits for whom and since when, and what failed and why
    expect(page.get_by_role("heading", level=1)).to_have_text("Model promotion console")
    expect(page.locator("header")).to_contain_text(f"Signed in as Oscar Operator <{OPERATOR}>")
    request = page.locator(f"#pending tr[data-group='{waiting.group}'][data-stage='dev']")
    expect(request).to_contain_text("dana.dev@example.com")
    expect(request).to_contain_text(re.compile(r"\(\d+[sm].* ago\)"))
    # (version 1's uat request follows its test batch: a refresh brings it)
    expect(page.locator(f"#pending tr[data-group='{group}'][data-version='1'][data-stage='uat']")).to_have_count(
        1, timeout=30_000
    )
    failure = page.locator(f"#failed tr[data-group='{group}'][data-version='{failed.version}']")
    expect(failure).to_contain_text("PromotionFailed")
    expect(failure).to_contain_text("model artifact")
    page.screenshot(path=str(_screenshot_path(tmp_path, "console.png")), full_page=True)

    # When they type a group into the filter while the page refreshes its data
    box = page.locator("#group-filter")
    box.click()
    box.press_sequentially(group[:-3])
    region = page.locator("#data")
    refreshes = int(region.get_attribute("data-refreshes") or "0")
    expect(region).not_to_have_attribute("data-refreshes", str(refreshes), timeout=15_000)

    # Then the refresh left the typed text and the focus alone
    expect(box).to_have_value(group[:-3])
    expect(box).to_be_focused()

    # When they finish typing and filter on the group
    box.press_sequentially(group[-3:])
    box.press("Enter")

    # Then only that group's versions are listed, each with its state and per-stage status
    rows = page.locator("#versions tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator(f"#versions tr[data-version='{failed.version}']")).to_have_attribute("data-state", "failed")
    expect(page.locator("#versions tr[data-version='1'] td[data-stage='test']")).to_contain_text(
        "by theo.test@example.com"
    )
    expect(page.locator(f"#pending tr[data-group='{waiting.group}']")).to_have_count(0)

    # When they follow the failed version to its page
    page.locator(f"#versions tr[data-version='{failed.version}']").get_by_role("link").click()

    # Then its timeline tells the story and the chart shows the group's dev batch by version
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{group} version {failed.version}")
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("registered")
    expect(timeline).to_contain_text("approved for dev")
    expect(timeline).to_contain_text("promotion ended, FAILED: PromotionFailed")
    chart = page.locator("#metrics figure[data-stage='dev'] svg")
    for version in (1, 2):
        expect(chart.locator(f"circle[data-metric='accuracy'][data-version='{version}']")).to_have_count(1)
    expect(chart.locator("path[data-metric='accuracy']")).to_have_count(1)
    expect(
        page.locator("#metrics-table tr[data-version='1'][data-stage='dev'] td[data-metric='accuracy']")
    ).to_have_text(re.compile(r"^(0\.\d{4}|1\.0000)$"))

    # When the artifact is put in place and the operator retries with a reason
    publish_model(stack, demo_assets.model_archive, missing)
    page.fill("#retry-reason", "the model artifact is uploaded now")
    page.get_by_role("button", name="Retry").click()

    # Then a second attempt starts from test, and the audit log names the operator and the reason
    expect(page.get_by_role("heading", level=1)).to_have_text("Promotion retried")
    expect(page.locator("#data")).to_contain_text(f"Started attempt 2 from test ({group}-v{failed.version}-attempt2)")
    retried = [e for e in failed.audit_entries() if e["outcome"] == "retried"]
    assert [(e["actor"], e["reason"]) for e in retried] == [
        (f"Oscar Operator <{OPERATOR}>", "the model artifact is uploaded now")
    ]

    # And the retried attempt asks the test approvers, and the version's timeline shows who retried it
    second = Promotion(stack, group, failed.version, failed.package_arn, retried[0]["executionArn"])
    page.get_by_role("link", name=f"{group} version {failed.version}").click()
    email = second.approval_email("test")
    assert "accuracy" in email["text"]  # the dev batch was scored again: the test approvers see its evidence
    assert second.decide("test", "approve", "test checked after the retry").status_code == 200
    expect(page.locator("#timeline tr[data-outcome='retried']")).to_contain_text(f"Oscar Operator <{OPERATOR}>")
    # and the chart now draws the retried version's dev batch beside the others
    expect(chart.locator(f"circle[data-metric='accuracy'][data-version='{failed.version}']")).to_have_count(
        1, timeout=30_000
    )

    # And no console page shows a task token
    tokens = first.task_tokens() | other.task_tokens() | second.task_tokens() | waiting.task_tokens()
    assert tokens
    for path in ("/console", f"/console/versions/{group}/{failed.version}", f"/console/versions/{group}/1"):
        page.goto(f"{stack.api_url}{path}?refresh=0")
        assert not [t for t in tokens if t in page.content()], path


def test_a_signed_in_approver_who_is_not_an_operator_is_refused_and_shown_nothing(page, stack, promotion_factory):
    from playwright.sync_api import expect

    # Given a version waiting for its dev approver
    waiting = promotion_factory("console-refused")
    waiting.approval_email("dev")

    # When that approver, signed in, opens the console
    page.goto(f"{stack.api_url}/console")
    _sign_in(page, "dana.dev@example.com")

    # Then the console refuses them, shows nothing of the promotions, and gives them no session
    expect(page.get_by_role("heading", level=1)).to_have_text("Operators only")
    expect(page.locator("body")).to_contain_text("not in the user pool group operators")
    assert waiting.group not in page.content()
    assert "__Host-console_session" not in {c["name"] for c in page.context.cookies()}
    answer = page.goto(f"{stack.api_url}/console/versions/{waiting.group}/{waiting.version}")
    assert answer is not None and answer.status == 401  # (its sign-in link returns to the address they typed)
    assert waiting.group not in page.locator("main").inner_text() and "dana.dev" not in page.content()


def test_an_unknown_version_is_a_clear_not_found_page(page, stack):
    from playwright.sync_api import expect

    page.goto(f"{stack.api_url}/console/versions/no-such-group/7")
    _sign_in(page, OPERATOR)
    expect(page.get_by_role("heading", level=1)).to_have_text("No such version")
    answer = page.goto(f"{stack.api_url}/console/versions/%3Cscript%3E/1")
    assert answer is not None and answer.status == 404


@pytest.fixture(autouse=True)
def _no_stray_hosts(page):
    """Pages must not reach outside the machine: every request goes to the embedded stack on 127.0.0.1."""
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    yield
    assert all(url.startswith(("http://127.0.0.1:", "data:")) for url in seen), seen
