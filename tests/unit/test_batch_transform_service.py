"""Scoring a stage's batch: which versions are scored, how each job is started, and how its end resumes the wait."""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from builders import (
    EXECUTION_NAME,
    GROUP,
    PACKAGE_ARN,
    STAGES,
    TASK_TOKEN,
    champion_record,
    model_version,
    stage_task_payload,
)
from fakes import FakeApprovedModels, FakeWorkflow
from transform_fakes import FakeCallbacks, FakeTransforms, transform_event, transform_settings

from model_promotion.domain.errors import InvalidPayload, TransientAwsError
from model_promotion.domain.records import approved_model_parameter_name
from model_promotion.domain.transforms import TransformPlan, model_name, transform_job_name
from model_promotion.ports import TaskClosed
from model_promotion.services.batch_transform import (
    FAILED_ERROR,
    STOPPED_ERROR,
    plan_scoring,
    read_event,
    reconcile_transforms,
    start_transform,
    transform_finished,
)

NOW = datetime(2026, 11, 21, 12, 4, 59, tzinfo=UTC)
SETTINGS = transform_settings()
PREFIX = SETTINGS.parameter_prefix
INPUT = "s3://bucket/batch-input/{stage}/input.csv"
OUTPUT = "s3://bucket/batch-output/" + GROUP + "/v3/{stage}/{role}"
RETRY_TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAA" + "RETRY-TASK-TOKEN-" * 30
COMPLETED = transform_event("completed")
EVENT_JOB = COMPLETED["detail"]["TransformJobName"]


def approved_for(stage: str, *, version: int = 2, **changes: Any) -> FakeApprovedModels:
    """SSM with the champion record of `stage`: the version approved for it now."""
    models = FakeApprovedModels()
    record = champion_record(stage, version=version)
    record.update(changes)
    models.put(approved_model_parameter_name(PREFIX, GROUP, stage), record)
    return models


def scoring(stage: str, models: FakeApprovedModels | None = None) -> dict[str, Any]:
    return plan_scoring(stage_task_payload(stage), settings=SETTINGS, approved_models=models or FakeApprovedModels())


def challenger_plan(stage: str = "dev") -> dict[str, Any]:
    return scoring(stage)["jobs"][0]


