"""Turn a stage's batch predictions into the evidence the next stage's approver reads."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..domain.approvals import StageTask
from ..domain.errors import InvalidPayload
from ..domain.metrics import MetricsError, ProblemType, compute_metrics, parse_numeric_column
from ..ports import ObjectStore

LABELS_FILE = "labels.csv"
METRICS_FILE = "metrics.json"


def sibling_uri(uri: str, name: str) -> str:
    return uri.rsplit("/", 1)[0] + "/" + name


def collect_metrics(payload: Mapping[str, Any], *, objects: ObjectStore) -> dict[str, Any]:
    """Reads predictions and, where the stage's input has a labels.csv beside it, the ground truth.

    The metrics are stored as metrics.json next to the predictions, and returned small enough to
    travel in the execution state and into the next approval email.
    """
    task = StageTask.from_payload(payload)
    batch = payload.get("batch")
    if not isinstance(batch, Mapping):
        raise InvalidPayload("'batch' must be the batch inference result object")
    input_uri, output_uri = batch.get("inputUri"), batch.get("outputUri")
    if not isinstance(input_uri, str) or not isinstance(output_uri, str):
        raise InvalidPayload("'batch.inputUri' and 'batch.outputUri' must be S3 URIs")

    predictions_text = objects.read_text(output_uri)
    if predictions_text is None:
        raise MetricsError(f"batch inference wrote no predictions at {output_uri}")
    predictions = parse_numeric_column(predictions_text, what=f"predictions {output_uri}")
    labels_uri = sibling_uri(input_uri, LABELS_FILE)
    labels_text = objects.read_text(labels_uri)
    labels = parse_numeric_column(labels_text, what=f"labels {labels_uri}") if labels_text is not None else None
    computed = compute_metrics(ProblemType.from_sagemaker_task(task.model.task), labels, predictions)

    evidence = {
        "stage": task.stage,
        "modelVersion": task.model.version,
        "problemType": computed["problemType"],
        "rowCount": computed["rowCount"],
        "metrics": computed["metrics"],
        "durationSeconds": batch.get("durationSeconds"),
        "inputUri": input_uri,
        "labelsUri": labels_uri if labels is not None else None,
        "predictionsUri": output_uri,
        "metricsUri": sibling_uri(output_uri, METRICS_FILE),
    }
    objects.write_text(evidence["metricsUri"], json.dumps(evidence, indent=2), "application/json")
    return evidence
