"""Quality gates as configuration: the bounds a model version must meet before a person is asked to sign.

The gates are JSON text (a template parameter), so a team tightens them without a code change:

    {"registered": {"accuracy": {"min": 0.8}},
     "batch": {"roc_auc": {"min": 0.9}, "rmse": {"max": 12.5}},
     "champion": {"roc_auc": {"maxDrop": 0.01}, "rmse": {"maxRise": 0.5}}}

"registered" checks the metrics the training pipeline registered with the version, "batch" the metrics
of a stage's batch inference, and "champion" compares those batch metrics with the version approved
before it. Every malformed entry is refused when the configuration is read, naming what to fix, so a
typo never turns into a gate that silently lets everything through. For the same reason a metric a
rule names but nobody computed fails its gate.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

from .errors import ConfigurationError, DomainError

__all__ = [
    "GateConfig",
    "GateConfigError",
    "GateResult",
    "MetricRule",
    "QualityGateFailed",
    "Rule",
    "Section",
    "evaluate_batch",
    "evaluate_registered",
]

# Direction decides which champion rule makes sense: a drop hurts a higher-is-better metric, a rise a
# lower-is-better one. rowCount has no better direction, so it only takes absolute bounds.
HIGHER_IS_BETTER = ("accuracy", "precision", "recall", "f1", "roc_auc", "r2")
LOWER_IS_BETTER = ("rmse", "mae")
ROW_COUNT = "rowCount"
METRICS = (*HIGHER_IS_BETTER, *LOWER_IS_BETTER, ROW_COUNT)


class GateConfigError(ConfigurationError):
    """The quality-gate configuration is malformed; the message names the section, metric and rule."""


class Section(str, Enum):
    """Which metrics a group of rules is checked against."""

    REGISTERED = "registered"
    BATCH = "batch"
    CHAMPION = "champion"


class Rule(str, Enum):
    """One kind of bound. Its value is the key used in the configuration."""

    MIN = "min"
    MAX = "max"
    MAX_DROP = "maxDrop"
    MAX_RISE = "maxRise"


_ABSOLUTE_RULES = (Rule.MIN, Rule.MAX)
_CHAMPION_RULES = (Rule.MAX_DROP, Rule.MAX_RISE)
_ALLOWED_RULES = {
    Section.REGISTERED: _ABSOLUTE_RULES,
    Section.BATCH: _ABSOLUTE_RULES,
    Section.CHAMPION: _CHAMPION_RULES,
}
# The training pipeline registers model-quality statistics, never a row count.
_ALLOWED_METRICS = {
    Section.REGISTERED: (*HIGHER_IS_BETTER, *LOWER_IS_BETTER),
    Section.BATCH: METRICS,
    Section.CHAMPION: (*HIGHER_IS_BETTER, *LOWER_IS_BETTER),
}


@dataclass(frozen=True)
class MetricRule:
    """A single bound on a single metric, e.g. roc_auc min 0.9."""

    metric: str
    rule: Rule
    bound: float


@dataclass(frozen=True)
class GateConfig:
    """The parsed, validated gates; rules keep the order the configuration gave them in."""

    registered: tuple[MetricRule, ...] = ()
    batch: tuple[MetricRule, ...] = ()
    champion: tuple[MetricRule, ...] = ()

    @classmethod
    def parse(cls, text: str) -> GateConfig:
        """Reads the template parameter. An empty (or blank) string means no gates, like "{}"."""
        if not text.strip():
            return cls()
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GateConfigError(f"the quality gates are not valid JSON: {exc}") from None
        except (ValueError, RecursionError):
            # json raises a plain ValueError for integers past Python's digit limit, RecursionError for deep nesting
            raise GateConfigError("the quality gates are not valid JSON: a number or a nesting is too large") from None
        return cls.from_payload(payload)

    @classmethod
    def from_payload(cls, payload: Any) -> GateConfig:
        """Reads the decoded JSON, as parse does, or as the configuration travels in an execution's state."""
        if not isinstance(payload, Mapping):
            raise GateConfigError(
                "the quality gates must be a JSON object with the sections registered, batch or champion"
            )
        sections: dict[Section, tuple[MetricRule, ...]] = {}
        for name, rules in payload.items():
            try:
                section = Section(name)
            except ValueError:
                raise GateConfigError(
                    f"unknown quality-gate section {name!r}: use {', '.join(s.value for s in Section)}"
                ) from None
            sections[section] = _parse_section(section, rules)
        return cls(
            registered=sections.get(Section.REGISTERED, ()),
            batch=sections.get(Section.BATCH, ()),
            champion=sections.get(Section.CHAMPION, ()),
        )

    @property
    def is_empty(self) -> bool:
        return not (self.registered or self.batch or self.champion)

    def to_payload(self) -> dict[str, Any]:
        """The configuration's JSON shape again; sections without rules are left out."""
        payload: dict[str, Any] = {}
        for section, rules in (
            (Section.REGISTERED, self.registered),
            (Section.BATCH, self.batch),
            (Section.CHAMPION, self.champion),
        ):
            if not rules:
                continue
            metrics: dict[str, dict[str, float]] = {}
            for rule in rules:
                metrics.setdefault(rule.metric, {})[rule.rule.value] = rule.bound
            payload[section.value] = metrics
        return payload


