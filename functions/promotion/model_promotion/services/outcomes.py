"""Record what happened at a stage in the registry, the approved-model store and the audit log."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from ..config import OutcomeSettings
from ..domain.approvals import Decision, DecisionRecord, StageTask, iso, parse_time
from ..domain.errors import DecisionNotAuthentic, DomainError, InvalidPayload, NoticeRefused
from ..domain.identity import registrant_of
from ..domain.model_version import REJECTED
from ..domain.presentation import Email, outcome_email
from ..domain.records import approved_model_parameter_name, approved_model_record, audit_entry
from ..domain.rollbacks import earlier_approval, rollback_claims_mismatch
from ..domain.stages import (
    APPROVAL_DESCRIPTION_MAX,
    APPROVED,
    Outcome,
    approval_description,
    approval_status_after,
    cut_utf16,
    one_line,
    rolled_back_metadata,
    stage_metadata_after,
)
from ..domain.task_history import AWAIT_APPROVAL_STATE, forged_failure_reason, sent_failure
from ..ports import ApprovedModels, DecisionLog, DecisionSigner, ExecutionHistory, Mailer, ModelRegistry


def record_stage_outcome(
    payload: Mapping[str, Any],
    *,
    settings: OutcomeSettings,
    registry: ModelRegistry,
    approved_models: ApprovedModels,
    log: DecisionLog,
    mailer: Mailer,
    signer: DecisionSigner,
    history: ExecutionHistory,
) -> dict[str, Any]:
    """Writes the outcome everywhere it belongs. Every step is safe to repeat on a retry.

    A decision counts only with the approval pages' seal, for this execution and stage, and with the stage's
    quorum of distinct signers (verify_decision): anything else raises DecisionNotAuthentic before a write,
    and the state machine records it through "Record failure" as a refused tampering attempt (TAMPERED).
    A failure or an expiry is TAMPERED too when the execution's history shows that somebody other than the
    approval pages sent it (domain/task_history.py): its error name proves nothing.

    Order matters: the audit log first (the decision is a fact once a person made it), then the
    registry, and the approved-model record last, so an inference pipeline never sees a version
    that the registry does not show as approved. The approved-model record is built and sized before
    the first write, so a record SSM would refuse (RecordTooLarge) leaves nothing half-written.

    The notice of an outcome other than an approval is best effort (see _notify): the result's
    `notifiedTo` says who got it, and `undelivered` (present only then) what was refused.
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

    if outcome is Outcome.ROLLED_BACK and task.rollback is None:
        raise InvalidPayload("only a rollback's execution records the outcome 'rolled-back'")
    if outcome is Outcome.APPROVED and task.rollback is not None:
        raise InvalidPayload("a rollback's approval records the outcome 'rolled-back'")

    decision: DecisionRecord | None = None
    reason: str | None = None
    if outcome in (Outcome.APPROVED, Outcome.ROLLED_BACK):
        decision = DecisionRecord.from_payload(payload.get("decision"))
    elif outcome is Outcome.REJECTED:
        decision = DecisionRecord.from_payload(_cause_json(payload.get("error")))
        reason = decision.comment
    elif outcome is Outcome.EXPIRED:
        reason = "no approver decided before the request expired"
        if forged := sent_failure(history.latest_stay(task.execution_arn, AWAIT_APPROVAL_STATE)):
            outcome, reason = Outcome.TAMPERED, forged_failure_reason(forged, task.stage)  # a sent "States.Timeout"
    elif outcome is Outcome.GATE_FAILED:
        gate = payload.get("gate")
        if not isinstance(gate, Mapping) or not isinstance(gate.get("summary"), str):
            raise InvalidPayload("a quality gate failure must carry the gate's verdict and summary")
        reason = gate["summary"]
    else:
        error = payload.get("error")
        reason = _failure_reason(error)
        if isinstance(error, Mapping) and error.get("Error") == DecisionNotAuthentic.__name__:
            outcome = Outcome.TAMPERED
        elif forged := sent_failure(history.latest_stay(task.execution_arn, AWAIT_APPROVAL_STATE)):
            # The error's name is whatever the sender chose; only the history tells a sent failure apart.
            outcome, reason = Outcome.TAMPERED, forged_failure_reason(forged, task.stage)
    if decision is not None:
        expected = Decision.APPROVE if outcome in (Outcome.APPROVED, Outcome.ROLLED_BACK) else Decision.REJECT
        verify_decision(decision, task, settings.quorum.get(task.stage, 1), signer)
        if decision.decision is not expected:
            raise InvalidPayload(f"a {decision.decision.value} decision cannot record the outcome {outcome.value}")

    replaced: Mapping[str, Any] | None = None
    if outcome is Outcome.ROLLED_BACK:
        # Everything a rollback rests on is read again and checked before the first write.
        assert decision is not None
        replaced = _checked_rollback(
            task, decision, payload.get("evidence"), log, registry, approved_models, settings, signer
        )

    at = decision.decided_at if decision else recorded_at
    approving = outcome in (Outcome.APPROVED, Outcome.ROLLED_BACK)
    # An approval is signed by its quorum; a rejection by the one who rejected (earlier approvals are its context).
    signed = decision.approvals if decision and approving else ((decision,) if decision else ())
    actor = ", ".join(a.signature for a in signed) or None
    summary = approval_description(outcome, task.stage, actor, at, decision.comment if decision else reason)
    record: dict[str, Any] | None = None
    if approving and decision is not None:
        # Built, and sized, before the first write: RecordTooLarge must leave nothing half-written.
        record = approved_model_record(task, decision, payload.get("evidence"))
    log.append(audit_entry(task, outcome, at, decision=decision, reason=reason, evidence=payload.get("evidence")))

    if task.rollback is not None and not approving:
        # A rollback declined, expired or refused changes nothing: the stage keeps the version it runs.
        summary = f"rollback of {task.stage} to version {task.model.version}: {summary}"
        return {
            "outcome": outcome.value,
            "stage": task.stage,
            "summary": summary,
            **_notice(task, outcome, summary, [settings.operations_email], settings, mailer),
        }
    description = registry.describe(task.model.package_arn)
    metadata = stage_metadata_after(
        outcome,
        task.stage,
        task.stages,
        description.get("CustomerMetadataProperties") or {},
        signed_by=", ".join(a.approver for a in signed) or None,
        at=at if decision else None,
    )
    registry.record_stage(
        task.model.package_arn,
        metadata,
        approval_status_after(outcome, description.get("ModelApprovalStatus")),
        summary,
    )

    result: dict[str, Any] = {"outcome": outcome.value, "stage": task.stage, "summary": summary}
    if record is not None and decision is not None:
        name = approved_model_parameter_name(settings.parameter_prefix, task.model.group, task.stage)
        current = approved_models.get(name)
        # A retry must not add a second parameter version: SSM keeps only 100 of them.
        if not current or current.get("decisionId") != decision.decision_id:
            approved_models.put(name, record)
        result["parameterName"] = name
        if replaced is not None and task.rollback is not None and task.rollback.replaces_package_arn:
            # Last: the version the stage ran until now reads RolledBack there once the pointer has moved.
            registry.record_stage(
                task.rollback.replaces_package_arn,
                rolled_back_metadata(
                    task.stage, replaced.get("CustomerMetadataProperties") or {}, task.model.version, at
                ),
                str(replaced.get("ModelApprovalStatus") or APPROVED),
                cut_utf16(
                    one_line(f"{task.stage} rolled back to version {task.model.version} by {actor} at {at}"),
                    APPROVAL_DESCRIPTION_MAX,
                    "…",
                ),
            )
        if task.rollback is not None:
            # Operations hear that a stage runs an earlier version again (sent on every attempt, as other notices).
            result.update(_notice(task, outcome, summary, [settings.operations_email], settings, mailer))
        elif task.model.registrant_email:
            # The registrant hears of every approval, with what comes next, and of the promotion's end.
            result.update(
                _notice(task, outcome, _approval_news(task, summary), [task.model.registrant_email], settings, mailer)
            )
    else:
        # Sent on every attempt: a retry may repeat the email, but never loses it.
        if outcome is Outcome.FAILED and _is_configuration_problem(payload.get("error")):
            result.update(_configuration_notices(task, summary, settings, mailer))
            return result
        to = [task.model.registrant_email] if task.model.registrant_email else [settings.operations_email]
        if outcome is Outcome.TAMPERED and settings.operations_email not in to:
            to.append(settings.operations_email)  # a security event: operations must hear of it
        if outcome is Outcome.EXPIRED and settings.escalation_email:
            to.append(settings.escalation_email)  # nobody decided in time: escalate
        result.update(_notice(task, outcome, summary, to, settings, mailer))
    return result


