"""The HTTP API on a local port: requests become API Gateway HTTP API (payload v2) events for the handler.

Routes come from the template's HttpApi events. The same server also shows the outbox, so a person
can open the emails SES would have sent and follow their links.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from .lambda_runtime import FunctionSpec, LocalLambdaRuntime
from .outbox import read_outbox
from .template import ACCOUNT_ID

# API Gateway HTTP APIs pass these bodies as text and base64-encode every other body (forms included).
TEXT_TYPES = ("text/", "application/json")


@dataclass(frozen=True)
class HttpRoute:
    method: str
    path: str
    target: FunctionSpec

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path)) + "$"
        found = re.match(pattern, path)
        return found.groupdict() if found else None


def api_gateway_event(
    request: Request, route: HttpRoute, path_parameters: dict[str, str], api_id: str
) -> dict[str, Any]:
    body = request.get_data()
    content_type = request.headers.get("Content-Type", "")
    is_text = not body or content_type.startswith(TEXT_TYPES)
    headers = {k.lower(): v for k, v in request.headers.items() if k.lower() != "cookie"}
    # API Gateway adds these; the approval pages build their own URLs from them.
    headers["x-forwarded-proto"] = request.scheme
    headers["x-forwarded-for"] = request.remote_addr or "127.0.0.1"
    headers["x-forwarded-port"] = str(request.host.rsplit(":", 1)[-1]) if ":" in request.host else "80"
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": request.path,
        "rawQueryString": request.query_string.decode("latin-1"),
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": api_id,
            "domainName": request.host,
            "domainPrefix": request.host.split(".")[0],
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "sourceIp": request.remote_addr or "127.0.0.1",
                "userAgent": request.headers.get("User-Agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route.route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "pathParameters": path_parameters,
        "isBase64Encoded": not is_text,
    }
    if request.cookies:
        event["cookies"] = [f"{k}={v}" for k, v in request.cookies.items()]
    if request.args:
        event["queryStringParameters"] = {k: ",".join(request.args.getlist(k)) for k in request.args}
    if body:
        event["body"] = body.decode("utf-8") if is_text else base64.b64encode(body).decode()
    return event


def response_from_result(result: Any) -> Response:
    """Maps a handler result to HTTP the way API Gateway's payload format 2.0 does."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return Response(json.dumps(result), status=200, content_type="application/json")
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    response = Response(data, status=int(result["statusCode"]))
    for key, value in (result.get("headers") or {}).items():
        response.headers[key] = str(value)
    for cookie in result.get("cookies") or []:
        response.headers.add("Set-Cookie", cookie)
    return response


class LocalHttpApi:
    def __init__(self, runtime: LocalLambdaRuntime, routes: list[HttpRoute], region: str, api_id: str = "localapi"):
        self.runtime = runtime
        self.routes = routes
        self.region = region
        self.api_id = api_id
        self._server: BaseWSGIServer | None = None
        # Other local services on this port, by (method, path): the hosted UI stand-in.
        self.extra_routes: dict[tuple[str, str], Callable[[Request], Response]] = {}
        self.extra_pages: dict[str, Callable[[Request], Response]] = {
            "/": self._index,
            "/outbox": self._outbox,
            "/outbox.json": self._outbox_json,
            "/invocations.json": self._invocations_json,
        }

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        return self.dispatch(request)(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        for route in self.routes:
            parameters = route.match(request.method, request.path)
            if parameters is not None:
                result = self.runtime.invoke(route.target, api_gateway_event(request, route, parameters, self.api_id))
                if result.function_error:
                    return Response(
                        json.dumps({"message": "Internal Server Error"}), 500, content_type="application/json"
                    )
                response = response_from_result(json.loads(result.payload))
                if request.method == "HEAD":
                    response.set_data(b"")
                return response
        if (request.method, request.path) in self.extra_routes:
            return self.extra_routes[(request.method, request.path)](request)
        if request.method in ("GET", "HEAD"):
            if request.path in self.extra_pages:
                return self.extra_pages[request.path](request)
            found = re.match(r"^/outbox/(\d+)$", request.path)
            if found:
                return self._message(int(found.group(1)))
        return Response(json.dumps({"message": "Not Found"}), 404, content_type="application/json")

    def _index(self, request: Request) -> Response:
        routes = "".join(
            f"<li><code>{escape(r.route_key)}</code> → {escape(r.target.logical_id)}</li>" for r in self.routes
        )
        return _page(
            "Embedded AWS",
            "<h1>Embedded AWS</h1><p><a href='/console'>Operators' console</a> · <a href='/outbox'>Email outbox</a></p>"
            f"<h2>HTTP API routes</h2><ul>{routes}</ul>",
        )

    def _outbox(self, request: Request) -> Response:
        rows = "".join(
            f"<tr><td>{m.index}</td><td>{escape(', '.join(m.to))}</td>"
            f"<td><a href='/outbox/{m.index}'>{escape(m.subject)}</a></td></tr>"
            for m in reversed(read_outbox(self.region))
        )
        body = (
            "<h1>Outbox</h1><p>Every email SES was asked to send, newest first. Refresh to see new ones.</p>"
            f"<table><tr><th>#</th><th>To</th><th>Subject</th></tr>{rows}</table>"
        )
        return _page("Outbox", body)

    def _outbox_json(self, request: Request) -> Response:
        return Response(json.dumps([m.to_json() for m in read_outbox(self.region)]), content_type="application/json")

    def _invocations_json(self, request: Request) -> Response:
        """Every handler invocation with its duration: what CloudWatch's REPORT lines would tell in AWS."""
        return Response(json.dumps(list(self.runtime.invocations)), content_type="application/json")

    def _message(self, index: int) -> Response:
        messages = read_outbox(self.region)
        if not 0 <= index < len(messages):
            return _page("Not found", "<h1>No such email</h1><p><a href='/outbox'>Back to the outbox</a></p>", 404)
        message = messages[index]
        header = (
            f"<p><a href='/outbox'>← Outbox</a></p><p><b>From:</b> {escape(message.sender)}<br>"
            f"<b>To:</b> {escape(', '.join(message.to))}<br><b>Subject:</b> {escape(message.subject)}</p><hr>"
        )
        if message.html:
            # The email's own HTML document, after a local header; links in it point at this server.
            return Response(header + message.html, content_type="text/html; charset=utf-8")
        return _page(message.subject, header + f"<pre>{escape(message.text)}</pre>")

    def start(self, host: str, port: int) -> None:
        self._server = make_server(host, port, self, threaded=True)
        threading.Thread(target=self._server.serve_forever, name="http-api", daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()


def _page(title: str, body: str, status: int = 200) -> Response:
    html = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:auto;padding:1rem}"
        "td,th{padding:.3rem .6rem;text-align:left;border-bottom:1px solid #ddd}</style></head>"
        f"<body>{body}</body></html>"
    )
    return Response(html, status=status, content_type="text/html; charset=utf-8")


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
