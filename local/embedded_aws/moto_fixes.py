"""Where moto differs from AWS in a way this project depends on, the difference is closed here.

Each fix names the AWS behaviour it restores. Keep this list short and delete a fix once moto has it.
"""

from __future__ import annotations

from typing import Any


def keep_send_task_failure_cause() -> None:
    """SendTaskFailure's `cause` reaches the execution in AWS (as the caught error's Cause).

    moto's response layer passes only `error` to its Step Functions backend, although the backend and
    its ASL interpreter accept `cause`; without this the rejection reason would be lost locally.
    """
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def send_task_failure(self: Any) -> Any:
        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    StepFunctionResponse.send_task_failure = send_task_failure  # type: ignore[method-assign]


def add_stop_transform_job() -> None:
    """StopTransformJob exists in AWS; moto has no response for it. The backend method is the local
    transform runner's (transform_runner.py), which really stops a running job."""
    from moto.core.responses import EmptyResult
    from moto.sagemaker.responses import SageMakerResponse

    def stop_transform_job(self: Any) -> Any:
        self.sagemaker_backend.stop_transform_job(self._get_param("TransformJobName"))
        return EmptyResult()

    SageMakerResponse.stop_transform_job = stop_transform_job  # type: ignore[attr-defined]


def stop_execution_aborts_at_once() -> None:
    """StopExecution aborts an execution at once in AWS, whatever it waits on, with the given error and cause.

    moto's response layer drops `error` and `cause`; its ASL interpreter marks the program stopped but a
    task-token wait stays blocked until its own timeout (the execution stays RUNNING for hours), and the
    woken task's failure would then overwrite the stop as FAILED. Here the stop wakes the execution's
    callbacks and a stopped program stays stopped, so DescribeExecution says ABORTED, as in AWS.
    """
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackOutcomeFailure
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
    from moto.stepfunctions.parser.backend.execution import Execution
    from moto.stepfunctions.responses import StepFunctionResponse

    set_error = Environment.set_error

    def set_error_unless_stopped(self: Any, error: Any) -> None:
        if not isinstance(self._program_state, ProgramStopped):
            set_error(self, error)

    def stop(self: Any, stop_date: Any, error: str | None, cause: str | None) -> None:
        worker = self.exec_worker
        if worker is None:
            return
        worker.stop(stop_date=stop_date, cause=cause, error=error)
        pool = worker.env.callback_pool_manager
        for callback_id, endpoint in list(pool._pool.items()):
            endpoint.notify(CallbackOutcomeFailure(callback_id, error="States.Runtime", cause="execution stopped"))

    def stop_execution(self: Any) -> Any:
        arn = self._get_param("executionArn")
        backend = self.stepfunction_backend
        backend._validate_execution_arn(arn)
        machine = backend._get_state_machine_for_execution(arn)
        execution = next((e for e in machine.executions if e.execution_arn == arn), None)
        if execution is None:
            return StepFunctionResponse._stop_execution_original(self)  # moto's own ExecutionDoesNotExist
        stopped_at = utcnow()
        execution.stop(stop_date=stopped_at, error=self._get_param("error"), cause=self._get_param("cause"))
        return ActionResult({"stopDate": stopped_at})

    Environment.set_error = set_error_unless_stopped  # type: ignore[method-assign]
    Execution.stop = stop  # type: ignore[method-assign]
    StepFunctionResponse._stop_execution_original = StepFunctionResponse.stop_execution  # type: ignore[attr-defined]
    StepFunctionResponse.stop_execution = stop_execution  # type: ignore[method-assign]


