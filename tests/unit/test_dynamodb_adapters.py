"""The DynamoDB adapters against moto's DynamoDB: conditional writes, idempotent appends, paging."""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import boto3
import pytest
from builders import decision_record, model_version, stage_task_payload
from moto import mock_aws

from model_promotion.adapters.aws import DEFAULT_CLIENTS
from model_promotion.adapters.dynamodb_approvals import DynamoDbApprovalStore
from model_promotion.adapters.dynamodb_decision_log import DynamoDbDecisionLog
from model_promotion.domain.approvals import ApprovalRequest, RequestStatus, StageTask, request_key, utc_now
from model_promotion.domain.audit_chain import GENESIS_HASH, chain, entry_hash, verify
from model_promotion.domain.errors import ApprovalClosed, TransientAwsError
from model_promotion.domain.records import audit_entry
from model_promotion.domain.stages import Outcome
from model_promotion.ports import QuorumMoved


def stage_task(stage: str, version: int = 3) -> StageTask:
    model = dataclasses.replace(
        model_version(),
        version=version,
        package_arn=f"arn:aws:sagemaker:us-east-1:123456789012:model-package/g/{version}",
    )
    return StageTask.from_payload(stage_task_payload(stage, model=model))


@pytest.fixture
def aws() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    DEFAULT_CLIENTS.clear()
    with mock_aws():
        dynamodb = DEFAULT_CLIENTS.client("dynamodb")
        dynamodb.create_table(
            TableName="approvals",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "pendingPartition", "AttributeType": "S"},
                {"AttributeName": "expiresAtMs", "AttributeType": "N"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "pending-by-expiry",
                    "KeySchema": [
                        {"AttributeName": "pendingPartition", "KeyType": "HASH"},
                        {"AttributeName": "expiresAtMs", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.create_table(
            TableName="decisions",
            AttributeDefinitions=[
                {"AttributeName": "modelPackageGroupName", "AttributeType": "S"},
                {"AttributeName": "entryKey", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "modelPackageGroupName", "KeyType": "HASH"},
                {"AttributeName": "entryKey", "KeyType": "RANGE"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield
    DEFAULT_CLIENTS.clear()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def isolated_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB isolates a transaction from every other request: nobody sees its writes before it commits, and a
    cancelled one is never seen. moto applies a transaction's writes one by one and rolls them back on a failed
    condition, without a lock, so a concurrent read could see a write that never happened. Serialising moto's
    reads and writes restores the isolation the chain's append relies on (threads still race between calls)."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("get_item", "put_item", "query", "transact_write_items"):
        original = getattr(DynamoDBBackend, name)

        def locked(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return _original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, locked)


def approval(version: int, second: int | None = None, **decision: Any) -> dict[str, Any]:
    task = stage_task("prod", version=version)
    at = second if second is not None else version
    return audit_entry(
        task,
        Outcome.APPROVED,
        f"2026-11-21T12:{at // 60 % 60:02d}:{at % 60:02d}Z",
        decision=decision_record("prod", version=version, model_package_arn=task.model.package_arn, **decision),
    )


def raw_items(partition: str) -> list[dict[str, Any]]:
    """What the table holds in one partition, read past the adapter (an administrator's Query)."""
    from boto3.dynamodb.types import TypeDeserializer

    deserialize = TypeDeserializer().deserialize
    items = DEFAULT_CLIENTS.client("dynamodb").query(
        TableName="decisions",
        KeyConditionExpression="modelPackageGroupName = :g",
        ExpressionAttributeValues={":g": {"S": partition}},
    )["Items"]
    return [{k: deserialize(v) for k, v in item.items()} for item in items]


def test_every_decision_of_a_group_stays_retrievable_in_chain_order_past_one_page(aws: None) -> None:
    # Given 45 approvals of one model group, each appended twice (a retry), read 20 to a page
    log = DynamoDbDecisionLog("decisions", page_size=20)
    for version in range(1, 46):
        entry = approval(version)
        assert log.append(entry) is True
        assert log.append(entry) is False

    # When the group's log is read
    pages: list[int] = []
    DEFAULT_CLIENTS.client("dynamodb").meta.events.register(
        "after-call.dynamodb.Query", lambda parsed, **_: pages.append(len(parsed.get("Items", [])))
    )
    entries = log.entries(entry["modelPackageGroupName"])

    # Then all 45 are there, once each, oldest first, across three pages, in one unbroken chain
    assert pages == [20, 20, 5]
    assert len(entries) == 45
    assert [e["modelVersion"] for e in entries] == list(range(1, 46))
    assert [e["sequence"] for e in entries] == list(range(1, 46))
    assert verify(entries, log.head(entry["modelPackageGroupName"])).ok


def test_an_append_links_the_entry_after_the_newest_and_a_retry_writes_nothing(aws: None) -> None:
    # Given a group's first two outcomes
    log = DynamoDbDecisionLog("decisions")
    first, second = approval(1), approval(2)
    group = first["modelPackageGroupName"]
    assert log.append(first) is True
    assert log.append(second) is True

    # When the first is appended again, as a retry of its Lambda invocation would
    assert log.append(first) is False

    # Then the log holds two entries, the second naming the first's hash, each with one chain position
    one, two = log.entries(group)
    assert (one["sequence"], one["previousHash"]) == (1, GENESIS_HASH)
    assert (two["sequence"], two["previousHash"]) == (2, one["entryHash"])
    assert two["entryHash"] == entry_hash(two)
    positions = raw_items(group + "#chain")
    assert [(p["sequence"], p["chainedEntryKey"], p["entryHash"]) for p in positions] == [
        (1, first["entryKey"], one["entryHash"]),
        (2, second["entryKey"], two["entryHash"]),
    ]
    assert log.head(group)["sequence"] == 2
    assert verify(log.entries(group), log.head(group)).to_dict()["entries"] == 2


def test_an_entry_reads_back_from_dynamodb_with_the_hash_it_was_chained_with(aws: None) -> None:
    # Given an entry with what DynamoDB keeps by value, not by spelling: integral floats, exponents, nesting,
    # nulls inside and out, text beyond ASCII
    entry = approval(1, comment="Prüfung bestanden — ✓ 模型")
    entry["evidence"] = {
        "metrics": {"accuracy": 1.0, "roc_auc": 0.9583, "tiny": 1e-07, "large": 1e23, "rows": 72},
        "notes": [None, True, "x", 0.1 + 0.2],
    }
    log = DynamoDbDecisionLog("decisions")
    assert log.append(entry) is True

    # When it is read back
    (read,) = log.entries(entry["modelPackageGroupName"])

    # Then its fields hash as they did when it was chained: the chain holds
    assert read["comment"] == "Prüfung bestanden — ✓ 模型"
    assert read["evidence"]["metrics"]["accuracy"] == 1 and read["evidence"]["notes"][3] == 0.1 + 0.2
    assert read["entryHash"] == entry_hash(read) == chain(None, entry)["entryHash"]
    assert verify([read]).ok


def test_concurrent_appends_to_one_group_build_one_unbroken_chain(aws: None, isolated_moto: None) -> None:
    # Given eight executions of one group recording at once, each also retrying its first entry
    lost_races: list[float] = []
    log = DynamoDbDecisionLog("decisions", sleep=lambda seconds: (lost_races.append(seconds), time.sleep(seconds)))
    start = threading.Barrier(8)

    def record(worker: int) -> list[bool]:
        start.wait()
        mine = [approval(worker * 10 + n, second=worker * 10 + n) for n in range(1, 5)]
        return [log.append(e) for e in mine] + [log.append(mine[0])]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(record, range(8)))

    # Then they raced for the tail (the losers read it again), every entry was appended once, every retry wrote
    # nothing, and the chain holds all 32, gap-free
    assert lost_races
    assert all(r == [True, True, True, True, False] for r in results), results
    group = approval(1)["modelPackageGroupName"]
    entries = log.entries(group)
    assert len(entries) == 32 and len({e["entryKey"] for e in entries}) == 32
    assert [e["sequence"] for e in entries] == list(range(1, 33))
    verdict = verify(entries, log.head(group))
    assert verdict.ok, verdict.broken
    assert len(raw_items(group + "#chain")) == 32


def test_an_append_that_keeps_losing_the_race_gives_up_transiently_and_writes_nothing(aws: None) -> None:
    # Given a log whose every read of the tail is stale: another execution always got there first
    log = DynamoDbDecisionLog("decisions", attempts=3, sleep=lambda _: None)
    assert log.append(approval(1)) is True
    log.head = lambda group: None  # type: ignore[method-assign]

    # When an entry is appended, Then it gives up with an error the state machine retries
    with pytest.raises(TransientAwsError, match="lost the race"):
        log.append(approval(2))

    # And neither the entry nor a position was written: both Puts are one transaction
    group = approval(1)["modelPackageGroupName"]
    assert [e["modelVersion"] for e in raw_items(group)] == [1]
    assert len(raw_items(group + "#chain")) == 1


def test_an_entry_overwritten_in_the_table_fails_verification_naming_it(aws: None) -> None:
    # Given three chained entries, the second then overwritten with another comment (a PutItem, which IAM
    # cannot refuse)
    log = DynamoDbDecisionLog("decisions")
    for version in (1, 2, 3):
        log.append(approval(version))
    group = approval(1)["modelPackageGroupName"]
    second = next(e for e in raw_items(group) if e["sequence"] == 2)
    DEFAULT_CLIENTS.client("dynamodb").put_item(
        TableName="decisions",
        Item={**_attributes(second), "comment": {"S": "approved, no concerns"}},
    )

    # When the chain is verified, Then the second entry is named as altered
    verdict = verify(log.entries(group), log.head(group))
    assert verdict.broken is not None
    assert (verdict.broken.kind, verdict.broken.sequence) == ("altered", 2)
    assert verdict.broken.message == f"entry 2 ({second['entryKey']}) was altered: its hash does not match its content"


def _attributes(item: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    serialize = TypeSerializer().serialize
    return {k: serialize(v) for k, v in item.items()}


def test_only_one_claim_wins_and_a_released_claim_can_be_taken_again(aws: None) -> None:
    # Given a pending request in the approvals table
    store = DynamoDbApprovalStore("approvals")
    task = stage_task("dev")
    now = utc_now()
    request = ApprovalRequest(
        key=request_key(task.execution_name, "dev"),
        task=task,
        requested_at=now,
        expires_at=now + timedelta(hours=1),
        recipients=("a@example.com",),
        evidence=None,
    )
    store.save_request(request, "token-1", now + timedelta(days=30))

    # When two decisions claim it
    first = decision_record("dev", decision_id="first")
    assert store.claim(request.key, first, 0, now) == "token-1"
    with pytest.raises(ApprovalClosed):
        store.claim(request.key, decision_record("dev", decision_id="second"), 0, now)

    # Then releasing the first makes it pending again, and a later claim wins
    store.release(request.key, first)
    assert store.get_request(request.key).status is RequestStatus.PENDING
    assert store.claim(request.key, decision_record("dev", decision_id="third"), 0, now) == "token-1"
    # and while its delivery is unconfirmed the sweep can find it, token and all
    [(sending, token)] = store.sending()
    assert (sending.key, sending.status, token) == (request.key, RequestStatus.SENDING, "token-1")


def test_approvals_short_of_the_quorum_count_each_signer_once_and_never_race(aws: None) -> None:
    # Given a request of a stage that needs two approvers
    store = DynamoDbApprovalStore("approvals")
    task = stage_task("prod")
    now = utc_now()
    request = ApprovalRequest(
        key=request_key(task.execution_name, "prod"),
        task=task,
        requested_at=now,
        expires_at=now + timedelta(hours=1),
        recipients=("a@example.com", "b@example.com"),
        evidence=None,
        quorum=2,
    )
    store.save_request(request, "token-1", now + timedelta(days=30))
    priya = decision_record("prod", decision_id="priya-1", approver_subject="sub-priya")

    # When Priya approves, then approves again, and a rival write that read the old count lands
    store.add_approval(request.key, priya, 0, now)
    with pytest.raises(QuorumMoved):
        store.add_approval(
            request.key, decision_record("prod", decision_id="priya-2", approver_subject="sub-priya"), 1, now
        )
    with pytest.raises(QuorumMoved):
        store.claim(request.key, decision_record("prod", decision_id="omar-1", approver_subject="sub-omar"), 0, now)

    # Then one approval is held, Priya's, and the request still waits with its token
    held = store.get_request(request.key)
    assert [a.decision_id for a in held.approvals] == ["priya-1"]
    assert (held.status, held.quorum) == (RequestStatus.PENDING, 2)
    # and a retried request keeps the approval and waits on the new token
    store.save_request(request, "token-2", now + timedelta(days=30))
    assert [a.decision_id for a in store.get_request(request.key).approvals] == ["priya-1"]
    omar = decision_record("prod", decision_id="omar-2", approver_subject="sub-omar")
    assert store.claim(request.key, omar, 1, now) == "token-2"
    store.finish(request.key, omar)
    done = store.get_request(request.key)
    assert done.status is RequestStatus.APPROVED
    assert store.task_token(request.key) is None
    assert store.sending() == []


def test_a_request_stored_before_approvals_were_counted_can_still_be_decided(aws: None) -> None:
    # Given a pending request as the approvals table held it before quorum: no approvalCount attribute
    store = DynamoDbApprovalStore("approvals")
    task = stage_task("dev")
    now = utc_now()
    request = ApprovalRequest(
        key=request_key(task.execution_name, "dev"),
        task=task,
        requested_at=now,
        expires_at=now + timedelta(hours=1),
        recipients=("a@example.com",),
        evidence=None,
    )
    store.save_request(request, "token-1", now + timedelta(days=30))
    boto3.client("dynamodb", region_name="us-east-1").update_item(
        TableName="approvals", Key={"pk": {"S": request.key}}, UpdateExpression="REMOVE approvalCount, approvalQuorum"
    )

    # When it is claimed, Then the claim wins
    assert store.claim(request.key, decision_record("dev"), 0, now) == "token-1"


def test_an_expired_request_cannot_be_claimed(aws: None) -> None:
    store = DynamoDbApprovalStore("approvals")
    task = stage_task("dev")
    now = utc_now()
    request = ApprovalRequest(
        key=request_key(task.execution_name, "dev"),
        task=task,
        requested_at=now - timedelta(hours=2),
        expires_at=now - timedelta(milliseconds=1),
        recipients=("a@example.com",),
        evidence=None,
    )
    store.save_request(request, "token-1", now + timedelta(days=30))

    with pytest.raises(ApprovalClosed) as closed:
        store.claim(request.key, decision_record("dev"), 0, now)

    assert closed.value.status == "EXPIRED"


def test_pending_lists_every_open_request_soonest_expiry_first_past_one_batch(aws: None) -> None:
    # Given 150 pending requests and one decided
    store = DynamoDbApprovalStore("approvals")
    now = utc_now()
    for index in range(151):
        task = stage_task("dev", version=index + 1)
        store.save_request(
            ApprovalRequest(
                key=request_key(task.execution_name + f"-{index}", "dev"),
                task=task,
                requested_at=now,
                expires_at=now + timedelta(minutes=151 - index),
                recipients=("a@example.com",),
                evidence=None,
            ),
            f"token-{index}",
            now + timedelta(days=30),
        )
    decided = request_key(stage_task("dev", version=1).execution_name + "-0", "dev")
    store.claim(
        decided, decision_record("dev", version=1, model_package_arn=stage_task("dev", 1).model.package_arn), 0, now
    )

    # When the pending requests are listed
    pending = store.pending()

    # Then the 150 open ones come back, soonest expiry first, and the decided one does not
    assert len(pending) == 150
    assert decided not in {r.key for r in pending}
    assert [r.expires_at for r in pending] == sorted(r.expires_at for r in pending)
