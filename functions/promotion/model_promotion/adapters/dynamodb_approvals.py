"""DynamoDB behind the ApprovalStore port.

One table, two kinds of item: `request#<execution>#<stage>` holds the request, its status and its
task token; `link#<approval id>` maps one approver's link to the request. Structured values are
stored as JSON strings so metrics keep their float values exactly.
"""

from __future__ import annotations

import json
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.approvals import (
    ApprovalRequest,
    DecisionRecord,
    RequestStatus,
    StageTask,
    iso,
    parse_time,
)
from ..domain.errors import ApprovalClosed, ConfigurationError
from ..ports import ApprovalLink, ApprovalStore, QuorumMoved
from .aws import AwsAdapter, AwsClients, error_code, is_transient, transient

CONDITION_FAILED = "ConditionalCheckFailedException"
PENDING_INDEX = "pending-by-expiry"
PENDING_PARTITION = "PENDING"
# Claims whose delivery is unconfirmed sit in the same sparse index under their own partition, so the sweep
# finds them without a scan.
SENDING_PARTITION = "SENDING"
BATCH_GET_MAX = 100
# Everything a request is read back from, except its task token.
REQUEST_ATTRIBUTES = (
    "pk, #s, task, evidence, champion, recipients, requestedAt, expiresAt, expiresAtMs, decision, remindedAt, "
    "approvalQuorum, approvals, approvalCount, sendingSince"
)


def table_error(table: str, action: str, exc: ClientError | BotoCoreError, kind: str = "approvals table") -> Exception:
    """What a failed call on a table means: a failed condition as is (the caller reads what it means),
    throttling and 5xx as TransientAwsError, anything else as the table's configuration."""
    if error_code(exc) == CONDITION_FAILED:
        return exc
    if is_transient(exc):
        return transient(action, exc)
    return ConfigurationError(f"{kind} {table} refused {action}: {error_code(exc)}")


