"""In-memory stand-ins for the ports in model_promotion/ports.py, with the semantics their docstrings promise.

Each fake keeps its state in plain attributes so tests can arrange it (Given) and inspect it (Then).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from model_promotion.domain.approvals import ApprovalRequest, DecisionRecord, RequestStatus
from model_promotion.domain.errors import (
    ApprovalClosed,
    ConfigurationError,
    InvalidPayload,
    NoticeRefused,
    TransientAwsError,
)
from model_promotion.domain.identity import NotSignedIn
from model_promotion.domain.presentation import Email
from model_promotion.domain.task_history import TaskAttempt
from model_promotion.domain.web_security import PendingLogin, Session
from model_promotion.ports import (
    ApprovalLink,
    ApprovalStore,
    ApprovedModels,
    DecisionLog,
    DecisionSigner,
    DeliveryUnknown,
    Directory,
    DirectoryEntry,
    ExecutionControl,
    ExecutionExists,
    ExecutionHistory,
    Mailer,
    ModelRegistry,
    ModelVersions,
    QuorumMoved,
    SessionStore,
    SignIn,
    TaskClosed,
    TaskResult,
    Workflow,
)

EXECUTION_ARN_PREFIX = "arn:aws:states:us-east-1:123456789012:execution:model-promotion-PromotionStateMachine:"


@dataclass(frozen=True)
class StageUpdate:
    package_arn: str
    metadata: dict[str, str]
    approval_status: str
    description: str


class FakeRegistry(ModelRegistry):
    """DescribeModelPackage / UpdateModelPackage over a dict of descriptions keyed by package ARN."""

    def __init__(self, *descriptions: Mapping[str, Any]) -> None:
        self.descriptions: dict[str, dict[str, Any]] = {}
        self.described: list[str] = []
        self.updates: list[StageUpdate] = []
        for description in descriptions:
            self.add(description)

    def add(self, description: Mapping[str, Any]) -> None:
        self.descriptions[str(description["ModelPackageArn"])] = copy.deepcopy(dict(description))

    def describe(self, package_arn: str) -> Mapping[str, Any]:
        self.described.append(package_arn)
        if package_arn not in self.descriptions:
            raise InvalidPayload(f"model package {package_arn} cannot be read: ValidationException")
        return copy.deepcopy(self.descriptions[package_arn])

    def record_stage(
        self, package_arn: str, metadata: Mapping[str, str], approval_status: str, description: str
    ) -> None:
        if package_arn not in self.descriptions:
            raise InvalidPayload(f"model package {package_arn} cannot be updated: ValidationException")
        self.updates.append(StageUpdate(package_arn, dict(metadata), approval_status, description))
        stored = self.descriptions[package_arn]
        stored["CustomerMetadataProperties"] = dict(metadata)
        stored["ModelApprovalStatus"] = approval_status
        stored["ApprovalDescription"] = description


class FakeApprovedModels(ApprovedModels):
    """Parameter Store: every put is a new version of the parameter, stored as JSON would round-trip it."""

    def __init__(self) -> None:
        self.history: dict[str, list[dict[str, Any]]] = {}

    def get(self, name: str) -> dict[str, Any] | None:
        versions = self.history.get(name)
        return copy.deepcopy(versions[-1]) if versions else None

    def put(self, name: str, record: Mapping[str, Any]) -> None:
        self.history.setdefault(name, []).append(json.loads(json.dumps(dict(record), sort_keys=True)))


class FakeDecisionLog(DecisionLog):
    """Append-only: a second entry with the same entryKey in the same group is refused, never overwritten."""

    def __init__(self) -> None:
        self.groups: dict[str, list[dict[str, Any]]] = {}

    def append(self, entry: Mapping[str, Any]) -> bool:
        group = self.groups.setdefault(str(entry["modelPackageGroupName"]), [])
        if any(existing["entryKey"] == entry["entryKey"] for existing in group):
            return False
        group.append(copy.deepcopy(dict(entry)))
        return True

    def entries(self, group: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self.groups.get(group, []))


class FakeApprovalStore(ApprovalStore):
    """The approvals table: requests and their task tokens, and the links that point at them."""

    def __init__(self) -> None:
        self.requests: dict[str, ApprovalRequest] = {}
        self.tokens: dict[str, str] = {}
        self.links: dict[str, ApprovalLink] = {}
        self.purge_at: dict[str, datetime] = {}

    def snapshot(self) -> tuple[dict[str, ApprovalRequest], dict[str, str], dict[str, ApprovalLink]]:
        return dict(self.requests), dict(self.tokens), dict(self.links)

    def save_request(self, request: ApprovalRequest, task_token: str, purge_at: datetime) -> None:
        existing = self.requests.get(request.key)
        if existing is not None and existing.status is not RequestStatus.PENDING:
            raise ApprovalClosed(f"the request for {request.task.stage} was already decided", status="DECIDED")
        self.requests[request.key] = replace(request, status=RequestStatus.PENDING, decision=None)
        self.tokens[request.key] = task_token
        self.purge_at[request.key] = purge_at

    def save_link(self, link: ApprovalLink, purge_at: datetime) -> None:
        if link.approval_id in self.links:
            raise AssertionError(f"approval id {link.approval_id} was issued twice")
        self.links[link.approval_id] = link
        self.purge_at[f"link#{link.approval_id}"] = purge_at

    def find_link(self, approval_id: str) -> ApprovalLink | None:
        return self.links.get(approval_id)

    def get_request(self, key: str) -> ApprovalRequest | None:
        return self.requests.get(key)

    def _check_quorum(self, key: str, record: DecisionRecord, seen: int, now: datetime) -> ApprovalRequest:
        request = self.requests.get(key)
        if request is None:
            raise ApprovalClosed("This request no longer exists.", status="EXPIRED")
        if request.status is not RequestStatus.PENDING or request.is_expired(now):
            request.ensure_open(now)
            raise ApprovalClosed("This request was decided a moment ago.", status="DECIDED")
        if len(request.approvals) != seen or any(a.signer_key == record.signer_key for a in request.approvals):
            raise QuorumMoved(key)
        return request

    def add_approval(self, key: str, approval: DecisionRecord, seen: int, now: datetime) -> None:
        request = self._check_quorum(key, approval, seen, now)
        self.requests[key] = replace(request, approvals=(*request.approvals, approval))

    def claim(self, key: str, decision: DecisionRecord, seen: int, now: datetime) -> str:
        request = self._check_quorum(key, decision, seen, now)
        self.requests[key] = replace(request, status=RequestStatus.SENDING, decision=decision, sending_since=now)
        return self.tokens[key]

    def _claimed_by(self, key: str, decision_id: str) -> ApprovalRequest | None:
        request = self.requests.get(key)
        if request is None or request.decision is None or request.decision.decision_id != decision_id:
            return None
        return request

    def finish(self, key: str, decision: DecisionRecord) -> None:
        request = self._claimed_by(key, decision.decision_id)
        if request is not None:
            self.requests[key] = replace(request, status=decision.decision.request_status, sending_since=None)
            self.tokens.pop(key, None)

    def release(self, key: str, decision: DecisionRecord) -> None:
        request = self._claimed_by(key, decision.decision_id)
        if request is not None:
            self.requests[key] = replace(request, status=RequestStatus.PENDING, decision=None, sending_since=None)

    def mark_expired(self, key: str, decision: DecisionRecord) -> None:
        request = self._claimed_by(key, decision.decision_id)
        if request is not None:
            self.requests[key] = replace(request, status=RequestStatus.EXPIRED, decision=None, sending_since=None)
            self.tokens.pop(key, None)

    def sending(self) -> list[tuple[ApprovalRequest, str]]:
        return [
            (r, self.tokens[r.key])
            for r in sorted(self.requests.values(), key=lambda r: r.expires_at)
            if r.status is RequestStatus.SENDING and r.key in self.tokens
        ]

    def pending(self) -> list[ApprovalRequest]:
        waiting = [r for r in self.requests.values() if r.status is RequestStatus.PENDING]
        return sorted(waiting, key=lambda r: r.expires_at)

    def mark_reminded(self, key: str, at: datetime) -> bool:
        request = self.requests.get(key)
        if request is None or request.status is not RequestStatus.PENDING or request.reminded_at is not None:
            return False
        self.requests[key] = replace(request, reminded_at=at)
        return True

    def close(self, key: str, status: RequestStatus) -> None:
        request = self.requests.get(key)
        if request is not None and request.status is RequestStatus.PENDING:
            self.requests[key] = replace(request, status=status)
            self.tokens.pop(key, None)

    def task_token(self, key: str) -> str | None:
        return self.tokens.get(key)


class FakeMailer(Mailer):
    def __init__(self) -> None:
        self.sent: list[Email] = []

    def send(self, email: Email) -> str:
        self.sent.append(email)
        return f"message-{len(self.sent)}"


class RefusingMailer(FakeMailer):
    """SES refusing some recipients (unverified addresses in the sandbox), as the SES adapter reports it.

    `transient` makes every send fail as throttling does after the SDK's retries; `misconfigured` as a
    sender SES does not accept (every recipient refused alike). `attempts` has every message tried.
    """

    def __init__(self, *refused: str, transient: bool = False, misconfigured: bool = False) -> None:
        super().__init__()
        self.refused = {address.lower() for address in refused}
        self.transient = transient
        self.misconfigured = misconfigured
        self.attempts: list[Email] = []

    def send(self, email: Email) -> str:
        self.attempts.append(email)
        if self.transient:
            raise TransientAwsError("SendEmail failed after retries (Throttling); try again")
        if self.misconfigured:
            raise ConfigurationError("SES refused mail from model-promotion@example.com: AccessDeniedException")
        refused = tuple(address for address in email.to if address.lower() in self.refused)
        if refused:
            raise NoticeRefused(
                f"SES refused the message to {', '.join(refused)}: MessageRejected",
                recipients=refused,
                code="MessageRejected",
            )
        return super().send(email)


class FakeExecutionHistory(ExecutionHistory):
    """An execution's history as the attempts of its latest stay in a state: none until a test sets them."""

    def __init__(self, attempts: list[TaskAttempt] | None = None) -> None:
        self.attempts = list(attempts or [])
        self.read: list[tuple[str, str]] = []

    def latest_stay(self, execution_arn: str, state: str) -> list[TaskAttempt]:
        self.read.append((execution_arn, state))
        return list(self.attempts)


