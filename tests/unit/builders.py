"""Realistic payloads for the unit tests: SageMaker descriptions and events, and state machine task inputs."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from model_promotion.domain.approvals import Decision, DecisionRecord
from model_promotion.domain.model_version import ModelVersion

STAGES = ("dev", "test", "uat", "prod")
GROUP = "churn-model"
VERSION = 3
PACKAGE_ARN = f"arn:aws:sagemaker:eu-west-1:123456789012:model-package/{GROUP}/{VERSION}"
MODEL_DATA_URL = "s3://ml-artifacts-123456789012/churn-model/3/model.tar.gz"
REGISTRANT = "data.scientist@example.com"
EXECUTION_NAME = f"{GROUP}-v{VERSION}"
EXECUTION_ARN = f"arn:aws:states:eu-west-1:123456789012:execution:model-promotion:{EXECUTION_NAME}"
REQUESTED_AT = "2026-11-21T12:00:00.123Z"
REQUESTED_AT_TIME = datetime(2026, 11, 21, 12, 0, 0, 123000, tzinfo=UTC)
ONE_DAY = 86_400
# Step Functions task tokens are long opaque strings; this one is easy to spot if it ever leaks.
TASK_TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAA" + "SECRET-TASK-TOKEN-" * 30


def model_description(
    *,
    status: str = "PendingManualApproval",
    metadata: dict[str, str] | None = None,
    group: str = GROUP,
    version: int = VERSION,
) -> dict[str, Any]:
    """DescribeModelPackage's answer for a freshly registered version."""
    return {
        "ModelPackageGroupName": group,
        "ModelPackageVersion": version,
        "ModelPackageArn": f"arn:aws:sagemaker:eu-west-1:123456789012:model-package/{group}/{version}",
        "ModelPackageDescription": "Gradient boosted churn classifier",
        "CreationTime": datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
        "InferenceSpecification": {
            "Containers": [
                {
                    "Image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/xgboost:1.7-1",
                    "ModelDataUrl": MODEL_DATA_URL,
                }
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": status,
        "CreatedBy": {"UserProfileName": "data-scientist", "DomainId": "d-abc123"},
        "CustomerMetadataProperties": {"RegistrantEmail": REGISTRANT, "team": "retention"}
        if metadata is None
        else dict(metadata),
        "Task": "CLASSIFICATION",
    }


def registration_event(detail_overrides: dict[str, Any] | None = None, **event_overrides: Any) -> dict[str, Any]:
    """An EventBridge "SageMaker Model Package State Change" event for a pending registration."""
    detail = model_description()
    detail["CreationTime"] = 1795253400000  # events carry epoch milliseconds, not datetimes
    detail.update(detail_overrides or {})
    event: dict[str, Any] = {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "account": "123456789012",
        "time": "2026-11-20T09:30:01Z",
        "region": "eu-west-1",
        "resources": [PACKAGE_ARN],
        "detail": detail,
    }
    event.update(event_overrides)
    return event


def model_version(*, registrant_email: str | None = REGISTRANT) -> ModelVersion:
    return ModelVersion(
        group=GROUP,
        version=VERSION,
        package_arn=PACKAGE_ARN,
        model_data_url=MODEL_DATA_URL,
        registered_by="data-scientist",
        registered_at="2026-11-20T09:30:00+00:00",
        registrant_email=registrant_email,
        task="CLASSIFICATION",
    )


def stage_task_payload(stage: str, *, model: ModelVersion | None = None) -> dict[str, Any]:
    return {
        "executionArn": EXECUTION_ARN,
        "model": (model or model_version()).to_payload(),
        "stage": stage,
        "stageIndex": STAGES.index(stage),
        "stages": list(STAGES),
    }


EVIDENCE = {
    "stage": "dev",
    "rowCount": 12_500,
    "metrics": {"accuracy": 0.912345, "precision": 0.8765, "recall": 0.7321, "f1": 0.7978, "roc_auc": 0.9432},
    "durationSeconds": 42.5,
    "predictionsUri": "s3://ml-artifacts-123456789012/batch/churn-model-v3/dev/predictions.csv",
}


def approval_payload(stage: str = "test", **overrides: Any) -> dict[str, Any]:
    """What the state machine passes to RequestApproval (waitForTaskToken)."""
    payload = stage_task_payload(stage)
    payload.update(
        {
            "taskToken": TASK_TOKEN,
            "requestedAt": REQUESTED_AT,
            "timeoutSeconds": ONE_DAY,
            "evidence": copy.deepcopy(EVIDENCE) if stage != "dev" else None,
        }
    )
    payload.update(overrides)
    return payload


def decision_record(
    stage: str = "dev",
    *,
    decision: Decision = Decision.APPROVE,
    approver: str = "lead@example.com",
    comment: str | None = "Looks good",
    decision_id: str = "0f1e2d3c4b5a6978",
    version: int = VERSION,
) -> DecisionRecord:
    return DecisionRecord(
        decision_id=decision_id,
        decision=decision,
        stage=stage,
        approver=approver,
        comment=comment,
        decided_at="2026-11-21T14:05:09Z",
        model_package_arn=PACKAGE_ARN,
        model_version=version,
    )


def outcome_payload(stage: str, outcome: str, **extra: Any) -> dict[str, Any]:
    """What the state machine passes to RecordOutcome."""
    payload = stage_task_payload(stage, model=extra.pop("model", None))
    payload.update({"outcome": outcome, "recordedAt": "2026-11-21T15:00:00.456Z", "evidence": None})
    payload.update(extra)
    return payload


APPROVAL_ENV = {
    "STAGES": "dev,test,uat,prod",
    "STAGE_APPROVERS": (
        "dev=dev.lead@example.com;test=qa.lead@example.com,qa.deputy@example.com;"
        "uat=business.owner@example.com;prod=head.of.ml@example.com,risk.officer@example.com,cto@example.com"
    ),
    "APPROVALS_TABLE": "model-promotion-approvals",
    "SENDER_ADDRESS": "model-promotion@example.com",
    "APPROVAL_BASE_URL": "https://abc123.execute-api.eu-west-1.amazonaws.com/",
}

OUTCOME_ENV = {
    "PARAMETER_PREFIX": "/model-promotion",
    "DECISION_LOG_TABLE": "model-promotion-decisions",
    "SENDER_ADDRESS": "model-promotion@example.com",
    "OPERATIONS_EMAIL": "ml-ops@example.com",
}

STARTER_ENV = {
    "STATE_MACHINE_ARN": "arn:aws:states:eu-west-1:123456789012:stateMachine:model-promotion",
    "STAGES": "dev,test,uat,prod",
}
