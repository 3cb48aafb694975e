"""The approval pages as HTTP: sign-in, sessions, sign-out, CSRF and origin checks around the approval use cases.

Framework-free: a request and a response are small dataclasses, so the Lambda handler only converts
API Gateway's event format, and tests drive every path without AWS.

Sessions are server-side (SessionStore): the browser holds an opaque random id (256 bits) in a `__Host-` cookie
(Secure, Path=/, no Domain, HttpOnly, SameSite=Lax); the store holds its SHA-256, the identity verified at
sign-in, when the person authenticated, and when the session ends (idle and absolute). No token is kept. Every
`groups_recheck_minutes` the approver's groups are read again from the directory, so a removal takes effect
within minutes, and a deleted or disabled user's session ends. Signing out (a POST with the session's CSRF
token) deletes the session and ends the hosted UI's own sign-in session too (its /logout endpoint).

A decision at a stage that asks for a fresh sign-in (settings.signing_reauth_minutes) from a session
authenticated earlier sends the browser through the hosted UI again with prompt=login. The decision and comment
wait server-side with that login attempt; once the new ID token's auth_time proves the person entered their
credentials after pressing the button, the review page shows them again, for the approver to press again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import parse_qs, quote

from ..config import ApprovalApiSettings
from ..domain.approvals import iso
from ..domain.errors import ReauthenticationRequired
from ..domain.identity import NotSignedIn, UnverifiedEmail, approver_from_claims
from ..domain.presentation import Page, message_page, signed_out_page
from ..domain.web_security import (
    LoginAttempt,
    PendingLogin,
    Refill,
    Session,
    csrf_token,
    csrf_valid,
    digest_of,
    new_session_id,
    same_origin,
)
from ..ports import ApprovalStore, DecisionSigner, Directory, SessionStore, SignIn, Workflow
from .approvals import decide, show_review

# `__Host-`: the browser keeps it only if it is Secure, has Path=/ and no Domain, so no other host (a sibling
# subdomain) can set or overwrite it (RFC 6265bis, cookie prefixes).
SESSION_COOKIE = "__Host-approval_session"
LOGIN_COOKIE = "__Host-approval_login"
LOGIN_COOKIE_SECONDS = 600
BODY_MAX = 16 * 1024
# "Last seen" is written at most once a minute: idle expiry is counted in minutes, and a page view is a read.
TOUCH_SECONDS = 60
# Clock skew tolerated between Cognito's auth_time and this function's clock.
AUTH_TIME_LEEWAY = timedelta(seconds=30)
# What the sign-out form's CSRF token is bound to, besides the session (approval ids are 32 characters).
LOGOUT_PURPOSE = "logout"
SIGNED_OUT_PATH = "/auth/signed-out"
_APPROVAL_PATH = re.compile(r"^/approvals/([^/]+)$")


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    cookies: Mapping[str, str] = field(default_factory=dict)
    body: str = ""
    # Scheme and host the browser used (API Gateway: x-forwarded-proto and the request's domain name).
    base_url: str = "https://localhost"

    @property
    def callback_url(self) -> str:
        return f"{self.base_url}/auth/callback"

    @property
    def signed_out_url(self) -> str:
        return f"{self.base_url}{SIGNED_OUT_PATH}"


@dataclass(frozen=True)
class HttpResponse:
    status: int
    html: str = ""
    location: str | None = None
    cookies: tuple[str, ...] = ()
    context: Mapping[str, Any] | None = None


class ApprovalPages:
    def __init__(
        self,
        settings: ApprovalApiSettings,
        *,
        store: ApprovalStore,
        workflow: Workflow,
        sign_in: SignIn,
        signer: DecisionSigner,
        sessions: SessionStore,
        directory: Directory,
        clock: Callable[[], datetime],
    ):
        self.settings = settings
        self.store = store
        self.workflow = workflow
        self.sign_in = sign_in
        self.signer = signer
        self.sessions = sessions
        self.directory = directory
        self.clock = clock

    @property
    def _idle(self) -> timedelta:
        return timedelta(minutes=self.settings.session_idle_minutes)

    @property
    def _most(self) -> timedelta:
        return timedelta(minutes=self.settings.session_max_minutes)

    def handle(self, request: HttpRequest) -> HttpResponse:
        reading = request.method in ("GET", "HEAD")
        if request.path == "/auth/login" and reading:
            return self.login(request)
        if request.path == "/auth/callback" and reading:
            return self.callback(request)
        if request.path == "/auth/logout" and (reading or request.method == "POST"):
            return self.logout(request) if request.method == "POST" else self.logout_page(request)
        if request.path == SIGNED_OUT_PATH and reading:
            return _page(
                message_page(
                    200,
                    "Signed out",
                    "You are signed out of the approval pages and of the sign-in service. Open your email's link "
                    "to sign in again.",
                )
            )
        found = _APPROVAL_PATH.match(request.path)
        if found and (reading or request.method == "POST"):
            return self.approval(request, found.group(1))
        return _page(message_page(404, "Not found", "There is no page here. Open the link from your email."))

    # -- sign-in ---------------------------------------------------------------------------------------
    def login(self, request: HttpRequest) -> HttpResponse:
        attempt = LoginAttempt.start(request.query.get("next", "/"))
        location = self.sign_in.authorize_url(attempt.state, attempt.challenge, request.callback_url)
        return HttpResponse(302, location=location, cookies=(_login_cookie(attempt),))

    def callback(self, request: HttpRequest) -> HttpResponse:
        attempt = LoginAttempt.from_cookie(request.cookies.get(LOGIN_COOKIE))
        code, state = request.query.get("code"), request.query.get("state")
        if request.query.get("error"):
            return _page(message_page(401, "Sign-in cancelled", "You are not signed in. Open your email's link again."))
        if attempt is None or not code or not state or state != attempt.state:
            return _page(
                message_page(400, "Sign-in expired", "This sign-in is no longer valid. Open your email's link again.")
            )
        # A re-authentication at signing waits under this state, which only this browser's login cookie holds.
        pending = self.sessions.take_login(digest_of(attempt.state))
        try:
            token = self.sign_in.exchange_code(code, attempt.verifier, request.callback_url)
            claims = self.sign_in.verify(token)
            approver = approver_from_claims(claims)
        except UnverifiedEmail as exc:
            return _page(message_page(403, "Email address not verified", str(exc)), _clear(LOGIN_COOKIE))
        except NotSignedIn as exc:
            return _page(message_page(401, "Sign-in failed", str(exc)), _clear(LOGIN_COOKIE))
        now = self.clock()
        authenticated_at = datetime.fromtimestamp(int(claims["auth_time"]), tz=UTC)
        refill = None
        stale: Page | None = None
        if pending is not None and now < pending.expires_at and pending.subject == approver.subject:
            if authenticated_at >= pending.started_at - AUTH_TIME_LEEWAY:
                refill = pending.refill
            else:
                stale = message_page(
                    401,
                    "Sign-in not fresh",
                    f"Signing needs a sign-in made just now, but the sign-in service let you in with your sign-in "
                    f"of {iso(authenticated_at)} without asking for your password. Nothing was signed. Sign out, "
                    "then open your email's link again and sign in.",
                )
        # A sign-in always starts a new session under a new id (no session fixation); the old one ends.
        previous = request.cookies.get(SESSION_COOKIE)
        if previous:
            self.sessions.delete(digest_of(previous))
        if pending is not None:
            self.sessions.delete(pending.session_digest)
        session_id = new_session_id()
        session = Session.start(digest_of(session_id), approver, authenticated_at, now, self._idle, self._most)
        self.sessions.save(replace(session, refill=refill), new=True)
        cookies = (_cookie(SESSION_COOKIE, session_id, int(self._most.total_seconds())), _clear(LOGIN_COOKIE))
        if stale is not None:
            return _page(self._with_sign_out(stale, session_id), *cookies)
        return HttpResponse(303, location=attempt.next_path, cookies=cookies)

    def _session(self, request: HttpRequest, now: datetime) -> tuple[str, Session] | None:
        """The live session this browser's cookie names, its groups re-read when they are due; None otherwise."""
        session_id = request.cookies.get(SESSION_COOKIE)
        if not session_id:
            return None
        digest = digest_of(session_id)
        session = self.sessions.get(digest)
        if session is None:
            return None
        if not session.is_live(now):
            self.sessions.delete(digest)
            return None
        due = now - session.groups_checked_at >= timedelta(minutes=self.settings.groups_recheck_minutes)
        if due:
            entry = self.directory.lookup(session.approver.username)
            if entry is None or not entry.enabled:
                self.sessions.delete(digest)  # deleted or disabled since they signed in
                return None
            session = replace(session, approver=session.approver.with_groups(entry.groups), groups_checked_at=now)
        if due or now - session.last_seen_at >= timedelta(seconds=TOUCH_SECONDS):
            session = session.seen(now, self._idle)
            if not self.sessions.save(session, new=False):
                return None
        return session_id, session

    # -- sign-out --------------------------------------------------------------------------------------
    def logout_page(self, request: HttpRequest) -> HttpResponse:
        found = self._session(request, self.clock())
        if found is None:
            return _page(message_page(200, "Signed out", "You are signed out."))
        session_id, session = found
        page = message_page(200, "Sign out", f"You are signed in as {session.approver.signature}.")
        return _page(self._with_sign_out(page, session_id))

    def logout(self, request: HttpRequest) -> HttpResponse:
        if not same_origin(request.headers, request.base_url):
            return _page(message_page(403, "Refused", "Sign out from the approval pages themselves."))
        found = self._session(request, self.clock())
        if found is not None:
            session_id, session = found
            form = _form(request)
            if isinstance(form, Page):
                return _page(form)
            if not csrf_valid(session_id, LOGOUT_PURPOSE, form.get("csrf")):
                return _page(
                    message_page(
                        403, "Refused", "The sign-out form did not match your session. Reload the page and try again."
                    )
                )
            self.sessions.delete(session.digest)
        # The hosted UI ends its own sign-in session too, then returns to the signed-out page.
        return HttpResponse(
            303, location=self.sign_in.logout_url(request.signed_out_url), cookies=(_clear(SESSION_COOKIE),)
        )

    def _with_sign_out(self, page: Page, session_id: str) -> Page:
        """Every page a signed-in person sees carries a sign-out button (a POST with the session's token)."""
        form = (
            "<form method='post' action='/auth/logout' class='sign-out'>"
            f"<input type='hidden' name='csrf' value='{escape(csrf_token(session_id, LOGOUT_PURPOSE))}'>"
            "<p><button type='submit'>Sign out</button></p></form>"
        )
        return replace(page, html=page.html.replace("</body>", f"{form}</body>", 1))

    # -- the approval page -----------------------------------------------------------------------------
    def approval(self, request: HttpRequest, approval_id: str) -> HttpResponse:
        now = self.clock()
        found = self._session(request, now)
        if found is None:
            # The same answer for every id, known or not: nothing about a request shows before sign-in.
            login = f"/auth/login?next={quote(request.path, safe='')}"
            clear = (_clear(SESSION_COOKIE),) if SESSION_COOKIE in request.cookies else ()
            return _page(signed_out_page(login), *clear)
        session_id, session = found
        common: dict[str, Any] = {
            "viewer": session.approver,
            "store": self.store,
            "signer": self.signer,
            "now": now,
            "form_action": request.path,
            "csrf": csrf_token(session_id, approval_id),
            "group_prefix": self.settings.approver_group_prefix,
            "quorum": self.settings.quorum,
            "reauth_minutes": self.settings.signing_reauth_minutes,
            # When the person last entered their credentials, as the ID token said at sign-in: never a form field.
            "authenticated_at": session.authenticated_at,
        }
        if request.method in ("GET", "HEAD"):
            refill = session.refill if session.refill and session.refill.approval_id == approval_id else None
            if refill is not None and request.method == "GET":
                self.sessions.save(replace(session, refill=None), new=False)
                action = "Approve" if refill.decision == "approve" else "Reject"
                notice = (
                    f"You signed in again at {iso(session.authenticated_at)}. Nothing is signed yet: you chose "
                    f"{action}; press {action} again to sign."
                )
                page = show_review(approval_id, comment=refill.comment, notice=notice, **common)
            else:
                page = show_review(approval_id, **common)
            return _page(self._with_sign_out(page, session_id))
        if not same_origin(request.headers, request.base_url):
            return _page(message_page(403, "Refused", "Decisions are accepted only from the review page itself."))
        form = _form(request)
        if isinstance(form, Page):
            return _page(form)
        if not csrf_valid(session_id, approval_id, form.get("csrf")):
            return _page(
                message_page(
                    403,
                    "Refused",
                    "The form was missing its security token or it did not match your session. Nothing was "
                    "changed; reload the review page and decide again.",
                )
            )
        try:
            page = decide(approval_id, form, workflow=self.workflow, **common)
        except ReauthenticationRequired:
            return self._sign_in_again(request, session, approval_id, form, now)
        return _page(self._with_sign_out(page, session_id))

    def _sign_in_again(
        self, request: HttpRequest, session: Session, approval_id: str, form: Mapping[str, str], now: datetime
    ) -> HttpResponse:
        """The stage needs a fresher sign-in: the hosted UI asks for the credentials again (prompt=login), and the
        decision waits server-side with this attempt, never in a URL."""
        attempt = LoginAttempt.start(f"/approvals/{approval_id}")
        refill = Refill(approval_id, form.get("decision", "").strip().lower(), form.get("comment", ""))
        self.sessions.save_login(
            PendingLogin(
                state_digest=digest_of(attempt.state),
                session_digest=session.digest,
                subject=session.approver.subject,
                started_at=now,
                expires_at=now + timedelta(seconds=LOGIN_COOKIE_SECONDS),
                refill=refill,
            )
        )
        location = self.sign_in.authorize_url(attempt.state, attempt.challenge, request.callback_url, fresh=True)
        return HttpResponse(303, location=location, cookies=(_login_cookie(attempt),))


