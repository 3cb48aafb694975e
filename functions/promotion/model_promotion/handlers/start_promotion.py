"""EventBridge target: a model package version was registered or changed."""

from __future__ import annotations

import os
from dataclasses import asdict
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from ..adapters.sagemaker_registry import SageMakerRegistry
from ..adapters.step_functions import StepFunctionsWorkflow
from ..config import StarterSettings
from ..domain.errors import InvalidPayload
from ..services.start_promotion import start_promotion

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def settings() -> StarterSettings:
    return StarterSettings.from_environ(os.environ)


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)  # a response can carry a credential (a session cookie)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    config = settings()
    detail = event.get("detail") if isinstance(event, dict) else None
    if isinstance(detail, dict):
        logger.append_keys(
            model_package_group=detail.get("ModelPackageGroupName"), model_version=detail.get("ModelPackageVersion")
        )
    try:
        result = start_promotion(
            event,
            registry=SageMakerRegistry(),
            workflow=StepFunctionsWorkflow(config.state_machine_arn),
            stages=config.stages,
        )
    except InvalidPayload as exc:
        # A bad event is answered, not retried: EventBridge would only deliver it again. A configuration
        # problem (a refused call) raises instead: Lambda retries it, then the on-failure queue keeps the
        # event and its alarm fires, so no registration is lost to a broken policy.
        logger.warning("registration event ignored", reason=str(exc))
        return {"outcome": "ignored", "reason": str(exc)}
    logger.info(
        "registration event handled", outcome=result.outcome, reason=result.reason, execution_name=result.execution_name
    )
    metrics.add_metric(name=f"Registrations{result.outcome.title()}", unit=MetricUnit.Count, value=1)
    return asdict(result)
