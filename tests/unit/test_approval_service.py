"""Approval requests by email link: what is stored and mailed, what a link shows, and how a decision is recorded."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from builders import (
    APPROVAL_ENV,
    EXECUTION_NAME,
    GROUP,
    ONE_DAY,
    PACKAGE_ARN,
    REQUESTED_AT_TIME,
    TASK_TOKEN,
    VERSION,
    approval_payload,
)
from fakes import FakeApprovalStore, FakeMailer, FakeWorkflow

from model_promotion.config import ApprovalRequestSettings
from model_promotion.domain.approvals import (
    Decision,
    DecisionRecord,
    RequestStatus,
    iso,
    request_key,
)
from model_promotion.domain.errors import InvalidPayload
from model_promotion.domain.presentation import Email, Page
from model_promotion.handlers.approval_api import BODY_MAX, SECURITY_HEADERS, read_form, respond
from model_promotion.ports import TaskClosed
from model_promotion.services.approvals import REJECTION_ERROR, decide, request_approval, show_review

SETTINGS = ApprovalRequestSettings.from_environ(APPROVAL_ENV)
BASE_URL = "https://abc123.execute-api.eu-west-1.amazonaws.com"
LINK = re.compile(rf"^{re.escape(BASE_URL)}/approvals/([A-Za-z0-9_-]{{32}})$")
TEST_APPROVERS = ("qa.lead@example.com", "qa.deputy@example.com")
TEST_KEY = request_key(EXECUTION_NAME, "test")
EXPIRES_AT = REQUESTED_AT_TIME + timedelta(seconds=ONE_DAY)
NOW = REQUESTED_AT_TIME + timedelta(hours=2)
FORM_ACTION = "/approvals/form-action"


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


@dataclass
class Requested:
    store: FakeApprovalStore
    mailer: FakeMailer
    workflow: FakeWorkflow
    ids: dict[str, str]  # recipient -> approval id

    def decide(self, recipient: str, form: dict[str, str], now: datetime = NOW) -> Page:
        return decide(
            self.ids[recipient], form, store=self.store, workflow=self.workflow, now=now, form_action=FORM_ACTION
        )

    def show(self, recipient: str, now: datetime = NOW) -> Page:
        return show_review(self.ids[recipient], store=self.store, now=now, form_action=FORM_ACTION)


def _requested(stage: str = "test", **overrides: Any) -> Requested:
    store, mailer = FakeApprovalStore(), FakeMailer()
    request_approval(approval_payload(stage, **overrides), settings=SETTINGS, store=store, mailer=mailer)
    ids = {email.to[0]: _approval_id(email) for email in mailer.sent}
    return Requested(store, mailer, FakeWorkflow(), ids)


APPROVE = {"decision": "approve", "comment": ""}
REJECT = {"decision": "reject", "comment": "Recall dropped below 0.75 on the holdout set"}


# request_approval


def test_each_approver_of_the_stage_gets_one_email_with_a_link_of_their_own() -> None:
    # Given
    store, mailer = FakeApprovalStore(), FakeMailer()

    # When
    result = request_approval(approval_payload("prod"), settings=SETTINGS, store=store, mailer=mailer)

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
    request_approval(approval_payload("test"), settings=SETTINGS, store=store, mailer=FollowingMailer())

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
    # Given
    store, mailer = FakeApprovalStore(), FakeMailer()

    # When
    result = request_approval(
        approval_payload("test", timeoutSeconds=3600), settings=SETTINGS, store=store, mailer=mailer
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


def test_a_task_token_of_2048_characters_is_accepted() -> None:
    # Given
    store, mailer = FakeApprovalStore(), FakeMailer()

    # When
    request_approval(approval_payload("dev", taskToken="t" * 2048), settings=SETTINGS, store=store, mailer=mailer)

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
        request_approval(payload, settings=SETTINGS, store=store, mailer=mailer)

    # Then
    assert message in str(raised.value)
    assert store.requests == {}
    assert store.links == {}
    assert mailer.sent == []


def test_a_retried_request_mails_fresh_links_keeps_the_old_ones_and_uses_the_newest_token() -> None:
    # Given: a first attempt whose links were mailed, then a retry with a new task token
    first = _requested("test")
    request_approval(
        approval_payload("test", taskToken="SECOND-TOKEN"), settings=SETTINGS, store=first.store, mailer=first.mailer
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
    assert "You are signing as <strong>qa.deputy@example.com</strong>" in page.html
    assert f"<form method='post' action='{FORM_ACTION}'>" in page.html
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
    page = show_review(approval_id, store=requested.store, now=NOW, form_action=FORM_ACTION)

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
        assert "approved by qa.lead@example.com" in page.html
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


def test_an_approval_resumes_the_workflow_once_with_the_decision_of_the_links_recipient() -> None:
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
    assert output == {
        "decisionId": output["decisionId"],
        "decision": "approve",
        "stage": "test",
        "approver": "qa.deputy@example.com",
        "comment": "Ship it",
        "decidedAt": iso(NOW),
        "modelPackageArn": PACKAGE_ARN,
        "modelVersion": VERSION,
        "identitySource": "email-link",
    }
    assert re.fullmatch(r"[0-9a-f]{16}", output["decisionId"])


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
        def claim(self, key: str, decision: DecisionRecord, now: datetime) -> str:
            rival = DecisionRecord(
                "rival00000000000",
                Decision.APPROVE,
                "test",
                "qa.lead@example.com",
                None,
                iso(now),
                PACKAGE_ARN,
                VERSION,
            )
            super().claim(key, rival, now)
            return super().claim(key, decision, now)

    store, mailer, workflow = RacingStore(), FakeMailer(), FakeWorkflow()
    request_approval(approval_payload("test"), settings=SETTINGS, store=store, mailer=mailer)
    deputy_id = _approval_id(mailer.sent[1])

    # When
    page = decide(deputy_id, REJECT, store=store, workflow=workflow, now=NOW, form_action=FORM_ACTION)

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
    requested.workflow.raise_on_next_send(TaskClosed("Task Timed Out"))

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
    page = decide("Z" * 32, APPROVE, store=requested.store, workflow=requested.workflow, now=NOW, form_action="/x")

    # Then
    assert page.status == 404
    assert requested.workflow.sends == 0
    assert requested.store.snapshot() == before


# approval_api pure helpers


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_response_carries_the_page_and_the_security_headers(method: str) -> None:
    # Given
    page = Page(status=409, title="Decided", html="<!doctype html><p>decided</p>")

    # When
    response = respond(page, method)

    # Then
    assert response["statusCode"] == 409
    assert response["body"] == page.html
    assert response["isBase64Encoded"] is False
    assert response["headers"]["Cache-Control"] == "no-store"
    assert response["headers"]["Referrer-Policy"] == "no-referrer"
    assert response["headers"]["Content-Type"] == "text/html; charset=utf-8"
    assert response["headers"] == SECURITY_HEADERS


def test_a_head_response_has_the_status_and_headers_but_no_body() -> None:
    # Given
    page = Page(status=200, title="Review", html="<!doctype html><form></form>")

    # When
    response = respond(page, "HEAD")

    # Then
    assert response["statusCode"] == 200
    assert response["body"] == ""
    assert response["headers"]["Cache-Control"] == "no-store"
    assert response["headers"]["Referrer-Policy"] == "no-referrer"


def test_changing_one_responses_headers_leaves_the_next_response_alone() -> None:
    # Given
    page = Page(status=200, title="t", html="h")
    respond(page, "GET")["headers"]["Cache-Control"] = "public"

    # When
    response = respond(page, "GET")

    # Then
    assert response["headers"]["Cache-Control"] == "no-store"


def _post(body: str, content_type: str | None = "application/x-www-form-urlencoded", **extra: Any) -> dict[str, Any]:
    headers = {"Content-Type": content_type} if content_type is not None else {}
    return {"headers": headers, "body": body, "isBase64Encoded": False, **extra}


def test_a_url_encoded_form_is_read_into_its_fields() -> None:
    # When
    form = read_form(_post("decision=reject&comment=Recall+too+low%3A+0.61%21&empty="))

    # Then
    assert form == {"decision": "reject", "comment": "Recall too low: 0.61!", "empty": ""}


def test_a_form_with_a_charset_and_a_lower_case_header_name_is_read() -> None:
    # Given
    event = {
        "headers": {"content-type": "application/x-www-form-urlencoded; charset=UTF-8"},
        "body": "decision=approve",
    }

    # When
    form = read_form(event)

    # Then
    assert form == {"decision": "approve"}


def test_a_base64_encoded_body_is_decoded_before_reading_the_form() -> None:
    # Given
    body = base64.b64encode(b"decision=reject&comment=Pas+assez+pr%C3%A9cis").decode()

    # When
    form = read_form(_post(body, isBase64Encoded=True))

    # Then
    assert form == {"decision": "reject", "comment": "Pas assez précis"}


@pytest.mark.parametrize("body", ["abc", base64.b64encode(b"\xff\xfe\xfd").decode()])
def test_an_undecodable_base64_body_is_a_bad_request(body: str) -> None:
    # When
    page = read_form(_post(body, isBase64Encoded=True))

    # Then
    assert isinstance(page, Page)
    assert page.status == 400


@pytest.mark.parametrize("content_type", ["application/json", "multipart/form-data; boundary=x", "text/plain", None])
def test_a_body_that_is_not_a_url_encoded_form_is_unsupported(content_type: str | None) -> None:
    # When
    page = read_form(_post('{"decision": "approve"}', content_type))

    # Then
    assert isinstance(page, Page)
    assert page.status == 415


def test_a_body_larger_than_16_kib_is_too_large() -> None:
    # Given
    body = "decision=reject&comment=" + "x" * BODY_MAX

    # When
    page = read_form(_post(body))

    # Then
    assert isinstance(page, Page)
    assert page.status == 413


def test_a_body_of_exactly_16_kib_is_read() -> None:
    # Given
    prefix = "decision=reject&comment="
    body = prefix + "x" * (BODY_MAX - len(prefix))

    # When
    form = read_form(_post(body))

    # Then
    assert isinstance(form, dict)
    assert form["decision"] == "reject"
