"""Realistic payloads for the unit tests: SageMaker descriptions and events, and state machine task inputs."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fakes import FakeSigner

from model_promotion.domain.approvals import Decision, DecisionRecord
from model_promotion.domain.identity import Approver
from model_promotion.domain.model_version import ModelVersion

EVENTS = Path(__file__).resolve().parents[2] / "events"
STAGES = ("dev", "test", "uat", "prod")
GROUP = "breast-cancer-classifier"
VERSION = 3
PACKAGE_ARN = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/{VERSION}"
MODEL_DATA_URL = "s3://demo-model-artifacts/breast-cancer-classifier/v3/model.tar.gz"
REGISTRANT = "dana.scientist@example.com"
REGISTERED_BY = "dana-scientist"
REGISTERED_AT = "2026-11-21T10:14:58.123000+00:00"
EXECUTION_NAME = f"{GROUP}-v{VERSION}"
EXECUTION_ARN = (
    f"arn:aws:states:us-east-1:123456789012:execution:model-promotion-PromotionStateMachine:{EXECUTION_NAME}"
)
REQUESTED_AT = "2026-11-21T12:00:00.123Z"
REQUESTED_AT_TIME = datetime(2026, 11, 21, 12, 0, 0, 123000, tzinfo=UTC)
ONE_DAY = 86_400
# Step Functions task tokens are long opaque strings; this one is easy to spot if it ever leaks.
TASK_TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAA" + "SECRET-TASK-TOKEN-" * 30


def registration_event(detail_overrides: dict[str, Any] | None = None, **event_overrides: Any) -> dict[str, Any]:
    """events/model_package_registered.json: the EventBridge event of a pending registration, adjusted."""
    event: dict[str, Any] = json.loads((EVENTS / "model_package_registered.json").read_text())
    event["detail"].update(detail_overrides or {})
    event.update(event_overrides)
    return event


def model_description(
    *, status: str = "PendingManualApproval", metadata: dict[str, str] | None = None
) -> dict[str, Any]:
    """DescribeModelPackage's answer for the registered version: the event's detail, with boto3's datetime."""
    description = registration_event()["detail"]
    description["CreationTime"] = datetime.fromisoformat(REGISTERED_AT)
    description["ModelApprovalStatus"] = status
    if metadata is not None:
        description["CustomerMetadataProperties"] = dict(metadata)
    return description


def model_version(*, registrant_email: str | None = REGISTRANT) -> ModelVersion:
    return ModelVersion(
        group=GROUP,
        version=VERSION,
        package_arn=PACKAGE_ARN,
        model_data_url=MODEL_DATA_URL,
        registered_by=REGISTERED_BY,
        registered_at=REGISTERED_AT,
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
    "predictionsUri": "s3://demo-batch-data/batch-output/breast-cancer-classifier/v3/dev/input.csv.out",
}


def approval_payload(stage: str = "test", /, **overrides: Any) -> dict[str, Any]:
    """What the state machine passes to RequestApproval (waitForTaskToken)."""
    payload = stage_task_payload(stage)
    payload.update(
        {
            "taskToken": TASK_TOKEN,
            "requestedAt": REQUESTED_AT,
            "attempt": 0,
            "timeoutSeconds": ONE_DAY,
            "evidence": copy.deepcopy(EVIDENCE) if stage != "dev" else None,
        }
    )
    payload.update(overrides)
    return payload


# The approval pages' signing key, as the unit tests' RecordOutcome trusts it.
SIGNER = FakeSigner()


def decision_record(
    stage: str = "dev",
    *,
    decision: Decision = Decision.APPROVE,
    approver: str = "lead@example.com",
    comment: str | None = "Looks good",
    decision_id: str = "0f1e2d3c4b5a6978",
    version: int = VERSION,
    model_package_arn: str = PACKAGE_ARN,
    approver_name: str | None = None,
    approver_subject: str | None = None,
    execution_arn: str | None = EXECUTION_ARN,
    cosigners: tuple[DecisionRecord, ...] = (),
    sealed: bool = True,
) -> DecisionRecord:
    """A decision as the approval pages make it: sealed with SIGNER (the fake KMS key RecordOutcome checks)."""
    record = DecisionRecord(
        decision_id=decision_id,
        decision=decision,
        stage=stage,
        approver=approver,
        comment=comment,
        decided_at="2026-11-21T14:05:09Z",
        model_package_arn=model_package_arn,
        model_version=version,
        approver_name=approver_name,
        approver_subject=approver_subject,
        execution_arn=execution_arn,
        cosigners=cosigners,
    )
    return record.with_seal(SIGNER.seal(record.sealing_message())) if sealed else record


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
    "PARAMETER_PREFIX": "/model-promotion",
    "DECISION_LOG_TABLE": "model-promotion-decisions",
}

