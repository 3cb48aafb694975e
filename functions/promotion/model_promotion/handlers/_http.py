"""API Gateway HTTP API (payload v2) events to and from our sites' requests and responses (services/web_sessions.py).

Every answer carries headers that keep it out of caches, frames and Referers, and a Content-Security-Policy
that allows no script, or (for the console) scripts and fetches of its own origin only.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from ..services.web_sessions import HttpRequest, HttpResponse, SignedInSite

SECURITY_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}
# The console's pages run one script of their own (console.js), which fetches their data from the same origin.
SCRIPTS_OF_OUR_OWN = "script-src 'self'; connect-src 'self'; "


def http_request(event: dict[str, Any]) -> HttpRequest:
    body = event.get("body") or ""
    if event.get("isBase64Encoded") and body:
        try:
            body = base64.b64decode(body).decode("utf-8")
        except ValueError:  # binascii.Error, UnicodeDecodeError, and non-ASCII text: all ValueErrors
            body = ""
    cookies = {}
    for cookie in event.get("cookies") or []:
        name, _, value = cookie.partition("=")
        cookies[name.strip()] = value.strip()
    context = event.get("requestContext", {}).get("http", {})
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    scheme = headers.get("x-forwarded-proto", "https").split(",")[0].strip()
    domain = event.get("requestContext", {}).get("domainName") or headers.get("host", "localhost")
    return HttpRequest(
        method=str(context.get("method", "GET")).upper(),
        path=str(event.get("rawPath") or context.get("path") or "/"),
        query=dict(event.get("queryStringParameters") or {}),
        headers=headers,
        cookies=cookies,
        body=body,
        base_url=f"{scheme}://{domain}",
    )


def http_response(
    response: HttpResponse, method: str, sign_in_origin: str | None = None, *, scripts: bool = False
) -> dict[str, Any]:
    """`sign_in_origin`: the hosted UI's origin, where the pages' forms lead after a redirect (signing in again at
    signing, signing out). Browsers check CSP form-action against every redirect a form submission follows.
    `scripts`: the page may run scripts of its own origin (the console's refresh)."""
    headers = {**SECURITY_HEADERS, "Content-Type": response.content_type}
    if scripts:
        headers["Content-Security-Policy"] = headers["Content-Security-Policy"].replace(
            "default-src 'none'; ", f"default-src 'none'; {SCRIPTS_OF_OUR_OWN}"
        )
    if sign_in_origin:
        headers["Content-Security-Policy"] = headers["Content-Security-Policy"].replace(
            "form-action 'self'", f"form-action 'self' {sign_in_origin}"
        )
    if response.location:
        headers["Location"] = response.location
    return {
        "statusCode": response.status,
        "headers": headers,
        "cookies": list(response.cookies),
        "body": "" if method == "HEAD" else response.html,
        "isBase64Encoded": False,
    }


def serve(
    event: dict[str, Any],
    site: Callable[[], SignedInSite],
    *,
    logger: Logger,
    metrics: Metrics,
    name: str,
    unavailable: HttpResponse,
    scripts: bool = False,
) -> dict[str, Any]:
    """One request to a site: its answer, or `unavailable` when something on our side failed. The log line names
    the route's first path segment only (an approval link's id is its only secret), never the event."""
    request = http_request(event)
    origin = None
    try:
        built = site()
        origin = built.sign_in.origin
        response = built.handle(request)
    except Exception as exc:
        # No traceback: a chained error from SendTask* or the token endpoint could quote a token, and no token may
        # reach a log.
        logger.error(f"{name} failed", error_type=type(exc).__name__, error=str(exc))
        response = unavailable
    if response.context:
        logger.append_keys(**response.context)
    logger.info(f"{name} served", method=request.method, route=request.path.split("/")[1], status=response.status)
    metric = "".join(word.capitalize() for word in name.split())
    metrics.add_metric(name=f"{metric}{response.status}", unit=MetricUnit.Count, value=1)
    return http_response(response, request.method, origin, scripts=scripts)