def _approval_news(task: StageTask, summary: str) -> str:
    """An approval as the registrant reads it: what was signed, and what happens next."""
    stages = list(task.stages)
    position = stages.index(task.stage) if task.stage in stages else len(stages) - 1
    said = summary.rstrip(".")
    if position + 1 >= len(stages):
        return (
            f"{said}. The version is promoted through every stage: {task.stage} now runs version {task.model.version}."
        )
    upcoming = stages[position + 1]
    return (
        f"{said}. Next: {upcoming}. Its approvers are asked once the version's batch on {task.stage} is scored "
        "and passes the quality gate."
    )


# The errors a function raises when the stack's own configuration is wrong (domain/errors.py, domain/gates.py).
CONFIGURATION_ERRORS = frozenset({"ConfigurationError", "GateConfigError"})


def _is_configuration_problem(error: Any) -> bool:
    return isinstance(error, Mapping) and error.get("Error") in CONFIGURATION_ERRORS


def _configuration_notices(task: StageTask, summary: str, settings: OutcomeSettings, mailer: Mailer) -> dict[str, Any]:
    """A configuration problem is the operators' to fix: they get what is wrong and what to do; the registrant
    only hears that their promotion stopped for it and that operations knows (a parser's message tells a data
    scientist nothing they can act on)."""
    model = task.model
    action = (
        f"The stack's configuration stopped this promotion: {summary}. Correct the template parameter it names "
        f"(for example QualityGates, StageApprovers) and deploy, then start the promotion again: "
        f"model-promotion retry {model.group} {model.version} --reason TEXT."
    )
    result = _notice(task, Outcome.FAILED, action, [settings.operations_email], settings, mailer)
    registrant = model.registrant_email
    if registrant and registrant.lower() != settings.operations_email.lower():
        told = _notice(
            task,
            Outcome.FAILED,
            f"Your promotion of {model.group} version {model.version} stopped at {task.stage} because of a "
            "configuration problem of the promotion service, not of your model; operations has been told and "
            "will start it again once it is fixed.",
            [registrant],
            settings,
            mailer,
        )
        result = {
            "notifiedTo": [*result["notifiedTo"], *told["notifiedTo"]],
            **(
                {"undelivered": [*result.get("undelivered", []), *told.get("undelivered", [])]}
                if result.get("undelivered") or told.get("undelivered")
                else {}
            ),
        }
    return result


