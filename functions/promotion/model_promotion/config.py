"""Typed configuration, read from the environment once per cold start and validated there.

template.yaml is the one place these variables are set; a wrong value fails the first invocation
with a ConfigurationError that names the variable, instead of surfacing later as a KeyError.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from .domain.errors import ConfigurationError
from .domain.gates import GateConfig
from .domain.records import validate_parameter_prefix
from .domain.stages import is_email_address, parse_stage_approvers, parse_stage_numbers, parse_stages

T = TypeVar("T")


_URL = re.compile(r"https?://[^\s/]+(/[^\s]*)?")
# Cognito's GroupName: [\p{L}\p{M}\p{S}\p{N}\p{P}]+ of 1 to 128 characters, i.e. no separators or controls.
_GROUP_NAME = re.compile(r"^[^\s\x00-\x1f\x7f]{1,128}$")


def _is_whole_number(text: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts '²' and other scripts' digits, which int() refuses."""
    return text.isascii() and text.isdigit()


def _require(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set")
    return value


def _parsed(environ: Mapping[str, str], name: str, parse: Callable[[str], T]) -> T:
    """Runs a domain parser on a variable's value, naming the variable in any error."""
    value = _require(environ, name)
    try:
        return parse(value)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{name}: {exc}") from exc


def _stages(environ: Mapping[str, str]) -> tuple[str, ...]:
    return _parsed(environ, "STAGES", parse_stages)


# A quorum larger than this is a typo: no stage is guarded by more distinct signers than fit on one page.
QUORUM_MAX = 10
# Re-authentication at signing, in minutes, when SIGNING_REAUTH_MINUTES is not set: on for the last stage.
DEFAULT_LAST_STAGE_REAUTH_MINUTES = 10
SIGNING_REAUTH_MAX_MINUTES = 24 * 60
_KMS_KEY = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]{1,64}|[A-Za-z0-9-]{1,64}")


def stage_quorum(environ: Mapping[str, str], stages: tuple[str, ...]) -> dict[str, int]:
    """STAGE_QUORUM, 'prod=2': how many distinct approvers each stage needs (1 where not given)."""
    given = parse_stage_numbers(environ.get("STAGE_QUORUM", ""), stages, what="quorum", minimum=1, maximum=QUORUM_MAX)
    return {stage: given.get(stage, 1) for stage in stages}


def _signing_reauth(environ: Mapping[str, str], stages: tuple[str, ...]) -> dict[str, int]:
    """SIGNING_REAUTH_MINUTES, 'uat=30,prod=10': a decision needs a sign-in at most that old. Unset: the last
    stage only, DEFAULT_LAST_STAGE_REAUTH_MINUTES; 'none': never."""
    text = environ.get("SIGNING_REAUTH_MINUTES")
    if text is None or not text.strip():
        return {stages[-1]: DEFAULT_LAST_STAGE_REAUTH_MINUTES}
    try:
        return parse_stage_numbers(
            text, stages, what="re-authentication minutes", minimum=1, maximum=SIGNING_REAUTH_MAX_MINUTES
        )
    except ConfigurationError as exc:
        raise ConfigurationError(f"SIGNING_REAUTH_MINUTES: {exc}") from exc


def _signing_key(environ: Mapping[str, str]) -> str:
    key = _require(environ, "SIGNING_KEY_ID")
    if not _KMS_KEY.fullmatch(key):
        raise ConfigurationError(f"SIGNING_KEY_ID={key!r} is not a KMS key id or key ARN")
    return key


