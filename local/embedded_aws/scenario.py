"""What the ML team does around the workflow: publish model artifacts and batch data, register a version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .client import StackClient
from .demo_model import DemoAssets

# The shape of a SageMaker scikit-learn serving image URI; nothing runs it locally.
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def publish_batches(stack: StackClient, assets: DemoAssets) -> None:
    """Uploads each stage's batch input and ground truth where batch inference reads them."""
    s3 = stack.client("s3")
    bucket = stack.resources["BatchDataBucket"]
    prefix = stack.parameters["BatchInputPrefix"]
    for stage, (features, labels) in assets.batches.items():
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{stage}/input.csv", Body=features.read_bytes())
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{stage}/labels.csv", Body=labels.read_bytes())


def publish_model(stack: StackClient, archive: Path, key: str) -> str:
    """Uploads a model.tar.gz to the model artifacts bucket and returns its ModelDataUrl."""
    s3 = stack.client("s3")
    bucket = stack.parameters["ModelArtifactsBucketName"]
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=archive.read_bytes())
    return f"s3://{bucket}/{key}"


def publish_model_quality(stack: StackClient, archive: Path, assets: DemoAssets, key: str) -> str:
    """What a training pipeline's evaluation step registers: metrics in SageMaker's model-quality JSON.

    Computed here with scikit-learn on the demo's held-out rows (all stages' batches together).
    """
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

    from .sklearn_container import load_model, parse_feature_rows, score_rows

    model = load_model(archive.read_bytes())
    rows, labels = [], []
    for features, truth in assets.batches.values():
        rows += parse_feature_rows(features.read_text())
        labels += [int(float(v)) for v in truth.read_text().split()]
    scores = score_rows(model, rows)
    predicted = [int(s >= 0.5) for s in scores]
    statistics = {
        "version": 0.0,
        "dataset": {"item_count": len(labels), "evaluation_time": "2026-11-21T00:00:00Z"},
        "binary_classification_metrics": {
            "accuracy": {"value": accuracy_score(labels, predicted), "standard_deviation": "NaN"},
            "precision": {"value": precision_score(labels, predicted), "standard_deviation": "NaN"},
            "recall": {"value": recall_score(labels, predicted), "standard_deviation": "NaN"},
            "f1": {"value": f1_score(labels, predicted), "standard_deviation": "NaN"},
            "auc": {"value": roc_auc_score(labels, scores), "standard_deviation": "NaN"},
        },
    }
    bucket = stack.parameters["ModelArtifactsBucketName"]
    stack.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(statistics).encode())
    return f"s3://{bucket}/{key}"


# An IAM Identity Center permission set's role, as registrants' sessions assume it (the session name is the user).
SSO_ROLE = "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_DataScientist_0123456789abcdef"


class RegistrantSession:
    """The stack as a registrant reaches it: SageMaker calls signed with an IAM Identity Center session of theirs,
    so SageMaker's CreatedBy names the session, as it records every caller. Everything else is the stack's."""

    def __init__(self, stack: Any, session_name: str):
        self._stack = stack
        self.session_name = session_name
        self.credentials = stack.client("sts").assume_role(RoleArn=SSO_ROLE, RoleSessionName=session_name)[
            "Credentials"
        ]

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            region_name=self._stack.info["region"],
            endpoint_url=self._stack.info["aws_endpoint"],
            aws_access_key_id=self.credentials["AccessKeyId"],
            aws_secret_access_key=self.credentials["SecretAccessKey"],
            aws_session_token=self.credentials["SessionToken"],
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stack, name)


def register_version(
    stack: StackClient,
    group: str,
    model_data_url: str,
    *,
    registrant_email: str | None = None,
    task: str = "CLASSIFICATION",
    status: str = "PendingManualApproval",
    statistics_uri: str | None = None,
) -> dict[str, Any]:
    """Registers a model package version, as a training pipeline's RegisterModel step would."""
    sagemaker = stack.client("sagemaker")
    groups = sagemaker.list_model_package_groups(NameContains=group)["ModelPackageGroupSummaryList"]
    if not any(g["ModelPackageGroupName"] == group for g in groups):
        sagemaker.create_model_package_group(
            ModelPackageGroupName=group, ModelPackageGroupDescription=f"{group} models"
        )
    request: dict[str, Any] = {
        "ModelPackageGroupName": group,
        "ModelApprovalStatus": status,
        "Task": task,
        "InferenceSpecification": {
            "Containers": [{"Image": SKLEARN_IMAGE, "ModelDataUrl": model_data_url}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    }
    if registrant_email:
        request["CustomerMetadataProperties"] = {"RegistrantEmail": registrant_email}
    if statistics_uri:
        request["ModelMetrics"] = {
            "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": statistics_uri}}
        }
    arn = sagemaker.create_model_package(**request)["ModelPackageArn"]
    return dict(sagemaker.describe_model_package(ModelPackageName=arn))
