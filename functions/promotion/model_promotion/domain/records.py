"""The two durable records of a promotion: the approved-model pointer and the append-only audit log.

SSM Parameter Store holds, per model group and stage, the version an inference pipeline should use.
It keeps only the 100 newest versions of a parameter, so every decision is also appended to the
audit log, which never overwrites or drops an entry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .approvals import DecisionRecord, StageTask
from .errors import ConfigurationError
from .stages import Outcome

_PREFIX = re.compile(r"^(/[A-Za-z0-9_.-]+)+$")


def validate_parameter_prefix(prefix: str) -> str:
    if not _PREFIX.match(prefix):
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
    """What an inference pipeline reads to find "the model approved for this stage".

    It also keeps the metrics the approver saw, so the next version's approver can compare against them.
    """
    return {
        "modelPackageGroupName": task.model.group,
        "modelPackageArn": task.model.package_arn,
        "modelVersion": task.model.version,
        "modelDataUrl": task.model.model_data_url,
        "stage": task.stage,
        "approvedBy": decision.approver,
        "approvedByName": decision.approver_name,
        "approvedAt": decision.decided_at,
        "comment": decision.comment,
        "decisionId": decision.decision_id,
        "executionArn": task.execution_arn,
        "evidence": _evidence_summary(evidence),
    }


def _evidence_summary(evidence: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not evidence:
        return None
    return {k: evidence.get(k) for k in ("stage", "rowCount", "problemType", "metrics") if k in evidence}


def audit_entry(
    task: StageTask,
    outcome: Outcome,
    at: str,
    *,
    decision: DecisionRecord | None = None,
    reason: str | None = None,
    evidence: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One append-only audit item. Its sort key is derived from the event, so a retry writes the same key."""
    return {
        "modelPackageGroupName": task.model.group,
        "entryKey": f"{at}#v{task.model.version:08d}#{task.stage}#{outcome.value}",
        "modelVersion": task.model.version,
        "modelPackageArn": task.model.package_arn,
        "stage": task.stage,
        "outcome": outcome.value,
        "at": at,
        "meaning": decision.meaning if decision else outcome.value,
        "actor": decision.approver if decision else None,
        "actorName": decision.approver_name if decision else None,
        "actorSubject": decision.approver_subject if decision else None,
        "comment": decision.comment if decision else None,
        "reason": reason,
        "decisionId": decision.decision_id if decision else None,
        "identitySource": decision.identity_source if decision else None,
        "executionArn": task.execution_arn,
        "evidence": dict(evidence) if evidence else None,
    }
