"""The evidence between stages: batch metrics of the new version and the champion, and the registered metrics."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from typing import Any

import pytest
from builders import GROUP, PACKAGE_ARN, STAGES, champion_record, model_description, model_version, stage_task_payload
from fakes import FakeApprovedModels, FakeRegistry
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, mean_squared_error, roc_auc_score
from transform_fakes import FakeObjects, FakeTransforms, metrics_settings, transform_settings

from model_promotion.domain.errors import InvalidPayload
from model_promotion.domain.metrics import MetricsError
from model_promotion.domain.records import approved_model_parameter_name
from model_promotion.domain.transforms import TransformPlan
from model_promotion.services.batch_metrics import collect_metrics
from model_promotion.services.batch_transform import job_result, plan_scoring
from model_promotion.services.registered_metrics import check_registered_metrics

SETTINGS = transform_settings()

LABELS = [1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1]
# The new version: mostly right, one mistake each way.
CHALLENGER = [0.91, 0.12, 0.83, 0.77, 0.34, 0.05, 0.68, 0.41, 0.95, 0.22, 0.44, 0.88, 0.61, 0.18, 0.72, 0.09, 0.87]
CHALLENGER += [0.27, 0.31, 0.79]
# The champion: a little worse.
CHAMPION = [0.81, 0.35, 0.62, 0.58, 0.47, 0.15, 0.55, 0.52, 0.74, 0.38, 0.49, 0.66, 0.57, 0.29, 0.59, 0.21, 0.71]
CHAMPION += [0.44, 0.51, 0.64]
# A champion better than the new version: perfectly ranked.
STRONG_CHAMPION = [0.9 if label else 0.1 for label in LABELS]

GATES = json.dumps(
    {
        "batch": {"accuracy": {"min": 0.8}, "rowCount": {"min": 20}},
        "champion": {"roc_auc": {"maxDrop": 0.01}, "accuracy": {"maxDrop": 0.05}},
    }
)


def csv(values: list[float] | list[int]) -> str:
    """A headerless one-value-per-line CSV, as batch transform writes with AssembleWith=Line."""
    return "".join(f"{value}\n" for value in values)


def stage_payload(stage: str = "dev", *, champion_version: int | None = 2, model: Any = None) -> dict[str, Any]:
    """What the state machine hands CollectMetrics: the stage task, the scoring plan and the Map's results."""
    models = FakeApprovedModels()
    task = stage_task_payload(stage, model=model)
    next_index = STAGES.index(stage) + 1
    if champion_version is not None and next_index < len(STAGES):
        models.put(
            approved_model_parameter_name(SETTINGS.parameter_prefix, GROUP, STAGES[next_index]),
            champion_record(STAGES[next_index], version=champion_version),
        )
    scoring = plan_scoring(task, settings=SETTINGS, approved_models=models)
    transforms = FakeTransforms()
    results = []
    for job in scoring["jobs"]:
        transforms.add_job(TransformPlan.from_payload(job), "Completed")
        described = transforms.describe_job(job["jobName"])
        assert described is not None
        results.append(job_result(described))
    return task | {"scoring": scoring, "transforms": results}


