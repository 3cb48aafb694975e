"""Which registration events start a promotion, and the one execution name each version gets."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .model_version import PENDING_MANUAL_APPROVAL

EVENT_SOURCE = "aws.sagemaker"
EVENT_DETAIL_TYPE = "SageMaker Model Package State Change"
EXECUTION_NAME_MAX = 80
_NOT_ALLOWED_IN_NAME = re.compile(r"[^0-9A-Za-z_-]")


@dataclass(frozen=True)
class RegistrationEvent:
    """The part of a "Model Package State Change" event that decides whether to start."""

    package_arn: str
    group: str
    version: int
    approval_status: str


@dataclass(frozen=True)
class Ignored:
    reason: str


def read_registration_event(event: Any) -> RegistrationEvent | Ignored:
    """Validates an EventBridge event. Anything that is not a pending registration is Ignored, with why.

    SageMaker sends this event on registration and again on every update of the package, including
    the workflow's own UpdateModelPackage calls, so most events this sees are not work to do.
    """
    if not isinstance(event, Mapping):
        return Ignored("event is not a JSON object")
    if event.get("source") != EVENT_SOURCE or event.get("detail-type") != EVENT_DETAIL_TYPE:
        return Ignored(f"not a '{EVENT_DETAIL_TYPE}' event from {EVENT_SOURCE}")
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        return Ignored("event has no 'detail' object")
    status = detail.get("ModelApprovalStatus")
    if not isinstance(status, str):
        return Ignored("detail.ModelApprovalStatus is missing or not a string")
    if status != PENDING_MANUAL_APPROVAL:
        shown = " ".join(status[:40].split()) or "blank"  # one short line, whatever the event carries
        return Ignored(f"ModelApprovalStatus is {shown}, only {PENDING_MANUAL_APPROVAL} starts a promotion")
    arn = detail.get("ModelPackageArn")
    group = detail.get("ModelPackageGroupName")
    version = detail.get("ModelPackageVersion")
    if not isinstance(arn, str) or not arn.startswith("arn:"):
        return Ignored("detail.ModelPackageArn is missing or not an ARN")
    if not isinstance(group, str) or not group:
        return Ignored("detail.ModelPackageGroupName is missing: unversioned packages are not promoted")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return Ignored("detail.ModelPackageVersion is missing or not a positive integer")
    return RegistrationEvent(package_arn=arn, group=group, version=version, approval_status=status)


def execution_name(group: str, version: int, attempt: int = 1) -> str:
    """One name per version and attempt, so Step Functions itself refuses a second execution for it.

    The first attempt is `<group>-v<version>`; an operator's retry (services/operations.py) adds
    `-attempt<N>`. Execution names allow [0-9A-Za-z-_] and 80 characters. Sanitising can map two groups to
    one name ("a.b" and "a_b"), and cutting can too, so whenever the name changes a short hash of the
    original is appended to keep it unique.
    """
    return _named(group, version, f"-attempt{attempt}" if attempt > 1 else "")


def rollback_execution_name(group: str, version: int, stage: str, requested_at: datetime) -> str:
    """`<group>-v<version>-rollback-<stage>-<UTC time to the second>`: a rollback's execution, one per request
    (in the rollback state machine, so a promotion's names are never taken)."""
    return _named(group, version, f"-rollback-{stage}-{requested_at.astimezone(UTC):%Y%m%dT%H%M%SZ}")


def _named(group: str, version: int, tail: str) -> str:
    raw = f"{group}-v{version}{tail}"
    clean = _NOT_ALLOWED_IN_NAME.sub("_", raw)
    if clean == raw and len(clean) <= EXECUTION_NAME_MAX:
        return clean
    digest = hashlib.sha256(raw.encode()).hexdigest()[:10]
    suffix = f"-v{version}{_NOT_ALLOWED_IN_NAME.sub('_', tail)}-{digest}"
    if len(suffix) > EXECUTION_NAME_MAX // 2:
        suffix = f"-{digest}"  # an absurd version, attempt or stage: the hash alone keeps the name unique
    head = _NOT_ALLOWED_IN_NAME.sub("_", group)[: EXECUTION_NAME_MAX - len(suffix)]
    return f"{head}{suffix}"
