"""What the services need from the outside world. Adapters implement these with AWS; tests with fakes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .domain.approvals import ApprovalRequest, DecisionRecord, RequestStatus
from .domain.presentation import Email
from .domain.task_history import TaskAttempt
from .domain.transforms import TransformPlan
from .domain.web_security import PendingLogin, Session


class ModelRegistry(ABC):
    @abstractmethod
    def describe(self, package_arn: str) -> Mapping[str, Any]:
        """DescribeModelPackage's answer."""

    @abstractmethod
    def record_stage(
        self, package_arn: str, metadata: Mapping[str, str], approval_status: str, description: str
    ) -> None:
        """Writes the full stage metadata, the approval status and its description. Safe to repeat."""


class ApprovedModels(ABC):
    """The per-stage "approved model" records an inference pipeline reads (SSM Parameter Store)."""

    @abstractmethod
    def get(self, name: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def put(self, name: str, record: Mapping[str, Any]) -> None: ...


class DecisionLog(ABC):
    """Append-only audit log of every stage outcome, hash-chained per model group (domain/audit_chain.py)."""

    @abstractmethod
    def append(self, entry: Mapping[str, Any]) -> bool:
        """Adds the entry, linked after the group's newest one (sequence, previousHash, entryHash), safely
        against concurrent appends to the same group; False when an entry with the same key is already there
        (a retry), in which case nothing is written."""

    @abstractmethod
    def entries(self, group: str) -> list[dict[str, Any]]:
        """Every entry of a model group, oldest first (in chain order), with its chain fields."""

    def head(self, group: str) -> Mapping[str, Any] | None:
        """The newest chain position the log recorded apart from the entries (its sequence and entryHash),
        or None when there is none or the log keeps none. Read before `entries` by whoever verifies."""
        return None


@dataclass(frozen=True)
class ApprovalLink:
    approval_id: str
    request_key: str
    recipient: str


class ApprovalStore(ABC):
    @abstractmethod
    def save_request(self, request: ApprovalRequest, task_token: str, purge_at: datetime) -> None:
        """Stores a pending request. Replaces an earlier attempt's pending request for the same stage."""

    @abstractmethod
    def save_link(self, link: ApprovalLink, purge_at: datetime) -> None: ...

    @abstractmethod
    def find_link(self, approval_id: str) -> ApprovalLink | None: ...

    @abstractmethod
    def get_request(self, key: str) -> ApprovalRequest | None: ...

    @abstractmethod
    def add_approval(self, key: str, approval: DecisionRecord, seen: int, now: datetime) -> None:
        """Adds one signed approval short of the quorum to a pending, unexpired request that holds `seen`
        approvals and none by the same signer. Raises ApprovalClosed when the request is closed, and
        QuorumMoved when another approval landed first (read the request again)."""

    @abstractmethod
    def claim(self, key: str, decision: DecisionRecord, seen: int, now: datetime) -> str:
        """Atomically moves a pending, unexpired request holding `seen` approvals (none by this signer) to
        SENDING with this decision, and returns its task token. Raises ApprovalClosed when someone else
        decided first or the request has expired, QuorumMoved when an approval landed since it was read."""

    @abstractmethod
    def finish(self, key: str, decision: DecisionRecord) -> None:
        """The workflow has our decision: SENDING becomes decided, and the task token is dropped."""

    @abstractmethod
    def release(self, key: str, decision: DecisionRecord) -> None:
        """Undoes our claim when the decision certainly did not reach the workflow."""

    @abstractmethod
    def mark_expired(self, key: str, decision: DecisionRecord) -> None:
        """The workflow no longer waits for this request: record that instead of our claim."""

    @abstractmethod
    def sending(self) -> list[tuple[ApprovalRequest, str]]:
        """Every request left SENDING (a decision whose delivery is unconfirmed), with its task token."""

    @abstractmethod
    def pending(self) -> list[ApprovalRequest]:
        """Every pending request, soonest expiry first."""

    @abstractmethod
    def mark_reminded(self, key: str, at: datetime) -> bool:
        """Records the reminder; False when it was already recorded."""

    @abstractmethod
    def close(self, key: str, status: RequestStatus) -> None:
        """Closes a pending request without a decision (cancelled), dropping its token."""

    @abstractmethod
    def task_token(self, key: str) -> str | None:
        """A pending request's task token, for an operator's cancel."""


class Mailer(ABC):
    @abstractmethod
    def send(self, email: Email) -> str:
        """Sends and returns the message id."""


class TaskClosed(Exception):
    """The workflow no longer waits on this task token: it was decided, timed out or never existed."""


class QuorumMoved(Exception):
    """Another approval of the same request landed between our read and our write: read it again."""


class DeliveryUnknown(Exception):
    """A send to the workflow went out and its answer never came (timeout, reset, a 5xx): it may have been
    applied. Only the execution's history can tell."""


@dataclass(frozen=True)
class TaskResult:
    """What became of a task token's wait, as the execution's history tells it.

    state is "waiting" (nothing closed it yet), "succeeded" (output: the output sent), "failed" (error and
    cause as sent), "timed-out", or "gone" (the execution ended, or the token is not in its history).
    """

    state: str
    output: str | None = None
    error: str | None = None
    cause: str | None = None


class ExecutionExists(Exception):
    """An execution with this name exists already (or existed within 90 days)."""


class Workflow(ABC):
    @abstractmethod
    def execution_exists(self, name: str) -> bool:
        """Whether an execution of this name exists (running or closed within 90 days)."""

    @abstractmethod
    def start(self, name: str, execution_input: Mapping[str, Any]) -> str:
        """Starts the execution and returns its ARN. Raises ExecutionExists for a second start."""

    @abstractmethod
    def succeed_task(self, task_token: str, output: Mapping[str, Any]) -> None:
        """Raises TaskClosed when nobody waits on the token, DeliveryUnknown when the answer was lost."""

    @abstractmethod
    def fail_task(self, task_token: str, error: str, cause: str) -> None:
        """Raises TaskClosed when nobody waits on the token, DeliveryUnknown when the answer was lost."""

    @abstractmethod
    def task_result(self, execution_arn: str, task_token: str) -> TaskResult:
        """What the execution's history says became of the wait on this token."""


class ExecutionHistory(ABC):
    """What an execution's history records: the only witness of who ended a callback task's wait."""

    @abstractmethod
    def latest_stay(self, execution_arn: str, state: str) -> list[TaskAttempt]:
        """The attempts of the execution's latest entry into `state`, oldest first ([] when it never entered it,
        or the execution is gone)."""


class DecisionSigner(ABC):
    """Seals decision records with a key only the approval pages may use, and checks seals (KMS HMAC)."""

    @abstractmethod
    def seal(self, message: bytes) -> str:
        """The MAC of the message, base64."""

    @abstractmethod
    def verify(self, message: bytes, seal: str) -> bool:
        """Whether the seal is this key's MAC of the message."""


class ObjectStore(ABC):
    @abstractmethod
    def read_text(self, uri: str) -> str | None:
        """The object's text, or None when it does not exist."""

    @abstractmethod
    def write_text(self, uri: str, text: str, content_type: str) -> None: ...


class SignIn(ABC):
    """The identity provider behind the approval pages (a Cognito user pool and its hosted UI)."""

    @property
    @abstractmethod
    def origin(self) -> str:
        """The hosted UI's scheme and host: forms of the pages lead there (sign in again, sign out)."""

    @abstractmethod
    def authorize_url(self, state: str, code_challenge: str, redirect_uri: str, *, fresh: bool = False) -> str:
        """Where the browser goes to sign in (authorization-code flow with PKCE). `fresh` asks the hosted UI for
        the person's credentials again even when it holds a sign-in session of its own (prompt=login)."""

    @abstractmethod
    def exchange_code(self, code: str, code_verifier: str, redirect_uri: str) -> str:
        """Trades the callback's code for an ID token, leaving no other token alive (a refresh token is
        revoked at once). Raises NotSignedIn when the code is refused."""

    @abstractmethod
    def verify(self, id_token: str) -> Mapping[str, Any]:
        """The token's claims after checking signature, issuer, audience, use, expiry and auth_time; else
        NotSignedIn."""

    @abstractmethod
    def logout_url(self, logout_uri: str) -> str:
        """Where the browser goes to end the hosted UI's own sign-in session, returning to `logout_uri`."""


class TransformJobs(ABC):
    """What the workflow reads of SageMaker's transform jobs."""

    @abstractmethod
    def describe_job(self, name: str) -> Mapping[str, Any] | None:
        """DescribeTransformJob's answer, or None when no such job exists."""


class BatchTransforms(TransformJobs):
    """SageMaker batch transform: the model made from a package, and jobs that score a batch with it."""

    @abstractmethod
    def ensure_model(self, name: str, package_arn: str) -> None:
        """Creates the SageMaker Model for the package unless it exists."""

    @abstractmethod
    def start_job(self, plan: TransformPlan) -> None:
        """Creates the transform job unless a job of that name exists already (a retry)."""


class TransformCallbacks(ABC):
    """Task tokens of the workflow's waits on transform jobs, by job name. Kept server-side like approvals'."""

    @abstractmethod
    def remember(self, job_name: str, task_token: str, purge_at: datetime) -> None:
        """Stores the token; a retry replaces the token of the failed attempt."""

    @abstractmethod
    def outstanding(self) -> list[str]:
        """The names of the jobs whose token is still stored: waits no completion event has resumed yet."""

    @abstractmethod
    def take(self, job_name: str) -> str | None:
        """Removes and returns the token, exactly once across concurrent callers; None when none is left."""


class ModelCatalog(ABC):
    """The registry seen as a list: what reconcile walks."""

    @abstractmethod
    def pending_versions(self, groups: tuple[str, ...]) -> list[Mapping[str, Any]]:
        """DescribeModelPackage answers of every PendingManualApproval version (in `groups`, or all)."""


class ExecutionControl(ABC):
    """What operators do to executions beyond the workflow's own needs: look one up by name, stop one."""

    @abstractmethod
    def describe_execution(self, name: str) -> Mapping[str, Any] | None:
        """DescribeExecution's answer for the execution of this name (status, dates, error), or None."""

    @abstractmethod
    def stop(self, execution_arn: str, error: str, cause: str) -> None:
        """Stops a running execution (an operator's cancel). A stopped execution runs no Catch."""


class ModelVersions(ABC):
    """Every version of a model group, as the operators' status view reads them."""

    @abstractmethod
    def groups(self) -> list[str]:
        """The names of every model package group, in name order."""

    @abstractmethod
    def versions(self, group: str) -> list[Mapping[str, Any]]:
        """DescribeModelPackage answers of every version of the group, newest first; [] for an unknown group."""

    @abstractmethod
    def version(self, group: str, version: int) -> Mapping[str, Any] | None:
        """DescribeModelPackage's answer for one version of the group, or None when there is no such version."""


class SessionStore(ABC):
    """The approval pages' sessions and re-authentication attempts, server-side (the approvals table).

    Keyed by the SHA-256 of the secret the browser holds (session id, login state), never the secret itself;
    nothing here ever holds a token.
    """

    @abstractmethod
    def save(self, session: Session, *, new: bool) -> bool:
        """Stores the session: a new one unconditionally, an existing one only while it still exists (a
        concurrent sign-out wins). False when it no longer exists."""

    @abstractmethod
    def get(self, digest: str) -> Session | None: ...

    @abstractmethod
    def delete(self, digest: str) -> None:
        """Ends the session; ending one that does not exist is not an error."""

    @abstractmethod
    def save_login(self, login: PendingLogin) -> None: ...

    @abstractmethod
    def take_login(self, state_digest: str) -> PendingLogin | None:
        """Removes and returns the attempt, exactly once across concurrent callers; None when there is none."""


@dataclass(frozen=True)
class DirectoryEntry:
    """A user as the directory says now: whether they may sign in, and their approver groups."""

    enabled: bool
    groups: frozenset[str]


class Directory(ABC):
    """The user pool read as a directory: group memberships change there, and sessions follow within minutes."""

    @abstractmethod
    def lookup(self, username: str) -> DirectoryEntry | None:
        """The user's state now, by cognito:username; None when no such user exists any more."""
