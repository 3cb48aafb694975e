"""Reminders before expiry, and reconcile after a lost registration event, with fakes of the ports."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from builders import model_description, stage_task_payload
from fakes import FakeApprovalStore, FakeMailer, FakeWorkflow

from model_promotion.domain.approvals import ApprovalRequest, RequestStatus, StageTask, request_key, utc_now
from model_promotion.domain.model_version import APPROVED
from model_promotion.domain.registration import execution_name
from model_promotion.ports import ModelCatalog
from model_promotion.services.reconcile import reconcile
from model_promotion.services.reminders import sweep_pending

BASE_URL = "https://approvals.example.com"


def _pending(store: FakeApprovalStore, *, expires_in: timedelta, stage: str = "dev") -> ApprovalRequest:
    task = StageTask.from_payload(stage_task_payload(stage))
    now = utc_now()
    request = ApprovalRequest(
        key=request_key(task.execution_name, stage),
        task=task,
        requested_at=now - timedelta(hours=1),
        expires_at=now + expires_in,
        recipients=("a@example.com", "b@example.com"),
        evidence=None,
    )
    store.save_request(request, "token", now + timedelta(days=30))
    return request


def test_a_request_near_expiry_is_reminded_once_with_fresh_links_to_the_same_request() -> None:
    # Given a request expiring in 30 minutes, and reminders an hour before expiry
    store, mailer = FakeApprovalStore(), FakeMailer()
    request = _pending(store, expires_in=timedelta(minutes=30))

    # When the sweep runs twice
    first = sweep_pending(
        store=store, mailer=mailer, base_url=BASE_URL, now=utc_now(), remind_before=timedelta(hours=1)
    )
    second = sweep_pending(
        store=store, mailer=mailer, base_url=BASE_URL, now=utc_now(), remind_before=timedelta(hours=1)
    )

    # Then each approver got one reminder whose link leads to the same request and its unchanged token
    assert first["reminded"] == [request.key] and second["reminded"] == []
    assert sorted(m.to[0] for m in mailer.sent) == ["a@example.com", "b@example.com"]
    assert all(m.subject.startswith("Reminder, expires ") for m in mailer.sent)
    assert {link.request_key for link in store.links.values()} == {request.key}
    assert store.tokens[request.key] == "token"
    assert first["oldestPendingSeconds"] >= 3600


def test_no_reminder_goes_out_early_or_when_reminders_are_off() -> None:
    store, mailer = FakeApprovalStore(), FakeMailer()
    _pending(store, expires_in=timedelta(hours=5))

    early = sweep_pending(
        store=store, mailer=mailer, base_url=BASE_URL, now=utc_now(), remind_before=timedelta(hours=1)
    )
    off = sweep_pending(store=store, mailer=mailer, base_url=BASE_URL, now=utc_now(), remind_before=timedelta(0))

    assert early["reminded"] == [] and off["reminded"] == [] and mailer.sent == []
    assert early["pending"] == 1


def _description(version: int, status: str = "PendingManualApproval") -> dict[str, Any]:
    description = model_description(status=status)
    group = description["ModelPackageGroupName"]
    description.update(
        ModelPackageVersion=version,
        ModelPackageArn=f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{group}/{version}",
    )
    return description


class FakeCatalog(ModelCatalog):
    def __init__(self, descriptions: list[dict[str, Any]]):
        self.descriptions = descriptions

    def pending_versions(self, groups: tuple[str, ...]) -> list[dict[str, Any]]:
        return [d for d in self.descriptions if not groups or d["ModelPackageGroupName"] in groups]


def test_reconcile_starts_exactly_the_pending_versions_that_have_no_promotion() -> None:
    # Given two pending versions, one of which already has its execution, and an approved one
    lost = _description(7)
    running = _description(8)
    approved = _description(9, APPROVED)
    workflow = FakeWorkflow()
    workflow.start(execution_name(running["ModelPackageGroupName"], 8), {})

    # When reconcile runs
    result = reconcile(catalog=FakeCatalog([lost, running, approved]), workflow=workflow, stages=("dev", "prod"))

    # Then only the lost one is started, with the configured stages
    assert result["started"] == [execution_name(lost["ModelPackageGroupName"], 7)]
    assert result["alreadyRunning"] == 1
    started_input = workflow.started[result["started"][0]]
    assert started_input["stages"] == ["dev", "prod"] and started_input["model"]["version"] == 7


def test_reconcile_leaves_a_version_whose_promotion_ended_alone_even_after_its_execution_is_purged() -> None:
    # Given a version that expired at dev: still PendingManualApproval, and (90 days on) no execution left
    expired = _description(11)
    expired["CustomerMetadataProperties"] = {"dev": "Expired", "promotion-ended": "expired at dev"}
    workflow = FakeWorkflow()

    # When reconcile runs
    result = reconcile(catalog=FakeCatalog([expired]), workflow=workflow, stages=("dev", "prod"))

    # Then nothing starts and nobody is mailed again
    assert result == {"started": [], "alreadyRunning": 0, "ended": 1}
    assert workflow.started == {}


def test_reconcile_restarts_a_lost_retry_under_its_attempts_name_where_it_stopped() -> None:
    # Given a version an operator retried (attempt 2), dev approved before, whose retry never started
    retried = _description(12)
    retried["CustomerMetadataProperties"] = {"dev": "Approved", "prod": "Expired", "promotion-attempt": "2"}
    workflow = FakeWorkflow()
    workflow.start(execution_name(retried["ModelPackageGroupName"], 12), {})  # the first attempt, closed

    # When reconcile runs
    result = reconcile(catalog=FakeCatalog([retried]), workflow=workflow, stages=("dev", "prod"))

    # Then the second attempt starts at prod
    name = execution_name(retried["ModelPackageGroupName"], 12, attempt=2)
    assert result["started"] == [name]
    assert workflow.started[name]["position"] == 1


def test_the_sweep_closes_an_expired_request_so_the_waiting_time_alarm_clears() -> None:
    # Given one request that expired ten minutes ago (after waiting 70 minutes), one still open
    store, mailer = FakeApprovalStore(), FakeMailer()
    expired = _pending(store, expires_in=-timedelta(minutes=10), stage="dev")
    open_request = _pending(store, expires_in=timedelta(hours=5), stage="test")

    # When the sweep runs
    result = sweep_pending(store=store, mailer=mailer, base_url=BASE_URL, now=utc_now(), remind_before=timedelta(0))

    # Then the expired one is closed as EXPIRED without a reminder, and only the open one counts as waiting
    assert result["expired"] == [expired.key]
    assert store.requests[expired.key].status is RequestStatus.EXPIRED
    assert store.requests[open_request.key].status is RequestStatus.PENDING
    assert result["pending"] == 1 and mailer.sent == []
    assert 3600 <= result["oldestPendingSeconds"] < 3700
    assert [r.key for r in store.pending()] == [open_request.key]
