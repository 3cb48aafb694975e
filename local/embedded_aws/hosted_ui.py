"""A stand-in for the Cognito hosted UI (managed login), which moto does not serve: authorize, log in, token,
revoke, log out.

It runs the OAuth 2.0 authorization-code flow with PKCE against moto's user pool, and checks what the hosted UI
checks: a known client, a registered callback (or sign-out) URL, a single-use code, the PKCE verifier. Like
Cognito's own, it keeps a sign-in session of its own (the `cognito` cookie, an hour): a second /oauth2/authorize
signs the person in without the form, with the auth_time of the sign-in that entered the password, unless the
request says prompt=login. /logout ends that session.

Tokens are made the way moto's pool makes them (CognitoIdpUserPool.create_jwt, RS256 with the pool's key, served
at its JWKS), so the approval pages verify real JWTs exactly as in AWS. Before an ID token is signed, the pool's
pre token generation trigger (LambdaConfig, V1_0) runs, through the embedded Lambda runtime, as Cognito invokes it,
and its overrides are applied: moto runs no Cognito trigger itself. The access token carries the OAuth scopes the
client allows and the request asked for, never aws.cognito.signin.user.admin unless both do (moto's own access
tokens always carry it). Claims follow Cognito: auth_time is the time of the password sign-in, `email_verified`
a boolean, `identities` an array.

A user whose `identities` attribute is set (only Cognito writes it, at a federated sign-in) stands for a federated
user: the form stands in for the IdP's own sign-in page, with the same demo password.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from .template import ACCOUNT_ID

CODE_SECONDS = 300
# Cognito's hosted UI keeps its sign-in session cookie for an hour.
SESSION_SECONDS = 3600
SESSION_COOKIE = "cognito"
ADMIN_SCOPE = "aws.cognito.signin.user.admin"
# Claims a pre token generation trigger may not add, change or suppress (Cognito Developer Guide, "Pre token
# generation Lambda trigger").
FIXED_CLAIMS = frozenset(
    {
        "acr",
        "amr",
        "aud",
        "at_hash",
        "auth_time",
        "azp",
        "cognito:username",
        "exp",
        "iat",
        "identities",
        "iss",
        "jti",
        "nbf",
        "nonce",
        "origin_jti",
        "sub",
        "token_use",
    }
)
_BOOLEAN_CLAIMS = ("email_verified", "phone_number_verified")
_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}

# Invokes the function a trigger names, as Cognito does: (function ARN, user pool ARN, event) -> the answer.
TriggerInvoker = Callable[[str, str, dict[str, Any]], dict[str, Any]]


class TriggerFailed(RuntimeError):
    """The trigger failed, or answered what Cognito refuses: the sign-in fails, as Cognito fails it."""


@dataclass(frozen=True)
class IssuedCode:
    client_id: str
    redirect_uri: str
    challenge: str
    tokens: dict[str, Any]
    expires: float


@dataclass(frozen=True)
class SignInSession:
    """The hosted UI's own session: who entered their password, and when."""

    username: str
    auth_time: int
    expires: float


