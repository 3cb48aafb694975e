"""Scheduled (EventBridge Scheduler): start a promotion for any pending version whose event was lost."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from ..adapters.sagemaker_registry import SageMakerCatalog
from ..adapters.step_functions import StepFunctionsWorkflow
from ..config import ReconcileSettings
from ..services.reconcile import reconcile

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def settings() -> ReconcileSettings:
    return ReconcileSettings.from_environ(os.environ)


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)  # a response can carry a credential (a session cookie)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    config = settings()
    result = reconcile(
        catalog=SageMakerCatalog(),
        workflow=StepFunctionsWorkflow(config.state_machine_arn),
        stages=config.stages,
        groups=config.groups,
    )
    if result["started"]:
        logger.warning(
            "promotions started by reconcile: their registration events were lost", started=result["started"]
        )
    metrics.add_metric(name="ReconcileStarted", unit=MetricUnit.Count, value=len(result["started"]))
    return result
