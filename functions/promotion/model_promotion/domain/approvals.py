"""Approval requests, the links that reach them, and the decisions people make on them.

A request exists once per (execution, stage) and holds the Step Functions task token, which never
leaves the server. Each approver is mailed a link of their own: an opaque random id that names the
request. Opening it needs a sign-in, and the decision records the signed-in person, not the link.
Whatever link is used first decides the request; every link of a decided request is spent.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from .errors import ApprovalClosed, InvalidDecision, InvalidPayload
from .model_version import ModelVersion

# 24 random bytes = 192 bits, written as 32 URL-safe characters.
APPROVAL_ID_BYTES = 24
_APPROVAL_ID = re.compile(r"^[A-Za-z0-9_-]{32}$")
COMMENT_MAX = 1000
# How long a closed request is kept so its link still explains itself ("decided by", "expired at").
RETENTION_AFTER_EXPIRY = timedelta(days=30)


# What a decision seal covers: this prefix and the SHA-256 of the record's canonical JSON (KMS MACs hold
# 4096 bytes; a record with a long non-ASCII comment can be longer).
SEAL_CONTEXT = b"model-promotion decision v1\n"


class RequestStatus(str, Enum):
    PENDING = "PENDING"
    # A decision has been claimed and is on its way to the workflow; its delivery is not confirmed yet.
    SENDING = "SENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"


class Decision(str, Enum):
    APPROVE = "approve"
    REJECT = "reject"

    @property
    def request_status(self) -> RequestStatus:
        return RequestStatus.APPROVED if self is Decision.APPROVE else RequestStatus.REJECTED


def new_approval_id() -> str:
    return secrets.token_urlsafe(APPROVAL_ID_BYTES)


def is_well_formed_approval_id(value: str) -> bool:
    return bool(_APPROVAL_ID.match(value))


def request_key(execution_name: str, stage: str) -> str:
    return f"request#{execution_name}#{stage}"


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """Reads Step Functions' ISO 8601 times ("2026-11-21T12:00:00.123Z") and our own."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError) as exc:
        raise InvalidPayload(f"{text!r} is not an ISO 8601 time") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


REASON_MAX = 1000


@dataclass(frozen=True)
class Rollback:
    """A stage asked back to a version its approvers signed before (`model-promotion rollback`): who asked,
    when and why, the version the stage runs now, and the earlier approval of the version asked for (its
    audit entry, who signed it and when)."""

    reason: str
    requested_by: str
    requested_at: str
    replaces_version: int | None
    replaces_package_arn: str | None
    approved_before: str
    approved_before_by: str
    approved_before_at: str

    def to_payload(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "requestedBy": self.requested_by,
            "requestedAt": self.requested_at,
            "replacesVersion": self.replaces_version,
            "replacesPackageArn": self.replaces_package_arn,
            "approvedBefore": self.approved_before,
            "approvedBeforeBy": self.approved_before_by,
            "approvedBeforeAt": self.approved_before_at,
        }

    @classmethod
    def from_payload(cls, payload: Any) -> Rollback:
        if not isinstance(payload, Mapping):
            raise InvalidPayload("'rollback' must be an object")
        texts = {}
        limits = {
            "reason": REASON_MAX,
            "requestedBy": 2048,
            "requestedAt": 64,
            "approvedBefore": 256,
            "approvedBeforeBy": 2048,
            "approvedBeforeAt": 64,
        }
        for key, limit in limits.items():
            value = payload.get(key)
            if not isinstance(value, str) or not value.strip() or len(value) > limit:
                raise InvalidPayload(f"'rollback.{key}' must be a non-empty string of at most {limit} characters")
            texts[key] = " ".join(value.split())  # one line: a text email must not be given a line of its own
        replaces = payload.get("replacesVersion")
        if replaces is not None and (not isinstance(replaces, int) or isinstance(replaces, bool) or replaces < 1):
            raise InvalidPayload("'rollback.replacesVersion' must be a version number or null")
        replaces_arn = payload.get("replacesPackageArn")
        if replaces_arn is not None and not (isinstance(replaces_arn, str) and ":model-package/" in replaces_arn):
            raise InvalidPayload("'rollback.replacesPackageArn' must be a model package ARN or null")
        if (replaces is None) != (replaces_arn is None):
            raise InvalidPayload("'rollback' names the version it replaces by both its number and its ARN, or neither")
        return cls(
            reason=texts["reason"],
            requested_by=texts["requestedBy"],
            requested_at=texts["requestedAt"],
            replaces_version=replaces,
            replaces_package_arn=replaces_arn,
            approved_before=texts["approvedBefore"],
            approved_before_by=texts["approvedBeforeBy"],
            approved_before_at=texts["approvedBeforeAt"],
        )


