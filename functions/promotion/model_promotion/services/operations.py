"""What operators ask of running promotions: where each version stands, what waits for whom, who decided
what, and the interventions: mail a request's approvers again, cancel a promotion, or retry one that ended.

Each function takes the ports it needs, so the operators' CLI (model_promotion/cli.py) runs it against AWS
and the unit tests against fakes. Results are plain dicts with stable camelCase keys: the CLI prints them
as tables for people and as JSON for scripts. No result ever holds a task token: nothing here reads one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ..domain.approvals import COMMENT_MAX, ApprovalRequest, RequestStatus, Rollback, iso
from ..domain.audit_chain import verify as verify_chain
from ..domain.model_version import APPROVED, PENDING_MANUAL_APPROVAL, REJECTED, ModelVersion
from ..domain.records import approved_model_parameter_name, audit_entry
from ..domain.registration import execution_name, rollback_execution_name
from ..domain.rollbacks import SIGNED_FOR_STAGE
from ..domain.stages import (
    APPROVAL_DESCRIPTION_MAX,
    PROMOTION_ATTEMPT_KEY,
    PROMOTION_ENDED_KEY,
    Outcome,
    approval_description,
    approval_status_after,
    cut_utf16,
    one_line,
    promotion_attempt,
    promotion_ended,
    resume_position,
    stage_metadata_after,
)
from ..ports import (
    ApprovalStore,
    ApprovedModels,
    DecisionLog,
    ExecutionControl,
    ExecutionExists,
    Mailer,
    ModelRegistry,
    ModelVersions,
    Workflow,
)
from .approvals import send_links
from .start_promotion import promotion_input

# The error a cancelled execution stops with, as DescribeExecution and the history show it.
CANCEL_ERROR = "PromotionCancelled"
REASON_MAX = COMMENT_MAX
# A failure's cause is shown cut to this many characters.
CAUSE_MAX = 500


class OperationError(Exception):
    """An operator's request that cannot be carried out. `exit_code` is the CLI's exit status."""

    exit_code = 2


class NotFound(OperationError):
    """Nothing matches (no such version, no decision recorded) or there is nothing to do (nothing pending)."""

    exit_code = 1


class CancelIncomplete(OperationError):
    """A cancel closed the request but a later step failed: the message says what is left to do."""

    exit_code = 2


class BadRequest(OperationError):
    """The request itself is wrong: a missing reason, an ambiguous version."""

    exit_code = 2


# status


def version_status(
    *,
    catalog: ModelVersions,
    executions: ExecutionControl,
    store: ApprovalStore,
    group: str,
    stages: Sequence[str],
    now: datetime,
    version: int | None = None,
) -> dict[str, Any]:
    """Every version of the group (newest first), or one: registry status, each stage's status and signature,
    the execution's status, and the stage that waits for a decision now."""
    if version is None:
        descriptions = list(catalog.versions(group))
        if not descriptions:
            raise NotFound(f"model package group {group} has no versions (or does not exist)")
    else:
        description = catalog.version(group, version)
        if description is None:
            raise NotFound(f"model package group {group} has no version {version}")
        descriptions = [description]
    waiting: dict[int, list[ApprovalRequest]] = {}
    for request in store.pending():
        if request.task.model.group == group:
            waiting.setdefault(request.task.model.version, []).append(request)
    return {
        "group": group,
        "stages": list(stages),
        "versions": [_version_row(d, executions, stages, waiting, now) for d in descriptions],
    }


