"""Limits AWS enforces from a service's own state, which moto skips: patched into moto's backends.

Each rule names its AWS source and can be switched off only where AWS lets an account switch it off.
"""

from __future__ import annotations

from email.utils import getaddresses, parseaddr
from typing import Any


class SesSandbox:
    """SES's sandbox: "You can only send mail to verified email addresses and domains" (SES Developer Guide,
    "Request production access (Moving out of the Amazon SES sandbox)"). Every new account starts in it,
    so it is on by default; `production_access` is what an approved production-access request gives.

    The refusal is SES's own: MessageRejected, "Email address is not verified. The following identities
    failed the check in region US-EAST-1: ...".
    """

    def __init__(self) -> None:
        self.production_access = False

    def install(self) -> None:
        from moto.ses.exceptions import MessageRejectedError
        from moto.ses.models import SESBackend

        sandbox = self
        original_send_email = SESBackend.send_email
        original_send_raw_email = SESBackend.send_raw_email

        def refuse_unverified(backend: Any, addresses: list[str]) -> None:
            if sandbox.production_access:
                return
            unverified = sorted({a for a in addresses if a and not backend._is_verified_address(a)})
            if unverified:
                raise MessageRejectedError(
                    "Email address is not verified. The following identities failed the check in region "
                    f"{backend.region_name.upper()}: {', '.join(unverified)}"
                )

        def send_email(backend: Any, source: str, destinations: dict[str, list[str]], *args: Any, **kwargs: Any) -> Any:
            recipients = [
                parseaddr(a)[1]
                for key in ("ToAddresses", "CcAddresses", "BccAddresses")
                for a in destinations.get(key, [])
            ]
            refuse_unverified(backend, recipients)
            return original_send_email(backend, source, destinations, *args, **kwargs)

        def send_raw_email(backend: Any, source: str, destinations: list[str], raw_data: str) -> Any:
            import email

            message = email.message_from_string(raw_data)
            headers = [message[h] for h in ("To", "Cc", "Bcc") if message[h]]
            recipients = [parseaddr(a)[1] for a in destinations] + [a for _, a in getaddresses(headers) if a]
            refuse_unverified(backend, recipients)
            return original_send_raw_email(backend, source, destinations, raw_data)

        SESBackend.send_email = send_email  # type: ignore[method-assign]
        SESBackend.send_raw_email = send_raw_email  # type: ignore[method-assign]


# InitiateAuth's AuthFlow -> the ExplicitAuthFlows entry that enables it (Cognito API Reference,
# CreateUserPoolClient.ExplicitAuthFlows). "If you don't specify a value for ExplicitAuthFlows, your user
# client supports ALLOW_REFRESH_TOKEN_AUTH, ALLOW_USER_SRP_AUTH, and ALLOW_CUSTOM_AUTH."
_FLOW_SETTINGS = {
    "USER_PASSWORD_AUTH": "ALLOW_USER_PASSWORD_AUTH",
    "ADMIN_USER_PASSWORD_AUTH": "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "ADMIN_NO_SRP_AUTH": "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "USER_SRP_AUTH": "ALLOW_USER_SRP_AUTH",
    "REFRESH_TOKEN_AUTH": "ALLOW_REFRESH_TOKEN_AUTH",
    "REFRESH_TOKEN": "ALLOW_REFRESH_TOKEN_AUTH",
    "CUSTOM_AUTH": "ALLOW_CUSTOM_AUTH",
    "USER_AUTH": "ALLOW_USER_AUTH",
}
_DEFAULT_FLOWS = ("ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_CUSTOM_AUTH")


# Operations a user authorizes with their own access token, which "must include the scope
# aws.cognito.signin.user.admin" (Cognito API Reference, e.g. UpdateUserAttributes, GetUser, DeleteUser).
_ADMIN_SCOPE = "aws.cognito.signin.user.admin"
_SELF_SERVICE = (
    "update_user_attributes",
    "delete_user_attributes",
    "get_user",
    "delete_user",
    "change_password",
    "verify_user_attribute",
    "get_user_attribute_verification_code",
)


