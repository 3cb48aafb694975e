"""SSM Parameter Store behind the ApprovedModels port: one JSON String parameter per group and stage."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.errors import ConfigurationError
from ..domain.records import approved_model_json
from ..ports import ApprovedModels
from .aws import AwsAdapter, error_code, is_transient, outcome_unknown, transient

PUT_ATTEMPTS = 5


class SsmApprovedModels(AwsAdapter, ApprovedModels):
    def get(self, name: str) -> dict[str, Any] | None:
        try:
            value = self.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
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
        """Writes the record once. Every PutParameter adds a parameter version, and SSM keeps only 100, so a
        put whose answer was lost is not simply sent again (as the SDK's own retries would): the parameter is
        read back first, and a value already there is the write done."""
        # Sized by bytes in the domain, so an oversized record is refused here too, before the call.
        value = approved_model_json(record)
        for attempt in range(1, PUT_ATTEMPTS + 1):
            try:
                self.single_attempt_client("ssm").put_parameter(
                    Name=name,
                    Value=value,
                    Type="String",
                    Overwrite=True,
                    Description="Model version approved for this stage, written by the promotion workflow",
                )
                return
            except (ClientError, BotoCoreError) as exc:
                if outcome_unknown(exc) and self._holds(name, value):
                    return
                if not (outcome_unknown(exc) or is_transient(exc)):
                    raise ConfigurationError(f"parameter {name} cannot be written: {error_code(exc)}") from exc
                if attempt == PUT_ATTEMPTS:
                    raise transient("PutParameter", exc) from exc
            # Full jitter, as the SDK's standard retry mode backs off.
            time.sleep(random.uniform(0, min(2.0, 0.1 * 2**attempt)))

    def _holds(self, name: str, value: str) -> bool:
        try:
            return bool(self.client("ssm").get_parameter(Name=name)["Parameter"]["Value"] == value)
        except (ClientError, BotoCoreError):
            return False