def _notice(
    task: StageTask, outcome: Outcome, summary: str, to: list[str], settings: OutcomeSettings, mailer: Mailer
) -> dict[str, Any]:
    """Mails the outcome (best effort, see _notify): `notifiedTo`, and `undelivered` only when something was."""
    notified, undelivered = _notify(
        lambda recipients, note: outcome_email(
            recipients,
            task.model,
            task.stage,
            outcome,
            summary,
            task.execution_arn,
            note=note,
            rollback=task.rollback is not None,
        ),
        to,
        settings.operations_email,
        mailer,
    )
    return {"notifiedTo": notified, **({"undelivered": undelivered} if undelivered else {})}


def _checked_rollback(
    task: StageTask,
    decision: DecisionRecord,
    evidence: Mapping[str, Any] | None,
    log: DecisionLog,
    registry: ModelRegistry,
    approved_models: ApprovedModels,
    settings: OutcomeSettings,
    signer: DecisionSigner,
) -> Mapping[str, Any]:
    """Reads again, from the registry, the audit log and SSM, everything a rollback's input claims, and returns
    the description of the version it replaces ({} when the stage ran none). Whoever may start the rollback
    state machine writes that input, and the approvers' signature does not make its claims true.

    Raises DecisionNotAuthentic (recorded as tampering) when the version is not the registry's, or the earlier
    approval it names is not in the audit log with the approval pages' valid seals; InvalidPayload when the stage
    changed while the rollback waited, or the version was rejected since. Nothing is written either way.
    """
    rollback = task.rollback
    assert rollback is not None
    where = f"the rollback of {task.stage} to {task.model.group} version {task.model.version}"
    description = registry.describe(task.model.package_arn)
    earlier = earlier_approval(log.entries(task.model.group), task)
    mismatch = rollback_claims_mismatch(task, evidence, earlier, description)
    if mismatch is None and _sealed_record(earlier, task, signer) is None:
        mismatch = f"{where}: its earlier approval does not carry the approval pages' valid seals"
    if mismatch is not None:
        raise DecisionNotAuthentic(f"{mismatch}: nothing was rolled back")
    if description.get("ModelApprovalStatus") == REJECTED:
        raise InvalidPayload(f"{where}: the version was rejected while the rollback waited; nothing was rolled back")
    current = (
        approved_models.get(approved_model_parameter_name(settings.parameter_prefix, task.model.group, task.stage))
        or {}
    )
    replaced_now = (current.get("modelVersion"), current.get("modelPackageArn"))
    # A retry of this very recording finds the record it wrote already there.
    if replaced_now != (rollback.replaces_version, rollback.replaces_package_arn) and (
        current.get("decisionId") != decision.decision_id
    ):
        raise InvalidPayload(
            f"{where}: {task.stage} runs version {current.get('modelVersion')} now, not version "
            f"{rollback.replaces_version} as when the rollback was asked for; nothing was rolled back, ask again"
        )
    if not rollback.replaces_package_arn:
        return {}
    replaced = registry.describe(rollback.replaces_package_arn)
    if replaced.get("ModelPackageGroupName") != task.model.group:
        raise DecisionNotAuthentic(f"{where} names a replaced version of another model group: nothing was rolled back")
    return replaced


