"""SSM Parameter Store behind the ApprovedModels port: one JSON String parameter per group and stage."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.errors import ConfigurationError
from ..domain.records import approved_model_json
from ..ports import ApprovedModels
from .aws import client, error_code, is_transient, transient


class SsmApprovedModels(ApprovedModels):
    def get(self, name: str) -> dict[str, Any] | None:
        try:
            value = client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) == "ParameterNotFound":
                return None
            if is_transient(exc):
                raise transient("GetParameter", exc) from exc
            raise ConfigurationError(f"parameter {name} cannot be read: {error_code(exc)}") from exc
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, dict) else None

    def put(self, name: str, record: Mapping[str, Any]) -> None:
        # Sized by bytes in the domain, so an oversized record is refused here too, before the call.
        value = approved_model_json(record)
        try:
            client("ssm").put_parameter(
                Name=name,
                Value=value,
                Type="String",
                Overwrite=True,
                Description="Model version approved for this stage, written by the promotion workflow",
            )
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                raise transient("PutParameter", exc) from exc
            raise ConfigurationError(f"parameter {name} cannot be written: {error_code(exc)}") from exc
