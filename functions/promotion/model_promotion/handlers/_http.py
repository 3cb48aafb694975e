"""API Gateway HTTP API (payload v2) events to and from our sites' requests and responses (services/web_sessions.py).

Every answer carries headers that keep it out of caches, frames and Referers, and a Content-Security-Policy
that allows no script, or (for the console) scripts and fetches of its own origin only.
"""

from __future__ import annotations

import base64
from typing import Any

from ..services.web_sessions import HttpRequest, HttpResponse

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
