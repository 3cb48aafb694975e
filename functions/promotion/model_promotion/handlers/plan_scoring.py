"""Step Functions task: which versions to score on the approved stage's batch (the new one, the champion)."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

from ..adapters.ssm_approved_models import SsmApprovedModels
from ..config import TransformSettings
from ..services.batch_transform import plan_scoring
from ._context import bind_stage_keys

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def settings() -> TransformSettings:
    return TransformSettings.from_environ(os.environ)


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)  # a response can carry a credential (a session cookie)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bind_stage_keys(logger, event)
    plan = plan_scoring(event, settings=settings(), approved_models=SsmApprovedModels())
    logger.info(
        "batch scoring planned", jobs=[j["jobName"] for j in plan["jobs"]], champion_stage=plan["championStage"]
    )
    return plan