def _sealed_record(entry: Mapping[str, Any] | None, task: StageTask, signer: DecisionSigner) -> DecisionRecord | None:
    """The approval an audit entry holds, when it is an approval of this version for this stage and it and each
    cosigner carry the approval pages' valid seal (a sealed record copied from another approval is none)."""
    if entry is None or not isinstance(entry.get("decisionRecord"), Mapping):
        return None
    try:
        record = DecisionRecord.from_payload(entry["decisionRecord"])
    except InvalidPayload:
        return None
    if record.decision_id != entry.get("decisionId") or record.decision is not Decision.APPROVE:
        return None
    if (record.stage, record.model_version, record.model_package_arn) != (
        task.stage,
        task.model.version,
        task.model.package_arn,
    ):
        return None
    for sealed in (record, *record.cosigners):
        if not sealed.seal or not signer.verify(sealed.sealing_message(), sealed.seal):
            return None
    return record


def verify_decision(decision: DecisionRecord, task: StageTask, quorum: int, signer: DecisionSigner) -> None:
    """Raises DecisionNotAuthentic unless the approval pages sealed this decision for this execution and
    stage, and, for an approval, it carries `quorum` approvals by distinct signers.

    The seal covers the cosigners' records too, so none can be added, dropped or altered after signing.
    """
    where = f"the {task.stage} decision of {task.model.group} version {task.model.version}"
    if not decision.seal or not signer.verify(decision.sealing_message(), decision.seal):
        raise DecisionNotAuthentic(
            f"{where} carries no valid signature of the approval pages: it was not made on a review page, or "
            "it was altered. It was refused and counts as no decision."
        )
    if not decision.is_for(task):
        raise DecisionNotAuthentic(f"{where} carries a signed decision made for another promotion or stage")
    for cosigner in decision.cosigners:
        # Each earlier approval was sealed on its own when it was made: a record added to the request later (by
        # anyone who could write it) is no approval, even under the last approver's seal.
        if (
            cosigner.decision is not Decision.APPROVE
            or cosigner.cosigners
            or not cosigner.seal
            or not signer.verify(cosigner.sealing_message(), cosigner.seal)
            or not cosigner.is_for(task)
        ):
            raise DecisionNotAuthentic(
                f"{where} carries an approval by {cosigner.signature} that the approval pages did not seal for it"
            )
    registrant = registrant_of(task.model)
    for signed in (*decision.cosigners, decision):
        # The pages refused the registrant already; this copy of the version (the execution's input, read from the
        # registry) is checked again, in case the request the pages read was rewritten.
        if registrant.unknown_because or set(signed.approver_identifiers) & registrant.names:
            raise DecisionNotAuthentic(
                f"{where} carries a decision by {signed.signature}, who registered the version or cannot be told "
                f"apart from its registrant ({registrant.unknown_because or 'CreatedBy names them'})"
            )
    if decision.decision is Decision.APPROVE:
        signers = {a.signer_key for a in decision.approvals}
        if len(signers) < quorum or len(signers) != len(decision.approvals):
            raise DecisionNotAuthentic(
                f"{where} carries {len(signers)} distinct approvals in {len(decision.approvals)}; the stage needs "
                f"{quorum}"
            )


