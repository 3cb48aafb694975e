"""Score a stage's batch with SageMaker batch transform: the version just approved, and the champion.

The champion is the version approved now for the next stage, the one the next approver would replace;
scoring both on the same batch answers "is this version better than the one we run now?". Each job is
awaited through a task token, resumed by SageMaker's "Transform Job State Change" event.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ..config import TransformSettings
from ..domain.approvals import RETENTION_AFTER_EXPIRY, StageTask, parse_time
from ..domain.errors import InvalidPayload
from ..domain.records import approved_model_parameter_name
from ..domain.transforms import (
    CHALLENGER,
    CHAMPION,
    TERMINAL_STATUSES,
    TransformPlan,
    model_name,
    transform_job_name,
)
from ..ports import ApprovedModels, BatchTransforms, TaskClosed, TransformCallbacks, TransformJobs, Workflow

FAILED_ERROR = "TransformJobFailed"
STOPPED_ERROR = "TransformJobStopped"
TASK_TOKEN_MAX = 2048


def plan_scoring(
    payload: Mapping[str, Any], *, settings: TransformSettings, approved_models: ApprovedModels
) -> dict[str, Any]:
    """Which versions to score on this stage's batch: always the new one, and the next stage's champion."""
    task = StageTask.from_payload(payload)
    input_uri = settings.batch_data.input_uri(task.stage)
    plans = [_plan(task, settings, CHALLENGER, task.model.package_arn, task.model.version, input_uri)]
    champion = None
    if task.next_stage is not None:
        name = approved_model_parameter_name(settings.parameter_prefix, task.model.group, task.next_stage)
        champion = approved_models.get(name)
    champion_version = champion.get("modelVersion") if champion else None
    if champion and champion_version != task.model.version and champion.get("modelPackageArn"):
        if not isinstance(champion_version, int) or isinstance(champion_version, bool):
            raise InvalidPayload(f"the approved-model record for {task.next_stage} has no valid modelVersion")
        plans.append(_plan(task, settings, CHAMPION, champion["modelPackageArn"], champion_version, input_uri))
    return {
        "inputUri": input_uri,
        "championStage": task.next_stage if len(plans) > 1 else None,
        "jobs": [p.to_payload() for p in plans],
    }


def _plan(
    task: StageTask, settings: TransformSettings, role: str, arn: str, version: int, input_uri: str
) -> TransformPlan:
    return TransformPlan(
        role=role,
        job_name=transform_job_name(task.execution_name, task.stage, role),
        model_name=model_name(task.model.group, version),
        package_arn=arn,
        version=version,
        input_uri=input_uri,
        output_path=settings.batch_data.output_path(task.model.group, task.model.version, task.stage, role),
        correlation={
            "model_package_group": task.model.group,
            "model_version": str(task.model.version),
            "stage": task.stage,
            "execution_arn": task.execution_arn,
        },
    )


def start_transform(
    payload: Mapping[str, Any],
    *,
    transforms: BatchTransforms,
    callbacks: TransformCallbacks,
    workflow: Workflow,
    now: datetime,
) -> dict[str, Any]:
    """Remembers the token, then starts the job; safe to repeat on a retry.

    The token is stored before the job exists, so a job that finishes at once still finds it. A retry
    replaces the token and finds the job already there; if that job has already finished, its completion
    event went to the old token, so the new one is resumed here and now.
    """
    token = payload.get("taskToken")
    if not isinstance(token, str) or not 1 <= len(token) <= TASK_TOKEN_MAX:
        raise InvalidPayload("'taskToken' must be a string of 1 to 2048 characters")
    plan = TransformPlan.from_payload(payload.get("job"))
    callbacks.remember(plan.job_name, token, now + timedelta(days=7) + RETENTION_AFTER_EXPIRY)
    transforms.ensure_model(plan.model_name, plan.package_arn)
    transforms.start_job(plan)
    described = transforms.describe_job(plan.job_name)
    if described and described.get("TransformJobStatus") in TERMINAL_STATUSES:
        transform_finished(described, callbacks=callbacks, workflow=workflow)
    return {"jobName": plan.job_name, "role": plan.role, "correlation": dict(plan.correlation)}


def transform_finished(
    detail: Mapping[str, Any], *, callbacks: TransformCallbacks, workflow: Workflow
) -> dict[str, Any]:
    """Resumes the wait on a finished job, once, whatever number of times SageMaker reports it."""
    name = detail.get("TransformJobName")
    status = detail.get("TransformJobStatus")
    if not isinstance(name, str) or status not in TERMINAL_STATUSES:
        return {"outcome": "ignored", "reason": f"status {str(status)[:20]!r} is not final"}
    token = callbacks.take(name)
    if token is None:
        return {"outcome": "ignored", "reason": "no workflow waits on this job (already resumed, or not ours)"}
    try:
        if status == "Completed":
            workflow.succeed_task(token, job_result(detail))
        elif status == "Failed":
            workflow.fail_task(token, FAILED_ERROR, str(detail.get("FailureReason") or "the job failed"))
        else:
            workflow.fail_task(token, STOPPED_ERROR, f"transform job {name} was stopped before it completed")
    except TaskClosed:
        return {"outcome": "ignored", "reason": "the workflow no longer waits (timed out)"}
    except Exception:
        # Give the token back, so the event's redelivery (EventBridge retries) can still resume the wait.
        callbacks.remember(name, token, datetime.now(UTC) + timedelta(days=7))
        raise
    return {"outcome": "resumed", "status": status, "jobName": name}


def reconcile_transforms(*, callbacks: TransformCallbacks, jobs: TransformJobs, workflow: Workflow) -> dict[str, Any]:
    """The safety net for lost completion events: resumes every wait whose job has finished.

    EventBridge invokes TransformCompleted asynchronously; after its retries an event can still be lost
    (it then sits in the on-failure queue). Each stored token names its job, so DescribeTransformJob says
    whether the wait can be resumed now; a wait whose execution already gave up is closed the same way.
    """
    resumed, running, gone = [], 0, 0
    for name in callbacks.outstanding():
        described = jobs.describe_job(name)
        if described is None:
            gone += 1  # StartTransform failed before creating the job; its retry stores the token again
            continue
        if described.get("TransformJobStatus") not in TERMINAL_STATUSES:
            running += 1
            continue
        if transform_finished(described, callbacks=callbacks, workflow=workflow)["outcome"] == "resumed":
            resumed.append(name)
    return {"resumed": resumed, "running": running, "withoutJob": gone}


def job_result(detail: Mapping[str, Any]) -> dict[str, Any]:
    source = _object(_object(_object(detail.get("TransformInput")).get("DataSource")).get("S3DataSource"))
    output_path = _object(detail.get("TransformOutput")).get("S3OutputPath", "")
    input_uri = str(source.get("S3Uri", ""))
    started, ended = detail.get("TransformStartTime"), detail.get("TransformEndTime")
    duration = None
    if started and ended:
        try:
            duration = (_time(ended) - _time(started)).total_seconds()
        except (InvalidPayload, OverflowError, OSError, ValueError):
            duration = None  # a time SageMaker would never send: the result stands without its duration
    return {
        "jobName": detail.get("TransformJobName"),
        "inputUri": input_uri,
        "outputUri": f"{str(output_path).rstrip('/')}/{input_uri.rsplit('/', 1)[-1]}.out",
        "durationSeconds": duration,
    }


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _time(value: Any) -> datetime:
    """Event times are epoch milliseconds; DescribeTransformJob's are datetimes or ISO strings."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    return parse_time(str(value))


def read_event(event: Any) -> Mapping[str, Any]:
    if not isinstance(event, Mapping) or not isinstance(event.get("detail"), Mapping):
        raise InvalidPayload("not an EventBridge event with a detail object")
    return event["detail"]
