"""Quality gates read from configuration refuse every malformed entry by name, and never pass by omission."""

from __future__ import annotations

import json

import pytest

from model_promotion.domain.errors import ConfigurationError, DomainError
from model_promotion.domain.gates import (
    GateConfig,
    GateConfigError,
    GateResult,
    MetricRule,
    QualityGateFailed,
    Rule,
    evaluate_batch,
    evaluate_registered,
)

FULL_CONFIG = (
    '{"registered": {"accuracy": {"min": 0.8}},'
    ' "batch": {"roc_auc": {"min": 0.9}, "rmse": {"max": 12.5}},'
    ' "champion": {"roc_auc": {"maxDrop": 0.01}, "rmse": {"maxRise": 0.5}}}'
)


def gates(payload: dict[str, object]) -> GateConfig:
    return GateConfig.parse(json.dumps(payload))


# Parsing


def test_a_full_configuration_is_read_into_rules_in_the_order_given() -> None:
    # When
    config = GateConfig.parse(FULL_CONFIG)

    # Then
    assert config.registered == (MetricRule("accuracy", Rule.MIN, 0.8),)
    assert config.batch == (MetricRule("roc_auc", Rule.MIN, 0.9), MetricRule("rmse", Rule.MAX, 12.5))
    assert config.champion == (MetricRule("roc_auc", Rule.MAX_DROP, 0.01), MetricRule("rmse", Rule.MAX_RISE, 0.5))
    assert not config.is_empty


@pytest.mark.parametrize("text", ["", "   ", "{}", '{"batch": {}}'])
def test_empty_text_or_an_empty_object_means_no_gates(text: str) -> None:
    # When
    config = GateConfig.parse(text)

    # Then
    assert config.is_empty
    assert config == GateConfig()


def test_the_payload_round_trips_to_an_equal_configuration() -> None:
    # Given
    config = GateConfig.parse(FULL_CONFIG)

    # When
    payload = config.to_payload()

    # Then
    assert payload == json.loads(FULL_CONFIG)
    assert GateConfig.from_payload(json.loads(json.dumps(payload))) == config
    assert GateConfig().to_payload() == {}


def test_integer_bounds_and_both_bounds_on_one_metric_are_accepted() -> None:
    # When
    config = gates({"batch": {"rowCount": {"min": 100, "max": 100}}})

    # Then
    assert config.batch == (MetricRule("rowCount", Rule.MIN, 100.0), MetricRule("rowCount", Rule.MAX, 100.0))


INVALID_CONFIGS = [
    pytest.param("{not json", "not valid JSON", id="not-json"),
    pytest.param("[1, 2]", "must be a JSON object", id="not-an-object"),
    pytest.param('{"production": {}}', "unknown quality-gate section 'production'", id="unknown-section"),
    pytest.param('{"batch": [1]}', "section 'batch' must be an object", id="section-not-an-object"),
    pytest.param('{"batch": {"auc": {"min": 0.9}}}', "batch.auc: unknown metric 'auc'", id="unknown-metric"),
    pytest.param('{"batch": {"roc_auc": {}}}', "batch.roc_auc must be an object of rules", id="no-rules"),
    pytest.param('{"batch": {"roc_auc": 0.9}}', "batch.roc_auc must be an object of rules", id="rules-not-object"),
    pytest.param(
        '{"batch": {"roc_auc": {"minimum": 0.9}}}', "batch.roc_auc: unknown rule 'minimum'", id="unknown-rule"
    ),
    pytest.param('{"batch": {"roc_auc": {"min": "0.9"}}}', "batch.roc_auc.min must be a finite number", id="string"),
    pytest.param('{"batch": {"roc_auc": {"min": true}}}', "batch.roc_auc.min must be a finite number", id="boolean"),
    pytest.param('{"batch": {"roc_auc": {"min": NaN}}}', "batch.roc_auc.min must be a finite number", id="nan"),
    pytest.param('{"batch": {"roc_auc": {"min": null}}}', "batch.roc_auc.min must be a finite number", id="null"),
    pytest.param(
        '{"batch": {"rmse": {"min": 5, "max": 2.5}}}', "batch.rmse: min 5 is greater than max 2.5", id="min-above-max"
    ),
    pytest.param(
        '{"champion": {"roc_auc": {"maxDrop": -0.01}}}',
        "champion.roc_auc.maxDrop must not be negative",
        id="negative-max-drop",
    ),
    pytest.param(
        '{"champion": {"mae": {"maxRise": -1}}}', "champion.mae.maxRise must not be negative", id="negative-max-rise"
    ),
    pytest.param(
        '{"batch": {"roc_auc": {"maxDrop": 0.01}}}',
        "batch.roc_auc: rule 'maxDrop' is allowed only in 'champion'",
        id="champion-rule-in-batch",
    ),
    pytest.param(
        '{"champion": {"roc_auc": {"min": 0.9}}}',
        "champion.roc_auc: rule 'min' is allowed only in 'registered' and 'batch'",
        id="absolute-rule-in-champion",
    ),
    pytest.param(
        '{"champion": {"rmse": {"maxDrop": 0.5}}}', "rmse is better when lower", id="max-drop-on-lower-is-better"
    ),
    pytest.param(
        '{"champion": {"f1": {"maxRise": 0.5}}}', "f1 is better when higher", id="max-rise-on-higher-is-better"
    ),
    pytest.param(
        '{"registered": {"rowCount": {"min": 10}}}', "registered model metrics carry no row count", id="registered-rows"
    ),
    pytest.param(
        '{"champion": {"rowCount": {"maxDrop": 10}}}', "champion.rowCount: a row count is neither", id="champion-rows"
    ),
]


