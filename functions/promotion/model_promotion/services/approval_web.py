"""The approval pages as HTTP: sign-in, session, CSRF and origin checks around the approval use cases.

Framework-free: a request and a response are small dataclasses, so the Lambda handler only converts
API Gateway's event format, and tests drive every path without AWS.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, quote

from ..config import ApprovalApiSettings
from ..domain.identity import Approver, NotSignedIn, approver_from_claims
from ..domain.presentation import Page, message_page, signed_out_page
from ..domain.web_security import LoginAttempt, csrf_token, csrf_valid, same_origin
from ..ports import ApprovalStore, SignIn, Workflow
from .approvals import decide, show_review

SESSION_COOKIE = "approval_session"
LOGIN_COOKIE = "approval_login"
LOGIN_COOKIE_SECONDS = 600
BODY_MAX = 16 * 1024
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
        clock: Callable[[], datetime],
    ):
        self.settings = settings
        self.store = store
        self.workflow = workflow
        self.sign_in = sign_in
        self.clock = clock

    def handle(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/auth/login" and request.method in ("GET", "HEAD"):
            return self.login(request)
        if request.path == "/auth/callback" and request.method in ("GET", "HEAD"):
            return self.callback(request)
        if request.path == "/auth/logout" and request.method in ("GET", "HEAD"):
            return _page(message_page(200, "Signed out", "You are signed out."), self._clear(request, SESSION_COOKIE))
        found = _APPROVAL_PATH.match(request.path)
        if found and request.method in ("GET", "HEAD", "POST"):
            return self.approval(request, found.group(1))
        return _page(message_page(404, "Not found", "There is no page here. Open the link from your email."))

    # -- sign-in ---------------------------------------------------------------------------------------
    def login(self, request: HttpRequest) -> HttpResponse:
        attempt = LoginAttempt.start(request.query.get("next", "/"))
        cookie = self._cookie(request, LOGIN_COOKIE, attempt.cookie_value(), LOGIN_COOKIE_SECONDS, path="/auth")
        location = self.sign_in.authorize_url(attempt.state, attempt.challenge, request.callback_url)
        return HttpResponse(302, location=location, cookies=(cookie,))

    def callback(self, request: HttpRequest) -> HttpResponse:
        attempt = LoginAttempt.from_cookie(request.cookies.get(LOGIN_COOKIE))
        code, state = request.query.get("code"), request.query.get("state")
        if request.query.get("error"):
            return _page(message_page(401, "Sign-in cancelled", "You are not signed in. Open your email's link again."))
        if attempt is None or not code or not state or state != attempt.state:
            return _page(
                message_page(400, "Sign-in expired", "This sign-in is no longer valid. Open your email's link again.")
            )
        try:
            token = self.sign_in.exchange_code(code, attempt.verifier, request.callback_url)
            claims = self.sign_in.verify(token)
        except NotSignedIn as exc:
            return _page(message_page(401, "Sign-in failed", str(exc)))
        lifetime = max(0, int(claims["exp"]) - int(self.clock().timestamp()))
        cookies = (
            self._cookie(request, SESSION_COOKIE, token, lifetime),
            self._clear(request, LOGIN_COOKIE, path="/auth"),
        )
        return HttpResponse(303, location=attempt.next_path, cookies=cookies)

    def _viewer(self, request: HttpRequest) -> tuple[str, Approver] | None:
        session = request.cookies.get(SESSION_COOKIE)
        if not session:
            return None
        try:
            return session, approver_from_claims(self.sign_in.verify(session))
        except NotSignedIn:
            return None

    # -- the approval page -----------------------------------------------------------------------------
    def approval(self, request: HttpRequest, approval_id: str) -> HttpResponse:
        viewer = self._viewer(request)
        if viewer is None:
            # The same answer for every id, known or not: nothing about a request shows before sign-in.
            login = f"/auth/login?next={quote(request.path, safe='')}"
            clear = (self._clear(request, SESSION_COOKIE),) if SESSION_COOKIE in request.cookies else ()
            return _page(signed_out_page(login), *clear)
        session, approver = viewer
        csrf = csrf_token(session, approval_id)
        common = {
            "viewer": approver,
            "store": self.store,
            "now": self.clock(),
            "form_action": request.path,
            "csrf": csrf,
            "group_prefix": self.settings.approver_group_prefix,
        }
        if request.method in ("GET", "HEAD"):
            return _page(show_review(approval_id, **common))
        if not same_origin(request.headers, request.base_url):
            return _page(message_page(403, "Refused", "Decisions are accepted only from the review page itself."))
        form = _form(request)
        if isinstance(form, Page):
            return _page(form)
        if not csrf_valid(session, approval_id, form.get("csrf")):
            return _page(
                message_page(
                    403,
                    "Refused",
                    "The form was missing its security token or it did not match your session. Nothing was "
                    "changed; reload the review page and decide again.",
                )
            )
        return _page(decide(approval_id, form, workflow=self.workflow, **common))

    # -- cookies ---------------------------------------------------------------------------------------
    @staticmethod
    def _cookie(request: HttpRequest, name: str, value: str, max_age: int, path: str = "/") -> str:
        # Browsers refuse Secure cookies over plain http, which only the embedded AWS serves.
        secure = "; Secure" if request.base_url.startswith("https://") else ""
        return f"{name}={value}; Max-Age={max_age}; Path={path}; HttpOnly; SameSite=Lax{secure}"

    def _clear(self, request: HttpRequest, name: str, path: str = "/") -> str:
        return self._cookie(request, name, "", 0, path)


def _page(page: Page, *cookies: str) -> HttpResponse:
    return HttpResponse(page.status, page.html, cookies=tuple(cookies), context=page.context)


def _form(request: HttpRequest) -> dict[str, str] | Page:
    content_type = request.headers.get("content-type", "").lower()
    if not content_type.startswith("application/x-www-form-urlencoded"):
        return message_page(415, "Unsupported form", "Send the decision from the review page's form.")
    if len(request.body) > BODY_MAX:
        return message_page(413, "Form too large", "The comment is too long. Keep it within 1000 characters.")
    return {key: values[0] for key, values in parse_qs(request.body, keep_blank_values=True).items()}
