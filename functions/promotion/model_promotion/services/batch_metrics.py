"""Turn a stage's batch predictions into the evidence the next approver reads, and hold it to the gates."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..config import MetricsSettings
from ..domain.approvals import StageTask
from ..domain.errors import InvalidPayload
from ..domain.gates import evaluate_batch
from ..domain.metrics import MetricsError, ProblemType, compute_metrics, parse_numeric_column
from ..domain.transforms import CHALLENGER, CHAMPION
from ..ports import ObjectStore

LABELS_FILE = "labels.csv"
METRICS_FILE = "metrics.json"


def sibling_uri(uri: str, name: str) -> str:
    return uri.rsplit("/", 1)[0] + "/" + name


def collect_metrics(payload: Mapping[str, Any], *, objects: ObjectStore, settings: MetricsSettings) -> dict[str, Any]:
    """Metrics of the new version, and of the champion scored on the same batch, against labels.csv.

    The evidence is stored as metrics.json next to the new version's predictions and returned small
    enough to travel in the execution state, into the next approval email, and through the quality gate.
    """
    task = StageTask.from_payload(payload)
    scoring, results = payload.get("scoring"), payload.get("transforms")
    if not isinstance(scoring, Mapping) or not isinstance(results, list):
        raise InvalidPayload("'scoring' must be the scoring plan and 'transforms' the list of job results")
    roles = {job.get("jobName"): job for job in scoring.get("jobs", []) if isinstance(job, Mapping)}
    by_role = {roles[r["jobName"]]["role"]: r for r in results if isinstance(r, Mapping) and r.get("jobName") in roles}
    if CHALLENGER not in by_role:
        raise InvalidPayload("no transform result for the version being promoted")

    input_uri = str(scoring.get("inputUri") or by_role[CHALLENGER].get("inputUri"))
    labels_uri = sibling_uri(input_uri, LABELS_FILE)
    labels_text = objects.read_text(labels_uri)
    labels = parse_numeric_column(labels_text, what=f"labels {labels_uri}") if labels_text is not None else None
    problem = ProblemType.from_sagemaker_task(task.model.task)

    mine = _scored(objects, by_role[CHALLENGER]["outputUri"], problem, labels)
    champion = None
    if CHAMPION in by_role:
        theirs = _scored(objects, by_role[CHAMPION]["outputUri"], problem, labels)
        champion_job = roles[by_role[CHAMPION]["jobName"]]
        champion = {
            "version": champion_job.get("version"),
            "stage": scoring.get("championStage"),
            "metrics": theirs["metrics"],
            "predictionsUri": by_role[CHAMPION]["outputUri"],
        }

    gate_stage_index = task.stage_index + 1
    gate = evaluate_batch(
        settings.quality_gates,
        {**mine["metrics"], "rowCount": mine["rowCount"]},
        champion["metrics"] if champion else None,
        champion["version"] if champion else None,
    )
    evidence = {
        "stage": task.stage,
        "modelVersion": task.model.version,
        "problemType": mine["problemType"],
        "rowCount": mine["rowCount"],
        "metrics": mine["metrics"],
        "durationSeconds": by_role[CHALLENGER].get("durationSeconds"),
        "inputUri": input_uri,
        "labelsUri": labels_uri if labels is not None else None,
        "predictionsUri": by_role[CHALLENGER]["outputUri"],
        "metricsUri": sibling_uri(by_role[CHALLENGER]["outputUri"], METRICS_FILE),
        "champion": champion,
        "gate": {
            "passed": gate.passed,
            "summary": gate.summary,
            "checked": list(gate.checked),
            "stage": task.stages[gate_stage_index] if gate_stage_index < len(task.stages) else task.stage,
            "stageIndex": min(gate_stage_index, len(task.stages) - 1),
        },
    }
    objects.write_text(evidence["metricsUri"], json.dumps(evidence, indent=2), "application/json")
    return evidence


def _scored(
    objects: ObjectStore, output_uri: str, problem: ProblemType | None, labels: list[float] | None
) -> dict[str, Any]:
    text = objects.read_text(output_uri)
    if text is None:
        raise MetricsError(f"the transform job wrote no predictions at {output_uri}")
    predictions = parse_numeric_column(text, what=f"predictions {output_uri}")
    return compute_metrics(problem, labels, predictions)
