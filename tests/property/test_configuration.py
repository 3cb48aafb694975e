"""Fuzzing the configuration: every environment variable of every settings class, the domain parsers behind
them, and the template parameters the embedded AWS checks. A wrong value is refused with a message naming
it; a value that is accepted is one AWS accepts too."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import botocore.session
import pytest
from builders import APPROVAL_API_ENV, APPROVAL_ENV, OUTCOME_ENV, STARTER_ENV
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from property_helpers import ROOT, SECRETS, examples, nasty_strings, odd_strings
from transform_fakes import TRANSFORM_ENV

from embedded_aws.strict.request_rules import java_pattern
from embedded_aws.template import TemplateError, load_template, parameter_values
from model_promotion import config
from model_promotion.domain.errors import ConfigurationError
from model_promotion.domain.gates import METRICS, GateConfig, Rule, Section
from model_promotion.domain.records import validate_parameter_prefix
from model_promotion.domain.stages import STAGES_MAX, parse_stage_approvers, parse_stages

# --- the settings classes, each with an environment the template could give it -------------------------------

SWEEP_ENV = {
    "APPROVALS_TABLE": "model-promotion-approvals",
    "SENDER_ADDRESS": "model-promotion@example.com",
    "APPROVAL_BASE_URL": "https://abc123.execute-api.eu-west-1.amazonaws.com/",
    "REMINDER_BEFORE_SECONDS": "86400",
}
BATCH_ENV = {k: TRANSFORM_ENV[k] for k in ("BATCH_DATA_BUCKET", "BATCH_INPUT_PREFIX", "BATCH_OUTPUT_PREFIX")}
ENVIRONMENTS: dict[type, Mapping[str, str]] = {
    config.StarterSettings: STARTER_ENV,
    config.ReconcileSettings: {**STARTER_ENV, "MODEL_PACKAGE_GROUPS": "fraud-model,churn-model"},
    config.ApprovalRequestSettings: APPROVAL_ENV,
    config.ApprovalApiSettings: APPROVAL_API_ENV,
    config.OutcomeSettings: {**OUTCOME_ENV, "ESCALATION_EMAIL": "ml-leads@example.com"},
    config.BatchDataSettings: BATCH_ENV,
    config.TransformSettings: TRANSFORM_ENV,
    config.MetricsSettings: {
        "QUALITY_GATES": '{"batch": {"roc_auc": {"min": 0.9}}, "champion": {"f1": {"maxDrop": 0}}}'
    },
    config.SweepSettings: SWEEP_ENV,
}

ROLE_ARN = botocore.session.get_session().get_service_model("sagemaker").shape_for("RoleArn")
ROLE_ARN_PATTERN = java_pattern(ROLE_ARN.metadata["pattern"])


def _fully(pattern: str) -> Callable[[str], bool]:
    """The check a configuration value must pass, as AWS applies it: the whole value, ASCII classes only."""
    compiled = re.compile(pattern, re.ASCII)
    return lambda value: compiled.fullmatch(value) is not None


_EMAIL = _fully(r"[^@\s,;=]+@[^@\s,;=]+\.[^@\s,;=]+")
_URL = _fully(r"https?://[^\s/]+(/\S*)?")
_STAGE = _fully(r"[a-z][a-z0-9_-]{0,31}")
_PREFIX = _fully(r"(/[A-Za-z0-9_.-]+)+")
_BUCKET = _fully(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_KEY_PREFIX = _fully(r"[A-Za-z0-9!_.*'()/-]+")
_INSTANCE_TYPE = _fully(r"ml\.[a-z0-9]+\.[a-z0-9]+")


def _valid_stages(stages: tuple[str, ...]) -> bool:
    return 1 <= len(stages) <= STAGES_MAX and len(set(stages)) == len(stages) and all(map(_STAGE, stages))


def _valid(settings_object: Any) -> list[str]:
    """The values of an accepted settings object that AWS (or the workflow) would refuse, by field name."""
    s = settings_object
    checks: dict[str, bool] = {}
    if isinstance(s, config.StarterSettings | config.ReconcileSettings):
        checks["stages"] = _valid_stages(s.stages)
        checks["state_machine_arn"] = s.state_machine_arn.startswith("arn:") and ":stateMachine:" in s.state_machine_arn
    if isinstance(s, config.ReconcileSettings):
        checks["groups"] = all(g and g == g.strip() and "," not in g for g in s.groups)
    if isinstance(s, config.ApprovalRequestSettings):
        checks["approvers"] = all(_STAGE(k) and v and all(map(_EMAIL, v)) for k, v in s.approvers.items())
        checks["sender"] = _EMAIL(s.sender)
        checks["approval_base_url"] = _URL(s.approval_base_url) and not s.approval_base_url.endswith("/")
        checks["parameter_prefix"] = _PREFIX(s.parameter_prefix)
    if isinstance(s, config.OutcomeSettings):
        checks["parameter_prefix"] = _PREFIX(s.parameter_prefix)
        checks["sender"] = _EMAIL(s.sender)
        checks["operations_email"] = _EMAIL(s.operations_email)
        checks["escalation_email"] = s.escalation_email is None or _EMAIL(s.escalation_email)
    batch = s.batch_data if isinstance(s, config.TransformSettings) else s
    if isinstance(batch, config.BatchDataSettings):
        checks["bucket"] = _BUCKET(batch.bucket)
        checks["input_prefix"] = _KEY_PREFIX(batch.input_prefix) and batch.input_prefix.strip("/") == batch.input_prefix
        checks["output_prefix"] = (
            _KEY_PREFIX(batch.output_prefix) and batch.output_prefix.strip("/") == batch.output_prefix
        )
    if isinstance(s, config.TransformSettings):
        role = s.execution_role_arn
        checks["execution_role_arn"] = 20 <= len(role) <= 2048 and ROLE_ARN_PATTERN.fullmatch(role) is not None
        checks["instance_type"] = _INSTANCE_TYPE(s.instance_type)
        checks["instance_count"] = type(s.instance_count) is int and s.instance_count >= 1
        checks["parameter_prefix"] = _PREFIX(s.parameter_prefix)
    if isinstance(s, config.SweepSettings):
        checks["sender"] = _EMAIL(s.sender)
        checks["approval_base_url"] = _URL(s.approval_base_url)
        checks["remind_before_seconds"] = type(s.remind_before_seconds) is int and s.remind_before_seconds >= 0
    if isinstance(s, config.ApprovalApiSettings):
        checks["approver_group_prefix"] = bool(s.approver_group_prefix.strip())
    return [name for name, ok in checks.items() if not ok]


# --- values for each variable: a fuzzer's dictionary for its syntax, and anything at all -----------------------

_STAGE_PIECES = st.one_of(
    st.sampled_from(("dev", "test", "uat", "prod", "Dev", "1dev", "d" * 33, "dé", "dev ", " ", "", "de\nv", "dev\n")),
    st.from_regex(r"[a-z][a-z0-9_-]{0,31}", fullmatch=True),
    nasty_strings,
)
stage_lists = st.lists(_STAGE_PIECES, max_size=20).map(",".join)
_ADDRESSES = st.one_of(
    st.sampled_from(("a@example.com", "qa.lead@example.com", "a@b", "@example.com", "a@@b.c", "a b@c.d", "é@ü.de")),
    st.emails(),
    nasty_strings,
)
approver_lists = st.lists(
    st.tuples(
        st.one_of(st.sampled_from(("dev", "test", "uat", "prod")), _STAGE_PIECES), st.lists(_ADDRESSES, max_size=3)
    ),
    max_size=6,
).map(lambda entries: ";".join(f"{stage}={','.join(addresses)}" for stage, addresses in entries))


def _gate_numbers() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(min_value=-5, max_value=5),
        st.integers(min_value=10**300, max_value=10**400),
        st.booleans(),
        st.none(),
        st.text(max_size=5),
    )


_gate_rules = st.dictionaries(st.one_of(st.sampled_from([r.value for r in Rule]), st.text(max_size=8)), _gate_numbers())
_gate_sections = st.dictionaries(
    st.one_of(st.sampled_from(METRICS), st.text(max_size=8)),
    st.one_of(_gate_rules, _gate_numbers()),
    max_size=3,
)
gate_payloads = st.dictionaries(
    st.one_of(st.sampled_from([s.value for s in Section]), st.text(max_size=8)),
    st.one_of(_gate_sections, _gate_numbers()),
    max_size=3,
)
gate_texts = st.one_of(
    gate_payloads.map(json.dumps),
    st.builds(lambda digits: '{"batch": {"accuracy": {"min": %s}}}' % ("1" * digits), st.integers(1, 6000)),
    st.builds(lambda depth: "[" * depth, st.integers(1, 6000)),
    odd_strings('{"batch": {"roc_auc": {"min": 0.9}}}'),
)

_ROLE = "arn:aws:iam::123456789012:role/model-promotion-transform"
# Digits of other scripts, and characters str.isdigit() calls digits that int() does not read.
_UNICODE_NUMBERS = st.one_of(
    st.sampled_from(("²", "①", "₃", "١٢", "１", "߁")),
    st.text(alphabet=st.characters(categories=("Nd", "No", "Nl")), min_size=1, max_size=3),
)
VALUES: dict[str, st.SearchStrategy[str]] = {
    "STAGES": stage_lists,
    "STAGE_APPROVERS": approver_lists,
    "QUALITY_GATES": gate_texts,
    "PARAMETER_PREFIX": st.one_of(
        st.from_regex(r"(/[A-Za-z0-9_.-]{1,8}){1,3}", fullmatch=True).flatmap(
            lambda p: st.sampled_from((p, p + "\n", p + "/"))
        ),
        odd_strings("/model-promotion"),
    ),
    "SAGEMAKER_EXECUTION_ROLE_ARN": st.one_of(
        st.sampled_from(
            (
                "arn:aws:iam::١٢٣٤٥٦٧٨٩٠١٢:role/x",
                "arn:aws:iam::123456789012:role/é",
                "arn:aws-cn:iam::123456789012:role/a b",
            )
        ),
        odd_strings(_ROLE),
    ),
    "TRANSFORM_INSTANCE_COUNT": st.one_of(_UNICODE_NUMBERS, odd_strings("1")),
    "REMINDER_BEFORE_SECONDS": st.one_of(_UNICODE_NUMBERS, odd_strings("3600")),
}
for _prefix_variable in ("BATCH_INPUT_PREFIX", "BATCH_OUTPUT_PREFIX"):
    VALUES[_prefix_variable] = st.one_of(
        st.sampled_from(("batch input", "/", "a//b", "é")),
        st.from_regex(r"[a-z-]{1,12}", fullmatch=True).flatmap(
            lambda prefix: st.sampled_from((f"{prefix}\n/", f"/{prefix}\n/", f"{prefix}/\n"))
        ),
        odd_strings("batch-input"),
    )

CASES = [(settings_class, variable) for settings_class, env in ENVIRONMENTS.items() for variable in sorted(env)]
_KNOWN_CRASHES: dict[tuple[type, str], str] = {}
_KNOWN_LAX: dict[tuple[type, str], str] = {}


def _case(marks: Mapping[tuple[type, str], str]) -> list[Any]:
    return [
        pytest.param(
            settings_class,
            variable,
            id=f"{settings_class.__name__}-{variable}",
            marks=[pytest.mark.xfail(strict=True, reason=f"{marks[(settings_class, variable)]} — see report")]
            if (settings_class, variable) in marks
            else [],
        )
        for settings_class, variable in CASES
    ]


# A variable whose value another one is checked against: a change to it may be reported by the other one.
DEPENDENTS = {"STAGES": ("STAGE_APPROVERS",)}


def _value_of(settings_class: type, variable: str) -> st.SearchStrategy[str | None]:
    """None leaves the variable out; otherwise its working value spliced, a value in (or near) its syntax, or
    anything at all."""
    near = odd_strings(ENVIRONMENTS[settings_class][variable])
    anything = st.one_of(st.text(max_size=60), st.just(""), st.just("   "))
    return st.one_of(st.none(), near, VALUES.get(variable, near), anything)


def _environment(settings_class: type, variable: str, value: str | None) -> dict[str, str]:
    environment = dict(ENVIRONMENTS[settings_class])
    if value is None:
        environment.pop(variable, None)
    else:
        environment[variable] = value
    return environment


def _says_what_is_expected(message: str, variable: str, value: str | None) -> bool:
    """Besides the variable's name (and the value, which it may quote), the message has words of its own."""
    rest = message.replace(variable, " ")
    quoted = (value or "").strip()
    if quoted:
        rest = rest.replace(repr(quoted), " ").replace(quoted, " ")
    return len(re.findall(r"[A-Za-z]{2,}", rest)) >= 3


