"""Correlation keys shared by the per-stage handlers, so every log line names its model and stage."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger


def bind_stage_keys(logger: Logger, event: Any) -> None:
    if not isinstance(event, Mapping):
        return
    model = event.get("model") if isinstance(event.get("model"), Mapping) else {}
    logger.append_keys(
        model_package_group=model.get("group"),
        model_version=model.get("version"),
        stage=event.get("stage"),
        execution_arn=event.get("executionArn"),
    )
