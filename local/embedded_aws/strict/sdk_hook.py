"""Every AWS call made inside the embedded AWS is checked as AWS would check it, before it reaches moto.

Installed in each process that makes calls on behalf of an AWS principal: every Lambda execution
environment (lambda_worker.py, as the function's role) and the stack's own process (the state machine
interpreter's calls, as the state machine's role). A call is refused, with the error AWS answers, when:
- it breaks its operation's input shape in botocore's service model (lengths, patterns, ranges, sizes,
  enums): ValidationException, as the service answers; botocore itself checks only minimums;
- it breaks a service limit the model does not state (request_limits.py);
- the caller's role does not allow it (iam.py): AccessDenied, with the resource ARN the action is
  authorized on and the condition keys its request carries. The resource's own policy takes part as AWS
  has it: a Lambda function's permissions, a queue's policy, a DynamoDB table's resource policy (for its
  indexes too), all from iam.json; and a KMS key's policy, which KMS requires to allow every use of the key
  (KMS Developer Guide, "Key policies"). The key policy is read from the embedded KMS itself (GetKeyPolicy,
  as an administrator) at each call, since keys are created after iam.json is written and their policy may
  change (PutKeyPolicy).

The hook wraps botocore's Session.create_client, so clients of every session (boto3's default one,
Powertools' own) carry it. A refusal is returned from botocore's before-call event as an HTTP error
response, so the caller sees exactly what a refusing service produces: the modeled exception class,
`e.response["Error"]["Code"]`, and no retry of a 4xx.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger("embedded_aws.strict")

# What moto's state machine interpreter signs its calls with (moto/stepfunctions/parser/asl/utils/boto_client.py).
INTERPRETER_ACCESS_KEY = "ak"
# The access key id that means "the operator or the embedded AWS itself": not IAM-checked, still validated.
ADMINISTRATOR_ACCESS_KEY = "embedded"
ACCOUNT_ID = "123456789012"
_QUERY_PROTOCOL_CODES = {"ValidationException": "ValidationError"}


def credentials_for(role_arn: str) -> tuple[str, str, str]:
    """Temporary credentials for a role, as STS would issue them: an ASIA key id, a secret, a session token."""
    digest = hashlib.sha256(role_arn.encode()).hexdigest().upper()
    return f"ASIA{digest[:16]}", digest[16:56], f"embedded-session-{digest[:32]}"


def client_as(role_arn: str, service: str, *, region: str, endpoint_url: str, config: Any = None) -> Any:
    """A boto3 client signing with the role's credentials: the embedded AWS checks its calls as that role."""
    import boto3

    key, secret, token = credentials_for(role_arn)
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=config,
    )


class _Directory:
    """Who signs with which key, and what each role's policies allow."""

    def __init__(self) -> None:
        self.default_principal: str | None = None
        self.by_key: dict[str, str] = {}
        self.policies: dict[str, list[dict[str, Any]]] = {}
        self.resource_policies: dict[str, dict[str, Any]] = {}
        self.region = os.environ.get("AWS_REGION", "us-east-1")

    def load(self, iam_path: Path) -> None:
        document = json.loads(iam_path.read_text(encoding="utf-8"))
        self.policies = {arn: list(p["policies"]) for arn, p in document.get("principals", {}).items()}
        self.resource_policies = dict(document.get("resourcePolicies", {}))
        for arn in self.policies:
            self.by_key[credentials_for(arn)[0]] = arn

    def principal(self, request_signer: Any) -> str | None:
        credentials = getattr(request_signer, "_credentials", None)
        key = getattr(credentials, "access_key", None) if credentials is not None else None
        if key in self.by_key:
            return self.by_key[key]
        if key == ADMINISTRATOR_ACCESS_KEY:
            return None
        return self.default_principal


_directory = _Directory()
_installed = threading.Lock()
_is_installed = False


def install(
    principal_arn: str | None = None,
    iam_path: Path | str | None = None,
    interpreter_role_arn: str | None = None,
) -> None:
    """Checks every client created from now on in this process.

    principal_arn: who this process's calls are made as (a function's role), unless a client signs with
    another known key. interpreter_role_arn: the role moto's ASL interpreter calls as.
    """
    global _is_installed
    path = iam_path or os.environ.get("EMBEDDED_AWS_IAM")
    if path:
        _directory.load(Path(path))
    _directory.default_principal = principal_arn or None
    if interpreter_role_arn:
        _directory.by_key[INTERPRETER_ACCESS_KEY] = interpreter_role_arn
    with _installed:
        if _is_installed:
            return
        _is_installed = True
    import botocore.session

    original = botocore.session.Session.create_client

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        client.meta.events.register_first("before-parameter-build", _remember_parameters)
        client.meta.events.register_first("before-call", _check_call)
        return client

    botocore.session.Session.create_client = create_client  # type: ignore[method-assign]


