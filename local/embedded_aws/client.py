"""Talk to a running embedded stack from another process: the demo, the tests, a person's scripts.

`StackProcess` starts `python -m embedded_aws up` as a child process, the way AWS is "somewhere else";
`StackClient` offers boto3 clients bound to it and the outbox, plus waits that fail with a clear message.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from .demo_users import DEMO_PASSWORD, OPERATOR

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"https?://[^\s\"'<>]+/approvals/[A-Za-z0-9_-]+")


# The approval pages' session cookie (services/approval_web.py): an opaque id, Secure, so `__Host-`.
SESSION_COOKIE = "__Host-approval_session"
# The operators' console's own (services/operator_console.py).
CONSOLE_SESSION_COOKIE = "__Host-console_session"
# Half of the shortest re-authentication limit the demo's stacks set (the last stage's 10 minutes).
FRESH_SIGN_IN_SECONDS = 300
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class LoopbackCookieJar(requests.cookies.RequestsCookieJar):
    """Browsers treat http://127.0.0.1 and http://localhost as secure contexts: they keep and send Secure (and
    __Host-) cookies there, which the embedded AWS relies on (tests/browser checks that Chromium does). Python's
    cookie jar sends Secure cookies over https only, and requests copies a session's cookies into a plain jar
    for every request; so this jar keeps loopback cookies as cookies any request may carry, as a browser would."""

    def set_cookie(self, cookie: Any, *args: Any, **kwargs: Any) -> None:
        if cookie.domain in LOOPBACK:
            cookie.secure = False
        super().set_cookie(cookie, *args, **kwargs)


def browser() -> requests.Session:
    """A fresh browser-like HTTP session: its own cookies, kept and sent as a browser would on the loopback host."""
    session = requests.Session()
    session.cookies = LoopbackCookieJar()
    return session


class StackError(RuntimeError):
    pass


class StateFileError(StackError):
    """No running embedded AWS behind a state file: missing, unreadable, or left by a process that is gone."""


def read_state(path: Path) -> dict[str, Any]:
    """The state file `up` writes, once its process is known to be alive (signal 0 checks without sending)."""
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        raise StateFileError(f"no embedded AWS is running ({path} is missing): start one with `make up`") from None
    except (OSError, ValueError) as exc:
        raise StateFileError(f"cannot read the state file {path}: {exc}") from None
    pid = info.get("pid") if isinstance(info, dict) else None
    if not isinstance(pid, int):
        raise StateFileError(f"{path} is not an embedded AWS state file (no process id): start one with `make up`")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        raise StateFileError(
            f"the embedded AWS that wrote {path} (process {pid}) is no longer running: start it again with `make up`"
        ) from None
    except PermissionError:  # somebody else's process: alive
        pass
    return info


class StackClient:
    def __init__(self, info: dict[str, Any]):
        self.info = info
        self.api_url: str = info["api_url"]
        self.resources: dict[str, str] = info["resources"]
        self.parameters: dict[str, Any] = info["parameters"]
        self.http = browser()
        self._sessions: dict[str, tuple[requests.Session, float]] = {}

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            region_name=self.info["region"],
            endpoint_url=self.info["aws_endpoint"],
            aws_access_key_id="embedded",
            aws_secret_access_key="embedded",
        )

    @property
    def state_machine_arn(self) -> str:
        return self.resources["PromotionStateMachine"]

    def outbox(self) -> list[dict[str, Any]]:
        answer = self.http.get(f"{self.api_url}/outbox.json", timeout=10)
        answer.raise_for_status()
        return list(answer.json())

    def wait_for(self, what: str, probe: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value:
                return value
            if time.monotonic() > deadline:
                raise StackError(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(interval)

    def wait_for_email(
        self, predicate: Callable[[dict[str, Any]], bool], what: str, timeout: float = 30.0
    ) -> dict[str, Any]:
        return self.wait_for(what, lambda: next((m for m in self.outbox() if predicate(m)), None), timeout)

    def emails_to(self, address: str) -> list[dict[str, Any]]:
        return [m for m in self.outbox() if address in m["to"]]

    @staticmethod
    def links(message: dict[str, Any]) -> list[str]:
        return sorted(set(LINK.findall(message["text"] + message["html"])))

    def wait_for_execution(self, arn: str, timeout: float = 60.0) -> dict[str, Any]:
        sfn = self.client("stepfunctions")

        def finished() -> dict[str, Any] | None:
            described = sfn.describe_execution(executionArn=arn)
            return described if described["status"] != "RUNNING" else None

        return self.wait_for(f"execution {arn} to finish", finished, timeout, interval=0.2)

    def execution_for(self, name: str, timeout: float = 30.0) -> str:
        sfn = self.client("stepfunctions")
        arn = f"{self.state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}"

        def exists() -> str | None:
            try:
                sfn.describe_execution(executionArn=arn)
            except sfn.exceptions.ExecutionDoesNotExist:
                return None
            return arn

        return self.wait_for(f"execution {name} to start", exists, timeout)

    def history(self, arn: str) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        events: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = sfn.get_execution_history(
                executionArn=arn, maxResults=1000, **({"nextToken": token} if token else {})
            )
            events.extend(page["events"])
            token = page.get("nextToken")
            if not token:
                return events

    def signed_in(self, email: str, password: str = DEMO_PASSWORD) -> requests.Session:
        """A browser-like session signed in through the hosted UI (authorization code with PKCE). A person's
        browser is reused, and replaced by a new one (a sign-in with the password) once its sign-in is
        FRESH_SIGN_IN_SECONDS old, as a stage that asks for a fresh sign-in at signing would have it."""
        cached = self._sessions.get(email)
        if cached is not None and time.monotonic() - cached[1] < FRESH_SIGN_IN_SECONDS:
            return cached[0]
        session = self._hosted_ui_sign_in("/auth/login?next=/", SESSION_COOKIE, email, password)
        self._sessions[email] = (session, time.monotonic())
        return session

    def operator_session(self, email: str = OPERATOR, password: str = DEMO_PASSWORD) -> requests.Session:
        """A browser-like session signed in to the operators' console."""
        return self._hosted_ui_sign_in("/console/auth/login?next=/console", CONSOLE_SESSION_COOKIE, email, password)

    def _hosted_ui_sign_in(self, login_path: str, cookie: str, email: str, password: str) -> requests.Session:
        session = browser()
        form_page = session.get(f"{self.api_url}{login_path}", timeout=30)
        fields = dict(re.findall(r"<input type='hidden' name='([^']+)' value='([^']*)'>", form_page.text))
        if not fields:
            raise StackError(f"the sign-in page did not load ({form_page.status_code})")
        fields = {k: html.unescape(v) for k, v in fields.items()}
        answer = session.post(
            f"{self.api_url}/login", data={**fields, "username": email, "password": password}, timeout=30
        )
        if cookie not in session.cookies:
            raise StackError(f"signing in as {email} failed ({answer.status_code})")
        return session

    @staticmethod
    def form_of(page: requests.Response) -> tuple[str, str]:
        """The review page's form action (absolute) and its CSRF token."""
        action = re.search(r"<form method='post' action='([^']+)'>", page.text)
        csrf = re.search(r"<input type='hidden' name='csrf' value='([^']+)'>", page.text)
        if not action or not csrf:
            raise StackError(f"the page at {page.url} has no decision form ({page.status_code})")
        return requests.compat.urljoin(page.url, html.unescape(action.group(1))), html.unescape(csrf.group(1))

    def decide(self, link: str, decision: str, comment: str = "", *, as_user: str) -> requests.Response:
        """What an approver's browser does: sign in, open the review page, then submit its form."""
        session = self.signed_in(as_user)
        page = session.get(link, timeout=30)
        if page.status_code != 200:
            return page
        target, csrf = self.form_of(page)
        return session.post(target, data={"decision": decision, "comment": comment, "csrf": csrf}, timeout=30)


