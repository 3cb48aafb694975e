"""AWS Step Functions behind the Workflow port."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.errors import ConfigurationError
from ..ports import ExecutionControl, ExecutionExists, TaskClosed, Workflow
from .aws import client, error_code, is_transient, transient

# Step Functions' answers for a token nobody waits on any more. None of them is a server fault.
CLOSED_TOKEN_CODES = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})
CAUSE_MAX = 32768


class StepFunctionsWorkflow(Workflow, ExecutionControl):
    def __init__(self, state_machine_arn: str = ""):
        self.state_machine_arn = state_machine_arn

    def execution_exists(self, name: str) -> bool:
        arn = f"{self.state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"
        try:
            client("stepfunctions").describe_execution(executionArn=arn)
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) == "ExecutionDoesNotExist":
                return False
            if is_transient(exc):
                raise transient("DescribeExecution", exc) from exc
            raise ConfigurationError(f"DescribeExecution refused: {error_code(exc)}") from exc
        return True

    def start(self, name: str, execution_input: Mapping[str, Any]) -> str:
        try:
            answer = client("stepfunctions").start_execution(
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
            answer = client("stepfunctions").describe_execution(executionArn=self.execution_arn(name))
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
            client("stepfunctions").stop_execution(executionArn=execution_arn, error=error, cause=cause[:CAUSE_MAX])
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                raise transient("StopExecution", exc) from exc
            raise ConfigurationError(f"StopExecution of {execution_arn} refused: {error_code(exc)}") from exc

    def succeed_task(self, task_token: str, output: Mapping[str, Any]) -> None:
        self._send("send_task_success", taskToken=task_token, output=json.dumps(output))

    def fail_task(self, task_token: str, error: str, cause: str) -> None:
        self._send("send_task_failure", taskToken=task_token, error=error, cause=cause[:CAUSE_MAX])

    def _send(self, action: str, **request: Any) -> None:
        try:
            getattr(client("stepfunctions"), action)(**request)
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) in CLOSED_TOKEN_CODES:
                raise TaskClosed(error_code(exc)) from exc
            if is_transient(exc):
                raise transient(action, exc) from exc
            raise ConfigurationError(f"{action} refused: {error_code(exc)}") from exc