def _minutes(environ: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    text = environ.get(name, "").strip() or str(default)
    if not _is_whole_number(text) or not 1 <= int(text) <= maximum:
        raise ConfigurationError(f"{name}={text!r} must be a whole number from 1 to {maximum}")
    return int(text)


def _whole(environ: Mapping[str, str], name: str, default: int) -> int:
    text = environ.get(name, "").strip() or str(default)
    if not _is_whole_number(text):
        raise ConfigurationError(f"{name}={text!r} must be a whole number of seconds")
    return int(text)


def _url(environ: Mapping[str, str], name: str) -> str:
    value = _require(environ, name).rstrip("/")
    if not _URL.fullmatch(value):
        raise ConfigurationError(f"{name}={value!r} is not an http(s) URL")
    return value


def _email(environ: Mapping[str, str], name: str) -> str:
    value = _require(environ, name)
    if not is_email_address(value):
        raise ConfigurationError(f"{name}={value!r} is not an email address")
    return value


@dataclass(frozen=True)
class StarterSettings:
    state_machine_arn: str
    stages: tuple[str, ...]

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> StarterSettings:
        arn = _require(environ, "STATE_MACHINE_ARN")
        if not arn.startswith("arn:") or ":stateMachine:" not in arn:
            raise ConfigurationError(f"STATE_MACHINE_ARN={arn!r} is not a state machine ARN")
        return cls(state_machine_arn=arn, stages=_stages(environ))


@dataclass(frozen=True)
class ApprovalRequestSettings:
    approvals_table: str
    approvers: Mapping[str, tuple[str, ...]]
    sender: str
    approval_base_url: str
    parameter_prefix: str
    quorum: Mapping[str, int] = field(default_factory=dict)
    # Where a rollback's earlier approval is read before anyone is asked to sign it.
    decision_log_table: str = ""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ApprovalRequestSettings:
        stages = _stages(environ)
        base_url = _url(environ, "APPROVAL_BASE_URL")
        return cls(
            approvals_table=_require(environ, "APPROVALS_TABLE"),
            approvers=_parsed(environ, "STAGE_APPROVERS", lambda text: parse_stage_approvers(text, stages)),
            sender=_email(environ, "SENDER_ADDRESS"),
            approval_base_url=base_url,
            parameter_prefix=_parsed(environ, "PARAMETER_PREFIX", validate_parameter_prefix),
            quorum=_named("STAGE_QUORUM", lambda: stage_quorum(environ, stages)),
            decision_log_table=_require(environ, "DECISION_LOG_TABLE"),
        )


@dataclass(frozen=True)
class ApprovalApiSettings:
    """The approval pages: where requests live, who may decide them, and where sign-in is configured."""

    approvals_table: str
    approver_group_prefix: str
    sign_in_parameter: str
    signing_key_id: str = "unset"
    # Sign-in sessions: a table only the approval pages' role may use (template.yaml, SessionsTable).
    sessions_table: str = "unset"
    # How many distinct approvers each stage needs, and how fresh (minutes) a sign-in must be to sign there.
    quorum: Mapping[str, int] = field(default_factory=dict)
    signing_reauth_minutes: Mapping[str, int] = field(default_factory=dict)
    # A session ends after this long unused, and this long after sign-in whatever happens.
    session_idle_minutes: int = 30
    session_max_minutes: int = 8 * 60
    # How often a session's groups are read again from the directory: a removal takes effect within this.
    groups_recheck_minutes: int = 5

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ApprovalApiSettings:
        stages = _stages(environ)
        return cls(
            approvals_table=_require(environ, "APPROVALS_TABLE"),
            approver_group_prefix=_require(environ, "APPROVER_GROUP_PREFIX"),
            sign_in_parameter=_require(environ, "SIGN_IN_PARAMETER"),
            signing_key_id=_signing_key(environ),
            sessions_table=_require(environ, "SESSIONS_TABLE"),
            quorum=_named("STAGE_QUORUM", lambda: stage_quorum(environ, stages)),
            signing_reauth_minutes=_signing_reauth(environ, stages),
            session_idle_minutes=_minutes(environ, "SESSION_IDLE_MINUTES", 30, 24 * 60),
            session_max_minutes=_minutes(environ, "SESSION_MAX_MINUTES", 8 * 60, 7 * 24 * 60),
            groups_recheck_minutes=_minutes(environ, "GROUPS_RECHECK_MINUTES", 5, 60),
        )

    def reauth_limit(self, stage: str) -> int | None:
        """Minutes a sign-in may be old to sign at this stage; None when any live session may sign."""
        return self.signing_reauth_minutes.get(stage)


@dataclass(frozen=True)
class SignInConfig:
    """The user pool wiring, which the template writes to an SSM parameter.

    It is not in the function's environment because the app client's callback URL names the HTTP API,
    whose routes name the function: an environment reference back to the client would be a cycle.
    """

    user_pool_id: str
    client_id: str
    issuer: str
    sign_in_url: str

    @classmethod
    def from_json(cls, name: str, text: str) -> SignInConfig:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"parameter {name} is not JSON") from exc
        values = {
            k: raw.get(k) if isinstance(raw, dict) else None for k in ("userPoolId", "clientId", "issuer", "signInUrl")
        }
        missing = [k for k, v in values.items() if not isinstance(v, str) or not v]
        if missing:
            raise ConfigurationError(f"parameter {name} lacks {', '.join(missing)}")
        if not re.fullmatch(r"[A-Za-z0-9-]+_[0-9a-zA-Z]+", values["userPoolId"]):
            raise ConfigurationError(f"parameter {name}: {values['userPoolId']!r} is not a user pool id")
        for key in ("issuer", "signInUrl"):
            if not _URL.fullmatch(values[key]):
                raise ConfigurationError(f"parameter {name}: {key} {values[key]!r} is not an http(s) URL")
        return cls(
            values["userPoolId"], values["clientId"], values["issuer"].rstrip("/"), values["signInUrl"].rstrip("/")
        )


