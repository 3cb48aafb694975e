"""Ask a stage's approvers for a decision, show them what they sign, and record what they decide."""

from __future__ import annotations

import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from ..config import ApprovalRequestSettings
from ..domain.approvals import (
    RETENTION_AFTER_EXPIRY,
    ApprovalRequest,
    Decision,
    DecisionRecord,
    StageTask,
    is_well_formed_approval_id,
    iso,
    new_approval_id,
    parse_time,
    read_decision_form,
    request_key,
)
from ..domain.errors import (
    ApprovalClosed,
    ApprovalNotFound,
    DecisionNotAuthentic,
    InvalidDecision,
    InvalidPayload,
    ReauthenticationRequired,
    TransientAwsError,
    UnsignedTaskFailure,
)
from ..domain.identity import Approver, NotAuthorized, authorize
from ..domain.presentation import Page, approval_email, message_page, review_page
from ..domain.records import approved_model_parameter_name
from ..domain.rollbacks import earlier_approval, rollback_claims_mismatch
from ..domain.task_history import AWAIT_APPROVAL_STATE, PAGES_REJECTION, forged_failure_reason, sent_failure
from ..ports import (
    ApprovalLink,
    ApprovalStore,
    ApprovedModels,
    DecisionLog,
    DecisionSigner,
    DeliveryUnknown,
    ExecutionHistory,
    Mailer,
    ModelRegistry,
    QuorumMoved,
    TaskClosed,
    TaskResult,
    Workflow,
)

REJECTION_ERROR = PAGES_REJECTION
TASK_TOKEN_MAX = 2048
# Approvals of one request that land at the same moment are taken one at a time; after this many lost races
# the person is asked to try again.
QUORUM_ATTEMPTS = 5
# A decision's send is tried this often, pausing 0.5 s, then 1 s, before its delivery is left to the sweep.
DELIVERY_ATTEMPTS = 3
DELIVERY_PAUSE_SECONDS = 0.5


def request_approval(
    payload: Mapping[str, Any],
    *,
    settings: ApprovalRequestSettings,
    store: ApprovalStore,
    mailer: Mailer,
    approved_models: ApprovedModels,
    history: ExecutionHistory,
    log: DecisionLog | None = None,
    registry: ModelRegistry | None = None,
) -> dict[str, Any]:
    """Stores the request with its task token, then mails each approver a link of their own.

    A rollback's claims (the version, its earlier approval, who signed that and when, its batch results) are
    checked against the registry and the audit log first (domain/rollbacks.py): a request whose input says
    otherwise asks nobody and raises DecisionNotAuthentic, which the state machine records as tampering. So the
    review page shows only what the audit log and the registry hold.

    The request carries the version approved for this stage now (if any), read from the same SSM record
    an inference pipeline reads, so the approver compares the two before signing.

    The request is stored before any email goes out, so no one ever holds a link to nothing. A retry
    replaces the pending request and mails fresh links; links from the failed attempt stay valid.

    A retry (`attempt` > 0, the state's RetryCount) first asks the execution's history how the earlier attempt
    ended. Anyone with its task token could fail it with an error name the state retries; when somebody did
    (domain/task_history.py), nothing is asked again and UnsignedTaskFailure, which no Retry matches, takes
    the state machine to "Record failure", which records the tampering.
    """
    token = payload.get("taskToken")
    if not isinstance(token, str) or not 1 <= len(token) <= TASK_TOKEN_MAX:
        raise InvalidPayload("'taskToken' must be a string of 1 to 2048 characters")
    task = StageTask.from_payload(payload)
    attempt = payload.get("attempt", 0)
    if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 0:
        raise InvalidPayload("'attempt' must be the state's retry count, an integer of at least 0")
    if attempt and (forged := sent_failure(history.latest_stay(task.execution_arn, AWAIT_APPROVAL_STATE))):
        raise UnsignedTaskFailure(forged_failure_reason(forged, task.stage))
    requested_at = parse_time(_required(payload, "requestedAt"))
    timeout = payload.get("timeoutSeconds")
    if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 1:
        raise InvalidPayload("'timeoutSeconds' must be a positive integer")
    evidence = payload.get("evidence")
    if evidence is not None and not isinstance(evidence, Mapping):
        raise InvalidPayload("'evidence' must be an object or null")
    recipients = settings.approvers.get(task.stage)
    if not recipients:
        raise InvalidPayload(f"no approvers are configured for stage {task.stage!r}")
    if task.rollback is not None:
        if log is None or registry is None:
            raise InvalidPayload("a rollback's request needs the audit log and the registry to check it against")
        mismatch = rollback_claims_mismatch(
            task,
            evidence,
            earlier_approval(log.entries(task.model.group), task),
            registry.describe(task.model.package_arn),
        )
        if mismatch is not None:
            raise DecisionNotAuthentic(f"{mismatch}: nobody was asked to sign it")

    champion = approved_models.get(
        approved_model_parameter_name(settings.parameter_prefix, task.model.group, task.stage)
    )
    request = ApprovalRequest(
        key=request_key(task.execution_name, task.stage),
        task=task,
        requested_at=requested_at,
        expires_at=requested_at + timedelta(seconds=timeout),
        recipients=recipients,
        evidence=evidence,
        champion=champion,
        quorum=settings.quorum.get(task.stage, 1),
    )
    store.save_request(request, token, request.expires_at + RETENTION_AFTER_EXPIRY)
    send_links(request, store=store, mailer=mailer, base_url=settings.approval_base_url)
    return {"requestKey": request.key, "recipients": list(recipients), "expiresAt": iso(request.expires_at)}


