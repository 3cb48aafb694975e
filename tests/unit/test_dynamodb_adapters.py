"""The DynamoDB adapters against moto's DynamoDB: conditional writes, idempotent appends, paging."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from datetime import timedelta

import pytest
from builders import decision_record, model_version, stage_task_payload
from moto import mock_aws

from model_promotion.adapters.aws import client
from model_promotion.adapters.dynamodb_approvals import DynamoDbApprovalStore
from model_promotion.adapters.dynamodb_decision_log import DynamoDbDecisionLog
from model_promotion.domain.approvals import ApprovalRequest, RequestStatus, StageTask, request_key, utc_now
from model_promotion.domain.errors import ApprovalClosed
from model_promotion.domain.records import audit_entry
from model_promotion.domain.stages import Outcome


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
    client.cache_clear()
    with mock_aws():
        dynamodb = client("dynamodb")
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
    client.cache_clear()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def test_every_decision_of_a_group_stays_retrievable_after_hundreds_of_promotions(aws: None) -> None:
    # Given 250 approvals of one model group, each appended twice (a retry)
    log = DynamoDbDecisionLog("decisions")
    for version in range(1, 251):
        task = stage_task("prod", version=version)
        entry = audit_entry(
            task,
            Outcome.APPROVED,
            f"2026-11-21T12:{version // 60:02d}:{version % 60:02d}Z",
            decision=decision_record("prod", version=version, model_package_arn=task.model.package_arn),
        )
        assert log.append(entry) is True
        assert log.append(entry) is False

    # When the group's log is read
    entries = log.entries(task.model.group)

    # Then all 250 are there, once each, oldest first, past any single page of results
    assert len(entries) == 250
    assert [e["modelVersion"] for e in entries] == list(range(1, 251))


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
    assert store.claim(request.key, first, now) == "token-1"
    with pytest.raises(ApprovalClosed):
        store.claim(request.key, decision_record("dev", decision_id="second"), now)

    # Then releasing the first makes it pending again, and a later claim wins
    store.release(request.key, "first")
    assert store.get_request(request.key).status is RequestStatus.PENDING
    assert store.claim(request.key, decision_record("dev", decision_id="third"), now) == "token-1"


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
        store.claim(request.key, decision_record("dev"), now)

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
        decided, decision_record("dev", version=1, model_package_arn=stage_task("dev", 1).model.package_arn), now
    )

    # When the pending requests are listed
    pending = store.pending()

    # Then the 150 open ones come back, soonest expiry first, and the decided one does not
    assert len(pending) == 150
    assert decided not in {r.key for r in pending}
    assert [r.expires_at for r in pending] == sorted(r.expires_at for r in pending)
