"""DynamoDB behind the DecisionLog port: an append-only, hash-chained log, partition per model group.

Layout (one table, keys modelPackageGroupName / entryKey):

- the entry: partition `<group>`, sort key its own entryKey (derived from the event, see
  domain/records.audit_entry), every field of the entry as an attribute, plus the chain fields `sequence`,
  `previousHash` and `entryHash` (domain/audit_chain.py). Readers query `<group>` and see entries only;
- its chain position: partition `<group>#chain` (a group name cannot hold `#`), sort key the zero-padded
  sequence, holding `sequence`, `entryHash`, `previousHash` and `chainedEntryKey`. The newest position is the
  chain's tail (one Query, newest first, Limit 1).

Appending entry E:

1. read the tail (a consistent Query of `<group>#chain`); link E after it (`chain()`: sequence = tail + 1,
   previousHash = the tail's hash, entryHash);
2. write both items in one TransactWriteItems, each Put conditioned on `attribute_not_exists(entryKey)`:
   the entry under its entryKey, the position under its sequence. Both are written, or neither.
3. If the transaction is cancelled, its CancellationReasons say which condition failed:
   - the entry's: E is there already. This is a retry (a repeated Lambda invocation, or the state machine's
     retry after a lost answer): nothing was written, append returns False. This holds whatever sequence the
     retry computed, because the two Puts are one transaction.
   - only the position's (or a TransactionConflict): another execution appended to this group since step 1.
     Nothing was written; read the tail again and retry, a bounded number of times with jittered backoff,
     then raise TransientAwsError so the state machine retries later.

So two executions recording at once never take the same position (the position Put is conditional), never
leave an entry without its position or a position without its entry (one transaction), and a retry never
writes a second entry. Nothing here updates or deletes an item: the table's resource policy denies
UpdateItem, DeleteItem, BatchWriteItem and PartiQL updates and deletes to every principal (template.yaml).
A PutItem overwrite cannot be denied by IAM (no condition key carries a ConditionExpression); `verify`
(domain/audit_chain.py) detects one.

The SDK's own retry of a TransactWriteItems whose answer was lost carries the same ClientRequestToken
(botocore fills it in once per call), so DynamoDB answers it as the success it was; an endpoint that ignores
the token cancels it on the entry's condition instead, and append returns False. Either way one entry.

IAM: dynamodb:PutItem (each Put of the transaction) and dynamodb:Query on the table.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.audit_chain import ENTRY_HASH, PREVIOUS_HASH, SEQUENCE, chain
from ..domain.errors import ConfigurationError, TransientAwsError
from ..ports import DecisionLog
from .aws import AwsAdapter, AwsClients, error_code, is_transient, transient

# The partition of a group's chain positions: "<group>#chain". SageMaker group names are [a-zA-Z0-9-].
CHAIN_PARTITION_SUFFIX = "#chain"
POSITION_DIGITS = 12
# Appends that lose the race for the tail this many times in a row give up (TransientAwsError): the state
# machine retries later. 10 attempts with full-jitter backoff (20 ms doubling, at most 0.8 s) wait at most about
# 4.5 s in all, well inside the functions' 30 s timeout.
MAX_APPEND_ATTEMPTS = 10
_BACKOFF_BASE_SECONDS = 0.02
_BACKOFF_CAP_SECONDS = 0.8
_RACE_CODES = frozenset({"ConditionalCheckFailed", "TransactionConflict"})
_TRANSIENT_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"})
_REASONS_IN_MESSAGE = re.compile(r"\[([A-Za-z, ]+)\]")


class DynamoDbDecisionLog(AwsAdapter, DecisionLog):
    def __init__(
        self,
        table: str,
        *,
        attempts: int = MAX_APPEND_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
        page_size: int | None = None,
        clients: AwsClients | None = None,
    ):
        """page_size: items per Query page when reading entries (DynamoDB's own 1 MB pages when None)."""
        super().__init__(clients)
        self.table = table
        self.attempts = attempts
        self.sleep = sleep
        self.page_size = page_size

    def append(self, entry: Mapping[str, Any]) -> bool:
        group = str(entry["modelPackageGroupName"])
        for attempt in range(self.attempts):
            linked = chain(self.head(group), entry)
            try:
                self.client("dynamodb").transact_write_items(
                    TransactItems=[
                        {"Put": self._put(_item(linked))},
                        {"Put": self._put(_item(_position(group, linked)))},
                    ]
                )
            except (ClientError, BotoCoreError) as exc:
                code = error_code(exc)
                if code == "TransactionCanceledException":
                    entry_reason, position_reason = [*_reasons(exc), "None", "None"][:2]
                    if entry_reason == "ConditionalCheckFailed":
                        return False  # a retry of an entry already appended: nothing was written
                    if {entry_reason, position_reason} & (_RACE_CODES | _TRANSIENT_REASONS):
                        self._back_off(attempt)
                        continue  # another execution took this position: read the new tail and link again
                    raise ConfigurationError(
                        f"decision log {self.table} cancelled the append: {entry_reason}, {position_reason}"
                    ) from exc
                if is_transient(exc):
                    raise transient("TransactWriteItems", exc) from exc
                raise ConfigurationError(f"decision log {self.table} refused the entry: {code}") from exc
            return True
        raise TransientAwsError(
            f"decision log {self.table}: {self.attempts} appends to {group} in a row lost the race for the chain's "
            "tail to other executions; try again"
        )

    def _put(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"TableName": self.table, "Item": item, "ConditionExpression": "attribute_not_exists(entryKey)"}

    def _back_off(self, attempt: int) -> None:
        self.sleep(random.uniform(0, min(_BACKOFF_CAP_SECONDS, _BACKOFF_BASE_SECONDS * 2**attempt)))

    def head(self, group: str) -> dict[str, Any] | None:
        """The chain's newest position: sequence, entryHash, previousHash and the entryKey it chains."""
        try:
            answer = self.client("dynamodb").query(
                TableName=self.table,
                KeyConditionExpression="modelPackageGroupName = :p",
                ExpressionAttributeValues={":p": {"S": group + CHAIN_PARTITION_SUFFIX}},
                ScanIndexForward=False,
                Limit=1,
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                raise transient("Query", exc) from exc
            raise ConfigurationError(f"decision log {self.table} refused reading the chain: {error_code(exc)}") from exc
        items = answer.get("Items") or []
        if not items:
            return None
        position = _plain(items[0])
        return {k: position.get(k) for k in (SEQUENCE, ENTRY_HASH, PREVIOUS_HASH, "chainedEntryKey")}

    def entries(self, group: str) -> list[dict[str, Any]]:
        paginator = self.client("dynamodb").get_paginator("query")
        pages = paginator.paginate(
            TableName=self.table,
            KeyConditionExpression="modelPackageGroupName = :g",
            ExpressionAttributeValues={":g": {"S": group}},
            ConsistentRead=True,
            **({"PaginationConfig": {"PageSize": self.page_size}} if self.page_size else {}),
        )
        found = [_plain(item) for page in pages for item in page.get("Items", [])]
        # Oldest first is chain order; an entry without a sequence (written before the chain) comes first.
        return sorted(found, key=_chain_order)


def _chain_order(entry: Mapping[str, Any]) -> tuple[int, int, str]:
    sequence = entry.get(SEQUENCE)
    chained = isinstance(sequence, int) and not isinstance(sequence, bool)
    return (1 if chained else 0, int(sequence) if chained else 0, str(entry.get("entryKey") or ""))


def _position(group: str, linked: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "modelPackageGroupName": group + CHAIN_PARTITION_SUFFIX,
        "entryKey": f"{int(linked[SEQUENCE]):0{POSITION_DIGITS}d}",
        SEQUENCE: linked[SEQUENCE],
        ENTRY_HASH: linked[ENTRY_HASH],
        PREVIOUS_HASH: linked[PREVIOUS_HASH],
        "chainedEntryKey": linked["entryKey"],
    }


def _item(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The entry as DynamoDB attributes; numbers through their JSON text (the form audit_chain hashes)."""
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    plain = json.loads(json.dumps(entry), parse_float=Decimal)
    return {key: serializer.serialize(value) for key, value in plain.items() if value is not None}


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return json.loads(json.dumps({k: deserializer.deserialize(v) for k, v in item.items()}, default=_number))


def _reasons(exc: Exception) -> list[str]:
    """The CancellationReasons' codes, one per TransactItem in order (from the message when botocore has none)."""
    response: Any = getattr(exc, "response", None) or {}
    reasons = response.get("CancellationReasons")
    if isinstance(reasons, list) and reasons:
        return [str((r or {}).get("Code") or "None") for r in reasons]
    match = _REASONS_IN_MESSAGE.search(str(response.get("Error", {}).get("Message", "")))
    return [code.strip() for code in match.group(1).split(",")] if match else []


def _number(value: Any) -> Any:
    from boto3.dynamodb.types import Binary

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    # Sets and binary values are never written by this adapter: read as lists and hex, so verify reports them.
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, Binary):
        return bytes(value.value).hex()
    raise TypeError(f"cannot serialise {type(value).__name__}")
