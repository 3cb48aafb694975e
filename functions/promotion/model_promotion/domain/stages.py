"""The stage plan, and what each stage outcome writes into the model registry.

The registry carries one CustomerMetadataProperties entry per stage, named after the stage, as in the
seed post ("dev", "test", "uat", "prod"). Its values are the StageStatus values below.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from enum import Enum

from .errors import ConfigurationError, StageNotInPlan
from .model_version import APPROVED, PENDING_MANUAL_APPROVAL, REJECTED

DEFAULT_STAGES = ("dev", "test", "uat", "prod")
APPROVAL_DESCRIPTION_MAX = 1024
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_EMAIL = re.compile(r"^[^@\s,;=]+@[^@\s,;=]+\.[^@\s,;=]+$")


class Outcome(str, Enum):
    """What happened at a stage. The value is what the state machine passes as `outcome`."""

    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    FAILED = "failed"
    GATE_FAILED = "gate-failed"
    # An operator stopped the promotion while a stage waited for its decision (the operators' CLI).
    CANCELLED = "cancelled"


class StageStatus(str, Enum):
    """A stage's value in the registry's CustomerMetadataProperties."""

    APPROVED = APPROVED
    PENDING = PENDING_MANUAL_APPROVAL
    REJECTED = REJECTED
    EXPIRED = "Expired"
    FAILED = "Failed"
    CANCELLED = "Cancelled"


_STATUS_OF_OUTCOME = {
    Outcome.APPROVED: StageStatus.APPROVED,
    Outcome.REJECTED: StageStatus.REJECTED,
    Outcome.EXPIRED: StageStatus.EXPIRED,
    Outcome.FAILED: StageStatus.FAILED,
    # A quality gate's verdict is a rejection, made by configuration instead of a person.
    Outcome.GATE_FAILED: StageStatus.REJECTED,
    Outcome.CANCELLED: StageStatus.CANCELLED,
}


def parse_stages(text: str) -> tuple[str, ...]:
    """Reads the comma-separated stage list, in promotion order."""
    stages = tuple(part.strip() for part in text.split(",") if part.strip())
    if not stages:
        raise ConfigurationError("the stage list is empty: give at least one stage, e.g. 'dev,test,uat,prod'")
    for stage in stages:
        if not _STAGE_NAME.match(stage):
            raise ConfigurationError(
                f"stage name {stage!r} is not allowed: use lower-case letters, digits, '-' or '_', "
                "starting with a letter, at most 32 characters"
            )
    duplicates = sorted({s for s in stages if stages.count(s) > 1})
    if duplicates:
        raise ConfigurationError(f"the stage list names {', '.join(duplicates)} more than once")
    return stages


def parse_stage_approvers(text: str, stages: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Reads 'dev=a@example.com,b@example.com;test=c@example.com' into stage -> approver addresses.

    Every stage must have at least one approver: a stage nobody can approve would only ever expire.
    """
    approvers: dict[str, tuple[str, ...]] = {}
    for entry in (part.strip() for part in text.split(";")):
        if not entry:
            continue
        stage, sep, addresses = entry.partition("=")
        stage = stage.strip()
        if not sep:
            raise ConfigurationError(f"approver entry {entry!r} has no '=': write it as 'stage=address,address'")
        if stage not in stages:
            raise ConfigurationError(
                f"approvers are given for {stage!r}, which is not in the stage list {list(stages)}"
            )
        if stage in approvers:
            raise ConfigurationError(f"approvers for {stage!r} are given twice")
        emails = tuple(a.strip() for a in addresses.split(",") if a.strip())
        bad = [a for a in emails if not _EMAIL.match(a)]
        if bad:
            raise ConfigurationError(f"approver address {bad[0]!r} for stage {stage!r} is not an email address")
        if not emails:
            raise ConfigurationError(f"stage {stage!r} has an empty approver list")
        approvers[stage] = emails
    missing = [s for s in stages if s not in approvers]
    if missing:
        raise ConfigurationError(f"no approvers are configured for stage(s) {', '.join(missing)}")
    return approvers


def is_email_address(text: str) -> bool:
    return bool(_EMAIL.match(text))


def stage_metadata_after(
    outcome: Outcome,
    stage: str,
    stages: Sequence[str],
    current: Mapping[str, str],
    *,
    signed_by: str | None = None,
    at: str | None = None,
) -> dict[str, str]:
    """The full CustomerMetadataProperties after `outcome` at `stage`.

    Approval marks the stage Approved and every later stage PendingManualApproval, as the seed does.
    `<stage>-signed-by` and `<stage>-signed-at` summarise the signature (the audit log keeps it whole).
    Other entries (the registrant's own keys, earlier stages) are kept: the whole map is written back
    because SageMaker and its emulators disagree on whether an update merges or replaces it.
    """
    if stage not in stages:
        raise StageNotInPlan(f"stage {stage!r} is not in the promotion's stages {list(stages)}")
    merged = dict(current)
    merged[stage] = _STATUS_OF_OUTCOME[outcome].value
    for suffix, value in (("signed-by", signed_by), ("signed-at", at)):
        if value:
            merged[f"{stage}-{suffix}"] = metadata_value(value)
    if outcome is Outcome.APPROVED:
        for later in stages[stages.index(stage) + 1 :]:
            if merged.get(later) != StageStatus.APPROVED.value:
                merged[later] = StageStatus.PENDING.value
    return merged


def metadata_value(text: str) -> str:
    """CustomerMetadataProperties values allow letters, spaces, digits and _.:/=+-@ only, up to 256 characters."""
    cleaned = "".join(c if c.isalnum() or c.isspace() or c in "_.:/=+-@" else " " for c in text)
    return " ".join(cleaned.split())[:256] or "-"


def approval_status_after(outcome: Outcome, current: str | None) -> str:
    """The ModelApprovalStatus the version has after the outcome.

    The first approval makes the version Approved (usable in dev); a rejection at any stage makes it
    Rejected. An expiry or a failure says nothing about the model's quality, so it keeps the status.
    """
    if outcome is Outcome.APPROVED:
        return APPROVED
    if outcome in (Outcome.REJECTED, Outcome.GATE_FAILED):
        return REJECTED
    return current or PENDING_MANUAL_APPROVAL


def approval_description(outcome: Outcome, stage: str, actor: str | None, at: str, comment: str | None) -> str:
    """The registry's ApprovalDescription: who did what at which stage and when, within 1024 characters."""
    who = f" by {actor}" if actor else ""
    verb = "rejected by the quality gate" if outcome is Outcome.GATE_FAILED else outcome.value
    text = f"{stage} {verb}{who} at {at}"
    if comment:
        text += f": {comment}"
    if len(text) > APPROVAL_DESCRIPTION_MAX:
        text = text[: APPROVAL_DESCRIPTION_MAX - 1] + "…"
    return text
