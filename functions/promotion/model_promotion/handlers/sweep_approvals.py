"""Scheduled (EventBridge Scheduler): remind approvers before requests expire, close expired requests,
report the oldest wait, and resume transform waits whose completion event was lost."""

from __future__ import annotations

import os
from datetime import timedelta
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from ..adapters.dynamodb_approvals import DynamoDbApprovalStore
from ..adapters.dynamodb_transform_callbacks import DynamoDbTransformCallbacks
from ..adapters.sagemaker_transforms import SageMakerTransformJobs
from ..adapters.ses_mailer import SesMailer
from ..adapters.step_functions import StepFunctionsWorkflow
from ..config import SweepSettings
from ..domain.approvals import utc_now
from ..services.batch_transform import reconcile_transforms
from ..services.reminders import complete_deliveries, sweep_pending

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def settings() -> SweepSettings:
    return SweepSettings.from_environ(os.environ)


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)  # a response can carry a credential (a session cookie)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    config = settings()
    result = sweep_pending(
        store=DynamoDbApprovalStore(config.approvals_table),
        mailer=SesMailer(config.sender),
        base_url=config.approval_base_url,
        now=utc_now(),
        remind_before=timedelta(seconds=config.remind_before_seconds),
    )
    transforms = reconcile_transforms(
        callbacks=DynamoDbTransformCallbacks(config.approvals_table),
        jobs=SageMakerTransformJobs(),
        workflow=StepFunctionsWorkflow(),
    )
    result["transforms"] = transforms
    deliveries = complete_deliveries(
        store=DynamoDbApprovalStore(config.approvals_table),
        workflow=StepFunctionsWorkflow(),
        now=utc_now(),
        grace=timedelta(seconds=config.delivery_grace_seconds),
    )
    result["deliveries"] = deliveries
    logger.info(
        "pending approvals swept",
        pending=result["pending"],
        expired=len(result["expired"]),
        reminded=len(result["reminded"]),
        transforms_resumed=len(transforms["resumed"]),
        decisions_delivered=len(deliveries["delivered"]),
        decisions_unconfirmed=len(deliveries["unconfirmed"]),
    )
    # The "approvals pending too long" alarm watches this metric.
    metrics.add_metric(name="OldestPendingApprovalAge", unit=MetricUnit.Seconds, value=result["oldestPendingSeconds"])
    metrics.add_metric(name="PendingApprovals", unit=MetricUnit.Count, value=result["pending"])
    metrics.add_metric(name="RemindersSent", unit=MetricUnit.Count, value=len(result["reminded"]))
    metrics.add_metric(name="ExpiredRequestsClosed", unit=MetricUnit.Count, value=len(result["expired"]))
    # Each one is a completion event that never arrived: the alarm on the on-failure queue tells why.
    metrics.add_metric(name="TransformWaitsResumedBySweep", unit=MetricUnit.Count, value=len(transforms["resumed"]))
    # Decisions whose delivery the sweep had to complete or could not confirm yet.
    metrics.add_metric(name="DecisionsCompletedBySweep", unit=MetricUnit.Count, value=len(deliveries["delivered"]))
    metrics.add_metric(name="DecisionsUnconfirmed", unit=MetricUnit.Count, value=len(deliveries["unconfirmed"]))
    return result
