"""The operators' console in a real browser: every version's stages, the pending approvals, one version's story.

The console reads the embedded AWS through the AWS APIs only; these tests drive the workflow through its
public interfaces (registry, approval links) and read what an operator would see.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import requests

DOCS = Path(__file__).resolve().parents[2] / "docs"
STAGES = ("dev", "test", "uat", "prod")
APPROVER_NAMES = {"dev": "Dana Dev", "test": "Theo Test", "uat": "Uma Uat", "prod": "Priya Prod"}


def _screenshot_path(tmp_path: Path, name: str) -> Path:
    """docs/ gets the README's screenshots only when asked (`make screenshots`); test runs keep the tree clean."""
    return (DOCS if os.environ.get("SAVE_SCREENSHOTS") else tmp_path) / name


def _status(data: dict[str, Any], promotion: Any) -> dict[str, str] | None:
    row = next(
        (v for v in data["versions"] if (v["group"], v["version"]) == (promotion.group, promotion.version)), None
    )
    return {cell["stage"]: cell["status"] for cell in row["stages"]} if row else None


def _console_json(stack: Any) -> dict[str, Any]:
    answer = requests.get(f"{stack.api_url}/console.json", timeout=30)
    answer.raise_for_status()
    return answer.json()


def _row(page: Any, promotion: Any) -> Any:
    return page.locator(f"#versions tr[data-group='{promotion.group}'][data-version='{promotion.version}']")


def test_the_console_shows_every_version_its_stages_and_one_versions_story(page, stack, promotion_factory, tmp_path):
    from playwright.sync_api import expect

    # Given one version approved through prod, one rejected at test and one waiting for its dev approver
    approved = promotion_factory("console-approved")
    for stage in STAGES:
        answer = approved.decide(stage, "approve", f"{stage} checked")
        assert answer.status_code == 200, answer.text
    assert approved.finish()["status"] == "SUCCEEDED"
    rejected = promotion_factory("console-rejected")
    assert rejected.decide("dev", "approve", "dev checked").status_code == 200
    assert rejected.decide("test", "reject", "Recall on the test batch is too low").status_code == 200
    assert rejected.finish()["status"] == "FAILED"
    pending = promotion_factory("console-pending")
    pending.approval_email("dev")
    expected = [
        (approved, dict.fromkeys(STAGES, "approved")),
        (rejected, {"dev": "approved", "test": "rejected", "uat": "none", "prod": "none"}),
        (pending, {"dev": "pending", "test": "none", "uat": "none", "prod": "none"}),
    ]

    def showing_all() -> dict[str, Any] | None:
        data = _console_json(stack)
        return data if all(_status(data, p) == statuses for p, statuses in expected) else None

    # (the console caches its reads for a couple of seconds)
    data = stack.wait_for("the console to show the three versions", showing_all)

    # When an operator opens the console
    page.goto(f"{stack.api_url}/console?refresh=0")

    # Then every version shows its status per stage, with who decided
    for promotion, statuses in expected:
        for stage, status in statuses.items():
            expect(_row(page, promotion).locator(f"td[data-stage='{stage}']")).to_have_class(
                re.compile(rf"(^|\s)status-{status}(\s|$)")
            )
    for stage in STAGES:
        expect(_row(page, approved).locator(f"td[data-stage='{stage}']")).to_contain_text(f"by {APPROVER_NAMES[stage]}")
    expect(_row(page, approved)).to_contain_text("SUCCEEDED")
    expect(_row(page, rejected).locator("td[data-stage='dev']")).to_contain_text("by Dana Dev")
    expect(_row(page, rejected).locator("td[data-stage='test']")).to_contain_text("by Theo Test")
    expect(_row(page, rejected)).to_contain_text("FAILED")
    expect(_row(page, pending).locator("td[data-stage='dev']")).to_contain_text("expires in")
    expect(_row(page, pending)).to_contain_text("RUNNING")

    # And the pending approval is listed with its age, expiry and approver
    request = page.locator(f"#pending tr[data-group='{pending.group}'][data-stage='dev']")
    expect(request).to_contain_text("dana.dev@example.com")
    expect(request).to_contain_text(re.compile(r"\(in \d+m \d\ds\)"))
    [listed] = [p for p in data["pendingApprovals"] if p["group"] == pending.group]
    assert listed["stage"] == "dev" and not listed["overdue"] and 0 <= listed["ageSeconds"] < 120
    assert 3000 < listed["expiresInSeconds"] <= 3600  # the local ApprovalTimeoutSeconds is an hour
    # And the email outbox links each email to its page
    assert all(m["url"] == f"/outbox/{m['index']}" for m in data["outbox"])
    page.screenshot(path=str(_screenshot_path(tmp_path, "console.png")), full_page=True)

    # When they open the waiting version's page
    request.get_by_role("link", name=f"version {pending.version}").click()

    # Then it shows its stages, its execution as a timeline, its emails and an empty audit record
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{pending.group} version {pending.version}")
    expect(page.locator("#stages tr[data-stage='dev'] td.status")).to_have_class(re.compile(r"status-pending"))
    waiting = page.locator("#timeline tr", has_text="Await stage approval")
    expect(waiting).to_have_count(1)
    expect(waiting).to_contain_text("waiting")
    expect(waiting).to_contain_text("dev")
    expect(page.locator("#timeline")).to_contain_text("Check registered metrics")
    expect(page.locator("#metrics tr[data-stage='registered']")).to_contain_text("all quality gates passed")
    expect(page.locator("#audit")).to_contain_text("No decision recorded yet")
    subject = f"Approval needed: {pending.group} version {pending.version} for dev"
    expect(page.locator("#emails").get_by_role("link", name=subject)).to_be_visible()
    pending_page = page.url

    # When they open the approved version's page from the console
    page.goto(f"{stack.api_url}/console?refresh=0")
    _row(page, approved).get_by_role("link", name=str(approved.version)).click()

    # Then its audit record holds every signature, and each approved stage's batch shows its metrics
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{approved.group} version {approved.version}")
    for stage in STAGES:
        entry = page.locator(f"#audit tr[data-stage='{stage}']")
        expect(entry).to_contain_text(f"approved for {stage}")
        expect(entry).to_contain_text(APPROVER_NAMES[stage])
        expect(entry).to_contain_text(f"{stage} checked")
        expect(page.locator(f"#stages tr[data-stage='{stage}']")).to_contain_text("live")
    for stage in ("dev", "test", "uat"):
        batch = page.locator(f"#metrics tr[data-stage='{stage}']")
        expect(batch.locator("td[data-metric='rows']")).to_have_text(re.compile(r"^[1-9]\d*$"))
        for metric in ("accuracy", "roc_auc"):
            expect(batch.locator(f"td[data-metric='{metric}']")).to_have_text(re.compile(r"^(0\.\d{4}|1\.0000)$"))
    expect(page.locator("#metrics tr[data-stage='prod']")).to_have_count(0)  # nothing is scored after prod
    expect(page.locator("#timeline")).to_contain_text("Promoted through every stage")
    expect(page.locator("#timeline")).to_contain_text("approved for prod by Priya Prod")

    # And the rejected version's page shows the rejection, its reason and how the execution ended
    page.goto(f"{stack.api_url}/console/versions/{rejected.group}/{rejected.version}?refresh=0")
    expect(page.locator("#audit tr[data-stage='test']")).to_contain_text("Recall on the test batch is too low")
    expect(page.locator("#stages tr[data-stage='test'] td.status")).to_have_class(re.compile(r"status-rejected"))
    expect(page.locator("#timeline")).to_contain_text("ApprovalRejected")

    # When they follow the waiting version's email from the console to its review link
    page.goto(pending_page)
    page.locator("#emails").get_by_role("link", name=subject).click()
    page.get_by_role("link", name="Review and decide").click()

    # Then the review page asks them to sign in first: the console gives no way around it
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to review this request")

    # And no page or JSON of the console shows a task token
    tokens = approved.task_tokens() | rejected.task_tokens() | pending.task_tokens()
    assert tokens
    urls = ["/console", "/console.json"]
    for promotion, _ in expected:
        url = f"/console/versions/{promotion.group}/{promotion.version}"
        urls += [url, f"{url}.json"]
    for url in urls:
        text = requests.get(f"{stack.api_url}{url}", timeout=30).text
        assert "taskToken" not in text, url
        assert not [t for t in tokens if t in text], url


