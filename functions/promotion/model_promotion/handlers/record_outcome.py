"""Step Functions task: write a stage's outcome to the registry, SSM and the audit log."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from ..adapters.dynamodb_decision_log import DynamoDbDecisionLog
from ..adapters.kms_signer import KmsDecisionSigner
from ..adapters.sagemaker_registry import SageMakerRegistry
from ..adapters.ses_mailer import SesMailer
from ..adapters.ssm_approved_models import SsmApprovedModels
from ..adapters.step_functions import StepFunctionsWorkflow
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
@tracer.capture_lambda_handler(capture_response=False)  # a response can carry a credential (a session cookie)
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
        signer=KmsDecisionSigner(config.signing_key_id),
        history=StepFunctionsWorkflow(),
    )
    logger.info("stage outcome recorded", outcome=result["outcome"], summary=result["summary"])
    metrics.add_dimension(name="outcome", value=result["outcome"])
    metrics.add_metric(name="StageOutcomes", unit=MetricUnit.Count, value=1)
    report_undelivered(result.get("undelivered") or [])
    return result


def report_undelivered(undelivered: Sequence[Mapping[str, Any]]) -> None:
    """One NoticesUndelivered data point and one warning (with the reason) per notice the mail service refused.

    The metric carries only the service dimension: a CloudWatch alarm matches a metric's exact dimension
    set, so a per-reason dimension would need an alarm per reason; the reason is in the log line. Its own
    metric set, so the `outcome` dimension of StageOutcomes stays apart.
    """
    for notice in undelivered:
        logger.warning(
            "outcome notice undelivered",
            recipients=list(notice.get("to") or []),
            reason=notice.get("reason"),
            error=notice.get("error"),
            redirected_to=notice.get("redirectedTo"),
        )
    if undelivered:
        with single_metric(
            name="NoticesUndelivered",
            unit=MetricUnit.Count,
            value=len(undelivered),
            default_dimensions=metrics.default_dimensions,
        ):
            pass
