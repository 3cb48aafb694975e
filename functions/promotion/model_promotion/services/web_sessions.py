"""Signing in to our pages: the hosted UI's authorization-code flow with PKCE, server-side sessions, sign-out.

Two sites use it, each with its own cookies, paths and sessions table: the approval pages (services/approval_web.py)
and the operators' console (services/operator_console.py). A `SiteLayout` says which; the flow is the same.

Framework-free: a request and a response are small dataclasses, so the Lambda handlers only convert API Gateway's
event format, and tests drive every path without AWS.

Sessions are server-side (SessionStore): the browser holds an opaque random id (256 bits) in a `__Host-` cookie
(Secure, Path=/, no Domain, HttpOnly, SameSite=Lax); the store holds its SHA-256, the identity verified at
sign-in, when the person authenticated, and when the session ends (idle and absolute). No token is kept. Every
`groups_recheck_minutes` the person's groups are read again from the directory, so a removal takes effect
within minutes, and a deleted or disabled user's session ends. Signing out (a POST with the session's CSRF
token) deletes the session and ends the hosted UI's own sign-in session too (its /logout endpoint).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any, Protocol
from urllib.parse import parse_qs

from ..domain.approvals import iso
from ..domain.identity import Approver, NotSignedIn, UnverifiedEmail, approver_from_claims
from ..domain.presentation import Page, message_page
from ..domain.web_security import LoginAttempt, Session, csrf_token, csrf_valid, digest_of, new_session_id, same_origin
from ..ports import Directory, SessionStore, SignIn

LOGIN_COOKIE_SECONDS = 600
BODY_MAX = 16 * 1024
# "Last seen" is written at most once a minute: idle expiry is counted in minutes, and a page view is a read.
TOUCH_SECONDS = 60
# Clock skew tolerated between Cognito's auth_time and this function's clock.
AUTH_TIME_LEEWAY = timedelta(seconds=30)
# What the sign-out form's CSRF token is bound to, besides the session (approval ids are 32 characters).
LOGOUT_PURPOSE = "logout"


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


@dataclass(frozen=True)
class HttpResponse:
    status: int
    html: str = ""
    location: str | None = None
    cookies: tuple[str, ...] = ()
    context: Mapping[str, Any] | None = None
    content_type: str = "text/html; charset=utf-8"


@dataclass(frozen=True)
class SiteLayout:
    """Where a site's sign-in lives and what its cookies are called. `__Host-` cookies: the browser keeps them only
    if they are Secure, have Path=/ and no Domain, so no other host (a sibling subdomain) can set or overwrite them
    (RFC 6265bis, cookie prefixes). Each site has its own, so signing in to one never opens the other."""

    prefix: str  # "" for the approval pages, "/console" for the console
    session_cookie: str
    login_cookie: str
    name: str  # how a message names the site: "the approval pages"
    come_back: str  # how a person starts again: "Open your email's link again."

    @property
    def login_path(self) -> str:
        return f"{self.prefix}/auth/login"

    @property
    def callback_path(self) -> str:
        return f"{self.prefix}/auth/callback"

    @property
    def logout_path(self) -> str:
        return f"{self.prefix}/auth/logout"

    @property
    def signed_out_path(self) -> str:
        return f"{self.prefix}/auth/signed-out"


class SessionSettings(Protocol):
    session_idle_minutes: int
    session_max_minutes: int
    groups_recheck_minutes: int


class SignedInSite:
    """The sign-in routes of one site, and `session(request)` for its pages. Subclasses add the pages."""

    def __init__(
        self,
        layout: SiteLayout,
        settings: SessionSettings,
        *,
        sign_in: SignIn,
        sessions: SessionStore,
        directory: Directory,
        clock: Callable[[], datetime],
    ):
        self.layout = layout
        self.session_settings = settings
        self.sign_in = sign_in
        self.sessions = sessions
        self.directory = directory
        self.clock = clock

    @property
    def _idle(self) -> timedelta:
        return timedelta(minutes=self.session_settings.session_idle_minutes)

    @property
    def _most(self) -> timedelta:
        return timedelta(minutes=self.session_settings.session_max_minutes)

    def callback_url(self, request: HttpRequest) -> str:
        return f"{request.base_url}{self.layout.callback_path}"

    def handle_sign_in(self, request: HttpRequest) -> HttpResponse | None:
        """The answer when the request is one of the sign-in routes; None for every other path."""
        reading = request.method in ("GET", "HEAD")
        layout = self.layout
        if request.path == layout.login_path and reading:
            return self.login(request)
        if request.path == layout.callback_path and reading:
            return self.callback(request)
        if request.path == layout.logout_path and (reading or request.method == "POST"):
            return self.logout(request) if request.method == "POST" else self.logout_page(request)
        if request.path == layout.signed_out_path and reading:
            return page_response(
                message_page(
                    200,
                    "Signed out",
                    f"You are signed out of {layout.name} and of the sign-in service. {layout.come_back}",
                )
            )
        return None

    # -- sign-in ---------------------------------------------------------------------------------------
    def login(self, request: HttpRequest) -> HttpResponse:
        attempt = LoginAttempt.start(self.next_path(request.query.get("next", "/")))
        location = self.sign_in.authorize_url(attempt.state, attempt.challenge, self.callback_url(request))
        return HttpResponse(302, location=location, cookies=(self._login_cookie(attempt),))

    def next_path(self, wanted: str) -> str:
        """Where a sign-in may return to (LoginAttempt also keeps it on this host)."""
        return wanted

    def refusal(self, person: Approver) -> Page | None:
        """The page for a signed-in person this site does not serve, who then gets no session; None admits them."""
        return None

    def callback(self, request: HttpRequest) -> HttpResponse:
        layout = self.layout
        attempt = LoginAttempt.from_cookie(request.cookies.get(layout.login_cookie))
        code, state = request.query.get("code"), request.query.get("state")
        if request.query.get("error"):
            return page_response(message_page(401, "Sign-in cancelled", f"You are not signed in. {layout.come_back}"))
        if attempt is None or not code or not state or state != attempt.state:
            return page_response(
                message_page(400, "Sign-in expired", f"This sign-in is no longer valid. {layout.come_back}")
            )
        # A re-authentication at signing waits under this state, which only this browser's login cookie holds.
        pending = self.sessions.take_login(digest_of(attempt.state))
        try:
            token = self.sign_in.exchange_code(code, attempt.verifier, self.callback_url(request))
            claims = self.sign_in.verify(token)
            person = approver_from_claims(claims)
        except UnverifiedEmail as exc:
            return page_response(message_page(403, "Email address not verified", str(exc)), clear(layout.login_cookie))
        except NotSignedIn as exc:
            return page_response(message_page(401, "Sign-in failed", str(exc)), clear(layout.login_cookie))
        refused = self.refusal(person)
        if refused is not None:  # no session at all for someone this site does not serve
            return page_response(refused, clear(layout.login_cookie))
        now = self.clock()
        authenticated_at = datetime.fromtimestamp(int(claims["auth_time"]), tz=UTC)
        refill = None
        stale: Page | None = None
        if pending is not None and now < pending.expires_at and pending.subject == person.subject:
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
        previous = request.cookies.get(layout.session_cookie)
        if previous:
            self.sessions.delete(digest_of(previous))
        if pending is not None:
            self.sessions.delete(pending.session_digest)
        session_id = new_session_id()
        session = Session.start(digest_of(session_id), person, authenticated_at, now, self._idle, self._most)
        self.sessions.save(replace(session, refill=refill), new=True)
        cookies = (
            cookie(layout.session_cookie, session_id, int(self._most.total_seconds())),
            clear(layout.login_cookie),
        )
        if stale is not None:
            return page_response(self.with_sign_out(stale, session_id, person), *cookies)
        return HttpResponse(303, location=attempt.next_path, cookies=cookies)

    def session(self, request: HttpRequest, now: datetime) -> tuple[str, Session] | None:
        """The live session this browser's cookie names, its groups re-read when they are due; None otherwise."""
        session_id = request.cookies.get(self.layout.session_cookie)
        if not session_id:
            return None
        digest = digest_of(session_id)
        session = self.sessions.get(digest)
        if session is None:
            return None
        if not session.is_live(now):
            self.sessions.delete(digest)
            return None
        due = now - session.groups_checked_at >= timedelta(minutes=self.session_settings.groups_recheck_minutes)
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
        found = self.session(request, self.clock())
        if found is None:
            return page_response(message_page(200, "Signed out", "You are signed out."))
        session_id, session = found
        page = message_page(200, "Sign out", f"You are signed in as {session.approver.signature}.")
        return page_response(self.with_sign_out(page, session_id, session.approver))

    def logout(self, request: HttpRequest) -> HttpResponse:
        if not same_origin(request.headers, request.base_url):
            return page_response(message_page(403, "Refused", f"Sign out from {self.layout.name} themselves."))
        found = self.session(request, self.clock())
        if found is not None:
            session_id, session = found
            form = read_form(request)
            if isinstance(form, Page):
                return page_response(form)
            if not csrf_valid(session_id, LOGOUT_PURPOSE, form.get("csrf")):
                return page_response(
                    message_page(
                        403, "Refused", "The sign-out form did not match your session. Reload the page and try again."
                    )
                )
            self.sessions.delete(session.digest)
        # The hosted UI ends its own sign-in session too, then returns to the signed-out page.
        signed_out = f"{request.base_url}{self.layout.signed_out_path}"
        return HttpResponse(
            303, location=self.sign_in.logout_url(signed_out), cookies=(clear(self.layout.session_cookie),)
        )

    def sign_out_form(self, session_id: str, person: Approver | None = None) -> str:
        """The sign-out button (a POST with the session's token), after who is signed in: "not you?"."""
        who = f"Signed in as {escape(person.signature)}. Not you? " if person is not None else ""
        return (
            f"<form method='post' action='{escape(self.layout.logout_path)}' class='sign-out'>"
            f"<input type='hidden' name='csrf' value='{escape(csrf_token(session_id, LOGOUT_PURPOSE))}'>"
            f"<p>{who}<button type='submit'>Sign out</button></p></form>"
        )

    def with_sign_out(self, page: Page, session_id: str, person: Approver | None = None) -> Page:
        """Every page a signed-in person sees names them and carries a sign-out button."""
        form = self.sign_out_form(session_id, person)
        return replace(page, html=page.html.replace("</body>", f"{form}</body>", 1))

    def _login_cookie(self, attempt: LoginAttempt) -> str:
        return cookie(self.layout.login_cookie, attempt.cookie_value(), LOGIN_COOKIE_SECONDS)


def cookie(name: str, value: str, max_age: int) -> str:
    """Always Secure, Path=/ and no Domain, as the `__Host-` prefix requires: Chromium keeps Secure cookies on
    http://localhost and http://127.0.0.1 (secure contexts), so the embedded AWS needs no exception."""
    return f"{name}={value}; Max-Age={max_age}; Path=/; Secure; HttpOnly; SameSite=Lax"


def clear(name: str) -> str:
    return cookie(name, "", 0)


def page_response(page: Page, *cookies: str) -> HttpResponse:
    return HttpResponse(page.status, page.html, cookies=tuple(cookies), context=page.context)


def read_form(request: HttpRequest) -> dict[str, str] | Page:
    content_type = request.headers.get("content-type", "").lower()
    if not content_type.startswith("application/x-www-form-urlencoded"):
        return message_page(415, "Unsupported form", "Send the form from the page itself.")
    if len(request.body) > BODY_MAX:
        return message_page(413, "Form too large", "The comment is too long. Keep it within 1000 characters.")
    return {key: values[0] for key, values in parse_qs(request.body, keep_blank_values=True).items()}
