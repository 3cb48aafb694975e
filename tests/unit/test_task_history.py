"""How a stay in the approval wait ended, read from an execution's history (domain/task_history.py).

The events are shaped as GetExecutionHistory returns them for a `lambda:invoke.waitForTaskToken` task.
"""

from __future__ import annotations

import random
from typing import Any

from model_promotion.domain.task_history import (
    AWAIT_APPROVAL_STATE,
    TaskAttempt,
    latest_stay,
    sent_failure,
)


class History:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def add(self, kind: str, **details: Any) -> History:
        event: dict[str, Any] = {"id": len(self.events) + 1, "type": kind}
        event.update(details)
        self.events.append(event)
        return self

    def enter(self, state: str = AWAIT_APPROVAL_STATE) -> History:
        return self.add("TaskStateEntered", stateEnteredEventDetails={"name": state})

    def leave(self, state: str = AWAIT_APPROVAL_STATE) -> History:
        return self.add("TaskStateExited", stateExitedEventDetails={"name": state})

    def attempt(self, *, submitted: bool, ending: str | None, error: str | None = None) -> History:
        self.add("TaskScheduled").add("TaskStarted")
        if submitted:
            self.add("TaskSubmitted")
        if ending == "TaskFailed":
            self.add("TaskFailed", taskFailedEventDetails={"error": error, "cause": "anything"})
        elif ending:
            self.add(ending)
        return self


def test_a_failure_after_the_function_returned_was_sent_and_counts_as_tampering() -> None:
    history = History().enter().attempt(submitted=True, ending="TaskFailed", error="TransientAwsError")
    assert sent_failure(latest_stay(history.events, AWAIT_APPROVAL_STATE)) == TaskAttempt(
        True, "failed", "TransientAwsError"
    )


def test_a_failure_of_the_function_itself_is_no_send() -> None:
    history = History().enter().attempt(submitted=False, ending="TaskFailed", error="TransientAwsError")
    assert sent_failure(latest_stay(history.events, AWAIT_APPROVAL_STATE)) is None


def test_the_pages_sealed_rejection_ends_the_stay_as_theirs() -> None:
    history = History().enter().attempt(submitted=True, ending="TaskFailed", error="ApprovalRejected")
    assert sent_failure(latest_stay(history.events, AWAIT_APPROVAL_STATE)) is None


def test_a_sent_timeout_is_a_send_and_a_real_timeout_is_not() -> None:
    sent = History().enter().attempt(submitted=True, ending="TaskFailed", error="States.Timeout")
    real = History().enter().attempt(submitted=True, ending="TaskTimedOut")
    assert sent_failure(latest_stay(sent.events, AWAIT_APPROVAL_STATE)) is not None
    assert sent_failure(latest_stay(real.events, AWAIT_APPROVAL_STATE)) is None


def test_a_retry_forced_by_a_sent_error_is_found_in_the_attempts_before_it() -> None:
    # A sent, retried error name, then the retry running now
    history = (
        History()
        .enter()
        .attempt(submitted=True, ending="TaskFailed", error="Lambda.ServiceException")
        .attempt(submitted=False, ending=None)
    )
    attempts = latest_stay(history.events, AWAIT_APPROVAL_STATE)
    assert [a.ending for a in attempts] == ["failed", None]
    assert sent_failure(attempts) == attempts[0]


def test_only_the_latest_entry_into_the_state_counts() -> None:
    # dev's stay was tampered with and recorded; test's stay, later, is clean
    history = (
        History()
        .enter()
        .attempt(submitted=True, ending="TaskFailed", error="Anything")
        .leave()
        .enter("Record failure")
        .leave("Record failure")
        .enter()
        .attempt(submitted=True, ending="TaskSucceeded")
        .leave()
        .enter("Plan batch scoring")
        .attempt(submitted=False, ending="TaskFailed", error="ConfigurationError")
    )
    assert latest_stay(history.events, AWAIT_APPROVAL_STATE) == [TaskAttempt(True, "succeeded")]


def test_events_are_read_in_id_order_whatever_the_order_of_the_pages() -> None:
    history = History().enter().attempt(submitted=True, ending="TaskFailed", error="X")
    shuffled = list(history.events)
    random.Random(7).shuffle(shuffled)
    assert latest_stay(shuffled, AWAIT_APPROVAL_STATE) == [TaskAttempt(True, "failed", "X")]


def test_an_execution_that_never_waited_has_no_attempts() -> None:
    assert latest_stay(History().enter("Start").events, AWAIT_APPROVAL_STATE) == []
    assert sent_failure([]) is None
