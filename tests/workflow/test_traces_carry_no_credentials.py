"""No credential reaches a trace: every segment the functions' X-Ray SDK sends, and the Lambda service's own
segments, while two versions go through every handler, checked against every secret the run handed out.

The embedded Lambda traces as Lambda does (`Tracing: Active`: a sampled `_X_AMZN_TRACE_ID` per invocation,
AWS_XRAY_DAEMON_ADDRESS pointing at the recording daemon, xray_daemon.py), so Powertools Tracer and the X-Ray
SDK's botocore patch run as they run in AWS, and `GET /_local/traces` answers what they sent.
"""

from __future__ import annotations

import importlib.util
import json
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests

from embedded_aws.client import StackClient
from embedded_aws.demo_model import DemoAssets
from embedded_aws.scenario import publish_batches
from stack_helpers import Promotion, log_text, new_group, register, start_stack

pytestmark = pytest.mark.workflow

JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# An encrypted JWT (JWE), the form of Cognito's refresh tokens in AWS (the embedded Cognito's are UUIDs, which
# never leave the sign-in exchange).
JWE = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# Credentials are long random values; shorter cookie values (flags, "deleted") would only match by chance.
MIN_SECRET_LENGTH = 16
TRANSFORM_COMPLETION = "SageMaker Transform Job State Change"


@pytest.fixture(scope="module")
def traced_stack(tmp_path_factory: pytest.TempPathFactory, demo_assets: DemoAssets) -> Iterator[StackClient]:
    """Two stages; the scheduled functions (sweep, reconcile) run every 2 seconds, as their schedules would."""
    overrides = {"Stages": "dev,test", "StageApprovers": "dev=dana.dev@example.com;test=theo.test@example.com"}
    for client in start_stack(tmp_path_factory, "traced", overrides, schedule_seconds=2.0):
        publish_batches(client, demo_assets)
        yield client