def _version_row(
    description: Mapping[str, Any],
    executions: ExecutionControl,
    stages: Sequence[str],
    waiting: Mapping[int, list[ApprovalRequest]],
    now: datetime,
) -> dict[str, Any]:
    group = str(description.get("ModelPackageGroupName"))
    number = int(description.get("ModelPackageVersion") or 0)
    metadata = description.get("CustomerMetadataProperties") or {}
    name = execution_name(group, number, promotion_attempt(metadata))
    execution = executions.describe_execution(name)
    requests = waiting.get(number, [])
    return {
        "version": number,
        "packageArn": description.get("ModelPackageArn"),
        "modelApprovalStatus": description.get("ModelApprovalStatus"),
        "approvalDescription": description.get("ApprovalDescription"),
        "registeredAt": _time(description.get("CreationTime")),
        "stages": [
            {
                "stage": stage,
                "status": metadata.get(stage),
                "signedBy": metadata.get(f"{stage}-signed-by"),
                "signedAt": metadata.get(f"{stage}-signed-at"),
            }
            for stage in stages
        ],
        "promotionEnded": promotion_ended(metadata),
        "attempt": promotion_attempt(metadata),
        "execution": {
            "name": name,
            "arn": execution.get("executionArn") if execution else None,
            "status": execution.get("status") if execution else None,
            "startedAt": _time(execution.get("startDate")) if execution else None,
            "stoppedAt": _time(execution.get("stopDate")) if execution else None,
            "error": execution.get("error") if execution else None,
            "cause": _cause(execution.get("cause")) if execution else None,
        },
        "pending": _pending_row(requests[0], now) if requests else None,
    }


# the console's overview

# How a version's promotion stands, in one word the console filters on.
PROMOTION_STATES = ("waiting", "running", "failed", "expired", "cancelled", "rejected", "promoted", "not started")
OVERVIEW_PAGE_SIZE = 20


def promotion_state(row: Mapping[str, Any]) -> str:
    """One word for a `version_status` row: waiting for a decision, running between stages, failed (retryable),
    expired, cancelled, rejected (by a person or a gate), promoted through every stage, or not started."""
    execution = row.get("execution") or {}
    status, error = execution.get("status"), execution.get("error")
    ended = str(row.get("promotionEnded") or "")
    if row.get("pending"):
        return "waiting"
    if status == "RUNNING":
        return "running"
    if status == "SUCCEEDED":
        return "promoted"
    if error in DECISION_ERRORS or ended.startswith(DECIDED_OUTCOMES):
        return "rejected"
    if error == CANCEL_ERROR or ended.startswith(Outcome.CANCELLED.value):
        return "cancelled"
    if ended.startswith(Outcome.EXPIRED.value):
        return "expired"
    if status in RETRYABLE_EXECUTION_STATUSES or ended:
        return "failed"
    return "not started"


