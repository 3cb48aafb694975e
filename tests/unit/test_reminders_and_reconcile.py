"""Reminders before expiry, and reconcile after a lost registration event, with fakes of the ports."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from builders import model_description, stage_task_payload
from fakes import FakeApprovalStore, FakeMailer, FakeWorkflow

from model_promotion.domain.approvals import ApprovalRequest, StageTask, request_key, utc_now
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
