"""Fault injection: the next N calls of one service operation fail the way AWS calls fail in the field.

A WSGI layer in front of moto's server. POST /_local/faults on the stack's HTTP port (see
docs/embedded-aws.md) arms a fault, for calls of one operation, optionally only those one function makes
(`caller`: its logical id); each matching request then takes one of:
- "throttle": the service's throttling error (retried by the SDK's standard mode);
- "error": a 500 InternalFailure (a 5xx, also retried), or the error `code` with the HTTP `status` given
  (e.g. AccessDeniedException, 400: what an SCP or a broken policy answers; not retried);
- "timeout": no answer for `seconds` (60 by default), then the connection closes; nothing is applied;
- "lost": the request IS applied, then the connection closes before any response: the caller cannot
  tell whether it happened, and a retry meets the state its first attempt left.
"""

from __future__ import annotations

import contextlib
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
_CREDENTIAL_SCOPE = re.compile(r"Credential=([^/]+)/\d{8}/[^/]+/([^/]+)/aws4_request")
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
    code: str | None = None
    status: int | None = None
    caller: str | None = None


@cache
def _service_model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


@dataclass(frozen=True)
class _Route:
    method: str
    path: re.Pattern[str]
    query: tuple[tuple[str, str | None], ...]  # keys the requestUri fixes (`?list-type=2`, `?tagging`)
    required_headers: tuple[str, ...]  # required members the request must carry in a header
    required_query: tuple[str, ...]  # ... or in the query string
    operation: str


@cache
def _rest_routes(service: str) -> list[_Route]:
    """A REST service's operations as botocore's model routes them, most specific first."""
    model = _service_model(service)
    routes = []
    for name in model.operation_names:
        operation = model.operation_model(name)
        path, _, fixed = operation.http["requestUri"].partition("?")
        pattern = re.sub(r"\\\{[^}]+\\\+\\\}", ".+", re.escape(path))
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", pattern)
        query = tuple((k, v or None) for k, _, v in (part.partition("=") for part in fixed.split("&") if part))
        shape = operation.input_shape
        members = shape.members if shape is not None else {}
        required = shape.required_members if shape is not None else []
        located = [
            (members[m].serialization.get("location"), members[m].serialization.get("name", m)) for m in required
        ]
        routes.append(
            _Route(
                operation.http["method"],
                re.compile(f"^{pattern}$"),
                query,
                tuple(n.lower() for loc, n in located if loc == "header"),
                tuple(n for loc, n in located if loc == "querystring"),
                name,
            )
        )
    return sorted(routes, key=lambda r: (-len(r.query), -len(r.path.pattern)))


def _rest_operation(service: str, environ: dict[str, Any]) -> str | None:
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    headers = {k[5:].replace("_", "-").lower() for k in environ if k.startswith("HTTP_")}
    headers |= {k.replace("_", "-").lower() for k in ("CONTENT_TYPE", "CONTENT_LENGTH") if k in environ}
    for route in _rest_routes(service):
        if route.method != method or not route.path.match(path):
            continue
        if any(k not in query or (v is not None and v not in query[k]) for k, v in route.query):
            continue
        if any(h not in headers for h in route.required_headers) or any(q not in query for q in route.required_query):
            continue  # e.g. CopyObject is PutObject's URI with an x-amz-copy-source header
        return route.operation
    return None


def identify(environ: dict[str, Any], body: bytes) -> tuple[str, str] | None:
    """The botocore service and operation a signed request is for, or None when it cannot be told."""
    scope = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if scope is None:
        return None
    service = _SIGNING_NAMES.get(scope.group(2), scope.group(2))
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
    if protocol == "smithy-rpc-v2-cbor":  # POST /service/<ServiceName>/operation/<OperationName>
        found = re.fullmatch(r"/service/[^/]+/operation/([^/]+)", path)
        return (service, found.group(1)) if found else None
    operation = _rest_operation(service, environ)
    return (service, operation) if operation else None


