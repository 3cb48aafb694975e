"""Typed configuration, read from the environment once per cold start and validated there.

template.yaml is the one place these variables are set; a wrong value fails the first invocation
with a ConfigurationError that names the variable, instead of surfacing later as a KeyError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from .domain.errors import ConfigurationError
from .domain.records import validate_parameter_prefix
from .domain.stages import is_email_address, parse_stage_approvers, parse_stages



def _require(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set")
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
        return cls(state_machine_arn=arn, stages=parse_stages(_require(environ, "STAGES")))


@dataclass(frozen=True)
class ApprovalRequestSettings:
    approvals_table: str
    approvers: Mapping[str, tuple[str, ...]]
    sender: str
    approval_base_url: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ApprovalRequestSettings:
        stages = parse_stages(_require(environ, "STAGES"))
        base_url = _require(environ, "APPROVAL_BASE_URL").rstrip("/")
        if not re.match(r"^https?://[^\s/]+(/[^\s]*)?$", base_url):
            raise ConfigurationError(f"APPROVAL_BASE_URL={base_url!r} is not an http(s) URL")
        return cls(
            approvals_table=_require(environ, "APPROVALS_TABLE"),
            approvers=parse_stage_approvers(_require(environ, "STAGE_APPROVERS"), stages),
            sender=_email(environ, "SENDER_ADDRESS"),
            approval_base_url=base_url,
        )


@dataclass(frozen=True)
class ApprovalApiSettings:
    approvals_table: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ApprovalApiSettings:
        return cls(approvals_table=_require(environ, "APPROVALS_TABLE"))


@dataclass(frozen=True)
class OutcomeSettings:
    parameter_prefix: str
    decision_log_table: str
    sender: str
    operations_email: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> OutcomeSettings:
        return cls(
            parameter_prefix=validate_parameter_prefix(_require(environ, "PARAMETER_PREFIX")),
            decision_log_table=_require(environ, "DECISION_LOG_TABLE"),
            sender=_email(environ, "SENDER_ADDRESS"),
            operations_email=_email(environ, "OPERATIONS_EMAIL"),
        )
