"""The approval pages as HTTP: the review (GET/HEAD) and the decision (POST), behind the sign-in of
services/web_sessions.py (its cookies named `__Host-approval_*`, its sessions in the approval pages' own table).

A decision at a stage that asks for a fresh sign-in (settings.signing_reauth_minutes) from a session
authenticated earlier sends the browser through the hosted UI again with prompt=login. The decision and comment
wait server-side with that login attempt; once the new ID token's auth_time proves the person entered their
credentials after pressing the button, the review page shows them again, for the approver to press again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from ..config import ApprovalApiSettings
from ..domain.approvals import iso
from ..domain.errors import ReauthenticationRequired
from ..domain.presentation import Page, message_page, signed_out_page
from ..domain.web_security import (
    LoginAttempt,
    PendingLogin,
    Refill,
    Session,
    csrf_token,
    csrf_valid,
    digest_of,
    same_origin,
)
from ..ports import ApprovalStore, DecisionSigner, Directory, SessionStore, SignIn, Workflow
from .approvals import decide, show_review
from .web_sessions import (
    BODY_MAX,
    LOGIN_COOKIE_SECONDS,
    LOGOUT_PURPOSE,
    HttpRequest,
    HttpResponse,
    SignedInSite,
    SiteLayout,
    clear,
    page_response,
    read_form,
)

__all__ = [
    "BODY_MAX",
    "LOGIN_COOKIE",
    "LOGOUT_PURPOSE",
    "SESSION_COOKIE",
    "ApprovalPages",
    "HttpRequest",
    "HttpResponse",
]

SESSION_COOKIE = "__Host-approval_session"
LOGIN_COOKIE = "__Host-approval_login"
LAYOUT = SiteLayout(
    prefix="",
    session_cookie=SESSION_COOKIE,
    login_cookie=LOGIN_COOKIE,
    name="the approval pages",
    come_back="Open your email's link again.",
)
_APPROVAL_PATH = re.compile(r"^/approvals/([^/]+)$")


class ApprovalPages(SignedInSite):
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
        super().__init__(LAYOUT, settings, sign_in=sign_in, sessions=sessions, directory=directory, clock=clock)
        self.settings = settings
        self.store = store
        self.workflow = workflow
        self.signer = signer

    def next_path(self, wanted: str) -> str:
        """A sign-in here returns to an approval page only (the console has a sign-in of its own)."""
        return wanted if wanted.startswith("/approvals/") else "/"

    def handle(self, request: HttpRequest) -> HttpResponse:
        signing_in = self.handle_sign_in(request)
        if signing_in is not None:
            return signing_in
        reading = request.method in ("GET", "HEAD")
        found = _APPROVAL_PATH.match(request.path)
        if found and (reading or request.method == "POST"):
            return self.approval(request, found.group(1))
        return page_response(message_page(404, "Not found", "There is no page here. Open the link from your email."))

    # -- the approval page -----------------------------------------------------------------------------
    def approval(self, request: HttpRequest, approval_id: str) -> HttpResponse:
        now = self.clock()
        found = self.session(request, now)
        if found is None:
            # The same answer for every id, known or not: nothing about a request shows before sign-in.
            login = f"/auth/login?next={quote(request.path, safe='')}"
            cleared = (clear(SESSION_COOKIE),) if SESSION_COOKIE in request.cookies else ()
            return page_response(signed_out_page(login), *cleared)
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
            return page_response(self.with_sign_out(page, session_id, session.approver))
        if not same_origin(request.headers, request.base_url):
            return page_response(
                message_page(403, "Refused", "Decisions are accepted only from the review page itself.")
            )
        form = read_form(request)
        if isinstance(form, Page):
            return page_response(form)
        if not csrf_valid(session_id, approval_id, form.get("csrf")):
            return page_response(
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
        return page_response(self.with_sign_out(page, session_id, session.approver))

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
        location = self.sign_in.authorize_url(attempt.state, attempt.challenge, self.callback_url(request), fresh=True)
        return HttpResponse(303, location=location, cookies=(self._login_cookie(attempt),))
