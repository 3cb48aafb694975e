"""Approval requests by email link: what is stored and mailed, what a signed-in approver sees, and what they decide."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from html import escape
from typing import Any

import pytest
from builders import (
    APPROVAL_ENV,
    EXECUTION_ARN,
    EXECUTION_NAME,
    GROUP,
    GROUP_PREFIX,
    ONE_DAY,
    PACKAGE_ARN,
    REGISTERED_BY,
    REGISTRANT,
    REQUESTED_AT_TIME,
    TASK_TOKEN,
    VERSION,
    approval_payload,
    approver,
    champion_record,
    model_version,
)
from fakes import (
    FakeApprovalStore,
    FakeApprovedModels,
    FakeDecisionLog,
    FakeExecutionHistory,
    FakeMailer,
    FakeRegistry,
    FakeSigner,
    FakeWorkflow,
)

from model_promotion.config import ApprovalRequestSettings
from model_promotion.domain.approvals import (
    Decision,
    DecisionRecord,
    RequestStatus,
    iso,
    request_key,
)
from model_promotion.domain.errors import (
    DecisionNotAuthentic,
    InvalidPayload,
    ReauthenticationRequired,
    TransientAwsError,
    UnsignedTaskFailure,
)
from model_promotion.domain.identity import Approver
from model_promotion.domain.model_version import ModelVersion
from model_promotion.domain.presentation import Email, Page
from model_promotion.domain.task_history import TaskAttempt
from model_promotion.ports import DeliveryUnknown
from model_promotion.services.approvals import DELIVERY_ATTEMPTS, REJECTION_ERROR, decide, request_approval, show_review
from model_promotion.services.reminders import SENDING_GRACE, complete_deliveries

SETTINGS = ApprovalRequestSettings.from_environ(APPROVAL_ENV)
BASE_URL = "https://abc123.execute-api.eu-west-1.amazonaws.com"
LINK = re.compile(rf"^{re.escape(BASE_URL)}/approvals/([A-Za-z0-9_-]{{32}})$")
TEST_APPROVERS = ("qa.lead@example.com", "qa.deputy@example.com")
TEST_KEY = request_key(EXECUTION_NAME, "test")
EXPIRES_AT = REQUESTED_AT_TIME + timedelta(seconds=ONE_DAY)
NOW = REQUESTED_AT_TIME + timedelta(hours=2)
FORM_ACTION = "/approvals/form-action"
CSRF = "csrf-token-of-this-session-and-request"
CHAMPION_PARAMETER = f"/model-promotion/{GROUP}/test"


def _only_link(email: Email) -> str:
    """The single approval URL of an email; fails unless text and HTML carry exactly one, the same one."""
    text_urls = re.findall(r"https?://\S+", email.text)
    html_urls = re.findall(r"href='([^']*)'", email.html)
    assert len(text_urls) == 1, text_urls
    assert html_urls == text_urls
    assert email.text.count("/approvals/") == 1
    assert email.html.count("/approvals/") == 1
    return str(text_urls[0])


def _approval_id(email: Email) -> str:
    match = LINK.match(_only_link(email))
    assert match, _only_link(email)
    return match.group(1)


def _test_approver(email: str = "qa.lead@example.com", **overrides: Any) -> Approver:
    """A member of approvers-test who did not register the version."""
    return approver(email, **{"groups": ("approvers-test",), **overrides})


def _request(
    stage: str = "test",
    *,
    approved_models: FakeApprovedModels | None = None,
    history: FakeExecutionHistory | None = None,
    store: FakeApprovalStore | None = None,
    mailer: FakeMailer | None = None,
    log: FakeDecisionLog | None = None,
    registry: FakeRegistry | None = None,
    **overrides: Any,
) -> tuple[FakeApprovalStore, FakeMailer]:
    store, mailer = store or FakeApprovalStore(), mailer or FakeMailer()
    request_approval(
        approval_payload(stage, **overrides),
        settings=SETTINGS,
        store=store,
        mailer=mailer,
        history=history or FakeExecutionHistory(),
        approved_models=approved_models or FakeApprovedModels(),
        log=log,
        registry=registry,
    )
    return store, mailer


@dataclass
class Requested:
    store: FakeApprovalStore
    mailer: FakeMailer
    workflow: FakeWorkflow
    ids: dict[str, str]  # recipient -> approval id
    stage: str = "test"
    _viewers: dict[str, Approver] = field(default_factory=dict)
    signer: FakeSigner = field(default_factory=FakeSigner)
    quorum: dict[str, int] = field(default_factory=dict)

    def viewer(self, email: str) -> Approver:
        """The link's recipient, signed in as a member of this stage's approver group."""
        return self._viewers.setdefault(email, approver(email, groups=(f"{GROUP_PREFIX}{self.stage}",)))

    def decide(
        self,
        recipient: str,
        form: dict[str, str],
        now: datetime = NOW,
        *,
        viewer: Approver | None = None,
        reauth_minutes: dict[str, int] | None = None,
        authenticated_at: datetime | None = None,
    ) -> Page:
        return decide(
            self.ids[recipient],
            form,
            viewer=viewer or self.viewer(recipient),
            store=self.store,
            workflow=self.workflow,
            signer=self.signer,
            now=now,
            form_action=FORM_ACTION,
            csrf=CSRF,
            group_prefix=GROUP_PREFIX,
            quorum=self.quorum,
            reauth_minutes=reauth_minutes or {},
            authenticated_at=authenticated_at,
        )

    def show(self, recipient: str, now: datetime = NOW, *, viewer: Approver | None = None) -> Page:
        return show_review(
            self.ids[recipient],
            viewer=viewer or self.viewer(recipient),
            store=self.store,
            signer=self.signer,
            now=now,
            form_action=FORM_ACTION,
            csrf=CSRF,
            group_prefix=GROUP_PREFIX,
            quorum=self.quorum,
        )


def _requested(
    stage: str = "test", *, approved_models: FakeApprovedModels | None = None, **overrides: Any
) -> Requested:
    store, mailer = _request(stage, approved_models=approved_models, **overrides)
    ids = {email.to[0]: _approval_id(email) for email in mailer.sent}
    return Requested(store, mailer, FakeWorkflow(), ids, stage)


def _with_champion(record: dict[str, Any] | None = None, parameter: str = CHAMPION_PARAMETER) -> FakeApprovedModels:
    approved_models = FakeApprovedModels()
    approved_models.put(parameter, record if record is not None else champion_record("test"))
    return approved_models


APPROVE = {"decision": "approve", "comment": ""}
REJECT = {"decision": "reject", "comment": "Recall dropped below 0.75 on the holdout set"}


# request_approval


def test_each_approver_of_the_stage_gets_one_email_with_a_link_of_their_own() -> None:
    # Given
    store, mailer = FakeApprovalStore(), FakeMailer()

    # When
    result = request_approval(
        approval_payload("prod"),
        settings=SETTINGS,
        store=store,
        mailer=mailer,
        history=FakeExecutionHistory(),
        approved_models=FakeApprovedModels(),
    )

    # Then
    expected = ["head.of.ml@example.com", "risk.officer@example.com", "cto@example.com"]
    assert [email.to for email in mailer.sent] == [(address,) for address in expected]
    ids = [_approval_id(email) for email in mailer.sent]
    assert len(set(ids)) == 3
    assert {store.links[i].recipient for i in ids} == set(expected)
    assert {store.links[i].request_key for i in ids} == {request_key(EXECUTION_NAME, "prod")}
    assert result["recipients"] == expected
    assert result["requestKey"] == request_key(EXECUTION_NAME, "prod")


def test_the_request_and_its_links_are_stored_before_any_email_is_sent() -> None:
    # Given: a mailer that follows each link the moment it sends the email
    store = FakeApprovalStore()
    resolvable: list[bool] = []

    class FollowingMailer(FakeMailer):
        def send(self, email: Email) -> str:
            link = store.find_link(_approval_id(email))
            resolvable.append(link is not None and store.get_request(link.request_key) is not None)
            return super().send(email)

    # When
    request_approval(
        approval_payload("test"),
        settings=SETTINGS,
        store=store,
        mailer=FollowingMailer(),
        history=FakeExecutionHistory(),
        approved_models=FakeApprovedModels(),
    )

    # Then
    assert resolvable == [True, True]


def test_the_stored_request_holds_the_task_token_and_expires_after_the_timeout() -> None:
    # When
    requested = _requested("test")

    # Then
    request = requested.store.requests[TEST_KEY]
    assert requested.store.tokens[TEST_KEY] == TASK_TOKEN
    assert request.status is RequestStatus.PENDING
    assert request.requested_at == REQUESTED_AT_TIME
    assert request.expires_at == REQUESTED_AT_TIME + timedelta(seconds=ONE_DAY)
    assert request.recipients == TEST_APPROVERS
    assert request.task.stage == "test"
    assert requested.store.purge_at[TEST_KEY] > request.expires_at


def test_the_result_reports_the_expiry_time() -> None:
    # When
    store, mailer = FakeApprovalStore(), FakeMailer()
    result = request_approval(
        approval_payload("test", timeoutSeconds=3600),
        settings=SETTINGS,
        store=store,
        mailer=mailer,
        history=FakeExecutionHistory(),
        approved_models=FakeApprovedModels(),
    )

    # Then
    assert result["expiresAt"] == "2026-11-21T13:00:00Z"
    assert TASK_TOKEN not in json.dumps(result)


def test_the_task_token_appears_in_no_email() -> None:
    # When
    requested = _requested("prod")

    # Then
    assert len(requested.mailer.sent) == 3
    for email in requested.mailer.sent:
        for part in (email.subject, email.text, email.html):
            assert TASK_TOKEN not in part
            assert "SECRET-TASK-TOKEN" not in part


def test_the_email_shows_the_model_the_stage_the_expiry_and_the_previous_stages_metrics() -> None:
    # When
    email = _requested("test").mailer.sent[0]

    # Then
    assert email.subject == f"Approval needed: {GROUP} version {VERSION} for test"
    for part in (email.text, email.html):
        assert PACKAGE_ARN in part
        assert "2026-11-22T12:00:00Z" in part
        for label, value in [("Accuracy", "0.9123"), ("Precision", "0.8765"), ("ROC AUC", "0.9432"), ("F1", "0.7978")]:
            assert label in part
            assert value in part
        assert "12500" in part


def test_the_first_stage_email_says_there_are_no_batch_results_yet() -> None:
    # When
    email = _requested("dev").mailer.sent[0]

    # Then
    assert email.to == ("dev.lead@example.com",)
    assert "No batch results yet" in email.text


# request_approval: the version approved for the stage now (the "champion")


def test_the_email_shows_the_version_approved_for_the_stage_now_beside_this_versions_metrics() -> None:
    # Given: version 2 is approved for test, with the dev batch metrics it was approved on
    approved_models = _with_champion(champion_record("test", version=2))

    # When
    [email, *_] = _requested("test", approved_models=approved_models).mailer.sent

    # Then
    summary = "Version 2 is approved for test now (by Bea Owner at 2026-10-02T09:30:00Z)."
    assert "Now approved for test" in email.text
    assert summary in email.text
    lines = email.text.splitlines()
    assert any(line.split() == ["Metric", "this", "version", "version", "2"] for line in lines)
    assert any(line.split() == ["Accuracy", "0.9123", "0.8801"] for line in lines)
    assert any(line.split() == ["Recall", "0.7321", "0.7012"] for line in lines)
    assert any(line.split() == ["Precision", "0.8765", "n/a"] for line in lines)
    assert "<h2>Now approved for test</h2>" in email.html
    assert escape(summary) in email.html
    assert "<th>This version</th><th>Version 2</th>" in email.html
    assert "<tr><th scope='row'>Accuracy</th><td>0.9123</td><td>0.8801</td></tr>" in email.html
    assert "<tr><th scope='row'>F1</th><td>0.7978</td><td>0.7500</td></tr>" in email.html


def test_the_champion_is_read_from_the_stages_own_approved_model_record() -> None:
    # Given: only dev and uat have an approved version; the request is for test
    approved_models = FakeApprovedModels()
    approved_models.put(f"/model-promotion/{GROUP}/dev", champion_record("dev", version=1))
    approved_models.put("/model-promotion/other-group/test", champion_record("test", version=9))
    approved_models.put(f"/model-promotion/{GROUP}/uat", champion_record("uat", version=2))

    # When
    requested = _requested("test", approved_models=approved_models)

    # Then
    assert requested.store.requests[TEST_KEY].champion is None
    for email in requested.mailer.sent:
        assert "No version is approved for test yet." in email.text
        assert "No version is approved for test yet." in email.html


def test_the_stored_request_keeps_the_champion_it_was_mailed_with() -> None:
    # Given
    approved_models = _with_champion(champion_record("test", version=2))

    # When
    requested = _requested("test", approved_models=approved_models)
    approved_models.put(CHAMPION_PARAMETER, champion_record("test", version=5))

    # Then
    champion = requested.store.requests[TEST_KEY].champion
    assert champion is not None
    assert champion["modelVersion"] == 2
    assert "Version 2 is approved for test now" in requested.show("qa.lead@example.com").html


def test_without_an_approved_version_the_email_says_none_is_approved_yet_and_has_no_comparison() -> None:
    # When
    [email, *_] = _requested("test").mailer.sent

    # Then
    assert "Now approved for test\n  No version is approved for test yet.\n" in email.text
    assert "<h2>Now approved for test</h2><p>No version is approved for test yet.</p>" in email.html
    assert "this version" not in email.text
    assert "class='compare'" not in email.html


def test_a_champion_without_recorded_metrics_is_named_but_not_compared() -> None:
    # Given: version 2 was approved for test by a record that carries no evidence
    approved_models = _with_champion(champion_record("test", version=2, evidence=False))

    # When
    [email, *_] = _requested("test", approved_models=approved_models).mailer.sent

    # Then
    assert "Version 2 is approved for test now" in email.text
    assert "class='compare'" not in email.html
    assert "this version" not in email.text


def test_with_a_champion_the_email_still_has_one_link_and_no_task_token() -> None:
    # Given
    approved_models = _with_champion(champion_record("test", version=2))

    # When
    requested = _requested("test", approved_models=approved_models)

    # Then
    assert [email.to for email in requested.mailer.sent] == [(a,) for a in TEST_APPROVERS]
    for email in requested.mailer.sent:
        _only_link(email)
        for part in (email.subject, email.text, email.html):
            assert "SECRET-TASK-TOKEN" not in part


def test_champion_values_are_escaped_in_the_html_email() -> None:
    # Given: a champion record whose approver name is markup
    record = {**champion_record("test"), "approvedByName": "<script>alert(1)</script>"}

    # When
    [email, *_] = _requested("test", approved_models=_with_champion(record)).mailer.sent

    # Then
    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html


def test_a_champion_without_a_name_is_shown_by_its_approvers_email() -> None:
    # Given
    record = {**champion_record("test"), "approvedByName": None}

    # When
    [email, *_] = _requested("test", approved_models=_with_champion(record)).mailer.sent

    # Then
    assert "(by business.owner@example.com at 2026-10-02T09:30:00Z)" in email.text


def test_a_task_token_of_2048_characters_is_accepted() -> None:
    # When
    store, _ = _request("dev", taskToken="t" * 2048)

    # Then
    assert store.tokens[request_key(EXECUTION_NAME, "dev")] == "t" * 2048


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"taskToken": None}, "taskToken", id="token-missing"),
        pytest.param({"taskToken": ""}, "taskToken", id="token-empty"),
        pytest.param({"taskToken": "t" * 2049}, "taskToken", id="token-too-long"),
        pytest.param({"taskToken": 12345}, "taskToken", id="token-a-number"),
        pytest.param({"timeoutSeconds": None}, "timeoutSeconds", id="timeout-missing"),
        pytest.param({"timeoutSeconds": 0}, "timeoutSeconds", id="timeout-zero"),
        pytest.param({"timeoutSeconds": -60}, "timeoutSeconds", id="timeout-negative"),
        pytest.param({"timeoutSeconds": "86400"}, "timeoutSeconds", id="timeout-a-string"),
        pytest.param({"timeoutSeconds": True}, "timeoutSeconds", id="timeout-bool"),
        pytest.param({"timeoutSeconds": 60.5}, "timeoutSeconds", id="timeout-a-float"),
        pytest.param({"stageIndex": 2}, "stageIndex", id="index-points-at-another-stage"),
        pytest.param({"stageIndex": 7}, "stageIndex", id="index-out-of-range"),
        pytest.param({"stage": "staging"}, "stageIndex", id="stage-not-in-list"),
        pytest.param({"requestedAt": "yesterday"}, "ISO 8601", id="requested-at-garbled"),
        pytest.param({"requestedAt": None}, "requestedAt", id="requested-at-missing"),
        pytest.param({"evidence": "accuracy=0.9"}, "evidence", id="evidence-not-an-object"),
        pytest.param({"executionArn": "churn-model-v3"}, "executionArn", id="execution-arn-garbled"),
    ],
)
def test_a_bad_request_payload_is_invalid_and_stores_and_mails_nothing(overrides: dict[str, Any], message: str) -> None:
    # Given
    store, mailer = FakeApprovalStore(), FakeMailer()
    payload = approval_payload("test", **overrides)
    if overrides.get("taskToken", ...) is None:
        del payload["taskToken"]

    # When
    with pytest.raises(InvalidPayload) as raised:
        request_approval(
            payload,
            settings=SETTINGS,
            store=store,
            mailer=mailer,
            history=FakeExecutionHistory(),
            approved_models=FakeApprovedModels(),
        )

    # Then
    assert message in str(raised.value)
    assert store.requests == {}
    assert store.links == {}
    assert mailer.sent == []


def test_a_retried_request_mails_fresh_links_keeps_the_old_ones_and_uses_the_newest_token() -> None:
    # Given: a first attempt whose links were mailed, then a retry with a new task token
    first = _requested("test")
    request_approval(
        approval_payload("test", taskToken="SECOND-TOKEN"),
        settings=SETTINGS,
        store=first.store,
        mailer=first.mailer,
        history=FakeExecutionHistory(),
        approved_models=FakeApprovedModels(),
    )
    second_ids = {email.to[0]: _approval_id(email) for email in first.mailer.sent[2:]}

    # When: the first attempt's link is used
    page = first.decide("qa.lead@example.com", APPROVE)

    # Then
    assert len(first.store.requests) == 1
    assert set(second_ids.values()).isdisjoint(first.ids.values())
    assert page.status == 200
    assert [token for token, _ in first.workflow.succeeded] == ["SECOND-TOKEN"]


# show_review


def test_a_link_shows_the_model_the_stage_the_signer_and_the_decision_form() -> None:
    # Given
    requested = _requested("test")

    # When
    page = requested.show("qa.deputy@example.com")

    # Then
    assert page.status == 200
    assert page.title == f"Approve {GROUP} version {VERSION} for test?"
    assert GROUP in page.html
    assert PACKAGE_ARN in page.html
    assert "Stage <strong>test</strong> (2 of 4" in page.html
    assert "Signed in as <strong>Qa Deputy &lt;qa.deputy@example.com&gt;</strong>" in page.html
    assert f"<form method='post' action='{FORM_ACTION}'>" in page.html
    assert f"<input type='hidden' name='csrf' value='{CSRF}'>" in page.html
    assert "value='approve'" in page.html
    assert "value='reject'" in page.html
    assert "0.9123" in page.html
    assert TASK_TOKEN not in page.html


@pytest.mark.parametrize(
    "approval_id",
    [
        pytest.param("A" * 32, id="well-formed-but-unknown"),
        pytest.param("short", id="too-short"),
        pytest.param("A" * 33, id="too-long"),
        pytest.param("", id="empty"),
        pytest.param("../../../etc/passwd-aaaaaaaaaaaaa", id="path"),
        pytest.param("A" * 31 + "=", id="padding-character"),
    ],
)
def test_an_unknown_or_garbled_link_shows_not_found_and_changes_nothing(approval_id: str) -> None:
    # Given
    requested = _requested("test")
    before = requested.store.snapshot()

    # When
    page = show_review(
        approval_id,
        viewer=_test_approver(),
        store=requested.store,
        signer=requested.signer,
        now=NOW,
        form_action=FORM_ACTION,
        csrf=CSRF,
        group_prefix=GROUP_PREFIX,
    )

    # Then
    assert page.status == 404
    assert requested.store.snapshot() == before


def test_a_link_whose_request_was_purged_shows_not_found() -> None:
    # Given
    requested = _requested("test")
    del requested.store.requests[TEST_KEY]

    # When
    page = requested.show("qa.lead@example.com")

    # Then
    assert page.status == 404


def test_a_decided_request_shows_conflict_naming_who_decided_through_every_link() -> None:
    # Given
    requested = _requested("test")
    requested.decide("qa.lead@example.com", APPROVE)
    before = requested.store.snapshot()

    # When
    pages = [requested.show(recipient) for recipient in TEST_APPROVERS]

    # Then
    for page in pages:
        assert page.status == 409
        assert "approved by Qa Lead &lt;qa.lead@example.com&gt; at 2026-11-21T14:00:00Z" in page.html
        assert "<form" not in page.html
    assert requested.store.snapshot() == before


@pytest.mark.parametrize("after", [timedelta(0), timedelta(seconds=1), timedelta(days=10)])
def test_an_expired_request_shows_gone_and_changes_nothing(after: timedelta) -> None:
    # Given
    requested = _requested("test")
    before = requested.store.snapshot()

    # When
    page = requested.show("qa.lead@example.com", now=EXPIRES_AT + after)

    # Then
    assert page.status == 410
    assert "expired at 2026-11-22T12:00:00Z" in page.html
    assert requested.store.snapshot() == before


def test_showing_a_pending_request_many_times_changes_nothing() -> None:
    # Given
    requested = _requested("test")
    before = requested.store.snapshot()

    # When
    for _ in range(3):
        requested.show("qa.lead@example.com")

    # Then
    assert requested.store.snapshot() == before
    assert requested.store.requests[TEST_KEY].status is RequestStatus.PENDING


# decide


def test_an_approval_resumes_the_workflow_once_with_the_signed_in_approvers_decision() -> None:
    # Given
    requested = _requested("test")

    # When
    page = requested.decide("qa.deputy@example.com", {"decision": "approve", "comment": "  Ship it  "})

    # Then
    assert page.status == 200
    assert "Recorded: approved" in page.html
    assert requested.workflow.failed == []
    [(token, output)] = requested.workflow.succeeded
    assert token == TASK_TOKEN
    deputy = requested.viewer("qa.deputy@example.com")
    assert output == {
        "decisionId": output["decisionId"],
        "decision": "approve",
        "meaning": "approved for test",
        "stage": "test",
        "approver": "qa.deputy@example.com",
        "approverName": "Qa Deputy",
        "approverSubject": deputy.subject,
        "comment": "Ship it",
        "decidedAt": iso(NOW),
        "modelPackageArn": PACKAGE_ARN,
        "modelVersion": VERSION,
        "identitySource": "cognito",
        "executionArn": EXECUTION_ARN,
        "approverIdentifiers": output["approverIdentifiers"],
        "cosigners": [],
        "seal": output["seal"],
    }
    assert deputy.subject.casefold() in output["approverIdentifiers"]
    assert re.fullmatch(r"[0-9a-f]{16}", output["decisionId"])
    # The seal is the approval pages' MAC of exactly this record: any change to it breaks the seal.
    signed = DecisionRecord.from_payload(output)
    assert requested.signer.verify(signed.sealing_message(), output["seal"])
    altered = DecisionRecord.from_payload({**output, "approver": "priya.prod@example.com"})
    assert not requested.signer.verify(altered.sealing_message(), output["seal"])


def test_an_approval_marks_the_request_approved_and_forgets_its_token() -> None:
    # Given
    requested = _requested("test")

    # When
    requested.decide("qa.lead@example.com", APPROVE)

    # Then
    request = requested.store.requests[TEST_KEY]
    assert request.status is RequestStatus.APPROVED
    assert request.decision is not None
    assert request.decision.approver == "qa.lead@example.com"
    assert request.decision.comment is None
    assert TEST_KEY not in requested.store.tokens


@pytest.mark.parametrize(
    ("form", "error"),
    [
        pytest.param({"decision": "reject", "comment": ""}, "A rejection needs a reason", id="reject-no-comment"),
        pytest.param({"decision": "reject", "comment": "   "}, "A rejection needs a reason", id="reject-blank"),
        pytest.param({"decision": "reject"}, "A rejection needs a reason", id="reject-comment-missing"),
        pytest.param({"decision": "maybe"}, "Choose Approve or Reject", id="unknown-action"),
        pytest.param({}, "Choose Approve or Reject", id="empty-form"),
        pytest.param({"decision": "approve", "comment": "x" * 1001}, "1001 characters", id="comment-too-long"),
    ],
)
def test_an_invalid_form_shows_the_review_form_again_with_the_error_and_changes_nothing(
    form: dict[str, str], error: str
) -> None:
    # Given
    requested = _requested("test")
    before = requested.store.snapshot()

    # When
    page = requested.decide("qa.lead@example.com", form)

    # Then
    assert page.status == 400
    assert error in page.html
    assert "role='alert'" in page.html
    assert f"<form method='post' action='{FORM_ACTION}'>" in page.html
    assert requested.store.snapshot() == before
    assert requested.workflow.sends == 0


def test_a_rejection_with_a_reason_fails_the_task_with_a_cause_the_outcome_step_can_read() -> None:
    # Given
    requested = _requested("test")

    # When
    page = requested.decide("qa.deputy@example.com", REJECT)

    # Then
    assert page.status == 200
    assert "Recorded: rejected" in page.html
    assert requested.workflow.succeeded == []
    [failed] = requested.workflow.failed
    assert failed.token == TASK_TOKEN
    assert failed.error == REJECTION_ERROR == "ApprovalRejected"
    decision = DecisionRecord.from_payload(json.loads(failed.cause))
    assert decision.decision is Decision.REJECT
    assert decision.approver == "qa.deputy@example.com"
    assert decision.comment == REJECT["comment"]
    assert decision.stage == "test"
    assert decision.model_version == VERSION
    assert requested.store.requests[TEST_KEY].status is RequestStatus.REJECTED
    assert TEST_KEY not in requested.store.tokens


def test_a_second_decision_is_a_conflict_and_does_not_reach_the_workflow_again() -> None:
    # Given
    requested = _requested("test")
    requested.decide("qa.lead@example.com", APPROVE)

    # When
    same_link = requested.decide("qa.lead@example.com", REJECT)
    other_link = requested.decide("qa.deputy@example.com", REJECT)

    # Then
    for page in (same_link, other_link):
        assert page.status == 409
        assert "qa.lead@example.com" in page.html
    assert requested.workflow.sends == 1
    assert requested.store.requests[TEST_KEY].status is RequestStatus.APPROVED


def test_when_another_approver_wins_the_claim_the_loser_gets_a_conflict_and_no_workflow_call() -> None:
    # Given: a store where a colleague's decision lands between our read and our claim
    class RacingStore(FakeApprovalStore):
        def claim(self, key: str, decision: DecisionRecord, seen: int, now: datetime) -> str:
            rival = DecisionRecord(
                "rival00000000000",
                Decision.APPROVE,
                "test",
                "qa.lead@example.com",
                None,
                iso(now),
                PACKAGE_ARN,
                VERSION,
                approver_name="Qa Lead",
            )
            super().claim(key, rival, seen, now)
            return super().claim(key, decision, seen, now)

    store, mailer, workflow = RacingStore(), FakeMailer(), FakeWorkflow()
    request_approval(
        approval_payload("test"),
        settings=SETTINGS,
        store=store,
        mailer=mailer,
        history=FakeExecutionHistory(),
        approved_models=FakeApprovedModels(),
    )
    deputy_id = _approval_id(mailer.sent[1])

    # When
    page = decide(
        deputy_id,
        REJECT,
        viewer=_test_approver("qa.deputy@example.com"),
        store=store,
        workflow=workflow,
        signer=FakeSigner(),
        now=NOW,
        form_action=FORM_ACTION,
        csrf=CSRF,
        group_prefix=GROUP_PREFIX,
    )

    # Then
    assert page.status == 409
    assert workflow.sends == 0
    assert store.requests[TEST_KEY].decision is not None
    assert store.requests[TEST_KEY].decision.approver == "qa.lead@example.com"


@pytest.mark.parametrize("after", [timedelta(0), timedelta(hours=1)])
def test_a_decision_after_expiry_is_gone_and_does_not_reach_the_workflow(after: timedelta) -> None:
    # Given
    requested = _requested("test")
    before = requested.store.snapshot()

    # When
    page = requested.decide("qa.lead@example.com", APPROVE, now=EXPIRES_AT + after)

    # Then
    assert page.status == 410
    assert requested.workflow.sends == 0
    assert requested.store.snapshot() == before


def test_a_decision_just_before_expiry_is_recorded() -> None:
    # Given
    requested = _requested("test")

    # When
    page = requested.decide("qa.lead@example.com", APPROVE, now=EXPIRES_AT - timedelta(milliseconds=1))

    # Then
    assert page.status == 200
    assert requested.workflow.sends == 1


def test_a_decision_the_workflow_no_longer_waits_for_is_gone_and_the_request_is_marked_expired() -> None:
    # Given
    requested = _requested("test")
    requested.workflow.timed_out.add(TASK_TOKEN)  # the history shows the wait timed out

    # When
    page = requested.decide("qa.lead@example.com", APPROVE)

    # Then
    assert page.status == 410
    assert "stopped waiting" in page.html
    assert requested.store.requests[TEST_KEY].status is RequestStatus.EXPIRED
    assert requested.store.requests[TEST_KEY].decision is None
    assert TEST_KEY not in requested.store.tokens
    assert requested.show("qa.deputy@example.com").status == 410


def test_a_workflow_failure_propagates_and_puts_the_request_back_to_pending() -> None:
    # Given
    requested = _requested("test")
    requested.workflow.raise_on_next_send(ConnectionError("ThrottlingException"))

    # When
    with pytest.raises(ConnectionError):
        requested.decide("qa.lead@example.com", REJECT)

    # Then
    request = requested.store.requests[TEST_KEY]
    assert request.status is RequestStatus.PENDING
    assert request.decision is None
    assert requested.store.tokens[TEST_KEY] == TASK_TOKEN
    assert requested.workflow.sends == 0
    assert requested.show("qa.lead@example.com").status == 200


def test_after_a_workflow_failure_a_later_decision_goes_through() -> None:
    # Given
    requested = _requested("test")
    requested.workflow.raise_on_next_send(ConnectionError("ThrottlingException"))
    with pytest.raises(ConnectionError):
        requested.decide("qa.lead@example.com", REJECT)

    # When
    page = requested.decide("qa.deputy@example.com", APPROVE)

    # Then
    assert page.status == 200
    [(token, output)] = requested.workflow.succeeded
    assert token == TASK_TOKEN
    assert output["approver"] == "qa.deputy@example.com"
    assert requested.workflow.failed == []
    assert requested.store.requests[TEST_KEY].status is RequestStatus.APPROVED


def test_a_decision_through_an_unknown_link_is_not_found_and_does_not_reach_the_workflow() -> None:
    # Given
    requested = _requested("test")
    before = requested.store.snapshot()

    # When
    page = decide(
        "Z" * 32,
        APPROVE,
        viewer=_test_approver(),
        store=requested.store,
        workflow=requested.workflow,
        signer=FakeSigner(),
        now=NOW,
        form_action="/x",
        csrf=CSRF,
        group_prefix=GROUP_PREFIX,
    )

    # Then
    assert page.status == 404
    assert requested.workflow.sends == 0
    assert requested.store.snapshot() == before


# who decides: the signed-in approver, if they are in the stage's group and did not register the version


def test_the_decision_records_the_signed_in_approvers_name_email_and_subject() -> None:
    # Given
    requested = _requested("test")
    lead = approver("qa.lead@example.com", groups=("approvers-test",), name="Quinn Lead", subject="sub-quinn-0001")

    # When
    page = requested.decide("qa.lead@example.com", REJECT, viewer=lead)

    # Then
    assert page.status == 200
    assert "You (Quinn Lead &lt;qa.lead@example.com&gt;) rejected" in page.html
    decision = requested.store.requests[TEST_KEY].decision
    assert decision is not None
    assert (decision.approver, decision.approver_name, decision.approver_subject) == (
        "qa.lead@example.com",
        "Quinn Lead",
        "sub-quinn-0001",
    )
    assert decision.identity_source == "cognito"
    assert decision.signature == "Quinn Lead <qa.lead@example.com>"
    [failed] = requested.workflow.failed
    cause = json.loads(failed.cause)
    assert cause["approverName"] == "Quinn Lead"
    assert cause["approverSubject"] == "sub-quinn-0001"
    assert cause["meaning"] == "rejected for test"


def test_the_decision_records_who_signed_in_not_who_the_link_was_mailed_to() -> None:
    # Given: the deputy opens the lead's link (forwarded) and signs in as themself
    requested = _requested("test")
    deputy = _test_approver("qa.deputy@example.com")

    # When
    page = requested.decide("qa.lead@example.com", APPROVE, viewer=deputy)

    # Then
    assert page.status == 200
    [(_, output)] = requested.workflow.succeeded
    assert output["approver"] == "qa.deputy@example.com"
    assert output["approverSubject"] == deputy.subject


def test_an_approver_without_an_email_is_recorded_by_user_name() -> None:
    # Given
    requested = _requested("test")
    viewer = approver(None, username="qlead", name="Quinn Lead", groups=("approvers-test",))

    # When
    requested.decide("qa.lead@example.com", APPROVE, viewer=viewer)

    # Then
    [(_, output)] = requested.workflow.succeeded
    assert output["approver"] == "qlead"
    assert output["approverName"] == "Quinn Lead"


@pytest.mark.parametrize(
    "groups",
    [
        pytest.param((), id="no-group"),
        pytest.param(("approvers-dev",), id="the-previous-stages-group"),
        pytest.param(("approvers-prod", "approvers-uat"), id="later-stages-groups"),
        pytest.param(("test", "approvers-Test", "approvers-test-readonly"), id="look-alike-groups"),
    ],
)
def test_someone_outside_the_stages_group_is_refused_and_nothing_changes(groups: tuple[str, ...]) -> None:
    # Given
    requested = _requested("test")
    outsider = approver("qa.lead@example.com", groups=groups)
    before = requested.store.snapshot()

    # When
    shown = requested.show("qa.lead@example.com", viewer=outsider)
    decided = requested.decide("qa.lead@example.com", APPROVE, viewer=outsider)

    # Then
    for page in (shown, decided):
        assert page.status == 403
        assert "not in the approvers-test group" in page.html
        assert "Nothing was changed." in page.html
        assert "<form" not in page.html
    assert requested.store.snapshot() == before
    assert requested.workflow.sends == 0


def test_a_refusal_comes_before_the_form_is_checked() -> None:
    # Given: an outsider posts an invalid form
    requested = _requested("test")
    outsider = approver("qa.lead@example.com", groups=("approvers-dev",))

    # When
    page = requested.decide("qa.lead@example.com", {"decision": "maybe"}, viewer=outsider)

    # Then
    assert page.status == 403
    assert "Choose Approve or Reject" not in page.html


def _registered_by(who: str | None, registrant_email: str | None = None) -> ModelVersion:
    return replace(model_version(registrant_email=registrant_email), registered_by=who)


SELF_APPROVALS = [
    pytest.param(
        _registered_by(REGISTERED_BY),
        approver("dana@corp.example.com", username="Dana-Scientist", groups=("approvers-test",)),
        id="created-by-user-profile-name",
    ),
    pytest.param(
        _registered_by(
            "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_DataScientist_0123456789abcdef/"
            "Dana.Scientist@example.com"
        ),
        # Identity Center names the session after its user name; the federated approver's user name is the same.
        approver("dana.scientist@example.com", username="Dana.Scientist@example.com", groups=("approvers-test",)),
        id="created-by-assumed-role-session-name",
    ),
]


@pytest.mark.parametrize(("model", "registrant"), SELF_APPROVALS)
def test_the_person_who_registered_the_version_is_refused_and_nothing_changes(
    model: ModelVersion, registrant: Approver
) -> None:
    # Given: the registrant is in the stage's group
    requested = _requested("test", model=model.to_payload())
    before = requested.store.snapshot()

    # When
    shown = requested.show("qa.lead@example.com", viewer=registrant)
    decided = requested.decide("qa.lead@example.com", APPROVE, viewer=registrant)
    rejected = requested.decide("qa.lead@example.com", REJECT, viewer=registrant)

    # Then
    for page in (shown, decided, rejected):
        assert page.status == 403
        assert f"You registered {GROUP} version {VERSION} yourself" in page.html
        assert "<form" not in page.html
    assert requested.store.snapshot() == before
    assert requested.workflow.sends == 0


def test_the_registrant_email_metadata_names_who_hears_of_outcomes_never_who_registered() -> None:
    # Given: the registrant wrote a colleague's address into RegistrantEmail (metadata anyone registering writes)
    requested = _requested("test", model=model_version().to_payload())
    colleague = approver(REGISTRANT.upper(), username="dana", groups=("approvers-test",))

    # When the colleague decides
    page = requested.decide("qa.lead@example.com", APPROVE, viewer=colleague)

    # Then it is not a self-approval: only SageMaker's CreatedBy says who registered the version
    assert page.status == 200
    assert requested.workflow.sends == 1


@pytest.mark.parametrize(("model", "registrant"), SELF_APPROVALS)
def test_a_colleague_may_decide_a_version_someone_else_registered(model: ModelVersion, registrant: Approver) -> None:
    # Given
    requested = _requested("test", model=model.to_payload())

    # When
    page = requested.decide("qa.lead@example.com", APPROVE)

    # Then
    assert page.status == 200
    assert requested.workflow.sends == 1


def test_an_invalid_form_shows_the_review_form_again_with_the_same_csrf_token() -> None:
    # Given
    requested = _requested("test")

    # When
    page = requested.decide("qa.lead@example.com", {"decision": "reject"})

    # Then
    assert page.status == 400
    assert f"<input type='hidden' name='csrf' value='{CSRF}'>" in page.html
    assert "Signed in as <strong>Qa Lead &lt;qa.lead@example.com&gt;</strong>" in page.html


def test_the_review_page_shows_the_champion_beside_this_version() -> None:
    # Given
    requested = _requested("test", approved_models=_with_champion(champion_record("test", version=2)))

    # When
    page = requested.show("qa.lead@example.com")

    # Then
    assert page.status == 200
    assert "<h2>Now approved for test</h2>" in page.html
    assert "<tr><th scope='row'>Accuracy</th><td>0.9123</td><td>0.8801</td></tr>" in page.html


# quorum, re-authentication, and a delivery that tells the truth


def _quorum_of_two() -> Requested:
    requested = _requested("test")
    requested.quorum = {"test": 2}
    return requested


def test_with_a_quorum_of_two_one_approval_is_recorded_and_sealed_and_the_stage_keeps_waiting() -> None:
    # Given
    requested = _quorum_of_two()

    # When
    page = requested.decide("qa.lead@example.com", APPROVE)

    # Then
    assert page.status == 200
    assert "1 of 2" in page.html
    assert requested.workflow.sends == 0
    held = requested.store.requests[TEST_KEY]
    assert held.status is RequestStatus.PENDING
    [approval] = held.approvals
    assert approval.approver == "qa.lead@example.com"
    assert requested.signer.verify(approval.sealing_message(), approval.seal)
    # and the other approver's review page shows the progress, with who approved when
    review = requested.show("qa.deputy@example.com")
    assert review.status == 200
    assert "1 of 2 approvals: Qa Lead &lt;qa.lead@example.com&gt; at" in review.html


def test_the_same_person_twice_counts_once_and_nothing_reaches_the_workflow() -> None:
    # Given
    requested = _quorum_of_two()
    requested.decide("qa.lead@example.com", APPROVE)

    # When the same person approves again, through another approver's link too
    again = requested.decide("qa.lead@example.com", APPROVE)
    through_other_link = requested.decide(
        "qa.deputy@example.com", APPROVE, viewer=requested.viewer("qa.lead@example.com")
    )

    # Then
    for page in (again, through_other_link):
        assert page.status == 200
        assert "already counted" in page.html
    assert len(requested.store.requests[TEST_KEY].approvals) == 1
    assert requested.workflow.sends == 0


def test_two_distinct_approvers_resume_the_stage_once_with_both_signatures() -> None:
    # Given
    requested = _quorum_of_two()
    requested.decide("qa.lead@example.com", APPROVE)

    # When
    page = requested.decide("qa.deputy@example.com", APPROVE)

    # Then
    assert page.status == 200
    assert "Signed by Qa Lead <qa.lead@example.com>, Qa Deputy <qa.deputy@example.com>" in page.html.replace(
        "&lt;", "<"
    ).replace("&gt;", ">")
    [(token, output)] = requested.workflow.succeeded
    assert token == TASK_TOKEN
    final = DecisionRecord.from_payload(output)
    assert [a.approver for a in final.approvals] == ["qa.lead@example.com", "qa.deputy@example.com"]
    assert requested.signer.verify(final.sealing_message(), final.seal)
    assert requested.store.requests[TEST_KEY].status is RequestStatus.APPROVED


def test_one_rejection_rejects_a_stage_that_needs_two_approvals() -> None:
    # Given
    requested = _quorum_of_two()
    requested.decide("qa.lead@example.com", APPROVE)

    # When
    page = requested.decide("qa.deputy@example.com", REJECT)

    # Then
    assert page.status == 200
    [failed] = requested.workflow.failed
    rejection = DecisionRecord.from_payload(json.loads(failed.cause))
    assert rejection.decision is Decision.REJECT
    assert [c.approver for c in rejection.cosigners] == ["qa.lead@example.com"]
    assert requested.store.requests[TEST_KEY].status is RequestStatus.REJECTED


def test_a_lost_answer_to_an_applied_send_is_reported_as_recorded_once() -> None:
    # Given: SendTaskSuccess is applied, but its answer never arrives
    requested = _requested("test")
    requested.workflow.lose_next_answer()

    # When
    page = requested.decide("qa.lead@example.com", APPROVE)

    # Then: the history shows our decision, so the page says it was recorded, and it was sent once
    assert page.status == 200
    assert "Recorded: approved" in page.html
    assert requested.workflow.sends == 1
    assert requested.store.requests[TEST_KEY].status is RequestStatus.APPROVED
    # and the next approver is told it was decided, not that it expired
    assert requested.show("qa.deputy@example.com").status == 409


def test_an_unconfirmed_delivery_stays_claimed_says_so_and_the_sweep_completes_it() -> None:
    # Given: the send's answer is lost and the history does not show it (it never arrived)
    requested = _requested("test")
    requested.workflow.raise_on_next_send(DeliveryUnknown("send_task_success"), times=DELIVERY_ATTEMPTS)

    # When
    page = requested.decide("qa.lead@example.com", APPROVE)

    # Then the page says the decision is saved and will be delivered, and it stays claimed
    assert page.status == 202
    assert "Nothing more is needed from you" in page.html
    held = requested.store.requests[TEST_KEY]
    assert held.status is RequestStatus.SENDING
    assert requested.workflow.sends == 0
    assert requested.show("qa.deputy@example.com").status == 409

    # When the sweep runs, too soon and then after the grace period
    assert complete_deliveries(store=requested.store, workflow=requested.workflow, now=NOW)["delivered"] == []
    swept = complete_deliveries(store=requested.store, workflow=requested.workflow, now=NOW + SENDING_GRACE)

    # Then the sealed decision reached the workflow once, and the request is decided
    assert swept["delivered"] == [TEST_KEY]
    [(token, output)] = requested.workflow.succeeded
    assert (token, output["decisionId"]) == (TASK_TOKEN, held.decision.decision_id)
    assert requested.store.requests[TEST_KEY].status is RequestStatus.APPROVED
    assert complete_deliveries(store=requested.store, workflow=requested.workflow, now=NOW + SENDING_GRACE * 2) == {
        "delivered": [],
        "expired": [],
        "overtaken": [],
        "unconfirmed": [],
    }


def test_a_send_refused_before_it_reached_the_workflow_releases_the_claim() -> None:
    # Given
    requested = _requested("test")
    requested.workflow.raise_on_next_send(
        TransientAwsError("SendTaskSuccess throttled; try again"), times=DELIVERY_ATTEMPTS
    )

    # When
    with pytest.raises(TransientAwsError):
        requested.decide("qa.lead@example.com", APPROVE)

    # Then nothing changed: the request waits for a decision again
    assert requested.store.requests[TEST_KEY].status is RequestStatus.PENDING
    assert requested.decide("qa.lead@example.com", APPROVE).status == 200


def test_a_send_answered_by_someone_else_is_not_reported_as_ours() -> None:
    # Given: a forged output reached the task before our decision (sent with the token from the history)
    requested = _requested("test")
    requested.workflow.succeeded.append((TASK_TOKEN, {"decisionId": "forged", "decision": "approve"}))

    # When
    page = requested.decide("qa.lead@example.com", APPROVE)

    # Then
    assert page.status == 409
    assert "did not come from this page" in page.html
    assert requested.store.requests[TEST_KEY].status is RequestStatus.EXPIRED


@pytest.mark.parametrize(
    ("authenticated", "needs_sign_in"),
    [
        pytest.param(NOW - timedelta(minutes=11), True, id="older-than-the-limit"),
        pytest.param(None, True, id="unknown-sign-in-time"),
        pytest.param(NOW - timedelta(minutes=9), False, id="fresh"),
    ],
)
def test_a_stage_that_asks_for_a_fresh_sign_in_refuses_an_older_one_before_anything_changes(
    authenticated: datetime | None, needs_sign_in: bool
) -> None:
    # Given
    requested = _requested("test")
    before = requested.store.snapshot()

    # When / Then
    if needs_sign_in:
        with pytest.raises(ReauthenticationRequired) as raised:
            requested.decide(
                "qa.lead@example.com", APPROVE, reauth_minutes={"test": 10}, authenticated_at=authenticated
            )
        assert (raised.value.stage, raised.value.max_age_minutes) == ("test", 10)
        assert requested.store.snapshot() == before
        assert requested.workflow.sends == 0
    else:
        page = requested.decide(
            "qa.lead@example.com", APPROVE, reauth_minutes={"test": 10}, authenticated_at=authenticated
        )
        assert page.status == 200


def test_an_approval_written_into_the_request_by_anyone_but_these_pages_counts_for_nothing() -> None:
    # Given: a role that may write the approvals table added an unsealed "approval" to a stage that needs two
    requested = _quorum_of_two()
    held = requested.store.requests[TEST_KEY]
    ghost = DecisionRecord(
        "ghost00000000000",
        Decision.APPROVE,
        "test",
        "ghost@example.com",
        None,
        iso(NOW),
        PACKAGE_ARN,
        VERSION,
        approver_subject="ghost",
        execution_arn=EXECUTION_ARN,
    )
    requested.store.requests[TEST_KEY] = replace(held, approvals=(ghost,))
    # The review page does not show it as progress either
    review = requested.show("qa.deputy@example.com")
    assert "0 of 2 approvals" in review.html and "ghost" not in review.html

    # When one real approver approves
    page = requested.decide("qa.lead@example.com", APPROVE)

    # Then it is the first of two approvals, and nothing reaches the workflow
    assert page.status == 200
    assert "1 of 2" in page.html
    assert requested.workflow.sends == 0


def test_a_send_whose_outcome_became_unknown_is_never_released_by_a_later_throttle() -> None:
    # Given: the first send's answer is lost (the history does not show it yet), the next ones are throttled
    requested = _requested("test")

    class LostThenThrottled(FakeWorkflow):
        calls = 0

        def succeed_task(self, task_token: str, output: Any) -> None:
            self.calls += 1
            raise DeliveryUnknown("send") if self.calls == 1 else TransientAwsError("throttled")

    requested.workflow = LostThenThrottled()

    # When
    page = requested.decide("qa.lead@example.com", APPROVE)

    # Then the decision stays claimed for the sweep, and the page says it is saved, not that nothing changed
    assert page.status == 202
    assert requested.store.requests[TEST_KEY].status is RequestStatus.SENDING


def test_a_retry_after_a_failure_somebody_sent_asks_nobody_again_and_reports_tampering() -> None:
    # Given: the first attempt was failed, after RequestApproval had returned, with a retried error name
    store, mailer = FakeApprovalStore(), FakeMailer()
    history = FakeExecutionHistory(
        [TaskAttempt(submitted=True, ending="failed", error="TransientAwsError"), TaskAttempt()]
    )

    # When the state's Retry runs RequestApproval again
    with pytest.raises(UnsignedTaskFailure) as raised:
        _request("test", attempt=1, history=history, store=store, mailer=mailer)

    # Then nothing is stored or mailed, and the error (which no Retry matches) says what happened
    assert "SendTaskFailure (error TransientAwsError)" in str(raised.value)
    assert (store.requests, mailer.sent) == ({}, [])
    assert history.read == [(EXECUTION_ARN, "Await stage approval")]


def test_a_retry_after_the_functions_own_failure_asks_again() -> None:
    history = FakeExecutionHistory([TaskAttempt(submitted=False, ending="failed", error="TransientAwsError")])

    _, mailer = _request("test", attempt=1, history=history)

    assert len(mailer.sent) == len(SETTINGS.approvers["test"])


def test_a_first_attempt_does_not_read_the_history() -> None:
    history = FakeExecutionHistory()
    _request("test", history=history)
    assert history.read == []


@pytest.mark.parametrize("attempt", [-1, "1", True, 1.5])
def test_an_attempt_that_is_not_a_retry_count_is_refused(attempt: Any) -> None:
    with pytest.raises(InvalidPayload, match="'attempt'"):
        _request("test", attempt=attempt)


# a rollback's request


def _rollback_claims(**changes: Any) -> tuple[dict[str, Any], FakeDecisionLog, FakeRegistry]:
    """A rollback of test to the builders' version, approved for test before (audit entry "d-earlier")."""
    from builders import decision_record, model_description, stage_task_payload

    from model_promotion.domain.approvals import StageTask
    from model_promotion.domain.records import audit_entry
    from model_promotion.domain.stages import Outcome

    earlier = decision_record("test", decision_id="d-earlier", approver="qa.lead@example.com")
    log = FakeDecisionLog()
    log.append(
        audit_entry(
            StageTask.from_payload(stage_task_payload("test")), Outcome.APPROVED, earlier.decided_at, decision=earlier
        )
    )
    rollback = {
        "reason": "version 4 misroutes claims",
        "requestedBy": "olga.operator@example.com",
        "requestedAt": "2026-11-21T14:00:00Z",
        "replacesVersion": None,
        "replacesPackageArn": None,
        "approvedBefore": "d-earlier",
        "approvedBeforeBy": "qa.lead@example.com",
        "approvedBeforeAt": earlier.decided_at,
        **changes,
    }
    return rollback, log, FakeRegistry(model_description(status="Approved"))


def test_a_rollback_whose_claims_hold_is_asked_of_the_stages_approvers_and_says_it_is_a_rollback() -> None:
    rollback, log, registry = _rollback_claims()

    store, mailer = _request("test", rollback=rollback, evidence=None, log=log, registry=registry)

    assert len(mailer.sent) == 2 and all(m.subject.startswith("Rollback to sign: test back to ") for m in mailer.sent)
    assert "version 4 misroutes claims" in mailer.sent[0].text
    assert store.pending()[0].task.rollback is not None


@pytest.mark.parametrize(
    "changes",
    [{"approvedBefore": "d-never"}, {"approvedBeforeBy": "someone.else@example.com"}],
    ids=["unknown-approval", "other-signer"],
)
def test_a_rollback_whose_claims_the_audit_log_does_not_hold_asks_nobody(changes: dict[str, Any]) -> None:
    rollback, log, registry = _rollback_claims(**changes)
    store, mailer = FakeApprovalStore(), FakeMailer()

    with pytest.raises(DecisionNotAuthentic, match="nobody was asked to sign it"):
        _request("test", rollback=rollback, evidence=None, log=log, registry=registry, store=store, mailer=mailer)

    assert mailer.sent == [] and store.pending() == []
