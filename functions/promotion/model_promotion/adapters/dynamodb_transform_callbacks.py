"""The approvals table behind the TransformCallbacks port: `transform#<job name>` items hold task tokens.

They carry the sparse index's partition key too (`pendingPartition = TRANSFORM`, sorted by when the wait
began), so the sweep can list the waits no completion event has resumed with one Query, never a Scan.
"""

from __future__ import annotations

from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.errors import ConfigurationError
from ..ports import TransformCallbacks
from .aws import AwsAdapter, AwsClients, error_code, is_transient, transient

TRANSFORM_PARTITION = "TRANSFORM"
PENDING_INDEX = "pending-by-expiry"


class DynamoDbTransformCallbacks(AwsAdapter, TransformCallbacks):
    def __init__(self, table: str, clients: AwsClients | None = None):
        super().__init__(clients)
        self.table = table

    def remember(self, job_name: str, task_token: str, purge_at: datetime) -> None:
        try:
            self.client("dynamodb").put_item(
                TableName=self.table,
                Item={
                    "pk": {"S": f"transform#{job_name}"},
                    "kind": {"S": "transform"},
                    "taskToken": {"S": task_token},
                    "purgeAt": {"N": str(int(purge_at.timestamp()))},
                    "pendingPartition": {"S": TRANSFORM_PARTITION},
                    "expiresAtMs": {"N": str(int(datetime.now(UTC).timestamp() * 1000))},
                },
            )
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                raise transient("PutItem", exc) from exc
            raise ConfigurationError(f"approvals table {self.table} refused PutItem: {error_code(exc)}") from exc

    def outstanding(self) -> list[str]:
        names: list[str] = []
        try:
            pages = (
                self.client("dynamodb")
                .get_paginator("query")
                .paginate(
                    TableName=self.table,
                    IndexName=PENDING_INDEX,
                    KeyConditionExpression="pendingPartition = :p",
                    ExpressionAttributeValues={":p": {"S": TRANSFORM_PARTITION}},
                )
            )
            for page in pages:
                names += [item["pk"]["S"].removeprefix("transform#") for item in page.get("Items", [])]
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                raise transient("Query", exc) from exc
            raise ConfigurationError(f"approvals table {self.table} refused Query: {error_code(exc)}") from exc
        return names

    def take(self, job_name: str) -> str | None:
        # A conditional delete hands the token to exactly one of several concurrent deliveries.
        try:
            answer = self.client("dynamodb").delete_item(
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
