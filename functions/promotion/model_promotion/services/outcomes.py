"""Record what happened at a stage in the registry, the approved-model store and the audit log."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..config import OutcomeSettings
from ..domain.approvals import Decision, DecisionRecord, StageTask, iso, parse_time
from ..domain.errors import InvalidPayload
from ..domain.presentation import outcome_email
from ..domain.records import approved_model_parameter_name, approved_model_record, audit_entry
from ..domain.stages import Outcome, approval_description, approval_status_after, stage_metadata_after
from ..ports import ApprovedModels, DecisionLog, Mailer, ModelRegistry


def record_stage_outcome(
    payload: Mapping[str, Any],
    *,
    settings: OutcomeSettings,
    registry: ModelRegistry,
    approved_models: ApprovedModels,
    log: DecisionLog,
    mailer: Mailer,
) -> dict[str, Any]:
    """Writes the outcome everywhere it belongs. Every step is safe to repeat on a retry.

    Order matters: the audit log first (the decision is a fact once a person made it), then the
    registry, and the approved-model record last, so an inference pipeline never sees a version
    that the registry does not show as approved.
    """
    try:
        outcome = Outcome(payload.get("outcome"))
    except ValueError as exc:
        raise InvalidPayload(f"'outcome' must be one of {[o.value for o in Outcome]}") from exc
    task = StageTask.from_payload(payload)
    recorded_at = payload.get("recordedAt")
    if not isinstance(recorded_at, str) or not recorded_at:
        raise InvalidPayload("'recordedAt' must be the time the state machine entered this state")
    recorded_at = iso(parse_time(recorded_at))

    decision: DecisionRecord | None = None
    reason: str | None = None
    if outcome is Outcome.APPROVED:
        decision = DecisionRecord.from_payload(payload.get("decision"))
    elif outcome is Outcome.REJECTED:
        decision = DecisionRecord.from_payload(_cause_json(payload.get("error")))
        reason = decision.comment
    elif outcome is Outcome.EXPIRED:
        reason = "no approver decided before the request expired"
    elif outcome is Outcome.GATE_FAILED:
        gate = payload.get("gate")
        if not isinstance(gate, Mapping) or not isinstance(gate.get("summary"), str):
            raise InvalidPayload("a quality gate failure must carry the gate's verdict and summary")
        reason = gate["summary"]
    else:
        reason = _failure_reason(payload.get("error"))
    if decision is not None:
        expected = Decision.APPROVE if outcome is Outcome.APPROVED else Decision.REJECT
        if (decision.stage, decision.model_version, decision.model_package_arn) != (
            task.stage,
            task.model.version,
            task.model.package_arn,
        ):
            raise InvalidPayload("the decision is for another stage or version of the model than this task")
        if decision.decision is not expected:
            raise InvalidPayload(f"a {decision.decision.value} decision cannot record the outcome {outcome.value}")

    at = decision.decided_at if decision else recorded_at
    actor = decision.signature if decision else None
    summary = approval_description(outcome, task.stage, actor, at, decision.comment if decision else reason)
    log.append(audit_entry(task, outcome, at, decision=decision, reason=reason, evidence=payload.get("evidence")))

    description = registry.describe(task.model.package_arn)
    metadata = stage_metadata_after(
        outcome,
        task.stage,
        task.stages,
        description.get("CustomerMetadataProperties") or {},
        signed_by=decision.approver if decision else None,
        at=at if decision else None,
    )
    registry.record_stage(
        task.model.package_arn,
        metadata,
        approval_status_after(outcome, description.get("ModelApprovalStatus")),
        summary,
    )

    result: dict[str, Any] = {"outcome": outcome.value, "stage": task.stage, "summary": summary}
    if outcome is Outcome.APPROVED and decision is not None:
        name = approved_model_parameter_name(settings.parameter_prefix, task.model.group, task.stage)
        record = approved_model_record(task, decision, payload.get("evidence"))
        current = approved_models.get(name)
        # A retry must not add a second parameter version: SSM keeps only 100 of them.
        if not current or current.get("decisionId") != decision.decision_id:
            approved_models.put(name, record)
        result["parameterName"] = name
    else:
        # Sent on every attempt: a retry may repeat the email, but never loses it.
        to = [task.model.registrant_email] if task.model.registrant_email else [settings.operations_email]
        if outcome is Outcome.EXPIRED and settings.escalation_email:
            to.append(settings.escalation_email)  # nobody decided in time: escalate
        mailer.send(outcome_email(to, task.model, task.stage, outcome, summary, task.execution_arn))
    return result


def _cause_json(error: Any) -> Any:
    """A rejection arrives as SendTaskFailure's Cause: the decision record as JSON."""
    if not isinstance(error, Mapping) or not isinstance(error.get("Cause"), str):
        raise InvalidPayload("a rejection must carry the caught error with its Cause")
    try:
        return json.loads(error["Cause"])
    except json.JSONDecodeError as exc:
        raise InvalidPayload("the rejection's Cause is not the decision record") from exc


def _failure_reason(error: Any) -> str:
    if not isinstance(error, Mapping):
        return "the stage failed for an unknown reason"
    name = str(error.get("Error") or "Error")
    cause = error.get("Cause")
    if isinstance(cause, str):
        try:
            parsed = json.loads(cause)
            if isinstance(parsed, Mapping) and parsed.get("errorMessage"):
                cause = str(parsed["errorMessage"])
        except json.JSONDecodeError:
            pass
    return f"{name}: {cause}"[:900] if cause else name