class HostedUi:
    def __init__(self, cognito: Any, user_pool_id: str, invoke_trigger: TriggerInvoker | None = None):
        self.cognito = cognito
        self.user_pool_id = user_pool_id
        self.invoke_trigger = invoke_trigger
        self._codes: dict[str, IssuedCode] = {}
        self._sessions: dict[str, SignInSession] = {}
        # Refresh token -> the access token issued with it: revoking the one revokes the other (RevokeToken).
        self._issued_with: dict[str, str] = {}
        self._lock = threading.Lock()

    def routes(self) -> dict[tuple[str, str], Any]:
        return {
            ("GET", "/oauth2/authorize"): self.authorize,
            ("POST", "/login"): self.login,
            ("POST", "/oauth2/token"): self.token,
            ("POST", "/oauth2/revoke"): self.revoke,
            ("GET", "/logout"): self.logout,
        }

    # -- moto's pool -------------------------------------------------------------------------------------
    @property
    def _backend(self) -> Any:
        from moto.cognitoidp.models import cognitoidp_backends

        return cognitoidp_backends[ACCOUNT_ID][self.cognito.meta.region_name]

    @property
    def _pool(self) -> Any:
        return self._backend.user_pools[self.user_pool_id]

    def _client(self, client_id: str) -> dict[str, Any] | None:
        try:
            return dict(
                self.cognito.describe_user_pool_client(UserPoolId=self.user_pool_id, ClientId=client_id)[
                    "UserPoolClient"
                ]
            )
        except self.cognito.exceptions.ResourceNotFoundException:
            return None

    def _client_error(self, client_id: str, redirect_uri: str) -> str | None:
        client = self._client(client_id)
        if client is None:
            return "unknown client_id"
        if redirect_uri not in client.get("CallbackURLs", []):
            return "redirect_uri is not a callback URL of this client"
        return None

    # -- /oauth2/authorize and the sign-in form ---------------------------------------------------------
    def authorize(self, request: Request) -> Response:
        args = request.args
        problem = self._client_error(args.get("client_id", ""), args.get("redirect_uri", ""))
        if problem or args.get("response_type") != "code" or args.get("code_challenge_method") != "S256":
            return _error_page(problem or "only response_type=code with PKCE (S256) is supported")
        prompt = set(args.get("prompt", "").split())
        if prompt - {"login", "none"}:
            return _error_page("prompt supports login and none here")
        session = self._session_of(request)
        if session is not None and "login" not in prompt:
            # Single sign-on: no password, and the auth_time of the sign-in that did enter it.
            return self._grant(args.to_dict(), session.username, session.auth_time)
        if "none" in prompt:
            return _redirect(args["redirect_uri"], {"error": "login_required", "state": args.get("state", "")})
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
        username = self._password_checked(fields["client_id"], fields.get("username", ""), fields.get("password", ""))
        if username is None:
            return self._form(fields, "Incorrect username or password.")
        now = int(time.time())
        session_id = secrets.token_urlsafe(24)
        with self._lock:
            self._sessions[session_id] = SignInSession(username, now, time.time() + SESSION_SECONDS)
        response = self._grant(fields, username, now)
        response.headers.add(
            "Set-Cookie",
            f"{SESSION_COOKIE}={session_id}; Max-Age={SESSION_SECONDS}; Path=/; Secure; HttpOnly; SameSite=Lax",
        )
        return response

    def _password_checked(self, client_id: str, email: str, password: str) -> str | None:
        """The pool user's name when the password is right. Cognito's hosted UI is not bound by the client's
        ExplicitAuthFlows (the client may allow no direct sign-in at all), so the check runs on moto's backend,
        not through the API. A federated user's password stands for the IdP's."""
        from moto.cognitoidp.exceptions import NotAuthorizedError, UserNotFoundError

        pool = self._pool
        try:
            user = pool._get_user(email)
        except UserNotFoundError:
            return None
        if user is None:
            return None
        if _attributes(user).get("identities"):
            from .demo_users import DEMO_PASSWORD

            return user.username if secrets.compare_digest(password, DEMO_PASSWORD) else None
        try:
            self._backend.admin_initiate_auth(
                self.user_pool_id,
                client_id,
                "ADMIN_USER_PASSWORD_AUTH",
                {"USERNAME": email, "PASSWORD": password},
            )
        except (NotAuthorizedError, UserNotFoundError):
            return None
        return str(user.username)

    def _session_of(self, request: Request) -> SignInSession | None:
        with self._lock:
            session = self._sessions.get(request.cookies.get(SESSION_COOKIE, ""))
        return session if session is not None and session.expires > time.time() else None

    def _grant(self, fields: Mapping[str, str], username: str, auth_time: int) -> Response:
        try:
            tokens = self._tokens(fields["client_id"], username, auth_time, fields.get("scope", ""))
        except TriggerFailed as exc:
            return _redirect(
                fields["redirect_uri"],
                {"error": "server_error", "error_description": str(exc), "state": fields.get("state", "")},
            )
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = IssuedCode(
                client_id=fields["client_id"],
                redirect_uri=fields["redirect_uri"],
                challenge=fields.get("code_challenge", ""),
                tokens=tokens,
                expires=time.time() + CODE_SECONDS,
            )
        return _redirect(fields["redirect_uri"], {"code": code, "state": fields.get("state", "")})

    # -- tokens ------------------------------------------------------------------------------------------
    def _tokens(self, client_id: str, username: str, auth_time: int, requested: str) -> dict[str, Any]:
        pool = self._pool
        client = self._client(client_id) or {}
        refresh_token, origin_jti = pool.create_refresh_token(client_id, username)
        # The claims moto (with strict/service_limits.py's ReadAttributes rule) would put in an ID token, then
        # what Cognito adds and the trigger changes; signed once, by the pool, as moto signs.
        draft, _ = pool.create_id_token(client_id, username, origin_jti)
        pool.id_tokens.pop(draft, None)
        claims = {k: v for k, v in _unverified(draft).items() if k not in ("iat", "exp", "jti", "iss", "token_use")}
        for name in _BOOLEAN_CLAIMS:
            if isinstance(claims.get(name), str):
                claims[name] = claims[name].lower() == "true"
        user_attributes = _attributes(pool._get_user(username))
        if user_attributes.get("identities"):
            claims["identities"] = json.loads(user_attributes["identities"])
        claims["auth_time"] = auth_time
        claims = self._run_trigger(client_id, username, user_attributes, claims)
        id_token, expires_in = pool.create_jwt(
            client_id, username, "id", _validity(client, "IdToken", 3600), extra_data=claims
        )
        pool.id_tokens[id_token] = (client_id, username)
        allowed = client.get("AllowedOAuthScopes", [])
        scopes = [s for s in requested.split() if s in allowed] or list(allowed)
        access_claims: dict[str, Any] = {"origin_jti": origin_jti, "scope": " ".join(scopes), "auth_time": auth_time}
        if "cognito:groups" in claims:
            access_claims["cognito:groups"] = claims["cognito:groups"]
        access_token, _ = pool.create_jwt(
            client_id, username, "access", _validity(client, "AccessToken", 3600), extra_data=access_claims
        )
        pool.access_tokens[access_token] = (client_id, username)
        with self._lock:
            self._issued_with[refresh_token] = access_token
        return {
            "id_token": id_token,
            "access_token": access_token,
            "refresh_token": refresh_token,
            "token_type": "Bearer",
            "expires_in": expires_in,
        }

    def _run_trigger(
        self, client_id: str, username: str, attributes: dict[str, str], claims: dict[str, Any]
    ) -> dict[str, Any]:
        """Cognito's pre token generation trigger, V1_0 event and response (claimsOverrideDetails)."""
        config = self._pool.extended_config.get("LambdaConfig") or {}
        version = (config.get("PreTokenGenerationConfig") or {}).get("LambdaVersion", "V1_0")
        function = (config.get("PreTokenGenerationConfig") or {}).get("LambdaArn") or config.get("PreTokenGeneration")
        if not function:
            return claims
        if version != "V1_0":
            raise TriggerFailed(f"the embedded AWS delivers pre token generation events V1_0 only, not {version}")
        if self.invoke_trigger is None:
            raise TriggerFailed("the user pool names a pre token generation trigger, and nothing can invoke it")
        groups = list(claims.get("cognito:groups", []))
        user_status = "EXTERNAL_PROVIDER" if attributes.get("identities") else "CONFIRMED"
        event = {
            "version": "1",
            "triggerSource": "TokenGeneration_HostedAuth",
            "region": self.cognito.meta.region_name,
            "userPoolId": self.user_pool_id,
            "userName": username,
            "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": client_id},
            "request": {
                "userAttributes": {**attributes, "cognito:user_status": user_status},
                "groupConfiguration": {"groupsToOverride": groups, "iamRolesToOverride": [], "preferredRole": None},
            },
            "response": {"claimsOverrideDetails": None},
        }
        answer = self.invoke_trigger(function, self._pool.arn, event)
        details = (answer.get("response") or {}).get("claimsOverrideDetails") if isinstance(answer, dict) else None
        if details is None:
            return claims
        if not isinstance(details, dict):
            raise TriggerFailed("PreTokenGeneration answered claimsOverrideDetails that is not an object")
        changed = dict(claims)
        added = details.get("claimsToAddOrOverride") or {}
        suppressed = details.get("claimsToSuppress") or []
        fixed = sorted((set(added) | set(suppressed)) & FIXED_CLAIMS)
        if fixed:
            raise TriggerFailed(f"PreTokenGeneration may not change the claims {', '.join(fixed)}")
        changed.update(added)
        for name in suppressed:
            changed.pop(name, None)
        override = details.get("groupOverrideDetails")
        if isinstance(override, dict) and override.get("groupsToOverride") is not None:
            changed.pop("cognito:groups", None)
            if override["groupsToOverride"]:
                changed["cognito:groups"] = list(override["groupsToOverride"])
        return changed

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
            return _json({"error": "invalid_grant"}, 400)
        return _json(issued.tokens)

    def revoke(self, request: Request) -> Response:
        """/oauth2/revoke: the refresh token, and the access token issued with it, stop working."""
        form = request.form
        client = self._client(form.get("client_id", ""))
        if client is None:
            return _json({"error": "invalid_client"}, 400)
        if client.get("EnableTokenRevocation") is False:
            return _json({"error": "unsupported_token_type"}, 400)
        pool = self._pool
        token = form.get("token", "")
        owner = pool.refresh_tokens.get(token)
        if owner is not None and owner[0] != client["ClientId"]:
            return _json({"error": "invalid_request"}, 400)
        with self._lock:
            access = self._issued_with.pop(token, None)
        pool.refresh_tokens.pop(token, None)
        if access is not None:
            pool.access_tokens.pop(access, None)
        return Response(status=200)

    # -- /logout -----------------------------------------------------------------------------------------
    def logout(self, request: Request) -> Response:
        """Ends the hosted UI's own session and returns to one of the client's sign-out URLs."""
        client = self._client(request.args.get("client_id", ""))
        logout_uri = request.args.get("logout_uri", "")
        if client is None:
            return _error_page("unknown client_id")
        if logout_uri not in client.get("LogoutURLs", []):
            return _error_page("logout_uri is not a sign-out URL of this client")
        with self._lock:
            self._sessions.pop(request.cookies.get(SESSION_COOKIE, ""), None)
        response = Response(status=302, headers={"Location": logout_uri})
        response.headers.add("Set-Cookie", f"{SESSION_COOKIE}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax")
        return response


def _attributes(user: Any) -> dict[str, str]:
    return {a["Name"]: a["Value"] for a in user.attributes}


def _unverified(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def _validity(client: Mapping[str, Any], kind: str, default: int) -> int:
    value = client.get(f"{kind}Validity")
    if not value:
        return default
    unit = (client.get("TokenValidityUnits") or {}).get(kind, "hours" if kind != "RefreshToken" else "days")
    return int(value) * _UNIT_SECONDS.get(unit, 3600)


def _redirect(uri: str, query: Mapping[str, str]) -> Response:
    return Response(status=302, headers={"Location": f"{uri}?{urlencode(query)}"})


def _json(body: Mapping[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body), status, content_type="application/json")


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