@dataclass(frozen=True)
class OutcomeSettings:
    parameter_prefix: str
    decision_log_table: str
    sender: str
    operations_email: str
    escalation_email: str | None = None
    signing_key_id: str = "unset"
    quorum: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> OutcomeSettings:
        stages = _stages(environ)
        return cls(
            signing_key_id=_signing_key(environ),
            quorum=_named("STAGE_QUORUM", lambda: stage_quorum(environ, stages)),
            parameter_prefix=_parsed(environ, "PARAMETER_PREFIX", validate_parameter_prefix),
            decision_log_table=_require(environ, "DECISION_LOG_TABLE"),
            sender=_email(environ, "SENDER_ADDRESS"),
            operations_email=_email(environ, "OPERATIONS_EMAIL"),
            escalation_email=_email(environ, "ESCALATION_EMAIL")
            if environ.get("ESCALATION_EMAIL", "").strip()
            else None,
        )


# Checked with fullmatch and ASCII classes, as AWS's own (Java) patterns match: Python's `$` would let a trailing
# newline through, and its \d and \w would let other scripts' digits and letters through.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_KEY_PREFIX = re.compile(r"[A-Za-z0-9!_.*'()/-]+")
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]+")


@dataclass(frozen=True)
class BatchDataSettings:
    """Where each stage's batch input (and optional labels.csv beside it) lives, and where outputs go."""

    bucket: str
    input_prefix: str
    output_prefix: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> BatchDataSettings:
        bucket = _require(environ, "BATCH_DATA_BUCKET")
        if not _BUCKET.fullmatch(bucket):
            raise ConfigurationError(f"BATCH_DATA_BUCKET={bucket!r} is not a valid S3 bucket name")
        prefixes = []
        for name in ("BATCH_INPUT_PREFIX", "BATCH_OUTPUT_PREFIX"):
            value = _require(environ, name).strip("/")
            if not _KEY_PREFIX.fullmatch(value):
                raise ConfigurationError(f"{name}={value!r} is not a valid S3 key prefix")
            prefixes.append(value)
        return cls(bucket, prefixes[0], prefixes[1])

    def input_uri(self, stage: str) -> str:
        return f"s3://{self.bucket}/{self.input_prefix}/{stage}/input.csv"

    def output_path(self, group: str, version: int, stage: str, role: str) -> str:
        return f"s3://{self.bucket}/{self.output_prefix}/{group}/v{version}/{stage}/{role}"


@dataclass(frozen=True)
class TransformSettings:
    batch_data: BatchDataSettings
    approvals_table: str
    parameter_prefix: str
    execution_role_arn: str
    instance_type: str
    instance_count: int

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> TransformSettings:
        role = _require(environ, "SAGEMAKER_EXECUTION_ROLE_ARN")
        if not _ROLE_ARN.fullmatch(role):
            raise ConfigurationError(f"SAGEMAKER_EXECUTION_ROLE_ARN={role!r} is not an IAM role ARN")
        instance_type = _require(environ, "TRANSFORM_INSTANCE_TYPE")
        if not re.fullmatch(r"ml\.[a-z0-9]+\.[a-z0-9]+", instance_type):
            raise ConfigurationError(f"TRANSFORM_INSTANCE_TYPE={instance_type!r} is not a SageMaker instance type")
        count = _require(environ, "TRANSFORM_INSTANCE_COUNT")
        if not _is_whole_number(count) or int(count) < 1:
            raise ConfigurationError(f"TRANSFORM_INSTANCE_COUNT={count!r} must be a positive integer")
        return cls(
            batch_data=BatchDataSettings.from_environ(environ),
            approvals_table=_require(environ, "APPROVALS_TABLE"),
            parameter_prefix=_parsed(environ, "PARAMETER_PREFIX", validate_parameter_prefix),
            execution_role_arn=role,
            instance_type=instance_type,
            instance_count=int(count),
        )


@dataclass(frozen=True)
class MetricsSettings:
    quality_gates: GateConfig

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> MetricsSettings:
        return cls(quality_gates=_parsed_optional(environ, "QUALITY_GATES", GateConfig.parse))


def _named(name: str, read: Callable[[], T]) -> T:
    try:
        return read()
    except ConfigurationError as exc:
        raise ConfigurationError(f"{name}: {exc}") from exc


def _parsed_optional(environ: Mapping[str, str], name: str, parse: Callable[[str], T]) -> T:
    try:
        return parse(environ.get(name, "").strip())
    except ConfigurationError as exc:
        raise ConfigurationError(f"{name}: {exc}") from exc