# --- the settings classes ------------------------------------------------------------------------------------


KNOWN_COUNTEREXAMPLES = (
    "²",
    "batch-input\n/",
    "arn:aws:iam::١٢٣٤٥٦٧٨٩٠١٢:role/x",
    '{"batch": {"accuracy": {"min": %s}}}' % ("1" * 400),
)


def _with_known_counterexamples(test: Callable[..., None]) -> Callable[..., None]:
    """Runs the counterexamples found so far first, as explicit examples, for every variable: each known defect
    fails its case on every run, whatever the search finds. `data` is None in those runs."""
    for known in KNOWN_COUNTEREXAMPLES:
        test = example(known=known, data=None)(test)
    return test


def _drawn(settings_class: type, variable: str, known: str | None, data: st.DataObject | None) -> str | None:
    return known if data is None else data.draw(_value_of(settings_class, variable), label=variable)


@pytest.mark.parametrize(("settings_class", "variable"), _case(_KNOWN_CRASHES))
@_with_known_counterexamples
@settings(max_examples=examples(40))
@given(known=st.none(), data=st.data())
def test_any_value_of_a_variable_gives_settings_or_a_configuration_error_naming_it(
    settings_class: type, variable: str, known: str | None, data: st.DataObject | None
) -> None:
    """Given a settings class's working environment with one variable left out or set to any text,
    When the settings are read from it,
    Then they are read, or a ConfigurationError names the variable and says what it expects; no other error
    escapes (a KeyError or a ValueError would fail every invocation with a stack trace and no hint)."""
    text = _drawn(settings_class, variable, known, data)
    environment = _environment(settings_class, variable, text)

    try:
        settings_class.from_environ(environment)
    except ConfigurationError as error:
        assert any(name in str(error) for name in (variable, *DEPENDENTS.get(variable, ()))), str(error)
        assert _says_what_is_expected(str(error), variable, text), str(error)


