"""DynamoDB behind the DecisionLog port: partition per model group, one item per outcome, never overwritten."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.errors import ConfigurationError
from ..ports import DecisionLog
from .aws import client, error_code, is_transient, transient


class DynamoDbDecisionLog(DecisionLog):
    def __init__(self, table: str):
        self.table = table

    def append(self, entry: Mapping[str, Any]) -> bool:
        from boto3.dynamodb.types import TypeSerializer

        serializer = TypeSerializer()
        plain = json.loads(json.dumps(entry), parse_float=Decimal)
        item = {key: serializer.serialize(value) for key, value in plain.items() if value is not None}
        try:
            client("dynamodb").put_item(
                TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(entryKey)"
            )
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            if is_transient(exc):
                raise transient("PutItem", exc) from exc
            raise ConfigurationError(f"decision log {self.table} refused the entry: {error_code(exc)}") from exc
        return True

    def entries(self, group: str) -> list[dict[str, Any]]:
        from boto3.dynamodb.types import TypeDeserializer

        deserializer = TypeDeserializer()
        paginator = client("dynamodb").get_paginator("query")
        pages = paginator.paginate(
            TableName=self.table,
            KeyConditionExpression="modelPackageGroupName = :g",
            ExpressionAttributeValues={":g": {"S": group}},
            ConsistentRead=True,
        )
        return [
            json.loads(json.dumps({k: deserializer.deserialize(v) for k, v in item.items()}, default=_number))
            for page in pages
            for item in page.get("Items", [])
        ]


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")
