"""Domain errors. Their class names are the error names the state machine sees and catches."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the workflow was broken. Never retried: repeating the call gives the same answer."""


class InvalidPayload(DomainError):
    """A task or event payload is missing a field or has one of the wrong type."""


class ConfigurationError(DomainError):
    """A configuration value (environment variable, template parameter) is missing or malformed."""


class ApprovalNotFound(DomainError):
    """No approval matches the id: it is unknown, garbled, or was purged long after it closed."""


class ApprovalClosed(DomainError):
    """The approval was already decided, or it expired, so it takes no further decision."""

    def __init__(self, message: str, *, status: str, decided_by: str | None = None, at: str | None = None):
        super().__init__(message)
        self.status = status
        self.decided_by = decided_by
        self.at = at


class InvalidDecision(DomainError):
    """The submitted form does not make a valid decision (unknown action, missing reason, comment too long)."""


class ReauthenticationRequired(DomainError):
    """The stage asks for a sign-in fresher than the session's before anyone signs there."""

    def __init__(self, stage: str, max_age_minutes: int):
        super().__init__(
            f"Signing for {stage} needs a sign-in from the last {max_age_minutes} minutes. Sign in again to decide."
        )
        self.stage = stage
        self.max_age_minutes = max_age_minutes


class DecisionNotAuthentic(DomainError):
    """A decision arrived with a task token but without the approval pages' valid signature (a forged or
    altered output). It is recorded as a refused tampering attempt and never counts as a decision."""


class UnsignedTaskFailure(DomainError):
    """A retry of the approval request found its earlier attempt failed by a SendTaskFailure the approval pages
    did not send (domain/task_history.py). Never retried: "Record failure" records it as tampering."""


class StageNotInPlan(DomainError):
    """A stage name that the promotion's stage list does not contain."""


class MetadataLimitExceeded(DomainError):
    """The model version's CustomerMetadataProperties would exceed what SageMaker stores (50 entries)."""


class RecordTooLarge(DomainError):
    """The approved-model record would not fit in its SSM parameter. Raised before anything is written."""


class NoticeRefused(DomainError):
    """The mail service refused the message for its recipients (an unverified address in the SES sandbox,
    a malformed or suppressed address). Sending the same message again gets the same answer."""

    def __init__(self, message: str, *, recipients: tuple[str, ...], code: str):
        super().__init__(message)
        self.recipients = recipients
        self.code = code


class TransientAwsError(Exception):
    """An AWS call failed in a way that may succeed when repeated (throttling, 5xx, timeouts).

    Not a DomainError on purpose: the state machine retries this one, with backoff and jitter.
    """
