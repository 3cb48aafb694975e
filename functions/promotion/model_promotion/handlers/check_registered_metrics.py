"""Step Functions task: hold the version's registered metrics to the quality gate before any approval."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from ..adapters.s3_objects import S3Objects
from ..adapters.sagemaker_registry import SageMakerRegistry
from ..config import MetricsSettings
from ..services.registered_metrics import check_registered_metrics

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def settings() -> MetricsSettings:
    return MetricsSettings.from_environ(os.environ)


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)  # a response can carry a credential (a session cookie)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    model = event.get("model") if isinstance(event.get("model"), dict) else {}
    logger.append_keys(model_package_group=model.get("group"), model_version=model.get("version"))
    result = check_registered_metrics(event, registry=SageMakerRegistry(), objects=S3Objects(), settings=settings())
    logger.info("registered metrics checked", passed=result["passed"], summary=result["summary"])
    metrics.add_metric(
        name="RegisteredGatePassed" if result["passed"] else "RegisteredGateFailed", unit=MetricUnit.Count, value=1
    )
    return result