def _parse_section(section: Section, metrics: Any) -> tuple[MetricRule, ...]:
    where = section.value
    if not isinstance(metrics, Mapping):
        raise GateConfigError(f"quality-gate section {where!r} must be an object of metric -> rules")
    allowed_metrics = _ALLOWED_METRICS[section]
    parsed: list[MetricRule] = []
    for metric, rules in metrics.items():
        if metric not in allowed_metrics:
            raise GateConfigError(_unknown_metric_message(section, metric))
        parsed.extend(_parse_metric(section, metric, rules))
    return tuple(parsed)


def _unknown_metric_message(section: Section, metric: str) -> str:
    where = f"quality gate {section.value}.{metric}"
    if metric == ROW_COUNT:
        reason = (
            "registered model metrics carry no row count"
            if section is Section.REGISTERED
            else "a row count is neither better higher nor lower, so it takes only min/max in 'batch'"
        )
        return f"{where}: {reason}"
    return f"{where}: unknown metric {metric!r}; use one of {', '.join(_ALLOWED_METRICS[section])}"


def _parse_metric(section: Section, metric: str, rules: Any) -> list[MetricRule]:
    where = f"quality gate {section.value}.{metric}"
    if not isinstance(rules, Mapping) or not rules:
        raise GateConfigError(f"{where} must be an object of rules, e.g. {_example(section)}")
    allowed = _ALLOWED_RULES[section]
    parsed: list[MetricRule] = []
    for name, bound in rules.items():
        try:
            rule = Rule(name)
        except ValueError:
            raise GateConfigError(
                f"{where}: unknown rule {name!r}; use {' or '.join(r.value for r in allowed)}"
            ) from None
        if rule not in allowed:
            hint = "only in 'champion'" if rule in _CHAMPION_RULES else "only in 'registered' and 'batch'"
            raise GateConfigError(f"{where}: rule {rule.value!r} is allowed {hint}")
        if _finite(bound) is None:
            raise GateConfigError(f"{where}.{rule.value} must be a finite number, not {str(bound)[:40]}")
        _check_direction(where, metric, rule, bound)
        parsed.append(MetricRule(metric, rule, float(bound)))
    bounds = {r.rule: r.bound for r in parsed}
    if Rule.MIN in bounds and Rule.MAX in bounds and bounds[Rule.MIN] > bounds[Rule.MAX]:
        raise GateConfigError(
            f"{where}: min {_number(bounds[Rule.MIN])} is greater than max {_number(bounds[Rule.MAX])}, "
            "so no value could pass"
        )
    return parsed


def _check_direction(where: str, metric: str, rule: Rule, bound: float) -> None:
    """A champion rule must guard the direction in which the metric gets worse, and allow a non-negative change."""
    if rule is Rule.MAX_DROP and metric in LOWER_IS_BETTER:
        raise GateConfigError(f"{where}: {metric} is better when lower, so limit how much it may rise with maxRise")
    if rule is Rule.MAX_RISE and metric in HIGHER_IS_BETTER:
        raise GateConfigError(f"{where}: {metric} is better when higher, so limit how much it may drop with maxDrop")
    if rule in _CHAMPION_RULES and bound < 0:
        raise GateConfigError(f"{where}.{rule.value} must not be negative, not {_number(bound)}")


def _example(section: Section) -> str:
    return '{"maxDrop": 0.01}' if section is Section.CHAMPION else '{"min": 0.8}'


@dataclass(frozen=True)
class GateResult:
    """The outcome of one evaluation: every failure, and every check made (or skipped, with why)."""

    passed: bool
    failures: tuple[str, ...]
    checked: tuple[str, ...]

    @property
    def summary(self) -> str:
        """One sentence for the approval email, the audit log and a Step Functions error cause."""
        if self.failures:
            return "; ".join(self.failures)
        if not self.checked:
            return "no quality gates apply"
        return f"all quality gates passed ({'; '.join(self.checked)})"

    def to_payload(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "failures": list(self.failures),
            "checked": list(self.checked),
            "summary": self.summary,
        }


class QualityGateFailed(DomainError):
    """A version missed a quality gate, so it is not put in front of an approver."""

    def __init__(self, result: GateResult):
        super().__init__(result.summary)
        self.result = result


def evaluate_registered(config: GateConfig, metrics: Mapping[str, float | None] | None) -> GateResult:
    """Checks the metrics registered with the version (see model_quality.registered_metrics). `None`: the
    version was registered with no model-quality statistics at all, which fails once, naming what the gate needs,
    rather than once per metric as "not computed"."""
    if metrics is None and config.registered:
        needed = ", ".join(dict.fromkeys(rule.metric for rule in config.registered))
        return GateResult(
            passed=False,
            failures=(
                f"no metrics were registered with this version; the gate needs {needed}: register the version "
                "with its model-quality statistics (ModelMetrics.ModelQuality.Statistics)",
            ),
            checked=(),
        )
    evaluation = _Evaluation()
    evaluation.absolute(config.registered, metrics or {})
    return evaluation.result()