def _remember_parameters(params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
    # before-call sees only the serialized request; the checks need the parameters as the caller gave them.
    context["embedded_aws_api_params"] = dict(params)


def _check_call(
    model: Any, request_signer: Any, context: Mapping[str, Any], params: Mapping[str, Any] | None = None, **_: Any
) -> Any:
    endpoint = str((params or {}).get("url") or "")
    params = context.get("embedded_aws_api_params", {})
    service = model.service_model.service_name
    refusal = _validation_refusal(model, params) or _authorization_refusal(
        service, model, params, request_signer, endpoint
    )
    if refusal is None:
        return None
    status, error = refusal
    # The caller gets the error as AWS would answer it; the line says which rule refused, for whoever debugs.
    log.warning("embedded AWS refused %s %s: %s", service, model.name, error["Message"])
    return _error_response(status, error)


def _validation_refusal(model: Any, params: Mapping[str, Any]) -> tuple[int, dict[str, str]] | None:
    from .request_limits import limit_violations
    from .request_rules import validation_message, violations

    found = violations(model, params) + limit_violations(model, params)
    if not found:
        return None
    code = "ValidationException"
    if model.service_model.protocol == "query":
        code = _QUERY_PROTOCOL_CODES.get(code, code)
    return 400, {"Code": code, "Message": validation_message(found)}


def _authorization_refusal(
    service: str, model: Any, params: Mapping[str, Any], request_signer: Any, endpoint: str = ""
) -> tuple[int, dict[str, str]] | None:
    principal = _directory.principal(request_signer)
    if principal is None:
        return None
    from .iam import Principal, UnknownOperation, access_denied_error, evaluate, evaluate_key_access, requests_for

    try:
        requests = requests_for(service, model.name, params, region=_directory.region, account=ACCOUNT_ID)
    except UnknownOperation as exc:
        # Loud on purpose: a call whose authorization the embedded AWS cannot derive must not pass unchecked.
        log.error("%s", exc)
        return 400, {"Code": "EmbeddedAwsUnknownOperation", "Message": str(exc)}
    policies = _directory.policies.get(principal, [])
    caller = Principal(arn=_session_arn(principal))
    for request in requests:
        key_policy = _key_policy(request.resource, endpoint) if request.action.startswith("kms:") else None
        if key_policy is not None:
            decision = evaluate_key_access(policies, request, key_policy, principal=caller)
        else:
            decision = evaluate(policies, request, resource_policy=_resource_policy_for(request), principal=caller)
        if not decision.allowed:
            error = access_denied_error(service, model.name, _session_arn(principal), request, decision)
            return int(error["ResponseMetadata"]["HTTPStatusCode"]), dict(error["Error"])
    return None


def _resource_policy_for(request: Any) -> Mapping[str, Any] | None:
    resources = getattr(request, "resources", None) or [getattr(request, "resource", "")]
    for resource in resources:
        if resource in _directory.resource_policies:
            return _directory.resource_policies[resource]
    return None


_admin_clients: dict[str, Any] = {}
_admin_clients_lock = threading.Lock()


def _key_policy(key_arn: str, endpoint: str) -> dict[str, Any] | None:
    """The key's policy as the embedded KMS holds it, or None when there is no such key (KMS then answers
    NotFoundException itself)."""
    from urllib.parse import urlsplit

    parts = urlsplit(endpoint)
    if not parts.scheme or not parts.netloc:
        return None
    base = f"{parts.scheme}://{parts.netloc}"
    with _admin_clients_lock:
        kms = _admin_clients.get(base)
        if kms is None:
            import boto3
            from botocore.config import Config

            kms = _admin_clients[base] = boto3.client(
                "kms",
                region_name=_directory.region,
                endpoint_url=base,
                aws_access_key_id=ADMINISTRATOR_ACCESS_KEY,
                aws_secret_access_key=ADMINISTRATOR_ACCESS_KEY,
                config=Config(retries={"mode": "standard", "total_max_attempts": 3}),
            )
    try:
        document = kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"]
    except kms.exceptions.NotFoundException:
        return None
    return json.loads(document)


def _session_arn(role_arn: str) -> str:
    """The assumed-role ARN a function's calls are made as: arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION."""
    role_name = role_arn.rsplit("/", 1)[-1]
    session = os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or "embedded"
    return f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role_name}/{session}"


def _error_response(status: int, error: Mapping[str, str]) -> tuple[Any, dict[str, Any]]:
    from botocore.awsrequest import AWSResponse

    request_id = str(uuid.uuid4())
    http = AWSResponse("https://embedded-aws.invalid/", status, {"x-amzn-RequestId": request_id}, None)
    parsed = {
        "Error": dict(error),
        "ResponseMetadata": {"RequestId": request_id, "HTTPStatusCode": status, "HTTPHeaders": {}, "RetryAttempts": 0},
    }
    return http, parsed