@pytest.mark.parametrize(("text", "problem"), INVALID_CONFIGS)
def test_a_malformed_configuration_is_refused_with_a_message_naming_the_problem(text: str, problem: str) -> None:
    # When
    with pytest.raises(GateConfigError) as raised:
        GateConfig.parse(text)

    # Then
    assert problem in str(raised.value)
    assert isinstance(raised.value, ConfigurationError)


def test_an_unknown_metric_message_lists_the_known_names() -> None:
    # When
    with pytest.raises(GateConfigError) as raised:
        gates({"registered": {"auc": {"min": 0.9}}})

    # Then
    assert str(raised.value) == (
        "quality gate registered.auc: unknown metric 'auc'; "
        "use one of accuracy, precision, recall, f1, roc_auc, r2, rmse, mae"
    )


# Registered gates


def test_registered_metrics_meeting_every_bound_pass() -> None:
    # Given
    config = gates({"registered": {"accuracy": {"min": 0.8}, "rmse": {"max": 3}}})

    # When
    result = evaluate_registered(config, {"accuracy": 0.8, "rmse": 3.0, "f1": 0.1})

    # Then
    assert result == GateResult(passed=True, failures=(), checked=("accuracy >= 0.8", "rmse <= 3"))
    assert result.summary == "all quality gates passed (accuracy >= 0.8; rmse <= 3)"


def test_a_registered_metric_below_its_minimum_fails() -> None:
    # Given
    config = gates({"registered": {"accuracy": {"min": 0.8}}})

    # When
    result = evaluate_registered(config, {"accuracy": 0.7999})

    # Then
    assert not result.passed
    assert result.failures == ("accuracy 0.7999 is below the minimum 0.8",)


def test_a_version_registered_with_no_metrics_fails_once_saying_so_and_what_the_gate_needs() -> None:
    config = gates({"registered": {"accuracy": {"min": 0.8}, "roc_auc": {"min": 0.9}}})

    result = evaluate_registered(config, None)

    assert not result.passed
    assert result.summary == (
        "no metrics were registered with this version; the gate needs accuracy, roc_auc: register the version "
        "with its model-quality statistics (ModelMetrics.ModelQuality.Statistics)"
    )
    assert evaluate_registered(gates({}), None).passed  # no registered rules: nothing is needed


def test_registered_gates_ignore_batch_and_champion_rules() -> None:
    # Given
    config = GateConfig.parse(FULL_CONFIG)

    # When
    result = evaluate_registered(config, {"accuracy": 0.95})

    # Then
    assert result.passed
    assert result.checked == ("accuracy >= 0.8",)


def test_without_gates_everything_passes_and_the_summary_says_none_apply() -> None:
    # When
    result = evaluate_batch(GateConfig.parse(""), {}, None, None)

    # Then
    assert result.passed
    assert result.summary == "no quality gates apply"


# Batch gates