def atomic_dynamodb_writes() -> None:
    """A DynamoDB conditional write is atomic in AWS: of two racing writes on one condition, one fails.

    moto's server handles requests on threads and its DynamoDB backend takes no lock, so two racing
    conditional updates could both pass their condition. Serialising the write operations restores the
    guarantee the approval pages' "exactly one decision" rests on. Reads take the lock too: moto applies a
    transaction's writes and rolls them back when a condition fails, and a read in between would see a write
    that never happened (the audit chain's tail, read by a racing append).
    """
    import functools
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("put_item", "update_item", "delete_item", "transact_write_items", "get_item", "query", "scan"):
        original = getattr(DynamoDBBackend, name)

        def locked(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return _original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, functools.wraps(original)(locked))


def a_closed_task_token_answers_task_timed_out() -> None:
    """A task token is good for one SendTaskSuccess or SendTaskFailure in AWS: once the task is closed, a
    second send answers TaskTimedOut ("Provided task does not exist anymore"), which is what an SDK retry
    of a send whose answer was lost meets. moto accepts the second send and ignores it, which would hide
    how the product handles that answer.
    """
    import threading

    from moto.stepfunctions.parser import api
    from moto.stepfunctions.parser.api import TaskTimedOut
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    # The interpreter's errors name their code in `code`, but moto's error renderer reads `TYPE`: without
    # this, TaskTimedOut, TaskDoesNotExist and InvalidToken reach the caller with an empty error code.
    for error in vars(api).values():
        if isinstance(error, type) and issubclass(error, Exception) and getattr(error, "code", None):
            error.TYPE = error.code  # type: ignore[attr-defined]
            error.STATUS = getattr(error, "status_code", 400)  # type: ignore[attr-defined]

    closed: set[str] = set()
    lock = threading.Lock()

    def closing(original: Any) -> Any:
        def send(self: Any, task_token: str, *args: Any, **kwargs: Any) -> Any:
            with lock:
                if task_token in closed:
                    raise TaskTimedOut("Provided task does not exist anymore")
            answer = original(self, task_token, *args, **kwargs)
            with lock:
                closed.add(task_token)
            return answer

        return send

    StepFunctionsParserBackend.send_task_success = closing(StepFunctionsParserBackend.send_task_success)  # type: ignore[method-assign]
    StepFunctionsParserBackend.send_task_failure = closing(StepFunctionsParserBackend.send_task_failure)  # type: ignore[method-assign]


def created_by_is_the_caller() -> None:
    """SageMaker records who registered a model package in CreatedBy (UserContext) from the caller's credentials:
    IamIdentity.Arn is the calling principal (an assumed-role session, an IAM user), with its PrincipalId; the
    user profile fields only when the call comes from a Studio user profile (SageMaker API Reference, UserContext
    and IamIdentity: "associated with model package groups, model packages and project entities").

    moto gives every package the same invented Studio profile, "fake-user-profile-name", whoever calls: a
    registrant would be the same fictitious person for every version. Here CreatedBy is the identity the
    embedded AWS's STS reports for the request's access key (sts:GetCallerIdentity): an assumed role's session
    for credentials from AssumeRole, moto's default user for anything else.
    """
    from moto.sagemaker.responses import SageMakerResponse
    from moto.sts.models import sts_backends

    original = SageMakerResponse.create_model_package

    def create_model_package(self: Any) -> Any:
        answer = original(self)
        arn = (getattr(answer, "result", None) or {}).get("ModelPackageArn")
        package = next((p for p in self.sagemaker_backend.model_packages.values() if p.arn == arn), None)
        if package is not None:
            account = self.current_account
            principal_id, caller_arn, _ = sts_backends[account]["global"].get_caller_identity(
                self.get_access_key(), self.region
            )
            package.created_by = {"IamIdentity": {"Arn": caller_arn, "PrincipalId": principal_id}}
        return answer

    SageMakerResponse.create_model_package = create_model_package  # type: ignore[method-assign]


def apply_all() -> None:
    atomic_dynamodb_writes()
    keep_send_task_failure_cause()
    add_stop_transform_job()
    stop_execution_aborts_at_once()
    a_closed_task_token_answers_task_timed_out()
    created_by_is_the_caller()
