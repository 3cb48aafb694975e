"""SageMaker batch transform on the embedded AWS: jobs really score their input with the real model.

moto records a transform job as Completed the moment it is created and runs nothing. Here a created job
is InProgress; a worker reads the model package's model.tar.gz and the job's input from the embedded S3,
scores it with the scikit-learn container stand-in, writes <S3OutputPath>/<input name>.out as SageMaker
does, sets the job Completed, Failed (with a FailureReason) or Stopped, and publishes the same
"SageMaker Transform Job State Change" event AWS does, which the template routes to its handler.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

from moto.sagemaker.exceptions import ResourceInUseException, ValidationError
from moto.sagemaker.models import FakeTransformJob, SageMakerModelBackend

from .eventbridge import EventBus, sagemaker_event
from .sklearn_container import ScoringError, format_predictions, load_model, parse_feature_rows, score_rows

log = logging.getLogger("embedded_aws.transform")
DETAIL_TYPE = "SageMaker Transform Job State Change"


class LocalTransformRunner:
    def __init__(self, bus: EventBus, aws_endpoint: str, region: str, seconds_per_job: float = 0.0):
        self.bus = bus
        self.region = region
        self.aws_endpoint = aws_endpoint
        # A floor on each job's run time, so a test can stop a job while it runs.
        self.seconds_per_job = seconds_per_job
        self._stop_requested: set[str] = set()
        self._lock = threading.Lock()

    def install(self) -> None:
        runner = self
        original_create = SageMakerModelBackend.create_transform_job

        def create_transform_job(backend: SageMakerModelBackend, *args: Any, **kwargs: Any) -> FakeTransformJob:
            name = kwargs.get("transform_job_name") or args[0]
            if name in backend.transform_jobs:
                # AWS: job names are unique per account and region.
                raise ResourceInUseException(
                    message=f"Job name must be unique within an AWS account and region ({name} exists)"
                )
            job = original_create(backend, *args, **kwargs)
            job.transform_job_status = "InProgress"
            job.transform_end_time = None
            threading.Thread(target=runner._run, args=(backend, job), name=f"transform-{name}", daemon=True).start()
            return job

        def stop_transform_job(backend: SageMakerModelBackend, transform_job_name: str) -> None:
            job = backend.transform_jobs.get(transform_job_name)
            if job is None:
                raise ValidationError(message=f"Could not find transform job '{transform_job_name}'.")
            if job.transform_job_status == "InProgress":
                job.transform_job_status = "Stopping"
                with runner._lock:
                    runner._stop_requested.add(transform_job_name)

        SageMakerModelBackend.create_transform_job = create_transform_job  # type: ignore[method-assign]
        SageMakerModelBackend.stop_transform_job = stop_transform_job  # type: ignore[attr-defined]

    def _stopping(self, name: str) -> bool:
        with self._lock:
            return name in self._stop_requested

    def _run(self, backend: SageMakerModelBackend, job: FakeTransformJob) -> None:
        deadline = time.monotonic() + self.seconds_per_job
        try:
            archive_uri = self._model_data_url(backend, job.model_name)
            source = job.transform_input["DataSource"]["S3DataSource"]["S3Uri"]  # type: ignore[index]
            s3 = self._s3_as_the_models_role(backend, job.model_name)
            model = load_model(_get(s3, archive_uri, "model artifact"))
            rows = parse_feature_rows(_get(s3, source, "input").decode("utf-8"))
            predictions = format_predictions(score_rows(model, rows))
            while time.monotonic() < deadline and not self._stopping(job.transform_job_name):
                time.sleep(0.05)
            if self._stopping(job.transform_job_name):
                self._finish(backend, job, "Stopped")
                return
            output = f"{job.transform_output['S3OutputPath'].rstrip('/')}/{source.rsplit('/', 1)[-1]}.out"
            bucket, key = output.removeprefix("s3://").split("/", 1)
            s3.put_object(Bucket=bucket, Key=key, Body=predictions.encode(), ContentType="text/csv")
            self._finish(backend, job, "Completed")
        except (ScoringError, UnicodeDecodeError, _InputMissing, KeyError, ValidationError) as exc:
            self._finish(backend, job, "Failed", f"ClientError: {exc}")
        except Exception as exc:  # a real job fails with a reason too; nothing here may kill the stack
            log.exception("transform job %s crashed", job.transform_job_name)
            self._finish(backend, job, "Failed", f"InternalServerError: {type(exc).__name__}: {exc}")

    def _s3_as_the_models_role(self, backend: SageMakerModelBackend, model_name: str) -> Any:
        """SageMaker reads the model and the batch and writes the output as the model's execution role (the
        role CreateModel passed), so that role's policy is what the strict embedded AWS checks."""
        from .strict.sdk_hook import client_as

        role = backend.describe_model(model_name).execution_role_arn
        return client_as(role, "s3", region=self.region, endpoint_url=self.aws_endpoint)

    @staticmethod
    def _model_data_url(backend: SageMakerModelBackend, model_name: str) -> str:
        model = backend.describe_model(model_name)
        containers = list(model.containers or []) or [model.primary_container or {}]
        container = containers[0]
        if container.get("ModelDataUrl"):
            return str(container["ModelDataUrl"])
        package = backend.describe_model_package(container["ModelPackageName"])
        return str(package.inference_specification["Containers"][0]["ModelDataUrl"])

    def _finish(self, backend: SageMakerModelBackend, job: FakeTransformJob, status: str, reason: str = "") -> None:
        job.transform_job_status = status
        job.failure_reason = reason
        job.transform_end_time = datetime.now(UTC)
        log.info("transform job %s %s %s", job.transform_job_name, status, reason)
        detail = json.loads(json.dumps(job.response_object, default=_epoch_millis))
        self.bus.put(sagemaker_event(backend, DETAIL_TYPE, job.arn, detail))


class _InputMissing(Exception):
    pass


def _get(s3: Any, uri: str, what: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey as exc:
        raise _InputMissing(f"the {what} {uri} does not exist") from exc
    except s3.exceptions.NoSuchBucket as exc:
        raise _InputMissing(f"the bucket of the {what} {uri} does not exist") from exc


def _epoch_millis(value: Any) -> Any:
    """Times in SageMaker's state-change events are epoch milliseconds."""
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    return str(value)
