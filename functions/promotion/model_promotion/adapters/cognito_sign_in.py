"""Amazon Cognito behind the SignIn port: the hosted UI's authorization-code flow and ID token checks.

The JWKS is read from the Cognito endpoint botocore resolves for this region, so the same code reads
AWS's keys in AWS and the embedded AWS's keys on a laptop (AWS_ENDPOINT_URL).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from ..config import SignInConfig
from ..domain.errors import ConfigurationError, TransientAwsError
from ..domain.identity import NotSignedIn
from ..ports import SignIn
from .aws import client, error_code, is_transient, transient

# Clock skew tolerated between Cognito and this function when checking exp and iat.
LEEWAY_SECONDS = 30


class CognitoSignIn(SignIn):
    def __init__(self, config: SignInConfig):
        self.user_pool_id = config.user_pool_id
        self.client_id = config.client_id
        self.issuer = config.issuer
        self.hosted_ui_url = config.sign_in_url

    @classmethod
    def from_parameter(cls, name: str) -> CognitoSignIn:
        """Reads the sign-in wiring the template stored in SSM (see SignInConfig)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            text = client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                raise transient("GetParameter", exc) from exc
            raise ConfigurationError(f"sign-in parameter {name} cannot be read: {error_code(exc)}") from exc
        return cls(SignInConfig.from_json(name, text))

    def authorize_url(self, state: str, code_challenge: str, redirect_uri: str) -> str:
        query = urllib.parse.urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "scope": "openid email profile",
                "state": state,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{self.hosted_ui_url}/oauth2/authorize?{query}"

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
        request = urllib.request.Request(
            f"{self.hosted_ui_url}/oauth2/token",
            data=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                tokens = json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            if exc.code >= 500:
                raise TransientAwsError(f"the sign-in service answered {exc.code}; try again") from exc
            raise NotSignedIn("The sign-in could not be completed. Please sign in again.") from exc
        except (urllib.error.URLError, TimeoutError) as exc:
            raise TransientAwsError("the sign-in service could not be reached; try again") from exc
        token = tokens.get("id_token")
        if not isinstance(token, str):
            raise NotSignedIn("The sign-in returned no identity. Please sign in again.")
        return token

    @cached_property
    def _keys(self) -> Any:
        import jwt

        endpoint = client("cognito-idp").meta.endpoint_url.rstrip("/")
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
                options={"require": ["exp", "iat", "iss", "aud", "sub", "token_use"]},
            )
        except jwt.PyJWKClientConnectionError as exc:
            raise TransientAwsError("the sign-in keys could not be fetched; try again") from exc
        except jwt.PyJWTError as exc:
            raise NotSignedIn("Your sign-in is not valid or has expired. Please sign in again.") from exc
        if claims.get("token_use") != "id":
            raise NotSignedIn("Sign in with the approval pages' own sign-in link.")
        return claims
