"""Step Functions task: score a stage's batch input with the version just approved for that stage.

It reads the model artifact (model.tar.gz) named by the registry and the stage's input CSV, and
writes predictions where SageMaker batch transform would: <output prefix>/.../input.csv.out.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from .scoring import ScoringError, format_predictions, load_model, parse_feature_rows, score_rows

logger = Logger()
tracer = Tracer()
metrics = Metrics()

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()/-]+$")
_STAGE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_GROUP = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


class BatchConfigurationError(Exception):
    """A configuration value is missing or malformed."""


class BatchInputError(Exception):
    """The task payload or the stage's batch input is missing or malformed. Not retried."""


@dataclass(frozen=True)
class BatchSettings:
    bucket: str
    input_prefix: str
    output_prefix: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> BatchSettings:
        bucket = environ.get("BATCH_DATA_BUCKET", "")
        input_prefix = environ.get("BATCH_INPUT_PREFIX", "").strip("/")
        output_prefix = environ.get("BATCH_OUTPUT_PREFIX", "").strip("/")
        if not _BUCKET.match(bucket):
            raise BatchConfigurationError(f"BATCH_DATA_BUCKET={bucket!r} is not a valid bucket name")
        for name, value in (("BATCH_INPUT_PREFIX", input_prefix), ("BATCH_OUTPUT_PREFIX", output_prefix)):
            if not _PREFIX.match(value):
                raise BatchConfigurationError(f"{name}={value!r} is not a valid S3 key prefix")
        return cls(bucket, input_prefix, output_prefix)


@cache
def settings() -> BatchSettings:
    return BatchSettings.from_environ(os.environ)


@cache
def s3() -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", config=Config(retries={"mode": "standard", "max_attempts": 5}))


def _read(uri: str, what: str) -> bytes:
    from botocore.exceptions import ClientError

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        return s3().get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in {"NoSuchKey", "NoSuchBucket", "404", "AccessDenied"}:
            raise BatchInputError(f"{what} {uri} cannot be read: {code}") from exc
        raise


def _task(event: Any) -> tuple[str, int, str, str]:
    if not isinstance(event, Mapping) or not isinstance(event.get("model"), Mapping):
        raise BatchInputError("the payload must have a 'model' object")
    model, stage = event["model"], event.get("stage")
    group, version, model_data_url = model.get("group"), model.get("version"), model.get("modelDataUrl")
    if not isinstance(group, str) or not _GROUP.match(group):
        raise BatchInputError("'model.group' must be a model package group name")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BatchInputError("'model.version' must be a positive integer")
    if not isinstance(stage, str) or not _STAGE.match(stage):
        raise BatchInputError("'stage' must be a stage name")
    if not isinstance(model_data_url, str) or not model_data_url.startswith("s3://"):
        raise BatchInputError("the model package has no s3:// ModelDataUrl to score with")
    return group, version, stage, model_data_url


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    config = settings()
    group, version, stage, model_data_url = _task(event)
    logger.append_keys(model_package_group=group, model_version=version, stage=stage)
    input_uri = f"s3://{config.bucket}/{config.input_prefix}/{stage}/input.csv"
    # Deterministic per version and stage, so a retry overwrites its own output and nothing else.
    output_uri = f"s3://{config.bucket}/{config.output_prefix}/{group}/v{version}/{stage}/input.csv.out"

    started = time.perf_counter()
    try:
        model = load_model(_read(model_data_url, "model artifact"))
        rows = parse_feature_rows(_read(input_uri, "batch input").decode("utf-8"))
        predictions = score_rows(model, rows)
    except (ScoringError, UnicodeDecodeError) as exc:
        raise BatchInputError(str(exc)) from exc
    bucket, _, key = output_uri.removeprefix("s3://").partition("/")
    s3().put_object(Bucket=bucket, Key=key, Body=format_predictions(predictions).encode(), ContentType="text/csv")
    duration = time.perf_counter() - started

    logger.info("batch scored", rows=len(rows), duration_seconds=round(duration, 3), output_uri=output_uri)
    metrics.add_dimension(name="stage", value=stage)
    metrics.add_metric(name="BatchRowsScored", unit=MetricUnit.Count, value=len(rows))
    return {"inputUri": input_uri, "outputUri": output_uri, "rowCount": len(rows), "durationSeconds": duration}
