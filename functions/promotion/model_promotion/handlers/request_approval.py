"""Step Functions task (.waitForTaskToken): ask the stage's approvers for a decision."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from ..adapters.dynamodb_approvals import DynamoDbApprovalStore
from ..adapters.dynamodb_decision_log import DynamoDbDecisionLog
from ..adapters.sagemaker_registry import SageMakerRegistry
from ..adapters.ses_mailer import SesMailer
from ..adapters.ssm_approved_models import SsmApprovedModels
from ..adapters.step_functions import StepFunctionsWorkflow
from ..config import ApprovalRequestSettings
from ..services.approvals import request_approval
from ._context import bind_stage_keys

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def settings() -> ApprovalRequestSettings:
    return ApprovalRequestSettings.from_environ(os.environ)


@logger.inject_lambda_context(log_event=False, clear_state=True)  # the event carries the task token: never log it
@tracer.capture_lambda_handler(capture_response=False)  # a response can carry a credential (a session cookie)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    config = settings()
    bind_stage_keys(logger, event)
    result = request_approval(
        event,
        settings=config,
        store=DynamoDbApprovalStore(config.approvals_table),
        mailer=SesMailer(config.sender),
        approved_models=SsmApprovedModels(),
        history=StepFunctionsWorkflow(),
        log=DynamoDbDecisionLog(config.decision_log_table),
        registry=SageMakerRegistry(),
    )
    logger.info("approval requested", recipients=len(result["recipients"]), expires_at=result["expiresAt"])
    metrics.add_dimension(name="stage", value=str(event.get("stage")))
    metrics.add_metric(name="ApprovalsRequested", unit=MetricUnit.Count, value=1)
    return result
