"""The pure-Python metrics agree with scikit-learn and reject bad input with clear messages."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence

import numpy as np
import pytest
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
    root_mean_squared_error,
)

from model_promotion.domain.metrics import (
    MetricsError,
    ProblemType,
    classification_metrics,
    compute_metrics,
    parse_numeric_column,
    regression_metrics,
)

Metric = Callable[[Sequence[float], Sequence[float]], dict[str, float | None]]

TOLERANCE = {"rel": 1e-12, "abs": 1e-12}


def _classification_dataset(
    seed: int, size: int, positive_rate: float, decimals: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Labels plus noisy, label-correlated scores; rounding the scores creates many ties."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(size) < positive_rate).astype(float)
    labels[0], labels[1] = 0.0, 1.0
    scores = np.clip(0.5 * labels + rng.normal(0.25, 0.3, size), 0.0, 1.0)
    if decimals is not None:
        scores = np.round(scores, decimals)
    return labels, scores


CLASSIFICATION_CASES = [
    pytest.param(1, 200, 0.5, None, 0.5, id="balanced-continuous"),
    pytest.param(2, 500, 0.5, 1, 0.5, id="balanced-heavy-ties"),
    pytest.param(3, 1000, 0.03, None, 0.5, id="imbalanced-rare-positives"),
    pytest.param(4, 400, 0.95, 2, 0.5, id="imbalanced-rare-negatives-with-ties"),
    pytest.param(5, 300, 0.3, 0, 0.5, id="scores-rounded-to-0-or-1"),
    pytest.param(6, 250, 0.4, 1, 0.7, id="ties-at-custom-threshold"),
    pytest.param(7, 5, 0.5, None, 0.5, id="tiny"),
]


@pytest.mark.parametrize(("seed", "size", "positive_rate", "decimals", "threshold"), CLASSIFICATION_CASES)
def test_classification_metrics_equal_sklearn_on_random_datasets(
    seed: int, size: int, positive_rate: float, decimals: int | None, threshold: float
) -> None:
    # Given a seeded dataset of 0/1 labels and scores
    labels, scores = _classification_dataset(seed, size, positive_rate, decimals)
    predicted = (scores >= threshold).astype(float)

    # When the pure-Python metrics are computed
    metrics = classification_metrics(labels.tolist(), scores.tolist(), threshold=threshold)

    # Then every metric equals scikit-learn's on the same data
    assert metrics["accuracy"] == pytest.approx(accuracy_score(labels, predicted), **TOLERANCE)
    assert metrics["precision"] == pytest.approx(precision_score(labels, predicted, zero_division=0), **TOLERANCE)
    assert metrics["recall"] == pytest.approx(recall_score(labels, predicted, zero_division=0), **TOLERANCE)
    assert metrics["f1"] == pytest.approx(f1_score(labels, predicted, zero_division=0), **TOLERANCE)
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(labels, scores), **TOLERANCE)


def test_roc_auc_counts_tied_scores_as_half_a_correct_ordering_like_sklearn() -> None:
    # Given every score tied, and a second case with one positive/negative pair tied
    labels = [0.0, 1.0, 0.0, 1.0]

    # When the AUC is computed
    all_tied = classification_metrics(labels, [0.4, 0.4, 0.4, 0.4])["roc_auc"]
    one_tie = classification_metrics(labels, [0.1, 0.5, 0.5, 0.9])["roc_auc"]

    # Then ties contribute one half, exactly as scikit-learn's trapezoidal ROC area does
    assert all_tied == 0.5 == roc_auc_score(labels, [0.4, 0.4, 0.4, 0.4])
    assert one_tie == 0.875 == roc_auc_score(labels, [0.1, 0.5, 0.5, 0.9])


def test_precision_and_f1_are_zero_when_nothing_is_predicted_positive_like_sklearn_zero_division() -> None:
    # Given scores all below the threshold
    labels = [0.0, 1.0, 1.0, 0.0]
    scores = [0.1, 0.2, 0.3, 0.4]

    # When metrics are computed
    metrics = classification_metrics(labels, scores)

    # Then the undefined ratios follow zero_division=0
    assert metrics["precision"] == 0.0 == precision_score(labels, [0, 0, 0, 0], zero_division=0)
    assert metrics["recall"] == 0.0
    assert metrics["f1"] == 0.0 == f1_score(labels, [0, 0, 0, 0], zero_division=0)
    assert metrics["accuracy"] == 0.5


@pytest.mark.parametrize("only_class", [0.0, 1.0])
def test_roc_auc_is_none_when_labels_hold_a_single_class(only_class: float) -> None:
    # Given labels from one class only, where scikit-learn warns and has no AUC to give
    labels = [only_class] * 4
    with pytest.warns(UndefinedMetricWarning, match="Only one class"):
        assert math.isnan(roc_auc_score(labels, [0.1, 0.6, 0.7, 0.9]))

    # When metrics are computed
    metrics = classification_metrics(labels, [0.1, 0.6, 0.7, 0.9])

    # Then the AUC is reported as undefined while the other metrics still exist
    assert metrics["roc_auc"] is None
    assert metrics["accuracy"] == pytest.approx(0.75 if only_class == 1.0 else 0.25)


@pytest.mark.parametrize(
    ("seed", "size", "outliers"),
    [
        pytest.param(11, 50, False, id="small"),
        pytest.param(12, 1000, False, id="large"),
        pytest.param(13, 300, True, id="with-outliers"),
    ],
)
def test_regression_metrics_equal_sklearn_on_random_datasets(seed: int, size: int, outliers: bool) -> None:
    # Given seeded continuous labels and noisy predictions
    rng = np.random.default_rng(seed)
    labels = rng.normal(100.0, 15.0, size)
    predictions = labels + rng.normal(0.0, 5.0, size)
    if outliers:
        predictions[:5] += 500.0

    # When the pure-Python metrics are computed
    metrics = regression_metrics(labels.tolist(), predictions.tolist())

    # Then each equals scikit-learn's
    assert metrics["rmse"] == pytest.approx(root_mean_squared_error(labels, predictions), **TOLERANCE)
    assert metrics["mae"] == pytest.approx(mean_absolute_error(labels, predictions), **TOLERANCE)
    assert metrics["r2"] == pytest.approx(r2_score(labels, predictions), **TOLERANCE)


def test_r2_is_none_for_constant_labels_where_sklearn_returns_an_arbitrary_placeholder() -> None:
    # Given constant labels: R² divides by their zero variance
    labels = [3.0, 3.0, 3.0]
    predictions = [2.0, 3.0, 4.0]

    # When regression metrics are computed
    metrics = regression_metrics(labels, predictions)

    # Then R² is None rather than scikit-learn's placeholder 0.0, and the error metrics are still real
    assert r2_score(labels, predictions) == 0.0
    assert metrics["r2"] is None
    assert metrics["rmse"] == pytest.approx(math.sqrt(2 / 3))
    assert metrics["mae"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("compute", [classification_metrics, regression_metrics])
def test_length_mismatch_raises_metrics_error_stating_both_lengths(compute: Metric) -> None:
    # Given three labels but two predictions
    # When / Then
    with pytest.raises(MetricsError, match="3 labels, 2 predictions"):
        compute([0.0, 1.0, 1.0], [0.2, 0.8])


@pytest.mark.parametrize("compute", [classification_metrics, regression_metrics])
def test_empty_input_raises_metrics_error(compute: Metric) -> None:
    # Given no rows at all
    # When / Then
    with pytest.raises(MetricsError, match="labels are empty"):
        compute([], [])


@pytest.mark.parametrize("bad", ["0.5", None, math.nan, math.inf])
def test_non_numeric_or_non_finite_prediction_raises_metrics_error_naming_its_index(bad: object) -> None:
    # Given a prediction that is not a finite number
    # When / Then
    with pytest.raises(MetricsError, match=r"predictions\[1\] is not a finite number"):
        classification_metrics([0.0, 1.0], [0.1, bad])  # type: ignore[list-item]


def test_classification_rejects_labels_other_than_zero_or_one() -> None:
    # Given a label of 2
    # When / Then
    with pytest.raises(MetricsError, match=r"labels must be 0 or 1.*labels\[2\] is 2.0"):
        classification_metrics([0.0, 1.0, 2.0], [0.1, 0.9, 0.5])


def test_parse_numeric_column_skips_blank_lines_and_takes_the_first_value_of_each_line() -> None:
    # Given transform output with blank lines, extra columns and surrounding whitespace
    text = "0.25\n\n 1 ,extra,columns\n3e-2\r\n   \n-4\n"

    # When it is parsed
    values = parse_numeric_column(text, what="predictions")

    # Then one float per non-blank line is returned, in order
    assert values == [0.25, 1.0, 0.03, -4.0]


def test_parse_numeric_column_round_trips_repr_formatted_floats_exactly() -> None:
    # Given floats written with repr, as the batch scorer does
    original = [0.1, 1 / 3, 2.220446049250313e-16, 0.9999999999999999]

    # When they are parsed back
    parsed = parse_numeric_column("".join(f"{value!r}\n" for value in original), what="predictions")

    # Then no precision is lost
    assert parsed == original


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("0.1\n\nabc\n", r"labels: line 3: 'abc' is not a number", id="word"),
        pytest.param("label\n1\n", r"labels: line 1: 'label' is not a number", id="header-row"),
        pytest.param("1\n,2\n", r"labels: line 2: '' is not a number", id="empty-first-field"),
        pytest.param("1\nnan\n", r"labels: line 2: 'nan' is not a finite number", id="nan"),
    ],
)
def test_parse_numeric_column_names_what_and_line_number_of_a_bad_value(text: str, message: str) -> None:
    # Given a column with a bad value
    # When / Then
    with pytest.raises(MetricsError, match=message):
        parse_numeric_column(text, what="labels")


def test_parse_numeric_column_rejects_text_without_any_value() -> None:
    # Given only blank lines
    # When / Then
    with pytest.raises(MetricsError, match="predictions contains no values"):
        parse_numeric_column("\n  \n", what="predictions")


def test_compute_metrics_reports_classification_metrics_as_json_serialisable_document() -> None:
    # Given labelled classification predictions
    labels = [0.0, 1.0, 1.0, 0.0]
    predictions = [0.2, 0.9, 0.4, 0.1]

    # When the stage summary is computed
    summary = compute_metrics(ProblemType.BINARY_CLASSIFICATION, labels, predictions)

    # Then it names the problem type, row count and the full metric set, and survives JSON
    assert summary == {
        "problemType": "BinaryClassification",
        "rowCount": 4,
        "metrics": classification_metrics(labels, predictions),
    }
    assert json.loads(json.dumps(summary)) == summary


def test_compute_metrics_reports_regression_metrics() -> None:
    # Given labelled regression predictions
    # When
    summary = compute_metrics(ProblemType.REGRESSION, [1.0, 2.0, 3.0], [1.5, 2.0, 2.5])

    # Then
    assert summary["problemType"] == "Regression"
    assert set(summary["metrics"]) == {"rmse", "mae", "r2"}


@pytest.mark.parametrize("problem_type", [None, ProblemType.BINARY_CLASSIFICATION])
def test_compute_metrics_without_labels_reports_only_the_mean_prediction(
    problem_type: ProblemType | None,
) -> None:
    # Given predictions but no ground truth
    # When
    summary = compute_metrics(problem_type, None, [0.2, 0.4, 0.9])

    # Then only the mean prediction can be reported
    assert summary == {
        "problemType": None if problem_type is None else problem_type.value,
        "rowCount": 3,
        "metrics": {"meanPrediction": pytest.approx(0.5)},
    }


def test_compute_metrics_with_labels_but_unknown_problem_type_reports_only_the_mean_prediction() -> None:
    # Given labels but no way of knowing which metrics apply
    # When
    summary = compute_metrics(None, [0.0, 1.0], [0.25, 0.75])

    # Then
    assert summary["metrics"] == {"meanPrediction": 0.5}


def test_compute_metrics_still_rejects_mismatched_labels_when_the_problem_type_is_unknown() -> None:
    # Given labels that do not line up with the predictions
    # When / Then
    with pytest.raises(MetricsError, match="differ in length"):
        compute_metrics(None, [0.0], [0.25, 0.75])


def test_compute_metrics_rejects_empty_predictions() -> None:
    # Given an empty batch
    # When / Then
    with pytest.raises(MetricsError, match="predictions are empty"):
        compute_metrics(None, None, [])


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        ("CLASSIFICATION", ProblemType.BINARY_CLASSIFICATION),
        ("REGRESSION", ProblemType.REGRESSION),
        ("IMAGE_CLASSIFICATION", None),
        ("OTHER", None),
        (None, None),
    ],
)
def test_problem_type_is_derived_from_the_sagemaker_model_package_task(
    task: str | None, expected: ProblemType | None
) -> None:
    # Given a ModelPackage Task value
    # When / Then
    assert ProblemType.from_sagemaker_task(task) is expected


def test_problem_type_serialises_as_its_value() -> None:
    # Given the enum is a str subclass
    # When / Then it embeds in JSON as the plain value
    assert json.dumps({"p": ProblemType.REGRESSION}) == '{"p": "Regression"}'