@pytest.mark.parametrize(
    ("roc_auc", "rmse", "passed"),
    [
        pytest.param(0.9, 12.5, True, id="both-exactly-at-the-bound"),
        pytest.param(0.95, 1.0, True, id="both-well-inside"),
        pytest.param(0.8999, 12.5, False, id="roc-auc-just-below-min"),
        pytest.param(0.9, 12.5001, False, id="rmse-just-above-max"),
    ],
)
def test_batch_absolute_bounds_are_inclusive(roc_auc: float, rmse: float, passed: bool) -> None:
    # Given
    config = gates({"batch": {"roc_auc": {"min": 0.9}, "rmse": {"max": 12.5}}})

    # When
    result = evaluate_batch(config, {"roc_auc": roc_auc, "rmse": rmse}, None, None)

    # Then
    assert result.passed is passed


def test_a_batch_value_above_its_maximum_names_the_value_and_the_bound() -> None:
    # Given
    config = gates({"batch": {"rmse": {"max": 12.5}}})

    # When
    result = evaluate_batch(config, {"rmse": 13.1}, None, None)

    # Then
    assert result.failures == ("rmse 13.1000 is above the maximum 12.5",)


def test_a_row_count_below_its_minimum_is_shown_as_a_whole_number() -> None:
    # Given
    config = gates({"batch": {"rowCount": {"min": 100}}})

    # When
    result = evaluate_batch(config, {"rowCount": 80}, None, None)

    # Then
    assert result.failures == ("rowCount 80 is below the minimum 100",)


def test_a_value_whose_rounding_would_hide_the_failure_is_shown_in_full() -> None:
    # Given
    config = gates({"batch": {"roc_auc": {"min": 0.9}}})

    # When
    result = evaluate_batch(config, {"roc_auc": 0.89999}, None, None)

    # Then
    assert result.failures == ("roc_auc 0.89999 is below the minimum 0.9",)


@pytest.mark.parametrize(
    ("metrics", "reason"),
    [
        pytest.param({}, "roc_auc was not computed", id="missing"),
        pytest.param({"roc_auc": None}, "roc_auc was not computed", id="none-as-for-a-single-class"),
        pytest.param({"roc_auc": float("nan")}, "roc_auc is not a finite number: nan", id="nan"),
        pytest.param({"roc_auc": "0.95"}, "roc_auc is not a finite number: '0.95'", id="string"),
    ],
)
def test_a_metric_a_rule_names_but_nobody_computed_fails(metrics: dict[str, object], reason: str) -> None:
    # Given
    config = gates({"batch": {"roc_auc": {"min": 0.9, "max": 1.0}}})

    # When
    result = evaluate_batch(config, metrics, None, None)  # type: ignore[arg-type]

    # Then
    assert not result.passed
    assert result.failures == (reason,)
    assert result.checked == ("roc_auc >= 0.9", "roc_auc <= 1")


# Champion gates


CHAMPION = gates({"champion": {"roc_auc": {"maxDrop": 0.01}, "rmse": {"maxRise": 0.5}}})


@pytest.mark.parametrize(
    ("challenger", "champion", "passed"),
    [
        pytest.param(0.8812, 0.8912, True, id="drop-exactly-the-allowed-0.01"),
        pytest.param(0.8811, 0.8912, False, id="drop-just-over"),
        pytest.param(0.95, 0.8912, True, id="improvement"),
        pytest.param(0.3, 0.31, True, id="drop-0.01-where-binary-subtraction-gives-more"),
    ],
)
def test_max_drop_allows_a_drop_up_to_and_including_the_bound(challenger: float, champion: float, passed: bool) -> None:
    # Given: 0.8912 - 0.8812 and 0.31 - 0.3 are both 0.010000000000000009 in binary floating point
    metrics = {"roc_auc": challenger, "rmse": 10.0}

    # When
    result = evaluate_batch(CHAMPION, metrics, {"roc_auc": champion, "rmse": 10.0}, 3)

    # Then
    assert result.passed is passed, result.summary


