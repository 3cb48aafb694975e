"""What the ML team does around the workflow: publish model artifacts and batch data, register a version."""

from __future__ import annotations

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


def register_version(
    stack: StackClient,
    group: str,
    model_data_url: str,
    *,
    registrant_email: str | None = None,
    task: str = "CLASSIFICATION",
    status: str = "PendingManualApproval",
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
    arn = sagemaker.create_model_package(**request)["ModelPackageArn"]
    return dict(sagemaker.describe_model_package(ModelPackageName=arn))