@dataclass(frozen=True)
class StageTask:
    """What the state machine hands to every per-stage task. `rollback` is set only in a rollback's execution
    (statemachines/rollback.asl.json): the stage is asked to return to `model`, a version it ran before."""

    execution_arn: str
    model: ModelVersion
    stage: str
    stage_index: int
    stages: tuple[str, ...]
    rollback: Rollback | None = None

    @property
    def execution_name(self) -> str:
        return self.execution_arn.rsplit(":", 1)[-1]

    @property
    def next_stage(self) -> str | None:
        return self.stages[self.stage_index + 1] if self.stage_index + 1 < len(self.stages) else None

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> StageTask:
        execution_arn = payload.get("executionArn")
        if not isinstance(execution_arn, str) or ":execution:" not in execution_arn:
            raise InvalidPayload("'executionArn' must be a Step Functions execution ARN")
        stages = payload.get("stages")
        if not isinstance(stages, list) or not stages or not all(isinstance(s, str) for s in stages):
            raise InvalidPayload("'stages' must be a non-empty list of stage names")
        stage = payload.get("stage")
        index = payload.get("stageIndex")
        if not isinstance(stage, str) or not isinstance(index, int) or isinstance(index, bool):
            raise InvalidPayload("'stage' must be a string and 'stageIndex' an integer")
        if not 0 <= index < len(stages) or stages[index] != stage:
            raise InvalidPayload(f"'stageIndex' {index} does not point at stage {stage!r} in {stages}")
        rollback = payload.get("rollback")
        return cls(
            execution_arn=execution_arn,
            model=ModelVersion.from_payload(payload.get("model")),
            stage=stage,
            stage_index=index,
            stages=tuple(stages),
            rollback=Rollback.from_payload(rollback) if rollback is not None else None,
        )

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "executionArn": self.execution_arn,
            "model": self.model.to_payload(),
            "stage": self.stage,
            "stageIndex": self.stage_index,
            "stages": list(self.stages),
        }
        if self.rollback is not None:
            payload["rollback"] = self.rollback.to_payload()
        return payload


@dataclass(frozen=True)
class ApprovalRequest:
    """One stage's request for a decision, as stored server-side (the task token is kept apart)."""

    key: str
    task: StageTask
    requested_at: datetime
    expires_at: datetime
    recipients: tuple[str, ...]
    evidence: Mapping[str, Any] | None
    champion: Mapping[str, Any] | None = None
    status: RequestStatus = RequestStatus.PENDING
    decision: DecisionRecord | None = None
    reminded_at: datetime | None = None
    # Distinct approvers the stage needs, and the signed approvals it holds so far (short of that).
    quorum: int = 1
    approvals: tuple[DecisionRecord, ...] = ()
    sending_since: datetime | None = None

    def approved_by(self, subject: str) -> DecisionRecord | None:
        """This signer's approval among those collected so far, if any."""
        return next((a for a in self.approvals if a.approver_subject == subject), None)

    @property
    def progress(self) -> str:
        """'1 of 2 approvals: Priya Prod at 2026-…'; empty for a stage one approval decides."""
        if self.quorum <= 1:
            return ""
        done = ", ".join(f"{a.signature} at {a.decided_at}" for a in self.approvals)
        return f"{len(self.approvals)} of {self.quorum} approvals" + (f": {done}" if done else "")

    def reminder_due(self, now: datetime, before: timedelta) -> bool:
        """Whether a reminder should go out now: pending, not expired, within `before` of expiry, not sent."""
        return (
            self.status is RequestStatus.PENDING
            and self.reminded_at is None
            and before > timedelta(0)
            and self.expires_at - before <= now < self.expires_at
        )

    def is_expired(self, now: datetime) -> bool:
        """Expiry is read from the request's own timestamp, never from whether the item still exists."""
        return now >= self.expires_at

    def ensure_open(self, now: datetime) -> None:
        if self.status is RequestStatus.SENDING and self.decision is not None:
            raise ApprovalClosed(
                f"This request was just {self.decision.decision.request_status.value.lower()} by "
                f"{self.decision.signature} at {self.decision.decided_at}; the workflow is being told.",
                status=self.decision.decision.request_status.value,
                decided_by=self.decision.signature,
                at=self.decision.decided_at,
            )
        if self.status is not RequestStatus.PENDING and self.decision is not None:
            raise ApprovalClosed(
                f"This request was already {self.decision.decision.request_status.value.lower()} "
                f"by {self.decision.signature} at {self.decision.decided_at}.",
                status=self.status.value,
                decided_by=self.decision.signature,
                at=self.decision.decided_at,
            )
        if self.status is RequestStatus.CANCELLED:
            raise ApprovalClosed("This promotion was cancelled by an operator.", status="CANCELLED")
        if self.status is RequestStatus.EXPIRED or self.is_expired(now):
            raise ApprovalClosed(
                f"This request expired at {iso(self.expires_at)}.",
                status=RequestStatus.EXPIRED.value,
                at=iso(self.expires_at),
            )


