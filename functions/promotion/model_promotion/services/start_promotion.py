"""Start exactly one promotion per registered model version."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..domain.model_version import PENDING_MANUAL_APPROVAL, ModelVersion
from ..domain.registration import Ignored, execution_name, read_registration_event
from ..domain.stages import promotion_attempt, promotion_ended, resume_position
from ..ports import ExecutionExists, ModelRegistry, Workflow


@dataclass(frozen=True)
class StartResult:
    outcome: str  # "started", "duplicate" or "ignored"
    reason: str
    execution_name: str | None = None
    execution_arn: str | None = None


def promotion_input(
    model: ModelVersion, stages: tuple[str, ...], metadata: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The execution input. The stage list is fixed here, so a configuration change never alters a running
    promotion, and the history shows which stages it was started with.

    A retried promotion starts at the first stage the registry does not show Approved, after scoring the batch of
    the stage before it (`resume`). The input depends
    only on the registry's answer, so two starts of one attempt (the retry and its own update event) send
    the same input, which StartExecution treats as one start.
    """
    position = min(resume_position(metadata, stages), len(stages) - 1) if promotion_attempt(metadata) > 1 else 0
    # An attempt resumed after an approved stage first scores that stage's batch again, so the next approvers
    # see the evidence (and its gate) that an approver in the first attempt would have seen.
    resume = {"stage": stages[position - 1], "stageIndex": position - 1} if position > 0 else None
    return {
        "model": model.to_payload(),
        "stages": list(stages),
        "position": position,
        "evidence": None,
        "resume": resume,
    }


def attempt_execution_name(description: Mapping[str, Any]) -> str:
    """The execution name of the version's current promotion attempt."""
    metadata = description.get("CustomerMetadataProperties") or {}
    model = ModelVersion.from_description(description)
    return execution_name(model.group, model.version, promotion_attempt(metadata))


def start_promotion(event: Any, *, registry: ModelRegistry, workflow: Workflow, stages: tuple[str, ...]) -> StartResult:
    registration = read_registration_event(event)
    if isinstance(registration, Ignored):
        return StartResult("ignored", registration.reason)
    # The event may be stale or partial; the registry's own answer is what gets promoted.
    description = registry.describe(registration.package_arn)
    current_status = description.get("ModelApprovalStatus")
    if current_status != PENDING_MANUAL_APPROVAL:
        return StartResult("ignored", f"the version is now {current_status}, no longer {PENDING_MANUAL_APPROVAL}")
    metadata = description.get("CustomerMetadataProperties") or {}
    ended = promotion_ended(metadata)
    if ended:
        return StartResult("ignored", f"the version's promotion ended ({ended}); an operator may retry it")
    model = ModelVersion.from_description(description)
    name = attempt_execution_name(description)
    # StartExecution with the same name and input succeeds while the first execution runs, so asking
    # first is what tells a repeat from a start. Two repeats racing past this check still start only
    # one execution: the name guarantees that; only the log line would call both "started".
    if workflow.execution_exists(name):
        return StartResult("duplicate", "a promotion for this version exists already", execution_name=name)
    try:
        arn = workflow.start(name, promotion_input(model, stages, metadata))
    except ExecutionExists:
        return StartResult("duplicate", "a promotion for this version exists already", execution_name=name)
    return StartResult("started", "promotion started", execution_name=name, execution_arn=arn)