@pytest.mark.parametrize(("settings_class", "variable"), _case(_KNOWN_LAX))
@_with_known_counterexamples
@settings(max_examples=examples(40))
@given(known=st.none(), data=st.data())
def test_settings_that_are_read_hold_only_values_aws_accepts(
    settings_class: type, variable: str, known: str | None, data: st.DataObject | None
) -> None:
    """Given a settings class's working environment with one variable left out or set to any text,
    When the settings are read without error,
    Then every value the class checks is one AWS accepts as well (a whole match of the intended pattern, with
    ASCII classes as AWS's Java patterns have them): what passes here must not fail at the first AWS call."""
    text = _drawn(settings_class, variable, known, data)
    environment = _environment(settings_class, variable, text)

    try:
        read = settings_class.from_environ(environment)
    except Exception:  # refusals, and the crashes the previous test is about
        return

    assert _valid(read) == []


# --- the domain parsers on their own -------------------------------------------------------------------------


@settings(max_examples=examples(300))
@given(text=st.one_of(stage_lists, odd_strings("dev,test,uat,prod")))
def test_any_stage_list_is_parsed_or_refused_with_a_configuration_error(text: str) -> None:
    """Given any text as the stage list,
    When it is parsed,
    Then the stages are 1 to 16 distinct valid names in the given order, or a ConfigurationError says why."""
    try:
        stages = parse_stages(text)
    except ConfigurationError as error:
        assert str(error).strip()
        return

    assert _valid_stages(stages)
    assert list(stages) == [part.strip() for part in text.split(",") if part.strip()]


