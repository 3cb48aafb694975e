"""Shared AWS plumbing: clients built once per cold start, and the line between transient and final errors."""

from __future__ import annotations

import threading
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


class AwsClients:
    """Where adapters get their boto3 clients: one client per service and attempt policy, built on first use.

    In a function this is the default session (the function's role, region and endpoint from its environment).
    The operators' CLI builds its own from --profile and --region, or for the embedded AWS from its state file,
    and hands it to every adapter, so nothing is redirected by editing the process's environment.

    boto3 is imported on first use, not at module import, to keep cold starts short for handlers that never
    reach AWS (a rejected request, a malformed event). botocore's "standard" retry mode retries throttling
    and 5xx with exponential backoff and full jitter.
    """

    def __init__(self, session: Any = None, endpoint_url: str | None = None):
        self._session = session
        self.endpoint_url = endpoint_url
        self._clients: dict[tuple[str, int], BaseClient] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> BaseClient:
        return self._get(service, MAX_ATTEMPTS)

    def single_attempt(self, service: str) -> BaseClient:
        """A client that never retries by itself, for a write whose repeat is not the same write: the caller
        checks what a lost answer left behind before it tries again (see SsmApprovedModels.put)."""
        return self._get(service, 1)

    def clear(self) -> None:
        """Forget the clients built so far (tests that change the environment between clients)."""
        with self._lock:
            self._clients.clear()

    def _get(self, service: str, attempts: int) -> BaseClient:
        key = (service, attempts)
        found = self._clients.get(key)
        if found is not None:
            return found
        # boto3's session is not thread-safe while it builds a client (the approval pages serve in threads).
        with self._lock:
            if key not in self._clients:
                if self._session is None:
                    import boto3

                    self._session = boto3.session.Session()
                self._clients[key] = self._session.client(
                    service, config=_config(attempts), endpoint_url=self.endpoint_url
                )
            return self._clients[key]


# The functions' clients: the default session of the process.
DEFAULT_CLIENTS = AwsClients()


class AwsAdapter:
    """An adapter whose AWS calls go through one AwsClients (the default session's unless given)."""

    def __init__(self, clients: AwsClients | None = None):
        self.clients = clients or DEFAULT_CLIENTS

    def client(self, service: str) -> BaseClient:
        return self.clients.client(service)

    def single_attempt_client(self, service: str) -> BaseClient:
        return self.clients.single_attempt(service)


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
