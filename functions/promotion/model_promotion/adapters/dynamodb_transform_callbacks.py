"""The approvals table behind the TransformCallbacks port: `transform#<job name>` items hold task tokens."""

from __future__ import annotations

from datetime import datetime

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.errors import ConfigurationError
from ..ports import TransformCallbacks
from .aws import client, error_code, is_transient, transient


class DynamoDbTransformCallbacks(TransformCallbacks):
    def __init__(self, table: str):
        self.table = table

    def remember(self, job_name: str, task_token: str, purge_at: datetime) -> None:
        try:
            client("dynamodb").put_item(
                TableName=self.table,
                Item={
                    "pk": {"S": f"transform#{job_name}"},
                    "kind": {"S": "transform"},
                    "taskToken": {"S": task_token},
                    "purgeAt": {"N": str(int(purge_at.timestamp()))},
                },
            )
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                raise transient("PutItem", exc) from exc
            raise ConfigurationError(f"approvals table {self.table} refused PutItem: {error_code(exc)}") from exc

    def take(self, job_name: str) -> str | None:
        # A conditional delete hands the token to exactly one of several concurrent deliveries.
        try:
            answer = client("dynamodb").delete_item(
                TableName=self.table,
                Key={"pk": {"S": f"transform#{job_name}"}},
                ConditionExpression="attribute_exists(taskToken)",
                ReturnValues="ALL_OLD",
            )
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return None
            if is_transient(exc):
                raise transient("DeleteItem", exc) from exc
            raise ConfigurationError(f"approvals table {self.table} refused DeleteItem: {error_code(exc)}") from exc
        return answer.get("Attributes", {}).get("taskToken", {}).get("S")
