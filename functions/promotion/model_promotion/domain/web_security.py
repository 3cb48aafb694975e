"""The browser-facing safeguards of the approval pages: sessions, CSRF tokens, origin checks, PKCE and state.

All pure functions and values; the session id is the only secret they use, and none of them logs anything.
The session id travels only in its HttpOnly `__Host-` cookie; the server keeps only its SHA-256 (digest_of).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from .identity import Approver

# An approval page, or a console page with its filters: never another site (no open redirect).
_NEXT_PATH = re.compile(
    r"/approvals/[A-Za-z0-9_-]{1,64}|/console(/versions/[A-Za-z0-9-]{1,63}/[0-9]{1,9})?(\?[A-Za-z0-9_.=&%+~-]{0,512})?"
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# 32 random bytes: 256 bits, past OWASP's 128-bit minimum for a session id.
SESSION_ID_BYTES = 32


def new_session_id() -> str:
    return secrets.token_urlsafe(SESSION_ID_BYTES)


def digest_of(secret: str) -> str:
    """What the server stores and looks a session (or a login state) up by: the secret itself is never stored."""
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def csrf_token(session: str, approval_id: str) -> str:
    """Bound to the session and the request: HMAC keyed by a hash of the (HttpOnly) session id.

    A page on another site can neither read the session cookie nor compute this value, so a forged
    form post lacks it. No server-side secret is needed. The key is not the digest the sessions table stores (that
    is the plain SHA-256): whoever reads the table or a backup cannot compute a session's tokens from it.
    """
    key = hashlib.sha256(b"csrf:" + session.encode()).digest()
    return _b64(hmac.new(key, approval_id.encode(), hashlib.sha256).digest())


def csrf_valid(session: str, approval_id: str, submitted: str | None) -> bool:
    if not submitted:
        return False
    # Bytes, not str: compare_digest refuses non-ASCII strings, and a forged value may hold anything.
    return hmac.compare_digest(csrf_token(session, approval_id).encode(), str(submitted).encode("utf-8", "replace"))


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def same_origin(headers: Mapping[str, str], base_url: str) -> bool:
    """Whether the browser says the post came from our own pages (OWASP: Fetch Metadata, then Origin).

    Sec-Fetch-Site decides when present. Otherwise a real Origin must match; "null" tells nothing, and
    it is what browsers send with our Referrer-Policy: no-referrer. The CSRF token is checked either way.
    """
    site = headers.get("sec-fetch-site")
    if site:
        return site in ("same-origin", "none")
    origin = headers.get("origin")
    return origin in (None, "null") or origin == origin_of(base_url)


@dataclass(frozen=True)
class LoginAttempt:
    """One sign-in round trip: `state` ties the callback to this browser, the verifier is PKCE's secret."""

    state: str
    verifier: str
    next_path: str

    @property
    def challenge(self) -> str:
        return _b64(hashlib.sha256(self.verifier.encode()).digest())

    def cookie_value(self) -> str:
        return f"{self.state}.{self.verifier}.{_b64(self.next_path.encode())}"

    @classmethod
    def start(cls, next_path: str) -> LoginAttempt:
        return cls(secrets.token_urlsafe(24), secrets.token_urlsafe(48), safe_next_path(next_path))

    @classmethod
    def from_cookie(cls, value: str | None) -> LoginAttempt | None:
        try:
            state, verifier, encoded = (value or "").split(".")
            next_path = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except ValueError:
            return None
        return cls(state, verifier, safe_next_path(next_path))


@dataclass(frozen=True)
class Refill:
    """A decision the approver pressed before being sent to sign in again, to show on the review page."""

    approval_id: str
    decision: str
    comment: str


@dataclass(frozen=True)
class Session:
    """One signed-in browser, kept server-side under the digest of its id (never the id, never a token).

    `authenticated_at` is the ID token's auth_time, verified at sign-in: when the person last entered their
    credentials. `groups_checked_at` is when the approver's groups were last read (token or directory).
    """

    digest: str
    approver: Approver
    authenticated_at: datetime
    created_at: datetime
    last_seen_at: datetime
    groups_checked_at: datetime
    idle_expires_at: datetime
    expires_at: datetime
    refill: Refill | None = None

    @classmethod
    def start(
        cls,
        digest: str,
        approver: Approver,
        authenticated_at: datetime,
        now: datetime,
        idle: timedelta,
        most: timedelta,
    ) -> Session:
        return cls(digest, approver, authenticated_at, now, now, now, min(now + idle, now + most), now + most)

    def is_live(self, now: datetime) -> bool:
        return now < self.idle_expires_at and now < self.expires_at

    def seen(self, now: datetime, idle: timedelta) -> Session:
        return replace(self, last_seen_at=now, idle_expires_at=min(now + idle, self.expires_at))


@dataclass(frozen=True)
class PendingLogin:
    """A sign-in started again at signing (re-authentication), kept server-side under the digest of its state:
    whose session asked, when, and the decision to show again once the new sign-in proves fresh."""

    state_digest: str
    session_digest: str
    subject: str
    started_at: datetime
    expires_at: datetime
    refill: Refill


def safe_next_path(path: str | None) -> str:
    """Only one of our pages may follow a sign-in: no open redirect to another site."""
    return path if path and _NEXT_PATH.fullmatch(path) else "/"