def jobs(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {job["role"]: job for job in payload["scoring"]["jobs"]}


def store_for(
    payload: dict[str, Any],
    *,
    challenger: list[float] | None = CHALLENGER,
    champion: list[float] | None = CHAMPION,
    labels: list[int] | None = LABELS,
) -> FakeObjects:
    """S3 with the stage's labels beside its input, and each job's predictions where SageMaker writes them."""
    objects = FakeObjects()
    input_uri = payload["scoring"]["inputUri"]
    if labels is not None:
        objects.objects[input_uri.rsplit("/", 1)[0] + "/labels.csv"] = csv(labels)
    by_role = jobs(payload)
    if challenger is not None:
        objects.objects[by_role["challenger"]["outputUri"]] = csv(challenger)
    if champion is not None and "champion" in by_role:
        objects.objects[by_role["champion"]["outputUri"]] = csv(champion)
    return objects


def sklearn_classification(scores: list[float]) -> dict[str, float]:
    predicted = [1 if score >= 0.5 else 0 for score in scores]
    return {
        "accuracy": float(accuracy_score(LABELS, predicted)),
        "f1": float(f1_score(LABELS, predicted, zero_division=0)),
        "roc_auc": float(roc_auc_score(LABELS, scores)),
    }


# Metrics of both versions on the same batch


def test_both_versions_are_measured_against_the_labels_beside_the_input() -> None:
    # Given
    payload = stage_payload("dev")
    objects = store_for(payload)

    # When
    evidence = collect_metrics(payload, objects=objects, settings=metrics_settings(GATES))

    # Then
    mine, theirs = sklearn_classification(CHALLENGER), sklearn_classification(CHAMPION)
    for name in ("accuracy", "f1", "roc_auc"):
        assert evidence["metrics"][name] == pytest.approx(mine[name], abs=1e-12), name
        assert evidence["champion"]["metrics"][name] == pytest.approx(theirs[name], abs=1e-12), name
    assert evidence["labelsUri"] == "s3://bucket/batch-input/dev/labels.csv"
    assert "s3://bucket/batch-input/dev/labels.csv" in objects.reads


def test_the_evidence_names_the_stage_the_version_and_where_everything_is() -> None:
    # Given
    payload = stage_payload("dev")
    by_role = jobs(payload)

    # When
    evidence = collect_metrics(payload, objects=store_for(payload), settings=metrics_settings(GATES))

    # Then
    assert evidence["stage"] == "dev"
    assert evidence["modelVersion"] == 3
    assert evidence["problemType"] == "BinaryClassification"
    assert evidence["rowCount"] == len(LABELS)
    assert evidence["inputUri"] == "s3://bucket/batch-input/dev/input.csv"
    assert evidence["predictionsUri"] == by_role["challenger"]["outputUri"]
    assert evidence["durationSeconds"] == 95.5
    assert evidence["champion"] == {
        "version": 2,
        "stage": "test",
        "metrics": evidence["champion"]["metrics"],
        "predictionsUri": by_role["champion"]["outputUri"],
    }


def test_the_evidence_is_stored_as_metrics_json_next_to_the_new_versions_predictions() -> None:
    # Given
    payload = stage_payload("dev")
    objects = store_for(payload)

    # When
    evidence = collect_metrics(payload, objects=objects, settings=metrics_settings(GATES))

    # Then
    expected_uri = f"s3://bucket/batch-output/{GROUP}/v3/dev/challenger/metrics.json"
    assert evidence["metricsUri"] == expected_uri
    [(uri, text, content_type)] = objects.writes
    assert (uri, content_type) == (expected_uri, "application/json")
    assert json.loads(text) == json.loads(json.dumps(evidence))


def test_results_in_any_order_are_matched_to_their_roles_by_job_name() -> None:
    # Given: the champion's result first
    payload = stage_payload("dev")
    payload["transforms"].reverse()

    # When
    evidence = collect_metrics(payload, objects=store_for(payload), settings=metrics_settings(GATES))

    # Then
    assert evidence["metrics"]["roc_auc"] == pytest.approx(sklearn_classification(CHALLENGER)["roc_auc"])
    assert evidence["champion"]["metrics"]["roc_auc"] == pytest.approx(sklearn_classification(CHAMPION)["roc_auc"])


def test_a_regression_model_is_measured_with_regression_metrics() -> None:
    # Given
    model = dataclasses.replace(model_version(), task="REGRESSION")
    payload = stage_payload("dev", champion_version=None, model=model)
    labels = [12, 15, 9, 20, 17, 11]
    predictions = [11.5, 15.75, 10.0, 18.5, 17.25, 12.0]
    objects = store_for(payload, challenger=predictions, labels=labels)

    # When
    evidence = collect_metrics(payload, objects=objects, settings=metrics_settings())

    # Then
    assert evidence["problemType"] == "Regression"
    assert evidence["metrics"]["rmse"] == pytest.approx(math.sqrt(mean_squared_error(labels, predictions)))
    assert evidence["metrics"]["mae"] == pytest.approx(mean_absolute_error(labels, predictions))


def test_without_labels_only_the_mean_prediction_is_reported() -> None:
    # Given
    payload = stage_payload("dev", champion_version=None)
    objects = store_for(payload, labels=None)

    # When
    evidence = collect_metrics(payload, objects=objects, settings=metrics_settings())

    # Then
    assert evidence["metrics"] == {"meanPrediction": pytest.approx(sum(CHALLENGER) / len(CHALLENGER))}
    assert evidence["labelsUri"] is None
    assert evidence["gate"]["passed"] is True


# The quality gate


def test_a_better_new_version_passes_the_gate() -> None:
    # Given
    payload = stage_payload("dev")

    # When
    evidence = collect_metrics(payload, objects=store_for(payload), settings=metrics_settings(GATES))

    # Then
    gate = evidence["gate"]
    assert gate["passed"] is True, gate["summary"]
    assert gate["summary"].startswith("all quality gates passed")
    assert "roc_auc drop against version 2 <= 0.01" in gate["checked"]
    assert "rowCount >= 20" in gate["checked"]


def test_a_new_version_worse_than_the_champion_fails_the_gate_with_every_reason() -> None:
    # Given: the roles swapped, so the champion is the stronger of the two
    payload = stage_payload("dev")
    objects = store_for(payload, challenger=CHAMPION, champion=CHALLENGER)
    mine, theirs = sklearn_classification(CHAMPION), sklearn_classification(CHALLENGER)
    auc_drop, accuracy_drop = theirs["roc_auc"] - mine["roc_auc"], theirs["accuracy"] - mine["accuracy"]
    assert auc_drop > 0.01 and accuracy_drop > 0.05

    # When
    evidence = collect_metrics(payload, objects=objects, settings=metrics_settings(GATES))

    # Then
    gate = evidence["gate"]
    assert gate["passed"] is False
    assert gate["summary"] == (
        f"roc_auc dropped {auc_drop:.4f} against version 2 ({theirs['roc_auc']:.4f}), more than the allowed 0.01; "
        f"accuracy dropped {accuracy_drop:.4f} against version 2 ({theirs['accuracy']:.4f}), "
        "more than the allowed 0.05"
    )


def test_a_drop_of_exactly_the_allowed_amount_passes() -> None:
    # Given: a perfectly ranking champion; the new version's roc_auc is 0.99, a drop of exactly 0.01
    payload = stage_payload("dev")
    objects = store_for(payload, champion=STRONG_CHAMPION)
    assert roc_auc_score(LABELS, CHALLENGER) == 0.99

    # When
    evidence = collect_metrics(
        payload, objects=objects, settings=metrics_settings('{"champion": {"roc_auc": {"maxDrop": 0.01}}}')
    )

    # Then
    assert evidence["champion"]["metrics"]["roc_auc"] == 1.0
    assert evidence["gate"]["passed"] is True, evidence["gate"]["summary"]


def test_a_new_version_below_an_absolute_bound_fails_the_gate() -> None:
    # Given
    payload = stage_payload("dev", champion_version=None)
    gates = json.dumps({"batch": {"accuracy": {"min": 0.95}, "rowCount": {"min": 100}}})

    # When
    evidence = collect_metrics(payload, objects=store_for(payload), settings=metrics_settings(gates))

    # Then
    accuracy = sklearn_classification(CHALLENGER)["accuracy"]
    assert evidence["gate"]["passed"] is False
    assert f"accuracy {accuracy:.4f} is below the minimum 0.95" in evidence["gate"]["summary"]
    assert "rowCount 20 is below the minimum 100" in evidence["gate"]["summary"]


def test_without_a_champion_the_champion_rules_are_skipped_and_said_so() -> None:
    # Given
    payload = stage_payload("dev", champion_version=None)

    # When
    evidence = collect_metrics(payload, objects=store_for(payload), settings=metrics_settings(GATES))

    # Then
    assert evidence["champion"] is None
    assert evidence["gate"]["passed"] is True
    assert "champion rules skipped: no approved version to compare against" in evidence["gate"]["checked"]


def test_a_gate_on_a_metric_nobody_computed_fails() -> None:
    # Given: no labels, so no accuracy
    payload = stage_payload("dev", champion_version=None)

    # When
    evidence = collect_metrics(payload, objects=store_for(payload, labels=None), settings=metrics_settings(GATES))

    # Then
    assert evidence["gate"]["passed"] is False
    assert "accuracy was not computed" in evidence["gate"]["summary"]


@pytest.mark.parametrize(
    ("stage", "gate_stage", "gate_index"), [("dev", "test", 1), ("test", "uat", 2), ("uat", "prod", 3)]
)
def test_the_gate_guards_the_next_stage(stage: str, gate_stage: str, gate_index: int) -> None:
    # Given
    payload = stage_payload(stage)

    # When
    evidence = collect_metrics(payload, objects=store_for(payload), settings=metrics_settings(GATES))

    # Then
    assert (evidence["gate"]["stage"], evidence["gate"]["stageIndex"]) == (gate_stage, gate_index)
    assert evidence["stage"] == stage


def test_at_the_last_stage_the_gate_names_that_stage() -> None:
    # Given
    payload = stage_payload("prod")

    # When
    evidence = collect_metrics(payload, objects=store_for(payload), settings=metrics_settings(GATES))

    # Then
    assert (evidence["gate"]["stage"], evidence["gate"]["stageIndex"]) == ("prod", 3)
    assert evidence["champion"] is None


# What cannot be measured


def test_missing_predictions_of_the_new_version_are_an_error() -> None:
    # Given
    payload = stage_payload("dev")
    objects = store_for(payload, challenger=None)

    # When / Then
    with pytest.raises(
        MetricsError,
        match=re.escape(f"wrote no predictions at s3://bucket/batch-output/{GROUP}/v3/dev/challenger/input.csv.out"),
    ):
        collect_metrics(payload, objects=objects, settings=metrics_settings(GATES))
    assert objects.writes == []


def test_missing_predictions_of_the_champion_are_an_error() -> None:
    # Given
    payload = stage_payload("dev")
    objects = store_for(payload, champion=None)

    # When / Then
    with pytest.raises(
        MetricsError,
        match=re.escape(f"wrote no predictions at s3://bucket/batch-output/{GROUP}/v3/dev/champion/input.csv.out"),
    ):
        collect_metrics(payload, objects=objects, settings=metrics_settings(GATES))
    assert objects.writes == []


def test_predictions_that_do_not_match_the_labels_row_for_row_are_an_error() -> None:
    # Given
    payload = stage_payload("dev", champion_version=None)
    objects = store_for(payload, challenger=CHALLENGER[:-1])

    # When / Then
    with pytest.raises(MetricsError, match="differ in length"):
        collect_metrics(payload, objects=objects, settings=metrics_settings())


def test_without_a_result_for_the_new_version_nothing_is_measured() -> None:
    # Given: only the champion's job reported back
    payload = stage_payload("dev")
    payload["transforms"] = [r for r in payload["transforms"] if r["jobName"] == jobs(payload)["champion"]["jobName"]]

    # When / Then
    with pytest.raises(InvalidPayload, match="no transform result"):
        collect_metrics(payload, objects=store_for(payload), settings=metrics_settings())


@pytest.mark.parametrize(
    "changes",
    [{"scoring": None}, {"transforms": None}, {"transforms": {"jobName": "x"}}],
    ids=["no-scoring", "no-transforms", "transforms-not-a-list"],
)
def test_a_payload_without_the_plan_or_the_results_is_refused(changes: dict[str, Any]) -> None:
    # Given
    payload = stage_payload("dev") | changes

    # When / Then
    with pytest.raises(InvalidPayload):
        collect_metrics(payload, objects=FakeObjects(), settings=metrics_settings())


# Registered metrics, before anyone is asked

STATISTICS_URI = "s3://demo-model-artifacts/breast-cancer-classifier/v3/evaluation/statistics.json"
STATISTICS = {
    "version": 0.0,
    "dataset": {"item_count": 569, "evaluation_time": "2026-11-21T10:05:00.000Z"},
    "binary_classification_metrics": {
        "confusion_matrix": {"0": {"0": 201, "1": 11}, "1": {"0": 17, "1": 340}},
        "accuracy": {"value": 0.9508, "standard_deviation": 0.0031},
        "precision": {"value": 0.9687, "standard_deviation": 0.0027},
        "recall": {"value": 0.9524, "standard_deviation": 0.0044},
        "f1": {"value": 0.9605, "standard_deviation": 0.0025},
        "auc": {"value": 0.9871, "standard_deviation": 0.0012},
    },
}


def registry_with(statistics_uri: str | None = STATISTICS_URI) -> FakeRegistry:
    description = model_description()
    if statistics_uri is not None:
        description["ModelMetrics"] = {
            "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": statistics_uri}}
        }
    return FakeRegistry(description)


