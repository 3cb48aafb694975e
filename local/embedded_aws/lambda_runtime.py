"""Run the project's real Lambda handlers in this process, as moto's Lambda would if it had Docker.

moto's Lambda without Docker only echoes its payload, so a botocore `before-call.lambda.Invoke` hook
on boto3's default session answers every Invoke of a template function by calling its handler here.
The Step Functions interpreter builds its Lambda client from that session, so each state machine task
runs real code, and the answer has the shape the Lambda service gives (FunctionError and an error
payload when the handler raises).
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote

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
    """Invokes template functions in-process, one at a time.

    Each Lambda environment sees only its own variables, but os.environ is per process, so invocations
    are serialised and each runs with its function's environment in place. Lambda itself runs one event
    per environment at a time, so handlers cannot tell the difference.
    """

    def __init__(self, functions: list[FunctionSpec], base_environment: dict[str, str], region: str):
        self.functions = {f.name: f for f in functions}
        self.by_arn = {f.arn: f for f in functions}
        self.by_logical_id = {f.logical_id: f for f in functions}
        self.base_environment = dict(base_environment)
        self.region = region
        self._lock = threading.RLock()
        self._handlers: dict[str, Callable[[Any, Any], Any]] = {}
        self.durations: list[tuple[str, float]] = []

    def find(self, name_or_arn: str) -> FunctionSpec | None:
        name_or_arn = unquote(name_or_arn)
        if name_or_arn in self.by_arn:
            return self.by_arn[name_or_arn]
        if name_or_arn.startswith("arn:"):
            parts = name_or_arn.split(":")
            name_or_arn = parts[6] if len(parts) > 6 else name_or_arn
        return self.functions.get(name_or_arn.split(":")[0])

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
        if spec.name not in self._handlers:
            code_uri = str(spec.code_uri)
            if code_uri not in sys.path:
                sys.path.insert(0, code_uri)
            module_name, _, attribute = spec.handler.rpartition(".")
            module = importlib.import_module(module_name)
            self._handlers[spec.name] = getattr(module, attribute)
        return self._handlers[spec.name]

    def invoke(self, spec: FunctionSpec, event: Any) -> Invocation:
        with self._lock:
            saved = _apply_environment(self._environment(spec))
            started = time.perf_counter()
            try:
                handler = self._handler(spec)
                context = LambdaContext(spec.name, spec.arn, spec.memory_size, spec.timeout)
                result = handler(event, context)
                return Invocation(json.dumps(result).encode(), None)
            except Exception as exc:  # the Lambda service reports any handler exception this way
                log.warning("%s raised %s", spec.name, type(exc).__name__)
                traceback.print_exc()
                error = {
                    "errorMessage": str(exc),
                    "errorType": type(exc).__name__,
                    "stackTrace": traceback.format_tb(exc.__traceback__),
                }
                return Invocation(json.dumps(error).encode(), "Unhandled")
            finally:
                self.durations.append((spec.logical_id, time.perf_counter() - started))
                _restore_environment(saved)

    def install(self) -> None:
        """Answers lambda:Invoke for template functions on boto3's default session (see module docstring)."""
        import boto3

        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("before-call.lambda.Invoke", self._on_invoke)

    def _on_invoke(self, params: dict[str, Any], **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        # url_path is /2015-03-31/functions/<name or ARN>/invocations
        path = params.get("url_path", "")
        name = path.split("/functions/", 1)[-1].rsplit("/invocations", 1)[0]
        spec = self.find(name)
        if spec is None:
            return None  # not ours: let moto answer (ResourceNotFound)
        body = params.get("body") or b"{}"
        event = json.loads(body) if body else {}
        invocation_type = (params.get("headers") or {}).get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type == "Event":
            threading.Thread(target=self.invoke, args=(spec, event), daemon=True).start()
            return AWSResponse("http://local", 202, {}, None), {"StatusCode": 202, "Payload": _body(b"")}
        result = self.invoke(spec, event)
        parsed: dict[str, Any] = {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": _body(result.payload)}
        if result.function_error:
            parsed["FunctionError"] = result.function_error
        return AWSResponse("http://local", 200, {}, None), parsed


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


def _body(data: bytes) -> Any:
    from botocore.response import StreamingBody

    return StreamingBody(io.BytesIO(data), len(data))
