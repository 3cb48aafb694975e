"""The SES adapter tells a refused recipient from a refused sender and from a failure worth retrying.

A real SESv2 client behind botocore's Stubber answers with the errors SES sends: the outcome service
falls back to operations on NoticeRefused, gives up on ConfigurationError, and lets TransientAwsError
reach the state machine's Retry.
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import ANY, Stubber

from model_promotion.adapters import aws
from model_promotion.adapters.aws import DEFAULT_CLIENTS
from model_promotion.adapters.ses_mailer import SesMailer
from model_promotion.domain.errors import ConfigurationError, NoticeRefused, TransientAwsError
from model_promotion.domain.presentation import Email

SENDER = "model-promotion@example.com"
REGISTRANT = "dana.scientist@example.com"
ESCALATION = "head.of.ml@example.com"
EMAIL = Email(to=(REGISTRANT, ESCALATION), subject="churn version 3: dev was rejected", text="t", html="<p>h</p>")
REQUEST = {
    "FromEmailAddress": SENDER,
    "Destination": {"ToAddresses": [REGISTRANT, ESCALATION]},
    "Content": {"Raw": {"Data": ANY}},
}


@pytest.fixture
def ses(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    aws.DEFAULT_CLIENTS.clear()
    real = boto3.client("sesv2", region_name="eu-west-1")
    monkeypatch.setattr(DEFAULT_CLIENTS, "client", lambda service: real)
    with Stubber(real) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()
    aws.DEFAULT_CLIENTS.clear()


def _refuse(ses: Stubber, code: str, message: str, status: int = 400) -> None:
    ses.add_client_error(
        "send_email",
        service_error_code=code,
        service_message=message,
        http_status_code=status,
        expected_params=REQUEST,
    )


def test_a_sent_message_returns_its_message_id(ses: Stubber) -> None:
    # Given
    ses.add_response("send_email", {"MessageId": "0100-abc"}, REQUEST)

    # When / Then
    assert SesMailer(SENDER).send(EMAIL) == "0100-abc"


def test_an_unverified_recipient_in_the_sandbox_is_a_notice_refused_naming_that_recipient(ses: Stubber) -> None:
    # Given: SES's sandbox answer, which names each address that failed the check
    _refuse(
        ses,
        "MessageRejected",
        f"Email address is not verified. The following identities failed the check in region EU-WEST-1: {REGISTRANT}",
    )

    # When
    with pytest.raises(NoticeRefused) as raised:
        SesMailer(SENDER).send(EMAIL)

    # Then
    assert raised.value.recipients == (REGISTRANT,)
    assert raised.value.code == "MessageRejected"
    assert REGISTRANT in str(raised.value)


def test_a_refusal_that_names_no_address_refuses_every_recipient(ses: Stubber) -> None:
    # Given
    _refuse(ses, "BadRequestException", "Missing final '@domain'")

    # When
    with pytest.raises(NoticeRefused) as raised:
        SesMailer(SENDER).send(EMAIL)

    # Then
    assert raised.value.recipients == (REGISTRANT, ESCALATION)


@pytest.mark.parametrize(
    "code", ["AccessDeniedException", "MailFromDomainNotVerifiedException", "SendingPausedException"]
)
def test_a_refused_sender_is_a_configuration_error_not_a_refused_recipient(ses: Stubber, code: str) -> None:
    # Given
    _refuse(ses, code, "refused")

    # When
    with pytest.raises(ConfigurationError) as raised:
        SesMailer(SENDER).send(EMAIL)

    # Then
    assert not isinstance(raised.value, NoticeRefused)
    assert code in str(raised.value)


@pytest.mark.parametrize(("code", "status"), [("TooManyRequestsException", 429), ("InternalFailure", 500)])
def test_throttling_and_server_errors_are_transient(ses: Stubber, code: str, status: int) -> None:
    # Given
    _refuse(ses, code, "slow down", status)

    # When / Then
    with pytest.raises(TransientAwsError):
        SesMailer(SENDER).send(EMAIL)
