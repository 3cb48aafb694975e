"""What a rollback's input claims, checked against the audit log and the registry (pure).

Whoever may start the rollback state machine writes its input. RequestApproval checks the claims before it asks
anyone, so the review page shows only what the audit log and the registry hold; RecordOutcome checks them again,
with the approval's seals and the stage's SSM record, before it writes anything (services/outcomes.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .approvals import StageTask
from .model_version import ModelVersion
from .stages import Outcome

# The audit outcomes that mean "the stage's approvers signed this version for the stage".
SIGNED_FOR_STAGE = (Outcome.APPROVED.value, Outcome.ROLLED_BACK.value)


def earlier_approval(entries: Iterable[Mapping[str, Any]], task: StageTask) -> Mapping[str, Any] | None:
    """The audit entry of the approval a rollback names, when it is one of this version for this stage."""
    assert task.rollback is not None
    for entry in entries:
        if (
            entry.get("decisionId") == task.rollback.approved_before
            and entry.get("outcome") in SIGNED_FOR_STAGE
            and entry.get("modelVersion") == task.model.version
            and entry.get("stage") == task.stage
            and entry.get("modelPackageArn") == task.model.package_arn
        ):
            return entry
    return None


def rollback_claims_mismatch(
    task: StageTask,
    evidence: Mapping[str, Any] | None,
    earlier: Mapping[str, Any] | None,
    description: Mapping[str, Any],
) -> str | None:
    """Why the rollback's input is not what the registry and the audit log hold, or None when it is: the model
    is the registry's, and the earlier approval (who, when, its batch results) is the audit log's."""
    assert task.rollback is not None
    where = f"the rollback of {task.stage} to {task.model.group} version {task.model.version}"
    if ModelVersion.from_description(description) != task.model:
        return f"{where} names a model that is not the registry's version"
    if earlier is None:
        return f"{where} names an earlier approval ({task.rollback.approved_before}) that the audit log does not hold"
    shown = (task.rollback.approved_before_by, task.rollback.approved_before_at)
    if shown not in ((earlier.get("actorName"), earlier.get("at")), (earlier.get("actor"), earlier.get("at"))):
        return f"{where} names another signer or time for its earlier approval than the audit log"
    if (evidence or None) != (earlier.get("evidence") or None):
        return f"{where} carries other batch results than its earlier approval recorded"
    return None
