"""Before any person is asked: the metrics registered with the version must pass the quality gate."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..config import MetricsSettings
from ..domain.errors import InvalidPayload
from ..domain.gates import GateResult, evaluate_registered
from ..domain.model_quality import registered_metrics, statistics_uri
from ..domain.model_version import ModelVersion
from ..ports import ModelRegistry, ObjectStore


def check_registered_metrics(
    payload: Mapping[str, Any], *, registry: ModelRegistry, objects: ObjectStore, settings: MetricsSettings
) -> dict[str, Any]:
    """Reads ModelMetrics.ModelQuality.Statistics (SageMaker's model-quality JSON) and applies the gate.

    A gate that names a metric the registration lacks fails, with that reason, rather than passing; a version
    registered with no statistics at all fails once, saying so.
    """
    model = ModelVersion.from_payload(payload.get("model"))
    stages = payload.get("stages")
    if not isinstance(stages, list) or not stages:
        raise InvalidPayload("'stages' must be the promotion's stage list")
    uri = statistics_uri(registry.describe(model.package_arn))
    metrics: dict[str, float] | None = None
    if uri:
        text = objects.read_text(uri)
        if text is None:
            raise InvalidPayload(f"the registered model quality statistics at {uri} do not exist")
        try:
            metrics = registered_metrics(json.loads(text))
        except json.JSONDecodeError as exc:
            raise InvalidPayload(f"the registered model quality statistics at {uri} are not JSON") from exc
    result: GateResult = evaluate_registered(settings.quality_gates, metrics)
    return {
        "passed": result.passed,
        "summary": result.summary,
        "metrics": metrics or {},
        "stage": stages[0],
        "stageIndex": 0,
    }
