"""Start exactly one promotion per registered model version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..domain.model_version import PENDING_MANUAL_APPROVAL, ModelVersion
from ..domain.registration import Ignored, execution_name, read_registration_event
from ..ports import ExecutionExists, ModelRegistry, Workflow


@dataclass(frozen=True)
class StartResult:
    outcome: str  # "started", "duplicate" or "ignored"
    reason: str
    execution_name: str | None = None
    execution_arn: str | None = None


def promotion_input(model: ModelVersion, stages: tuple[str, ...]) -> dict[str, Any]:
    """The execution input. The stage list is fixed here, so a configuration change never alters a running
    promotion, and the history shows which stages it was started with."""
    return {"model": model.to_payload(), "stages": list(stages), "position": 0, "evidence": None}


def start_promotion(event: Any, *, registry: ModelRegistry, workflow: Workflow, stages: tuple[str, ...]) -> StartResult:
    registration = read_registration_event(event)
    if isinstance(registration, Ignored):
        return StartResult("ignored", registration.reason)
    # The event may be stale or partial; the registry's own answer is what gets promoted.
    description = registry.describe(registration.package_arn)
    current_status = description.get("ModelApprovalStatus")
    if current_status != PENDING_MANUAL_APPROVAL:
        return StartResult("ignored", f"the version is now {current_status}, no longer {PENDING_MANUAL_APPROVAL}")
    model = ModelVersion.from_description(description)
    name = execution_name(model.group, model.version)
    # StartExecution with the same name and input succeeds while the first execution runs, so asking
    # first is what tells a repeat from a start. Two repeats racing past this check still start only
    # one execution: the name guarantees that; only the log line would call both "started".
    if workflow.execution_exists(name):
        return StartResult("duplicate", "a promotion for this version exists already", execution_name=name)
    try:
        arn = workflow.start(name, promotion_input(model, stages))
    except ExecutionExists:
        return StartResult("duplicate", "a promotion for this version exists already", execution_name=name)
    return StartResult("started", "promotion started", execution_name=name, execution_arn=arn)
