"""The embedded Lambda service runs each function as Lambda does: its own process and environment, its
Timeout and MemorySize enforced, concurrent invocations side by side, asynchronous retries and the
on-failure destination.

Each test writes a tiny handler into a temporary code folder and runs it in real execution environments.
"""

from __future__ import annotations

import json
import textwrap
import threading
import time
from pathlib import Path

import pytest

from embedded_aws.lambda_runtime import FunctionSpec, LocalLambdaRuntime

HANDLERS = """
import json, os, time

def environment(event, context):
    return {k: os.environ.get(k) for k in event["names"]}

def sleep(event, context):
    time.sleep(event["seconds"])
    return {"slept": event["seconds"], "pid": os.getpid()}

def allocate(event, context):
    hoard = bytearray(event["megabytes"] * 1024 * 1024)
    for i in range(0, len(hoard), 4096):
        hoard[i] = 1
    time.sleep(1)
    return len(hoard)

def fail(event, context):
    with open(event["attempts_file"], "a") as f:
        f.write("x")
    raise ValueError("this event cannot be handled")
"""


@pytest.fixture
def code_uri(tmp_path: Path) -> Path:
    (tmp_path / "sample_handlers.py").write_text(textwrap.dedent(HANDLERS))
    return tmp_path


def spec(code_uri: Path, name: str, handler: str, **overrides) -> FunctionSpec:
    values = {
        "logical_id": name,
        "name": name,
        "arn": f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        "code_uri": code_uri,
        "handler": f"sample_handlers.{handler}",
        "environment": {"ONLY_MINE": name},
        "timeout": 5,
        "memory_size": 256,
        "role_arn": f"arn:aws:iam::123456789012:role/{name}-role",
    }
    values.update(overrides)
    return FunctionSpec(**values)


@pytest.fixture
def runtime_for():
    runtimes: list[LocalLambdaRuntime] = []

    def make(*functions: FunctionSpec, send_to_queue=None) -> LocalLambdaRuntime:
        runtime = LocalLambdaRuntime(list(functions), "http://127.0.0.1:9", "us-east-1", send_to_queue=send_to_queue)
        runtimes.append(runtime)
        return runtime

    yield make
    for runtime in runtimes:
        runtime.stop()


