"""A model package version as the workflow sees it, and how it is read from SageMaker's own shapes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from .errors import InvalidPayload

PENDING_MANUAL_APPROVAL = "PendingManualApproval"
APPROVED = "Approved"
REJECTED = "Rejected"

# Key of CustomerMetadataProperties where a registrant may leave the address that hears about outcomes. The
# registrant writes it, so it addresses notices only: who registered a version is CreatedBy's (registered_by).
REGISTRANT_EMAIL_KEY = "RegistrantEmail"
# ModelPackageGroupName's pattern and length in SageMaker's service model (\Z: "$" would let a final newline by).
MODEL_GROUP_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}\Z")


@dataclass(frozen=True)
class ModelVersion:
    """The facts about one registered version that every stage needs; travels in the execution state."""

    group: str
    version: int
    package_arn: str
    model_data_url: str | None
    registered_by: str | None
    registered_at: str | None
    registrant_email: str | None
    task: str | None

    def to_payload(self) -> dict[str, Any]:
        return {_camel(k): v for k, v in asdict(self).items()}

    @classmethod
    def from_payload(cls, payload: Any) -> ModelVersion:
        if not isinstance(payload, Mapping):
            raise InvalidPayload("'model' must be an object")
        group = _required_str(payload, "group")
        package_arn = _required_str(payload, "packageArn")
        version = payload.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise InvalidPayload("'model.version' must be a positive integer")
        return cls(
            group=group,
            version=version,
            package_arn=package_arn,
            model_data_url=_optional_str(payload, "modelDataUrl"),
            registered_by=_optional_str(payload, "registeredBy"),
            registered_at=_optional_str(payload, "registeredAt"),
            registrant_email=_optional_str(payload, "registrantEmail"),
            task=_optional_str(payload, "task"),
        )

    @classmethod
    def from_description(cls, description: Mapping[str, Any]) -> ModelVersion:
        """Reads DescribeModelPackage's answer (or an event detail of the same shape)."""
        group = description.get("ModelPackageGroupName")
        version = description.get("ModelPackageVersion")
        arn = description.get("ModelPackageArn")
        if not isinstance(group, str) or not group:
            raise InvalidPayload("ModelPackageGroupName is missing: only versioned model packages can be promoted")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise InvalidPayload("ModelPackageVersion is missing or not a positive integer")
        if not isinstance(arn, str) or not arn.startswith("arn:"):
            raise InvalidPayload("ModelPackageArn is missing or not an ARN")
        containers = (description.get("InferenceSpecification") or {}).get("Containers") or []
        model_data_url = containers[0].get("ModelDataUrl") if containers and isinstance(containers[0], dict) else None
        metadata = description.get("CustomerMetadataProperties") or {}
        created = description.get("CreationTime")
        return cls(
            group=group,
            version=version,
            package_arn=arn,
            model_data_url=model_data_url if isinstance(model_data_url, str) else None,
            registered_by=registrant_identity(description.get("CreatedBy")),
            registered_at=created.isoformat() if hasattr(created, "isoformat") else (str(created) if created else None),
            registrant_email=metadata.get(REGISTRANT_EMAIL_KEY) if isinstance(metadata, dict) else None,
            task=description.get("Task") if isinstance(description.get("Task"), str) else None,
        )

    @property
    def label(self) -> str:
        return f"{self.group} v{self.version}"


def registrant_identity(created_by: Any) -> str | None:
    """Who registered the version, from SageMaker's UserContext (CreatedBy), which SageMaker sets from the
    caller: a Studio user profile name, else the IAM identity's ARN (an assumed-role session, an IAM user, a
    role). None when CreatedBy names neither; domain/identity.py's registrant_of reads the person from it."""
    if not isinstance(created_by, Mapping):
        return None
    for key in ("UserProfileName", "IamIdentity"):
        value = created_by.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, Mapping) and isinstance(value.get("Arn"), str):
            return value["Arn"]
    return None


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.title() for part in rest)


def _required_str(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidPayload(f"'model.{key}' must be a non-empty string")
    return value


def _optional_str(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidPayload(f"'model.{key}' must be a string")
    return value
