"""The SageMaker Model Registry behind the ModelRegistry port."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.errors import ConfigurationError, InvalidPayload
from ..ports import ModelCatalog, ModelRegistry, ModelVersions
from .aws import AwsAdapter, error_code, is_refused, is_transient, transient


class SageMakerRegistry(AwsAdapter, ModelRegistry):
    def describe(self, package_arn: str) -> Mapping[str, Any]:
        try:
            answer = self.client("sagemaker").describe_model_package(ModelPackageName=package_arn)
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                raise transient("DescribeModelPackage", exc) from exc
            if is_refused(exc):
                raise ConfigurationError(
                    f"DescribeModelPackage of {package_arn} was refused ({error_code(exc)}): the function's role "
                    "may not read the registry"
                ) from exc
            raise InvalidPayload(f"model package {package_arn} cannot be read: {error_code(exc)}") from exc
        answer.pop("ResponseMetadata", None)
        return answer

    def record_stage(
        self, package_arn: str, metadata: Mapping[str, str], approval_status: str, description: str
    ) -> None:
        # The whole state goes in every call, unchanged parts included: an update that leaves a field out
        # must not depend on whether the service keeps or clears it (emulators differ), and the same
        # state sent twice is the same update.
        request: dict[str, Any] = {
            "ModelPackageArn": package_arn,
            "ModelApprovalStatus": approval_status,
            "CustomerMetadataProperties": dict(metadata),
            "ApprovalDescription": description,
            "ClientToken": client_token(package_arn, metadata, approval_status, description),
        }
        try:
            self.client("sagemaker").update_model_package(**request)
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                raise transient("UpdateModelPackage", exc) from exc
            raise InvalidPayload(f"model package {package_arn} cannot be updated: {error_code(exc)}") from exc


def client_token(package_arn: str, metadata: Mapping[str, str], approval_status: str, description: str) -> str:
    """Same inputs, same token, so SageMaker treats a retried update as the same request.

    UpdateModelPackage allows 1-36 characters of [a-zA-Z0-9-]: the first 128 bits of a SHA-256 of the
    whole update, written as a UUID (36 characters), keep the collision odds negligible within that limit.
    """
    digest = hashlib.sha256(
        f"{package_arn}|{approval_status}|{sorted(metadata.items())}|{description}".encode()
    ).digest()
    return str(uuid.UUID(bytes=digest[:16]))


class SageMakerCatalog(AwsAdapter, ModelCatalog, ModelVersions):
    def pending_versions(self, groups: tuple[str, ...]) -> list[Mapping[str, Any]]:
        sagemaker = self.client("sagemaker")
        names = list(groups) or self.groups()
        try:
            found = []
            for group in names:
                pages = sagemaker.get_paginator("list_model_packages").paginate(
                    ModelPackageGroupName=group, ModelApprovalStatus="PendingManualApproval"
                )
                for page in pages:
                    for summary in page["ModelPackageSummaryList"]:
                        found.append(SageMakerRegistry(self.clients).describe(summary["ModelPackageArn"]))
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                raise transient("ListModelPackages", exc) from exc
            raise
        return found

    def groups(self) -> list[str]:
        try:
            pages = self.client("sagemaker").get_paginator("list_model_package_groups").paginate()
            names = [g["ModelPackageGroupName"] for page in pages for g in page["ModelPackageGroupSummaryList"]]
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                raise transient("ListModelPackageGroups", exc) from exc
            raise
        return sorted(names)

    def versions(self, group: str) -> list[Mapping[str, Any]]:
        return [
            SageMakerRegistry(self.clients).describe(summary["ModelPackageArn"]) for summary in self._summaries(group)
        ]

    def version(self, group: str, version: int) -> Mapping[str, Any] | None:
        for summary in self._summaries(group):
            if summary.get("ModelPackageVersion") == version:
                return SageMakerRegistry(self.clients).describe(summary["ModelPackageArn"])
        return None

    def _summaries(self, group: str) -> list[dict[str, Any]]:
        """ListModelPackages of the group, newest first. The version's ARN comes from here, never built by hand."""
        try:
            pages = (
                self.client("sagemaker")
                .get_paginator("list_model_packages")
                .paginate(ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Descending")
            )
            summaries = [summary for page in pages for summary in page["ModelPackageSummaryList"]]
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                raise transient("ListModelPackages", exc) from exc
            raise InvalidPayload(
                f"the versions of model package group {group} cannot be listed: {error_code(exc)}"
            ) from exc
        return sorted(summaries, key=lambda s: s.get("ModelPackageVersion") or 0, reverse=True)
