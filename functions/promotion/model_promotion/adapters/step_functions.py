"""AWS Step Functions behind the Workflow port."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.errors import ConfigurationError
from ..domain.task_history import TaskAttempt, latest_stay
from ..ports import (
    DeliveryUnknown,
    ExecutionControl,
    ExecutionExists,
    ExecutionHistory,
    TaskClosed,
    TaskResult,
    Workflow,
)
from .aws import AwsAdapter, AwsClients, error_code, is_transient, outcome_unknown, transient

# Step Functions' answers for a token nobody waits on any more. None of them is a server fault.
CLOSED_TOKEN_CODES = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})
CAUSE_MAX = 32768


class StepFunctionsWorkflow(AwsAdapter, Workflow, ExecutionControl, ExecutionHistory):
    def __init__(self, state_machine_arn: str = "", clients: AwsClients | None = None):
        super().__init__(clients)
        self.state_machine_arn = state_machine_arn

    def execution_exists(self, name: str) -> bool:
        arn = f"{self.state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"
        try:
            self.client("stepfunctions").describe_execution(executionArn=arn)
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) == "ExecutionDoesNotExist":
                return False
            if is_transient(exc):
                raise transient("DescribeExecution", exc) from exc
            raise ConfigurationError(f"DescribeExecution refused: {error_code(exc)}") from exc
        return True

    def start(self, name: str, execution_input: Mapping[str, Any]) -> str:
        try:
            answer = self.client("stepfunctions").start_execution(
                stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(execution_input)
            )
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) == "ExecutionAlreadyExists":
                raise ExecutionExists(name) from exc
            if is_transient(exc):
                raise transient("StartExecution", exc) from exc
            raise ConfigurationError(f"StartExecution refused: {error_code(exc)}") from exc
        return str(answer["executionArn"])

    def execution_arn(self, name: str) -> str:
        return f"{self.state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"

    def describe_execution(self, name: str) -> Mapping[str, Any] | None:
        try:
            answer = self.client("stepfunctions").describe_execution(executionArn=self.execution_arn(name))
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) == "ExecutionDoesNotExist":
                return None
            if is_transient(exc):
                raise transient("DescribeExecution", exc) from exc
            raise ConfigurationError(f"DescribeExecution refused: {error_code(exc)}") from exc
        answer.pop("ResponseMetadata", None)
        return answer

    def stop(self, execution_arn: str, error: str, cause: str) -> None:
        try:
            self.client("stepfunctions").stop_execution(
                executionArn=execution_arn, error=error, cause=cause[:CAUSE_MAX]
            )
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                raise transient("StopExecution", exc) from exc
            raise ConfigurationError(f"StopExecution of {execution_arn} refused: {error_code(exc)}") from exc

    def succeed_task(self, task_token: str, output: Mapping[str, Any]) -> None:
        self._send("send_task_success", taskToken=task_token, output=json.dumps(output))

    def fail_task(self, task_token: str, error: str, cause: str) -> None:
        self._send("send_task_failure", taskToken=task_token, error=error, cause=cause[:CAUSE_MAX])

    def _send(self, action: str, **request: Any) -> None:
        """One attempt, never the SDK's retries: a repeat of a send whose answer was lost meets a spent token
        (TaskTimedOut) and hides what happened. The caller reads the history instead (task_result)."""
        try:
            getattr(self.single_attempt_client("stepfunctions"), action)(**request)
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) in CLOSED_TOKEN_CODES:
                raise TaskClosed(error_code(exc)) from exc
            if outcome_unknown(exc) or _server_fault(exc):
                raise DeliveryUnknown(action) from exc
            if is_transient(exc):  # throttled or never connected: certainly not applied
                raise transient(action, exc) from exc
            raise ConfigurationError(f"{action} refused: {error_code(exc)}") from exc

    def task_result(self, execution_arn: str, task_token: str) -> TaskResult:
        """Reads the history back to the TaskScheduled event that carries the token; the first task event after
        it says how the wait ended (one task waits at a time in this state machine)."""
        seen: list[dict[str, Any]] = []
        for events in self._newest_first(execution_arn, include_data=True):
            seen.extend(events)
            scheduled = [e for e in seen if e.get("type") == "TaskScheduled" and _carries(e, task_token)]
            if scheduled:
                start = int(scheduled[-1]["id"])
                return _result_after(sorted((e for e in seen if int(e["id"]) > start), key=lambda e: int(e["id"])))
        return TaskResult("gone")

    def latest_stay(self, execution_arn: str, state: str) -> list[TaskAttempt]:
        """Reads the history back to the latest entry into `state` (domain/task_history.py reads the attempts)."""
        seen: list[dict[str, Any]] = []
        for events in self._newest_first(execution_arn, include_data=False):
            seen.extend(events)
            if any(_enters(e, state) for e in events):
                break
        return latest_stay(seen, state)

    def _newest_first(self, execution_arn: str, *, include_data: bool) -> Iterator[list[dict[str, Any]]]:
        """The execution's history events, a page at a time, newest page first, so a long history is read only as
        far back as a caller needs; nothing when the execution is gone. Callers order events by id, never by the
        order of the pages (moto ignores reverseOrder)."""
        try:
            pages = self.client("stepfunctions").get_paginator("get_execution_history")
            for page in pages.paginate(
                executionArn=execution_arn,
                reverseOrder=True,
                includeExecutionData=include_data,
                PaginationConfig={"PageSize": 1000},
            ):
                yield list(page.get("events", []))
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) == "ExecutionDoesNotExist":
                return
            if is_transient(exc) or outcome_unknown(exc):
                raise transient("GetExecutionHistory", exc) from exc
            raise ConfigurationError(f"GetExecutionHistory refused: {error_code(exc)}") from exc


def _enters(event: Mapping[str, Any], state: str) -> bool:
    return (
        event.get("type") == "TaskStateEntered" and (event.get("stateEnteredEventDetails") or {}).get("name") == state
    )


def _server_fault(exc: Exception) -> bool:
    response: Any = getattr(exc, "response", None) or {}
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0) >= 500


def _carries(event: Mapping[str, Any], task_token: str) -> bool:
    parameters = event.get("taskScheduledEventDetails", {}).get("parameters") or ""
    try:
        payload = json.loads(parameters).get("Payload") or {}
    except (ValueError, AttributeError):
        return False
    return isinstance(payload, Mapping) and payload.get("taskToken") == task_token


_ENDED = {"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"}


def _result_after(later: list[dict[str, Any]]) -> TaskResult:
    """`later` holds the events after TaskScheduled, oldest first: the first closing one decides."""
    for event in later:
        kind = event.get("type")
        if kind == "TaskSucceeded":
            return TaskResult("succeeded", output=event.get("taskSucceededEventDetails", {}).get("output"))
        if kind == "TaskFailed":
            details = event.get("taskFailedEventDetails", {})
            return TaskResult("failed", error=details.get("error"), cause=details.get("cause"))
        if kind == "TaskTimedOut":
            return TaskResult("timed-out")
        if kind in _ENDED:
            return TaskResult("gone")
    return TaskResult("waiting")