def send_links(
    request: ApprovalRequest, *, store: ApprovalStore, mailer: Mailer, base_url: str, reminder: bool = False
) -> int:
    """Mails each recipient a link of their own to the request; each link is stored before its email goes.

    Reminders and an operator's resend use it too: fresh links to the same request, so the task token
    never changes.
    """
    purge_at = request.expires_at + RETENTION_AFTER_EXPIRY
    for recipient in request.recipients:
        link = ApprovalLink(new_approval_id(), request.key, recipient)
        store.save_link(link, purge_at)
        mailer.send(approval_email(request, recipient, f"{base_url}/approvals/{link.approval_id}", reminder=reminder))
    return len(request.recipients)


def _required(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidPayload(f"'{key}' must be a non-empty string")
    return value


def _open(approval_id: str, store: ApprovalStore) -> tuple[ApprovalLink, ApprovalRequest]:
    if not is_well_formed_approval_id(approval_id):
        raise ApprovalNotFound("This approval link is not valid. Check that it was copied whole.")
    link = store.find_link(approval_id)
    request = store.get_request(link.request_key) if link else None
    if link is None or request is None:
        raise ApprovalNotFound("This approval link is unknown, or its request closed long ago.")
    return link, request


def closed_page(error: ApprovalClosed) -> Page:
    if error.status == "EXPIRED":
        return message_page(410, "This approval request has expired", str(error) + " Nothing was changed.")
    return message_page(409, "This approval request was already decided", str(error) + " Nothing was changed.")


def _about(page: Page, request: ApprovalRequest) -> Page:
    """Names the request in the page's log context, so the log line says which model and stage it was."""
    task = request.task
    return replace(
        page,
        context={
            "model_package_group": task.model.group,
            "model_version": task.model.version,
            "stage": task.stage,
            "execution_arn": task.execution_arn,
        },
    )


def _open_for(
    approval_id: str, viewer: Approver, store: ApprovalStore, now: datetime, group_prefix: str
) -> ApprovalRequest | Page:
    """The request behind a link, if it is open and this viewer may decide it; otherwise the page saying why."""
    try:
        _, request = _open(approval_id, store)
        request.ensure_open(now)
    except ApprovalNotFound as exc:
        return message_page(404, "Approval link not found", str(exc))
    except ApprovalClosed as exc:
        return closed_page(exc)
    try:
        authorize(viewer, request.task.model, request.task.stage, group_prefix)
    except NotAuthorized as exc:
        return _about(
            message_page(403, "This decision is not yours to make", str(exc) + " Nothing was changed."), request
        )
    return request


def show_review(
    approval_id: str,
    *,
    viewer: Approver,
    store: ApprovalStore,
    signer: DecisionSigner,
    now: datetime,
    form_action: str,
    csrf: str,
    group_prefix: str,
    quorum: Mapping[str, int] | None = None,
    comment: str = "",
    notice: str | None = None,
    **_: Any,
) -> Page:
    """What a signed-in GET or HEAD shows. It never changes anything: mail scanners fetch every link.

    `comment` and `notice` refill the form after the approver was sent to sign in again at signing."""
    request = _open_for(approval_id, viewer, store, now, group_prefix)
    if isinstance(request, Page):
        return request
    # The progress shown counts only the approvals these pages sealed, as a decision would.
    request = replace(_with_quorum(request, quorum), approvals=_sealed_here(request, signer))
    mine = request.approved_by(viewer.subject)
    if mine is not None:
        return _about(_already_counted(request, mine), request)
    page = review_page(request, viewer.signature, form_action, csrf, comment=comment, notice=notice)
    return _about(page, request)


def _with_quorum(request: ApprovalRequest, quorum: Mapping[str, int] | None) -> ApprovalRequest:
    """The stricter of the quorum the request was made with and the one configured now."""
    needed = max(request.quorum, (quorum or {}).get(request.task.stage, 1))
    return request if needed == request.quorum else replace(request, quorum=needed)


def _already_counted(request: ApprovalRequest, mine: DecisionRecord) -> Page:
    return message_page(
        200,
        "Your approval is already counted",
        f"You ({mine.signature}) approved {request.task.model.group} version {request.task.model.version} for "
        f"{request.task.stage} at {mine.decided_at}. One person counts once: {request.progress}. The stage "
        "waits for another approver.",
    )


def decide(
    approval_id: str,
    form: Mapping[str, str],
    *,
    viewer: Approver,
    store: ApprovalStore,
    workflow: Workflow,
    signer: DecisionSigner,
    now: datetime,
    form_action: str,
    csrf: str,
    group_prefix: str,
    quorum: Mapping[str, int] | None = None,
    reauth_minutes: Mapping[str, int] | None = None,
    authenticated_at: datetime | None = None,
    **_: Any,
) -> Page:
    """Records a signed decision and, once the stage's quorum is reached, resumes the execution exactly once.

    Each decision is sealed (KMS MAC) before it is stored. An approval short of the quorum is added to the
    request under a condition on the approvals read, so concurrent approvers are counted one at a time and
    one person counts once. The quorum's last approval, or any rejection, claims the request (PENDING ->
    SENDING) and only then uses the task token. What the page says is what happened: a send whose answer was
    lost is looked up in the execution's history, and a claim whose delivery stays unconfirmed is left
    SENDING for the sweep to complete (services/reminders.py), never reported as "nothing was changed".

    Raises ReauthenticationRequired when the stage asks for a fresher sign-in than `authenticated_at`.
    """
    request = _open_for(approval_id, viewer, store, now, group_prefix)
    if isinstance(request, Page):
        return request
    request = _with_quorum(request, quorum)
    try:
        decision, comment = read_decision_form(form)
    except InvalidDecision as exc:
        return _about(
            review_page(request, viewer.signature, form_action, csrf, error=str(exc), comment=form.get("comment", "")),
            request,
        )
    limit = (reauth_minutes or {}).get(request.task.stage)
    if limit is not None and (authenticated_at is None or now - authenticated_at > timedelta(minutes=limit)):
        raise ReauthenticationRequired(request.task.stage, limit)
    page = _decide_open(
        request, decision, comment, viewer=viewer, store=store, workflow=workflow, signer=signer, now=now, quorum=quorum
    )
    return _about(page, request)


def _decide_open(
    request: ApprovalRequest,
    decision: Decision,
    comment: str | None,
    *,
    viewer: Approver,
    store: ApprovalStore,
    workflow: Workflow,
    signer: DecisionSigner,
    now: datetime,
    quorum: Mapping[str, int] | None,
) -> Page:
    task = request.task
    for _attempt in range(QUORUM_ATTEMPTS):
        seen = len(request.approvals)  # what the conditional write checks the item still holds
        request = replace(request, approvals=_sealed_here(request, signer))
        mine = request.approved_by(viewer.subject)
        if mine is not None:
            return _already_counted(request, mine)
        final = decision is Decision.REJECT or len(request.approvals) + 1 >= request.quorum
        record = DecisionRecord(
            decision_id=secrets.token_hex(8),
            decision=decision,
            stage=task.stage,
            approver=viewer.identity,
            comment=comment,
            decided_at=iso(now),
            model_package_arn=task.model.package_arn,
            model_version=task.model.version,
            approver_name=viewer.name,
            approver_subject=viewer.subject,
            identity_source=viewer.identity_source,
            execution_arn=task.execution_arn,
            approver_identifiers=tuple(sorted(viewer.identifiers)),
            cosigners=request.approvals if final else (),
        )
        record = record.with_seal(signer.seal(record.sealing_message()))
        try:
            if not final:
                store.add_approval(request.key, record, seen, now)
                return _partial_page(replace(request, approvals=(*request.approvals, record)), record)
            token = store.claim(request.key, record, seen, now)
        except QuorumMoved:
            fresh = store.get_request(request.key)
            if fresh is None:
                return message_page(404, "Approval link not found", "This request no longer exists.")
            request = _with_quorum(fresh, quorum)
            continue
        except ApprovalClosed as exc:
            return closed_page(exc)
        return _delivered_page(request, record, deliver(request, record, token, store=store, workflow=workflow))
    return message_page(
        409,
        "Several approvers decided at once",
        "Other approvals of this request landed while yours was being recorded. Nothing of yours was recorded; "
        "reload the review page and decide again.",
    )


def _sealed_here(request: ApprovalRequest, signer: DecisionSigner) -> tuple[DecisionRecord, ...]:
    """The stored approvals these pages sealed for this request: any other record in the item (written by someone
    who could write the table) counts for nothing. Checked by sealing again: this role may only GenerateMac."""
    task = request.task
    return tuple(
        a
        for a in request.approvals
        if a.seal
        and a.decision is Decision.APPROVE
        and not a.cosigners
        and a.is_for(task)
        and hmac.compare_digest(signer.seal(a.sealing_message()).encode(), a.seal.encode("utf-8", "replace"))
    )


# How a claimed decision's delivery ended, as the workflow's own history confirms it.
DELIVERED = "delivered"
EXPIRED = "expired"
OVERTAKEN = "overtaken"
UNCONFIRMED = "unconfirmed"


def deliver(
    request: ApprovalRequest,
    record: DecisionRecord,
    token: str,
    *,
    store: ApprovalStore,
    workflow: Workflow,
    attempts: int = DELIVERY_ATTEMPTS,
    pause: Callable[[float], None] = time.sleep,
) -> str:
    """Sends a claimed decision, and settles the claim by what is known to have happened.

    A spent token or a lost answer is settled from the execution's history (settle); while the history
    shows the wait still open, the send is repeated, which is always safe: a repeat that meets a spent
    token is settled the same way. A send throttled or never connected (certainly not applied) is
    repeated too, and if it never goes through the claim is released and the error propagates ("nothing
    was changed" is then true); a refusal (a permission) releases it at once. Safe to repeat: the sweep
    calls it for claims left SENDING.
    """
    uncertain = False  # an earlier attempt may have reached the workflow: never release after that
    for attempt in range(attempts):
        if attempt:
            pause(DELIVERY_PAUSE_SECONDS * attempt)
        try:
            if record.decision is Decision.APPROVE:
                workflow.succeed_task(token, record.to_payload())
            else:
                workflow.fail_task(token, REJECTION_ERROR, json.dumps(record.to_payload()))
        except (TaskClosed, DeliveryUnknown):
            outcome = settle(request, record, token, store=store, workflow=workflow)
            if outcome != UNCONFIRMED:
                return outcome
            uncertain = True
            continue
        except TransientAwsError:
            if attempt + 1 < attempts:
                continue
            if uncertain:
                return UNCONFIRMED
            store.release(request.key, record)
            raise
        except Exception:
            if uncertain:
                return UNCONFIRMED
            store.release(request.key, record)
            raise
        store.finish(request.key, record)
        return DELIVERED
    return UNCONFIRMED


def settle(
    request: ApprovalRequest, record: DecisionRecord, token: str, *, store: ApprovalStore, workflow: Workflow
) -> str:
    """What the history says became of the wait: our decision (finish), no decision (expired), another
    answer (overtaken: not this page's, RecordOutcome checks its seal), or still waiting (unconfirmed)."""
    try:
        result = workflow.task_result(request.task.execution_arn, token)
    except Exception:  # whatever stops the read, the claim stays SENDING for the sweep to settle
        return UNCONFIRMED
    if result.state in ("succeeded", "failed"):
        if _decision_id(result) == record.decision_id:
            store.finish(request.key, record)
            return DELIVERED
        store.mark_expired(request.key, record)
        return OVERTAKEN
    if result.state in ("timed-out", "gone"):
        store.mark_expired(request.key, record)
        return EXPIRED
    return UNCONFIRMED


def _decision_id(result: TaskResult) -> str | None:
    text = result.output if result.state == "succeeded" else result.cause
    try:
        sent = json.loads(text or "")
    except ValueError:
        return None
    return str(sent.get("decisionId")) if isinstance(sent, Mapping) and sent.get("decisionId") else None


def _partial_page(request: ApprovalRequest, record: DecisionRecord) -> Page:
    task = request.task
    return message_page(
        200,
        f"Recorded: approved ({len(request.approvals)} of {request.quorum})",
        f"You ({record.signature}) approved {task.model.group} version {task.model.version} for {task.stage} at "
        f"{record.decided_at}. The stage needs {request.quorum} distinct approvers: {request.progress}. It waits "
        "for the others; any one rejection still rejects.",
    )


def _delivered_page(request: ApprovalRequest, record: DecisionRecord, delivery: str) -> Page:
    task = request.task
    verb = "approved" if record.decision is Decision.APPROVE else "rejected"
    what = f"{task.model.group} version {task.model.version} for {task.stage}"
    if delivery == DELIVERED:
        signers = ", ".join(a.signature for a in record.approvals) if len(record.approvals) > 1 else ""
        return message_page(
            200,
            f"Recorded: {verb}",
            f"You ({record.signature}) {verb} {what} at {record.decided_at}. The workflow has been told."
            + (f" Signed by {signers}." if signers else ""),
        )
    if delivery == UNCONFIRMED:
        return message_page(
            202,
            f"Your decision is saved: {verb}",
            f"You ({record.signature}) {verb} {what} at {record.decided_at}. Your signed decision is stored, but "
            "the workflow's confirmation did not arrive. Nothing more is needed from you: it is delivered "
            "automatically within minutes, and this link will then show it as decided.",
        )
    if delivery == OVERTAKEN:
        return message_page(
            409,
            "This request was answered another way",
            "The workflow stopped waiting for this decision: it received an answer that did not come from this "
            "page, which is being checked. Your decision was not recorded.",
        )
    return message_page(
        410,
        "This approval request has expired",
        "The workflow stopped waiting for this decision before it arrived. Nothing was changed.",
    )
