"""EventBridge target: a SageMaker transform job of this workflow finished; resume the execution waiting on it."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from ..adapters.dynamodb_transform_callbacks import DynamoDbTransformCallbacks
from ..adapters.step_functions import StepFunctionsWorkflow
from ..domain.errors import ConfigurationError, DomainError
from ..domain.transforms import TERMINAL_STATUSES, correlation_from_environment
from ..services.batch_transform import read_event, transform_finished

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def approvals_table() -> str:
    value = os.environ.get("APPROVALS_TABLE", "").strip()
    if not value:
        raise ConfigurationError("environment variable APPROVALS_TABLE is not set")
    return value


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)  # a response can carry a credential (a session cookie)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        detail = read_event(event)
    except DomainError as exc:
        logger.warning("transform event ignored", reason=str(exc))
        return {"outcome": "ignored", "reason": str(exc)}
    logger.append_keys(
        transform_job=str(detail.get("TransformJobName"))[:63],
        status=str(detail.get("TransformJobStatus"))[:20],
        **correlation_from_environment(detail.get("Environment")),
    )
    result = transform_finished(
        detail, callbacks=DynamoDbTransformCallbacks(approvals_table()), workflow=StepFunctionsWorkflow()
    )
    logger.info("transform event handled", **result)
    # One metric per final status, never one per whatever string an event carries.
    status = detail.get("TransformJobStatus")
    metrics.add_metric(
        name=f"TransformJobs{status if status in TERMINAL_STATUSES else 'Other'}", unit=MetricUnit.Count, value=1
    )
    return result