@settings(max_examples=examples(300))
@given(text=st.one_of(approver_lists, odd_strings("dev=a@example.com;test=b@example.com")), stages=stage_lists)
def test_any_approver_list_is_parsed_or_refused_with_a_configuration_error(text: str, stages: str) -> None:
    """Given any text as the approver list, for any stage list,
    When it is parsed,
    Then every stage has at least one well-formed address and no other stage is named, or a
    ConfigurationError says why."""
    try:
        plan = parse_stages(stages)
    except ConfigurationError:
        plan = ("dev", "test", "uat", "prod")

    try:
        approvers = parse_stage_approvers(text, plan)
    except ConfigurationError as error:
        assert str(error).strip()
        return

    assert set(approvers) == set(plan)
    assert all(addresses and all(map(_EMAIL, addresses)) for addresses in approvers.values())


@example(text='{"batch": {"accuracy": {"min": %s}}}' % ("1" * 400))
@example(text='{"batch": {"accuracy": {"min": %s}}}' % ("1" * 5000))
@example(text="[" * 5000)
@settings(max_examples=examples(300))
@given(text=gate_texts)
def test_any_quality_gate_text_is_parsed_or_refused_with_a_configuration_error(text: str) -> None:
    """Given any text as the quality gates (a template parameter),
    When it is parsed,
    Then every rule is a known metric and rule with a finite bound, or a ConfigurationError says what to fix."""
    try:
        gates = GateConfig.parse(text)
    except ConfigurationError as error:
        assert str(error).strip()
        return

    for rule in (*gates.registered, *gates.batch, *gates.champion):
        assert rule.metric in METRICS
        assert math.isfinite(rule.bound)