class CognitoAppClients:
    """An app client's settings bind what its tokens may do, which moto ignores:
    - ExplicitAuthFlows: a direct sign-in (InitiateAuth, AdminInitiateAuth) with a flow the client does not
      enable is refused: InvalidParameterException "... flow not enabled for this client";
    - the access token's scope: a user's own operations (UpdateUserAttributes, GetUser, ...) need
      aws.cognito.signin.user.admin in it, or Cognito answers NotAuthorizedException "Access Token does not have
      required scopes". Direct sign-ins always grant it; the hosted UI only when the client allows it and the
      request asks for it (so the approval pages' tokens never carry it);
    - WriteAttributes: UpdateUserAttributes with an access token of a client whose WriteAttributes leave
      an attribute out is refused: NotAuthorizedException "A client attempted to write unauthorized attribute".
      Without WriteAttributes, or with an empty list (which Cognito takes for none given, terraform-provider-aws
      #28684), every attribute is writable; a pool's required attributes always are ("All app clients can write
      user pool required attributes", Developer Guide, "Working with user attributes");
    - AttributesRequireVerificationBeforeUpdate: a user's change of such an attribute (email) does not take
      effect until they confirm the code sent to the new address; the old, verified value stays;
    - ReadAttributes: an ID token carries only the attributes its client may read (moto adds every custom
      attribute regardless); without ReadAttributes, a client reads them all.

    The checks sit in moto's response layer, so they bind API callers. The hosted UI stand-in signs users
    in through the backend, as Cognito's own hosted UI is not bound by a client's ExplicitAuthFlows.
    """

    def install(self) -> None:
        from moto.cognitoidp.exceptions import InvalidParameterException, NotAuthorizedError
        from moto.cognitoidp.models import cognitoidp_backends
        from moto.cognitoidp.responses import CognitoIdpResponse

        def client_settings(client_id: str) -> dict[str, Any] | None:
            for account in cognitoidp_backends.values():
                for backend in account.values():
                    for pool in backend.user_pools.values():
                        if client_id in pool.clients:
                            return dict(pool.clients[client_id].extended_config)
            return None

        def require_flow(client_id: str, flow: str) -> None:
            settings = client_settings(client_id)
            if settings is None:
                return  # moto answers for an unknown client itself
            enabled = settings.get("ExplicitAuthFlows") or list(_DEFAULT_FLOWS)
            if _FLOW_SETTINGS.get(flow) not in enabled:
                raise InvalidParameterException(f"{flow} flow not enabled for this client")

        def token_owner(access_token: str) -> tuple[Any, str, str] | None:
            for account in cognitoidp_backends.values():
                for backend in account.values():
                    for pool in backend.user_pools.values():
                        if access_token in pool.access_tokens:
                            client_id, username = pool.access_tokens[access_token]
                            return pool, client_id, username
            return None

        def require_scope(access_token: str) -> None:
            if token_owner(access_token) is None:
                return  # moto refuses an unknown token itself
            if _ADMIN_SCOPE not in str(_claims_of(access_token).get("scope", "")).split():
                raise NotAuthorizedError("Access Token does not have required scopes")

        def write_allowed(access_token: str, attributes: list[dict[str, str]]) -> None:
            owner = token_owner(access_token)
            if owner is None:
                return
            pool, client_id, _ = owner
            writable = pool.clients[client_id].extended_config.get("WriteAttributes") or None
            if writable is None:
                return
            required = {name for name, attribute in pool.schema_attributes.items() if attribute.required}
            if any(a["Name"] not in writable and a["Name"] not in required for a in attributes):
                raise NotAuthorizedError("A client attempted to write unauthorized attribute")

        def held_for_verification(access_token: str, attributes: list[dict[str, str]]) -> list[dict[str, str]]:
            owner = token_owner(access_token)
            if owner is None:
                return attributes
            pool, _, username = owner
            settings = pool.extended_config.get("UserAttributeUpdateSettings") or {}
            held = set(settings.get("AttributesRequireVerificationBeforeUpdate") or [])
            current = {a["Name"]: a["Value"] for a in pool._get_user(username).attributes}
            return [a for a in attributes if a["Name"] not in held or current.get(a["Name"]) == a["Value"]]

        original_initiate = CognitoIdpResponse.initiate_auth
        original_admin_initiate = CognitoIdpResponse.admin_initiate_auth
        original_update = CognitoIdpResponse.update_user_attributes

        def initiate_auth(self: Any) -> Any:
            require_flow(self._get_param("ClientId"), self._get_param("AuthFlow"))
            return original_initiate(self)

        def admin_initiate_auth(self: Any) -> Any:
            require_flow(self._get_param("ClientId"), self._get_param("AuthFlow"))
            return original_admin_initiate(self)

        def update_user_attributes(self: Any) -> Any:
            token = self._get_param("AccessToken")
            attributes = self._get_param("UserAttributes") or []
            require_scope(token)
            write_allowed(token, attributes)
            kept = held_for_verification(token, attributes)
            if kept == attributes:
                return original_update(self)
            from moto.core.responses import EmptyResult

            self._get_region_agnostic_backend().update_user_attributes(token, kept)
            return EmptyResult()

        def scoped(original: Any) -> Any:
            def call(self: Any) -> Any:
                require_scope(self._get_param("AccessToken"))
                return original(self)

            return call

        for name in _SELF_SERVICE:
            if name != "update_user_attributes" and hasattr(CognitoIdpResponse, name):
                setattr(CognitoIdpResponse, name, scoped(getattr(CognitoIdpResponse, name)))

        from moto.cognitoidp.models import CognitoIdpUserPool

        def create_id_token(pool: Any, client_id: str, username: str, origin_jti: str) -> tuple[str, int]:
            client = pool.clients.get(client_id)
            readable = client.extended_config.get("ReadAttributes") if client is not None else None
            user = pool._get_user(username)
            claims: dict[str, Any] = {
                a["Name"]: a["Value"] for a in user.attributes if readable is None or a["Name"] in readable
            }
            claims["origin_jti"] = origin_jti
            if user.groups:
                claims["cognito:groups"] = [group.group_name for group in user.groups]
            id_token, expires_in = pool.create_jwt(client_id, username, "id", extra_data=claims)
            pool.id_tokens[id_token] = (client_id, username)
            return id_token, expires_in

        CognitoIdpUserPool.create_id_token = create_id_token  # type: ignore[method-assign]
        CognitoIdpResponse.initiate_auth = initiate_auth  # type: ignore[method-assign]
        CognitoIdpResponse.admin_initiate_auth = admin_initiate_auth  # type: ignore[method-assign]
        CognitoIdpResponse.update_user_attributes = update_user_attributes  # type: ignore[method-assign]


def _claims_of(token: str) -> dict[str, Any]:
    """A JWT's payload, unverified: moto issued it (its own token tables say so before this is read)."""
    import base64
    import json

    try:
        payload = token.split(".")[1]
        return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))
    except (IndexError, ValueError, TypeError):
        return {}
