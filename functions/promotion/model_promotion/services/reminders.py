"""Remind approvers before a request expires, and report how long the oldest one has waited."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..domain.approvals import RequestStatus, iso
from ..ports import ApprovalStore, Mailer
from .approvals import send_links


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
