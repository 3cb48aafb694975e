"""A stand-in for the Cognito hosted UI, which moto does not serve: authorize, log in, token.

It runs the OAuth 2.0 authorization-code flow with PKCE against moto's user pool: the login form
checks the password with AdminInitiateAuth, and the token endpoint hands out the ID token moto signed,
so the approval pages verify real RS256 JWTs against the pool's JWKS exactly as in AWS. It checks what
the hosted UI checks: a known client, a registered callback URL, a single-use code, the PKCE verifier.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from .template import ACCOUNT_ID

CODE_SECONDS = 300


@dataclass(frozen=True)
class IssuedCode:
    client_id: str
    redirect_uri: str
    challenge: str
    tokens: dict[str, Any]
    expires: float


class HostedUi:
    def __init__(self, cognito: Any, user_pool_id: str):
        self.cognito = cognito
        self.user_pool_id = user_pool_id
        self._codes: dict[str, IssuedCode] = {}
        self._lock = threading.Lock()

    def routes(self) -> dict[tuple[str, str], Any]:
        return {
            ("GET", "/oauth2/authorize"): self.authorize,
            ("POST", "/login"): self.login,
            ("POST", "/oauth2/token"): self.token,
        }

    def _client_error(self, client_id: str, redirect_uri: str) -> str | None:
        try:
            client = self.cognito.describe_user_pool_client(UserPoolId=self.user_pool_id, ClientId=client_id)
        except self.cognito.exceptions.ResourceNotFoundException:
            return "unknown client_id"
        if redirect_uri not in client["UserPoolClient"].get("CallbackURLs", []):
            return "redirect_uri is not a callback URL of this client"
        return None

    def authorize(self, request: Request) -> Response:
        args = request.args
        problem = self._client_error(args.get("client_id", ""), args.get("redirect_uri", ""))
        if problem or args.get("response_type") != "code" or args.get("code_challenge_method") != "S256":
            return _error_page(problem or "only response_type=code with PKCE (S256) is supported")
        return self._form(args.to_dict())

    def _form(self, fields: dict[str, str], error: str = "") -> Response:
        hidden = "".join(
            f"<input type='hidden' name='{escape(k)}' value='{escape(v)}'>"
            for k, v in fields.items()
            if k in ("client_id", "redirect_uri", "state", "code_challenge", "scope")
        )
        message = f"<p class='error' role='alert'>{escape(error)}</p>" if error else ""
        body = (
            "<h1>Sign in</h1><p class='small'>Embedded AWS stand-in for the Cognito hosted UI.</p>"
            f"{message}<form method='post' action='/login'>{hidden}"
            "<label for='username'>Email</label><input id='username' name='username' type='email' required>"
            "<label for='password'>Password</label><input id='password' name='password' type='password' required>"
            "<button type='submit'>Sign in</button></form>"
        )
        return _page("Sign in", body, 401 if error else 200)

    def login(self, request: Request) -> Response:
        fields = request.form.to_dict()
        problem = self._client_error(fields.get("client_id", ""), fields.get("redirect_uri", ""))
        if problem:
            return _error_page(problem)
        # Cognito's hosted UI is not bound by the client's ExplicitAuthFlows (the client may allow no direct
        # sign-in at all), so the stand-in checks the password with moto's backend, not through the API.
        from moto.cognitoidp.exceptions import NotAuthorizedError, UserNotFoundError
        from moto.cognitoidp.models import cognitoidp_backends

        backend = cognitoidp_backends[ACCOUNT_ID][self.cognito.meta.region_name]
        try:
            answer = backend.admin_initiate_auth(
                self.user_pool_id,
                fields["client_id"],
                "ADMIN_USER_PASSWORD_AUTH",
                {"USERNAME": fields.get("username", ""), "PASSWORD": fields.get("password", "")},
            )
        except (NotAuthorizedError, UserNotFoundError):
            return self._form(fields, "Incorrect username or password.")
        result = answer["AuthenticationResult"]
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = IssuedCode(
                client_id=fields["client_id"],
                redirect_uri=fields["redirect_uri"],
                challenge=fields.get("code_challenge", ""),
                tokens={
                    "id_token": result["IdToken"],
                    "access_token": result["AccessToken"],
                    "refresh_token": result.get("RefreshToken", ""),
                    "token_type": "Bearer",
                    "expires_in": result.get("ExpiresIn", 3600),
                },
                expires=time.time() + CODE_SECONDS,
            )
        query = urlencode({"code": code, "state": fields.get("state", "")})
        return Response(status=302, headers={"Location": f"{fields['redirect_uri']}?{query}"})

    def token(self, request: Request) -> Response:
        form = request.form
        with self._lock:
            issued = self._codes.pop(form.get("code", ""), None)  # single use, whatever happens next
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if (
            form.get("grant_type") != "authorization_code"
            or issued is None
            or issued.expires < time.time()
            or issued.client_id != form.get("client_id")
            or issued.redirect_uri != form.get("redirect_uri")
            or not secrets.compare_digest(issued.challenge, challenge)
        ):
            return Response(json.dumps({"error": "invalid_grant"}), 400, content_type="application/json")
        return Response(json.dumps(issued.tokens), content_type="application/json")


def _error_page(problem: str) -> Response:
    return _page("Sign-in error", f"<h1>Sign-in error</h1><p>{escape(problem)}</p>", 400)


def _page(title: str, body: str, status: int = 200) -> Response:
    html = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'><style>"
        "body{font-family:system-ui,sans-serif;max-width:24rem;margin:2rem auto;padding:1rem}"
        "label,input,button{display:block;width:100%;box-sizing:border-box;font:inherit;margin:.3rem 0}"
        "input{padding:.5rem}button{margin-top:1rem;padding:.6rem;background:#1d5fbf;color:#fff;border:0;"
        "border-radius:.4rem}.error{color:#b3261e;font-weight:600}.small{font-size:.85rem;color:#555}"
        f"</style></head><body>{body}</body></html>"
    )
    return Response(html, status=status, content_type="text/html; charset=utf-8")