@dataclass(frozen=True)
class DecisionRecord:
    """A person's decision, as the task output, the audit log and the registry record it."""

    decision_id: str
    decision: Decision
    stage: str
    approver: str
    comment: str | None
    decided_at: str
    model_package_arn: str
    model_version: int
    approver_name: str | None = None
    approver_subject: str | None = None
    identity_source: str = field(default="cognito")
    # The execution the decision was made for: a seal from one promotion is worth nothing in another.
    execution_arn: str | None = None
    # Every immutable identifier of the signer (sub, user name, IdP subject), case-folded: RecordOutcome checks
    # them against the registrant again, from its own copy of the version.
    approver_identifiers: tuple[str, ...] = ()
    # The earlier signed approvals of a stage that needs more than one (each sealed on its own).
    cosigners: tuple[DecisionRecord, ...] = ()
    # The approval pages' KMS MAC over everything above (see sealing_message); None until sealed.
    seal: str | None = None

    @property
    def signer_key(self) -> str:
        """Who signed, as quorum counts people: the signer's immutable subject (the email only in records
        made before subjects were recorded)."""
        return self.approver_subject or self.approver

    def is_for(self, task: StageTask) -> bool:
        """Whether the record was made for this execution, stage, version and package."""
        return (self.execution_arn, self.stage, self.model_version, self.model_package_arn) == (
            task.execution_arn,
            task.stage,
            task.model.version,
            task.model.package_arn,
        )

    @property
    def approvals(self) -> tuple[DecisionRecord, ...]:
        """Every approval this decision carries: the cosigners', then this one's when it approves."""
        return self.cosigners + ((self,) if self.decision is Decision.APPROVE else ())

    def sealing_message(self) -> bytes:
        """What the seal is the MAC of: the canonical JSON of the record without its seal, digested."""
        body = {k: v for k, v in self.to_payload().items() if k != "seal"}
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        return SEAL_CONTEXT + hashlib.sha256(text.encode("utf-8")).hexdigest().encode("ascii")

    def with_seal(self, seal: str) -> DecisionRecord:
        return replace(self, seal=seal)

    @property
    def signature(self) -> str:
        """Printed name and email, as the signed record shows them."""
        if self.approver_name and self.approver_name != self.approver:
            return f"{self.approver_name} <{self.approver}>"
        return self.approver

    @property
    def meaning(self) -> str:
        return f"{'approved' if self.decision is Decision.APPROVE else 'rejected'} for {self.stage}"

    def to_payload(self) -> dict[str, Any]:
        return {
            "decisionId": self.decision_id,
            "decision": self.decision.value,
            "meaning": self.meaning,
            "stage": self.stage,
            "approver": self.approver,
            "approverName": self.approver_name,
            "approverSubject": self.approver_subject,
            "comment": self.comment,
            "decidedAt": self.decided_at,
            "modelPackageArn": self.model_package_arn,
            "modelVersion": self.model_version,
            "identitySource": self.identity_source,
            "executionArn": self.execution_arn,
            "approverIdentifiers": list(self.approver_identifiers),
            "cosigners": [c.to_payload() for c in self.cosigners],
            "seal": self.seal,
        }

    @classmethod
    def from_payload(cls, payload: Any) -> DecisionRecord:
        if not isinstance(payload, Mapping):
            raise InvalidPayload("the decision must be an object")
        cosigners = payload.get("cosigners") or []
        if not isinstance(cosigners, list):
            raise InvalidPayload("the decision's cosigners must be a list")
        seal = payload.get("seal")
        try:
            return cls(
                decision_id=str(payload["decisionId"]),
                decision=Decision(payload["decision"]),
                stage=str(payload["stage"]),
                approver=str(payload["approver"]),
                comment=payload.get("comment"),
                decided_at=str(payload["decidedAt"]),
                model_package_arn=str(payload["modelPackageArn"]),
                model_version=int(payload["modelVersion"]),
                approver_name=payload.get("approverName"),
                approver_subject=payload.get("approverSubject"),
                identity_source=str(payload.get("identitySource", "cognito")),
                execution_arn=str(payload["executionArn"]) if payload.get("executionArn") else None,
                approver_identifiers=tuple(str(i) for i in payload.get("approverIdentifiers") or ()),
                cosigners=tuple(cls.from_payload(c) for c in cosigners),
                seal=seal if isinstance(seal, str) and seal else None,
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise InvalidPayload(f"the decision record is incomplete or malformed: {exc}") from exc


def read_decision_form(form: Mapping[str, str]) -> tuple[Decision, str | None]:
    """Validates the review page's form: an action, and a comment that a rejection must have."""
    action = (form.get("decision") or "").strip().lower()
    try:
        decision = Decision(action)
    except ValueError as exc:
        raise InvalidDecision("Choose Approve or Reject.") from exc
    comment = (form.get("comment") or "").strip() or None
    if comment is not None and len(comment) > COMMENT_MAX:
        raise InvalidDecision(f"The comment is {len(comment)} characters long; keep it within {COMMENT_MAX}.")
    if decision is Decision.REJECT and comment is None:
        raise InvalidDecision("A rejection needs a reason: write it in the comment box.")
    return decision, comment
