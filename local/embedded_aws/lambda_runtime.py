"""Run the project's real Lambda handlers in this process, as moto's Lambda would if it had Docker.

moto's Lambda without Docker only echoes its payload. Here every Invoke of a template function calls
its real handler instead, with the function's environment, and answers the way the Lambda service
does: the handler's result, or FunctionError with an error payload when the handler raises.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("embedded_aws.lambda")


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


@dataclass
class LambdaContext:
    """The attributes of the Lambda runtime's context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_stream_name: str = "local"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class Invocation:
    payload: bytes
    function_error: str | None


class LocalLambdaRuntime:
    """Invokes template functions in-process.

    Each Lambda environment sees only its own variables, but os.environ is per process. So invocations
    of one function may run concurrently (they share an environment, as Lambda's concurrent environments
    hold the same variables), while different functions take turns, each with its environment in place.
    """

    def __init__(self, functions: list[FunctionSpec], base_environment: dict[str, str], region: str):
        self.functions = {f.name: f for f in functions}
        self.base_environment = dict(base_environment)
        self.region = region
        self._turn = threading.Condition()
        self._active: str | None = None
        self._active_count = 0
        self._saved_environment: dict[str, str | None] = {}
        self._import_lock = threading.Lock()
        self._handlers: dict[str, Callable[[Any, Any], Any]] = {}
        # The latest invocations, for /invocations.json; bounded so a long `make up` doesn't grow forever.
        self.invocations: deque[dict[str, Any]] = deque(maxlen=10_000)

    def _environment(self, spec: FunctionSpec) -> dict[str, str]:
        env = dict(self.base_environment)
        env.update(
            {
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
                "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
                "_HANDLER": spec.handler,
                # There is no X-Ray daemon locally; Powertools Tracer would only warn about it.
                "POWERTOOLS_TRACE_DISABLED": "true",
            }
        )
        env.update(spec.environment)
        return env

    def _handler(self, spec: FunctionSpec) -> Callable[[Any, Any], Any]:
        """Imports the handler once, like a cold start, with the function's environment in place."""
        with self._import_lock:
            return self._import_handler(spec)

    def _import_handler(self, spec: FunctionSpec) -> Callable[[Any, Any], Any]:
        if spec.name not in self._handlers:
            code_uri = str(spec.code_uri)
            if code_uri not in sys.path:
                sys.path.insert(0, code_uri)
            module_name, _, attribute = spec.handler.rpartition(".")
            module = importlib.import_module(module_name)
            self._handlers[spec.name] = getattr(module, attribute)
        return self._handlers[spec.name]

    def _enter(self, spec: FunctionSpec) -> None:
        with self._turn:
            self._turn.wait_for(lambda: self._active in (None, spec.name))
            if self._active_count == 0:
                self._saved_environment = _apply_environment(self._environment(spec))
                self._active = spec.name
            self._active_count += 1

    def _leave(self) -> None:
        with self._turn:
            self._active_count -= 1
            if self._active_count == 0:
                _restore_environment(self._saved_environment)
                self._active = None
                self._turn.notify_all()

    def invoke(self, spec: FunctionSpec, event: Any) -> Invocation:
        self._enter(spec)
        started_at = time.time()
        started = time.perf_counter()
        try:
            handler = self._handler(spec)
            context = LambdaContext(spec.name, spec.arn, spec.memory_size, spec.timeout)
            result = handler(event, context)
            return Invocation(json.dumps(result).encode(), None)
        except Exception as exc:  # the Lambda service reports any handler exception this way
            log.warning("%s raised %s", spec.name, type(exc).__name__)
            # Like the Lambda runtime: the exception's own frames, not the exceptions it chains.
            traceback.print_exception(exc, chain=False)
            error = {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "stackTrace": traceback.format_tb(exc.__traceback__),
            }
            return Invocation(json.dumps(error).encode(), "Unhandled")
        finally:
            self.invocations.append(
                {
                    "function": spec.logical_id,
                    "startedAt": started_at,
                    "durationSeconds": time.perf_counter() - started,
                    "executionArn": event.get("executionArn") if isinstance(event, dict) else None,
                }
            )
            self._leave()

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
                threading.Thread(target=runtime.invoke, args=(spec, event), daemon=True).start()
                return b""
            result = runtime.invoke(spec, event)
            if result.function_error:
                response_headers["x-amz-function-error"] = result.function_error
            return result.payload

        LambdaFunction.invoke = invoke  # type: ignore[method-assign]


def _apply_environment(wanted: dict[str, str]) -> dict[str, str | None]:
    """Sets the variables in place, without ever emptying os.environ: moto's server threads read it too."""
    saved = {key: os.environ.get(key) for key in wanted}
    os.environ.update(wanted)
    return saved


def _restore_environment(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
