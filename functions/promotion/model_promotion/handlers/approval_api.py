"""HTTP API (payload v2) for approval links: GET and HEAD show, POST decides.

Every answer is a complete HTML page with a status a browser understands. Nothing here ever returns
a stack trace, and no response is cached or leaks its URL through a Referer.
"""

from __future__ import annotations

import base64
import binascii
import os
from functools import cache
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from ..adapters.dynamodb_approvals import DynamoDbApprovalStore
from ..adapters.step_functions import StepFunctionsWorkflow
from ..config import ApprovalApiSettings
from ..domain.approvals import utc_now
from ..domain.presentation import Page, message_page
from ..services.approvals import decide, show_review

logger = Logger()
tracer = Tracer()
metrics = Metrics()

BODY_MAX = 16 * 1024
SECURITY_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


@cache
def settings() -> ApprovalApiSettings:
    return ApprovalApiSettings.from_environ(os.environ)


def respond(page: Page, method: str) -> dict[str, Any]:
    return {
        "statusCode": page.status,
        "headers": dict(SECURITY_HEADERS),
        "body": "" if method == "HEAD" else page.html,
        "isBase64Encoded": False,
    }


def read_form(event: dict[str, Any]) -> dict[str, str] | Page:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    if not headers.get("content-type", "").lower().startswith("application/x-www-form-urlencoded"):
        return message_page(415, "Unsupported form", "Send the decision from the review page's form.")
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return message_page(400, "Unreadable form", "The form could not be read. Reload the page and try again.")
    if len(body) > BODY_MAX:
        return message_page(413, "Form too large", "The comment is too long. Keep it within 1000 characters.")
    return {key: values[0] for key, values in parse_qs(body, keep_blank_values=True).items()}


@logger.inject_lambda_context(log_event=False, clear_state=True)  # events can carry cookies and tokens: never log them
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    method = str(event.get("requestContext", {}).get("http", {}).get("method", "GET")).upper()
    approval_id = str((event.get("pathParameters") or {}).get("approvalId", ""))
    form_action = str(event.get("rawPath") or f"/approvals/{approval_id}")
    try:
        store = DynamoDbApprovalStore(settings().approvals_table)
        if method in ("GET", "HEAD"):
            page = show_review(approval_id, store=store, now=utc_now(), form_action=form_action)
        elif method == "POST":
            form = read_form(event)
            page = (
                form
                if isinstance(form, Page)
                else decide(
                    approval_id,
                    form,
                    store=store,
                    workflow=StepFunctionsWorkflow(),
                    now=utc_now(),
                    form_action=form_action,
                )
            )
        else:
            page = message_page(405, "Method not allowed", "Open the link from your email to review this request.")
    except Exception as exc:
        # The person gets a plain page. Operators get the error, but no traceback: a chained botocore
        # error from SendTask* could quote the task token, and no token may reach a log.
        logger.error("approval request failed", error_type=type(exc).__name__, error=str(exc))
        page = message_page(
            503,
            "Temporarily unavailable",
            "Your decision was not recorded because of a problem on our side. Nothing was changed; "
            "please try again in a minute.",
        )
    logger.info("approval page served", method=method, status=page.status)
    metrics.add_metric(name=f"ApprovalPage{page.status}", unit=MetricUnit.Count, value=1)
    return respond(page, method)