class Harness:
    """The three ports start_transform talks to, sharing one call log."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []
        self.transforms = FakeTransforms(self.log)
        self.callbacks = FakeCallbacks(self.log)
        self.workflow = FakeWorkflow()

    def start(self, job: dict[str, Any], token: str = TASK_TOKEN, now: datetime = NOW) -> dict[str, Any]:
        return start_transform(
            {"taskToken": token, "job": job},
            transforms=self.transforms,
            callbacks=self.callbacks,
            workflow=self.workflow,
            now=now,
        )

    def finished(self, detail: dict[str, Any]) -> dict[str, Any]:
        return transform_finished(detail, callbacks=self.callbacks, workflow=self.workflow)


@pytest.fixture
def harness() -> Harness:
    return Harness()


# Planning what to score


def test_without_a_champion_only_the_new_version_is_scored() -> None:
    # Given: nothing approved for the next stage yet
    models = FakeApprovedModels()

    # When
    plan = scoring("dev", models)

    # Then
    assert plan["inputUri"] == INPUT.format(stage="dev")
    assert plan["championStage"] is None
    assert [_uncorrelated(j) for j in plan["jobs"]] == [
        {
            "role": "challenger",
            "jobName": transform_job_name(EXECUTION_NAME, "dev", "challenger"),
            "modelName": model_name(GROUP, 3),
            "packageArn": PACKAGE_ARN,
            "version": 3,
            "inputUri": INPUT.format(stage="dev"),
            "outputPath": OUTPUT.format(stage="dev", role="challenger"),
            "outputUri": OUTPUT.format(stage="dev", role="challenger") + "/input.csv.out",
        }
    ]


def test_a_champion_approved_for_another_stage_is_not_the_next_stages_champion() -> None:
    # Given: version 2 is approved for uat, but nothing for test (the stage after dev)
    models = approved_for("uat")

    # When
    plan = scoring("dev", models)

    # Then
    assert [job["role"] for job in plan["jobs"]] == ["challenger"]


@pytest.mark.parametrize(("stage", "next_stage"), [("dev", "test"), ("test", "uat"), ("uat", "prod")])
def test_the_next_stages_champion_is_scored_on_the_same_batch(stage: str, next_stage: str) -> None:
    # Given: version 2 is what the next stage runs now
    models = approved_for(next_stage, version=2)
    record = champion_record(next_stage, version=2)

    # When
    plan = scoring(stage, models)

    # Then
    challenger, champion = plan["jobs"]
    assert plan["championStage"] == next_stage
    assert challenger["role"] == "challenger"
    assert _uncorrelated(champion) == {
        "role": "champion",
        "jobName": transform_job_name(EXECUTION_NAME, stage, "champion"),
        "modelName": model_name(GROUP, 2),
        "packageArn": record["modelPackageArn"],
        "version": 2,
        "inputUri": INPUT.format(stage=stage),
        "outputPath": OUTPUT.format(stage=stage, role="champion"),
        "outputUri": OUTPUT.format(stage=stage, role="champion") + "/input.csv.out",
    }
    assert champion["inputUri"] == challenger["inputUri"] == plan["inputUri"]
    assert champion["outputPath"] != challenger["outputPath"]
    assert champion["outputUri"] != challenger["outputUri"]
    assert champion["jobName"] != challenger["jobName"]
    assert champion["modelName"] != challenger["modelName"]


def test_the_planned_jobs_are_plans_start_transform_accepts() -> None:
    # When
    plan = scoring("dev", approved_for("test"))

    # Then
    for job in plan["jobs"]:
        assert TransformPlan.from_payload(job).to_payload() == job


def test_a_champion_that_is_this_very_version_is_not_scored_twice() -> None:
    # Given: the next stage already runs version 3 (a re-run of an approved version)
    models = approved_for("test", version=3)

    # When
    plan = scoring("dev", models)

    # Then
    assert [job["role"] for job in plan["jobs"]] == ["challenger"]
    assert plan["championStage"] is None


def test_a_champion_record_without_a_package_arn_is_not_scored() -> None:
    # Given
    models = approved_for("test", modelPackageArn=None)

    # When
    plan = scoring("dev", models)

    # Then
    assert [job["role"] for job in plan["jobs"]] == ["challenger"]


def test_at_the_last_stage_no_champion_is_scored() -> None:
    # Given: a record for every stage, prod included
    models = FakeApprovedModels()
    for stage in STAGES:
        models.put(approved_model_parameter_name(PREFIX, GROUP, stage), champion_record(stage, version=2))

    # When
    plan = scoring("prod", models)

    # Then
    assert plan["championStage"] is None
    assert [job["role"] for job in plan["jobs"]] == ["challenger"]
    assert plan["jobs"][0]["inputUri"] == INPUT.format(stage="prod")


def test_the_champion_is_read_from_the_next_stages_parameter() -> None:
    # Given
    models = approved_for("test")
    asked: list[str] = []
    original_get = models.get

    def get(name: str) -> dict[str, Any] | None:
        asked.append(name)
        return original_get(name)

    models.get = get  # type: ignore[method-assign]

    # When
    scoring("dev", models)

    # Then
    assert asked == [f"/model-promotion/{GROUP}/test"]


def test_planning_refuses_a_payload_that_is_not_a_stage_task() -> None:
    with pytest.raises(InvalidPayload):
        plan_scoring({"stage": "dev"}, settings=SETTINGS, approved_models=FakeApprovedModels())


# Starting a job


def test_the_token_is_stored_before_the_model_and_the_job_are_created(harness: Harness) -> None:
    # Given
    job = challenger_plan()

    # When
    result = harness.start(job)

    # Then
    assert _uncorrelated(result) == {"jobName": job["jobName"], "role": "challenger"}
    assert harness.log[:3] == [
        ("remember", job["jobName"]),
        ("ensure_model", job["modelName"]),
        ("start_job", job["jobName"]),
    ]
    assert harness.callbacks.tokens == {job["jobName"]: TASK_TOKEN}
    assert harness.transforms.models == {job["modelName"]: PACKAGE_ARN}
    assert harness.transforms.created == [job["jobName"]]
    assert harness.transforms.jobs[job["jobName"]] == TransformPlan.from_payload(job)


def test_a_started_job_that_is_still_running_leaves_the_workflow_waiting(harness: Harness) -> None:
    # When
    harness.start(challenger_plan())

    # Then
    assert harness.workflow.sends == 0
    assert ("take", challenger_plan()["jobName"]) not in harness.log


def test_the_token_is_kept_past_the_longest_wait(harness: Harness) -> None:
    # Given
    job = challenger_plan()

    # When
    harness.start(job)

    # Then: a week of waiting plus the approvals' 30 days of retention
    assert harness.callbacks.purge_at[job["jobName"]] == NOW + timedelta(days=37)


def test_a_champion_job_is_started_with_the_champions_model(harness: Harness) -> None:
    # Given
    champion = scoring("dev", approved_for("test", version=2))["jobs"][1]

    # When
    result = harness.start(champion)

    # Then
    assert _uncorrelated(result) == {"jobName": champion["jobName"], "role": "champion"}
    assert harness.transforms.models == {model_name(GROUP, 2): champion["packageArn"]}


def test_a_retry_finds_its_job_and_replaces_the_token(harness: Harness) -> None:
    # Given: the first attempt created the job, then failed before Step Functions heard back
    job = challenger_plan()
    harness.start(job)

    # When: Step Functions retries the task with a new token
    result = harness.start(job, token=RETRY_TOKEN)

    # Then
    assert _uncorrelated(result) == {"jobName": job["jobName"], "role": "challenger"}
    assert harness.transforms.created == [job["jobName"]]
    assert harness.callbacks.tokens == {job["jobName"]: RETRY_TOKEN}
    assert harness.workflow.sends == 0


def test_a_retry_after_the_job_completed_resumes_the_wait_with_the_new_token(harness: Harness) -> None:
    # Given: the job finished while the task was being retried; its event went to the old token
    job = challenger_plan()
    harness.transforms.add_job(TransformPlan.from_payload(job), "Completed")

    # When
    harness.start(job, token=RETRY_TOKEN)

    # Then
    assert harness.workflow.succeeded == [
        (
            RETRY_TOKEN,
            {
                "jobName": job["jobName"],
                "inputUri": job["inputUri"],
                "outputUri": job["outputUri"],
                "durationSeconds": 95.5,
            },
        )
    ]
    assert harness.workflow.failed == []
    assert harness.callbacks.tokens == {}
    assert harness.log.index(("remember", job["jobName"])) < harness.log.index(("take", job["jobName"]))


def test_a_retry_after_the_job_failed_fails_the_wait_with_sagemakers_reason(harness: Harness) -> None:
    # Given
    job = challenger_plan()
    reason = "AlgorithmError: the container exited with code 1"
    harness.transforms.add_job(TransformPlan.from_payload(job), "Failed", failure_reason=reason)

    # When
    harness.start(job, token=RETRY_TOKEN)

    # Then
    assert [(f.token, f.error, f.cause) for f in harness.workflow.failed] == [(RETRY_TOKEN, FAILED_ERROR, reason)]
    assert harness.workflow.succeeded == []


def test_a_retry_after_the_job_was_stopped_fails_the_wait(harness: Harness) -> None:
    # Given
    job = challenger_plan()
    harness.transforms.add_job(TransformPlan.from_payload(job), "Stopped")

    # When
    harness.start(job, token=RETRY_TOKEN)

    # Then
    [failure] = harness.workflow.failed
    assert (failure.token, failure.error) == (RETRY_TOKEN, STOPPED_ERROR)
    assert job["jobName"] in failure.cause


def test_a_finished_job_whose_event_arrives_after_the_retry_resumes_the_wait_once(harness: Harness) -> None:
    # Given: the retry resumed the wait from DescribeTransformJob
    job = challenger_plan()
    harness.transforms.add_job(TransformPlan.from_payload(job), "Completed")
    harness.start(job, token=RETRY_TOKEN)
    detail = harness.transforms.describe_job(job["jobName"])
    assert detail is not None

    # When: SageMaker's event for the same job arrives afterwards
    result = harness.finished(dict(detail))

    # Then
    assert result["outcome"] == "ignored"
    assert harness.workflow.sends == 1


@pytest.mark.parametrize(
    "token",
    [None, "", 42, "x" * 2049, ["token"]],
    ids=["missing", "empty", "number", "too-long", "list"],
)
def test_a_task_without_a_usable_token_starts_nothing(harness: Harness, token: object) -> None:
    # When / Then
    with pytest.raises(InvalidPayload, match="taskToken"):
        start_transform(
            {"taskToken": token, "job": challenger_plan()},
            transforms=harness.transforms,
            callbacks=harness.callbacks,
            workflow=harness.workflow,
            now=NOW,
        )
    assert harness.log == []


def test_the_longest_token_step_functions_issues_is_accepted(harness: Harness) -> None:
    # When
    harness.start(challenger_plan(), token="t" * 2048)

    # Then
    assert list(harness.callbacks.tokens.values()) == ["t" * 2048]


@pytest.mark.parametrize(
    "job",
    [
        None,
        {"role": "challenger"},
        challenger_plan() | {"jobName": "someone-elses-job"},
        challenger_plan() | {"role": "shadow"},
    ],
    ids=["missing", "incomplete", "foreign-job", "unknown-role"],
)
def test_a_task_with_a_bad_plan_stores_no_token_and_creates_nothing(harness: Harness, job: object) -> None:
    # When / Then
    with pytest.raises(InvalidPayload):
        start_transform(
            {"taskToken": TASK_TOKEN, "job": job},
            transforms=harness.transforms,
            callbacks=harness.callbacks,
            workflow=harness.workflow,
            now=NOW,
        )
    assert harness.log == []


# The job's end, as SageMaker's event reports it


def remembered(harness: Harness, job_name: str = EVENT_JOB, token: str = TASK_TOKEN) -> None:
    harness.callbacks.remember(job_name, token, NOW + timedelta(days=37))
    harness.log.clear()


def test_the_event_fixtures_are_sagemaker_transform_job_state_changes() -> None:
    for name, status in (("completed", "Completed"), ("failed", "Failed"), ("stopped", "Stopped")):
        event = transform_event(name)
        assert event["source"] == "aws.sagemaker"
        assert event["detail-type"] == "SageMaker Transform Job State Change"
        assert event["detail"]["TransformJobStatus"] == status
        assert event["detail"]["TransformJobName"].startswith("mp-")
        assert event["resources"] == [event["detail"]["TransformJobArn"]]
        assert TransformPlan.from_payload(
            {
                "role": "challenger",
                "jobName": event["detail"]["TransformJobName"],
                "modelName": event["detail"]["ModelName"],
                "packageArn": PACKAGE_ARN,
                "version": 3,
                "inputUri": event["detail"]["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"],
                "outputPath": event["detail"]["TransformOutput"]["S3OutputPath"],
            }
        )


def test_a_completed_job_resumes_the_wait_with_where_its_predictions_are(harness: Harness) -> None:
    # Given
    remembered(harness)

    # When
    result = harness.finished(read_event(transform_event("completed")))

    # Then
    assert result == {"outcome": "resumed", "status": "Completed", "jobName": EVENT_JOB}
    assert harness.workflow.succeeded == [
        (
            TASK_TOKEN,
            {
                "jobName": EVENT_JOB,
                "inputUri": "s3://bucket/batch-input/dev/input.csv",
                "outputUri": "s3://bucket/batch-output/g/v3/dev/challenger/input.csv.out",
                "durationSeconds": 187.25,
            },
        )
    ]
    assert harness.workflow.failed == []
    assert harness.callbacks.tokens == {}


def test_the_duration_is_computed_from_the_events_epoch_milliseconds(harness: Harness) -> None:
    # Given
    remembered(harness)
    detail = transform_event("completed")["detail"]
    detail["TransformStartTime"] = 1_795_262_852_500
    detail["TransformEndTime"] = 1_795_262_852_500 + 3_600_001

    # When
    harness.finished(detail)

    # Then
    assert harness.workflow.succeeded[0][1]["durationSeconds"] == 3600.001


def test_a_completed_event_without_times_reports_no_duration(harness: Harness) -> None:
    # Given
    remembered(harness)
    detail = transform_event("completed")["detail"]
    del detail["TransformStartTime"]

    # When
    harness.finished(detail)

    # Then
    assert harness.workflow.succeeded[0][1]["durationSeconds"] is None


def test_a_failed_job_fails_the_wait_with_sagemakers_failure_reason(harness: Harness) -> None:
    # Given
    remembered(harness)
    detail = read_event(transform_event("failed"))

    # When
    result = harness.finished(detail)

    # Then
    assert result == {"outcome": "resumed", "status": "Failed", "jobName": EVENT_JOB}
    assert [(f.token, f.error, f.cause) for f in harness.workflow.failed] == [
        (TASK_TOKEN, "TransformJobFailed", detail["FailureReason"])
    ]
    assert harness.workflow.succeeded == []


def test_a_failed_job_without_a_reason_still_fails_the_wait(harness: Harness) -> None:
    # Given
    remembered(harness)
    detail = transform_event("failed")["detail"]
    del detail["FailureReason"]

    # When
    harness.finished(detail)

    # Then
    [failure] = harness.workflow.failed
    assert failure.error == "TransformJobFailed"
    assert failure.cause


def test_a_stopped_job_fails_the_wait(harness: Harness) -> None:
    # Given
    remembered(harness)

    # When
    result = harness.finished(read_event(transform_event("stopped")))

    # Then
    assert result == {"outcome": "resumed", "status": "Stopped", "jobName": EVENT_JOB}
    [failure] = harness.workflow.failed
    assert (failure.token, failure.error) == (TASK_TOKEN, "TransformJobStopped")
    assert EVENT_JOB in failure.cause
    assert harness.workflow.succeeded == []


@pytest.mark.parametrize("name", ["completed", "failed", "stopped"])
def test_a_second_delivery_of_the_same_event_is_ignored(harness: Harness, name: str) -> None:
    # Given: EventBridge delivers at least once
    remembered(harness)
    event = transform_event(name)
    harness.finished(read_event(event))

    # When
    again = harness.finished(read_event(copy.deepcopy(event)))

    # Then
    assert again["outcome"] == "ignored"
    assert harness.workflow.sends == 1
    assert harness.log.count(("take", EVENT_JOB)) == 2


def test_a_later_event_of_another_status_is_ignored_once_the_wait_is_resumed(harness: Harness) -> None:
    # Given
    remembered(harness)
    harness.finished(read_event(transform_event("completed")))

    # When
    again = harness.finished(read_event(transform_event("stopped")))

    # Then
    assert again["outcome"] == "ignored"
    assert len(harness.workflow.succeeded) == 1
    assert harness.workflow.failed == []


def test_an_event_for_a_job_nobody_waits_on_is_ignored(harness: Harness) -> None:
    # Given: a token for another job only
    remembered(harness, job_name="mp-other-job-dev-chall-00000000")
    detail = transform_event("completed")["detail"]

    # When
    result = harness.finished(detail)

    # Then
    assert result["outcome"] == "ignored"
    assert harness.workflow.sends == 0
    assert harness.callbacks.tokens == {"mp-other-job-dev-chall-00000000": TASK_TOKEN}


@pytest.mark.parametrize("status", ["InProgress", "Stopping", None, "completed"])
def test_an_event_whose_status_is_not_final_is_ignored_and_keeps_the_token(harness: Harness, status: Any) -> None:
    # Given
    remembered(harness)
    detail = transform_event("completed")["detail"]
    detail["TransformJobStatus"] = status

    # When
    result = harness.finished(detail)

    # Then
    assert result["outcome"] == "ignored"
    assert harness.workflow.sends == 0
    assert harness.callbacks.tokens == {EVENT_JOB: TASK_TOKEN}
    assert harness.log == []


@pytest.mark.parametrize("name", [None, 42])
def test_an_event_without_a_job_name_is_ignored(harness: Harness, name: Any) -> None:
    # Given
    remembered(harness)
    detail = transform_event("completed")["detail"] | {"TransformJobName": name}

    # When
    result = harness.finished(detail)

    # Then
    assert result["outcome"] == "ignored"
    assert harness.workflow.sends == 0


@pytest.mark.parametrize("name", ["completed", "failed", "stopped"])
def test_a_workflow_that_no_longer_waits_is_not_an_error(harness: Harness, name: str) -> None:
    # Given: the wait timed out before the job ended
    remembered(harness)
    harness.workflow.raise_on_next_send(TaskClosed())

    # When
    result = harness.finished(read_event(transform_event(name)))

    # Then
    assert result["outcome"] == "ignored"
    assert harness.workflow.sends == 0
    assert harness.callbacks.tokens == {}


@pytest.mark.parametrize("name", ["completed", "failed"])
def test_a_send_that_fails_for_a_while_is_an_error_so_the_event_is_delivered_again(harness: Harness, name: str) -> None:
    # Given: SendTaskSuccess/SendTaskFailure is throttled
    remembered(harness)
    harness.workflow.raise_on_next_send(TransientAwsError("SendTaskSuccess failed after retries; try again"))

    # When / Then: the handler fails, so Lambda and EventBridge retry the event
    with pytest.raises(TransientAwsError):
        harness.finished(read_event(transform_event(name)))


@pytest.mark.parametrize("name", ["completed", "failed", "stopped"])
def test_a_redelivered_event_resumes_the_wait_after_a_transient_send_failure(harness: Harness, name: str) -> None:
    # Given: the first delivery could not reach Step Functions
    remembered(harness)
    harness.workflow.raise_on_next_send(TransientAwsError("SendTaskSuccess failed after retries; try again"))
    with pytest.raises(TransientAwsError):
        harness.finished(read_event(transform_event(name)))

    # When: the event is delivered again
    result = harness.finished(read_event(transform_event(name)))

    # Then
    assert result["outcome"] == "resumed"
    assert harness.workflow.sends == 1
    sent = harness.workflow.succeeded[0][0] if harness.workflow.succeeded else harness.workflow.failed[0].token
    assert sent == TASK_TOKEN


def test_an_end_to_end_stage_scoring_resumes_each_wait_with_its_own_token(harness: Harness) -> None:
    # Given: both jobs of a stage started, each by its own Map iteration
    plan = scoring("dev", approved_for("test"))
    tokens = {job["jobName"]: f"token-{job['role']}" for job in plan["jobs"]}
    for job in plan["jobs"]:
        harness.start(job, token=tokens[job["jobName"]])

    # When: both end, the champion first
    for job in reversed(plan["jobs"]):
        harness.transforms.set_status(job["jobName"], "Completed")
        detail = harness.transforms.describe_job(job["jobName"])
        assert detail is not None
        harness.finished(dict(detail))

    # Then
    assert [(token, output["outputUri"]) for token, output in harness.workflow.succeeded] == [
        ("token-champion", plan["jobs"][1]["outputUri"]),
        ("token-challenger", plan["jobs"][0]["outputUri"]),
    ]


# Reading the event


def test_read_event_returns_the_detail() -> None:
    event = transform_event("completed")
    assert read_event(event) == event["detail"]


@pytest.mark.parametrize(
    "event",
    [None, [], {"detail-type": "SageMaker Transform Job State Change"}, {"detail": "Completed"}],
    ids=["none", "list", "no-detail", "detail-not-an-object"],
)
def test_read_event_refuses_what_is_not_an_eventbridge_event(event: Any) -> None:
    with pytest.raises(InvalidPayload):
        read_event(event)


def test_the_planned_version_comes_from_the_task_not_the_settings() -> None:
    # Given: another version of the group
    model = dataclasses.replace(
        model_version(), version=7, package_arn=f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/7"
    )

    # When
    plan = plan_scoring(stage_task_payload("dev", model=model), settings=SETTINGS, approved_models=FakeApprovedModels())

    # Then
    [job] = plan["jobs"]
    assert (job["version"], job["modelName"]) == (7, model_name(GROUP, 7))
    assert job["outputPath"] == f"s3://bucket/batch-output/{GROUP}/v7/dev/challenger"


def _uncorrelated(payload: dict[str, Any]) -> dict[str, Any]:
    """A plan or result without its correlation keys (checked once, in their own test)."""
    return {k: v for k, v in payload.items() if k != "correlation"}


def test_every_planned_job_names_the_promotion_it_serves() -> None:
    # Given a stage task with a champion for the next stage
    task = stage_task_payload("dev")

    # When the scoring is planned
    plan = scoring("dev", approved_for("test"))

    # Then both jobs carry the promotion's group, version, stage and execution, and so does their environment
    for job in plan["jobs"]:
        assert job["correlation"] == {
            "model_package_group": GROUP,
            "model_version": "3",
            "stage": "dev",
            "execution_arn": task["executionArn"],
        }
        assert TransformPlan.from_payload(job).environment["MODEL_PROMOTION_EXECUTION_ARN"] == task["executionArn"]


# Reconciling lost completion events (the sweep)


def test_the_sweep_resumes_a_finished_job_whose_completion_event_was_lost(harness: Harness) -> None:
    # Given two started jobs: one completed but its event never arrived, one still running
    done, running = scoring("test", approved_for("uat"))["jobs"]
    harness.start(done)
    harness.start(running, token=RETRY_TOKEN)
    harness.transforms.set_status(done["jobName"], "Completed")

    # When the sweep reconciles
    result = reconcile_transforms(callbacks=harness.callbacks, jobs=harness.transforms, workflow=harness.workflow)

    # Then the finished one is resumed with its own token and where its predictions are; the other still waits
    assert result == {"resumed": [done["jobName"]], "running": 1, "withoutJob": 0}
    [(token, output)] = harness.workflow.succeeded
    assert token == TASK_TOKEN and output["jobName"] == done["jobName"]
    assert harness.callbacks.outstanding() == [running["jobName"]]


def test_a_sweep_after_the_event_arrived_resumes_nothing_twice(harness: Harness) -> None:
    # Given a completed job whose event was delivered
    job = challenger_plan()
    harness.start(job)
    harness.transforms.set_status(job["jobName"], "Failed", "ClientError: bad CSV")
    harness.finished(harness.transforms.describe_job(job["jobName"]))

    # When the sweep runs
    result = reconcile_transforms(callbacks=harness.callbacks, jobs=harness.transforms, workflow=harness.workflow)

    # Then nothing is sent again
    assert result["resumed"] == [] and len(harness.workflow.failed) == 1
