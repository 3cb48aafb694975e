"""The emails SES was asked to send, read back from moto's SES backend, as a person would see them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from email import message_from_string, policy
from email.message import EmailMessage
from typing import Any

from moto.ses.models import ses_backends

from .template import ACCOUNT_ID


@dataclass(frozen=True)
class OutboxMessage:
    index: int
    message_id: str
    sender: str
    to: list[str]
    subject: str
    text: str
    html: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def read_outbox(region: str) -> list[OutboxMessage]:
    backend = ses_backends[ACCOUNT_ID][region]
    messages = []
    for index, sent in enumerate(list(backend.sent_messages)):
        raw = getattr(sent, "raw_data", None)
        if raw is not None:
            parsed = message_from_string(raw, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            text_part = parsed.get_body(preferencelist=("plain",))
            html_part = parsed.get_body(preferencelist=("html",))
            messages.append(
                OutboxMessage(
                    index=index,
                    message_id=sent.id,
                    sender=_unfolded(parsed["From"]),
                    to=[a.strip() for a in _unfolded(parsed["To"]).split(",")],
                    subject=_unfolded(parsed["Subject"]),
                    text=text_part.get_content() if text_part else "",
                    html=html_part.get_content() if html_part else "",
                )
            )
        else:
            destinations = getattr(sent, "destinations", {}) or {}
            messages.append(
                OutboxMessage(
                    index=index,
                    message_id=sent.id,
                    sender=getattr(sent, "source", ""),
                    to=list(destinations.get("ToAddresses", [])),
                    subject=getattr(sent, "subject", ""),
                    text=getattr(sent, "body", ""),
                    html="",
                )
            )
    return messages


def _unfolded(header: object) -> str:
    """A long header comes back folded ("Subject:\n Approval…"); mail clients show it on one line."""
    return " ".join(str(header or "").split())