class BrowserSide:
    """Everything credential-like the approvers' browsers received: each Set-Cookie value, on every response
    of every redirect chain, and the authorization codes the redirects carried."""

    def __init__(self) -> None:
        self.cookies: set[str] = set()
        self.codes: set[str] = set()
        self._lock = threading.Lock()

    def session_class(self) -> type[requests.Session]:
        browser = self

        class RecordingSession(requests.Session):
            def __init__(self) -> None:
                super().__init__()
                self.hooks["response"].append(browser.saw)

        return RecordingSession

    def saw(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        raw_headers = getattr(response.raw, "headers", None)
        set_cookies = raw_headers.getlist("Set-Cookie") if hasattr(raw_headers, "getlist") else []
        with self._lock:
            for header in set_cookies:
                _, _, value = header.split(";", 1)[0].partition("=")
                if len(value.strip().strip('"')) >= MIN_SECRET_LENGTH:
                    self.cookies.add(value.strip().strip('"'))
            location = response.headers.get("Location", "")
            for code in parse_qs(urlsplit(location).query).get("code", []):
                self.codes.add(code)


class TaskTokenWatch:
    """Reads the approvals table as an administrator while the run goes on, keeping every taskToken it saw
    (a pending request's, a transform wait's): they are removed once used."""

    def __init__(self, stack: StackClient):
        self.stack = stack
        self.tokens: set[str] = set()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> TaskTokenWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self._thread.join(timeout=10)
        self.scan()

    def _watch(self) -> None:
        while not self._stopped.wait(0.2):
            self.scan()

    def scan(self) -> None:
        dynamodb = self.stack.client("dynamodb")
        for page in dynamodb.get_paginator("scan").paginate(TableName=self.stack.resources["ApprovalsTable"]):
            for item in page["Items"]:
                token = item.get("taskToken", {}).get("S")
                if token:
                    self.tokens.add(token)


def recorded(stack: StackClient) -> dict[str, Any]:
    answer = requests.get(f"{stack.api_url}/_local/traces", timeout=30)
    assert answer.status_code == 200, (
        f"GET /_local/traces answered {answer.status_code}: the recording X-Ray daemon is not mounted on the stack"
    )
    return dict(answer.json())


def settled(stack: StackClient) -> dict[str, Any]:
    """The recorded documents, with everything the finished invocations sent.

    The scheduled functions keep running, so the count never stops growing. A function's SDK sends each
    subsegment before its handler returns, and the runtime records the function's own segments after, so
    a second's grace lets the daemon read the last datagrams of the invocations that have ended.
    """
    time.sleep(1.0)
    return recorded(stack)


def fields_of(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a document with where it sits, keys included, at any depth: names, annotations,
    metadata, http, aws, errors and causes, the Lambda service's subsegments."""
    if isinstance(value, str):
        yield path or ".", value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield f"{path}.{key} (the key)", str(key)
            yield from fields_of(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from fields_of(inner, f"{path}[{index}]")


def leaks(secrets: dict[str, set[str]], texts: list[tuple[str, str]]) -> list[str]:
    """Which secret (by kind) appears where, as itself, URL-encoded or JSON-escaped, and any JWT at all."""
    found = []
    for where, text in texts:
        for kind, values in secrets.items():
            for value in values:
                if any(form in text for form in (value, quote(value, safe=""), json.dumps(value)[1:-1])):
                    found.append(f"a {kind} ({value[:10]}…) in {where}")
        found.extend(f"a JWT ({jwt[:16]}…) in {where}" for jwt in JWT.findall(text))
        found.extend(f"a JWE ({jwe[:16]}…) in {where}" for jwe in JWE.findall(text))
    return found


def traced_handlers(stack: StackClient) -> dict[str, str]:
    """The functions whose handler module uses Powertools Tracer (by logical id), and the handler's name, which
    names the subsegment Tracer opens for it. (A Cognito trigger that makes no AWS call may have no Tracer.)"""
    found = {}
    for function in stack.client("lambda").list_functions()["Functions"]:
        module, _, handler = function["Handler"].rpartition(".")
        spec = importlib.util.find_spec(module)
        assert spec is not None and spec.origin, function["Handler"]
        if re.search(r"^tracer = Tracer\(", Path(spec.origin).read_text(encoding="utf-8"), re.MULTILINE):
            found[function["FunctionName"].removeprefix(f"{stack.info['stack_name']}-")] = handler
    return found


def invocations(stack: StackClient) -> Counter[str]:
    answer = requests.get(f"{stack.api_url}/invocations.json", timeout=30)
    answer.raise_for_status()
    return Counter(i["function"] for i in answer.json())


def test_no_task_token_cookie_jwt_or_link_id_reaches_a_trace_segment_or_a_log_line(
    traced_stack: StackClient, demo_assets: DemoAssets, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = traced_stack
    browser = BrowserSide()
    # The approvers' browsers (the sign-in helpers open a session of their own per approver)
    monkeypatch.setattr(requests, "Session", browser.session_class())
    group = new_group("traces")

    with TaskTokenWatch(stack) as watch:
        # Given version 1, approved at dev (its batch is scored) and at test: promoted through every stage
        first = register(stack, demo_assets, "traces", group=group)
        for stage in ("dev", "test"):
            answer = first.decide(stage, "approve", f"{stage} evidence reviewed")
            assert answer.status_code == 200, answer.text
        assert first.finish()["status"] == "SUCCEEDED"

        # And version 2, approved at dev, scored beside version 1 on the dev batch; one completion event is
        # lost, so the sweep resumes that wait with its task token; then test rejects it
        second = register(stack, demo_assets, "traces", group=group)
        dropped = requests.post(
            f"{stack.api_url}/_local/drop-next-events",
            params={"count": 1, "detail-type": TRANSFORM_COMPLETION},
            timeout=10,
        )
        assert dropped.status_code == 204
        assert second.decide("dev", "approve", "dev evidence reviewed").status_code == 200
        answer = second.decide("test", "reject", "Recall on the holdout is too low")
        assert answer.status_code == 200, answer.text
        result = second.finish()
        assert (result["status"], result["error"]) == ("FAILED", "ApprovalRejected")

        # And an operator reads the console: the overview, and the rejected version's timeline and metrics
        operator = stack.operator_session()
        for path in ("/console", f"/console/versions/{group}/{second.version}", f"/console?group={group}&part=data"):
            page = operator.get(f"{stack.api_url}{path}", timeout=30)
            assert page.status_code == 200 and group in page.text, (path, page.status_code)

        # And the scheduled functions have run while requests were pending
        stack.wait_for(
            "the sweep and reconcile to run",
            lambda: all(invocations(stack)[f] >= 1 for f in ("SweepApprovalsFunction", "ReconcileFunction")),
            timeout=30,
            interval=0.5,
        )

    # The secrets this run handed out
    promotions: list[Promotion] = [first, second]
    secrets = {
        "task token": watch.tokens | {t for p in promotions for t in p.task_tokens()},
        "cookie value": browser.cookies,
        "authorization code": browser.codes,
        "approval link id": {
            link.rsplit("/", 1)[-1] for p in promotions for message in p.emails() for link in stack.links(message)
        },
    }
    # Two approvals and one transform wait for version 1, two approvals and two transform waits for version 2
    assert len(secrets["task token"]) >= 7, secrets["task token"]
    assert secrets["cookie value"], "the browsers received no cookie: did sign-in set one?"
    assert len(secrets["approval link id"]) >= 4

    traces = settled(stack)
    documents: list[dict[str, Any]] = traces["documents"]
    assert traces["dropped"] == 0 and traces["rejected"] == []

    # Then every function produced segments, and its X-Ray SDK sent subsegments under them
    functions = {
        f["FunctionName"]: f["FunctionName"].removeprefix(f"{stack.info['stack_name']}-")
        for f in stack.client("lambda").list_functions()["Functions"]
    }
    function_of_trace = {
        d["trace_id"]: functions[d["name"]]
        for d in documents
        if d.get("origin") == "AWS::Lambda::Function" and d.get("name") in functions
    }
    segments: Counter[str] = Counter(
        functions[d["name"]] for d in documents if d.get("origin") == "AWS::Lambda::Function"
    )
    subsegments: dict[str, Counter[str]] = defaultdict(Counter)
    aws_calls: Counter[str] = Counter()
    for d in documents:
        if d.get("type") == "subsegment" and d.get("trace_id") in function_of_trace:
            function = function_of_trace[d["trace_id"]]
            subsegments[function][d["name"]] += 1
            aws_calls[function] += d.get("namespace") == "aws"
    summary = {
        f: {"segments": segments[f], "sdkSubsegments": sum(subsegments[f].values()), "awsCalls": aws_calls[f]}
        for f in sorted(functions.values())
    }
    print(f"\nsecrets handed out: { {kind: len(values) for kind, values in secrets.items()} }")
    print(f"{len(documents)} documents recorded: " + json.dumps(summary, indent=1))
    assert not [f for f, counts in summary.items() if not counts["segments"]], summary
    # Powertools Tracer's subsegment for the handler, which the SDK sent: tracing is really on
    traced = traced_handlers(stack)
    assert traced, "no handler module creates a Powertools Tracer"
    assert not [f for f, handler in traced.items() if not subsegments[f][f"## {handler}"]], summary
    assert sum(aws_calls.values()) >= 50, summary

    # And no secret appears in any of them (segments, subsegments, annotations, metadata, errors and causes),
    # nor any JWT, nor in the functions' log output
    def document(d: dict[str, Any]) -> str:
        kind = d.get("origin") or d.get("namespace") or d.get("type")
        return f"{function_of_trace.get(d.get('trace_id'), '?')}'s {d.get('name')!r} ({kind})"

    fields = [(f"{document(d)} at {path}", text) for d in documents for path, text in fields_of(d)]
    in_traces = leaks(secrets, fields)
    assert not in_traces, "\n".join(in_traces)
    in_logs = leaks(secrets, [("the functions' log output", log_text(stack))])
    assert not in_logs, "\n".join(in_logs)
