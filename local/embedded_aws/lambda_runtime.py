"""The embedded Lambda service: the project's real handlers, each function in execution environments of its own.

moto's Lambda without Docker only echoes its payload. Here every Invoke of a template function runs its
real handler the way Lambda does:
- in a process of its own (lambda_worker.py), started with exactly the function's environment and its
  role's credentials, so no two functions share variables, clients or credentials;
- concurrently: a busy environment never queues an invocation, a new one starts (a cold start);
- bounded: past its Timeout the environment is killed and the caller gets Lambda's "Task timed out"
  error; past its MemorySize it is killed with Lambda's out-of-memory error;
- asynchronously for EventBridge and Scheduler: after a function error Lambda retries twice, then hands
  the event to the function's on-failure destination (an SQS queue) or drops it;
- traced: each environment gets AWS_XRAY_DAEMON_ADDRESS (here the recording daemon, xray_daemon.py) and
  each invocation a fresh `_X_AMZN_TRACE_ID`, sampled when the function's Tracing is Active; the Lambda
  service's own segments for the invocation (AWS::Lambda, AWS::Lambda::Function) are recorded beside the
  subsegments the function's X-Ray SDK sends.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import select
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .lambda_worker import RESULT_FD_VARIABLE, SPEC_VARIABLE
from .xray_daemon import RecordingDaemon

log = logging.getLogger("embedded_aws.lambda")

LOCAL_DIR = Path(__file__).resolve().parents[1]
# Lambda gives an init phase 10 seconds before it counts against the invocation.
INIT_TIMEOUT_SECONDS = 10.0
# More environments than this per function would only thrash two cores; Lambda's own limit is the
# account's concurrency (1,000 by default), which nothing here comes near.
MAX_ENVIRONMENTS_PER_FUNCTION = 32
# Lambda retries a failed asynchronous invocation after about 1 and 2 minutes; locally the waits are
# shortened so that recovery paths can be watched in a test.
ASYNC_RETRY_DELAYS_SECONDS = (0.5, 1.0)
RUNTIME = "python3.13"


@dataclass(frozen=True)
class FunctionSpec:
    """One AWS::Serverless::Function, as the template declares it."""

    logical_id: str
    name: str
    arn: str
    code_uri: Path
    handler: str
    environment: dict[str, str]
    timeout: int
    memory_size: int
    role_arn: str = ""
    # Asynchronous invocations: how often Lambda retries, and where a failed event goes (an SQS queue URL).
    maximum_retry_attempts: int = 2
    on_failure_queue_url: str | None = None
    on_failure_queue_arn: str | None = None
    # The function's Tracing (SAM's Tracing, Globals or the function's own): "Active" samples every
    # invocation; "PassThrough" (Lambda's default) only propagates an upstream decision, and here none comes.
    tracing: str = "PassThrough"

    @property
    def traced(self) -> bool:
        return self.tracing == "Active"


@dataclass(frozen=True)
class TraceHeader:
    """One invocation's X-Ray trace header, as Lambda builds it for the function's segment."""

    root: str
    parent: str
    sampled: bool

    @classmethod
    def fresh(cls, sampled: bool) -> TraceHeader:
        # Trace ids are "1-<epoch seconds, 8 hex digits>-<96 random bits>"; segment ids are 64 random bits.
        return cls(f"1-{int(time.time()):08x}-{secrets.token_hex(12)}", secrets.token_hex(8), sampled)

    def __str__(self) -> str:
        return f"Root={self.root};Parent={self.parent};Sampled={1 if self.sampled else 0}"


@dataclass(frozen=True)
class Invocation:
    payload: bytes
    function_error: str | None


class EnvironmentLost(RuntimeError):
    """The execution environment ended during an invocation (killed for its timeout or memory, or crashed)."""

    def __init__(self, error: dict[str, Any]):
        super().__init__(error["errorMessage"])
        self.error = error


@dataclass
class _Environment:
    """One running lambda_worker process."""

    spec: FunctionSpec
    process: subprocess.Popen[bytes]
    results: Any
    started_at: float = field(default_factory=time.monotonic)
    # For the function segment's Initialization subsegment (epoch seconds), and whether it has been invoked yet.
    started_epoch: float = field(default_factory=time.time)
    ready_epoch: float | None = None
    invocations: int = 0

    def _read(self, deadline: float, request_id: str, timeout_seconds: float) -> dict[str, Any]:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise EnvironmentLost(
                    {
                        "errorType": "Sandbox.Timedout",
                        "errorMessage": f"RequestId: {request_id} Error: Task timed out after "
                        f"{timeout_seconds:.2f} seconds",
                    }
                )
            ready, _, _ = select.select([self.results], [], [], min(remaining, 0.05))
            if ready:
                line = self.results.readline()
                if not line:
                    code = self.process.wait()
                    raise EnvironmentLost(
                        {
                            "errorType": "Runtime.ExitError",
                            "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: "
                            f"exit status {code}",
                        }
                    )
                return dict(json.loads(line))
            if self._resident_mb() > self.spec.memory_size:
                self.kill()
                raise EnvironmentLost(
                    {
                        "errorType": "Runtime.OutOfMemory",
                        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: signal: killed",
                    }
                )

    def _resident_mb(self) -> float:
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return 0.0
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def wait_ready(self) -> None:
        answer = self._read(time.monotonic() + INIT_TIMEOUT_SECONDS, "init", INIT_TIMEOUT_SECONDS)
        if not answer.get("ready"):
            raise EnvironmentLost({"errorType": "Runtime.Unknown", "errorMessage": "the runtime did not start"})
        self.ready_epoch = time.time()

    def invoke(self, event: Any, request_id: str, trace: TraceHeader | None = None) -> dict[str, Any]:
        deadline_epoch_ms = int((time.time() + self.spec.timeout) * 1000)
        request = {"event": event, "requestId": request_id, "deadlineEpochMs": deadline_epoch_ms}
        if trace is not None:
            request["traceId"] = str(trace)
        self.invocations += 1
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
        except OSError:  # the environment died between invocations (killed, or the stack is stopping)
            raise EnvironmentLost(
                {"errorType": "Runtime.ExitError", "errorMessage": f"RequestId: {request_id} Error: Runtime exited"}
            ) from None
        return self._read(time.monotonic() + self.spec.timeout, request_id, float(self.spec.timeout))

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
            self.process.wait()
        for pipe in (self.process.stdin, self.results):
            if pipe is not None and not pipe.closed:
                pipe.close()


def lambda_segments(
    spec: FunctionSpec,
    trace: TraceHeader,
    request_id: str,
    invocation: tuple[float, float],
    handler_started: float,
    initialization: tuple[float, float] | None,
    error: dict[str, Any] | None,
    cause: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """The segments the Lambda service records for one sampled invocation: the service's (AWS::Lambda, with
    the request id) and the function's (AWS::Lambda::Function, the trace header's Parent, whose children are
    Initialization on an environment's first invocation, Invocation, and the SDK's own subsegments).

    A function error faults the Invocation subsegment with the cause the runtime reports (the runtime
    interface client's Lambda-Runtime-Function-XRay-Error-Cause: the exception's type, message and frames).
    """
    started, ended = invocation
    account_id = spec.arn.split(":")[4] if spec.arn.count(":") >= 5 else ""
    service_id = secrets.token_hex(8)
    function_segment: dict[str, Any] = {
        "name": spec.name,
        "id": trace.parent,
        "trace_id": trace.root,
        "parent_id": service_id,
        "start_time": started,
        "end_time": ended,
        "origin": "AWS::Lambda::Function",
        "aws": {"function_arn": spec.arn, "resource_names": [spec.name], "account_id": account_id},
        "subsegments": [],
    }
    if initialization is not None:
        function_segment["subsegments"].append(
            {
                "name": "Initialization",
                "id": secrets.token_hex(8),
                "start_time": initialization[0],
                "end_time": initialization[1],
                "aws": {"function_arn": spec.arn},
            }
        )
    invocation_subsegment: dict[str, Any] = {
        "name": "Invocation",
        "id": secrets.token_hex(8),
        "start_time": min(max(handler_started, started), ended),
        "end_time": ended,
        "aws": {"function_arn": spec.arn},
    }
    if error is not None:
        invocation_subsegment["fault"] = True
        invocation_subsegment["cause"] = cause or {
            "working_directory": str(spec.code_uri),
            "exceptions": [{"message": error.get("errorMessage", ""), "type": error.get("errorType", "")}],
            "paths": [],
        }
        function_segment["fault"] = True
    function_segment["subsegments"].append(invocation_subsegment)
    service_segment = {
        "name": spec.name,
        "id": service_id,
        "trace_id": trace.root,
        "start_time": started,
        "end_time": ended,
        "origin": "AWS::Lambda",
        "aws": {"request_id": request_id, "resource_names": [spec.name], "account_id": account_id},
        # The Invoke itself succeeded; a function error is the function's, in its own segment.
        "http": {"response": {"status": 200}},
    }
    return [service_segment, function_segment]


class LocalLambdaRuntime:
    """Runs template functions in execution environments of their own (see the module docstring)."""

    def __init__(
        self,
        functions: list[FunctionSpec],
        aws_endpoint: str,
        region: str,
        iam_path: Path | None = None,
        send_to_queue: Any = None,
        xray: RecordingDaemon | None = None,
    ):
        self.functions = {f.name: f for f in functions}
        # Where the functions' X-Ray SDK sends its segments, as to the daemon Lambda runs in each sandbox.
        self.xray = (xray or RecordingDaemon()).start()
        self.aws_endpoint = aws_endpoint
        self.region = region
        self.iam_path = iam_path
        # Delivers a failed asynchronous event to an on-failure destination: (spec, record) -> None.
        self.send_to_queue = send_to_queue
        self._idle: dict[str, list[_Environment]] = {f.name: [] for f in functions}
        self._count: dict[str, int] = {f.name: 0 for f in functions}
        self._lock = threading.Condition()
        self._all: list[_Environment] = []
        self._stopping = threading.Event()
        # The latest invocations, for /invocations.json; bounded so a long `make up` doesn't grow forever.
        self.invocations: deque[dict[str, Any]] = deque(maxlen=10_000)

    # -- environments --------------------------------------------------------------------------------
    def environment_variables(self, spec: FunctionSpec) -> dict[str, str]:
        """What Lambda puts in a python runtime's environment, then the function's own variables."""
        from .strict.sdk_hook import credentials_for

        access_key, secret_key, session_token = credentials_for(spec.role_arn)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONPATH": str(LOCAL_DIR),
            "PYTHONUNBUFFERED": "1",
            "LAMBDA_TASK_ROOT": str(spec.code_uri),
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "embedded",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{RUNTIME}",
            "_HANDLER": spec.handler,
            # The role's temporary credentials, as Lambda passes them.
            "AWS_ACCESS_KEY_ID": access_key,
            "AWS_SECRET_ACCESS_KEY": secret_key,
            "AWS_SESSION_TOKEN": session_token,
            # No shared config or credentials files exist in a Lambda sandbox.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            # The edge that differs: the SDK talks to the embedded AWS instead of AWS's endpoints.
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            # X-Ray, as Lambda sets it whatever the function's Tracing (Lambda's daemon listens on
            # 169.254.79.129:2000; here the recording daemon). _X_AMZN_TRACE_ID is set per invocation.
            "AWS_XRAY_DAEMON_ADDRESS": self.xray.address,
            "_AWS_XRAY_DAEMON_ADDRESS": self.xray.address.rsplit(":", 1)[0],
            "_AWS_XRAY_DAEMON_PORT": self.xray.address.rsplit(":", 1)[1],
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        }
        env.update(spec.environment)
        return env

    def _start_environment(self, spec: FunctionSpec) -> _Environment:
        if self._stopping.is_set():
            raise EnvironmentLost({"errorType": "Runtime.Unknown", "errorMessage": "the embedded AWS is stopping"})
        read_end, write_end = os.pipe()
        env = self.environment_variables(spec)
        env[SPEC_VARIABLE] = json.dumps(
            {
                "name": spec.name,
                "arn": spec.arn,
                "handler": spec.handler,
                "codeUri": str(spec.code_uri),
                "memorySize": spec.memory_size,
                "roleArn": spec.role_arn,
                "iamPath": str(self.iam_path) if self.iam_path else "",
            }
        )
        env[RESULT_FD_VARIABLE] = str(write_end)
        process = subprocess.Popen(
            [sys.executable, "-m", "embedded_aws.lambda_worker"],
            env=env,
            stdin=subprocess.PIPE,
            pass_fds=(write_end,),
            cwd=str(spec.code_uri),
        )
        os.close(write_end)
        environment = _Environment(spec, process, os.fdopen(read_end, "r", encoding="utf-8"))
        with self._lock:
            self._all.append(environment)
        try:
            environment.wait_ready()
        except BaseException:
            with self._lock:
                environment.kill()
                self._all.remove(environment)
            raise
        return environment

    def _acquire(self, spec: FunctionSpec) -> _Environment:
        with self._lock:
            self._lock.wait_for(lambda: self._idle[spec.name] or self._count[spec.name] < MAX_ENVIRONMENTS_PER_FUNCTION)
            while self._idle[spec.name]:
                idle = self._idle[spec.name].pop()
                if idle.alive():
                    return idle
                self._forget(idle)  # it died while idle: the next call starts cold, as Lambda would
            self._count[spec.name] += 1
        try:
            return self._start_environment(spec)
        except BaseException:
            self._release(spec, None)
            raise

    def _release(self, spec: FunctionSpec, environment: _Environment | None) -> None:
        with self._lock:
            if environment is not None and environment.alive():
                self._idle[spec.name].append(environment)
            else:
                if environment is not None:
                    self._forget(environment)
                else:
                    self._count[spec.name] -= 1
            self._lock.notify_all()

    def _forget(self, environment: _Environment) -> None:
        """Drops a dead environment (called with the lock held): its pipes closed, its slot freed."""
        environment.kill()
        self._count[environment.spec.name] -= 1
        if environment in self._all:
            self._all.remove(environment)

    def warm(self) -> None:
        """Starts one environment per function in the background, as provisioned concurrency would."""

        def start(spec: FunctionSpec) -> None:
            try:
                self._release(spec, self._acquire(spec))
            except EnvironmentLost as exc:
                log.warning("%s did not start: %s", spec.name, exc)

        for spec in self.functions.values():
            threading.Thread(target=start, args=(spec,), daemon=True).start()

    # -- invocations ---------------------------------------------------------------------------------
    def invoke(self, spec: FunctionSpec, event: Any, request_id: str | None = None) -> Invocation:
        """A synchronous (RequestResponse) invocation; an asynchronous one's retries keep its request id."""
        request_id = request_id or str(uuid.uuid4())
        started_at = time.time()
        started = time.perf_counter()
        handler_seconds: float | None = None
        environment: _Environment | None = None
        trace = TraceHeader.fresh(sampled=spec.traced)
        initialization: tuple[float, float] | None = None
        error: dict[str, Any] | None = None
        cause: dict[str, Any] | None = None
        try:
            environment = self._acquire(spec)
            if environment.invocations == 0 and (environment.ready_epoch or 0) >= started_at:
                # A cold start: this invocation waited for the environment's init phase.
                initialization = (environment.started_epoch, environment.ready_epoch or started_at)
            answer = environment.invoke(event, request_id, trace)
            handler_seconds = answer.get("durationSeconds")
            if "error" in answer:
                error, cause = answer["error"], answer.get("xrayCause")
                log.warning("%s raised %s", spec.name, error.get("errorType"))
                return Invocation(json.dumps(error).encode(), "Unhandled")
            return Invocation(answer["payload"].encode(), None)
        except EnvironmentLost as exc:
            error = exc.error
            log.warning("%s: %s", spec.name, exc.error["errorType"])
            return Invocation(json.dumps(exc.error).encode(), "Unhandled")
        finally:
            if environment is not None:
                self._release(spec, environment)
            if trace.sampled:
                ended_at = time.time()
                handler_started = ended_at - handler_seconds if handler_seconds is not None else started_at
                for document in lambda_segments(
                    spec, trace, request_id, (started_at, ended_at), handler_started, initialization, error, cause
                ):
                    self.xray.record(document)
            self.invocations.append(
                {
                    "function": spec.logical_id,
                    "startedAt": started_at,
                    "durationSeconds": handler_seconds
                    if handler_seconds is not None
                    else time.perf_counter() - started,
                    "executionArn": event.get("executionArn") if isinstance(event, dict) else None,
                }
            )

    def invoke_async(self, spec: FunctionSpec, event: Any) -> None:
        """An asynchronous (Event) invocation: queued, retried twice after a function error, then sent to
        the on-failure destination, as Lambda does for EventBridge, Scheduler and InvocationType=Event."""
        threading.Thread(target=self._run_async, args=(spec, event), daemon=True).start()

    def _run_async(self, spec: FunctionSpec, event: Any) -> None:
        request_id = str(uuid.uuid4())
        attempts = 1 + spec.maximum_retry_attempts
        result = Invocation(b"null", None)
        for attempt in range(1, attempts + 1):
            if self._stopping.is_set():
                return
            result = self.invoke(spec, event, request_id)
            if result.function_error is None:
                return
            log.warning("%s failed asynchronous attempt %d of %d", spec.name, attempt, attempts)
            if attempt < attempts:
                time.sleep(ASYNC_RETRY_DELAYS_SECONDS[min(attempt - 1, len(ASYNC_RETRY_DELAYS_SECONDS) - 1)])
        if spec.on_failure_queue_url is None or self.send_to_queue is None:
            log.error(
                "%s: asynchronous event dropped after %d attempts (no on-failure destination)", spec.name, attempts
            )
            return
        record = {
            "version": "1.0",
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "requestContext": {
                "requestId": request_id,
                "functionArn": f"{spec.arn}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": attempts,
            },
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": json.loads(result.payload or b"null"),
        }
        self.send_to_queue(spec, record)

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            environments = list(self._all)
        for environment in environments:
            environment.kill()
        self.xray.stop()

    def install(self) -> None:
        """Answers every Invoke of a template function that reaches moto's Lambda with the real handler.

        The patch sits on moto's Lambda function model, so the state machine interpreter (which calls
        back into moto over HTTP), the event bus, and any outside client (`aws lambda invoke`) all get
        the same behaviour. Functions not in the template keep moto's own behaviour.
        """
        from moto.awslambda.models import LambdaFunction

        runtime = self
        original = LambdaFunction.invoke

        def invoke(function: Any, body: str, request_headers: Any, response_headers: Any) -> str | bytes:
            spec = runtime.functions.get(function.function_name)
            if spec is None:
                return original(function, body, request_headers, response_headers)
            event = json.loads(body) if body else {}
            if request_headers.get("x-amz-invocation-type", "RequestResponse") == "Event":
                runtime.invoke_async(spec, event)
                return b""
            result = runtime.invoke(spec, event)
            if result.function_error:
                response_headers["x-amz-function-error"] = result.function_error
            return result.payload

        LambdaFunction.invoke = invoke  # type: ignore[method-assign]