def promotion_overview(
    *,
    catalog: ModelVersions,
    executions: ExecutionControl,
    store: ApprovalStore,
    stages: Sequence[str],
    now: datetime,
    group: str | None = None,
    stage: str | None = None,
    state: str | None = None,
    page: int = 1,
    page_size: int = OVERVIEW_PAGE_SIZE,
) -> dict[str, Any]:
    """What the console's front page shows: the requests waiting for a decision, the promotions that failed and
    why, and every version's per-stage status, each filtered by group, stage and state; the versions a page at a
    time, newest first within each group. The same use cases as `status` and `pending`."""
    if stage is not None and stage not in stages:
        raise BadRequest(f"stage {stage!r} is not one of the stages {', '.join(stages)}")
    if state is not None and state not in PROMOTION_STATES:
        raise BadRequest(f"state {state!r} is not one of {', '.join(PROMOTION_STATES)}")
    if page < 1 or page_size < 1:
        raise BadRequest("pages are counted from 1")
    groups = [group] if group else catalog.groups()
    # The open requests are read once for every group, not once per group (version_status reads them per call).
    open_requests = store.pending()
    waiting: dict[str, dict[int, list[ApprovalRequest]]] = {}
    for request in open_requests:
        waiting.setdefault(request.task.model.group, {}).setdefault(request.task.model.version, []).append(request)
    versions = []
    for name in groups:
        for description in catalog.versions(name):
            row = _version_row(description, executions, stages, waiting.get(name, {}), now)
            versions.append({**row, "group": name, "state": promotion_state(row)})
    if stage is not None:
        versions = [v for v in versions if _touches(v, stage)]
    failed = [v for v in versions if v["state"] in ("failed", "expired")]
    if state is not None:
        versions = [v for v in versions if v["state"] == state]
    pending = [
        _pending_row(request, now)
        for request in open_requests
        if (group is None or request.task.model.group == group) and (stage is None or request.task.stage == stage)
    ]
    pages = max(1, -(-len(versions) // page_size))
    page = min(page, pages)
    return {
        "generatedAt": iso(now),
        "stages": list(stages),
        "groups": groups if group is None else [group],
        "filters": {"group": group, "stage": stage, "state": state},
        "pending": pending,
        "failed": failed,
        "versions": versions[(page - 1) * page_size : page * page_size],
        "page": page,
        "pages": pages,
        "versionCount": len(versions),
    }


def _touches(row: Mapping[str, Any], stage: str) -> bool:
    """Whether a version has come to this stage: decided there, or waiting there."""
    pending = row.get("pending") or {}
    return pending.get("stage") == stage or any(c["stage"] == stage and c.get("status") for c in row["stages"])


def version_timeline(
    *,
    catalog: ModelVersions,
    executions: ExecutionControl,
    store: ApprovalStore,
    log: DecisionLog,
    group: str,
    version: int,
    stages: Sequence[str],
    now: datetime,
) -> dict[str, Any]:
    """One version's story, oldest first: its registration, each attempt's start and end, every request's
    mailing, and every recorded outcome and intervention (who, what, why), from the registry, the execution
    and the audit log. No execution history is read: it carries task tokens."""
    [row] = version_status(
        catalog=catalog, executions=executions, store=store, group=group, stages=stages, now=now, version=version
    )["versions"]
    events: list[dict[str, Any]] = [{"at": row["registeredAt"], "what": "registered", "stage": None, "who": None}]
    execution = row["execution"]
    if execution["startedAt"]:
        events.append({"at": execution["startedAt"], "what": f"promotion started ({execution['name']})"})
    try:
        history = decision_history(log=log, group=group, version=version, stages=stages)
    except NotFound:
        history = []
    for entry in history:
        detail = entry.get("comment") or entry.get("reason")
        events.append(
            {
                "at": entry["at"],
                "what": entry.get("meaning") or entry.get("outcome"),
                "stage": entry.get("stage"),
                "who": entry.get("who"),
                "detail": detail,
                "outcome": entry.get("outcome"),
            }
        )
    if row["pending"]:
        waiting = row["pending"]
        events.append(
            {
                "at": waiting["requestedAt"],
                "what": f"approval requested for {waiting['stage']} from {', '.join(waiting['recipients'])}",
                "stage": waiting["stage"],
                "detail": f"waiting; expires {waiting['expiresAt']}",
            }
        )
    if execution["stoppedAt"]:
        how = execution["status"] + (f": {execution['error']}" if execution["error"] else "")
        events.append({"at": execution["stoppedAt"], "what": f"promotion ended, {how}", "detail": execution["cause"]})
    events.sort(key=lambda e: str(e.get("at") or ""))
    return {**row, "group": group, "state": promotion_state(row), "timeline": events}


# pending


def pending_approvals(*, store: ApprovalStore, now: datetime) -> list[dict[str, Any]]:
    """Every request that waits for a decision, soonest expiry first: what, since when, for whom."""
    return [_pending_row(request, now) for request in store.pending()]


def _pending_row(request: ApprovalRequest, now: datetime) -> dict[str, Any]:
    task = request.task
    return {
        "group": task.model.group,
        "version": task.model.version,
        "stage": task.stage,
        "recipients": list(request.recipients),
        "requestedAt": iso(request.requested_at),
        "ageSeconds": int((now - request.requested_at).total_seconds()),
        "expiresAt": iso(request.expires_at),
        "secondsLeft": int((request.expires_at - now).total_seconds()),
        "expired": request.is_expired(now),
        "reminded": request.reminded_at is not None,
        "remindedAt": iso(request.reminded_at) if request.reminded_at else None,
        "executionArn": task.execution_arn,
    }


# history


def decision_history(
    *,
    log: DecisionLog,
    group: str,
    stage: str | None = None,
    version: int | None = None,
    stages: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Every recorded outcome of the group, oldest first, from the append-only log (which, unlike SSM's
    100 parameter versions, keeps them all): who, when, what it meant, their comment or the reason.

    Times have whole seconds, so outcomes of one version within the same second follow `stages`' order.
    """
    entries = [
        e
        for e in log.entries(group)
        if (stage is None or e.get("stage") == stage) and (version is None or e.get("modelVersion") == version)
    ]
    if not entries:
        what = " ".join(filter(None, [f"version {version}" if version else None, f"at {stage}" if stage else None]))
        raise NotFound(f"no decisions are recorded for {group}{' ' + what if what else ''}")
    order = {name: i for i, name in enumerate(stages)}
    entries.sort(
        key=lambda e: (
            str(e.get("at") or ""),
            e.get("modelVersion") or 0,
            order.get(str(e.get("stage")), len(order)),
            str(e.get("entryKey") or ""),
        )
    )
    return [_history_row(e) for e in entries]


def batch_metrics(*, log: DecisionLog, group: str, stages: Sequence[str], stage: str | None = None) -> dict[str, Any]:
    """The batch metrics of every version at every stage it was scored in, from the audit log: each decision
    records the evidence its approvers saw (the previous stage's batch results). One row per version and stage
    (the newest evidence), versions in order, so a drift between versions shows down a column.
    """
    newest: dict[tuple[int, str], Mapping[str, Any]] = {}
    for entry in log.entries(group):
        evidence = entry.get("evidence")
        version = entry.get("modelVersion")
        if not isinstance(evidence, Mapping) or not isinstance(evidence.get("metrics"), Mapping):
            continue
        scored_at = str(evidence.get("stage") or "")
        if not isinstance(version, int) or not scored_at or (stage is not None and scored_at != stage):
            continue
        newest[(version, scored_at)] = {**evidence, "recordedAt": entry.get("at")}
    if not newest:
        at = f" at {stage}" if stage else ""
        raise NotFound(f"no batch metrics are recorded for {group}{at}")
    order = {name: i for i, name in enumerate(stages)}
    rows = [
        {
            "version": version,
            "stage": scored_at,
            "metrics": {k: v for k, v in dict(evidence["metrics"]).items() if isinstance(v, int | float)},
            "rowCount": evidence.get("rowCount"),
            "recordedAt": evidence.get("recordedAt"),
        }
        for (version, scored_at), evidence in sorted(
            newest.items(), key=lambda item: (order.get(item[0][1], len(order)), item[0][0])
        )
    ]
    names = sorted({name for row in rows for name in row["metrics"]})
    return {"group": group, "metrics": names, "rows": rows}


def verify_audit_log(*, log: DecisionLog, group: str) -> dict[str, Any]:
    """Recomputes the group's hash chain (domain/audit_chain.py): `ok` with the number of entries and the newest
    entry's hash, or `broken` naming the first link that does not hold (which entry, and why).

    The chain's head is read before the entries, so an outcome recorded while this runs is not taken for a
    break. A group with nothing recorded is NotFound, as for `history`.
    """
    head = log.head(group)
    entries = log.entries(group)
    if not entries and head is None:
        raise NotFound(f"no decisions are recorded for {group}")
    verdict = verify_chain(entries, head)
    return {
        "group": group,
        **verdict.to_dict(),
        "headSequence": head.get("sequence") if head else None,
    }


def _history_row(entry: Mapping[str, Any]) -> dict[str, Any]:
    actor, name = entry.get("actor"), entry.get("actorName")
    return {
        "at": entry.get("at"),
        "version": entry.get("modelVersion"),
        "stage": entry.get("stage"),
        "outcome": entry.get("outcome"),
        "meaning": entry.get("meaning"),
        "actor": actor,
        "actorName": name,
        "who": f"{name} <{actor}>" if name and actor and name != actor else (actor or name),
        "comment": entry.get("comment"),
        "reason": entry.get("reason"),
        "decisionId": entry.get("decisionId"),
        "packageArn": entry.get("modelPackageArn"),
        "executionArn": entry.get("executionArn"),
    }


# resend


def resend_request(
    *,
    store: ApprovalStore,
    mailer: Mailer,
    log: DecisionLog,
    base_url: str,
    group: str,
    version: int,
    operator: str,
    now: datetime,
    stage: str | None = None,
) -> dict[str, Any]:
    """Mails the pending request's approvers fresh links to the same request; its task token stays as it is.
    The audit log records who had them mailed, after the mail went (a failed send records nothing)."""
    operator = _operator(operator, "a resend")
    request = _pending_request(store, group, version, stage)
    if request.is_expired(now):
        raise NotFound(
            f"the {request.task.stage} request of {group} version {version} expired at {iso(request.expires_at)}; "
            "there is nothing to resend"
        )
    sent = send_links(request, store=store, mailer=mailer, base_url=base_url.rstrip("/"), reminder=False)
    task = request.task
    at = iso(now)
    log.append(
        {
            "modelPackageGroupName": group,
            "entryKey": f"{at}#v{version:08d}#{task.stage}#resent",
            "modelVersion": version,
            "modelPackageArn": task.model.package_arn,
            "stage": task.stage,
            "outcome": "resent",
            "at": at,
            "meaning": f"approval request for {task.stage} mailed again to {', '.join(request.recipients)}",
            "actor": operator,
            "identitySource": "operator",
            "executionArn": task.execution_arn,
        }
    )
    return {
        "group": group,
        "version": version,
        "stage": request.task.stage,
        "recipients": list(request.recipients),
        "sent": sent,
        "expiresAt": iso(request.expires_at),
    }


# cancel


def cancel_promotion(
    *,
    store: ApprovalStore,
    executions: ExecutionControl,
    registry: ModelRegistry,
    log: DecisionLog,
    group: str,
    version: int,
    reason: str,
    operator: str,
    now: datetime,
    stage: str | None = None,
) -> dict[str, Any]:
    """Stops the version's promotion while a stage waits for its decision, and records who did it and why.

    The request is closed first, so no approver can decide it while the execution is being stopped (a
    decision that wins that race is reported, and nothing is cancelled). Then the execution stops, the
    audit log gets the cancellation (it runs no Catch, so nothing else records it), and last the registry
    shows the stage Cancelled, as RecordOutcome orders its writes.
    """
    reason = (reason or "").strip()
    if not reason:
        raise BadRequest("a cancellation needs a reason: give --reason TEXT")
    if len(reason) > REASON_MAX:
        raise BadRequest(f"the reason is {len(reason)} characters long; keep it within {REASON_MAX}")
    operator = _operator(operator, "a cancellation")

    request = _pending_request(store, group, version, stage)
    task = request.task
    store.close(request.key, RequestStatus.CANCELLED)
    closed = store.get_request(request.key)
    if closed is None or closed.status is not RequestStatus.CANCELLED:
        who = f" by {closed.decision.signature}" if closed and closed.decision else ""
        status = closed.status.value.lower() if closed else "gone"
        if closed and closed.decision:  # SENDING says only that its delivery is unconfirmed yet
            status = closed.decision.decision.request_status.value.lower()
        raise NotFound(
            f"the {task.stage} request of {group} version {version} was {status}{who} a moment ago; "
            "nothing was cancelled"
        )

    at = iso(now)
    summary = approval_description(Outcome.CANCELLED, task.stage, operator, at, reason)
    step = "stopping the execution"
    try:
        executions.stop(task.execution_arn, CANCEL_ERROR, reason)
        step = "writing the audit log"
        entry = audit_entry(task, Outcome.CANCELLED, at, reason=reason)
        meaning = f"promotion cancelled at {task.stage}"
        if task.rollback is not None:
            meaning = f"rollback of {task.stage} to version {version} cancelled"
            summary = f"{meaning} by {operator} at {at}: {reason}"
        entry.update(actor=operator, meaning=meaning, identitySource="operator")
        log.append(entry)
        if task.rollback is None:  # a cancelled rollback changes no version: the stage keeps what it runs
            step = "updating the registry"
            description = registry.describe(task.model.package_arn)
            registry.record_stage(
                task.model.package_arn,
                stage_metadata_after(
                    Outcome.CANCELLED, task.stage, task.stages, description.get("CustomerMetadataProperties") or {}
                ),
                approval_status_after(Outcome.CANCELLED, description.get("ModelApprovalStatus")),
                summary,
            )
    except Exception as exc:
        raise CancelIncomplete(
            f"the {task.stage} request of {group} version {version} is closed, but {step} failed ({exc}); "
            f"finish by hand: execution {task.execution_arn}"
        ) from exc
    return {
        "group": group,
        "version": version,
        "stage": task.stage,
        "executionArn": task.execution_arn,
        "cancelledBy": operator,
        "cancelledAt": at,
        "reason": reason,
        "approvalDescription": summary,
    }


# retry

# A closed execution in one of these states may be retried; SUCCEEDED means every stage was approved.
RETRYABLE_EXECUTION_STATUSES = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})
# ...unless it failed with a decision: a person's rejection or the quality gate's (their Fail states' errors).
DECISION_ERRORS = frozenset({"ApprovalRejected", "QualityGateFailed"})
DECIDED_OUTCOMES = (Outcome.REJECTED.value, Outcome.GATE_FAILED.value)


def retry_promotion(
    *,
    catalog: ModelVersions,
    registry: ModelRegistry,
    executions: ExecutionControl,
    workflow: Workflow,
    log: DecisionLog,
    group: str,
    version: int,
    reason: str,
    operator: str,
    stages: Sequence[str],
    now: datetime,
) -> dict[str, Any]:
    """Starts a new attempt of a promotion that ended without a decision against it: it expired, failed, or
    was cancelled. A rejection is a decision and is not retried; register a new version instead.

    The attempt gets its own execution name (`<group>-v<N>-attempt<K>`), so Step Functions' 90-day name
    rule never blocks it, and it resumes at the first stage the registry does not show Approved. Order:
    the registry first (the marker cleared, the attempt counted: reconcile starts a lost attempt from
    there), then the execution (a repeat of the same attempt is the same start), then the audit log.
    """
    reason = one_line(reason or "")
    if not reason:
        raise BadRequest("a retry needs a reason: give --reason TEXT")
    if len(reason) > REASON_MAX:
        raise BadRequest(f"the reason is {len(reason)} characters long; keep it within {REASON_MAX}")
    operator = _operator(operator, "a retry")
    description = catalog.version(group, version)
    if description is None:
        raise NotFound(f"{group} has no version {version}")
    status = str(description.get("ModelApprovalStatus"))
    if status not in (PENDING_MANUAL_APPROVAL, APPROVED):
        raise BadRequest(
            f"{group} version {version} is {status}: only a promotion that expired, failed or was cancelled "
            "can be retried; a rejection is a decision, and a rejected version needs a new registration"
        )
    metadata = dict(description.get("CustomerMetadataProperties") or {})
    attempt = promotion_attempt(metadata)
    previous = executions.describe_execution(execution_name(group, version, attempt))
    ended = promotion_ended(metadata)
    if previous is not None and previous.get("status") == "RUNNING":
        raise BadRequest(f"{group} version {version} is still being promoted ({previous.get('executionArn')})")
    # A rejection whose recording failed leaves the registry short of "Rejected"; the execution still says it.
    decided = (previous or {}).get("error") in DECISION_ERRORS or (ended or "").startswith(DECIDED_OUTCOMES)
    if decided:
        raise BadRequest(
            f"{group} version {version} was rejected ({ended or (previous and previous.get('error'))}): a rejection "
            "is a decision, and a rejected version needs a new registration"
        )
    # A retry whose start was lost (the registry already counts the attempt, but no execution has its name):
    # start that same attempt, which reconcile cannot do for a version the registry shows Approved.
    lost_start = previous is None and attempt > 1 and ended is None
    if (
        not lost_start
        and ended is None
        and (previous is None or previous.get("status") not in RETRYABLE_EXECUTION_STATUSES)
    ):
        raise BadRequest(
            f"{group} version {version} has no ended promotion to retry"
            + ("; `reconcile` starts a version whose registration event was lost" if previous is None else "")
        )
    position = resume_position(metadata, stages)
    if position >= len(stages):
        raise BadRequest(f"{group} version {version} is approved for every stage; there is nothing to retry")

    if not lost_start:
        attempt += 1
    metadata.pop(PROMOTION_ENDED_KEY, None)
    metadata[PROMOTION_ATTEMPT_KEY] = str(attempt)
    at = iso(now)
    stage = stages[position]
    summary = cut_utf16(
        one_line(f"promotion retried from {stage} by {operator} at {at}: {reason}"), APPROVAL_DESCRIPTION_MAX, "…"
    )
    if not lost_start:
        registry.record_stage(description["ModelPackageArn"], metadata, status, summary)
    name = execution_name(group, version, attempt)
    execution_input = promotion_input(ModelVersion.from_description(description), tuple(stages), metadata)
    try:
        execution_arn = workflow.start(name, execution_input)
    except ExecutionExists:
        # The registry update's own event started this attempt a moment ago: the same start.
        existing = executions.describe_execution(name) or {}
        execution_arn = str(existing.get("executionArn") or name)
    log.append(
        {
            "modelPackageGroupName": group,
            "entryKey": f"{at}#v{version:08d}#{stage}#retried",
            "modelVersion": version,
            "modelPackageArn": description["ModelPackageArn"],
            "stage": stage,
            "outcome": "retried",
            "at": at,
            "meaning": f"promotion retried from {stage} (attempt {attempt})",
            "actor": operator,
            "reason": reason,
            "previousOutcome": ended or (previous or {}).get("status"),
            "identitySource": "operator",
            "executionArn": execution_arn,
        }
    )
    return {
        "group": group,
        "version": version,
        "attempt": attempt,
        "fromStage": stage,
        "previousOutcome": ended or (previous or {}).get("status"),
        "executionName": name,
        "executionArn": execution_arn,
        "retriedBy": operator,
        "retriedAt": at,
        "reason": reason,
    }


# rollback


def request_rollback(
    *,
    catalog: ModelVersions,
    log: DecisionLog,
    approved_models: ApprovedModels,
    workflow: Workflow,
    parameter_prefix: str,
    group: str,
    stage: str,
    to_version: int,
    reason: str,
    operator: str,
    stages: Sequence[str],
    now: datetime,
) -> dict[str, Any]:
    """Asks a stage's approvers to sign a rollback of the stage to a version they approved for it before.

    Nothing changes until they sign: the rollback's execution (statemachines/rollback.asl.json) waits for the
    stage's approvers as a promotion's stage does, on the same review page, marked as a rollback and showing
    the version asked for (its earlier approval and batch results) beside the version the stage runs now.
    When it is signed, RecordOutcome returns the registry and the SSM record to that version. Refused, with
    what to do instead: a version never approved for the stage, one rejected since, or the one it runs now.
    """
    reason, operator = _rollback_request(reason, operator, stage, stages)
    description, earlier, current = _rollback_plan(
        catalog=catalog,
        log=log,
        approved_models=approved_models,
        parameter_prefix=parameter_prefix,
        group=group,
        stage=stage,
        to_version=to_version,
    )
    rollback = Rollback(
        reason=reason,
        requested_by=operator,
        requested_at=iso(now),
        replaces_version=current.get("modelVersion") if current else None,
        replaces_package_arn=current.get("modelPackageArn") if current else None,
        approved_before=str(earlier.get("decisionId") or earlier.get("entryKey")),
        approved_before_by=str(earlier.get("actorName") or earlier.get("actor") or "unknown"),
        approved_before_at=str(earlier.get("at")),
    )
    name = rollback_execution_name(group, to_version, stage, now)
    at = rollback.requested_at
    # The request is a fact before anyone is asked: audit first, then the execution that asks.
    log.append(
        {
            "modelPackageGroupName": group,
            "entryKey": f"{at}#v{to_version:08d}#{stage}#rollback-requested",
            "modelVersion": to_version,
            "modelPackageArn": description["ModelPackageArn"],
            "stage": stage,
            "outcome": "rollback-requested",
            "at": at,
            "meaning": f"rollback of {stage} to version {to_version} requested",
            "actor": operator,
            "reason": reason,
            "identitySource": "operator",
            "executionName": name,
            "rollback": rollback.to_payload(),
        }
    )
    try:
        execution_arn = workflow.start(
            name,
            {
                "model": ModelVersion.from_description(description).to_payload(),
                "stage": stage,
                "stageIndex": list(stages).index(stage),
                "stages": list(stages),
                # What the approvers saw when they approved this version for the stage: its batch results.
                "evidence": earlier.get("evidence"),
                "rollback": rollback.to_payload(),
            },
        )
    except ExecutionExists:  # the same request in the same second (names have the second): that one stands
        raise BadRequest(f"this rollback was asked for a moment ago ({name}); its approvers have been asked") from None
    return {
        "group": group,
        "stage": stage,
        "toVersion": to_version,
        "replacesVersion": rollback.replaces_version,
        "approvedBefore": {"by": rollback.approved_before_by, "at": rollback.approved_before_at},
        "executionName": name,
        "executionArn": execution_arn,
        "requestedBy": operator,
        "requestedAt": at,
        "reason": reason,
    }


def _rollback_request(reason: str, operator: str, stage: str, stages: Sequence[str]) -> tuple[str, str]:
    reason = one_line(reason or "")
    if not reason:
        raise BadRequest("a rollback needs a reason: give --reason TEXT")
    if len(reason) > REASON_MAX:
        raise BadRequest(f"the reason is {len(reason)} characters long; keep it within {REASON_MAX}")
    operator = _operator(operator, "a rollback")
    if stage not in stages:
        raise BadRequest(f"stage {stage!r} is not one of the stages {', '.join(stages)}")
    return reason, operator


def _rollback_plan(
    *,
    catalog: ModelVersions,
    log: DecisionLog,
    approved_models: ApprovedModels,
    parameter_prefix: str,
    group: str,
    stage: str,
    to_version: int,
) -> tuple[Mapping[str, Any], Mapping[str, Any], dict[str, Any]]:
    """The version asked for, its newest approval for the stage, and the stage's record now; or the refusal."""
    description = catalog.version(group, to_version)
    if description is None:
        raise NotFound(f"{group} has no version {to_version}")
    signed = [
        e
        for e in log.entries(group)
        if e.get("modelVersion") == to_version and e.get("stage") == stage and e.get("outcome") in SIGNED_FOR_STAGE
    ]
    if not signed:
        raise BadRequest(
            f"{group} version {to_version} was never approved for {stage}: a rollback returns a stage only to a "
            f"version its approvers signed for it before (see `history {group} --stage {stage}`)"
        )
    signed = [e for e in signed if isinstance(e.get("decisionRecord"), Mapping)]
    if not signed:
        raise BadRequest(
            f"{group} version {to_version} was approved for {stage} before approvals kept their sealed record in the "
            "audit log, so RecordOutcome could not check that approval: roll back to a version approved since"
        )
    if description.get("ModelApprovalStatus") == REJECTED:
        raise BadRequest(
            f"{group} version {to_version} was rejected after its {stage} approval "
            f"({description.get('ApprovalDescription') or 'see its history'}): roll back to another version"
        )
    current = approved_models.get(approved_model_parameter_name(parameter_prefix, group, stage)) or {}
    if current.get("modelVersion") == to_version:
        raise BadRequest(f"{stage} runs {group} version {to_version} already: there is nothing to roll back")
    return description, signed[-1], current


def _operator(operator: str | None, what: str) -> str:
    """Who acts, as the audit log names them: the console's signed-in operator, or the CLI's AWS identity."""
    operator = (operator or "").strip()
    if not operator:
        raise BadRequest(f"{what} needs an operator: give --operator WHO")
    return operator


def _pending_request(store: ApprovalStore, group: str, version: int, stage: str | None) -> ApprovalRequest:
    found = [
        r
        for r in store.pending()
        if r.task.model.group == group and r.task.model.version == version and (stage is None or r.task.stage == stage)
    ]
    if not found:
        at = f" at {stage}" if stage else ""
        raise NotFound(f"{group} version {version} has no pending approval request{at}")
    stages = sorted({r.task.stage for r in found})
    if len(found) > 1 and stage is None:
        raise BadRequest(f"{group} version {version} has pending requests for {', '.join(stages)}: give --stage")
    return found[0]


def _cause(cause: Any) -> str | None:
    """A failed execution's cause, for people: a Lambda error's message rather than its JSON and stack trace."""
    if not isinstance(cause, str) or not cause:
        return None
    try:
        parsed = json.loads(cause)
    except ValueError:
        return one_line(cause)[:CAUSE_MAX]
    if isinstance(parsed, Mapping) and parsed.get("errorMessage"):
        kind = parsed.get("errorType")
        return one_line(f"{kind}: {parsed['errorMessage']}" if kind else str(parsed["errorMessage"]))[:CAUSE_MAX]
    return one_line(cause)[:CAUSE_MAX]


def _time(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return iso(value)
    return str(value)
