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