class DynamoDbApprovalStore(AwsAdapter, ApprovalStore):
    def __init__(self, table: str, clients: AwsClients | None = None):
        super().__init__(clients)
        self.table = table

    def _call(self, action: str, **request: Any) -> dict[str, Any]:
        try:
            return getattr(self.client("dynamodb"), action)(TableName=self.table, **request)
        except (ClientError, BotoCoreError) as exc:
            error = table_error(self.table, action, exc)
            if error is exc:
                raise
            raise error from exc

    def save_request(self, request: ApprovalRequest, task_token: str, purge_at: datetime) -> None:
        task = request.task
        item = {
            "pk": {"S": request.key},
            "kind": {"S": "request"},
            "status": {"S": RequestStatus.PENDING.value},
            "taskToken": {"S": task_token},
            "task": {"S": json.dumps(task.to_payload())},
            "evidence": {"S": json.dumps(request.evidence)},
            "champion": {"S": json.dumps(request.champion)},
            "recipients": {"L": [{"S": r} for r in request.recipients]},
            "requestedAt": {"S": iso(request.requested_at)},
            "expiresAt": {"S": iso(request.expires_at)},
            "expiresAtMs": {"N": str(_ms(request.expires_at))},
            # Only pending requests carry this attribute: the sparse index PENDING_INDEX lists exactly them.
            "pendingPartition": {"S": PENDING_PARTITION},
            "purgeAt": {"N": str(int(purge_at.timestamp()))},
            "approvalQuorum": {"N": str(request.quorum)},
            "approvalCount": {"N": "0"},
        }
        try:
            # A retry of the request replaces it only while it holds no approval: signed approvals are never lost.
            self._call(
                "put_item",
                Item=item,
                ConditionExpression=(
                    "attribute_not_exists(pk) OR (#s = :pending AND "
                    "(attribute_not_exists(approvalCount) OR approvalCount = :zero))"
                ),
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":pending": {"S": RequestStatus.PENDING.value}, ":zero": {"N": "0"}},
            )
        except ClientError as exc:
            try:
                # Approvals already landed on the earlier attempt: keep them, and wait on the new token.
                self._call(
                    "update_item",
                    Key={"pk": {"S": request.key}},
                    UpdateExpression="SET taskToken = :token",
                    ConditionExpression="#s = :pending",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={
                        ":token": {"S": task_token},
                        ":pending": {"S": RequestStatus.PENDING.value},
                    },
                )
            except ClientError:
                raise ApprovalClosed(f"the request for {task.stage} was already decided", status="DECIDED") from exc

    def save_link(self, link: ApprovalLink, purge_at: datetime) -> None:
        self._call(
            "put_item",
            Item={
                "pk": {"S": f"link#{link.approval_id}"},
                "kind": {"S": "link"},
                "requestKey": {"S": link.request_key},
                "recipient": {"S": link.recipient},
                "purgeAt": {"N": str(int(purge_at.timestamp()))},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    def find_link(self, approval_id: str) -> ApprovalLink | None:
        item = self._call("get_item", Key={"pk": {"S": f"link#{approval_id}"}}).get("Item")
        if not item:
            return None
        return ApprovalLink(approval_id, item["requestKey"]["S"], item["recipient"]["S"])

    def get_request(self, key: str) -> ApprovalRequest | None:
        item = self._call("get_item", Key={"pk": {"S": key}}, ConsistentRead=True).get("Item")
        return _request_from_item(item) if item else None

    def _quorum_condition(self, approval: DecisionRecord, seen: int, now: datetime) -> dict[str, Any]:
        """Pending, unexpired, still holding the `seen` approvals we read, and none by this signer. A request stored
        before approvals were counted has no approvalCount: it holds none."""
        count = (
            "(approvalCount = :seen OR attribute_not_exists(approvalCount))" if seen == 0 else "approvalCount = :seen"
        )
        return {
            "ConditionExpression": (
                f"#s = :pending AND expiresAtMs > :now AND {count} AND NOT contains(approverSubjects, :subject)"
            ),
            "ExpressionAttributeNames": {"#s": "status"},
            "values": {
                ":pending": {"S": RequestStatus.PENDING.value},
                ":now": {"N": str(_ms(now))},
                ":seen": {"N": str(seen)},
                ":subject": {"S": approval.signer_key},
            },
        }

    def add_approval(self, key: str, approval: DecisionRecord, seen: int, now: datetime) -> None:
        condition = self._quorum_condition(approval, seen, now)
        try:
            self._call(
                "update_item",
                Key={"pk": {"S": key}},
                UpdateExpression=(
                    "SET approvals = list_append(if_not_exists(approvals, :none), :mine), approvalCount = :next "
                    "ADD approverSubjects :subjects"
                ),
                ConditionExpression=condition["ConditionExpression"],
                ExpressionAttributeNames=condition["ExpressionAttributeNames"],
                ExpressionAttributeValues={
                    **condition["values"],
                    ":none": {"L": []},
                    ":mine": {"L": [{"S": json.dumps(approval.to_payload())}]},
                    ":next": {"N": str(seen + 1)},
                    ":subjects": {"SS": [approval.signer_key]},
                },
            )
        except ClientError as exc:
            current = self.get_request(key)
            if current is not None and any(a.decision_id == approval.decision_id for a in current.approvals):
                return  # our own write, whose answer was lost
            self._why_refused(current, now, exc)

    def claim(self, key: str, decision: DecisionRecord, seen: int, now: datetime) -> str:
        condition = self._quorum_condition(decision, seen, now)
        try:
            answer = self._call(
                "update_item",
                Key={"pk": {"S": key}},
                UpdateExpression=(
                    "SET #s = :sending, decision = :decision, decisionId = :id, pendingPartition = :partition, "
                    "sendingSince = :at ADD approverSubjects :subjects"
                ),
                ConditionExpression=condition["ConditionExpression"],
                ExpressionAttributeNames=condition["ExpressionAttributeNames"],
                ExpressionAttributeValues={
                    **condition["values"],
                    ":sending": {"S": RequestStatus.SENDING.value},
                    ":decision": {"S": json.dumps(decision.to_payload())},
                    ":id": {"S": decision.decision_id},
                    ":partition": {"S": SENDING_PARTITION},
                    ":at": {"S": iso(now)},
                    ":subjects": {"SS": [decision.signer_key]},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            # A claim applied but whose answer was lost meets its own write on the SDK's retry: that is this
            # decision's claim, not someone else's, and the decision goes on.
            item = self._call("get_item", Key={"pk": {"S": key}}, ConsistentRead=True).get("Item")
            if item and item.get("decisionId", {}).get("S") == decision.decision_id and "taskToken" in item:
                return str(item["taskToken"]["S"])
            self._why_refused(_request_from_item(item) if item else None, now, exc)
        return answer["Attributes"]["taskToken"]["S"]

    @staticmethod
    def _why_refused(current: ApprovalRequest | None, now: datetime, exc: Exception) -> None:
        """Turns a failed condition into what happened: closed, decided, or an approval that landed first."""
        if current is None:
            raise ApprovalClosed("This request no longer exists.", status="EXPIRED") from exc
        current.ensure_open(now)
        if current.status is RequestStatus.PENDING:
            raise QuorumMoved(current.key) from exc
        raise ApprovalClosed("This request was decided a moment ago.", status="DECIDED") from exc

    def finish(self, key: str, decision: DecisionRecord) -> None:
        with suppress(ClientError):  # not ours any more: a sweep or a retry finished it already
            self._call(
                "update_item",
                Key={"pk": {"S": key}},
                UpdateExpression="SET #s = :status REMOVE taskToken, pendingPartition, sendingSince",
                ConditionExpression="decisionId = :id",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":status": {"S": decision.decision.request_status.value},
                    ":id": {"S": decision.decision_id},
                },
            )

    def _undo_claim(self, key: str, decision: DecisionRecord, status: RequestStatus) -> None:
        back_to_pending = status is RequestStatus.PENDING
        # Back to pending, the request keeps its token and forgets the claimer; expired, it drops both.
        update = (
            "SET #s = :status, pendingPartition = :pending REMOVE decision, decisionId, sendingSince "
            "DELETE approverSubjects :subject"
            if back_to_pending
            else "SET #s = :status REMOVE decision, decisionId, sendingSince, taskToken, pendingPartition"
        )
        values: dict[str, Any] = {":status": {"S": status.value}, ":id": {"S": decision.decision_id}}
        if back_to_pending:
            values[":pending"] = {"S": PENDING_PARTITION}
            values[":subject"] = {"SS": [decision.signer_key]}
        # A failed condition means our claim is no longer there, so there is nothing of ours to undo.
        with suppress(ClientError):
            self._call(
                "update_item",
                Key={"pk": {"S": key}},
                UpdateExpression=update,
                ConditionExpression="decisionId = :id",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=values,
            )

    def release(self, key: str, decision: DecisionRecord) -> None:
        self._undo_claim(key, decision, RequestStatus.PENDING)

    def mark_expired(self, key: str, decision: DecisionRecord) -> None:
        self._undo_claim(key, decision, RequestStatus.EXPIRED)

    def _keys_in(self, partition: str) -> list[str]:
        """The keys the sparse index holds under one partition (pending, or sending), soonest expiry first."""
        pages = (
            self.client("dynamodb")
            .get_paginator("query")
            .paginate(
                TableName=self.table,
                IndexName=PENDING_INDEX,
                KeyConditionExpression="pendingPartition = :p",
                ExpressionAttributeValues={":p": {"S": partition}},
            )
        )
        return [item["pk"]["S"] for page in pages for item in page.get("Items", [])]

    def sending(self) -> list[tuple[ApprovalRequest, str]]:
        """Claims whose delivery is unconfirmed, oldest expiry first, each with its task token (read whole: the
        index holds keys only, and these are few)."""
        found = []
        for key in self._keys_in(SENDING_PARTITION):
            item = self._call("get_item", Key={"pk": {"S": key}}, ConsistentRead=True).get("Item")
            if item and item.get("status", {}).get("S") == RequestStatus.SENDING.value and "taskToken" in item:
                found.append((_request_from_item(item), item["taskToken"]["S"]))
        return found

    def pending(self) -> list[ApprovalRequest]:
        """Every pending request, soonest expiry first: keys from the sparse index (no table scan), then the
        requests themselves in batches of 100, without their task tokens."""
        keys = self._keys_in(PENDING_PARTITION)
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), BATCH_GET_MAX):
            wanted: dict[str, Any] = {
                self.table: {
                    "Keys": [{"pk": {"S": key}} for key in keys[start : start + BATCH_GET_MAX]],
                    "ConsistentRead": True,
                    "ProjectionExpression": REQUEST_ATTRIBUTES,
                    "ExpressionAttributeNames": {"#s": "status"},
                }
            }
            while wanted:
                answer = self._batch_get(wanted)
                for item in answer.get("Responses", {}).get(self.table, []):
                    found[item["pk"]["S"]] = item
                wanted = answer.get("UnprocessedKeys") or {}
        return [
            _request_from_item(found[key])
            for key in keys
            if key in found and found[key].get("status", {}).get("S") == RequestStatus.PENDING.value
        ]

    def _batch_get(self, request_items: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.client("dynamodb").batch_get_item(RequestItems=request_items)
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                raise transient("BatchGetItem", exc) from exc
            raise ConfigurationError(f"approvals table {self.table} refused BatchGetItem: {error_code(exc)}") from exc

    def mark_reminded(self, key: str, at: datetime) -> bool:
        """Records that the reminder went out; False when it already had (a concurrent or repeated sweep)."""
        try:
            self._call(
                "update_item",
                Key={"pk": {"S": key}},
                UpdateExpression="SET remindedAt = :at",
                ConditionExpression="attribute_not_exists(remindedAt) AND #s = :pending",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":at": {"S": iso(at)}, ":pending": {"S": RequestStatus.PENDING.value}},
            )
        except ClientError:
            return False
        return True

    def close(self, key: str, status: RequestStatus) -> None:
        """Closes a pending request without a decision (cancelled or expired), dropping its token."""
        with suppress(ClientError):
            self._call(
                "update_item",
                Key={"pk": {"S": key}},
                UpdateExpression="SET #s = :status REMOVE taskToken, pendingPartition",
                ConditionExpression="#s = :pending",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":status": {"S": status.value},
                    ":pending": {"S": RequestStatus.PENDING.value},
                },
            )

    def task_token(self, key: str) -> str | None:
        """The stored token of a pending request, for operations that resume or stop it (never logged)."""
        item = self._call("get_item", Key={"pk": {"S": key}}, ConsistentRead=True).get("Item") or {}
        return item.get("taskToken", {}).get("S")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _request_from_item(item: dict[str, Any]) -> ApprovalRequest:
    decision = item.get("decision", {}).get("S")
    return ApprovalRequest(
        key=item["pk"]["S"],
        task=StageTask.from_payload(json.loads(item["task"]["S"])),
        requested_at=parse_time(item["requestedAt"]["S"]),
        expires_at=datetime.fromtimestamp(int(item["expiresAtMs"]["N"]) / 1000, tz=UTC),
        recipients=tuple(r["S"] for r in item.get("recipients", {}).get("L", [])),
        evidence=json.loads(item["evidence"]["S"]) if "evidence" in item else None,
        champion=json.loads(item["champion"]["S"]) if "champion" in item else None,
        status=RequestStatus(item["status"]["S"]),
        decision=DecisionRecord.from_payload(json.loads(decision)) if decision else None,
        reminded_at=parse_time(item["remindedAt"]["S"]) if "remindedAt" in item else None,
        quorum=int(item["approvalQuorum"]["N"]) if "approvalQuorum" in item else 1,
        approvals=tuple(
            DecisionRecord.from_payload(json.loads(a["S"])) for a in item.get("approvals", {}).get("L", [])
        ),
        sending_since=parse_time(item["sendingSince"]["S"]) if "sendingSince" in item else None,
    )
