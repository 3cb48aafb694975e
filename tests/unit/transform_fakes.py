"""In-memory stand-ins for the batch-transform ports (BatchTransforms, TransformCallbacks, ObjectStore).

Like fakes.py, each keeps its state in plain attributes. BatchTransforms and TransformCallbacks can share
one call log, so a test can assert the order in which the service talks to them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from model_promotion.config import BatchDataSettings, MetricsSettings, TransformSettings
from model_promotion.domain.gates import GateConfig
from model_promotion.domain.transforms import TransformPlan
from model_promotion.ports import BatchTransforms, ObjectStore, TransformCallbacks

EVENTS = Path(__file__).resolve().parents[2] / "events"
ACCOUNT = "123456789012"
REGION = "us-east-1"
EXECUTION_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/model-promotion-transform"
JOB_CREATED_AT = datetime(2026, 11, 21, 12, 5, tzinfo=UTC)

TRANSFORM_ENV = {
    "BATCH_DATA_BUCKET": "bucket",
    "BATCH_INPUT_PREFIX": "batch-input",
    "BATCH_OUTPUT_PREFIX": "batch-output",
    "APPROVALS_TABLE": "model-promotion-approvals",
    "PARAMETER_PREFIX": "/model-promotion",
    "SAGEMAKER_EXECUTION_ROLE_ARN": EXECUTION_ROLE_ARN,
    "TRANSFORM_INSTANCE_TYPE": "ml.m5.large",
    "TRANSFORM_INSTANCE_COUNT": "1",
}


def transform_settings(**overrides: str) -> TransformSettings:
    return TransformSettings.from_environ({**TRANSFORM_ENV, **overrides})


def batch_data() -> BatchDataSettings:
    return transform_settings().batch_data


def metrics_settings(gates: str = "") -> MetricsSettings:
    return MetricsSettings(quality_gates=GateConfig.parse(gates))


def transform_event(name: str) -> dict[str, Any]:
    """One of events/transform_job_*.json, freshly loaded."""
    return json.loads((EVENTS / f"transform_job_{name}.json").read_text())


class FakeTransforms(BatchTransforms):
    """SageMaker: models and transform jobs by name. A job's status is whatever the test last set."""

    def __init__(self, log: list[tuple[str, str]] | None = None) -> None:
        self.log = log if log is not None else []
        self.models: dict[str, str] = {}
        self.jobs: dict[str, TransformPlan] = {}
        self.status: dict[str, str] = {}
        self.failure_reason: dict[str, str] = {}
        self.created: list[str] = []  # names of jobs actually created (retries add nothing)

    def add_job(self, plan: TransformPlan, status: str = "InProgress", failure_reason: str | None = None) -> None:
        """A job that exists already, as after an earlier attempt created it."""
        self.models.setdefault(plan.model_name, plan.package_arn)
        self.jobs[plan.job_name] = plan
        self.set_status(plan.job_name, status, failure_reason)

    def set_status(self, job_name: str, status: str, failure_reason: str | None = None) -> None:
        self.status[job_name] = status
        if failure_reason is not None:
            self.failure_reason[job_name] = failure_reason

    def ensure_model(self, name: str, package_arn: str) -> None:
        self.log.append(("ensure_model", name))
        self.models.setdefault(name, package_arn)

    def start_job(self, plan: TransformPlan) -> None:
        self.log.append(("start_job", plan.job_name))
        if plan.job_name in self.jobs:
            return
        if plan.model_name not in self.models:
            raise AssertionError(f"CreateTransformJob {plan.job_name}: model {plan.model_name} does not exist")
        self.jobs[plan.job_name] = plan
        self.status.setdefault(plan.job_name, "InProgress")
        self.created.append(plan.job_name)

    def describe_job(self, name: str) -> Mapping[str, Any] | None:
        self.log.append(("describe_job", name))
        plan = self.jobs.get(name)
        if plan is None:
            return None
        status = self.status[name]
        answer: dict[str, Any] = {
            "TransformJobName": name,
            "TransformJobArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:transform-job/{name}",
            "TransformJobStatus": status,
            "ModelName": plan.model_name,
            "BatchStrategy": "MultiRecord",
            "TransformInput": {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": plan.input_uri}},
                "ContentType": "text/csv",
                "SplitType": "Line",
            },
            "TransformOutput": {"S3OutputPath": plan.output_path, "Accept": "text/csv", "AssembleWith": "Line"},
            "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
            "CreationTime": JOB_CREATED_AT,
        }
        if status != "InProgress":
            # boto3 answers with datetimes, not the events' epoch milliseconds
            answer["TransformStartTime"] = JOB_CREATED_AT + timedelta(seconds=150)
            answer["TransformEndTime"] = JOB_CREATED_AT + timedelta(seconds=150 + 95.5)
        if name in self.failure_reason:
            answer["FailureReason"] = self.failure_reason[name]
        return answer


class FakeCallbacks(TransformCallbacks):
    """The approvals table's transform#<job> items: one token per job, handed out once."""

    def __init__(self, log: list[tuple[str, str]] | None = None) -> None:
        self.log = log if log is not None else []
        self.tokens: dict[str, str] = {}
        self.purge_at: dict[str, datetime] = {}

    def remember(self, job_name: str, task_token: str, purge_at: datetime) -> None:
        self.log.append(("remember", job_name))
        self.tokens[job_name] = task_token
        self.purge_at[job_name] = purge_at

    def outstanding(self) -> list[str]:
        return sorted(self.tokens)

    def take(self, job_name: str) -> str | None:
        self.log.append(("take", job_name))
        return self.tokens.pop(job_name, None)


class FakeObjects(ObjectStore):
    """S3 by URI: text objects, and every write with its content type."""

    def __init__(self, objects: Mapping[str, str] | None = None) -> None:
        self.objects: dict[str, str] = dict(objects or {})
        self.writes: list[tuple[str, str, str]] = []
        self.reads: list[str] = []

    def read_text(self, uri: str) -> str | None:
        self.reads.append(uri)
        return self.objects.get(uri)

    def write_text(self, uri: str, text: str, content_type: str) -> None:
        self.writes.append((uri, text, content_type))
        self.objects[uri] = text

    def json(self, uri: str) -> Any:
        return copy.deepcopy(json.loads(self.objects[uri]))