def _cookie(name: str, value: str, max_age: int) -> str:
    """Always Secure, Path=/ and no Domain, as the `__Host-` prefix requires: Chromium keeps Secure cookies on
    http://localhost and http://127.0.0.1 (secure contexts), so the embedded AWS needs no exception."""
    return f"{name}={value}; Max-Age={max_age}; Path=/; Secure; HttpOnly; SameSite=Lax"


def _clear(name: str) -> str:
    return _cookie(name, "", 0)


def _login_cookie(attempt: LoginAttempt) -> str:
    return _cookie(LOGIN_COOKIE, attempt.cookie_value(), LOGIN_COOKIE_SECONDS)


def _page(page: Page, *cookies: str) -> HttpResponse:
    return HttpResponse(page.status, page.html, cookies=tuple(cookies), context=page.context)


def _form(request: HttpRequest) -> dict[str, str] | Page:
    content_type = request.headers.get("content-type", "").lower()
    if not content_type.startswith("application/x-www-form-urlencoded"):
        return message_page(415, "Unsupported form", "Send the decision from the review page's form.")
    if len(request.body) > BODY_MAX:
        return message_page(413, "Form too large", "The comment is too long. Keep it within 1000 characters.")
    return {key: values[0] for key, values in parse_qs(request.body, keep_blank_values=True).items()}
