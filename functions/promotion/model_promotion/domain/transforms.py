"""Batch transform jobs between stages: their names, what they score, and where SageMaker writes.

Transform job names are unique per account and at most 63 characters, so a name derived from the
execution, the stage and the role (challenger or champion) makes every retry address the same job.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import InvalidPayload

JOB_PREFIX = "mp-"  # the completion rule only forwards jobs whose names start with this
NAME_MAX = 63
CHALLENGER = "challenger"
CHAMPION = "champion"
ROLES = (CHALLENGER, CHAMPION)
TERMINAL_STATUSES = ("Completed", "Failed", "Stopped")
_NOT_ALLOWED = re.compile(r"[^a-zA-Z0-9-]+")


def _name(*parts: str) -> str:
    """A SageMaker name ([a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}) from readable parts, hashed when cut."""
    raw = "-".join(parts)
    clean = _NOT_ALLOWED.sub("-", raw).strip("-")
    if len(clean) <= NAME_MAX and clean == raw:
        return clean
    digest = hashlib.sha256(raw.encode()).hexdigest()[:8]
    return f"{clean[: NAME_MAX - 9].rstrip('-')}-{digest}"


def transform_job_name(execution_name: str, stage: str, role: str) -> str:
    if role not in ROLES:
        raise InvalidPayload(f"transform role {role!r} is not one of {ROLES}")
    digest = hashlib.sha256(f"{execution_name}|{stage}|{role}".encode()).hexdigest()[:8]
    readable = _NOT_ALLOWED.sub("-", execution_name).strip("-")[:30].rstrip("-")
    stage_part = _NOT_ALLOWED.sub("-", stage).strip("-")[:10].rstrip("-")
    return f"{JOB_PREFIX}{readable}-{stage_part}-{role[:5]}-{digest}"[:NAME_MAX]


def model_name(group: str, version: int) -> str:
    return _name("mp", group, f"v{version}")


def output_uri(output_path: str, input_uri: str) -> str:
    """SageMaker batch transform writes <S3OutputPath>/<input object name>.out for each input object."""
    return f"{output_path.rstrip('/')}/{input_uri.rsplit('/', 1)[-1]}.out"


@dataclass(frozen=True)
class TransformPlan:
    """One version to score on a stage's batch."""

    role: str
    job_name: str
    model_name: str
    package_arn: str
    version: int
    input_uri: str
    output_path: str
    # The promotion this job serves (group, version, stage, execution): its log lines and the job's
    # environment carry them, so the completion event can be traced back to the execution.
    correlation: Mapping[str, str] = field(default_factory=dict)

    @property
    def output_uri(self) -> str:
        return output_uri(self.output_path, self.input_uri)

    def to_payload(self) -> dict[str, Any]:
        payload = {_camel(k): v for k, v in asdict(self).items()} | {"outputUri": self.output_uri}
        payload["correlation"] = dict(self.correlation)
        return payload

    @property
    def environment(self) -> dict[str, str]:
        """Container environment naming the promotion; DescribeTransformJob and its events return it."""
        return {f"MODEL_PROMOTION_{key.upper()}": value for key, value in self.correlation.items()}

    @classmethod
    def from_payload(cls, payload: Any) -> TransformPlan:
        if not isinstance(payload, Mapping):
            raise InvalidPayload("the transform job plan must be an object")
        try:
            plan = cls(
                role=str(payload["role"]),
                job_name=str(payload["jobName"]),
                model_name=str(payload["modelName"]),
                package_arn=str(payload["packageArn"]),
                version=int(payload["version"]),
                input_uri=str(payload["inputUri"]),
                output_path=str(payload["outputPath"]),
                correlation={str(k): str(v) for k, v in (payload.get("correlation") or {}).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidPayload(f"the transform job plan is incomplete: {exc}") from exc
        if plan.role not in ROLES or not plan.job_name.startswith(JOB_PREFIX):
            raise InvalidPayload(f"transform job {plan.job_name!r} is not one of this workflow's")
        return plan


class TransformJobFailed(Exception):
    """A transform job ended Failed; the message is SageMaker's FailureReason."""


class TransformJobStopped(Exception):
    """A transform job was stopped before it completed."""


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.title() for part in rest)


# The correlation keys a transform job carries in its Environment, and the log keys they become.
CORRELATION_KEYS = ("model_package_group", "model_version", "stage", "execution_arn")


def correlation_from_environment(environment: Any) -> dict[str, str]:
    """The job's correlation keys (MODEL_PROMOTION_<KEY>), only the known ones: the Environment comes with the
    event, so anything else in it is not trusted as a log key."""
    if not isinstance(environment, Mapping):
        return {}
    prefix = "MODEL_PROMOTION_"
    found = {str(k)[len(prefix) :].lower(): v for k, v in environment.items() if str(k).startswith(prefix)}
    return {k: str(found[k])[:256] for k in CORRELATION_KEYS if k in found}
