"""Amazon SES (v2 API) behind the Mailer port.

Messages go out as raw MIME with a text and an HTML part, so every mail client shows one of them.
"""

from __future__ import annotations

from email.message import EmailMessage

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.errors import ConfigurationError, NoticeRefused
from ..domain.presentation import Email
from ..ports import Mailer
from .aws import AwsAdapter, AwsClients, error_code, is_transient, transient

# Answers about this message's recipients: sending it again gets the same answer, but another
# recipient may well get it. In the sandbox, MessageRejected names each unverified address.
REFUSED_RECIPIENT_CODES = frozenset({"MessageRejected", "BadRequestException"})


class SesMailer(AwsAdapter, Mailer):
    def __init__(self, sender: str, clients: AwsClients | None = None):
        super().__init__(clients)
        self.sender = sender

    def send(self, email: Email) -> str:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = ", ".join(email.to)
        message["Subject"] = email.subject
        # Tells autoresponders and ticket systems not to answer a machine.
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(email.text)
        message.add_alternative(email.html, subtype="html")
        try:
            answer = self.client("sesv2").send_email(
                FromEmailAddress=self.sender,
                Destination={"ToAddresses": list(email.to)},
                Content={"Raw": {"Data": message.as_bytes()}},
            )
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                raise transient("SendEmail", exc) from exc
            code = error_code(exc)
            if code in REFUSED_RECIPIENT_CODES:
                refused = _named_recipients(exc, email.to)
                raise NoticeRefused(
                    f"SES refused the message to {', '.join(refused)}: {code}", recipients=refused, code=code
                ) from exc
            raise ConfigurationError(f"SES refused mail from {self.sender}: {code}") from exc
        return str(answer["MessageId"])


def _named_recipients(exc: ClientError | BotoCoreError, to: tuple[str, ...]) -> tuple[str, ...]:
    """The recipients SES's message names ("...failed the check in region EU-WEST-1: a@example.com"),
    else all of them: the refusal is then about the message as a whole."""
    response = getattr(exc, "response", None) or {}
    message = str(response.get("Error", {}).get("Message", "")).lower()
    named = tuple(address for address in to if address.lower() in message)
    return named or tuple(to)
