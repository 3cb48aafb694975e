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


def apply_all() -> None:
    keep_send_task_failure_cause()
    add_stop_transform_job()
