"""Model-quality metrics computed between stages, in pure Python.

The promotion Lambda has neither numpy nor scikit-learn, so the metrics reviewers see are
reimplemented here. Each one is defined to match the scikit-learn function of the same name
(checked by the unit tests), so numbers agree with what data scientists compute offline.
"""

from __future__ import annotations

import csv
import math
import numbers
from collections.abc import Sequence
from enum import Enum
from typing import Any

__all__ = [
    "MetricsError",
    "ProblemType",
    "classification_metrics",
    "compute_metrics",
    "parse_numeric_column",
    "regression_metrics",
]


class MetricsError(ValueError):
    """Raised when inputs cannot yield meaningful metrics, so bad data fails loudly, not as odd numbers."""


class ProblemType(str, Enum):
    """Kind of model being promoted; decides which metrics are computed."""

    BINARY_CLASSIFICATION = "BinaryClassification"
    REGRESSION = "Regression"

    @classmethod
    def from_sagemaker_task(cls, task: str | None) -> ProblemType | None:
        """Map a SageMaker ModelPackage ``Task`` value; unknown tasks yield None (no labelled metrics)."""
        if task is None:
            return None
        return _SAGEMAKER_TASKS.get(task.strip().upper())


_SAGEMAKER_TASKS: dict[str, ProblemType] = {
    "CLASSIFICATION": ProblemType.BINARY_CLASSIFICATION,
    "REGRESSION": ProblemType.REGRESSION,
}


def classification_metrics(
    labels: Sequence[float], scores: Sequence[float], threshold: float = 0.5
) -> dict[str, float | None]:
    """Binary classification metrics matching scikit-learn with ``zero_division=0``.

    ``scores`` are positive-class probabilities (or any monotone score); a row is predicted
    positive when its score is ``>= threshold``. ``roc_auc`` is None when only one class is
    present, where scikit-learn raises because the AUC is undefined.
    """
    y_true, y_score = _validated_pair(labels, scores)
    for index, value in enumerate(y_true):
        if value not in (0.0, 1.0):
            raise MetricsError(f"labels must be 0 or 1 for classification; labels[{index}] is {value!r}")

    tp = fp = fn = tn = 0
    for truth, score in zip(y_true, y_score, strict=True):
        predicted_positive = score >= threshold
        if truth == 1.0:
            if predicted_positive:
                tp += 1
            else:
                fn += 1
        elif predicted_positive:
            fp += 1
        else:
            tn += 1

    return {
        "accuracy": (tp + tn) / len(y_true),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "roc_auc": _roc_auc(y_true, y_score),
    }


def regression_metrics(labels: Sequence[float], predictions: Sequence[float]) -> dict[str, float | None]:
    """Regression metrics matching scikit-learn's RMSE, MAE and R².

    ``r2`` is None when the labels are constant: R² divides by their variance, and scikit-learn
    then returns an arbitrary 1.0 (perfect fit) or 0.0 (anything else) instead of a real score.
    """
    y_true, y_pred = _validated_pair(labels, predictions)
    count = len(y_true)
    residuals = [truth - pred for truth, pred in zip(y_true, y_pred, strict=True)]
    squared_error = math.fsum(r * r for r in residuals)
    mean_label = math.fsum(y_true) / count
    total_variation = math.fsum((truth - mean_label) ** 2 for truth in y_true)
    return {
        "rmse": math.sqrt(squared_error / count),
        "mae": math.fsum(abs(r) for r in residuals) / count,
        "r2": None if total_variation == 0.0 else 1.0 - squared_error / total_variation,
    }


def parse_numeric_column(text: str, *, what: str) -> list[float]:
    """Parse a headerless one-value-per-line CSV such as batch transform output or a labels file.

    Blank lines are skipped; when a line holds several comma-separated values the first is
    used (transform output may append the input columns). Errors name ``what`` and the
    1-based line number so a reviewer can find the bad row.
    """
    values: list[float] = []
    for line_number, line in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        if not line.strip():
            continue
        first = next(csv.reader([line]))[0].strip()
        try:
            value = float(first)
        except ValueError:
            raise MetricsError(f"{what}: line {line_number}: {first!r} is not a number") from None
        if not math.isfinite(value):
            raise MetricsError(f"{what}: line {line_number}: {first!r} is not a finite number")
        values.append(value)
    if not values:
        raise MetricsError(f"{what} contains no values")
    return values


def compute_metrics(
    problem_type: ProblemType | None,
    labels: Sequence[float] | None,
    predictions: Sequence[float],
) -> dict[str, Any]:
    """Summarise one stage's batch predictions as a JSON-serialisable document.

    With labels and a known problem type the full metric set is produced; otherwise only the
    mean prediction is reported, which still lets reviewers spot a drifting model.
    """
    truths: list[float] | None = None
    if labels is None:
        values = _validated_values(predictions, "predictions")
    else:
        truths, values = _validated_pair(labels, predictions)

    metrics: dict[str, float | None]
    if truths is not None and problem_type is ProblemType.BINARY_CLASSIFICATION:
        metrics = classification_metrics(truths, values)
    elif truths is not None and problem_type is ProblemType.REGRESSION:
        metrics = regression_metrics(truths, values)
    else:
        metrics = {"meanPrediction": math.fsum(values) / len(values)}

    return {
        "problemType": None if problem_type is None else problem_type.value,
        "rowCount": len(values),
        "metrics": metrics,
    }


def _validated_pair(labels: Sequence[float], predictions: Sequence[float]) -> tuple[list[float], list[float]]:
    """Check two aligned columns before any arithmetic so failures carry a precise message."""
    if len(labels) != len(predictions):
        raise MetricsError(
            f"labels and predictions differ in length: {len(labels)} labels, {len(predictions)} predictions"
        )
    return _validated_values(labels, "labels"), _validated_values(predictions, "predictions")


def _validated_values(values: Sequence[float], name: str) -> list[float]:
    """Return the values as floats, rejecting empty input, non-numbers and NaN/infinity."""
    if len(values) == 0:
        raise MetricsError(f"{name} are empty")
    result: list[float] = []
    for index, value in enumerate(values):
        if not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise MetricsError(f"{name}[{index}] is not a finite number: {value!r}")
        result.append(float(value))
    return result


def _ratio(numerator: int, denominator: int) -> float:
    """Divide, yielding 0.0 for an empty denominator as scikit-learn does with ``zero_division=0``."""
    return numerator / denominator if denominator else 0.0


def _roc_auc(labels: list[float], scores: list[float]) -> float | None:
    """Exact ROC AUC as the Mann-Whitney statistic: P(score_pos > score_neg) + ½·P(tie).

    This equals the trapezoidal area under scikit-learn's ROC curve, where tied scores form one
    diagonal segment. Counting pairs in integers keeps it exact until the single final division.
    """
    positives = sum(1 for label in labels if label == 1.0)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return None

    ordered = sorted(zip(scores, labels, strict=True))
    doubled_pairs = 0
    negatives_below = 0
    start = 0
    while start < len(ordered):
        end = start
        group_positives = group_negatives = 0
        while end < len(ordered) and ordered[end][0] == ordered[start][0]:
            if ordered[end][1] == 1.0:
                group_positives += 1
            else:
                group_negatives += 1
            end += 1
        doubled_pairs += group_positives * (2 * negatives_below + group_negatives)
        negatives_below += group_negatives
        start = end
    return doubled_pairs / (2 * positives * negatives)
