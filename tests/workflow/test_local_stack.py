"""The local stack fails fast: `make up` with a busy port, a malformed configuration or a stack already running,
and `make register` with a state file whose stack is gone, each end at once with one line that says what to do."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack_helpers import PROJECT_ROOT

pytestmark = pytest.mark.workflow

# The bound for a refusal: a person waits for it at a terminal.
FAIL_FAST_SECONDS = 5


def embedded_aws(*args: str) -> tuple[int, str, float]:
    """`python -m embedded_aws ARGS` as `make up` / `make register` run it: exit status, stderr, seconds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONPATH"] = str(PROJECT_ROOT / "local")
    started = time.monotonic()
    process = subprocess.run(
        [sys.executable, "-m", "embedded_aws", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=60,
        check=False,
    )
    return process.returncode, process.stderr, time.monotonic() - started


def up(tmp_path: Path, *args: str) -> tuple[int, str, float]:
    return embedded_aws("up", "--state-file", str(tmp_path / "stack.json"), "--aws-port", "0", "--api-port", "0", *args)


def assert_one_clear_line(code: int, stderr: str, seconds: float, *expected: str) -> None:
    assert code == 2, stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr, stderr
    for text in expected:
        assert text in stderr
    assert seconds < FAIL_FAST_SECONDS, f"took {seconds:.1f} s"


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


def test_up_on_a_busy_port_names_the_port_and_the_option(tmp_path: Path, busy_port: int) -> None:
    code, stderr, seconds = embedded_aws(
        "up", "--state-file", str(tmp_path / "stack.json"), "--aws-port", "0", "--api-port", str(busy_port)
    )
    assert_one_clear_line(code, stderr, seconds, f"port {busy_port}", "--api-port", "is in use")
    assert not (tmp_path / "stack.json").exists()


@pytest.mark.parametrize(
    ("parameter", "expected"),
    [
        (
            'QualityGates={"registered": {"accuracy": {"min": 2, "max": 1}}}',
            ("parameter QualityGates", "registered.accuracy", "greater than max"),
        ),
        ("QualityGates=not json", ("parameter QualityGates", "not valid JSON")),
        ("StageApprovers=dev=dana.dev@example.com", ("parameter StageApprovers", "test, uat, prod")),
        ("Stages=dev,,prod", ("Stages",)),
    ],
    ids=["gates-min-above-max", "gates-not-json", "approvers-missing-stages", "stages-empty-name"],
)
def test_up_with_a_configuration_the_functions_would_refuse_names_the_parameter(
    tmp_path: Path, parameter: str, expected: tuple[str, ...]
) -> None:
    code, stderr, seconds = up(tmp_path, "--parameter", parameter)
    assert_one_clear_line(code, stderr, seconds, *expected)
    assert "Embedded AWS is up" not in stderr and not (tmp_path / "stack.json").exists()


def test_up_with_the_state_file_of_a_running_stack_refuses_to_start_a_second(tmp_path: Path) -> None:
    # Given the state file of an embedded AWS that is running (this process stands in for it)
    state = tmp_path / "stack.json"
    state.write_text(json.dumps({"pid": os.getpid(), "api_url": "http://127.0.0.1:3000"}))

    code, stderr, seconds = up(tmp_path)

    assert_one_clear_line(code, stderr, seconds, f"another embedded AWS (process {os.getpid()})", "--state-file")
    assert json.loads(state.read_text())["pid"] == os.getpid()  # the running stack's file is left alone


def test_register_with_a_state_file_whose_stack_is_gone_says_so_in_one_line(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", ""])
    gone.wait()
    state = tmp_path / "stack.json"
    state.write_text(json.dumps({"pid": gone.pid, "aws_endpoint": "http://127.0.0.1:4010"}))

    code, stderr, seconds = embedded_aws("register", "--state-file", str(state))

    assert_one_clear_line(code, stderr, seconds, f"(process {gone.pid}) is no longer running", "make up")


def test_register_without_a_state_file_says_to_start_the_stack(tmp_path: Path) -> None:
    code, stderr, seconds = embedded_aws("register", "--state-file", str(tmp_path / "stack.json"))
    assert_one_clear_line(code, stderr, seconds, "no embedded AWS is running", "make up")
