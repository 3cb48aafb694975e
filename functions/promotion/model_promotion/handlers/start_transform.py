"""Step Functions task (.waitForTaskToken): start one SageMaker batch transform job."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from ..adapters.dynamodb_transform_callbacks import DynamoDbTransformCallbacks
from ..adapters.sagemaker_transforms import SageMakerTransforms
from ..adapters.step_functions import StepFunctionsWorkflow
from ..config import TransformSettings
from ..domain.approvals import utc_now
from ..services.batch_transform import start_transform

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def settings() -> TransformSettings:
    return TransformSettings.from_environ(os.environ)


@logger.inject_lambda_context(log_event=False, clear_state=True)  # the event carries the task token
@tracer.capture_lambda_handler(capture_response=False)  # a response can carry a credential (a session cookie)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    config = settings()
    result = start_transform(
        event,
        transforms=SageMakerTransforms(config),
        callbacks=DynamoDbTransformCallbacks(config.approvals_table),
        workflow=StepFunctionsWorkflow(),
        now=utc_now(),
    )
    logger.append_keys(**result["correlation"])
    logger.info("transform job started", job_name=result["jobName"], role=result["role"])
    metrics.add_metric(name="TransformJobsStarted", unit=MetricUnit.Count, value=1)
    return result
