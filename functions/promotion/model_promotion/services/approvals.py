"""Ask a stage's approvers for a decision, show them what they sign, and record what they decide."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from ..config import ApprovalRequestSettings
from ..domain.approvals import (
    RETENTION_AFTER_EXPIRY,
    ApprovalRequest,
    DecisionRecord,
    StageTask,
    is_well_formed_approval_id,
    iso,
    new_approval_id,
    parse_time,
    read_decision_form,
    request_key,
)
from ..domain.errors import ApprovalClosed, ApprovalNotFound, InvalidDecision, InvalidPayload
from ..domain.identity import Approver, NotAuthorized, authorize
from ..domain.presentation import Page, approval_email, message_page, review_page
from ..domain.records import approved_model_parameter_name
from ..ports import ApprovalLink, ApprovalStore, ApprovedModels, Mailer, TaskClosed, Workflow

REJECTION_ERROR = "ApprovalRejected"
TASK_TOKEN_MAX = 2048


def request_approval(
    payload: Mapping[str, Any],
    *,
    settings: ApprovalRequestSettings,
    store: ApprovalStore,
    mailer: Mailer,
    approved_models: ApprovedModels,
) -> dict[str, Any]:
    """Stores the request with its task token, then mails each approver a link of their own.

    The request carries the version approved for this stage now (if any), read from the same SSM record
    an inference pipeline reads, so the approver compares the two before signing.

    The request is stored before any email goes out, so no one ever holds a link to nothing. A retry
    replaces the pending request and mails fresh links; links from the failed attempt stay valid.
    """
    token = payload.get("taskToken")
    if not isinstance(token, str) or not 1 <= len(token) <= TASK_TOKEN_MAX:
        raise InvalidPayload("'taskToken' must be a string of 1 to 2048 characters")
    task = StageTask.from_payload(payload)
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
    now: datetime,
    form_action: str,
    csrf: str,
    group_prefix: str,
) -> Page:
    """What a signed-in GET or HEAD shows. It never changes anything: mail scanners fetch every link."""
    request = _open_for(approval_id, viewer, store, now, group_prefix)
    if isinstance(request, Page):
        return request
    return _about(review_page(request, viewer.signature, form_action, csrf), request)


def decide(
    approval_id: str,
    form: Mapping[str, str],
    *,
    viewer: Approver,
    store: ApprovalStore,
    workflow: Workflow,
    now: datetime,
    form_action: str,
    csrf: str,
    group_prefix: str,
) -> Page:
    """Records a decision and resumes the execution, exactly once however many people click at once.

    The conditional claim in the store picks one winner. Only then is the task token used; if the
    workflow no longer waits for it, the claim becomes "expired", and if AWS fails, the claim is undone
    so the approver can simply try again.
    """
    request = _open_for(approval_id, viewer, store, now, group_prefix)
    if isinstance(request, Page):
        return request
    page = _decide_open(
        request, form, viewer=viewer, store=store, workflow=workflow, now=now, form_action=form_action, csrf=csrf
    )
    return _about(page, request)


def _decide_open(
    request: ApprovalRequest,
    form: Mapping[str, str],
    *,
    viewer: Approver,
    store: ApprovalStore,
    workflow: Workflow,
    now: datetime,
    form_action: str,
    csrf: str,
) -> Page:
    try:
        decision, comment = read_decision_form(form)
    except InvalidDecision as exc:
        return review_page(request, viewer.signature, form_action, csrf, error=str(exc))

    record = DecisionRecord(
        decision_id=secrets.token_hex(8),
        decision=decision,
        stage=request.task.stage,
        approver=viewer.identity,
        comment=comment,
        decided_at=iso(now),
        model_package_arn=request.task.model.package_arn,
        model_version=request.task.model.version,
        approver_name=viewer.name,
        approver_subject=viewer.subject,
    )
    try:
        token = store.claim(request.key, record, now)
    except ApprovalClosed as exc:
        return closed_page(exc)

    try:
        if record.decision.value == "approve":
            workflow.succeed_task(token, record.to_payload())
        else:
            workflow.fail_task(token, REJECTION_ERROR, json.dumps(record.to_payload()))
    except TaskClosed:
        store.mark_expired(request.key, record.decision_id)
        return message_page(
            410,
            "This approval request has expired",
            "The workflow stopped waiting for this decision before it arrived. Nothing was changed.",
        )
    except Exception:
        store.release(request.key, record.decision_id)
        raise
    store.forget_token(request.key)
    verb = "approved" if record.decision.value == "approve" else "rejected"
    return message_page(
        200,
        f"Recorded: {verb}",
        f"You ({record.signature}) {verb} {request.task.model.group} version {request.task.model.version} for "
        f"{request.task.stage} at {record.decided_at}. The workflow has been told.",
    )
