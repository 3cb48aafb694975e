"""How a stay in a `.waitForTaskToken` state ended, read from the execution's history (pure).

Anyone with a task token (it is in every TaskScheduled event) and `states:SendTaskFailure` can fail the wait
with any error name and cause they like: the state's Retry and Catch see only that name. Only the history
tells a failure of the state's own Lambda invocation from a failure somebody sent:

- Step Functions records TaskSubmitted when the Lambda invocation of a `.waitForTaskToken` task returns
  without an error. A TaskFailed after it can only come from SendTaskFailure: the function was done.
- A timeout is a TaskTimedOut event; a TaskFailed named `States.Timeout` was sent.

The approval pages send exactly one failure: a sealed `ApprovalRejected`, whose seal RecordOutcome verifies.
Every other sent failure is somebody else's, and counts as tampering.

What the history cannot show: a failure sent in the moment between TaskScheduled and the function's return
looks like a failure of the function. It is retried like one (a fresh request, mailed again), and counts as
no decision either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# The state of statemachines/promotion.asl.json that waits for the approval pages.
AWAIT_APPROVAL_STATE = "Await stage approval"
# The only failure the approval pages send (services/approval_web.py), sealed.
PAGES_REJECTION = "ApprovalRejected"


@dataclass(frozen=True)
class TaskAttempt:
    """One attempt of a task state: its Lambda invocation and, for a callback task, the wait that followed."""

    submitted: bool = False  # the invocation returned: from here on only a send or a timeout ends the wait
    ending: str | None = None  # "succeeded", "failed", "timed-out", or None while it runs
    error: str | None = None

    @property
    def failed_by_a_send(self) -> bool:
        if self.ending != "failed":
            return False
        return self.submitted or self.error == "States.Timeout"


_ENDINGS = {"TaskSucceeded": "succeeded", "TaskFailed": "failed", "TaskTimedOut": "timed-out"}


def latest_stay(events: Iterable[Mapping[str, Any]], state: str) -> list[TaskAttempt]:
    """The attempts (a first try and its retries) of the latest entry into `state`, oldest first.

    `events` are the execution's history events in any order; they are put in order by id. An execution
    that never entered the state has no attempts.
    """
    ordered = sorted(events, key=lambda e: int(e.get("id") or 0))
    attempts: list[TaskAttempt] = []
    inside = False
    for event in ordered:
        kind = event.get("type")
        if kind == "TaskStateEntered":
            inside = (event.get("stateEnteredEventDetails") or {}).get("name") == state
            if inside:
                attempts = []
        elif kind == "TaskStateExited":
            inside = False
        elif not inside:
            continue
        elif kind == "TaskScheduled":
            attempts.append(TaskAttempt())
        elif attempts and kind == "TaskSubmitted":
            attempts[-1] = TaskAttempt(submitted=True)
        elif attempts and kind in _ENDINGS and attempts[-1].ending is None:
            error = (event.get("taskFailedEventDetails") or {}).get("error") if kind == "TaskFailed" else None
            attempts[-1] = TaskAttempt(attempts[-1].submitted, _ENDINGS[kind], error)
    return attempts


def sent_failure(attempts: Sequence[TaskAttempt]) -> TaskAttempt | None:
    """The first attempt somebody other than the approval pages failed with SendTaskFailure, or None.

    A sent `ApprovalRejected` is the pages' own; RecordOutcome verifies its seal. Only the last attempt can
    carry it: the state's Retry never matches it, so an earlier attempt that ended with it was not retried.
    """
    for position, attempt in enumerate(attempts):
        last = position == len(attempts) - 1
        if attempt.failed_by_a_send and not (last and attempt.error == PAGES_REJECTION):
            return attempt
    return None


def forged_failure_reason(attempt: TaskAttempt, stage: str) -> str:
    """What the audit log and the operators' email say of a failure sent by somebody other than the pages."""
    return (
        f"the {stage} approval was failed with SendTaskFailure (error {attempt.error or 'none'}) by someone other "
        "than the approval pages, with a task token read from the execution's history. It was refused as "
        "tampering and counts as no decision."
    )
