"""Amazon Cognito behind the SignIn port: the hosted UI's authorization-code flow and ID token checks.

The JWKS is read from the Cognito endpoint botocore resolves for this region, so the same code reads
AWS's keys in AWS and the embedded AWS's keys on a laptop (AWS_ENDPOINT_URL).

Only the ID token is used, once, to open a server-side session; the pages keep no token. The refresh token the
token endpoint hands out is revoked at once (/oauth2/revoke): nothing could end it later, since nobody holds it.
Scopes are openid, email and profile: never aws.cognito.signin.user.admin, which would let the access token
call UpdateUserAttributes and change the person's own name or email.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from contextlib import suppress
from functools import cached_property
from typing import Any

from ..config import SignInConfig
from ..domain.errors import ConfigurationError, TransientAwsError
from ..domain.identity import NotSignedIn
from ..ports import SignIn
from .aws import DEFAULT_CLIENTS, AwsAdapter, AwsClients, error_code, is_transient, transient

# Clock skew tolerated between Cognito and this function when checking exp and iat.
LEEWAY_SECONDS = 30
SCOPES = "openid email profile"
HTTP_TIMEOUT_SECONDS = 10


class CognitoSignIn(AwsAdapter, SignIn):
    def __init__(self, config: SignInConfig, clients: AwsClients | None = None):
        super().__init__(clients)
        self.user_pool_id = config.user_pool_id
        self.client_id = config.client_id
        self.issuer = config.issuer
        self.hosted_ui_url = config.sign_in_url

    @classmethod
    def from_parameter(cls, name: str, clients: AwsClients | None = None) -> CognitoSignIn:
        """Reads the sign-in wiring the template stored in SSM (see SignInConfig)."""
        from botocore.exceptions import BotoCoreError, ClientError

        clients = clients or DEFAULT_CLIENTS
        try:
            text = clients.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                raise transient("GetParameter", exc) from exc
            raise ConfigurationError(f"sign-in parameter {name} cannot be read: {error_code(exc)}") from exc
        return cls(SignInConfig.from_json(name, text), clients)

    @property
    def origin(self) -> str:
        parts = urllib.parse.urlsplit(self.hosted_ui_url)
        return f"{parts.scheme}://{parts.netloc}"

    def authorize_url(self, state: str, code_challenge: str, redirect_uri: str, *, fresh: bool = False) -> str:
        """`fresh` adds prompt=login, which managed login honours ("re-authenticate even with a session");
        freshness is still proved only by the new token's auth_time, never by having asked."""
        parameters = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": SCOPES,
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        if fresh:
            parameters["prompt"] = "login"
        return f"{self.hosted_ui_url}/oauth2/authorize?{urllib.parse.urlencode(parameters)}"

    def logout_url(self, logout_uri: str) -> str:
        """The hosted UI's /logout ends its own sign-in session and returns to one of the client's LogoutURLs."""
        query = urllib.parse.urlencode({"client_id": self.client_id, "logout_uri": logout_uri})
        return f"{self.hosted_ui_url}/logout?{query}"

    def exchange_code(self, code: str, code_verifier: str, redirect_uri: str) -> str:
        form = urllib.parse.urlencode(
            {
                "grant_type": "authorization_code",
                "client_id": self.client_id,
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            }
        ).encode()
        try:
            tokens = json.loads(self._post("/oauth2/token", form))
        except urllib.error.HTTPError as exc:
            if exc.code >= 500:
                raise TransientAwsError(f"the sign-in service answered {exc.code}; try again") from exc
            raise NotSignedIn("The sign-in could not be completed. Please sign in again.") from exc
        except (urllib.error.URLError, TimeoutError) as exc:
            raise TransientAwsError("the sign-in service could not be reached; try again") from exc
        except ValueError as exc:
            raise TransientAwsError("the sign-in service answered something that is not JSON; try again") from exc
        refresh = tokens.get("refresh_token") if isinstance(tokens, dict) else None
        if isinstance(refresh, str) and refresh:
            self._revoke(refresh)
        token = tokens.get("id_token") if isinstance(tokens, dict) else None
        if not isinstance(token, str):
            raise NotSignedIn("The sign-in returned no identity. Please sign in again.")
        return token

    def _post(self, path: str, form: bytes) -> bytes:
        request = urllib.request.Request(
            f"{self.hosted_ui_url}{path}",
            data=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as answer:
            return bytes(answer.read())

    def _revoke(self, refresh_token: str) -> None:
        """Revokes the refresh token (and the access tokens issued with it) at /oauth2/revoke. Best effort: the
        token never leaves this function, so a failed revocation leaves a credential nobody holds, which
        expires with the client's RefreshTokenValidity (template.yaml: one hour)."""
        form = urllib.parse.urlencode({"token": refresh_token, "client_id": self.client_id}).encode()
        with suppress(urllib.error.URLError, TimeoutError, OSError):
            self._post("/oauth2/revoke", form)

    @cached_property
    def _keys(self) -> Any:
        import jwt

        endpoint = self.client("cognito-idp").meta.endpoint_url.rstrip("/")
        # Keys are cached for the life of this execution environment; an unknown kid refetches them.
        return jwt.PyJWKClient(f"{endpoint}/{self.user_pool_id}/.well-known/jwks.json", cache_keys=True, timeout=10)

    def verify(self, id_token: str) -> Mapping[str, Any]:
        import jwt

        try:
            key = self._keys.get_signing_key_from_jwt(id_token)
            claims = jwt.decode(
                id_token,
                key.key,
                algorithms=["RS256"],
                audience=self.client_id,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "token_use", "auth_time"]},
            )
        except jwt.PyJWKClientConnectionError as exc:
            raise TransientAwsError("the sign-in keys could not be fetched; try again") from exc
        except jwt.PyJWTError as exc:
            raise NotSignedIn("Your sign-in is not valid or has expired. Please sign in again.") from exc
        if claims.get("token_use") != "id":
            raise NotSignedIn("Sign in with the approval pages' own sign-in link.")
        auth_time = claims.get("auth_time")
        if (
            not isinstance(auth_time, int)
            or isinstance(auth_time, bool)
            or auth_time > int(claims["iat"]) + LEEWAY_SECONDS
        ):
            raise NotSignedIn("Your sign-in does not say when you signed in. Please sign in again.")
        return claims