def test_each_function_sees_only_its_own_environment_and_role_credentials(code_uri, runtime_for):
    first = spec(code_uri, "first", "environment")
    second = spec(code_uri, "second", "environment", environment={"SECOND_ONLY": "yes"})
    runtime = runtime_for(first, second)
    names = {"names": ["ONLY_MINE", "SECOND_ONLY", "AWS_LAMBDA_FUNCTION_NAME", "AWS_ACCESS_KEY_ID", "HOME"]}

    seen_first = json.loads(runtime.invoke(first, names).payload)
    seen_second = json.loads(runtime.invoke(second, names).payload)

    assert seen_first["ONLY_MINE"] == "first" and seen_first["SECOND_ONLY"] is None
    assert seen_second["ONLY_MINE"] is None and seen_second["SECOND_ONLY"] == "yes"
    assert (seen_first["AWS_LAMBDA_FUNCTION_NAME"], seen_second["AWS_LAMBDA_FUNCTION_NAME"]) == ("first", "second")
    assert seen_first["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    assert seen_first["AWS_ACCESS_KEY_ID"] != seen_second["AWS_ACCESS_KEY_ID"]
    assert seen_first["HOME"] is None  # nothing of the host's environment leaks in


def test_a_handler_past_its_timeout_ends_with_lambdas_task_timed_out_error(code_uri, runtime_for):
    slow = spec(code_uri, "slow", "sleep", timeout=1)
    runtime = runtime_for(slow)

    started = time.monotonic()
    result = runtime.invoke(slow, {"seconds": 30})

    assert time.monotonic() - started < 5
    assert result.function_error == "Unhandled"
    error = json.loads(result.payload)
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in error["errorMessage"]
    # The killed environment is replaced: the function still answers.
    assert json.loads(runtime.invoke(slow, {"seconds": 0}).payload)["slept"] == 0


def test_a_handler_past_its_memory_size_is_killed_as_out_of_memory(code_uri, runtime_for):
    greedy = spec(code_uri, "greedy", "allocate", memory_size=128)
    runtime = runtime_for(greedy)

    result = runtime.invoke(greedy, {"megabytes": 400})

    assert result.function_error == "Unhandled"
    assert json.loads(result.payload)["errorType"] == "Runtime.OutOfMemory"


def test_concurrent_invocations_of_one_function_run_side_by_side(code_uri, runtime_for):
    sleeper = spec(code_uri, "sleeper", "sleep")
    runtime = runtime_for(sleeper)
    runtime.invoke(sleeper, {"seconds": 0})  # one warm environment; the others start cold
    answers: list[dict] = []

    def call() -> None:
        answers.append(json.loads(runtime.invoke(sleeper, {"seconds": 1.5}).payload))

    started = time.monotonic()
    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({a["pid"] for a in answers}) == 3  # three environments
    assert time.monotonic() - started < 4.5  # not 3 x 1.5 s one after another (plus cold starts)


def test_a_failing_asynchronous_event_is_tried_three_times_then_sent_to_the_on_failure_destination(
    code_uri, runtime_for, tmp_path
):
    delivered: list[tuple[str, dict]] = []
    done = threading.Event()

    def send_to_queue(function: FunctionSpec, record: dict) -> None:
        delivered.append((function.name, record))
        done.set()

    failing = spec(code_uri, "failing", "fail", on_failure_queue_url="http://queue", on_failure_queue_arn="arn:q")
    runtime = runtime_for(failing, send_to_queue=send_to_queue)
    attempts_file = tmp_path / "attempts"
    event = {"attempts_file": str(attempts_file)}

    runtime.invoke_async(failing, event)

    assert done.wait(20)
    assert attempts_file.read_text() == "xxx"
    name, record = delivered[0]
    assert name == "failing"
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"] == event
    assert record["responsePayload"]["errorMessage"] == "this event cannot be handled"


# -- X-Ray ---------------------------------------------------------------------------------------------
TRACED_HANDLERS = """
import os
from aws_lambda_powertools import Tracer

tracer = Tracer(service="sample")


@tracer.capture_lambda_handler(capture_response=False)
def traced(event, context):
    with tracer.provider.in_subsegment("## inner") as subsegment:
        subsegment.put_annotation("step", "inner")
    if event.get("fail"):
        raise ValueError("the traced handler failed")
    return {"header": os.environ.get("_X_AMZN_TRACE_ID")}
"""


@pytest.fixture
def traced_code_uri(code_uri: Path) -> Path:
    (code_uri / "traced_handlers.py").write_text(textwrap.dedent(TRACED_HANDLERS))
    return code_uri


def traced_spec(code_uri: Path, name: str, **overrides) -> FunctionSpec:
    from dataclasses import replace

    return replace(spec(code_uri, name, "traced", **overrides), handler="traced_handlers.traced")


def _trace_header(header: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in header.split(";"))


def _documents_of(runtime: LocalLambdaRuntime, root: str, wanted: int) -> list[dict]:
    """The documents of one trace, once `wanted` have arrived (the SDK's datagrams arrive on their own time)."""
    deadline = time.monotonic() + 5
    while True:
        found = [d for d in runtime.xray.documents() if d.get("trace_id") == root]
        if len(found) >= wanted or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_an_active_function_is_traced_as_lambda_traces_it(traced_code_uri, runtime_for):
    traced = traced_spec(traced_code_uri, "traced", tracing="Active")
    runtime = runtime_for(traced)

    first = json.loads(runtime.invoke(traced, {}).payload)["header"]
    second = json.loads(runtime.invoke(traced, {}).payload)["header"]

    # Each invocation gets a fresh, sampled trace header in _X_AMZN_TRACE_ID, as Lambda sets it
    headers = [_trace_header(first), _trace_header(second)]
    assert all(h["Sampled"] == "1" and h["Root"].startswith("1-") and len(h["Parent"]) == 16 for h in headers)
    assert headers[0]["Root"] != headers[1]["Root"]
    for number, header in enumerate(headers):
        # The Lambda service's segments, and the SDK's subsegments sent to the daemon under the function segment
        documents = _documents_of(runtime, header["Root"], 4)
        by_name = {(d["name"], d.get("origin")): d for d in documents}
        function = by_name[("traced", "AWS::Lambda::Function")]
        assert function["id"] == header["Parent"]
        assert by_name[("traced", "AWS::Lambda")]["id"] == function["parent_id"]
        names = [s["name"] for s in function["subsegments"]]
        assert names == (["Initialization", "Invocation"] if number == 0 else ["Invocation"])
        handler = by_name[("## traced", None)]
        assert handler["type"] == "subsegment" and handler["parent_id"] == header["Parent"]
        assert handler["annotations"]["ColdStart"] is (number == 0)
        assert by_name[("## inner", None)]["parent_id"] == handler["id"]


def test_a_handler_error_faults_the_invocation_with_the_runtimes_error_cause(traced_code_uri, runtime_for):
    traced = traced_spec(traced_code_uri, "failing-traced", tracing="Active")
    runtime = runtime_for(traced)

    result = runtime.invoke(traced, {"fail": True})

    assert result.function_error == "Unhandled"
    [function] = [
        d for d in runtime.xray.documents() if d.get("origin") == "AWS::Lambda::Function" and d["name"] == traced.name
    ]
    invocation = function["subsegments"][-1]
    assert function["fault"] and invocation["name"] == "Invocation" and invocation["fault"]
    [exception] = invocation["cause"]["exceptions"]
    assert (exception["type"], exception["message"]) == ("ValueError", "the traced handler failed")
    assert exception["stack"][-1]["label"] == "traced"
    # Powertools records the same error on its handler subsegment
    handler = _documents_of(runtime, function["trace_id"], 4)
    assert any(d["name"] == "## traced" and d.get("fault") for d in handler)


def test_a_pass_through_function_gets_an_unsampled_header_and_sends_nothing(traced_code_uri, runtime_for):
    quiet = traced_spec(traced_code_uri, "quiet")  # Lambda's default
    environment = spec(traced_code_uri, "environment", "environment")
    runtime = runtime_for(quiet, environment)

    header = _trace_header(json.loads(runtime.invoke(quiet, {}).payload)["header"])
    seen = json.loads(
        runtime.invoke(
            environment,
            {"names": ["AWS_XRAY_DAEMON_ADDRESS", "AWS_XRAY_CONTEXT_MISSING", "POWERTOOLS_TRACE_DISABLED"]},
        ).payload
    )

    assert header["Sampled"] == "0"
    time.sleep(0.3)
    assert runtime.xray.documents() == []
    # The daemon's address is set whatever the Tracing, as Lambda sets it; nothing disables the tracer
    assert seen == {
        "AWS_XRAY_DAEMON_ADDRESS": runtime.xray.address,
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "POWERTOOLS_TRACE_DISABLED": None,
    }


def test_the_recording_daemon_keeps_only_documents_in_the_sdks_protocol_and_stays_bounded():
    import socket

    from embedded_aws.xray_daemon import RecordingDaemon

    daemon = RecordingDaemon(limit=2).start()
    try:
        host, port = daemon.address.rsplit(":", 1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for datagram in (
                b'{"format":"json","version":1}\n{"name": "a", "id": "1"}',
                b"not the protocol",
                b'{"format":"json","version":1}\n[1, 2]',
                b'{"format":"json","version":1}\n{"name": "b", "id": "2"}',
                b'{"format":"json","version":1}\n{"name": "c", "id": "3"}',
            ):
                sender.sendto(datagram, (host, int(port)))
        deadline = time.monotonic() + 5
        while daemon.received < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        recorded = daemon.to_json()
    finally:
        daemon.stop()

    assert [d["name"] for d in recorded["documents"]] == ["b", "c"]
    assert (recorded["received"], recorded["dropped"], len(recorded["rejected"])) == (3, 1, 2)
