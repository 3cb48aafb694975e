"""The two durable records of a promotion: the approved-model pointer and the append-only audit log.

SSM Parameter Store holds, per model group and stage, the version an inference pipeline should use.
It keeps only the 100 newest versions of a parameter, so every decision is also appended to the
audit log, which never overwrites or drops an entry.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from .approvals import DecisionRecord, StageTask
from .errors import ConfigurationError, RecordTooLarge
from .stages import Outcome, one_line

_PREFIX = re.compile(r"(/[A-Za-z0-9_.-]+)+")
# An SSM Standard parameter's value holds 4096 bytes (Advanced: 8192, at a charge per parameter).
APPROVED_RECORD_MAX_BYTES = 4096
APPROVER_NAME_MAX = 128
METRICS_MAX = 20
_METRIC_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


def validate_parameter_prefix(prefix: str) -> str:
    if not _PREFIX.fullmatch(prefix):
        raise ConfigurationError(
            f"parameter prefix {prefix!r} must look like '/model-promotion': a leading '/', "
            "then letters, digits, '.', '_' or '-'"
        )
    return prefix


def approved_model_parameter_name(prefix: str, group: str, stage: str) -> str:
    return f"{prefix}/{group}/{stage}"


def approved_model_record(
    task: StageTask, decision: DecisionRecord, evidence: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What an inference pipeline reads to find "the model approved for this stage": a pointer.

    It names the version, its artifact, the decision and who made it when. The comment and the evidence
    stay in the audit log (entry `decisionId`) and in S3 (`evidenceUri`): an SSM Standard parameter holds
    4096 bytes, and a comment alone could fill them. It also carries the approved metrics, numbers only,
    so the next version's approver can compare against them without another read; they are left out
    when the pointer would not fit otherwise.

    Raises RecordTooLarge when even the bare pointer does not fit, before anything has been written.
    """
    pointer: dict[str, Any] = {
        "modelPackageGroupName": task.model.group,
        "modelPackageArn": task.model.package_arn,
        "modelVersion": task.model.version,
        "modelDataUrl": task.model.model_data_url,
        "stage": task.stage,
        "decisionId": decision.decision_id,
        "approvedBy": decision.approver,
        "approvedByName": _short_name(decision.approver_name),
        "approvedBySubject": decision.approver_subject,
        "approvedAt": decision.decided_at,
        "executionArn": task.execution_arn,
    }
    if len(decision.approvals) > 1:  # a quorum: every signer, in the order they signed
        pointer["approvers"] = [
            {"by": a.approver, "name": _short_name(a.approver_name), "subject": a.approver_subject, "at": a.decided_at}
            for a in decision.approvals
        ]
    extras = _evidence_pointer(evidence)
    if extras:
        with_extras = {**pointer, **extras}
        if record_size(with_extras) <= APPROVED_RECORD_MAX_BYTES:
            return with_extras
    approved_model_json(pointer)  # raises RecordTooLarge
    return pointer


def approved_model_json(record: Mapping[str, Any]) -> str:
    """The parameter value: compact JSON in UTF-8 (json.dumps' default writes "é" as six bytes, \\u00e9).

    Raises RecordTooLarge when the value exceeds what an SSM Standard parameter holds.
    """
    text = _json(record)
    size = len(text.encode("utf-8"))
    if size > APPROVED_RECORD_MAX_BYTES:
        longest = max(record, key=lambda k: len(_json(record[k]).encode("utf-8")))
        raise RecordTooLarge(
            f"the approved-model record of {record.get('modelPackageGroupName')} version "
            f"{record.get('modelVersion')} for {record.get('stage')} is {size} bytes; an SSM Standard parameter "
            f"holds {APPROVED_RECORD_MAX_BYTES}. Its longest field is {longest}; nothing was written."
        )
    return text


def record_size(record: Mapping[str, Any]) -> int:
    """The record's size in bytes, as SSM counts its value."""
    return len(_json(record).encode("utf-8"))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _short_name(name: str | None) -> str | None:
    """The printed name, for display: the signed record in the audit log keeps it whole."""
    if not name:
        return None
    name = one_line(name)
    return name if len(name) <= APPROVER_NAME_MAX else name[: APPROVER_NAME_MAX - 1] + "…"


def _evidence_pointer(evidence: Mapping[str, Any] | None) -> dict[str, Any]:
    """The approved metrics (finite numbers under plain names) and where the whole evidence lies in S3."""
    if not evidence:
        return {}
    extras: dict[str, Any] = {}
    metrics = evidence.get("metrics")
    if isinstance(metrics, Mapping):
        numbers = {
            name: value
            for name, value in metrics.items()
            if isinstance(name, str)
            and _METRIC_NAME.match(name)
            and isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
        }
        if numbers:
            extras["metrics"] = dict(sorted(numbers.items())[:METRICS_MAX])
            extras["metricsStage"] = evidence.get("stage") if isinstance(evidence.get("stage"), str) else None
    uri = evidence.get("metricsUri")
    if isinstance(uri, str) and uri.startswith("s3://"):
        extras["evidenceUri"] = uri
    return extras


def _signers_of(decision: DecisionRecord) -> tuple[DecisionRecord, ...]:
    """An approval's signers are its quorum; a rejection's, the earlier approvals and the one who rejected."""
    return (*decision.cosigners, decision)


def _signer(decision: DecisionRecord) -> dict[str, Any]:
    return {
        "decisionId": decision.decision_id,
        "decision": decision.decision.value,
        "by": decision.approver,
        "name": decision.approver_name,
        "subject": decision.approver_subject,
        "at": decision.decided_at,
        "comment": decision.comment,
    }


def audit_entry(
    task: StageTask,
    outcome: Outcome,
    at: str,
    *,
    decision: DecisionRecord | None = None,
    reason: str | None = None,
    evidence: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One append-only audit item. Its sort key is derived from the event, so a retry writes the same key.
    A rollback's entry also says who asked for it, why, and which version the stage ran until then."""
    meaning = decision.meaning if decision else outcome.value
    if outcome is Outcome.ROLLED_BACK:
        meaning = f"rolled {task.stage} back to version {task.model.version}"
    elif task.rollback is not None:
        meaning = f"rollback of {task.stage} to version {task.model.version}: {meaning}"
    entry = {
        "modelPackageGroupName": task.model.group,
        "entryKey": f"{at}#v{task.model.version:08d}#{task.stage}#{outcome.value}",
        "modelVersion": task.model.version,
        "modelPackageArn": task.model.package_arn,
        "stage": task.stage,
        "outcome": outcome.value,
        "at": at,
        "meaning": meaning,
        "actor": decision.approver if decision else None,
        "actorName": decision.approver_name if decision else None,
        "actorSubject": decision.approver_subject if decision else None,
        "comment": decision.comment if decision else None,
        "reason": reason,
        "decisionId": decision.decision_id if decision else None,
        "identitySource": decision.identity_source if decision else None,
        # Every signer of the decision (a quorum's approvals, or the rejection), and the approval pages' seal
        # over the whole signed record: `audit verify` and anyone with VerifyMac can check it later.
        "signers": [_signer(a) for a in _signers_of(decision)] if decision else None,
        "seal": decision.seal if decision else None,
        "executionArn": task.execution_arn,
        "evidence": dict(evidence) if evidence else None,
    }
    if task.rollback is not None:
        entry["rollback"] = task.rollback.to_payload()
    if decision is not None and outcome in (Outcome.APPROVED, Outcome.ROLLED_BACK):
        # The whole sealed record, so a later rollback to this version can check the seal of this approval.
        entry["decisionRecord"] = decision.to_payload()
    return entry
