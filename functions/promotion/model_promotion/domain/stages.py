"""The stage plan, and what each stage outcome writes into the model registry.

The registry carries one CustomerMetadataProperties entry per stage, named after the stage, as in the
seed post ("dev", "test", "uat", "prod"). Its values are the StageStatus values below.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from enum import Enum

from .errors import ConfigurationError, MetadataLimitExceeded, StageNotInPlan
from .model_version import APPROVED, PENDING_MANUAL_APPROVAL, REJECTED

DEFAULT_STAGES = ("dev", "test", "uat", "prod")
# SageMaker's limits, counted as its Java service counts them: in UTF-16 code units.
APPROVAL_DESCRIPTION_MAX = 1024
METADATA_ENTRIES_MAX = 50
METADATA_VALUE_MAX = 256
# Each stage writes three entries: its status, `<stage>-signed-by` and `<stage>-signed-at`.
METADATA_KEYS_PER_STAGE = 3
# Two entries belong to the version as a whole. `promotion-ended` says its promotion ended without reaching
# the last stage (how, where, when): reconcile and the registration events leave such a version alone,
# even once Step Functions has purged the closed execution, until an operator's retry clears it.
# `promotion-attempt` counts those retries; each attempt's execution has a name of its own.
PROMOTION_ENDED_KEY = "promotion-ended"
PROMOTION_ATTEMPT_KEY = "promotion-attempt"
VERSION_KEYS = (PROMOTION_ENDED_KEY, PROMOTION_ATTEMPT_KEY)
STAGES_MAX = (METADATA_ENTRIES_MAX - len(VERSION_KEYS)) // METADATA_KEYS_PER_STAGE
_METADATA_SYMBOLS = frozenset("_.:/=+-@")
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
    # A decision arrived without the approval pages' valid signature: refused, never counted (an alarm fires).
    TAMPERED = "tampered"
    # The stage's approvers signed a rollback: the stage runs this version again (`model-promotion rollback`).
    ROLLED_BACK = "rolled-back"


class StageStatus(str, Enum):
    """A stage's value in the registry's CustomerMetadataProperties."""

    APPROVED = APPROVED
    PENDING = PENDING_MANUAL_APPROVAL
    REJECTED = REJECTED
    EXPIRED = "Expired"
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    REFUSED = "RefusedUnsignedDecision"
    # The version a signed rollback took the stage away from.
    ROLLED_BACK = "RolledBack"


_STATUS_OF_OUTCOME = {
    Outcome.APPROVED: StageStatus.APPROVED,
    Outcome.REJECTED: StageStatus.REJECTED,
    Outcome.EXPIRED: StageStatus.EXPIRED,
    Outcome.FAILED: StageStatus.FAILED,
    # A quality gate's verdict is a rejection, made by configuration instead of a person.
    Outcome.GATE_FAILED: StageStatus.REJECTED,
    Outcome.CANCELLED: StageStatus.CANCELLED,
    Outcome.TAMPERED: StageStatus.REFUSED,
    Outcome.ROLLED_BACK: StageStatus.APPROVED,
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
    if len(stages) > STAGES_MAX:
        raise ConfigurationError(
            f"the stage list has {len(stages)} stages; at most {STAGES_MAX} are allowed, because each stage "
            f"writes {METADATA_KEYS_PER_STAGE} CustomerMetadataProperties entries to the model version and "
            f"SageMaker allows {METADATA_ENTRIES_MAX}"
        )
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


def parse_stage_numbers(text: str, stages: Sequence[str], *, what: str, minimum: int, maximum: int) -> dict[str, int]:
    """Reads 'uat=1,prod=2' into stage -> whole number, for per-stage settings such as a quorum.

    Stages left out take the caller's default; 'none' (or an empty text) sets nothing.
    """
    numbers: dict[str, int] = {}
    if text.strip().lower() in ("", "none"):
        return numbers
    for entry in (part.strip() for part in text.replace(";", ",").split(",")):
        if not entry:
            continue
        stage, sep, value = (piece.strip() for piece in entry.partition("="))
        if not sep:
            raise ConfigurationError(f"{what} entry {entry!r} has no '=': write it as 'stage=number'")
        if stage not in stages:
            raise ConfigurationError(f"{what} is given for {stage!r}, which is not in the stage list {list(stages)}")
        if stage in numbers:
            raise ConfigurationError(f"{what} for {stage!r} is given twice")
        if not (value.isascii() and value.isdigit()) or not minimum <= int(value) <= maximum:
            raise ConfigurationError(
                f"{what} for {stage!r} is {value!r}; it must be a whole number from {minimum} to {maximum}"
            )
        numbers[stage] = int(value)
    return numbers


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
    if outcome is Outcome.ROLLED_BACK:
        pass  # the stage runs this version again; how its promotion went on from there is unchanged
    elif outcome is Outcome.APPROVED:
        for later in stages[stages.index(stage) + 1 :]:
            if merged.get(later) != StageStatus.APPROVED.value:
                merged[later] = StageStatus.PENDING.value
        merged.pop(PROMOTION_ENDED_KEY, None)
    else:
        merged[PROMOTION_ENDED_KEY] = metadata_value(f"{outcome.value} at {stage}" + (f" {at}" if at else ""))
    if len(merged) > METADATA_ENTRIES_MAX:
        # Only the registrant's own keys can push it over: the stage list holds at most STAGES_MAX stages.
        theirs = len([k for k in merged if k not in _workflow_keys(stages)])
        raise MetadataLimitExceeded(
            f"the model version's CustomerMetadataProperties would hold {len(merged)} entries, and SageMaker "
            f"allows {METADATA_ENTRIES_MAX}: {theirs} set at registration plus up to {METADATA_KEYS_PER_STAGE} "
            f"per stage for {len(stages)} stages. Register the version with fewer entries of its own."
        )
    return merged


def _workflow_keys(stages: Sequence[str]) -> set[str]:
    return {key for s in stages for key in (s, f"{s}-signed-by", f"{s}-signed-at")} | set(VERSION_KEYS)


def metadata_value(text: str) -> str:
    """A CustomerMetadataProperties value: SageMaker allows [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*, up to 256 characters.

    Anything else (an apostrophe or a comma in a name, angle brackets, control characters) becomes a
    space, runs of spaces one space, and the length is counted in UTF-16 code units as Java counts it.
    """
    cleaned = "".join(c if _metadata_character(c) else " " for c in text)
    return cut_utf16(" ".join(cleaned.split()), METADATA_VALUE_MAX).rstrip() or "-"


def _metadata_character(c: str) -> bool:
    # Spelled as the pattern's own classes (Unicode general categories L, Z and N), not as isalnum() or
    # isspace(): isspace() accepts control characters such as a tab, which \p{Z} does not.
    return unicodedata.category(c)[0] in "LZN" or c in _METADATA_SYMBOLS


def utf16_length(text: str) -> int:
    """The length Java's String.length() gives: characters beyond the BMP count twice."""
    return sum(2 if ord(c) > 0xFFFF else 1 for c in text)


def cut_utf16(text: str, limit: int, ellipsis: str = "") -> str:
    """`text` within `limit` UTF-16 code units, ending in `ellipsis` when cut.

    Python strings hold whole code points, so a cut between them never splits a surrogate pair.
    """
    if utf16_length(text) <= limit:
        return text
    budget = limit - utf16_length(ellipsis)
    used = 0
    for index, c in enumerate(text):
        used += 2 if ord(c) > 0xFFFF else 1
        if used > budget:
            return text[:index] + ellipsis
    return text + ellipsis


def one_line(text: str) -> str:
    """The text on one line: ApprovalDescription's pattern `.*` is a Java regex, whose `.` matches no line
    terminator (\\n, \\r, \\u0085, \\u2028, \\u2029). Every run of whitespace, line breaks included, becomes one
    space. A lone surrogate (possible in JSON, never in UTF-8) cannot be sent at all, so it becomes U+FFFD."""
    text = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    return " ".join(text.split())


def rolled_back_metadata(stage: str, current: Mapping[str, str], to_version: int, at: str) -> dict[str, str]:
    """The CustomerMetadataProperties of the version a signed rollback took `stage` away from: the stage reads
    RolledBack, and `<stage>-signed-by` says which version it went back to and when."""
    merged = dict(current)
    merged[stage] = StageStatus.ROLLED_BACK.value
    merged[f"{stage}-signed-by"] = metadata_value(f"rolled back to version {to_version}")
    merged[f"{stage}-signed-at"] = metadata_value(at)
    return merged


def approval_status_after(outcome: Outcome, current: str | None) -> str:
    """The ModelApprovalStatus the version has after the outcome.

    The first approval makes the version Approved (usable in dev); a rejection at any stage makes it
    Rejected. An expiry or a failure says nothing about the model's quality, so it keeps the status.
    """
    if outcome in (Outcome.APPROVED, Outcome.ROLLED_BACK):
        return APPROVED
    if outcome in (Outcome.REJECTED, Outcome.GATE_FAILED):
        return REJECTED
    return current or PENDING_MANUAL_APPROVAL


def approval_description(outcome: Outcome, stage: str, actor: str | None, at: str, comment: str | None) -> str:
    """The registry's ApprovalDescription: who did what at which stage and when, on one line, within 1024
    UTF-16 code units. The comment keeps its lines in the audit log; here they are joined by spaces."""
    who = f" by {actor}" if actor else ""
    verb = {
        Outcome.GATE_FAILED: "rejected by the quality gate",
        Outcome.TAMPERED: "refused an unsigned or altered decision",
        Outcome.ROLLED_BACK: "rolled back to this version",
    }.get(outcome, outcome.value)
    text = f"{stage} {verb}{who} at {at}"
    if comment:
        text += f": {comment}"
    return cut_utf16(one_line(text), APPROVAL_DESCRIPTION_MAX, "…")


def promotion_ended(metadata: Mapping[str, str] | None) -> str | None:
    """How the version's last promotion attempt ended ("expired at uat ..."), or None while it may go on."""
    return (metadata or {}).get(PROMOTION_ENDED_KEY) or None


def promotion_attempt(metadata: Mapping[str, str] | None) -> int:
    """The version's current promotion attempt: 1 until an operator retries it."""
    value = (metadata or {}).get(PROMOTION_ATTEMPT_KEY, "")
    # ASCII digits only: SageMaker accepts any \p{N} ("²"), which int() refuses.
    return int(value) if value.isascii() and value.isdigit() and 1 <= len(value) <= 6 and int(value) >= 1 else 1


def resume_position(metadata: Mapping[str, str] | None, stages: Sequence[str]) -> int:
    """The index of the first stage not yet approved: where a (retried) promotion starts."""
    current = metadata or {}
    for index, stage in enumerate(stages):
        if current.get(stage) != StageStatus.APPROVED.value:
            return index
    return len(stages)
