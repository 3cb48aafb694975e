"""The metrics a training pipeline registers with a model version, in this workflow's metric names.

A SageMaker pipeline attaches ModelMetrics.ModelQuality.Statistics to the model package: an S3 JSON
document in SageMaker Model Monitor's model-quality format, where every metric is an object with a
"value" (and usually a "standard_deviation"). Reading it here lets the registered quality gates and
the approval email use the same names as the batch metrics (domain/metrics.py), so a reviewer compares
like with like. Fetching the document is the caller's business: this module only interprets it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["registered_metrics", "statistics_uri"]

BINARY = "binary_classification_metrics"
MULTICLASS = "multiclass_classification_metrics"
REGRESSION = "regression_metrics"

# Model Monitor name -> our name, per section. Sections are read in this order and the first value for
# a name wins, so a document carrying both binary and multiclass metrics reports the binary ones.
_NAMES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        BINARY,
        (("accuracy", "accuracy"), ("precision", "precision"), ("recall", "recall"), ("f1", "f1"), ("auc", "roc_auc")),
    ),
    (MULTICLASS, (("accuracy", "accuracy"), ("weighted_f1", "f1"))),
    (REGRESSION, (("rmse", "rmse"), ("mae", "mae"), ("r2", "r2"))),
)


def registered_metrics(statistics: Mapping[str, Any]) -> dict[str, float]:
    """Maps a model-quality statistics document to accuracy, precision, recall, f1, roc_auc, rmse, mae, r2.

    Unknown sections and metrics are ignored, and so is any value that is not a finite number: a gate on
    a metric left out here then fails as "not computed" rather than comparing against junk. RMSE is
    derived from MSE when the document has only the latter, as Model Monitor's regression output may.
    """
    if not isinstance(statistics, Mapping):
        return {}
    metrics: dict[str, float] = {}
    for section_name, names in _NAMES:
        section = statistics.get(section_name)
        if not isinstance(section, Mapping):
            continue
        for theirs, ours in names:
            value = _metric_value(section, theirs)
            if value is not None:
                metrics.setdefault(ours, value)
        if section_name == REGRESSION and "rmse" not in metrics:
            mse = _metric_value(section, "mse")
            if mse is not None and mse >= 0:
                metrics["rmse"] = math.sqrt(mse)
    return metrics


def statistics_uri(description: Mapping[str, Any]) -> str | None:
    """ModelMetrics.ModelQuality.Statistics.S3Uri of a DescribeModelPackage answer, or None when not registered."""
    node: Any = description
    for key in ("ModelMetrics", "ModelQuality", "Statistics", "S3Uri"):
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    if not isinstance(node, str) or not node.strip():
        return None
    return node.strip()


def _metric_value(section: Mapping[str, Any], name: str) -> float | None:
    entry = section.get(name)
    value = entry.get("value") if isinstance(entry, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)