def registered_payload() -> dict[str, Any]:
    return {
        "executionArn": stage_task_payload("dev")["executionArn"],
        "model": model_version().to_payload(),
        "stages": list(STAGES),
    }


def check(gates: str, registry: FakeRegistry, objects: FakeObjects) -> dict[str, Any]:
    return check_registered_metrics(
        registered_payload(), registry=registry, objects=objects, settings=metrics_settings(gates)
    )


def test_registered_metrics_that_meet_the_gate_pass() -> None:
    # Given
    objects = FakeObjects({STATISTICS_URI: json.dumps(STATISTICS)})
    registry = registry_with()

    # When
    result = check('{"registered": {"accuracy": {"min": 0.9}, "roc_auc": {"min": 0.95}}}', registry, objects)

    # Then
    assert result == {
        "passed": True,
        "summary": "all quality gates passed (accuracy >= 0.9; roc_auc >= 0.95)",
        "metrics": {"accuracy": 0.9508, "precision": 0.9687, "recall": 0.9524, "f1": 0.9605, "roc_auc": 0.9871},
        "stage": "dev",
        "stageIndex": 0,
    }
    assert registry.described == [PACKAGE_ARN]
    assert objects.reads == [STATISTICS_URI]


def test_registered_metrics_below_the_gate_fail_with_every_reason() -> None:
    # Given
    objects = FakeObjects({STATISTICS_URI: json.dumps(STATISTICS)})

    # When
    result = check('{"registered": {"accuracy": {"min": 0.97}, "recall": {"min": 0.96}}}', registry_with(), objects)

    # Then
    assert result["passed"] is False
    assert result["summary"] == "accuracy 0.9508 is below the minimum 0.97; recall 0.9524 is below the minimum 0.96"
    assert result["stage"] == "dev"