REFUSED = "recipient-refused"
NOT_SENT = "mail-not-sent"


def _notify(
    compose: Callable[[list[str], str | None], Email], to: list[str], operations: str, mailer: Mailer
) -> tuple[list[str], list[dict[str, Any]]]:
    """Sends the notice; returns who got it and what was not delivered, with why.

    The outcome is recorded already, and a notice must not change it: a rejection that ended as a
    mail failure would hide the rejection. So when the mail service refuses recipients (an unverified
    registrant in the SES sandbox), the same notice goes to operations, and to any recipient that was
    not refused, with a line naming the refused addresses; when that is refused too, the email is
    given up. Either way the caller reports `undelivered` (the handler emits a metric and a log line).
    A transient error still raises, so the state machine's Retry sends it again.
    """
    undelivered: list[dict[str, Any]] = []
    try:
        mailer.send(compose(to, None))
        return list(to), undelivered
    except DomainError as exc:
        first = _refused(exc, to)
        undelivered.append(first)
    refused = {a.lower() for a in first["to"]}
    fallback = [a for a in dict.fromkeys([operations, *to]) if a.lower() not in refused]
    if not fallback:
        return [], undelivered  # operations itself was refused: there is nobody else to tell
    note = (
        f"The mail service refused {', '.join(first['to'])} ({first['error']}), so this notice, meant for "
        f"{', '.join(to)}, goes to {', '.join(fallback)} instead."
    )
    try:
        mailer.send(compose(fallback, note))
    except DomainError as exc:
        undelivered.append(_refused(exc, fallback))
        return [], undelivered
    first["redirectedTo"] = fallback
    return fallback, undelivered


def _refused(exc: DomainError, to: list[str]) -> dict[str, Any]:
    if isinstance(exc, NoticeRefused):
        return {"to": list(exc.recipients) or to, "reason": REFUSED, "error": exc.code}
    # The mailer's configuration (sender identity, permissions): no recipient would get it either.
    return {"to": to, "reason": NOT_SENT, "error": type(exc).__name__}


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
