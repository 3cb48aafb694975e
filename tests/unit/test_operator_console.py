"""The operators' console with fakes: who may see it, what it shows, the refresh of its data region, and its
audited actions. The browser test (tests/browser/test_console.py) drives the same pages in Chromium."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from builders import CONSOLE_ENV, approver_claims
from fakes import (
    Clock,
    FakeApprovalStore,
    FakeDecisionLog,
    FakeDirectory,
    FakeExecutions,
    FakeMailer,
    FakeModelVersions,
    FakeRegistry,
    FakeSessionStore,
    FakeSignIn,
    FakeWorkflow,
)
from test_operations import GROUP, NOW, description, pending_request

from model_promotion.config import OperatorConsoleSettings
from model_promotion.domain.registration import execution_name
from model_promotion.domain.web_security import csrf_token
from model_promotion.handlers._http import http_response
from model_promotion.ports import DirectoryEntry
from model_promotion.services.operator_console import (
    ACTION_PURPOSE,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    OperatorConsole,
)
from model_promotion.services.web_sessions import HttpRequest, HttpResponse

BASE = "https://abc123.execute-api.us-east-1.amazonaws.com"
OPERATOR_TOKEN = "id-token-of-olive"
APPROVER_TOKEN = "id-token-of-an-approver"
EXP = NOW + timedelta(hours=1)
TOKENS = {
    OPERATOR_TOKEN: approver_claims(
        "olive.ops@example.com",
        name="Olive Ops",
        groups=("operators",),
        exp=EXP,
        email_verified=True,
        auth_time=int(NOW.timestamp()),
    ),
    APPROVER_TOKEN: approver_claims(
        "qa.lead@example.com",
        groups=("approvers-test",),
        exp=EXP,
        email_verified=True,
        auth_time=int(NOW.timestamp()),
    ),
}


@dataclass
class Browser:
    console: OperatorConsole
    sign_in: FakeSignIn
    registry: FakeRegistry
    store: FakeApprovalStore
    executions: FakeExecutions
    log: FakeDecisionLog
    mailer: FakeMailer
    workflow: FakeWorkflow
    clock: Clock
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, *, query: dict[str, str] | None = None, **kwargs: Any) -> HttpResponse:
        response = self.console.handle(
            HttpRequest(method, path, query=query or {}, cookies=dict(self.cookies), base_url=BASE, **kwargs)
        )
        for header in response.cookies:
            name, _, rest = header.partition("=")
            value = rest.split(";")[0]
            if "Max-Age=0" in header:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return response

    def get(self, path: str, **query: str) -> HttpResponse:
        return self.request("GET", path, query=query)

    def sign_in_as(self, token: str, next_path: str = "/console") -> HttpResponse:
        started = self.get("/console/auth/login", next=next_path)
        state = parse_qs(urlsplit(started.location or "").query)["state"][0]
        self.sign_in.grant("code-1", token)
        return self.get("/console/auth/callback", code="code-1", state=state)

    def post(self, path: str, fields: dict[str, str], *, origin: str = BASE) -> HttpResponse:
        headers = {"content-type": "application/x-www-form-urlencoded", "origin": origin}
        return self.request("POST", path, headers=headers, body=urlencode(fields))

    def act(self, action: str, csrf: str | None = None, **fields: str) -> HttpResponse:
        token = csrf if csrf is not None else csrf_token(self.cookies[SESSION_COOKIE], ACTION_PURPOSE)
        return self.post(f"/console/actions/{action}", {"csrf": token, "group": GROUP, **fields})


@pytest.fixture
def browser() -> Browser:
    """Version 2 promoted through prod; 3 waits for its test approvers; 4 failed at test with a cause."""
    registry = FakeRegistry(
        description(2, "Approved", **{s: "Approved" for s in ("dev", "test", "uat", "prod")}),
        description(3, "Approved", dev="Approved", **{"dev-signed-by": "Dana Dev <dana.dev@example.com>"}),
        description(4, "Approved", dev="Approved", **{"promotion-ended": "failed at test 2026-11-21T14:00:00Z"}),
    )
    executions = FakeExecutions()
    executions.add(execution_name(GROUP, 2), "SUCCEEDED", startDate=NOW - timedelta(days=3), stopDate=NOW)
    executions.add(execution_name(GROUP, 3), startDate=NOW - timedelta(hours=5))
    executions.add(
        execution_name(GROUP, 4),
        "FAILED",
        startDate=NOW - timedelta(hours=4),
        stopDate=NOW - timedelta(hours=1),
        error="States.TaskFailed",
        cause='{"errorType": "ModelError", "errorMessage": "<script>alert(1)</script> ran out of memory"}',
    )
    store = FakeApprovalStore()
    pending_request(store, "test", 3)
    log = FakeDecisionLog()
    for version, accuracy in ((2, 0.91), (3, 0.93), (4, 0.71)):
        log.append(
            {
                "modelPackageGroupName": GROUP,
                "entryKey": f"2026-11-21T1{version}:00:00Z#v{version:08d}#test#approved",
                "modelVersion": version,
                "stage": "test",
                "outcome": "approved",
                "at": f"2026-11-21T1{version}:00:00Z",
                "meaning": "approved for test",
                "actor": "qa.lead@example.com",
                "evidence": {"stage": "dev", "rowCount": 100, "metrics": {"accuracy": accuracy, "recall": 0.8}},
            }
        )
    sign_in, workflow, mailer, clock = FakeSignIn(TOKENS), FakeWorkflow(), FakeMailer(), Clock(NOW)
    console = OperatorConsole(
        OperatorConsoleSettings.from_environ(CONSOLE_ENV),
        store=store,
        log=log,
        catalog=FakeModelVersions(registry),
        registry=registry,
        executions=executions,
        workflow=workflow,
        mailer=mailer,
        sign_in=sign_in,
        sessions=FakeSessionStore(),
        directory=FakeDirectory(),
        clock=clock,
    )
    return Browser(console, sign_in, registry, store, executions, log, mailer, workflow, clock)


def test_signing_in_to_the_console_uses_its_own_cookies_callback_and_return_path(browser: Browser) -> None:
    refused = browser.get("/console", group=GROUP)
    assert refused.status == 401 and "Sign in" in refused.html and GROUP not in refused.html.split("next=")[0]
    started = browser.get("/console/auth/login", next="/console?group=" + GROUP)
    assert started.status == 302 and LOGIN_COOKIE in browser.cookies
    assert parse_qs(urlsplit(started.location or "").query)["redirect_uri"] == [f"{BASE}/console/auth/callback"]

    signed_in = browser.sign_in_as(OPERATOR_TOKEN, next_path="/console?group=" + GROUP)

    assert signed_in.status == 303 and signed_in.location == "/console?group=" + GROUP
    assert SESSION_COOKIE in browser.cookies and "__Host-approval_session" not in browser.cookies
    # A sign-in never returns anywhere but the console
    assert browser.sign_in_as(OPERATOR_TOKEN, next_path="/approvals/x").location == "/console"
    assert browser.sign_in_as(OPERATOR_TOKEN, next_path="//evil.example.com/console").location == "/console"
    assert browser.sign_in_as(OPERATOR_TOKEN, next_path="/console/").location == "/console"


def test_a_signed_in_approver_who_is_not_an_operator_gets_no_console_session_and_sees_nothing(
    browser: Browser,
) -> None:
    refused = browser.sign_in_as(APPROVER_TOKEN)

    assert refused.status == 403 and "Operators only" in refused.html and "operators" in refused.html
    assert SESSION_COOKIE not in browser.cookies and browser.console.sessions.sessions == {}
    for path in ("/console", f"/console/versions/{GROUP}/3"):
        page = browser.get(path)
        assert page.status == 401 and "qa.deputy" not in page.html and "version 3" not in page.html
    browser.cookies[SESSION_COOKIE] = "made-up"
    assert browser.act("retry", version="4", reason="try again").status == 401
    assert browser.log.entries(GROUP)[-1]["outcome"] == "approved"


def test_an_operator_removed_from_the_group_is_refused_at_the_next_groups_recheck(browser: Browser) -> None:
    browser.sign_in_as(OPERATOR_TOKEN)
    assert browser.get("/console").status == 200
    username = TOKENS[OPERATOR_TOKEN]["cognito:username"]
    browser.console.directory.users[username] = DirectoryEntry(enabled=True, groups=frozenset({"approvers-test"}))

    browser.clock.advance(minutes=6)
    page = browser.get("/console")

    assert page.status == 403 and "Operators only" in page.html and GROUP not in page.html


def test_the_overview_shows_what_waits_what_failed_and_why_escaped_and_every_versions_stages(browser: Browser) -> None:
    browser.sign_in_as(OPERATOR_TOKEN)

    page = browser.get("/console")

    assert page.status == 200 and page.html.startswith("<!doctype html>")
    pending = re.search(r"<tr data-group=\"[^\"]+\" data-version=\"3\" data-stage=\"test\">(.*?)</tr>", page.html, re.S)
    assert pending and "qa.lead@example.com, qa.deputy@example.com" in pending.group(1)
    failed = page.html.split('id="failed"')[1].split("</section>")[0]
    assert "version 4" in failed and "ModelError: &lt;script&gt;alert(1)&lt;/script&gt; ran out of memory" in failed
    assert "<script>alert" not in page.html
    assert (
        'data-version="2" data-state="promoted"' in page.html
        and "by Dana Dev &lt;dana.dev@example.com&gt;" in page.html
    )
    assert 'id="group-filter"' in page.html and "Signed in as Olive Ops &lt;olive.ops@example.com&gt;" in page.html


def test_the_refresh_fetches_only_the_data_region_so_the_filter_form_is_left_alone(browser: Browser) -> None:
    browser.sign_in_as(OPERATOR_TOKEN)

    data = browser.get("/console", part="data", state="failed")

    assert data.status == 200 and "<html" not in data.html and "group-filter" not in data.html
    versions = data.html.split('id="versions"')[1]
    assert 'data-version="4"' in versions and 'data-version="3"' not in versions
    assert browser.get("/console", stage="staging").status == 400
    assert browser.act("resend", group=GROUP + "\n", version="3").status == 400  # SageMaker's pattern, to the end
    assert browser.act("resend", version="9" * 5000).status == 400
    assert browser.get("/console", page="9" * 5000).status == 400
    assert browser.get("/console", refresh="9" * 5000).status == 200  # not a refresh interval: the default
    assert "is not a model package group name" in browser.get("/console", group="<b>").html


def test_a_versions_page_shows_its_timeline_and_a_chart_of_the_groups_metrics_by_version(browser: Browser) -> None:
    browser.sign_in_as(OPERATOR_TOKEN)

    page = browser.get(f"/console/versions/{GROUP}/3")

    assert page.status == 200
    timeline = page.html.split('id="timeline"')[1].split("</section>")[0]
    assert "approved for test" in timeline and "approval requested for test" in timeline
    chart = page.html.split('id="metrics"')[1]
    circles = re.findall(r'<circle data-metric="accuracy" data-version="(\d+)"[^>]* r="(\d)"', chart)
    assert circles == [("2", "3"), ("3", "5"), ("4", "3")]  # this version's point is the larger one
    assert '<td data-metric="accuracy">0.7100</td>' in chart
    assert "Resend to test approvers" in page.html and 'name="reason"' in page.html
    assert browser.get(f"/console/versions/{GROUP}/99").status == 404


def test_an_operators_retry_is_audited_with_their_signed_in_identity(browser: Browser) -> None:
    browser.sign_in_as(OPERATOR_TOKEN)

    done = browser.act("retry", version="4", reason="the batch job has more memory now")

    assert done.status == 200 and "Started attempt 2 from test" in done.html
    entry = browser.log.entries(GROUP)[-1]
    assert (entry["outcome"], entry["actor"]) == ("retried", "Olive Ops <olive.ops@example.com>")
    assert list(browser.workflow.started) == [execution_name(GROUP, 4, 2)]


def test_actions_are_refused_without_the_sessions_token_from_another_origin_or_without_a_reason(
    browser: Browser,
) -> None:
    browser.sign_in_as(OPERATOR_TOKEN)
    before = browser.log.entries(GROUP)

    assert browser.act("retry", csrf="forged", version="4", reason="x").status == 403
    cross = browser.post(
        "/console/actions/retry",
        {"csrf": csrf_token(browser.cookies[SESSION_COOKIE], ACTION_PURPOSE), "group": GROUP, "version": "4"},
        origin="https://evil.example.com",
    )
    assert cross.status == 403
    no_reason = browser.act("cancel", version="3", stage="test", reason=" ")
    assert no_reason.status == 400 and "needs a reason" in no_reason.html
    assert browser.act("retry", version="2", reason="again").status == 400  # promoted: nothing to retry
    assert browser.log.entries(GROUP) == before and browser.workflow.started == {}


def test_a_resend_and_a_cancel_name_the_operator_in_the_audit_log(browser: Browser) -> None:
    browser.sign_in_as(OPERATOR_TOKEN)

    assert browser.act("resend", version="3", stage="test").status == 200
    cancelled = browser.act("cancel", version="3", stage="test", reason="wrong training snapshot")

    assert cancelled.status == 200 and "Cancelled the promotion at test" in cancelled.html
    resent, stopped = browser.log.entries(GROUP)[-2:]
    assert (resent["outcome"], resent["actor"]) == ("resent", "Olive Ops <olive.ops@example.com>")
    assert (stopped["outcome"], stopped["actor"], stopped["reason"]) == (
        "cancelled",
        "Olive Ops <olive.ops@example.com>",
        "wrong training snapshot",
    )
    assert [m.to for m in browser.mailer.sent] == [("qa.lead@example.com",), ("qa.deputy@example.com",)]


def test_the_consoles_script_is_served_and_its_pages_may_run_only_scripts_of_their_own_origin(browser: Browser) -> None:
    script = browser.get("/console/console.js")
    assert script.status == 200 and "part" in script.html and script.content_type.startswith("text/javascript")

    answer = http_response(script, "GET", "https://sign-in.example.com", scripts=True)

    policy = answer["headers"]["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy and "unsafe-eval" not in policy
    assert answer["headers"]["Content-Type"].startswith("text/javascript")