APPROVAL_API_ENV = {
    "APPROVALS_TABLE": "model-promotion-approvals",
    "APPROVER_GROUP_PREFIX": "approvers-",
    "SIGN_IN_PARAMETER": "/model-promotion-config/sign-in",
    "SESSIONS_TABLE": "model-promotion-sessions",
    "STAGES": "dev,test,uat,prod",
    "SIGNING_KEY_ID": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
}
GROUP_PREFIX = APPROVAL_API_ENV["APPROVER_GROUP_PREFIX"]

OUTCOME_ENV = {
    "PARAMETER_PREFIX": "/model-promotion",
    "DECISION_LOG_TABLE": "model-promotion-decisions",
    "SENDER_ADDRESS": "model-promotion@example.com",
    "OPERATIONS_EMAIL": "ml-ops@example.com",
    "STAGES": "dev,test,uat,prod",
    "SIGNING_KEY_ID": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
}

CONSOLE_ENV = {
    "APPROVALS_TABLE": "model-promotion-approvals",
    "DECISION_LOG_TABLE": "model-promotion-decisions",
    "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:model-promotion",
    "STAGES": "dev,test,uat,prod",
    "CONSOLE_SESSIONS_TABLE": "model-promotion-console-sessions",
    "SIGN_IN_PARAMETER": "/model-promotion-config/sign-in",
    "OPERATOR_GROUP": "operators",
    "SENDER_ADDRESS": "model-promotion@example.com",
    "APPROVAL_BASE_URL": "https://approvals.example.com",
}

STARTER_ENV = {
    "STATE_MACHINE_ARN": "arn:aws:states:eu-west-1:123456789012:stateMachine:model-promotion",
    "STAGES": "dev,test,uat,prod",
}


# Approvers, as Cognito's ID token names them and as the domain reads them.


def _subject_of(email: str) -> str:
    """A stable, UUID-shaped subject per person, so two builders of the same person agree."""
    digest = hashlib.sha256(email.encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _name_of(email: str) -> str:
    return " ".join(part.title() for part in email.split("@")[0].split("."))


def approver_claims(
    email: str | None = "qa.lead@example.com",
    *,
    groups: tuple[str, ...] = ("approvers-test",),
    name: str | None = None,
    username: str | None = None,
    subject: str | None = None,
    exp: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A verified Cognito ID token's claims for a person in the given user pool groups."""
    person = email or username or "someone"
    claims: dict[str, Any] = {
        "sub": subject or _subject_of(person),
        "cognito:username": username or person,
        "name": name if name is not None else _name_of(person),
        "cognito:groups": list(groups),
        "token_use": "id",
        "iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123",
        "aud": "fake-client",
        "exp": int((exp or datetime(2026, 11, 21, 15, 0, tzinfo=UTC)).timestamp()),
    }
    if email is not None:
        claims["email"] = email
    claims.update(extra)
    return claims


def approver(
    email: str | None = "qa.lead@example.com",
    *,
    groups: tuple[str, ...] = ("approvers-test",),
    name: str | None = None,
    username: str | None = None,
    subject: str | None = None,
) -> Approver:
    """The signed-in person the approval use cases take, built directly (not through approver_from_claims)."""
    person = email or username or "someone"
    return Approver(
        subject=subject or _subject_of(person),
        username=username or person,
        email=email,
        name=name if name is not None else _name_of(person),
        groups=frozenset(groups),
    )


def champion_record(
    stage: str = "test",
    *,
    version: int = 2,
    metrics: dict[str, Any] | None = None,
    evidence: bool = True,
    legacy: bool = False,
) -> dict[str, Any]:
    """The SSM "approved model" record of the version approved for `stage` now, as record_stage_outcome writes it:
    a pointer, with the approved metrics unless `evidence` is False. `legacy` gives the shape written before the
    pointer, which carried the comment and the evidence summary."""
    approved = metrics if metrics is not None else {"accuracy": 0.8801, "recall": 0.7012, "f1": 0.75}
    record: dict[str, Any] = {
        "modelPackageGroupName": GROUP,
        "modelPackageArn": f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/{version}",
        "modelVersion": version,
        "modelDataUrl": f"s3://demo-model-artifacts/{GROUP}/v{version}/model.tar.gz",
        "stage": stage,
        "approvedBy": "business.owner@example.com",
        "approvedByName": "Bea Owner",
        "approvedAt": "2026-10-02T09:30:00Z",
        "decisionId": "c0ffee00c0ffee00",
        "executionArn": EXECUTION_ARN.replace(f"-v{VERSION}", f"-v{version}"),
    }
    if legacy:
        record["comment"] = None
        record["evidence"] = {"stage": "dev", "rowCount": 12_000, "metrics": approved} if evidence else None
    else:
        record["approvedBySubject"] = "sub-bea-0001"
        if evidence:
            record.update(metrics=approved, metricsStage="dev")
    return record
