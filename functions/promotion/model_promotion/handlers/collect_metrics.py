"""Step Functions task: compute a stage's batch metrics for the next approver."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from ..adapters.s3_objects import S3Objects
from ..services.batch_metrics import collect_metrics
from ._context import bind_stage_keys

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bind_stage_keys(logger, event)
    evidence = collect_metrics(event, objects=S3Objects())
    logger.info("batch metrics collected", row_count=evidence["rowCount"], metrics=evidence["metrics"])
    metrics.add_dimension(name="stage", value=str(evidence["stage"]))
    for name, value in (evidence["metrics"] or {}).items():
        if isinstance(value, (int, float)):
            metrics.add_metric(name=f"Batch_{name}", unit=MetricUnit.NoUnit, value=value)
    return evidence