@pytest.mark.parametrize(
    ("challenger", "champion", "passed"),
    [
        pytest.param(11.7, 11.2, True, id="rise-exactly-the-allowed-0.5"),
        pytest.param(1.1, 0.6, True, id="rise-0.5-where-binary-subtraction-gives-more"),
        pytest.param(11.7001, 11.2, False, id="rise-just-over"),
        pytest.param(9.0, 11.2, True, id="improvement"),
    ],
)
def test_max_rise_allows_a_rise_up_to_and_including_the_bound(challenger: float, champion: float, passed: bool) -> None:
    # Given: 1.1 - 0.6 is 0.5000000000000001 in binary floating point

    # When
    result = evaluate_batch(CHAMPION, {"roc_auc": 0.9, "rmse": challenger}, {"roc_auc": 0.9, "rmse": champion}, 3)

    # Then
    assert result.passed is passed, result.summary


def test_a_champion_failure_names_the_change_the_champion_and_the_allowance() -> None:
    # When
    result = evaluate_batch(CHAMPION, {"roc_auc": 0.87, "rmse": 11.8}, {"roc_auc": 0.89, "rmse": 11.2}, 3)

    # Then
    assert result.failures == (
        "roc_auc dropped 0.0200 against version 3 (0.8900), more than the allowed 0.01",
        "rmse rose 0.6000 against version 3 (11.2000), more than the allowed 0.5",
    )
    assert result.checked == ("roc_auc drop against version 3 <= 0.01", "rmse rise against version 3 <= 0.5")


def test_a_champion_without_a_version_is_called_the_champion() -> None:
    # When
    result = evaluate_batch(CHAMPION, {"roc_auc": 0.5, "rmse": 1.0}, {"roc_auc": 0.9, "rmse": 1.0}, None)

    # Then
    assert result.failures == ("roc_auc dropped 0.4000 against the champion (0.9000), more than the allowed 0.01",)


def test_champion_rules_are_skipped_with_a_note_when_there_is_no_champion() -> None:
    # When
    result = evaluate_batch(CHAMPION, {"roc_auc": 0.1, "rmse": 99.0}, None, None)

    # Then
    assert result.passed
    assert result.checked == ("champion rules skipped: no approved version to compare against",)


def test_a_champion_lacking_a_metric_skips_that_rule_but_notes_it() -> None:
    # When
    result = evaluate_batch(CHAMPION, {"roc_auc": 0.5, "rmse": 11.0}, {"roc_auc": None, "rmse": 11.0}, 3)

    # Then
    assert result.passed
    assert result.checked == (
        "roc_auc maxDrop skipped: version 3 has no roc_auc to compare against",
        "rmse rise against version 3 <= 0.5",
    )


def test_a_challenger_lacking_a_metric_fails_even_when_the_champion_lacks_it_too() -> None:
    # When
    result = evaluate_batch(CHAMPION, {"rmse": 11.0}, {"rmse": 11.0}, 3)

    # Then
    assert not result.passed
    assert result.failures == ("roc_auc was not computed",)


def test_a_metric_missing_under_several_rules_is_reported_once() -> None:
    # Given
    config = GateConfig.parse(FULL_CONFIG)

    # When
    result = evaluate_batch(config, {"rmse": 10.0}, {"roc_auc": 0.9, "rmse": 10.0}, 3)

    # Then
    assert result.failures == ("roc_auc was not computed",)


def test_the_summary_lists_every_failure_in_one_sentence() -> None:
    # Given
    config = GateConfig.parse(FULL_CONFIG)

    # When
    result = evaluate_batch(config, {"roc_auc": 0.8712, "rmse": 12.0}, {"roc_auc": 0.8912, "rmse": 11.0}, 3)

    # Then
    assert result.summary == (
        "roc_auc 0.8712 is below the minimum 0.9; "
        "roc_auc dropped 0.0200 against version 3 (0.8912), more than the allowed 0.01; "
        "rmse rose 1.0000 against version 3 (11.0000), more than the allowed 0.5"
    )
    assert result.to_payload() == {
        "passed": False,
        "failures": list(result.failures),
        "checked": list(result.checked),
        "summary": result.summary,
    }


def test_quality_gate_failed_is_a_domain_error_carrying_the_result() -> None:
    # Given
    result = evaluate_registered(gates({"registered": {"accuracy": {"min": 0.8}}}), {"accuracy": 0.5})

    # When
    error = QualityGateFailed(result)

    # Then
    assert isinstance(error, DomainError)
    assert str(error) == "accuracy 0.5000 is below the minimum 0.8"
    assert error.result is result
    assert type(error).__name__ == "QualityGateFailed"