@dataclass(frozen=True)
class SweepSettings:
    approvals_table: str
    sender: str
    approval_base_url: str
    remind_before_seconds: int
    # A decision left SENDING longer than this is completed by the sweep (see services/reminders.py).
    delivery_grace_seconds: int = 60

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> SweepSettings:
        before = _require(environ, "REMINDER_BEFORE_SECONDS")
        if not _is_whole_number(before):
            raise ConfigurationError(f"REMINDER_BEFORE_SECONDS={before!r} must be a whole number of seconds (0: none)")
        return cls(
            approvals_table=_require(environ, "APPROVALS_TABLE"),
            sender=_email(environ, "SENDER_ADDRESS"),
            approval_base_url=_url(environ, "APPROVAL_BASE_URL"),
            remind_before_seconds=int(before),
            delivery_grace_seconds=_whole(environ, "DELIVERY_GRACE_SECONDS", 60),
        )


@dataclass(frozen=True)
class ReconcileSettings:
    state_machine_arn: str
    stages: tuple[str, ...]
    groups: tuple[str, ...]

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ReconcileSettings:
        starter = StarterSettings.from_environ(environ)
        groups = tuple(g.strip() for g in environ.get("MODEL_PACKAGE_GROUPS", "").split(",") if g.strip())
        return cls(state_machine_arn=starter.state_machine_arn, stages=starter.stages, groups=groups)


@dataclass(frozen=True)
class OperatorConsoleSettings:
    """The operators' console: the tables and state machines it reads through services/operations.py, who may use
    it (members of one user pool group), and the sign-in wiring, with sessions in a table of its own."""

    approvals_table: str
    decision_log_table: str
    state_machine_arn: str
    stages: tuple[str, ...]
    sessions_table: str
    sign_in_parameter: str
    operator_group: str
    sender: str
    # Where approval links lead; "" for the HTTP API the console itself is served by (the template's default).
    approval_base_url: str
    session_idle_minutes: int = 30
    session_max_minutes: int = 8 * 60
    groups_recheck_minutes: int = 5
    # How often the pages fetch their data again, in seconds (the page is never reloaded).
    refresh_seconds: int = 15

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> OperatorConsoleSettings:
        starter = StarterSettings.from_environ(environ)
        group = _require(environ, "OPERATOR_GROUP")
        if not _GROUP_NAME.match(group):
            raise ConfigurationError(
                f"OPERATOR_GROUP={group!r} is not a user pool group name: 1 to 128 characters, no spaces"
            )
        return cls(
            approvals_table=_require(environ, "APPROVALS_TABLE"),
            decision_log_table=_require(environ, "DECISION_LOG_TABLE"),
            state_machine_arn=starter.state_machine_arn,
            stages=starter.stages,
            sessions_table=_require(environ, "CONSOLE_SESSIONS_TABLE"),
            sign_in_parameter=_require(environ, "SIGN_IN_PARAMETER"),
            operator_group=group,
            sender=_email(environ, "SENDER_ADDRESS"),
            approval_base_url=_url(environ, "APPROVAL_BASE_URL") if environ.get("APPROVAL_BASE_URL") else "",
            session_idle_minutes=_minutes(environ, "SESSION_IDLE_MINUTES", 30, 24 * 60),
            session_max_minutes=_minutes(environ, "SESSION_MAX_MINUTES", 8 * 60, 7 * 24 * 60),
            groups_recheck_minutes=_minutes(environ, "GROUPS_RECHECK_MINUTES", 5, 60),
        )


# What each function reads at its first invocation: its handler's settings() (handlers/<name>.py). The embedded
# AWS reads the same from each function's environment before it says it is up, so a bad parameter is named at
# start-up instead of failing the first registration.
FUNCTION_SETTINGS: Mapping[str, Callable[[Mapping[str, str]], object]] = {
    "model_promotion.handlers.start_promotion": StarterSettings.from_environ,
    "model_promotion.handlers.request_approval": ApprovalRequestSettings.from_environ,
    "model_promotion.handlers.approval_api": ApprovalApiSettings.from_environ,
    "model_promotion.handlers.record_outcome": OutcomeSettings.from_environ,
    "model_promotion.handlers.check_registered_metrics": MetricsSettings.from_environ,
    "model_promotion.handlers.collect_metrics": MetricsSettings.from_environ,
    "model_promotion.handlers.plan_scoring": TransformSettings.from_environ,
    "model_promotion.handlers.start_transform": TransformSettings.from_environ,
    "model_promotion.handlers.sweep_approvals": SweepSettings.from_environ,
    "model_promotion.handlers.reconcile": ReconcileSettings.from_environ,
    "model_promotion.handlers.operator_console": OperatorConsoleSettings.from_environ,
}


def check_function_settings(handler_module: str, environ: Mapping[str, str]) -> None:
    """Reads a function's settings from its environment as its first invocation would; raises the
    ConfigurationError that invocation would raise (it names the variable)."""
    read = FUNCTION_SETTINGS.get(handler_module)
    if read is not None:
        read(environ)
