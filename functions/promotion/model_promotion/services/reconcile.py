"""The safety net for lost events: start a promotion for every pending version that has none."""

from __future__ import annotations

from typing import Any

from ..domain.model_version import PENDING_MANUAL_APPROVAL, ModelVersion
from ..domain.registration import execution_name
from ..ports import ExecutionExists, ModelCatalog, Workflow
from .start_promotion import promotion_input


def reconcile(
    *, catalog: ModelCatalog, workflow: Workflow, stages: tuple[str, ...], groups: tuple[str, ...] = ()
) -> dict[str, Any]:
    """EventBridge delivery is at least once in practice but not guaranteed; this runs on a schedule."""
    started, present = [], 0
    for description in catalog.pending_versions(groups):
        if description.get("ModelApprovalStatus") != PENDING_MANUAL_APPROVAL:
            continue
        model = ModelVersion.from_description(description)
        name = execution_name(model.group, model.version)
        if workflow.execution_exists(name):
            present += 1
            continue
        try:
            workflow.start(name, promotion_input(model, stages))
        except ExecutionExists:
            present += 1
            continue
        started.append(name)
    return {"started": started, "alreadyRunning": present}
