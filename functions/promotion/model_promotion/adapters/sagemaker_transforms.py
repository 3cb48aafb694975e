"""SageMaker behind the BatchTransforms port: a Model made from the package, and CreateTransformJob."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..config import TransformSettings
from ..domain.errors import ConfigurationError
from ..domain.transforms import TransformPlan
from ..ports import BatchTransforms, TransformJobs
from .aws import AwsAdapter, AwsClients, error_code, is_transient, transient


class SageMakerTransformJobs(AwsAdapter, TransformJobs):
    """Reads transform jobs; needs no transform settings (the sweep that reconciles lost completions)."""

    def _call(self, action: str, **request: Any) -> dict[str, Any]:
        try:
            return getattr(self.client("sagemaker"), action)(**request)
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                raise transient(action, exc) from exc
            if not isinstance(exc, ClientError):
                raise ConfigurationError(f"{action} could not be sent: {type(exc).__name__}") from exc
            raise

    def describe_job(self, name: str) -> Mapping[str, Any] | None:
        try:
            answer = self._call("describe_transform_job", TransformJobName=name)
        except ClientError as exc:
            if "Could not find" in str(exc):
                return None
            raise ConfigurationError(f"DescribeTransformJob {name} refused: {error_code(exc)}") from exc
        answer.pop("ResponseMetadata", None)
        return answer


class SageMakerTransforms(SageMakerTransformJobs, BatchTransforms):
    def __init__(self, settings: TransformSettings, clients: AwsClients | None = None):
        super().__init__(clients)
        self.settings = settings

    def ensure_model(self, name: str, package_arn: str) -> None:
        try:
            self._call(
                "create_model",
                ModelName=name,
                ExecutionRoleArn=self.settings.execution_role_arn,
                Containers=[{"ModelPackageName": package_arn}],
            )
        except ClientError as exc:
            if "already exist" in str(exc):
                return
            raise ConfigurationError(f"CreateModel for {package_arn} refused: {error_code(exc)}") from exc

    def start_job(self, plan: TransformPlan) -> None:
        try:
            self._call(
                "create_transform_job",
                TransformJobName=plan.job_name,
                ModelName=plan.model_name,
                BatchStrategy="MultiRecord",
                TransformInput={
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": plan.input_uri}},
                    "ContentType": "text/csv",
                    "SplitType": "Line",
                },
                TransformOutput={"S3OutputPath": plan.output_path, "Accept": "text/csv", "AssembleWith": "Line"},
                TransformResources={
                    "InstanceType": self.settings.instance_type,
                    "InstanceCount": self.settings.instance_count,
                },
                Tags=[{"Key": "model-promotion:role", "Value": plan.role}],
                **({"Environment": plan.environment} if plan.environment else {}),
            )
        except ClientError as exc:
            if error_code(exc) == "ResourceInUse" or "already exist" in str(exc) or "must be unique" in str(exc):
                return  # a retry: the job exists, and its name says it is this one
            raise ConfigurationError(f"CreateTransformJob {plan.job_name} refused: {error_code(exc)}") from exc
