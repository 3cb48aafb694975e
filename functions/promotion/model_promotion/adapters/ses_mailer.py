"""Amazon SES (v2 API) behind the Mailer port.

Messages go out as raw MIME with a text and an HTML part, so every mail client shows one of them.
"""

from __future__ import annotations

from email.message import EmailMessage

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.errors import ConfigurationError
from ..domain.presentation import Email
from ..ports import Mailer
from .aws import client, error_code, is_transient, transient


class SesMailer(Mailer):
    def __init__(self, sender: str):
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
            answer = client("sesv2").send_email(
                FromEmailAddress=self.sender,
                Destination={"ToAddresses": list(email.to)},
                Content={"Raw": {"Data": message.as_bytes()}},
            )
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                raise transient("SendEmail", exc) from exc
            raise ConfigurationError(f"SES refused mail from {self.sender}: {error_code(exc)}") from exc
        return str(answer["MessageId"])
