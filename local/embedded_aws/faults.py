"""Fault injection: the next N calls of one service operation fail the way AWS calls fail in the field.

A WSGI layer in front of moto's server. POST /_local/faults on the stack's HTTP port (see
docs/embedded-aws.md) arms a fault; each matching request then takes one of:
- "throttle": the service's throttling error (retried by the SDK's standard mode);
- "error": a 500 InternalFailure (a 5xx, also retried);
- "timeout": no answer for `seconds` (60 by default), then the connection closes; nothing is applied;
- "lost": the request IS applied, then the connection closes before any response: the caller cannot
  tell whether it happened, and a retry meets the state its first attempt left.
"""

from __future__ import annotations

import io
import json
import re
import socket
import threading
import time
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qs

KINDS = ("throttle", "error", "timeout", "lost")
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
# Signing names that differ from botocore's service names. SES v1 and v2 share one.
_SIGNING_NAMES = {"states": "stepfunctions", "monitoring": "cloudwatch", "email": "ses", "execute-api": "apigateway"}


class FaultError(ValueError):
    """A fault request that cannot be armed; the message says what to send instead."""


@dataclass
class Fault:
    service: str
    operation: str
    kind: str
    remaining: int
    seconds: float = 60.0


@cache
def _service_model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


@cache
def _rest_routes(service: str) -> list[tuple[str, re.Pattern[str], str]]:
    """(method, path pattern, operation) for a REST service, from botocore's model, most specific first."""
    model = _service_model(service)
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        path = http["requestUri"].split("?", 1)[0]
        pattern = re.sub(r"\\\{[^}]+\\\+\\\}", ".+", re.escape(path))
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", pattern)
        routes.append((http["method"], re.compile(f"^{pattern}$"), name))
    return sorted(routes, key=lambda r: -len(r[1].pattern))


def identify(environ: dict[str, Any], body: bytes) -> tuple[str, str] | None:
    """The botocore service and operation a signed request is for, or None when it cannot be told."""
    scope = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if scope is None:
        return None
    service = _SIGNING_NAMES.get(scope.group(1), scope.group(1))
    path = environ.get("PATH_INFO", "")
    if service == "ses" and path.startswith("/v2/"):
        service = "sesv2"
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return service, target.rsplit(".", 1)[-1]
    try:
        protocol = _service_model(service).protocol
    except Exception:
        return None
    if protocol in ("query", "ec2"):
        action = parse_qs(body.decode("utf-8", "replace")).get("Action")
        return (service, action[0]) if action else None
    method = environ.get("REQUEST_METHOD", "GET")
    for route_method, pattern, operation in _rest_routes(service):
        if route_method == method and pattern.match(path):
            return service, operation
    return None


class FaultInjector:
    """Wraps moto's WSGI app; passes every request through untouched while no fault is armed."""

    def __init__(self, app: Any):
        self.app = app
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def arm(self, service: str, operation: str, kind: str, count: int = 1, seconds: float = 60.0) -> Fault:
        if kind not in KINDS:
            raise FaultError(f"fault must be one of {', '.join(KINDS)}, not {kind!r}")
        try:
            model = _service_model(service)
        except Exception:
            raise FaultError(f"{service!r} is not a botocore service name (e.g. sagemaker, stepfunctions)") from None
        if operation not in model.operation_names:
            raise FaultError(f"{service} has no operation {operation!r} (use the API name, e.g. SendTaskSuccess)")
        if count < 1 or seconds < 0:
            raise FaultError("count must be at least 1 and seconds not negative")
        fault = Fault(service, operation, kind, count, seconds)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def armed(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(f) for f in self._faults if f.remaining > 0]

    def _take(self, called: tuple[str, str] | None) -> Fault | None:
        if called is None:
            return None
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and (fault.service, fault.operation) == called:
                    fault.remaining -= 1
                    return fault
        return None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if not self._faults:
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        fault = self._take(identify(environ, body))
        if fault is None:
            return self.app(environ, start_response)
        if fault.kind == "timeout":
            time.sleep(fault.seconds)
            return _drop_connection(environ, start_response)
        if fault.kind == "lost":
            for _ in self.app(environ, lambda *args, **kwargs: (lambda data: None)):
                pass
            return _drop_connection(environ, start_response)
        return _error_response(fault, start_response)


def _drop_connection(environ: dict[str, Any], start_response: Any) -> Any:
    connection = environ.get("werkzeug.socket")
    if connection is not None:
        try:
            connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    start_response("500 Connection Lost", [("Content-Length", "0")])
    return [b""]


def _error_response(fault: Fault, start_response: Any) -> Any:
    protocol = _service_model(fault.service).protocol
    throttle = fault.kind == "throttle"
    code = "ThrottlingException" if throttle else "InternalFailure"
    message = "Rate exceeded" if throttle else "An internal error occurred (injected fault)"
    if protocol in ("json", "rest-json"):
        status = "400 Bad Request" if throttle else "500 Internal Server Error"
        if protocol == "rest-json" and throttle:
            code, status = "TooManyRequestsException", "429 Too Many Requests"
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code)]
    elif protocol == "rest-xml":
        code = "SlowDown" if throttle else "InternalError"
        status = "503 Slow Down" if throttle else "500 Internal Server Error"
        body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
        headers = [("Content-Type", "application/xml")]
    else:
        code = "Throttling" if throttle else "InternalFailure"
        status = "400 Bad Request" if throttle else "500 Internal Server Error"
        body = (
            f"<ErrorResponse><Error><Type>{'Sender' if throttle else 'Receiver'}</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>injected</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml")]
    start_response(status, [*headers, ("Content-Length", str(len(body)))])
    return [body]
