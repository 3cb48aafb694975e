"""AWS behind the smoke test's own ports (services/smoke.py): S3 uploads, SageMaker registration, and the
execution history read as event types only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NoReturn

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.errors import ConfigurationError
from ..services.smoke import ArtifactUploads, ExecutionHistory, HistoryEvent, ModelRegistration
from .aws import AwsAdapter, error_code, is_transient, transient
from .s3_objects import split_s3_uri

# A fresh smoke execution has about 15 events; this bounds a history someone pointed us at by mistake.
HISTORY_PAGES_MAX = 20


class S3ArtifactUploads(AwsAdapter, ArtifactUploads):
    def put(self, uri: str, body: bytes, content_type: str) -> None:
        bucket, key = split_s3_uri(uri)
        try:
            self.client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                raise transient("PutObject", exc) from exc
            if error_code(exc) == "NoSuchBucket":
                raise ConfigurationError(
                    f"the model artifacts bucket {bucket} does not exist: ModelArtifactsBucketName names a bucket of "
                    "yours, which the stack does not create (on the embedded AWS, `make register` creates it)"
                ) from exc
            raise ConfigurationError(
                f"cannot write {uri}: {error_code(exc) or type(exc).__name__} (the operator needs s3:PutObject on "
                f"arn:aws:s3:::{bucket}/{key.split('/', 1)[0]}/*)"
            ) from exc


class SageMakerRegistration(AwsAdapter, ModelRegistration):
    def ensure_group(self, group: str, description: str) -> bool:
        sagemaker = self.client("sagemaker")
        try:
            sagemaker.describe_model_package_group(ModelPackageGroupName=group)
            return False
        except (ClientError, BotoCoreError) as exc:
            # SageMaker answers a missing group with ValidationException ("... does not exist.").
            if error_code(exc) != "ValidationException":
                self._raise("DescribeModelPackageGroup", group, exc)
        try:
            sagemaker.create_model_package_group(ModelPackageGroupName=group, ModelPackageGroupDescription=description)
        except (ClientError, BotoCoreError) as exc:
            self._raise("CreateModelPackageGroup", group, exc)
        return True

    def register(
        self,
        *,
        group: str,
        description: str,
        image_uri: str,
        model_data_url: str,
        statistics_uri: str,
        metadata: Mapping[str, str],
        task: str,
    ) -> str:
        try:
            answer = self.client("sagemaker").create_model_package(
                ModelPackageGroupName=group,
                ModelPackageDescription=description,
                ModelApprovalStatus="PendingManualApproval",
                Task=task,
                InferenceSpecification={
                    "Containers": [{"Image": image_uri, "ModelDataUrl": model_data_url}],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["text/csv"],
                },
                ModelMetrics={
                    "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": statistics_uri}}
                },
                CustomerMetadataProperties=dict(metadata),
            )
        except (ClientError, BotoCoreError) as exc:
            self._raise("CreateModelPackage", group, exc)
        return str(answer["ModelPackageArn"])

    @staticmethod
    def _raise(action: str, group: str, exc: Exception) -> NoReturn:
        if is_transient(exc):
            raise transient(action, exc) from exc
        message = exc.response.get("Error", {}).get("Message", "") if isinstance(exc, ClientError) else str(exc)
        raise ConfigurationError(f"{action} of {group} refused: {error_code(exc)} {message}".strip()) from exc


class StepFunctionsHistory(AwsAdapter, ExecutionHistory):
    def events(self, execution_arn: str) -> list[HistoryEvent]:
        found: list[HistoryEvent] = []
        request: dict[str, str | int] = {"executionArn": execution_arn, "maxResults": 1000}
        try:
            for _ in range(HISTORY_PAGES_MAX):
                page = self.client("stepfunctions").get_execution_history(**request)
                for event in page.get("events", []):
                    # Only the type and the state's name: inputs and parameters hold the task token.
                    entered = event.get("stateEnteredEventDetails") or {}
                    found.append(HistoryEvent(type=str(event.get("type")), state=entered.get("name")))
                if not page.get("nextToken"):
                    break
                request["nextToken"] = page["nextToken"]
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                raise transient("GetExecutionHistory", exc) from exc
            raise ConfigurationError(f"GetExecutionHistory of {execution_arn} refused: {error_code(exc)}") from exc
        return found