@dataclass(frozen=True)
class FailedTask:
    token: str
    error: str
    cause: str


class FakeSigner(DecisionSigner):
    """KMS's HMAC key: a real HMAC-SHA256 under a key only this fake holds."""

    def __init__(self, key: bytes = b"decision-signing-key") -> None:
        self.key = key
        self.sealed: list[bytes] = []

    def seal(self, message: bytes) -> str:
        self.sealed.append(message)
        return base64.b64encode(hmac.new(self.key, message, hashlib.sha256).digest()).decode()

    def verify(self, message: bytes, seal: str) -> bool:
        expected = base64.b64encode(hmac.new(self.key, message, hashlib.sha256).digest()).decode()
        return hmac.compare_digest(expected.encode(), seal.encode("utf-8", "replace"))


class FakeWorkflow(Workflow):
    """Step Functions: one execution per name, and the task tokens it was sent back.

    `task_result` answers from what was sent: a token sent once is closed with that send, as the
    execution's history would show it; `lose_next_answer` applies the next send but raises DeliveryUnknown.
    """

    def __init__(self) -> None:
        self.started: dict[str, dict[str, Any]] = {}
        self.succeeded: list[tuple[str, dict[str, Any]]] = []
        self.failed: list[FailedTask] = []
        self._next_error: Exception | None = None
        self._lose_next = False
        self.timed_out: set[str] = set()

    def lose_next_answer(self) -> None:
        self._lose_next = True

    def _sent(self, task_token: str) -> bool:
        return any(t == task_token for t, _ in self.succeeded) or any(f.token == task_token for f in self.failed)

    def task_result(self, execution_arn: str, task_token: str) -> TaskResult:
        for token, output in self.succeeded:
            if token == task_token:
                return TaskResult("succeeded", output=json.dumps(output))
        for failed in self.failed:
            if failed.token == task_token:
                return TaskResult("failed", error=failed.error, cause=failed.cause)
        return TaskResult("timed-out") if task_token in self.timed_out else TaskResult("waiting")

    def raise_on_next_send(self, error: Exception, times: int = 1) -> None:
        """The next `times` succeed_task/fail_task raise `error` (e.g. TaskClosed()) instead of being recorded."""
        self._next_error = error
        self._error_times = times

    def _raise_if_told(self) -> None:
        error = self._next_error
        if error is not None:
            self._error_times -= 1
            if self._error_times <= 0:
                self._next_error = None
            raise error

    @property
    def sends(self) -> int:
        return len(self.succeeded) + len(self.failed)

    def execution_exists(self, name: str) -> bool:
        return name in self.started

    def start(self, name: str, execution_input: Mapping[str, Any]) -> str:
        if name in self.started:
            raise ExecutionExists(name)
        self.started[name] = json.loads(json.dumps(dict(execution_input)))
        return EXECUTION_ARN_PREFIX + name

    def _closed_or_lost(self, task_token: str) -> bool:
        """Raises TaskClosed for a spent token; True when this send's answer is to be lost after applying it."""
        if self._sent(task_token) or task_token in self.timed_out:
            raise TaskClosed("TaskTimedOut")
        lose, self._lose_next = self._lose_next, False
        return lose

    def succeed_task(self, task_token: str, output: Mapping[str, Any]) -> None:
        self._raise_if_told()
        lose = self._closed_or_lost(task_token)
        self.succeeded.append((task_token, json.loads(json.dumps(dict(output)))))
        if lose:
            raise DeliveryUnknown("send_task_success")

    def fail_task(self, task_token: str, error: str, cause: str) -> None:
        self._raise_if_told()
        lose = self._closed_or_lost(task_token)
        self.failed.append(FailedTask(task_token, error, cause))
        if lose:
            raise DeliveryUnknown("send_task_failure")


