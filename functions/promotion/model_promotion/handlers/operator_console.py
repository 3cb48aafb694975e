"""HTTP API (payload v2) for the operators' console (services/operator_console.py): its sign-in, its pages, their
data refreshes, and the resend, cancel and retry actions.

Every answer is a complete HTML page, a redirect, or the console's own script. Nothing here returns a stack
trace, and the event (which carries cookies) is never logged.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

from ..adapters.cognito_directory import CognitoDirectory
from ..adapters.cognito_sign_in import CognitoSignIn
from ..adapters.dynamodb_approvals import DynamoDbApprovalStore
from ..adapters.dynamodb_decision_log import DynamoDbDecisionLog
from ..adapters.dynamodb_sessions import DynamoDbSessionStore
from ..adapters.sagemaker_registry import SageMakerCatalog, SageMakerRegistry
from ..adapters.ses_mailer import SesMailer
from ..adapters.step_functions import StepFunctionsWorkflow
from ..config import OperatorConsoleSettings
from ..domain.approvals import utc_now
from ..services.operator_console import OperatorConsole
from ..services.web_sessions import HttpResponse
from ._http import serve

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def console() -> OperatorConsole:
    """Built once per cold start, so the user pool's signing keys are fetched once, not per request."""
    settings = OperatorConsoleSettings.from_environ(os.environ)
    sign_in = CognitoSignIn.from_parameter(settings.sign_in_parameter)
    workflow = StepFunctionsWorkflow(settings.state_machine_arn)
    return OperatorConsole(
        settings,
        store=DynamoDbApprovalStore(settings.approvals_table),
        log=DynamoDbDecisionLog(settings.decision_log_table),
        catalog=SageMakerCatalog(),
        registry=SageMakerRegistry(),
        executions=workflow,
        workflow=workflow,
        mailer=SesMailer(settings.sender),
        sign_in=sign_in,
        sessions=DynamoDbSessionStore(settings.sessions_table),
        directory=CognitoDirectory(sign_in.user_pool_id, settings.operator_group.__eq__),
        clock=utc_now,
    )


@logger.inject_lambda_context(log_event=False, clear_state=True)  # events carry cookies and tokens
@tracer.capture_lambda_handler(capture_response=False)  # a response can carry a credential (a session cookie)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return serve(
        event, console, logger=logger, metrics=metrics, name="console page", unavailable=UNAVAILABLE, scripts=True
    )


UNAVAILABLE = HttpResponse(
    503,
    "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Temporarily unavailable</title></head><body>"
    "<h1>Temporarily unavailable</h1><p>A problem on our side stopped this console page. Reload it in a minute; an "
    "action you sent may have been carried out: the version's timeline says whether it was.</p></body></html>",
)