def test_a_version_registered_without_statistics_fails_a_gate_that_needs_them() -> None:
    # Given
    registry = registry_with(statistics_uri=None)
    objects = FakeObjects()

    # When
    result = check('{"registered": {"accuracy": {"min": 0.8}}}', registry, objects)

    # Then
    assert result["passed"] is False
    assert result["summary"].startswith("no metrics were registered with this version; the gate needs accuracy:")
    assert result["metrics"] == {}
    assert objects.reads == []


def test_a_version_registered_without_statistics_passes_when_no_registered_gate_applies() -> None:
    # When
    result = check('{"batch": {"accuracy": {"min": 0.8}}}', registry_with(statistics_uri=None), FakeObjects())

    # Then
    assert result["passed"] is True
    assert result["metrics"] == {}


def test_a_statistics_document_without_the_gated_metric_fails_as_not_computed() -> None:
    # Given: regression statistics, gated on accuracy
    objects = FakeObjects({STATISTICS_URI: json.dumps({"regression_metrics": {"mse": {"value": 4.0}}})})

    # When
    result = check('{"registered": {"accuracy": {"min": 0.8}, "rmse": {"max": 2.5}}}', registry_with(), objects)

    # Then
    assert result["passed"] is False
    assert result["summary"] == "accuracy was not computed"
    assert result["metrics"] == {"rmse": 2.0}


def test_statistics_registered_at_an_object_that_does_not_exist_are_refused() -> None:
    # When / Then
    with pytest.raises(InvalidPayload, match=re.escape(f"statistics at {STATISTICS_URI} do not exist")):
        check('{"registered": {"accuracy": {"min": 0.8}}}', registry_with(), FakeObjects())


def test_statistics_that_are_not_json_are_refused() -> None:
    # Given
    objects = FakeObjects({STATISTICS_URI: "accuracy,0.95\n"})

    # When / Then
    with pytest.raises(InvalidPayload, match="not JSON"):
        check('{"registered": {"accuracy": {"min": 0.8}}}', registry_with(), objects)


@pytest.mark.parametrize("stages", [None, [], "dev,test"])
def test_the_registered_check_needs_the_stage_list(stages: Any) -> None:
    # Given
    payload = registered_payload() | {"stages": stages}

    # When / Then
    with pytest.raises(InvalidPayload, match="stages"):
        check_registered_metrics(payload, registry=registry_with(), objects=FakeObjects(), settings=metrics_settings())