@example(text="/a\n")
@settings(max_examples=examples(300))
@given(text=VALUES["PARAMETER_PREFIX"])
def test_a_parameter_prefix_is_accepted_only_when_ssm_would_accept_it(text: str) -> None:
    """Given any text as the parameter prefix,
    When the domain validates it,
    Then it is returned only when it is a valid SSM parameter path ('/a/b', ASCII letters, digits, '.', '_', '-');
    anything else is a ConfigurationError."""
    try:
        prefix = validate_parameter_prefix(text)
    except ConfigurationError as error:
        assert "parameter prefix" in str(error)
        return

    assert _PREFIX(prefix)


# --- the embedded AWS's template parameter checks ------------------------------------------------------------

TEMPLATE = load_template(ROOT / "template.yaml")
DECLARED: dict[str, dict[str, Any]] = TEMPLATE["Parameters"]
REQUIRED = {
    "StageApprovers": "dev=a@example.com;test=a@example.com;uat=a@example.com;prod=a@example.com",
    "SenderAddress": "s@example.com",
    "OperationsEmail": "o@example.com",
    "ModelArtifactsBucketName": "artifacts-bucket",
    "SignInDomainPrefix": "model-approvals",
}
NUMBERS = sorted(name for name, spec in DECLARED.items() if spec.get("Type") == "Number")
NUMBER_CHOICES = sorted(name for name in NUMBERS if "AllowedValues" in DECLARED[name])
PATTERNED = sorted(name for name, spec in DECLARED.items() if spec.get("AllowedPattern"))
NO_ECHO = {name for name, spec in DECLARED.items() if spec.get("NoEcho")}


def _parameter_value(name: str) -> st.SearchStrategy[str]:
    spec = DECLARED[name]
    near = [str(spec[k]) for k in ("Default", "MinValue", "MaxValue") if k in spec] + list(
        map(str, spec.get("AllowedValues", []))
    )
    near += [REQUIRED[name]] if name in REQUIRED else []
    numbers = st.one_of(
        st.sampled_from(("nan", "NaN", "inf", "-inf", "Infinity", "1e400", "1_0", "0x10", " 5 ", "١٢", "2.5", "-0")),
        st.floats().map(str),
        st.integers().map(str),
    )
    return st.one_of(
        st.sampled_from(near) if near else st.nothing(),
        *(odd_strings(value) for value in near[:2]),
        numbers if spec.get("Type") == "Number" else st.nothing(),
        odd_strings(),
    )


overrides = st.dictionaries(st.sampled_from(sorted(DECLARED)), st.just(""), min_size=1, max_size=4).flatmap(
    lambda chosen: st.fixed_dictionaries({name: _parameter_value(name) for name in chosen})
)


def _parameter_and_value(names: list[str]) -> st.SearchStrategy[tuple[str, str]]:
    return st.sampled_from(names).flatmap(lambda name: st.tuples(st.just(name), _parameter_value(name)))


