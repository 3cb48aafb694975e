"""HTTP API (payload v2) for the approval pages: sign-in and sign-out, review (GET/HEAD) and decision (POST).

Every answer is a complete HTML page or a redirect. Nothing here returns a stack trace, no response is
cached or leaks its URL through a Referer, and the event (which carries cookies) is never logged.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

from ..adapters.cognito_directory import CognitoDirectory
from ..adapters.cognito_sign_in import CognitoSignIn
from ..adapters.dynamodb_approvals import DynamoDbApprovalStore
from ..adapters.dynamodb_sessions import DynamoDbSessionStore
from ..adapters.kms_signer import KmsDecisionSigner
from ..adapters.step_functions import StepFunctionsWorkflow
from ..config import ApprovalApiSettings
from ..domain.approvals import utc_now
from ..domain.identity import is_approver_group
from ..domain.presentation import message_page
from ..services.approval_web import ApprovalPages, HttpResponse
from ._http import serve

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def pages() -> ApprovalPages:
    """Built once per cold start, so the user pool's signing keys are fetched once, not per request."""
    settings = ApprovalApiSettings.from_environ(os.environ)
    sign_in = CognitoSignIn.from_parameter(settings.sign_in_parameter)
    return ApprovalPages(
        settings,
        store=DynamoDbApprovalStore(settings.approvals_table),
        workflow=StepFunctionsWorkflow(),
        sign_in=sign_in,
        signer=KmsDecisionSigner(settings.signing_key_id),
        sessions=DynamoDbSessionStore(settings.sessions_table),
        directory=CognitoDirectory(sign_in.user_pool_id, is_approver_group(settings.approver_group_prefix)),
        clock=utc_now,
    )


@logger.inject_lambda_context(log_event=False, clear_state=True)  # events carry cookies and tokens
@tracer.capture_lambda_handler(capture_response=False)  # a response can carry a credential (a session cookie)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Said without "nothing was changed": a failure after a claim leaves a signed decision the sweep delivers, and
    # the review page, reloaded, says which it was.
    page = message_page(
        503,
        "Temporarily unavailable",
        "A problem on our side stopped this page before your decision could be confirmed. Reload the review "
        "page in a minute: it shows whether your decision was recorded, and lets you decide if it was not.",
    )
    unavailable = HttpResponse(page.status, page.html)
    return serve(event, pages, logger=logger, metrics=metrics, name="approval page", unavailable=unavailable)
