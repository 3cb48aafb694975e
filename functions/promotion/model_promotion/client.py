"""What an inference pipeline calls to learn which model version is approved for its stage.

The promotion workflow writes one JSON String parameter per model group and stage
(<prefix>/<group>/<stage>, see domain/records.py) when a person approves a version. Inference code
reads it through Powertools Parameters, so a batch job or an endpoint updater that asks on every
invocation costs one SSM call per max_age seconds, not one per call, and picks up a new approval
within max_age seconds without a redeploy.

It is part of the `model-promotion` distribution (`pip install model-promotion`, or `pip install .` from a
checkout) and needs only boto3 and Powertools: an inference pipeline imports it without the Lambda package.
It uses the standard AWS credential and endpoint chain (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL), or the
SSM client it is given. People and shell scripts ask the same with `model-promotion approved GROUP --stage S`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError
from botocore.exceptions import ClientError

from .domain.errors import ConfigurationError
from .domain.records import approved_model_parameter_name, validate_parameter_prefix

__all__ = [
    "DEFAULT_PREFIX",
    "ApprovedModel",
    "InvalidApprovedRecord",
    "NothingApproved",
    "get_approved_model",
    "parameter_name",
]

DEFAULT_PREFIX = "/model-promotion"
DEFAULT_MAX_AGE = 300
_GROUP_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class NothingApproved(LookupError):
    """No version of the group has been approved for the stage yet, so there is nothing to serve."""

    def __init__(self, group: str, stage: str, parameter_name: str):
        super().__init__(f"No version of {group} is approved for {stage} (no parameter {parameter_name})")
        self.group = group
        self.stage = stage
        self.parameter_name = parameter_name


class InvalidApprovedRecord(ValueError):
    """The parameter exists but does not hold a record the workflow writes; serving from it would be a guess."""


@dataclass(frozen=True)
class ApprovedModel:
    """The approved version of a group for a stage, and who approved it when.

    `decision_id` names the decision's entry in the workflow's audit log, which keeps the approver's
    comment and the evidence they saw. Records written before it carried the decision id (or the
    approver's subject) read with None there.
    """

    package_arn: str
    version: int
    model_data_url: str | None
    stage: str
    approved_by: str
    approved_by_name: str | None
    approved_at: str
    group: str
    decision_id: str | None = None
    approved_by_subject: str | None = None

    @classmethod
    def from_record(cls, record: Any, parameter_name: str) -> ApprovedModel:
        """Reads the record the workflow writes (domain/records.approved_model_record): today's pointer,
        and the larger records of earlier releases, whose comment and evidence it ignores."""
        if not isinstance(record, Mapping):
            raise InvalidApprovedRecord(f"parameter {parameter_name} does not hold a JSON object")
        version = record.get("modelVersion")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise InvalidApprovedRecord(f"parameter {parameter_name}: modelVersion is not a positive integer")
        return cls(
            package_arn=_required(record, "modelPackageArn", parameter_name),
            version=version,
            model_data_url=_optional(record, "modelDataUrl"),
            stage=_required(record, "stage", parameter_name),
            approved_by=_required(record, "approvedBy", parameter_name),
            approved_by_name=_optional(record, "approvedByName"),
            approved_at=_required(record, "approvedAt", parameter_name),
            group=_required(record, "modelPackageGroupName", parameter_name),
            decision_id=_optional(record, "decisionId"),
            approved_by_subject=_optional(record, "approvedBySubject"),
        )

    def to_payload(self) -> dict[str, Any]:
        """The record's own field names, so scripts read the CLI's JSON like the parameter."""
        return {
            "modelPackageGroupName": self.group,
            "modelPackageArn": self.package_arn,
            "modelVersion": self.version,
            "modelDataUrl": self.model_data_url,
            "stage": self.stage,
            "approvedBy": self.approved_by,
            "approvedByName": self.approved_by_name,
            "approvedBySubject": self.approved_by_subject,
            "approvedAt": self.approved_at,
            "decisionId": self.decision_id,
        }

    @property
    def approver(self) -> str:
        """Printed name and email, as the approval record shows them."""
        if self.approved_by_name and self.approved_by_name != self.approved_by:
            return f"{self.approved_by_name} <{self.approved_by}>"
        return self.approved_by


def get_approved_model(
    group: str,
    stage: str,
    *,
    prefix: str = DEFAULT_PREFIX,
    max_age: int = DEFAULT_MAX_AGE,
    ssm_client: Any = None,
) -> ApprovedModel:
    """The version of `group` approved for `stage`, cached for `max_age` seconds.

    max_age=0 reads SSM on every call, and leaves what earlier calls cached in place for them.
    ssm_client: read with this boto3 SSM client (another account, profile or endpoint) instead of the default
    chain's; such reads are cached only by the provider built for that call.

    Raises NothingApproved when no version has been approved for the stage, ValueError for a name that
    cannot be a model package group, a stage or a prefix, and InvalidApprovedRecord when the parameter
    holds something else. Any other failure to read (access denied, throttling after retries) propagates
    as Powertools' GetParameterError: it says nothing about what is approved.
    """
    name = parameter_name(group, stage, prefix=prefix)
    if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0:
        raise ValueError(f"max_age must be a number of seconds >= 0, not {max_age!r}")
    try:
        # Powertools serves a cached value even for max_age=0 (it only stops caching), so force the read.
        if ssm_client is None:
            record = parameters.get_parameter(name, transform="json", max_age=max_age, force_fetch=max_age == 0)
        else:
            provider = parameters.SSMProvider(boto3_client=ssm_client)
            record = provider.get(name, transform="json", max_age=max_age, force_fetch=max_age == 0)
    except GetParameterError as exc:
        if _is_parameter_not_found(exc):
            raise NothingApproved(group, stage, name) from None
        raise
    except TransformParameterError as exc:
        raise InvalidApprovedRecord(f"parameter {name} does not hold JSON: {exc}") from None
    model = ApprovedModel.from_record(record, name)
    if (model.group, model.stage) != (group, stage):
        raise InvalidApprovedRecord(
            f"parameter {name} holds the record of {model.group} for {model.stage}, not of {group} for {stage}"
        )
    return model


def parameter_name(group: str, stage: str, *, prefix: str = DEFAULT_PREFIX) -> str:
    """The SSM parameter the workflow writes for the group and stage, after checking every part of the name."""
    if not isinstance(group, str) or not _GROUP_NAME.match(group):
        raise ValueError(
            f"model package group name {group!r} is not valid: letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters"
        )
    if not isinstance(stage, str) or not _STAGE_NAME.match(stage):
        raise ValueError(
            f"stage name {stage!r} is not valid: lower-case letters, digits, '-' or '_', "
            "starting with a letter, at most 32 characters"
        )
    try:
        validate_parameter_prefix(prefix)
    except ConfigurationError as exc:
        raise ValueError(str(exc)) from None
    return approved_model_parameter_name(prefix, group, stage)


def _is_parameter_not_found(exc: GetParameterError) -> bool:
    """Powertools re-raises every SDK error as GetParameterError(str(error)); the SDK error is its context."""
    original = exc.__cause__ or exc.__context__
    return isinstance(original, ClientError) and original.response.get("Error", {}).get("Code") == "ParameterNotFound"


def _required(record: Mapping[str, Any], key: str, parameter_name: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidApprovedRecord(f"parameter {parameter_name}: {key} is missing or not a string")
    return value


def _optional(record: Mapping[str, Any], key: str) -> str | None:
    value = record.get(key)
    return value if isinstance(value, str) and value else None