class StackProcess:
    """A stack in a child process. Its log (the Lambda functions' output) goes to `log_path`."""

    def __init__(
        self,
        overrides: dict[str, str] | None = None,
        log_path: Path | None = None,
        transform_seconds: float = 0.0,
        schedule_seconds: float = 0.0,
    ):
        self.overrides = overrides or {}
        self.transform_seconds = transform_seconds
        self.schedule_seconds = schedule_seconds
        self.workdir = Path(tempfile.mkdtemp(prefix="embedded-aws-"))
        self.state_file = self.workdir / "stack.json"
        self.log_path = log_path or self.workdir / "stack.log"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> StackClient:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> StackClient:
        # Port 0: each stack takes free ports, so several can run side by side (tests, a `make up`).
        command = [
            sys.executable,
            "-m",
            "embedded_aws",
            "up",
            "--state-file",
            str(self.state_file),
            "--aws-port",
            "0",
            "--api-port",
            "0",
            "--transform-seconds",
            str(self.transform_seconds),
            "--schedule-seconds",
            str(self.schedule_seconds),
        ]
        for key, value in self.overrides.items():
            command += ["--parameter", f"{key}={value}"]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT / "local"), env.get("PYTHONPATH")]))
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=PROJECT_ROOT)
        deadline = time.monotonic() + timeout
        while not self.state_file.exists():
            if self.process.poll() is not None:
                raise StackError(f"the embedded AWS exited during start-up; see {self.log_path}")
            if time.monotonic() > deadline:
                self.stop()
                raise StackError(f"the embedded AWS did not start within {timeout:.0f}s; see {self.log_path}")
            time.sleep(0.1)
        return StackClient(json.loads(self.state_file.read_text()))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None
