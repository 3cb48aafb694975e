"""Step Functions task: compute a stage's batch metrics for the next approver."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from ..adapters.s3_objects import S3Objects
from ..config import MetricsSettings
from ..services.batch_metrics import collect_metrics
from ._context import bind_stage_keys

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
    bind_stage_keys(logger, event)
    evidence = collect_metrics(event, objects=S3Objects(), settings=settings())
    logger.info(
        "batch metrics collected",
        row_count=evidence["rowCount"],
        metrics=evidence["metrics"],
        gate_passed=evidence["gate"]["passed"],
        gate_summary=evidence["gate"]["summary"],
    )
    metrics.add_dimension(name="modelPackageGroup", value=str((event.get("model") or {}).get("group")))
    metrics.add_dimension(name="stage", value=str(evidence["stage"]))
    if evidence.get("durationSeconds") is not None:
        metrics.add_metric(name="BatchJobDuration", unit=MetricUnit.Seconds, value=float(evidence["durationSeconds"]))
    metrics.add_metric(name="BatchRowCount", unit=MetricUnit.Count, value=evidence["rowCount"])
    for name, value in (evidence["metrics"] or {}).items():
        if isinstance(value, (int, float)):
            metrics.add_metric(name=f"Batch_{name}", unit=MetricUnit.NoUnit, value=value)
    return evidence
