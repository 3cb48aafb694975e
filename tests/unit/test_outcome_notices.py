"""A stage outcome's notice is best effort: a refused recipient never turns a rejection into a mail failure.

SES refuses an unverified registrant in the sandbox (MessageRejected). The outcome is recorded before the
notice goes out, and the state machine's Fail state (ApprovalRejected, ApprovalExpired, QualityGateFailed)
depends on RecordOutcome returning, so the notice falls back to operations, and at worst is given up and
reported. Only a transient error still raises, for the state machine's Retry.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from builders import GROUP, PACKAGE_ARN, REGISTRANT, SIGNER, decision_record, model_description, outcome_payload
from fakes import FakeApprovedModels, FakeDecisionLog, FakeExecutionHistory, FakeRegistry, RefusingMailer

from model_promotion.config import OutcomeSettings
from model_promotion.domain.approvals import Decision
from model_promotion.domain.errors import TransientAwsError
from model_promotion.domain.model_version import REGISTRANT_EMAIL_KEY
from model_promotion.handlers import record_outcome
from model_promotion.services.outcomes import record_stage_outcome

OPERATIONS = "ml-ops@example.com"
ESCALATION = "head.of.ml@example.com"
ENVIRONMENT = {
    "PARAMETER_PREFIX": "/model-promotion",
    "DECISION_LOG_TABLE": "model-promotion-decisions",
    "SENDER_ADDRESS": "model-promotion@example.com",
    "OPERATIONS_EMAIL": OPERATIONS,
    "STAGES": "dev,test,uat,prod",
    "SIGNING_KEY_ID": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
}
SETTINGS = OutcomeSettings.from_environ(ENVIRONMENT)
WITH_ESCALATION = OutcomeSettings.from_environ({**ENVIRONMENT, "ESCALATION_EMAIL": ESCALATION})


def _rejection() -> dict[str, Any]:
    record = decision_record("dev", decision=Decision.REJECT, approver="qa.lead@example.com", comment="Recall too low")
    return outcome_payload(
        "dev", "rejected", error={"Error": "ApprovalRejected", "Cause": json.dumps(record.to_payload())}
    )


PAYLOADS = {
    "rejected": _rejection,
    "expired": lambda: outcome_payload("dev", "expired", error={"Error": "States.Timeout"}),
    "gate-failed": lambda: outcome_payload("dev", "gate-failed", gate={"summary": "recall 0.61 is below 0.70"}),
    "failed": lambda: outcome_payload("dev", "failed", error={"Error": "States.TaskFailed", "Cause": "boom"}),
}


def _record(
    mailer: RefusingMailer, outcome: str = "rejected", *, settings: OutcomeSettings = SETTINGS
) -> tuple[dict[str, Any], FakeRegistry, FakeDecisionLog]:
    registry = FakeRegistry(model_description(metadata={REGISTRANT_EMAIL_KEY: REGISTRANT}))
    log = FakeDecisionLog()
    result = record_stage_outcome(
        PAYLOADS[outcome](),
        settings=settings,
        registry=registry,
        approved_models=FakeApprovedModels(),
        log=log,
        mailer=mailer,
        history=FakeExecutionHistory(),
        signer=SIGNER,
    )
    return result, registry, log


@pytest.mark.parametrize("outcome", list(PAYLOADS))
def test_a_refused_registrant_gets_the_notice_sent_to_operations_and_the_outcome_still_returns(outcome: str) -> None:
    # Given: SES refuses the registrant's unverified address
    mailer = RefusingMailer(REGISTRANT)

    # When
    result, registry, log = _record(mailer, outcome)

    # Then: the outcome is recorded and returned, so the state machine reaches its Fail state
    assert result["outcome"] == outcome
    assert log.entries(GROUP)[0]["outcome"] == outcome
    assert registry.updates[-1].package_arn == PACKAGE_ARN
    # ...operations got the same notice, with a line naming the refused address
    [delivered] = mailer.sent
    assert delivered.to == (OPERATIONS,)
    assert delivered.subject == mailer.attempts[0].subject
    assert f"The mail service refused {REGISTRANT} (MessageRejected)" in delivered.text
    assert REGISTRANT in delivered.html
    assert result["notifiedTo"] == [OPERATIONS]
    # ...and what was undelivered is reported, for the handler's metric
    assert result["undelivered"] == [
        {"to": [REGISTRANT], "reason": "recipient-refused", "error": "MessageRejected", "redirectedTo": [OPERATIONS]}
    ]


def test_when_operations_is_refused_too_the_email_is_given_up_and_the_rejection_still_returns() -> None:
    # Given
    mailer = RefusingMailer(REGISTRANT, OPERATIONS)

    # When
    result, _, log = _record(mailer)

    # Then
    assert result["outcome"] == "rejected"
    assert len(log.entries(GROUP)) == 1
    assert mailer.sent == []
    assert [tuple(e.to) for e in mailer.attempts] == [(REGISTRANT,), (OPERATIONS,)]
    assert result["notifiedTo"] == []
    assert [(u["to"], u["reason"]) for u in result["undelivered"]] == [
        ([REGISTRANT], "recipient-refused"),
        ([OPERATIONS], "recipient-refused"),
    ]


def test_a_delivered_notice_reports_nothing_undelivered() -> None:
    # Given
    mailer = RefusingMailer()

    # When
    result, _, _ = _record(mailer)

    # Then
    assert [e.to for e in mailer.sent] == [(REGISTRANT,)]
    assert result["notifiedTo"] == [REGISTRANT]
    assert "undelivered" not in result


def test_a_transient_mail_error_still_raises_so_the_state_machine_retries() -> None:
    # Given
    mailer = RefusingMailer(transient=True)

    # When / Then
    with pytest.raises(TransientAwsError):
        _record(mailer)
    assert len(mailer.attempts) == 1  # no fallback: the retry sends the same notice again


def test_a_mailer_that_refuses_every_message_gives_the_email_up_and_the_rejection_still_returns() -> None:
    # Given: SES refuses the sender (its identity or permissions), so every recipient is refused alike
    mailer = RefusingMailer(misconfigured=True)

    # When
    result, _, _ = _record(mailer)

    # Then
    assert result["outcome"] == "rejected"
    assert result["notifiedTo"] == []
    assert [(u["to"], u["reason"], u["error"]) for u in result["undelivered"]] == [
        ([REGISTRANT], "mail-not-sent", "ConfigurationError"),
        ([OPERATIONS], "mail-not-sent", "ConfigurationError"),
    ]


def test_an_expiry_whose_registrant_is_refused_still_reaches_operations_and_the_escalation_address() -> None:
    # Given: the expiry notice goes to the registrant and the escalation address; SES refuses the registrant
    mailer = RefusingMailer(REGISTRANT)

    # When
    result, _, _ = _record(mailer, "expired", settings=WITH_ESCALATION)

    # Then
    assert mailer.attempts[0].to == (REGISTRANT, ESCALATION)
    [delivered] = mailer.sent
    assert delivered.to == (OPERATIONS, ESCALATION)
    assert result["notifiedTo"] == [OPERATIONS, ESCALATION]
    assert result["undelivered"][0]["to"] == [REGISTRANT]


def test_a_version_without_a_registrant_whose_operations_address_is_refused_tries_nobody_else() -> None:
    # Given: no registrant address, so the notice goes to operations, which SES refuses
    registry = FakeRegistry(model_description(metadata={}))
    mailer = RefusingMailer(OPERATIONS)
    payload = outcome_payload("dev", "expired", error={"Error": "States.Timeout"})
    payload["model"]["registrantEmail"] = None

    # When
    result = record_stage_outcome(
        payload,
        settings=SETTINGS,
        registry=registry,
        approved_models=FakeApprovedModels(),
        log=FakeDecisionLog(),
        mailer=mailer,
        history=FakeExecutionHistory(),
        signer=SIGNER,
    )

    # Then
    assert [e.to for e in mailer.attempts] == [(OPERATIONS,)]
    assert result["notifiedTo"] == []
    assert result["undelivered"] == [{"to": [OPERATIONS], "reason": "recipient-refused", "error": "MessageRejected"}]


# The handler turns `undelivered` into a metric and a log line


def test_the_handler_counts_undelivered_notices_in_the_metric_the_alarm_watches_and_logs_each_without_its_body(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ModelPromotion")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "model-promotion")
    mailer = RefusingMailer(REGISTRANT, OPERATIONS)
    result, _, _ = _record(mailer)

    # When
    record_outcome.report_undelivered(result["undelivered"])

    # Then
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    # One data point, dimensioned exactly as NoticesUndeliveredAlarm in template.yaml watches it
    [metric] = metrics
    assert metric["NoticesUndelivered"] == [2.0]
    assert metric["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
    assert all(m["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ModelPromotion" for m in metrics)
    assert all("outcome" not in m for m in metrics)  # its own metric set, apart from StageOutcomes
    logs = [r for r in caplog.records if r.getMessage() == "outcome notice undelivered"]
    assert [(r.levelname, r.recipients, r.reason, r.error) for r in logs] == [  # type: ignore[attr-defined]
        ("WARNING", [REGISTRANT], "recipient-refused", "MessageRejected"),
        ("WARNING", [OPERATIONS], "recipient-refused", "MessageRejected"),
    ]
    for logged in [*(json.dumps(vars(r), default=str) for r in logs), *(json.dumps(m) for m in metrics)]:
        assert "Recall too low" not in logged  # the reason, part of the message body, is never logged
        assert mailer.attempts[0].subject not in logged