def evaluate_batch(
    config: GateConfig,
    metrics: Mapping[str, float | None],
    champion_metrics: Mapping[str, float | None] | None,
    champion_version: int | None,
) -> GateResult:
    """Checks a stage's batch metrics (with rowCount among them) and compares them with the champion's.

    Without champion metrics (the first version approved for a stage) the champion rules are skipped and
    that is noted. A champion that lacks a metric cannot be compared on it, so that rule is skipped and
    noted too; a challenger that lacks one still fails, as everywhere else.
    """
    evaluation = _Evaluation()
    evaluation.absolute(config.batch, metrics)
    if config.champion and champion_metrics is None:
        evaluation.checked.append("champion rules skipped: no approved version to compare against")
    elif champion_metrics is not None:
        evaluation.champion(config.champion, metrics, champion_metrics, champion_version)
    return evaluation.result()


class _Evaluation:
    """Collects failures and checks in rule order; a metric missing under several rules fails once."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.checked: list[str] = []

    def result(self) -> GateResult:
        failures = tuple(dict.fromkeys(self.failures))
        return GateResult(passed=not failures, failures=failures, checked=tuple(self.checked))

    def absolute(self, rules: tuple[MetricRule, ...], metrics: Mapping[str, float | None]) -> None:
        for rule in rules:
            symbol = ">=" if rule.rule is Rule.MIN else "<="
            self.checked.append(f"{rule.metric} {symbol} {_number(rule.bound)}")
            value = self._challenger_value(rule.metric, metrics)
            if value is None:
                continue
            if rule.rule is Rule.MIN and value < rule.bound:
                shown = _shown(value, rule.bound, below=True, metric=rule.metric)
                self.failures.append(f"{rule.metric} {shown} is below the minimum {_number(rule.bound)}")
            elif rule.rule is Rule.MAX and value > rule.bound:
                shown = _shown(value, rule.bound, below=False, metric=rule.metric)
                self.failures.append(f"{rule.metric} {shown} is above the maximum {_number(rule.bound)}")

    def champion(
        self,
        rules: tuple[MetricRule, ...],
        metrics: Mapping[str, float | None],
        champion_metrics: Mapping[str, float | None],
        champion_version: int | None,
    ) -> None:
        against = "the champion" if champion_version is None else f"version {champion_version}"
        for rule in rules:
            verb = "drop" if rule.rule is Rule.MAX_DROP else "rise"
            champion_value = _finite(champion_metrics.get(rule.metric))
            if champion_value is None:
                self.checked.append(
                    f"{rule.metric} {rule.rule.value} skipped: {against} has no {rule.metric} to compare against"
                )
                self._challenger_value(rule.metric, metrics)
                continue
            self.checked.append(f"{rule.metric} {verb} against {against} <= {_number(rule.bound)}")
            value = self._challenger_value(rule.metric, metrics)
            if value is None:
                continue
            change = (
                _exact_difference(champion_value, value) if verb == "drop" else _exact_difference(value, champion_value)
            )
            if change > Decimal(repr(rule.bound)):
                self.failures.append(
                    f"{rule.metric} {'dropped' if verb == 'drop' else 'rose'} "
                    f"{_shown(float(change), rule.bound, below=False)} against {against} "
                    f"({_value(champion_value)}), more than the allowed {_number(rule.bound)}"
                )

    def _challenger_value(self, metric: str, metrics: Mapping[str, float | None]) -> float | None:
        """The value to check, or None after recording why it cannot be checked."""
        raw = metrics.get(metric)
        if raw is None:
            self.failures.append(f"{metric} was not computed")
            return None
        value = _finite(raw)
        if value is None:
            self.failures.append(f"{metric} is not a finite number: {raw!r}")
        return value


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)  # a huge integer overflows here rather than in math.isfinite
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _exact_difference(minuend: float, subtrahend: float) -> Decimal:
    """The difference of the numbers as written (their shortest decimal form), not of their binary floats.

    In binary 0.8912 - 0.8812 is 0.010000000000000009, which would fail a maxDrop of 0.01 that a person
    checking the printed numbers sees met exactly. Decimal arithmetic on the shortest representations
    gives 0.0100, so the boundary behaves as the configuration reads.
    """
    return Decimal(repr(minuend)) - Decimal(repr(subtrahend))


def _number(bound: float) -> str:
    """A configured bound as it was written: 0.9, 12.5, 100."""
    return f"{bound:.12g}"


def _value(value: float) -> str:
    """A measured value with four decimals, as reviewers see metrics elsewhere."""
    return f"{value:.4f}"


def _shown(value: float, bound: float, *, below: bool, metric: str = "") -> str:
    """Four decimals, unless rounding would hide why the value fails (0.89996 shown as 0.9000 against 0.9)."""
    if metric == ROW_COUNT and value.is_integer():
        return str(int(value))
    text = _value(value)
    rounded = float(text)
    if (below and rounded < bound) or (not below and rounded > bound):
        return text
    return repr(value)