def test_the_console_refreshes_on_its_own(page, stack, promotion_factory):
    from playwright.sync_api import expect

    # Given the console open while a version waits for its dev approver
    promotion = promotion_factory("console-refresh")
    promotion.approval_email("dev")
    stack.wait_for(
        "the console to show the pending request",
        lambda: (_status(_console_json(stack), promotion) or {}).get("dev") == "pending",
    )
    page.goto(f"{stack.api_url}/console?refresh=1")
    cell = _row(page, promotion).locator("td[data-stage='dev']")
    expect(cell).to_have_class(re.compile(r"status-pending"))

    # When the approver approves, and nobody touches the console
    assert promotion.decide("dev", "approve", "dev checked").status_code == 200

    # Then the page shows the approval by itself, and the test stage's request as pending
    expect(cell).to_have_class(re.compile(r"status-approved"), timeout=20_000)
    expect(cell).to_contain_text("by Dana Dev")
    expect(_row(page, promotion).locator("td[data-stage='test']")).to_have_class(
        re.compile(r"status-pending"), timeout=20_000
    )


def test_an_unknown_version_is_a_clear_not_found_page(page, stack):
    answer = page.goto(f"{stack.api_url}/console/versions/no-such-group/7")
    assert answer is not None and answer.status == 404
    assert "No such version" in page.inner_text("h1")
    assert requests.get(f"{stack.api_url}/console/versions/no-such-group/7.json", timeout=30).status_code == 404
    assert requests.get(f"{stack.api_url}/console/versions/<script>/1", timeout=30).status_code == 404


@pytest.fixture(autouse=True)
def _no_stray_hosts(page):
    """Pages must not reach outside the machine: every request goes to the embedded stack on 127.0.0.1."""
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    yield
    assert all(url.startswith(("http://127.0.0.1:", "data:")) for url in seen), seen
