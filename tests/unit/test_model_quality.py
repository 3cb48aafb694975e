"""Registered model-quality statistics (Model Monitor format) are read under this workflow's metric names."""

from __future__ import annotations

import math
from typing import Any

import pytest

from model_promotion.domain.model_quality import registered_metrics, statistics_uri


def metric(value: Any) -> dict[str, Any]:
    return {"value": value, "standard_deviation": 0.01}


def test_binary_classification_statistics_map_to_our_names() -> None:
    # Given: a Model Monitor model-quality document, with the fields we do not use
    statistics = {
        "version": 0.0,
        "dataset": {"item_count": 1000},
        "binary_classification_metrics": {
            "confusion_matrix": {"0": {"0": 500, "1": 20}, "1": {"0": 30, "1": 450}},
            "accuracy": metric(0.95),
            "precision": metric(0.957),
            "recall": metric(0.9375),
            "f1": metric(0.947),
            "auc": metric(0.981),
            "true_positive_rate": metric(0.9375),
            "receiver_operating_characteristic_curve": {"false_positive_rates": [0, 1]},
        },
    }

    # When
    metrics = registered_metrics(statistics)

    # Then
    assert metrics == {"accuracy": 0.95, "precision": 0.957, "recall": 0.9375, "f1": 0.947, "roc_auc": 0.981}


def test_regression_statistics_map_to_our_names() -> None:
    # Given
    statistics = {
        "regression_metrics": {
            "mse": metric(16.0),
            "rmse": metric(4.1),
            "mae": metric(3.0),
            "r2": metric(0.82),
        }
    }

    # When
    metrics = registered_metrics(statistics)

    # Then: the registered rmse wins over one derived from mse
    assert metrics == {"rmse": 4.1, "mae": 3.0, "r2": 0.82}


def test_regression_statistics_with_only_mse_yield_rmse_as_its_square_root() -> None:
    # When
    metrics = registered_metrics({"regression_metrics": {"mse": metric(2.25), "mae": metric(1)}})

    # Then
    assert metrics == {"rmse": 1.5, "mae": 1.0}
    assert isinstance(metrics["mae"], float)


def test_a_negative_mse_yields_no_rmse() -> None:
    # When
    metrics = registered_metrics({"regression_metrics": {"mse": metric(-1.0)}})

    # Then
    assert metrics == {}


def test_multiclass_statistics_yield_accuracy_and_weighted_f1() -> None:
    # Given
    statistics = {
        "multiclass_classification_metrics": {
            "accuracy": metric(0.88),
            "weighted_f1": metric(0.87),
            "weighted_precision": metric(0.86),
            "f1": metric(0.1),
        }
    }

    # When
    metrics = registered_metrics(statistics)

    # Then
    assert metrics == {"accuracy": 0.88, "f1": 0.87}


def test_binary_metrics_win_over_multiclass_ones_in_the_same_document() -> None:
    # When
    metrics = registered_metrics(
        {
            "binary_classification_metrics": {"accuracy": metric(0.9)},
            "multiclass_classification_metrics": {"accuracy": metric(0.5), "weighted_f1": metric(0.4)},
        }
    )

    # Then
    assert metrics == {"accuracy": 0.9, "f1": 0.4}


@pytest.mark.parametrize(
    "junk",
    [
        pytest.param(None, id="null"),
        pytest.param("0.9", id="string"),
        pytest.param(True, id="boolean"),
        pytest.param(math.nan, id="nan"),
        pytest.param(math.inf, id="infinity"),
        pytest.param([0.9], id="list"),
    ],
)
def test_values_that_are_not_finite_numbers_are_skipped(junk: Any) -> None:
    # Given
    statistics = {
        "binary_classification_metrics": {"accuracy": metric(junk), "recall": metric(0.7), "auc": junk},
        "regression_metrics": {"mse": metric(junk)},
    }

    # When
    metrics = registered_metrics(statistics)

    # Then
    assert metrics == {"recall": 0.7}


@pytest.mark.parametrize(
    "statistics",
    [
        pytest.param({}, id="empty"),
        pytest.param({"binary_classification_metrics": [1, 2]}, id="section-not-an-object"),
        pytest.param({"data_quality": {"accuracy": metric(0.9)}}, id="unknown-section"),
        pytest.param([], id="not-an-object"),
    ],
)
def test_documents_without_known_metrics_yield_nothing(statistics: Any) -> None:
    # When
    metrics = registered_metrics(statistics)

    # Then
    assert metrics == {}


def test_statistics_uri_is_read_from_a_describe_model_package_answer() -> None:
    # Given
    description = {
        "ModelPackageArn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3",
        "ModelMetrics": {
            "ModelQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": "s3://bucket/churn/3/statistics.json"},
                "Constraints": {"ContentType": "application/json", "S3Uri": "s3://bucket/churn/3/constraints.json"},
            }
        },
    }

    # When
    uri = statistics_uri(description)

    # Then
    assert uri == "s3://bucket/churn/3/statistics.json"


@pytest.mark.parametrize(
    "description",
    [
        pytest.param({}, id="no-model-metrics"),
        pytest.param({"ModelMetrics": {}}, id="no-model-quality"),
        pytest.param({"ModelMetrics": {"Bias": {"Report": {"S3Uri": "s3://b/k"}}}}, id="other-metrics-only"),
        pytest.param({"ModelMetrics": {"ModelQuality": {"Constraints": {"S3Uri": "s3://b/k"}}}}, id="constraints-only"),
        pytest.param({"ModelMetrics": {"ModelQuality": {"Statistics": {"S3Uri": ""}}}}, id="empty-uri"),
        pytest.param({"ModelMetrics": {"ModelQuality": {"Statistics": "s3://b/k"}}}, id="wrong-shape"),
    ],
)
def test_statistics_uri_is_none_when_no_statistics_are_registered(description: dict[str, Any]) -> None:
    # When
    uri = statistics_uri(description)

    # Then
    assert uri is None
