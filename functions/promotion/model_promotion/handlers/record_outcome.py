"""Step Functions task: write a stage's outcome to the registry, SSM and the audit log."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from ..adapters.dynamodb_decision_log import DynamoDbDecisionLog
from ..adapters.sagemaker_registry import SageMakerRegistry
from ..adapters.ses_mailer import SesMailer
from ..adapters.ssm_approved_models import SsmApprovedModels
from ..config import OutcomeSettings
from ..services.outcomes import record_stage_outcome
from ._context import bind_stage_keys

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def settings() -> OutcomeSettings:
    return OutcomeSettings.from_environ(os.environ)


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    config = settings()
    bind_stage_keys(logger, event)
    result = record_stage_outcome(
        event,
        settings=config,
        registry=SageMakerRegistry(),
        approved_models=SsmApprovedModels(),
        log=DynamoDbDecisionLog(config.decision_log_table),
        mailer=SesMailer(config.sender),
    )
    logger.info("stage outcome recorded", outcome=result["outcome"], summary=result["summary"])
    metrics.add_dimension(name="outcome", value=result["outcome"])
    metrics.add_metric(name="StageOutcomes", unit=MetricUnit.Count, value=1)
    return result