def _parameters(chosen: Mapping[str, str]) -> tuple[dict[str, str], dict[str, Any] | TemplateError]:
    wanted = {**REQUIRED, **chosen}
    try:
        return wanted, parameter_values(TEMPLATE, wanted)
    except TemplateError as error:
        return wanted, error


@settings(max_examples=examples(100))
@given(chosen=overrides, unknown=st.dictionaries(st.text(min_size=1, max_size=12), st.text(max_size=5), max_size=1))
def test_any_parameter_overrides_give_values_or_a_template_error_naming_a_parameter(
    chosen: dict[str, str], unknown: dict[str, str]
) -> None:
    """Given overrides with any text for up to four declared parameters, and perhaps an undeclared one,
    When the embedded AWS checks them against template.yaml,
    Then it resolves every parameter, or a TemplateError names the parameter it refuses; nothing else escapes."""
    wanted = {**REQUIRED, **chosen, **{k: v for k, v in unknown.items() if k not in DECLARED}}

    try:
        values = parameter_values(TEMPLATE, wanted)
    except TemplateError as error:
        assert any(name in str(error) for name in wanted), str(error)
        return

    assert set(values) == set(DECLARED)


@example(pair=("ApprovalTimeoutSeconds", "nan"))
@settings(max_examples=examples(200))
@given(pair=_parameter_and_value(NUMBERS))
def test_an_accepted_number_parameter_is_a_finite_number_within_its_declared_range(pair: tuple[str, str]) -> None:
    """Given any text for a Number parameter,
    When the embedded AWS accepts it,
    Then it is a finite number within MinValue..MaxValue, as CloudFormation requires."""
    name, text = pair
    _, values = _parameters({name: text})
    if isinstance(values, TemplateError):
        return

    number = float(values[name])
    spec = DECLARED[name]
    assert math.isfinite(number)
    assert float(spec.get("MinValue", -math.inf)) <= number <= float(spec.get("MaxValue", math.inf))


@example(pair=("LogRetentionDays", "2"))
@settings(max_examples=examples(100))
@given(pair=_parameter_and_value(NUMBER_CHOICES))
def test_an_accepted_number_parameter_with_allowed_values_is_one_of_them(pair: tuple[str, str]) -> None:
    """Given any text for a Number parameter that declares AllowedValues (LogRetentionDays),
    When the embedded AWS accepts it,
    Then it is one of those values, as CloudFormation requires."""
    name, text = pair
    _, values = _parameters({name: text})
    if isinstance(values, TemplateError):
        return

    assert float(values[name]) in [float(v) for v in DECLARED[name]["AllowedValues"]]


@example(pair=("ApproverGroupPrefix", "é"))
@settings(max_examples=examples(200))
@given(pair=_parameter_and_value(PATTERNED))
def test_an_accepted_string_parameter_matches_its_allowed_pattern_as_cloudformation_reads_it(
    pair: tuple[str, str],
) -> None:
    """Given any text for a String parameter with an AllowedPattern,
    When the embedded AWS accepts it,
    Then the whole value matches the pattern with Java's semantics, which CloudFormation uses."""
    name, text = pair
    _, values = _parameters({name: text})
    if isinstance(values, TemplateError):
        return

    compiled = java_pattern(DECLARED[name]["AllowedPattern"])
    assert compiled is not None
    assert compiled.fullmatch(values[name]), values[name]


@settings(max_examples=examples(60))
@given(chosen=overrides, secret=st.sampled_from(SECRETS), odd=odd_strings())
def test_a_refused_parameter_message_never_quotes_a_no_echo_value(
    chosen: dict[str, str], secret: str, odd: str
) -> None:
    """Given any overrides, and a NoEcho parameter (OidcClientSecret) set to a credential, alone or with odd
    text around it,
    When the embedded AWS refuses them,
    Then its message quotes no NoEcho value: CloudFormation masks those, and the message reaches logs."""
    assume(not any(secret in value for value in chosen.values()))
    secrets_given = {name: secret + odd for name in NO_ECHO}
    _, values = _parameters({**chosen, **secrets_given})

    if isinstance(values, TemplateError):
        assert secret not in str(values)