class FaultInjector:
    """Wraps moto's WSGI app; passes every request through untouched while no fault is armed."""

    def __init__(self, app: Any, caller_of: Any = None, callers: tuple[str, ...] = ()):
        self.app = app
        # The functions a fault may name as its caller (their logical ids): a typo must not arm a silent fault.
        self.callers = callers
        # access key id -> the logical id of the function whose role signs with it (None: not a function)
        self.caller_of = caller_of or (lambda key: None)
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def arm(
        self,
        service: str,
        operation: str,
        kind: str,
        count: int = 1,
        seconds: float = 60.0,
        code: str | None = None,
        status: int | None = None,
        caller: str | None = None,
    ) -> Fault:
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
        if (code is not None or status is not None) and kind != "error":
            raise FaultError("only an 'error' fault takes a code and a status")
        if status is not None and not 400 <= status <= 599:
            raise FaultError("status must be an HTTP error status, 400 to 599")
        if code is not None and not re.fullmatch(r"[A-Za-z][A-Za-z0-9.]{0,99}", code):
            raise FaultError("code must be an error code such as AccessDeniedException")
        if caller and self.callers and caller not in self.callers:
            raise FaultError(f"caller must be a function's logical id: one of {', '.join(sorted(self.callers))}")
        fault = Fault(service, operation, kind, count, seconds, code, status, caller or None)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def armed(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(f) for f in self._faults]

    def _take(self, called: tuple[str, str] | None, environ: dict[str, Any]) -> Fault | None:
        if called is None:
            return None
        scope = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        caller = self.caller_of(scope.group(1)) if scope else None
        with self._lock:
            for fault in self._faults:
                if (
                    fault.remaining > 0
                    and (fault.service, fault.operation) == called
                    and fault.caller in (None, caller)
                ):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)  # nothing armed: requests pass untouched again
                    return fault
        return None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if not self._faults:
            return self.app(environ, start_response)
        length = environ.get("CONTENT_LENGTH")
        if length:
            body = environ["wsgi.input"].read(int(length))
        elif environ.get("wsgi.input_terminated"):
            body = environ["wsgi.input"].read()  # a chunked body, de-chunked by the server: it ends
        else:
            body = b""  # no body: reading the socket would wait for the client to close it
        environ["wsgi.input_terminated"] = True
        environ["wsgi.input"] = io.BytesIO(body)
        fault = self._take(identify(environ, body), environ)
        if fault is None:
            return self.app(environ, start_response)
        if fault.kind == "timeout":
            time.sleep(fault.seconds)
            return _drop_connection(environ, start_response)
        if fault.kind == "lost":
            for _ in self.app(environ, lambda *args, **kwargs: lambda data: None):
                pass
            return _drop_connection(environ, start_response)
        return _error_response(fault, start_response)


def _drop_connection(environ: dict[str, Any], start_response: Any) -> Any:
    connection = environ.get("werkzeug.socket")
    if connection is not None:
        with contextlib.suppress(OSError):  # the client may have gone already
            connection.shutdown(socket.SHUT_RDWR)
    start_response("500 Connection Lost", [("Content-Length", "0")])
    return [b""]


def _error_response(fault: Fault, start_response: Any) -> Any:
    protocol = _service_model(fault.service).protocol
    throttle = fault.kind == "throttle"
    code = "ThrottlingException" if throttle else "InternalFailure"
    message = "Rate exceeded" if throttle else "An internal error occurred (injected fault)"
    if fault.code or fault.status:
        code = fault.code or code
        message = f"{code} (injected fault)"
    if protocol in ("json", "rest-json"):
        status = "400 Bad Request" if throttle else "500 Internal Server Error"
        if protocol == "rest-json" and throttle:
            code, status = "TooManyRequestsException", "429 Too Many Requests"
        if fault.status:
            status = f"{fault.status} Injected"
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code)]
    elif protocol == "rest-xml":
        code = fault.code or ("SlowDown" if throttle else "InternalError")
        status = (
            f"{fault.status} Injected"
            if fault.status
            else ("503 Slow Down" if throttle else "500 Internal Server Error")
        )
        body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
        headers = [("Content-Type", "application/xml")]
    else:
        code = fault.code or ("Throttling" if throttle else "InternalFailure")
        status = (
            f"{fault.status} Injected"
            if fault.status
            else ("400 Bad Request" if throttle else "500 Internal Server Error")
        )
        sender = throttle or (fault.status or 500) < 500
        body = (
            f"<ErrorResponse><Error><Type>{'Sender' if sender else 'Receiver'}</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>injected</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml")]
    start_response(status, [*headers, ("Content-Length", str(len(body)))])
    return [body]
