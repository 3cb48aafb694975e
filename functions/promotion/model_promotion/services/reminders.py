"""Remind approvers before a request expires, and report how long the oldest one has waited."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..domain.approvals import RequestStatus, iso
from ..domain.errors import TransientAwsError
from ..ports import ApprovalStore, Mailer, Workflow
from .approvals import DELIVERED, EXPIRED, OVERTAKEN, UNCONFIRMED, deliver, send_links

# A claim younger than this is most likely still in the hands of the approval page that made it (a function
# runs 30 s at most), so the sweep leaves it alone; completing it anyway would be harmless (deliver() settles a
# spent token from the history), only a wasted send.
SENDING_GRACE = timedelta(seconds=60)


def sweep_pending(
    *, store: ApprovalStore, mailer: Mailer, base_url: str, now: datetime, remind_before: timedelta
) -> dict[str, Any]:
    """Runs on a schedule. Each pending request gets one reminder once it is within `remind_before` of
    expiring; the mark is set before mailing, so overlapping sweeps never remind twice.

    A request past its expiry is closed as EXPIRED (its execution's own timeout has recorded the expiry):
    left PENDING until DynamoDB's TTL removes it, weeks later, it would keep the "oldest pending approval"
    alarm raised long after anyone could still decide it.
    """
    expired = []
    pending = []
    for request in store.pending():
        if request.expires_at <= now:
            store.close(request.key, RequestStatus.EXPIRED)
            expired.append(request.key)
        else:
            pending.append(request)
    reminded = []
    for request in pending:
        if request.reminder_due(now, remind_before) and store.mark_reminded(request.key, now):
            send_links(request, store=store, mailer=mailer, base_url=base_url, reminder=True)
            reminded.append(request.key)
    oldest = max(((now - r.requested_at).total_seconds() for r in pending), default=0.0)
    return {
        "pending": len(pending),
        "expired": expired,
        "reminded": reminded,
        "oldestPendingSeconds": oldest,
        "sweptAt": iso(now),
    }


def complete_deliveries(
    *, store: ApprovalStore, workflow: Workflow, now: datetime, grace: timedelta = SENDING_GRACE
) -> dict[str, list[str]]:
    """Finishes every decision left SENDING: its answer was lost, or the function died between claim and send.

    Each one is settled from the execution's history (services/approvals.deliver): already delivered, it is
    marked decided; still awaited, its sealed decision is sent again; no longer awaited, it is marked
    expired. Safe to repeat and to run beside a live approval page: deliver() never sends twice to a wait
    that has its answer.
    """
    done: dict[str, list[str]] = {DELIVERED: [], EXPIRED: [], OVERTAKEN: [], UNCONFIRMED: []}
    for request, token in store.sending():
        if request.decision is None or (request.sending_since and now - request.sending_since < grace):
            continue
        try:
            outcome = deliver(request, request.decision, token, store=store, workflow=workflow)
        except TransientAwsError:
            outcome = UNCONFIRMED
        done[outcome].append(request.key)
    return done