@dataclass(frozen=True)
class CodeExchange:
    code: str
    verifier: str
    redirect_uri: str


class FakeSignIn(SignIn):
    """A user pool's hosted UI and token endpoint: ID tokens are opaque keys of `tokens` (token -> claims).

    A code is granted for a token with `grant`; given the PKCE challenge the browser carried to the hosted
    UI, the exchange checks the verifier against it as Cognito does (S256). A code is good for one exchange.
    With a clock, `verify` refuses a token whose `exp` has passed.
    """

    HOSTED_UI = "https://approvals-sign-in.auth.eu-west-1.amazoncognito.com"

    def __init__(
        self, tokens: Mapping[str, Mapping[str, Any]] | None = None, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.tokens: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (tokens or {}).items()}
        self.codes: dict[str, tuple[str, str | None]] = {}
        self.authorized: list[tuple[str, str, str]] = []  # (state, challenge, redirect_uri)
        self.exchanges: list[CodeExchange] = []
        self.verified: list[str] = []
        self.clock = clock

    def grant(self, code: str, token: str, challenge: str | None = None) -> None:
        """The hosted UI signed the person in and hands the browser `code` for `token`."""
        self.codes[code] = (token, challenge)

    @property
    def origin(self) -> str:
        return self.HOSTED_UI

    def authorize_url(self, state: str, code_challenge: str, redirect_uri: str, *, fresh: bool = False) -> str:
        self.authorized.append((state, code_challenge, redirect_uri))
        parameters = {
            "response_type": "code",
            "client_id": "fake-client",
            "redirect_uri": redirect_uri,
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        if fresh:
            parameters["prompt"] = "login"
        return f"{self.HOSTED_UI}/oauth2/authorize?{urlencode(parameters)}"

    def logout_url(self, logout_uri: str) -> str:
        return f"{self.HOSTED_UI}/logout?{urlencode({'client_id': 'fake-client', 'logout_uri': logout_uri})}"

    def exchange_code(self, code: str, code_verifier: str, redirect_uri: str) -> str:
        self.exchanges.append(CodeExchange(code, code_verifier, redirect_uri))
        granted = self.codes.pop(code, None)
        if granted is None:
            raise NotSignedIn("The sign-in code was refused: invalid_grant")
        token, challenge = granted
        if challenge is not None and s256(code_verifier) != challenge:
            raise NotSignedIn("The sign-in code was refused: invalid_grant (code_verifier)")
        return token

    def verify(self, id_token: str) -> Mapping[str, Any]:
        self.verified.append(id_token)
        claims = self.tokens.get(id_token)
        if claims is None:
            raise NotSignedIn("The session is not valid. Sign in again.")
        if self.clock is not None and int(claims["exp"]) <= int(self.clock().timestamp()):
            raise NotSignedIn("The session has expired. Sign in again.")
        return copy.deepcopy(claims)


class FakeModelVersions(ModelVersions):
    """ListModelPackages over a FakeRegistry's descriptions: the versions of a group, newest first."""

    def __init__(self, registry: FakeRegistry) -> None:
        self.registry = registry

    def groups(self) -> list[str]:
        return sorted({str(d.get("ModelPackageGroupName")) for d in self.registry.descriptions.values()})

    def versions(self, group: str) -> list[Mapping[str, Any]]:
        found = [d for d in self.registry.descriptions.values() if d.get("ModelPackageGroupName") == group]
        return [copy.deepcopy(d) for d in sorted(found, key=lambda d: d["ModelPackageVersion"], reverse=True)]

    def version(self, group: str, version: int) -> Mapping[str, Any] | None:
        return next((d for d in self.versions(group) if d["ModelPackageVersion"] == version), None)


@dataclass(frozen=True)
class StoppedExecution:
    execution_arn: str
    error: str
    cause: str


class FakeExecutions(ExecutionControl):
    """DescribeExecution and StopExecution over executions by name; `stopped` records every stop asked for."""

    def __init__(self) -> None:
        self.executions: dict[str, dict[str, Any]] = {}
        self.stopped: list[StoppedExecution] = []

    def add(self, name: str, status: str = "RUNNING", **fields: Any) -> str:
        arn = EXECUTION_ARN_PREFIX + name
        self.executions[name] = {"executionArn": arn, "name": name, "status": status, **fields}
        return arn

    def describe_execution(self, name: str) -> Mapping[str, Any] | None:
        execution = self.executions.get(name)
        return copy.deepcopy(execution) if execution else None

    def stop(self, execution_arn: str, error: str, cause: str) -> None:
        execution = self.executions.get(execution_arn.rsplit(":", 1)[-1])
        if execution is None or execution["executionArn"] != execution_arn:
            raise InvalidPayload(f"StopExecution of {execution_arn} refused: ExecutionDoesNotExist")
        self.stopped.append(StoppedExecution(execution_arn, error, cause))
        if execution["status"] == "RUNNING":
            execution.update(status="ABORTED", error=error, cause=cause)


class FakeSessionStore(SessionStore):
    """The approvals table's session and login items, by digest; `saved` counts the writes of sessions."""

    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}
        self.logins: dict[str, PendingLogin] = {}
        self.saved = 0

    def save(self, session: Session, *, new: bool) -> bool:
        if not new and session.digest not in self.sessions:
            return False
        self.sessions[session.digest] = session
        self.saved += 1
        return True

    def get(self, digest: str) -> Session | None:
        return self.sessions.get(digest)

    def delete(self, digest: str) -> None:
        self.sessions.pop(digest, None)

    def save_login(self, login: PendingLogin) -> None:
        self.logins[login.state_digest] = login

    def take_login(self, state_digest: str) -> PendingLogin | None:
        return self.logins.pop(state_digest, None)


class FakeDirectory(Directory):
    """The user pool's users by cognito:username: whether they are enabled and their groups. `lookups` counts calls."""

    def __init__(self, users: Mapping[str, DirectoryEntry] | None = None) -> None:
        self.users: dict[str, DirectoryEntry] = dict(users or {})
        self.lookups: list[str] = []

    def lookup(self, username: str) -> DirectoryEntry | None:
        self.lookups.append(username)
        return self.users.get(username)


def s256(verifier: str) -> str:
    """RFC 7636's S256 code challenge, computed independently of the code under test."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).decode().rstrip("=")


class Clock:
    """A clock the test moves: `advance(minutes=6)`."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)
