"""Shared AWS plumbing: clients built once per cold start, and the line between transient and final errors."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from ..domain.errors import TransientAwsError

if TYPE_CHECKING:
    from botocore.client import BaseClient

# Error codes that mean "try again later". Everything else is an answer that repeating won't change.
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "SlowDown",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "InternalServerException",
        "RequestTimeout",
        "RequestTimeoutException",
        "TransactionInProgressException",
    }
)


# botocore waits 60 s for a connection and 60 s for an answer by default, twice the functions' 30 s timeout
# (template.yaml, Globals): a stalled call would be killed with the function, its outcome unknown to
# everyone. These bound one call, retries and their backoff included, well inside the function's timeout:
# 3 attempts x (2 s + 6 s) + at most 1 s + 2 s of backoff = 27 s.
CONNECT_TIMEOUT_SECONDS = 2
READ_TIMEOUT_SECONDS = 6
MAX_ATTEMPTS = 3


def _config(attempts: int) -> Any:
    from botocore.config import Config

    return Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "total_max_attempts": attempts},
    )


@cache
def client(service: str) -> BaseClient:
    """One client per service and process. boto3 is imported here, not at module import, to keep cold
    starts short for handlers that never reach AWS (a rejected request, a malformed event).

    botocore's "standard" retry mode retries throttling and 5xx with exponential backoff and full jitter.
    """
    import boto3

    return boto3.client(service, config=_config(MAX_ATTEMPTS))


@cache
def single_attempt_client(service: str) -> BaseClient:
    """A client that never retries by itself, for a write whose repeat is not the same write: the caller
    checks what a lost answer left behind before it tries again (see SsmApprovedModels.put)."""
    import boto3

    return boto3.client(service, config=_config(1))


def outcome_unknown(exc: Exception) -> bool:
    """The request may have been applied: it was sent, and its answer never came."""
    from botocore.exceptions import ConnectionClosedError, ReadTimeoutError

    return isinstance(exc, (ConnectionClosedError, ReadTimeoutError))


def error_code(exc: Exception) -> str:
    response: Any = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def is_transient(exc: Exception) -> bool:
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(exc, (ConnectionError, HTTPClientError)):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error_code(exc) in TRANSIENT_CODES or status >= 500
    return False


# Error codes that mean "IAM, an SCP or a resource policy said no": a configuration problem, never a bad event.
REFUSED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException"}
)


def is_refused(exc: Exception) -> bool:
    return error_code(exc) in REFUSED_CODES


def transient(action: str, exc: Exception) -> TransientAwsError:
    return TransientAwsError(f"{action} failed after retries ({error_code(exc) or type(exc).__name__}); try again")
