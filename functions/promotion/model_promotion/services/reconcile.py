"""The safety net for lost events: start a promotion for every pending version that has none."""

from __future__ import annotations

from typing import Any

from ..domain.model_version import PENDING_MANUAL_APPROVAL, ModelVersion
from ..domain.stages import promotion_ended
from ..ports import ExecutionExists, ModelCatalog, Workflow
from .start_promotion import attempt_execution_name, promotion_input


def reconcile(
    *, catalog: ModelCatalog, workflow: Workflow, stages: tuple[str, ...], groups: tuple[str, ...] = ()
) -> dict[str, Any]:
    """EventBridge delivery is at least once in practice but not guaranteed; this runs on a schedule.

    A version whose promotion ended (expired, failed, cancelled) stays PendingManualApproval, and Step
    Functions purges its closed execution after 90 days: the registry's terminal marker, not the
    execution, is what keeps such a version from being started again and its approvers mailed.
    """
    started, present, ended = [], 0, 0
    for description in catalog.pending_versions(groups):
        if description.get("ModelApprovalStatus") != PENDING_MANUAL_APPROVAL:
            continue
        metadata = description.get("CustomerMetadataProperties") or {}
        if promotion_ended(metadata):
            ended += 1
            continue
        model = ModelVersion.from_description(description)
        name = attempt_execution_name(description)
        if workflow.execution_exists(name):
            present += 1
            continue
        try:
            workflow.start(name, promotion_input(model, stages, metadata))
        except ExecutionExists:
            present += 1
            continue
        started.append(name)
    return {"started": started, "alreadyRunning": present, "ended": ended}
