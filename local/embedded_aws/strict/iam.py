"""IAM for the embedded AWS: every call a role makes is authorized against that role's policies, as AWS would.

moto does not enforce IAM, so a policy that names the wrong resource, misses an action or puts a condition on
the wrong key passes every local test and fails on the first deployment. This module is the pure engine behind
the embedded AWS's check (strict/sdk_hook.py wires it into botocore): no moto, no network, no clock.

Three parts:

1. `evaluate(policies, request, resource_policy)`: the policy evaluation logic of the IAM User Guide
   ("Policy evaluation logic", "Policy evaluation for requests within a single account", "Condition
   operators", "Conditions with multiple context keys or values"): an explicit Deny in any policy wins; else an
   Allow in an identity-based policy, or in the resource's own policy (same account), allows; else the request is
   implicitly denied. Action, NotAction, Resource, NotResource, Principal, NotPrincipal and Condition are
   supported; policy variables are not (a `${...}` in a pattern is matched literally). Condition operators: the
   String, Numeric, Date and Arn families with their negations, Bool, BinaryEquals, IpAddress, NotIpAddress and
   Null, each with the ForAnyValue:/ForAllValues: prefixes and the IfExists suffix; an unknown one raises
   PolicyError. `Principal` (a role session or a service principal) is matched against resource policies.
2. `requests_for(service, operation, params)`: what AWS authorizes for one API call, as (action, resource ARN,
   condition keys) triples. The resource ARN of each action is the one the Service Authorization Reference
   defines for it; actions that support no resource type are authorized on "*", which only a statement whose
   Resource matches the literal "*" covers. One call may need several authorizations (SES authorizes the sender
   and, in the sandbox, every recipient; CreateModel also needs iam:PassRole; tags need AddTags).
3. `access_denied_error(...)`: the refusal the way each service words and codes it.
4. `evaluate_key_access(policies, request, key_policy)`: KMS's own rule, where the key policy must allow a call
   (KMS Developer Guide, "Key policies": "Unless the key policy explicitly allows it, you cannot use IAM policies
   to allow access to a KMS key"): allowed when a key policy statement allows it to the caller directly, or to
   the caller's account (the account root), which delegates to the caller's IAM policies; an explicit Deny in
   either wins; without a key policy statement for the caller or its account, IAM policies grant nothing.

Operations and where their authorization comes from: OPERATIONS below holds, per (botocore service, operation),
the action(s), the resource ARN format and its source; `operations_table()` renders it as Markdown for
docs/embedded-aws.md. "SAR" is the Service Authorization Reference ("Actions, resources, and condition keys for
<service>"; the same data ships in parliament's iam_definition.json). In short:
- stepfunctions: StartExecution, ListExecutions, DescribeStateMachine on the stateMachine ARN given;
  DescribeExecution, StopExecution, GetExecutionHistory on arn:aws:states:R:A:execution:MACHINE:NAME;
  SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat on "*" (SAR: no resource types).
- sagemaker: DescribeModelPackage, UpdateModelPackage on model-package/NAME (a versioned package only by its ARN,
  model-package/GROUP/VERSION), with sagemaker:ModelApprovalStatus and sagemaker:CustomerMetadataProperties/KEY;
  ListModelPackageGroups, ListModelPackages on "*"; CreateModel on model/NAME plus iam:PassRole on its
  ExecutionRoleArn (iam:PassedToService sagemaker.amazonaws.com) and sagemaker:AddTags when tagged;
  CreateTransformJob (+ AddTags), DescribeTransformJob on transform-job/NAME.
- dynamodb: item actions on table/NAME; Query and Scan on table/NAME/index/INDEX when an IndexName is given;
  BatchGetItem, BatchWriteItem once per table; TransactWriteItems, TransactGetItems as each item's own action;
  ExecuteStatement, BatchExecuteStatement as PartiQLSelect/Insert/Update/Delete (by the statement's verb) on
  the table (or table/NAME/index/INDEX) the statement names. A table's resource-based policy (its
  ResourcePolicy) governs its indexes too (DynamoDB API reference, PutResourcePolicy).
- kms: GenerateMac, VerifyMac on the key ARN (key/ID; a bare key id becomes one), with kms:MacAlgorithm and
  kms:CallerAccount; authorized by `evaluate_key_access` against the key's policy.
- ssm: parameter/NAME with exactly one slash after "parameter" (SAR: ${ParameterNameWithoutLeadingSlash});
  GetParametersByPath on the path's parameter ARN; GetParameters once per name.
- s3: GetObject and HeadObject as s3:GetObject on arn:aws:s3:::BUCKET/KEY; PutObject; ListObjectsV2 as
  s3:ListBucket on arn:aws:s3:::BUCKET.
- lambda: Invoke as lambda:InvokeFunction on function:NAME, or function:NAME:QUALIFIER for a version or alias.
- ses, sesv2: the sender's identity and, in the sandbox, every recipient's (To, Cc, Bcc): identity/ADDRESS, or
  its domain identity identity/DOMAIN; keys ses:FromAddress, ses:FromDisplayName, ses:Recipients.
- cognito-idp: admin operations on userpool/ID; the public ones (InitiateAuth, GetUser, ...) are not authorized.
- sqs on the queue's ARN (from its URL); cloudwatch:PutMetricData on "*" with cloudwatch:namespace; logs on
  log-group/log-stream ARNs; xray on "*"; sts:GetCallerIdentity needs no permission; scheduler, events,
  cloudformation as the SAR defines them.

Invocations by services (the state machine's lambda:invoke tasks, EventBridge Scheduler's targets) are the same
lambda.Invoke authorization, made as the state machine's or the schedule's role. EventBridge rules invoke a
function through its resource policy (AWS::Lambda::Permission, Principal events.amazonaws.com, condition
aws:SourceArn = the rule ARN): evaluate([], request.with_context({"aws:SourceArn": rule_arn}),
resource_policy=..., principal=Principal(service="events.amazonaws.com")).

Where the evidence differs from a plain reading of the SAR (kept here, because each one changes a decision):
- states:SendTask*: the SAR lists no resource types, so only "*" matches here. Field reports differ: an AccessDenied
  for SendTaskFailure names the state machine ARN (NOAA-OWP/hydrovis#837), and a CDK maintainer found that a
  statement naming the state machine worked for a Lambda task (aws/aws-cdk#8486). "*" works either way, so the
  stricter rule is kept.
- sesv2 SendEmail with Content.Raw is refused by AWS as `ses:SendRawEmail` (nodemailer/nodemailer#1734,
  anymail/django-anymail#384, aws/aws-actionmailer-ses-ruby#10); Simple and Template content need ses:SendEmail.
- SageMaker names keep the caller's casing in the ARN that is authorized: AWS's own AccessDenied messages show
  `model-package/modelPackageGroupTurbine/1` (aws-samples/ml-edge-getting-started#18) and mixed-case
  notebook-instance-lifecycle-config names. SageMaker lowercases some ARNs it returns, not the ones it checks.
- Negated condition operators (StringNotEquals, ArnNotLike, ...) are true when the key is absent (IAM User Guide,
  "Condition operators"), unlike the positive ones.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesHeaderParser, HeaderParser
from email.utils import getaddresses, parseaddr
from functools import lru_cache
from typing import Any
from urllib.parse import urlparse

ContextValue = str | bool | int | float | Sequence[str]


class UnknownOperation(LookupError):
    """An AWS call whose authorization this module cannot derive: refused loudly, never let through unchecked."""


class PolicyError(ValueError):
    """A policy AWS would reject when it is created (no Action, an unknown condition operator, ...)."""


@dataclass(frozen=True)
class AuthRequest:
    """One authorization AWS makes for a call: an action on a resource, with the request's condition keys.

    `alternatives` are other ARNs of the same resource a policy may name instead (SES checks an email address
    identity or its domain identity): a statement matches the request if it matches any of `resources`.
    """

    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    alternatives: tuple[str, ...] = ()
    _keys: Mapping[str, ContextValue] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        # Condition keys are matched by name case-insensitively: index them once, not on every statement.
        object.__setattr__(self, "_keys", {k.lower(): v for k, v in self.context.items()})

    @property
    def resources(self) -> tuple[str, ...]:
        return (self.resource, *self.alternatives)

    def with_context(self, extra: Mapping[str, ContextValue]) -> AuthRequest:
        """The same authorization with more condition keys (aws:SourceArn of a service's invocation, ...)."""
        return AuthRequest(self.action, self.resource, {**self.context, **extra}, self.alternatives)


@dataclass(frozen=True)
class Principal:
    """Who makes the request: an IAM ARN (a role session, a role, a user) or a service principal."""

    arn: str = ""
    service: str = ""

    @property
    def account(self) -> str:
        parts = self.arn.split(":")
        return parts[4] if len(parts) > 5 else ""

    @property
    def role_arn(self) -> str:
        """arn:aws:iam::ACCOUNT:role/NAME for an assumed-role session (or a role), else ""."""
        parts = self.arn.split(":", 5)
        if len(parts) < 6:
            return ""
        if parts[2] == "sts" and parts[5].startswith("assumed-role/"):
            return f"arn:{parts[1]}:iam::{parts[4]}:role/{parts[5].split('/')[1]}"
        if parts[2] == "iam" and parts[5].startswith("role/"):
            return self.arn
        return ""

    def context(self) -> dict[str, ContextValue]:
        """The global condition keys AWS sets for this principal."""
        if self.service:
            return {"aws:PrincipalServiceName": self.service, "aws:PrincipalIsAWSService": "true"}
        keys: dict[str, ContextValue] = {"aws:PrincipalIsAWSService": "false"}
        if self.arn:
            keys["aws:PrincipalArn"] = self.role_arn or self.arn
            keys["aws:PrincipalAccount"] = self.account
        return keys


@dataclass(frozen=True)
class Decision:
    """The outcome of one authorization, with the statement that decided it (its Sid, when it has one)."""

    allowed: bool
    reason: str
    sid: str | None = None
    explicit_deny: bool = False
    # "identity-based" or "resource-based": the kind of policy the decision came from, as AWS's messages name it.
    policy_type: str = "identity-based"


# ---------------------------------------------------------------------------------------------------------------
# Matching


def _always(_: str) -> bool:
    return True


@lru_cache(maxsize=8192)
def _glob(pattern: str) -> Callable[[str], bool]:
    """A case-sensitive matcher for an IAM wildcard pattern: `*` any run of characters, `?` any one character."""
    if pattern == "*":
        return _always
    if "*" not in pattern and "?" not in pattern:
        return lambda value: value == pattern
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    compiled = re.compile(regex, re.DOTALL).fullmatch
    return lambda value: compiled(value) is not None


def _action_matches(patterns: tuple[str, ...], action: str) -> bool:
    """Actions match case-insensitively (IAM User Guide, "Action"): both sides are lowered."""
    lowered = action.lower()
    return any(_glob(pattern.lower())(lowered) for pattern in patterns)


def _resource_matches(patterns: tuple[str, ...], resource: str) -> bool:
    """Resources match case-sensitively; a wildcard spans ':' and '/' (arn:aws:s3:::bucket/* covers every key)."""
    return any(_glob(pattern)(resource) for pattern in patterns)


@lru_cache(maxsize=4096)
def _arn_glob(pattern: str) -> Callable[[str], bool]:
    """ArnEquals/ArnLike: each of the six colon-separated parts is matched separately, with wildcards."""
    if pattern == "*":
        return _always
    parts = pattern.split(":", 5)
    if len(parts) != 6:
        return _glob(pattern)
    matchers = tuple(_glob(part) for part in parts)

    def match(value: str) -> bool:
        values = value.split(":", 5)
        return len(values) == 6 and all(m(v) for m, v in zip(matchers, values, strict=True))

    return match


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Mapping):
        raise PolicyError(f"expected a string or a list of strings, got {value!r}")
    return tuple(str(v) for v in value)


# ---------------------------------------------------------------------------------------------------------------
# Conditions


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _epoch(value: Any) -> float | None:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    number = _number(value)
    if number is not None:
        return number
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _numeric(compare: Callable[[float, float], bool]) -> Callable[[Any, str], bool]:
    def match(value: Any, policy: str) -> bool:
        left, right = _number(value), _number(policy)
        return left is not None and right is not None and compare(left, right)

    return match


def _dated(compare: Callable[[float, float], bool]) -> Callable[[Any, str], bool]:
    def match(value: Any, policy: str) -> bool:
        left, right = _epoch(value), _epoch(policy)
        return left is not None and right is not None and compare(left, right)

    return match


def _ip(value: Any, policy: str) -> bool:
    try:
        return ipaddress.ip_address(_text(value)) in ipaddress.ip_network(policy, strict=False)
    except ValueError:
        return False


# The positive form of each operator; its negated twin (StringNotEquals, ...) is "matches none of the values".
_MATCHERS: dict[str, Callable[[Any, str], bool]] = {
    "stringequals": lambda v, p: _text(v) == p,
    "stringequalsignorecase": lambda v, p: _text(v).casefold() == p.casefold(),
    "stringlike": lambda v, p: _glob(p)(_text(v)),
    "numericequals": _numeric(lambda a, b: a == b),
    "numericlessthan": _numeric(lambda a, b: a < b),
    "numericlessthanequals": _numeric(lambda a, b: a <= b),
    "numericgreaterthan": _numeric(lambda a, b: a > b),
    "numericgreaterthanequals": _numeric(lambda a, b: a >= b),
    "dateequals": _dated(lambda a, b: a == b),
    "datelessthan": _dated(lambda a, b: a < b),
    "datelessthanequals": _dated(lambda a, b: a <= b),
    "dategreaterthan": _dated(lambda a, b: a > b),
    "dategreaterthanequals": _dated(lambda a, b: a >= b),
    "bool": lambda v, p: _text(v).lower() == p.lower(),
    "binaryequals": lambda v, p: _text(v) == p,
    "ipaddress": _ip,
    "arnequals": lambda v, p: _arn_glob(p)(_text(v)),
    "arnlike": lambda v, p: _arn_glob(p)(_text(v)),
}
_NEGATED = {
    "stringnotequals": "stringequals",
    "stringnotequalsignorecase": "stringequalsignorecase",
    "stringnotlike": "stringlike",
    "numericnotequals": "numericequals",
    "datenotequals": "dateequals",
    "notipaddress": "ipaddress",
    "arnnotequals": "arnequals",
    "arnnotlike": "arnlike",
}


@dataclass(frozen=True)
class _Operator:
    set_operator: str  # "", "forallvalues" or "foranyvalue"
    match: Callable[[Any, str], bool] | None  # None for Null
    negated: bool
    if_exists: bool


@lru_cache(maxsize=256)
def _operator(name: str) -> _Operator:
    lowered = name.lower()
    set_operator = ""
    for prefix in ("forallvalues:", "foranyvalue:"):
        if lowered.startswith(prefix):
            set_operator, lowered = prefix[:-1], lowered[len(prefix) :]
    if_exists = lowered.endswith("ifexists") and lowered != "ifexists"
    base = lowered[: -len("ifexists")] if if_exists else lowered
    if base == "null":
        if if_exists or set_operator:
            raise PolicyError(f"condition operator {name} cannot be combined with IfExists or a set operator")
        return _Operator("", None, False, False)
    negated = base in _NEGATED
    positive = _NEGATED.get(base, base)
    if positive not in _MATCHERS:
        raise PolicyError(f"unknown condition operator {name!r}")
    return _Operator(set_operator, _MATCHERS[positive], negated, if_exists)


def _condition_holds(operator_name: str, key: str, policy_values: tuple[str, ...], request: AuthRequest) -> bool:
    """One key under one operator (IAM User Guide, "Condition operators", "Set operators for multivalued keys")."""
    operator = _operator(operator_name)
    present = key.lower() in request._keys
    value = request._keys.get(key.lower())
    if operator.match is None:  # Null: "true" means the key must be absent, "false" that it must be present
        is_absent = not present or value is None or (not isinstance(value, str | bool | int | float) and not value)
        return any((pv.lower() == "true") == is_absent for pv in policy_values)
    if not present or value is None:
        if operator.if_exists or operator.set_operator == "forallvalues":
            return True
        if operator.set_operator == "foranyvalue":
            return False
        return operator.negated  # "not equal" holds for a key the request does not have
    values = (value,) if isinstance(value, str | bool | int | float | datetime) else tuple(value)
    match = operator.match

    def value_holds(one: Any) -> bool:
        matched = any(match(one, pv) for pv in policy_values)
        return not matched if operator.negated else matched

    if operator.set_operator == "forallvalues":
        return all(value_holds(v) for v in values)
    if operator.set_operator == "foranyvalue":
        return any(value_holds(v) for v in values)
    if operator.negated:  # multiple policy values of a negated operator are NORed, over every request value
        return not any(match(v, pv) for v in values for pv in policy_values)
    return any(match(v, pv) for v in values for pv in policy_values)


def _conditions_hold(conditions: Any, request: AuthRequest) -> bool:
    """Operators and keys are ANDed; the values of one key are ORed (NORed for a negated operator)."""
    if not conditions:
        return True
    if not isinstance(conditions, Mapping):
        raise PolicyError(f"Condition must be an object, got {conditions!r}")
    for operator_name, keys in conditions.items():
        if not isinstance(keys, Mapping):
            raise PolicyError(f"condition operator {operator_name} must map keys to values, got {keys!r}")
        for key, values in keys.items():
            if not _condition_holds(operator_name, key, _condition_values(values), request):
                return False
    return True


def _condition_values(values: Any) -> tuple[str, ...]:
    if isinstance(values, bool):
        return (_text(values),)
    if isinstance(values, str | int | float):
        return (str(values),)
    return tuple(_text(v) for v in values)


# ---------------------------------------------------------------------------------------------------------------
# Statements and evaluation

_NO_MATCH, _ACCOUNT, _DIRECT = 0, 1, 2


def _principal_match(element: Any, principal: Principal | None) -> int:
    """How a resource policy's Principal names the caller: not at all, through its account, or directly.

    An account principal (123456789012 or arn:aws:iam::123456789012:root) delegates to the account's own IAM
    policies: within the account it grants nothing by itself, but its Deny still applies.
    """
    if element == "*":
        return _DIRECT
    if not isinstance(element, Mapping):
        raise PolicyError(f'Principal must be "*" or an object, got {element!r}')
    if principal is None:
        return _DIRECT if _strings(element.get("AWS", ())) == ("*",) else _NO_MATCH
    best = _NO_MATCH
    if principal.service and any(s.lower() == principal.service.lower() for s in _strings(element.get("Service", ()))):
        return _DIRECT
    for value in _strings(element.get("AWS", ())):
        if value == "*":
            return _DIRECT
        if principal.service:
            continue
        if value in (principal.arn, principal.role_arn) and value:
            return _DIRECT
        if _same_role(value, principal.role_arn):
            return _DIRECT
        account = value if value.isdigit() else _root_account(value)
        if account and account == principal.account:
            best = _ACCOUNT
    return best


def _root_account(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) == 6 and parts[2] == "iam" and parts[5] == "root" else ""


def _same_role(named: str, role_arn: str) -> bool:
    """A role named with its path matches the session of that role (an assumed-role ARN carries no path)."""
    if not role_arn or ":role/" not in named:
        return False
    account, name = named.split(":")[4], named.rsplit("/", 1)[-1]
    return role_arn.split(":")[4] == account and role_arn.rsplit("/", 1)[-1] == name


def _statements(policy: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    document = policy.get("PolicyDocument", policy)  # a CloudFormation {PolicyName, PolicyDocument} entry too
    statements = document.get("Statement", ())
    return (statements,) if isinstance(statements, Mapping) else statements


def _statement_applies(statement: Mapping[str, Any], request: AuthRequest, attached_to_resource: bool) -> bool:
    if "Action" in statement:
        if not _action_matches(_strings(statement["Action"]), request.action):
            return False
    elif "NotAction" in statement:
        if _action_matches(_strings(statement["NotAction"]), request.action):
            return False
    else:
        raise PolicyError(f"statement {statement.get('Sid', '')!r} has neither Action nor NotAction")
    if "Resource" in statement:
        patterns = _strings(statement["Resource"])
        if not any(_resource_matches(patterns, r) for r in request.resources):
            return False
    elif "NotResource" in statement:
        patterns = _strings(statement["NotResource"])
        if all(_resource_matches(patterns, r) for r in request.resources):
            return False
    elif not attached_to_resource:  # a resource policy without Resource applies to the resource it is on
        raise PolicyError(f"statement {statement.get('Sid', '')!r} has neither Resource nor NotResource")
    return _conditions_hold(statement.get("Condition"), request)


def _effect(statement: Mapping[str, Any]) -> str:
    effect = statement.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f"statement {statement.get('Sid', '')!r} has Effect {effect!r}, not Allow or Deny")
    return effect


def _principal_from_context(request: AuthRequest) -> Principal | None:
    service = request._keys.get("aws:principalservicename")
    if isinstance(service, str) and service:
        return Principal(service=service)
    arn = request._keys.get("aws:principalarn")
    return Principal(arn=arn) if isinstance(arn, str) and arn else None


def evaluate(
    policies: Sequence[Mapping[str, Any]],
    request: AuthRequest,
    resource_policy: Mapping[str, Any] | None = None,
    *,
    principal: Principal | None = None,
) -> Decision:
    """Decides one authorization within one account (IAM User Guide, "Policy evaluation logic").

    policies: the caller's identity-based policy documents (or CloudFormation {PolicyName, PolicyDocument}
    entries); empty for a service principal. resource_policy: the resource's own policy, whose Principal must name
    the caller. principal: who calls; defaults to the request's aws:PrincipalArn / aws:PrincipalServiceName keys.
    """
    principal = principal or _principal_from_context(request)
    if principal is not None:
        request = request.with_context({**principal.context(), **request.context})
    allowed: Decision | None = None
    for policy in policies:
        for statement in _statements(policy):
            effect = _effect(statement)
            if allowed is not None and effect == "Allow":
                continue  # already allowed: only a Deny can still change the outcome
            if _statement_applies(statement, request, attached_to_resource=False):
                sid = statement.get("Sid")
                if effect == "Deny":
                    return Decision(False, _denied_by("an identity-based policy", sid), sid, True, "identity-based")
                allowed = Decision(True, _allowed_by("an identity-based policy", sid), sid)
    for statement in _statements(resource_policy or {}):
        effect = _effect(statement)
        if "Principal" in statement:
            named = _principal_match(statement["Principal"], principal)
        elif "NotPrincipal" in statement:
            named = _NO_MATCH if _principal_match(statement["NotPrincipal"], principal) else _DIRECT
        else:
            raise PolicyError(f"resource policy statement {statement.get('Sid', '')!r} has no Principal")
        if named == _NO_MATCH or (effect == "Allow" and (allowed is not None or named == _ACCOUNT)):
            continue
        if _statement_applies(statement, request, attached_to_resource=True):
            sid = statement.get("Sid")
            if effect == "Deny":
                return Decision(False, _denied_by("a resource-based policy", sid), sid, True, "resource-based")
            allowed = Decision(True, _allowed_by("a resource-based policy", sid), sid, False, "resource-based")
    if allowed is not None:
        return allowed
    if principal is not None and principal.service:
        return Decision(False, "no resource-based policy allows the action", policy_type="resource-based")
    return Decision(False, "no identity-based policy allows the action")


def evaluate_key_access(
    policies: Sequence[Mapping[str, Any]],
    request: AuthRequest,
    key_policy: Mapping[str, Any],
    *,
    principal: Principal | None = None,
) -> Decision:
    """Decides one KMS authorization: the key policy must allow it (KMS Developer Guide, "Key policies").

    "No AWS principal, including the account root user or key creator, has any permissions to a KMS key unless
    they are explicitly allowed, and never denied, in a key policy, IAM policy, or grant. Unless the key policy
    explicitly allows it, you cannot use IAM policies to allow access to a KMS key." So: an explicit Deny in the
    caller's IAM policies or the key policy refuses; a key policy Allow that names the caller (its role, "*")
    allows; one that names the caller's account (arn:aws:iam::ACCOUNT:root, or ACCOUNT) enables IAM policies,
    which then decide; with neither, the call is refused whatever IAM allows. Grants are not modelled.
    """
    principal = principal or _principal_from_context(request)
    if principal is not None:
        request = request.with_context({**principal.context(), **request.context})
    identity = evaluate(policies, request, principal=principal)
    if identity.explicit_deny:
        return identity
    direct: Decision | None = None
    enabled, enabling_sid = False, None  # whether a statement naming the account enables IAM policies, its Sid
    for statement in _statements(key_policy):
        effect = _effect(statement)
        if "Principal" in statement:
            named = _principal_match(statement["Principal"], principal)
        elif "NotPrincipal" in statement:
            named = _NO_MATCH if _principal_match(statement["NotPrincipal"], principal) else _DIRECT
        else:
            raise PolicyError(f"key policy statement {statement.get('Sid', '')!r} has no Principal")
        if named == _NO_MATCH or not _statement_applies(statement, request, attached_to_resource=True):
            continue
        sid = statement.get("Sid")
        if effect == "Deny":
            return Decision(False, _denied_by("the key policy", sid), sid, True, "resource-based")
        if named == _DIRECT and direct is None:
            direct = Decision(True, _allowed_by("the key policy", sid), sid, False, "resource-based")
        elif named == _ACCOUNT and not enabled:
            enabled, enabling_sid = True, sid
    if direct is not None:
        return direct
    if enabled:
        if identity.allowed:
            which = f" (statement {enabling_sid})" if enabling_sid else ""
            return Decision(True, f"{identity.reason}, which the key policy enables{which}", identity.sid)
        return identity
    return Decision(
        False, "the key policy allows the action neither to the caller nor to its account", policy_type="resource-based"
    )


def _allowed_by(kind: str, sid: str | None) -> str:
    return f"allowed by {kind}" + (f" (statement {sid})" if sid else "")


def _denied_by(kind: str, sid: str | None) -> str:
    return f"explicitly denied by {kind}" + (f" (statement {sid})" if sid else "")


# ---------------------------------------------------------------------------------------------------------------
# Requests: what each operation is authorized as


@dataclass(frozen=True)
class _Call:
    region: str
    account: str
    partition: str
    ses_sandbox: bool

    def arn(self, service: str, resource: str, *, region: str | None = None, account: str | None = None) -> str:
        region = self.region if region is None else region
        account = self.account if account is None else account
        return f"arn:{self.partition}:{service}:{region}:{account}:{resource}"


Derive = Callable[[Mapping[str, Any], _Call], list[AuthRequest]]


@dataclass(frozen=True)
class Operation:
    """How one API operation is authorized, and where that comes from (for docs/embedded-aws.md)."""

    actions: str
    resource: str
    source: str
    derive: Derive


_SAR = "SAR"


def _one(action: str, resource: Callable[[Mapping[str, Any], _Call], str]) -> Derive:
    return lambda p, c: [AuthRequest(action, resource(p, c))]


def _star(action: str, context: Callable[[Mapping[str, Any]], dict[str, ContextValue]] | None = None) -> Derive:
    return lambda p, c: [AuthRequest(action, "*", context(p) if context else {})]


def _none(_: Mapping[str, Any], __: _Call) -> list[AuthRequest]:
    return []


def _required(params: Mapping[str, Any], name: str) -> Any:
    if name not in params:
        raise UnknownOperation(f"the request has no {name}, from which its resource ARN is derived")
    return params[name]


def _tag_context(tags: Any) -> dict[str, ContextValue]:
    """aws:RequestTag/<key> and aws:TagKeys of a request that creates tags ([{Key, Value}] or {key: value})."""
    pairs = tags.items() if isinstance(tags, Mapping) else [(t["Key"], t.get("Value", "")) for t in tags or ()]
    context: dict[str, ContextValue] = {f"aws:RequestTag/{k}": str(v) for k, v in pairs}
    if context:
        context["aws:TagKeys"] = [key.split("/", 1)[1] for key in context]
    return context


# Step Functions ----------------------------------------------------------------------------------------------


def _states(operation: str, parameter: str) -> Derive:
    return _one(f"states:{operation}", lambda p, c: str(_required(p, parameter)))


# SageMaker ---------------------------------------------------------------------------------------------------


def _sagemaker_arn(c: _Call, kind: str, name_or_arn: str) -> str:
    # Names keep the caller's casing: see "Where the evidence differs" in the module docstring.
    return name_or_arn if name_or_arn.startswith("arn:") else c.arn("sagemaker", f"{kind}/{name_or_arn}")


def _pass_role(role_arn: str, service: str) -> AuthRequest:
    return AuthRequest("iam:PassRole", role_arn, {"iam:PassedToService": service})


def _add_tags(params: Mapping[str, Any], resource: str) -> list[AuthRequest]:
    tags = params.get("Tags")
    return [AuthRequest("sagemaker:AddTags", resource, _tag_context(tags))] if tags else []


def _update_model_package(p: Mapping[str, Any], c: _Call) -> list[AuthRequest]:
    context: dict[str, ContextValue] = {}
    if "ModelApprovalStatus" in p:
        context["sagemaker:ModelApprovalStatus"] = p["ModelApprovalStatus"]
    for key, value in (p.get("CustomerMetadataProperties") or {}).items():
        context[f"sagemaker:CustomerMetadataProperties/{key}"] = str(value)
    if p.get("CustomerMetadataPropertiesToRemove"):
        context["sagemaker:CustomerMetadataPropertiesToRemove"] = list(p["CustomerMetadataPropertiesToRemove"])
    arn = _sagemaker_arn(c, "model-package", str(_required(p, "ModelPackageArn")))
    return [AuthRequest("sagemaker:UpdateModelPackage", arn, context)]


def _create_model(p: Mapping[str, Any], c: _Call) -> list[AuthRequest]:
    arn = _sagemaker_arn(c, "model", str(_required(p, "ModelName")))
    context: dict[str, ContextValue] = dict(_tag_context(p.get("Tags")))
    if "EnableNetworkIsolation" in p:
        context["sagemaker:NetworkIsolation"] = bool(p["EnableNetworkIsolation"])
    vpc = p.get("VpcConfig") or {}
    if vpc.get("SecurityGroupIds"):
        context["sagemaker:VpcSecurityGroupIds"] = list(vpc["SecurityGroupIds"])
    if vpc.get("Subnets"):
        context["sagemaker:VpcSubnets"] = list(vpc["Subnets"])
    requests = [AuthRequest("sagemaker:CreateModel", arn, context)]
    if p.get("ExecutionRoleArn"):
        requests.append(_pass_role(str(p["ExecutionRoleArn"]), "sagemaker.amazonaws.com"))
    return requests + _add_tags(p, arn)


def _create_transform_job(p: Mapping[str, Any], c: _Call) -> list[AuthRequest]:
    arn = _sagemaker_arn(c, "transform-job", str(_required(p, "TransformJobName")))
    context: dict[str, ContextValue] = dict(_tag_context(p.get("Tags")))
    if p.get("ModelName"):
        context["sagemaker:ModelArn"] = _sagemaker_arn(c, "model", str(p["ModelName"]))
    instance_type = (p.get("TransformResources") or {}).get("InstanceType")
    if instance_type:
        context["sagemaker:InstanceTypes"] = [instance_type]
    volume_key = (p.get("TransformResources") or {}).get("VolumeKmsKeyId")
    if volume_key:
        context["sagemaker:VolumeKmsKey"] = volume_key
    output_key = (p.get("TransformOutput") or {}).get("KmsKeyId")
    if output_key:
        context["sagemaker:OutputKmsKey"] = output_key
    return [AuthRequest("sagemaker:CreateTransformJob", arn, context), *_add_tags(p, arn)]


def _sagemaker(operation: str, kind: str, parameter: str) -> Derive:
    return _one(f"sagemaker:{operation}", lambda p, c: _sagemaker_arn(c, kind, str(_required(p, parameter))))


# DynamoDB ----------------------------------------------------------------------------------------------------


def _table_arn(c: _Call, table: str, index: str | None = None) -> str:
    arn = table if table.startswith("arn:") else c.arn("dynamodb", f"table/{table}")
    return f"{arn}/index/{index}" if index else arn


def _dynamodb_context(p: Mapping[str, Any]) -> dict[str, ContextValue]:
    keys = {"ReturnValues": "dynamodb:ReturnValues", "Select": "dynamodb:Select"}
    keys["ReturnConsumedCapacity"] = "dynamodb:ReturnConsumedCapacity"
    return {key: str(p[name]) for name, key in keys.items() if name in p}


def _dynamodb(operation: str) -> Derive:
    def derive(p: Mapping[str, Any], c: _Call) -> list[AuthRequest]:
        resource = _table_arn(c, str(_required(p, "TableName")), p.get("IndexName"))
        return [AuthRequest(f"dynamodb:{operation}", resource, _dynamodb_context(p))]

    return derive


def _dynamodb_batch(operation: str) -> Derive:
    def derive(p: Mapping[str, Any], c: _Call) -> list[AuthRequest]:
        items = _required(p, "RequestItems")
        return [AuthRequest(f"dynamodb:{operation}", _table_arn(c, table), _dynamodb_context(p)) for table in items]

    return derive


_TRANSACT_ACTIONS = {
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "Get": "dynamodb:GetItem",
}


def _dynamodb_transact(p: Mapping[str, Any], c: _Call) -> list[AuthRequest]:
    requests = []
    for item in _required(p, "TransactItems"):
        for kind, body in item.items():
            requests.append(AuthRequest(_TRANSACT_ACTIONS[kind], _table_arn(c, str(body["TableName"]))))
    return requests


# SSM ---------------------------------------------------------------------------------------------------------


def _parameter_arn(c: _Call, name: str) -> str:
    """arn:...:parameter/NAME: one slash between "parameter" and the name, whether the name starts with one or not.

    A name may also be a parameter ARN, or carry a version or label selector (/a/b:3), which is no part of it.
    """
    if name.startswith("arn:"):
        return name
    return c.arn("ssm", "parameter/" + name.split(":", 1)[0].removeprefix("/"))


def _ssm(operation: str, context: Callable[[Mapping[str, Any]], dict[str, ContextValue]] | None = None) -> Derive:
    def derive(p: Mapping[str, Any], c: _Call) -> list[AuthRequest]:
        extra = context(p) if context else {}
        return [AuthRequest(f"ssm:{operation}", _parameter_arn(c, str(_required(p, "Name"))), extra)]

    return derive


def _put_parameter_context(p: Mapping[str, Any]) -> dict[str, ContextValue]:
    context: dict[str, ContextValue] = dict(_tag_context(p.get("Tags")))
    if "Overwrite" in p:
        context["ssm:Overwrite"] = bool(p["Overwrite"])
    if p.get("Policies"):
        context["ssm:Policies"] = str(p["Policies"])
    return context


def _get_parameters(p: Mapping[str, Any], c: _Call) -> list[AuthRequest]:
    return [AuthRequest("ssm:GetParameters", _parameter_arn(c, str(n))) for n in _required(p, "Names")]


def _get_parameters_by_path(p: Mapping[str, Any], c: _Call) -> list[AuthRequest]:
    context: dict[str, ContextValue] = {"ssm:Recursive": bool(p["Recursive"])} if "Recursive" in p else {}
    return [AuthRequest("ssm:GetParametersByPath", _parameter_arn(c, str(_required(p, "Path"))), context)]


# S3 ----------------------------------------------------------------------------------------------------------


def _object_arn(c: _Call, bucket: str, key: str) -> str:
    if bucket.startswith("arn:"):  # an access point: arn:...:accesspoint/NAME/object/KEY
        return f"{bucket}/object/{key}"
    return f"arn:{c.partition}:s3:::{bucket}/{key}"


def _bucket_arn(c: _Call, bucket: str) -> str:
    return bucket if bucket.startswith("arn:") else f"arn:{c.partition}:s3:::{bucket}"


def _s3_get(p: Mapping[str, Any], c: _Call) -> list[AuthRequest]:
    action = "s3:GetObjectVersion" if p.get("VersionId") else "s3:GetObject"
    return [AuthRequest(action, _object_arn(c, str(_required(p, "Bucket")), str(_required(p, "Key"))))]


def _s3_put(p: Mapping[str, Any], c: _Call) -> list[AuthRequest]:
    arn = _object_arn(c, str(_required(p, "Bucket")), str(_required(p, "Key")))
    context: dict[str, ContextValue] = {}
    headers = {"ACL": "s3:x-amz-acl", "ServerSideEncryption": "s3:x-amz-server-side-encryption"}
    headers |= {
        "SSEKMSKeyId": "s3:x-amz-server-side-encryption-aws-kms-key-id",
        "StorageClass": "s3:x-amz-storage-class",
    }
    for name, key in headers.items():
        if p.get(name):
            context[key] = str(p[name])
    requests = [AuthRequest("s3:PutObject", arn, context)]
    if p.get("ACL") or any(p.get(g) for g in ("GrantFullControl", "GrantRead", "GrantReadACP", "GrantWriteACP")):
        requests.append(AuthRequest("s3:PutObjectAcl", arn, context))
    if p.get("Tagging"):
        requests.append(AuthRequest("s3:PutObjectTagging", arn))
    return requests


def _s3_delete(p: Mapping[str, Any], c: _Call) -> list[AuthRequest]:
    action = "s3:DeleteObjectVersion" if p.get("VersionId") else "s3:DeleteObject"
    return [AuthRequest(action, _object_arn(c, str(_required(p, "Bucket")), str(_required(p, "Key"))))]


def _s3_list(p: Mapping[str, Any], c: _Call) -> list[AuthRequest]:
    names = {"Prefix": "s3:prefix", "Delimiter": "s3:delimiter", "MaxKeys": "s3:max-keys"}
    context: dict[str, ContextValue] = {key: str(p[name]) for name, key in names.items() if name in p}
    return [AuthRequest("s3:ListBucket", _bucket_arn(c, str(_required(p, "Bucket"))), context)]


# Lambda ------------------------------------------------------------------------------------------------------


def _function_arn(c: _Call, function_name: str, qualifier: str | None = None) -> str:
    """The ARN Invoke is authorized on, from any FunctionName form (name, name:alias, ARN, partial ARN).

    A version or alias is its own resource: function:NAME:QUALIFIER (Lambda developer guide, "Resources and
    conditions for Lambda actions"), so a statement naming the unqualified ARN does not cover it.
    """
    parts = function_name.split(":")
    if function_name.startswith("arn:"):
        if len(parts) < 7 or parts[5] != "function":
            raise UnknownOperation(f"{function_name!r} is not a Lambda function ARN")
        region, account, name, embedded = parts[3], parts[4], parts[6], parts[7] if len(parts) > 7 else None
    elif len(parts) >= 3 and parts[1] == "function":  # ACCOUNT:function:NAME[:QUALIFIER]
        region, account, name, embedded = c.region, parts[0], parts[2], parts[3] if len(parts) > 3 else None
    else:
        region, account, name, embedded = c.region, c.account, parts[0], parts[1] if len(parts) > 1 else None
    qualifier = qualifier or embedded
    arn = c.arn("lambda", f"function:{name}", region=region, account=account)
    return f"{arn}:{qualifier}" if qualifier else arn


def _invoke(p: Mapping[str, Any], c: _Call) -> list[AuthRequest]:
    arn = _function_arn(c, str(_required(p, "FunctionName")), p.get("Qualifier"))
    return [AuthRequest("lambda:InvokeFunction", arn)]


# SES ---------------------------------------------------------------------------------------------------------


def _identity_arns(c: _Call, address: str) -> tuple[str, tuple[str, ...]]:
    """The email address identity, and its domain identity as the alternative SES also accepts."""
    domain = address.rsplit("@", 1)[-1]
    alternatives = (c.arn("ses", f"identity/{domain}"),) if "@" in address else ()
    return c.arn("ses", f"identity/{address}"), alternatives


def _raw_headers(raw: Any) -> Any:
    data = raw.get("Data", b"") if isinstance(raw, Mapping) else raw
    if isinstance(data, bytes | bytearray):
        return BytesHeaderParser().parsebytes(bytes(data))
    return HeaderParser().parsestr(str(data))


def _ses_send(action: str | None, api_version: str) -> Derive:
    """Sender identity, and in the sandbox each recipient's identity, as SES authorizes them."""

    def derive(p: Mapping[str, Any], c: _Call) -> list[AuthRequest]:
        content = p.get("Content") or {}
        raw = content.get("Raw") or p.get("RawMessage")
        chosen = action or ("ses:SendRawEmail" if "Raw" in content else "ses:SendEmail")
        sender = p.get("Source") or p.get("FromEmailAddress") or ""
        destination = p.get("Destination") or {}
        recipients = [
            *destination.get("ToAddresses", ()),
            *destination.get("CcAddresses", ()),
            *destination.get("BccAddresses", ()),
            *p.get("Destinations", ()),
        ]
        if raw is not None and (not sender or not recipients):
            headers = _raw_headers(raw)
            sender = sender or str(headers.get("From", ""))
            if not recipients:
                fields = [str(v) for name in ("To", "Cc", "Bcc") for v in headers.get_all(name, [])]
                recipients = [address for _, address in getaddresses(fields) if address]
        display_name, from_address = parseaddr(sender)
        if not from_address:
            raise UnknownOperation("the message names no sender (Source, FromEmailAddress or a From header)")
        addresses = [parseaddr(r)[1] or r for r in recipients]
        context: dict[str, ContextValue] = {
            "ses:ApiVersion": api_version,
            "ses:FromAddress": from_address,
            "ses:Recipients": addresses,
        }
        if display_name:
            context["ses:FromDisplayName"] = display_name
        feedback = p.get("ReturnPath") or p.get("FeedbackForwardingEmailAddress")
        if feedback:
            context["ses:FeedbackAddress"] = feedback
        sender_arn = p.get("FromEmailAddressIdentityArn") or p.get("SourceArn") or p.get("FromArn")
        if sender_arn:
            requests = [AuthRequest(chosen, str(sender_arn), context)]
        else:
            primary, alternatives = _identity_arns(c, from_address)
            requests = [AuthRequest(chosen, primary, context, alternatives)]
        if c.ses_sandbox:
            seen = {from_address.lower()}
            for address in addresses:
                if address.lower() not in seen:
                    seen.add(address.lower())
                    primary, alternatives = _identity_arns(c, address)
                    requests.append(AuthRequest(chosen, primary, context, alternatives))
        return requests

    return derive


# Cognito, SQS, CloudWatch, Logs, STS, Scheduler, EventBridge, CloudFormation ----------------------------------


def _userpool(operation: str) -> Derive:
    return _one(f"cognito-idp:{operation}", lambda p, c: c.arn("cognito-idp", f"userpool/{_required(p, 'UserPoolId')}"))


def _queue_arn(c: _Call, queue_url: str) -> str:
    """https://sqs.REGION.amazonaws.com/ACCOUNT/NAME (or a local endpoint's URL) -> arn:aws:sqs:REGION:ACCOUNT:NAME."""
    url = urlparse(queue_url)
    segments = [s for s in url.path.split("/") if s]
    if len(segments) < 2:
        raise UnknownOperation(f"{queue_url!r} is not a queue URL (.../ACCOUNT/NAME)")
    host = (url.hostname or "").split(".")
    region = host[1] if len(host) > 2 and host[0] == "sqs" and host[1] != "localhost" else c.region
    return c.arn("sqs", segments[-1], region=region, account=segments[-2])


def _sqs(action: str) -> Derive:
    return _one(action, lambda p, c: _queue_arn(c, str(_required(p, "QueueUrl"))))


def _log_group(p: Mapping[str, Any], c: _Call) -> list[AuthRequest]:
    context = _tag_context(p.get("tags"))
    return [AuthRequest("logs:CreateLogGroup", c.arn("logs", f"log-group:{_required(p, 'logGroupName')}"), context)]


def _log_stream(operation: str) -> Derive:
    def resource(p: Mapping[str, Any], c: _Call) -> str:
        return c.arn("logs", f"log-group:{_required(p, 'logGroupName')}:log-stream:{_required(p, 'logStreamName')}")

    return _one(f"logs:{operation}", resource)


def _schedule(operation: str, passes_role: bool = False) -> Derive:
    def derive(p: Mapping[str, Any], c: _Call) -> list[AuthRequest]:
        group = p.get("GroupName") or "default"
        requests = [
            AuthRequest(f"scheduler:{operation}", c.arn("scheduler", f"schedule/{group}/{_required(p, 'Name')}"))
        ]
        role = (p.get("Target") or {}).get("RoleArn")
        if passes_role and role:
            requests.append(_pass_role(str(role), "scheduler.amazonaws.com"))
        return requests

    return derive


def _put_events(p: Mapping[str, Any], c: _Call) -> list[AuthRequest]:
    requests = []
    for entry in _required(p, "Entries"):
        bus = str(entry.get("EventBusName") or "default")
        arn = bus if bus.startswith("arn:") else c.arn("events", f"event-bus/{bus}")
        context: dict[str, ContextValue] = {}
        if "Source" in entry:
            context["events:source"] = entry["Source"]
        if "DetailType" in entry:
            context["events:detail-type"] = entry["DetailType"]
        requests.append(AuthRequest("events:PutEvents", arn, context))
    return requests


def _describe_stacks(p: Mapping[str, Any], c: _Call) -> list[AuthRequest]:
    """A stack's ARN ends in an id the caller may not know: stack/NAME/* stands for it, which a statement naming
    stack/NAME/* or "*" covers, and one naming a particular id (correctly) does not."""
    name = p.get("StackName")
    if not name:
        return [AuthRequest("cloudformation:DescribeStacks", "*")]
    arn = name if name.startswith("arn:") else c.arn("cloudformation", f"stack/{name}/*")
    return [AuthRequest("cloudformation:DescribeStacks", arn)]


def _assume_role(p: Mapping[str, Any], c: _Call) -> list[AuthRequest]:
    context: dict[str, ContextValue] = dict(_tag_context(p.get("Tags")))
    if p.get("RoleSessionName"):
        context["sts:RoleSessionName"] = p["RoleSessionName"]
    if p.get("ExternalId"):
        context["sts:ExternalId"] = p["ExternalId"]
    return [AuthRequest("sts:AssumeRole", str(_required(p, "RoleArn")), context)]


_PARTIQL_VERBS = {
    "select": "PartiQLSelect",
    "insert": "PartiQLInsert",
    "update": "PartiQLUpdate",
    "delete": "PartiQLDelete",
}
# The table a statement names: SELECT ... FROM "t"[."i"], INSERT INTO "t", UPDATE "t", DELETE FROM "t".
_PARTIQL_TABLE = re.compile(
    r'^\s*(?:select\b.*?\bfrom|insert\s+into|update|delete\s+from)\s+("(?:[^"]|"")+"|[A-Za-z0-9_.-]+)'
    r'(?:\s*\.\s*("(?:[^"]|"")+"|[A-Za-z0-9_.-]+))?',
    re.IGNORECASE | re.DOTALL,
)


def _partiql_request(statement: str, c: _Call) -> AuthRequest:
    verb = statement.strip().split(None, 1)[0].lower() if statement.strip() else ""
    match = _PARTIQL_TABLE.match(statement)
    if verb not in _PARTIQL_VERBS or match is None:
        raise UnknownOperation(f"cannot read the verb and table of the PartiQL statement {statement[:80]!r}")

    def name(token: str | None) -> str | None:
        return token[1:-1].replace('""', '"') if token and token.startswith('"') else token

    return AuthRequest(f"dynamodb:{_PARTIQL_VERBS[verb]}", _table_arn(c, str(name(match[1])), name(match[2])))


def _execute_statement(p: Mapping[str, Any], c: _Call) -> list[AuthRequest]:
    return [_partiql_request(str(_required(p, "Statement")), c)]


def _batch_execute_statement(p: Mapping[str, Any], c: _Call) -> list[AuthRequest]:
    return [_partiql_request(str(s.get("Statement", "")), c) for s in _required(p, "Statements")]


def _kms_key_arn(c: _Call, key_id: str) -> str:
    """The key ARN KMS authorizes a call on. An alias is resolved by KMS to its key first, which this pure module
    cannot do: a call that names one is refused as unknown rather than authorized on the wrong resource."""
    if key_id.startswith("alias/") or ":alias/" in key_id:
        raise UnknownOperation(f"{key_id!r} is an alias: name the key by its id or ARN")
    return key_id if key_id.startswith("arn:") else c.arn("kms", f"key/{key_id}")


def _kms_mac(action: str) -> Derive:
    def derive(p: Mapping[str, Any], c: _Call) -> list[AuthRequest]:
        context: dict[str, ContextValue] = {"kms:CallerAccount": c.account}
        if p.get("MacAlgorithm"):
            context["kms:MacAlgorithm"] = str(p["MacAlgorithm"])
        return [AuthRequest(action, _kms_key_arn(c, str(_required(p, "KeyId"))), context)]

    return derive


def _op(actions: str, resource: str, derive: Derive, source: str = _SAR) -> Operation:
    return Operation(actions, resource, source, derive)


_PUBLIC_COGNITO = "not IAM-authorized: the Cognito API reference says it does not evaluate IAM policies"

# (botocore service name, botocore operation name) -> how AWS authorizes it.
OPERATIONS: Mapping[tuple[str, str], Operation] = {
    # Step Functions (SAR: AWS Step Functions)
    ("stepfunctions", "StartExecution"): _op(
        "states:StartExecution", "stateMachine ARN", _states("StartExecution", "stateMachineArn")
    ),
    ("stepfunctions", "StartSyncExecution"): _op(
        "states:StartSyncExecution", "stateMachine ARN", _states("StartSyncExecution", "stateMachineArn")
    ),
    ("stepfunctions", "DescribeExecution"): _op(
        "states:DescribeExecution", "execution ARN", _states("DescribeExecution", "executionArn")
    ),
    ("stepfunctions", "StopExecution"): _op(
        "states:StopExecution", "execution ARN", _states("StopExecution", "executionArn")
    ),
    ("stepfunctions", "GetExecutionHistory"): _op(
        "states:GetExecutionHistory", "execution ARN", _states("GetExecutionHistory", "executionArn")
    ),
    ("stepfunctions", "ListExecutions"): _op(
        "states:ListExecutions", "stateMachine ARN", _states("ListExecutions", "stateMachineArn")
    ),
    ("stepfunctions", "DescribeStateMachine"): _op(
        "states:DescribeStateMachine", "stateMachine ARN", _states("DescribeStateMachine", "stateMachineArn")
    ),
    ("stepfunctions", "SendTaskSuccess"): _op("states:SendTaskSuccess", "*", _star("states:SendTaskSuccess")),
    ("stepfunctions", "SendTaskFailure"): _op("states:SendTaskFailure", "*", _star("states:SendTaskFailure")),
    ("stepfunctions", "SendTaskHeartbeat"): _op("states:SendTaskHeartbeat", "*", _star("states:SendTaskHeartbeat")),
    # SageMaker (SAR: Amazon SageMaker)
    ("sagemaker", "DescribeModelPackage"): _op(
        "sagemaker:DescribeModelPackage",
        "model-package/NAME (or the ARN given)",
        _sagemaker("DescribeModelPackage", "model-package", "ModelPackageName"),
    ),
    ("sagemaker", "UpdateModelPackage"): _op(
        "sagemaker:UpdateModelPackage", "model-package ARN", _update_model_package
    ),
    ("sagemaker", "DescribeModelPackageGroup"): _op(
        "sagemaker:DescribeModelPackageGroup",
        "model-package-group/NAME",
        _sagemaker("DescribeModelPackageGroup", "model-package-group", "ModelPackageGroupName"),
    ),
    # The operator's smoke test registers a version (services/smoke.py); a training pipeline's role does in AWS.
    ("sagemaker", "CreateModelPackageGroup"): _op(
        "sagemaker:CreateModelPackageGroup (+ sagemaker:AddTags)",
        "model-package-group/NAME",
        lambda p, c: [
            AuthRequest(
                "sagemaker:CreateModelPackageGroup",
                r := _sagemaker_arn(c, "model-package-group", str(_required(p, "ModelPackageGroupName"))),
                _tag_context(p.get("Tags")),
            ),
            *_add_tags(p, r),
        ],
    ),
    ("sagemaker", "CreateModelPackage"): _op(
        "sagemaker:CreateModelPackage (+ sagemaker:AddTags)",
        "model-package/GROUP (the group a version is registered in)",
        lambda p, c: [
            AuthRequest(
                "sagemaker:CreateModelPackage",
                r := _sagemaker_arn(
                    c, "model-package", str(p.get("ModelPackageGroupName") or _required(p, "ModelPackageName"))
                ),
                {
                    **_tag_context(p.get("Tags")),
                    **(
                        {"sagemaker:ModelApprovalStatus": p["ModelApprovalStatus"]}
                        if "ModelApprovalStatus" in p
                        else {}
                    ),
                },
            ),
            *_add_tags(p, r),
        ],
        "SAR: the model-package resource; a versioned package is named by its group",
    ),
    ("sagemaker", "ListModelPackageGroups"): _op(
        "sagemaker:ListModelPackageGroups", "*", _star("sagemaker:ListModelPackageGroups")
    ),
    ("sagemaker", "ListModelPackages"): _op(
        "sagemaker:ListModelPackages",
        "*",
        _star("sagemaker:ListModelPackages"),
        "SAR lists model-package as an optional resource type; the call names a group, not a package",
    ),
    ("sagemaker", "CreateModel"): _op(
        "sagemaker:CreateModel + iam:PassRole (+ sagemaker:AddTags)",
        "model/NAME; the ExecutionRoleArn",
        _create_model,
        "SAR: CreateModel's dependent actions iam:PassRole and sagemaker:AddTags",
    ),
    ("sagemaker", "DescribeModel"): _op(
        "sagemaker:DescribeModel", "model/NAME", _sagemaker("DescribeModel", "model", "ModelName")
    ),
    ("sagemaker", "DeleteModel"): _op(
        "sagemaker:DeleteModel", "model/NAME", _sagemaker("DeleteModel", "model", "ModelName")
    ),
    ("sagemaker", "CreateTransformJob"): _op(
        "sagemaker:CreateTransformJob (+ sagemaker:AddTags)",
        "transform-job/NAME",
        _create_transform_job,
        "SAR: CreateTransformJob's dependent action sagemaker:AddTags",
    ),
    ("sagemaker", "DescribeTransformJob"): _op(
        "sagemaker:DescribeTransformJob",
        "transform-job/NAME",
        _sagemaker("DescribeTransformJob", "transform-job", "TransformJobName"),
    ),
    ("sagemaker", "StopTransformJob"): _op(
        "sagemaker:StopTransformJob",
        "transform-job/NAME",
        _sagemaker("StopTransformJob", "transform-job", "TransformJobName"),
    ),
    # DynamoDB (SAR: Amazon DynamoDB; transactions: DynamoDB developer guide, "Using IAM with transactions")
    **{
        ("dynamodb", name): _op(f"dynamodb:{name}", "table/NAME", _dynamodb(name))
        for name in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "DescribeTable")
    },
    ("dynamodb", "Query"): _op("dynamodb:Query", "table/NAME[/index/INDEX]", _dynamodb("Query")),
    ("dynamodb", "Scan"): _op("dynamodb:Scan", "table/NAME[/index/INDEX]", _dynamodb("Scan")),
    ("dynamodb", "BatchGetItem"): _op(
        "dynamodb:BatchGetItem", "table/NAME, one per RequestItems table", _dynamodb_batch("BatchGetItem")
    ),
    ("dynamodb", "BatchWriteItem"): _op(
        "dynamodb:BatchWriteItem", "table/NAME, one per RequestItems table", _dynamodb_batch("BatchWriteItem")
    ),
    ("dynamodb", "TransactWriteItems"): _op(
        "the item actions (PutItem, UpdateItem, DeleteItem, ConditionCheckItem)",
        "table/NAME of each item",
        _dynamodb_transact,
        "DynamoDB developer guide: a transaction needs the permission of each action it contains",
    ),
    ("dynamodb", "TransactGetItems"): _op(
        "dynamodb:GetItem per item", "table/NAME of each item", _dynamodb_transact, "DynamoDB developer guide"
    ),
    ("dynamodb", "ExecuteStatement"): _op(
        "dynamodb:PartiQLSelect, PartiQLInsert, PartiQLUpdate or PartiQLDelete (the statement's verb)",
        "table/NAME[/index/INDEX] the statement names",
        _execute_statement,
        "SAR: API operations table (ExecuteStatement)",
    ),
    ("dynamodb", "BatchExecuteStatement"): _op(
        "dynamodb:PartiQL<verb> per statement",
        "table/NAME[/index/INDEX] of each statement",
        _batch_execute_statement,
        "SAR: API operations table (BatchExecuteStatement)",
    ),
    # SSM (SAR: AWS Systems Manager; parameter/${ParameterNameWithoutLeadingSlash})
    ("ssm", "GetParameter"): _op("ssm:GetParameter", "parameter/NAME", _ssm("GetParameter")),
    ("ssm", "PutParameter"): _op("ssm:PutParameter", "parameter/NAME", _ssm("PutParameter", _put_parameter_context)),
    ("ssm", "DeleteParameter"): _op("ssm:DeleteParameter", "parameter/NAME", _ssm("DeleteParameter")),
    ("ssm", "GetParameterHistory"): _op("ssm:GetParameterHistory", "parameter/NAME", _ssm("GetParameterHistory")),
    ("ssm", "GetParameters"): _op("ssm:GetParameters", "parameter/NAME, one per name", _get_parameters),
    ("ssm", "GetParametersByPath"): _op("ssm:GetParametersByPath", "parameter/PATH", _get_parameters_by_path),
    # S3 (SAR: Amazon S3; HeadObject: S3 API reference, "you must have the s3:GetObject permission")
    ("s3", "GetObject"): _op("s3:GetObject (s3:GetObjectVersion with VersionId)", "bucket/key", _s3_get),
    ("s3", "HeadObject"): _op(
        "s3:GetObject (s3:GetObjectVersion with VersionId)", "bucket/key", _s3_get, "S3 API reference, HeadObject"
    ),
    ("s3", "PutObject"): _op("s3:PutObject (+ PutObjectAcl, PutObjectTagging)", "bucket/key", _s3_put),
    ("s3", "DeleteObject"): _op("s3:DeleteObject (s3:DeleteObjectVersion with VersionId)", "bucket/key", _s3_delete),
    ("s3", "ListObjectsV2"): _op("s3:ListBucket", "bucket", _s3_list, "S3 API reference, ListObjectsV2"),
    ("s3", "ListObjects"): _op("s3:ListBucket", "bucket", _s3_list, "S3 API reference, ListObjects"),
    # Lambda (Lambda developer guide: Invoke is authorized as lambda:InvokeFunction)
    ("lambda", "Invoke"): _op("lambda:InvokeFunction", "function:NAME[:QUALIFIER]", _invoke),
    # SES v1 and v2 (SAR: Amazon SES, Amazon Simple Email Service v2; SES developer guide, sandbox)
    ("ses", "SendEmail"): _op(
        "ses:SendEmail", "identity/ADDRESS of sender and recipients", _ses_send("ses:SendEmail", "1")
    ),
    ("ses", "SendRawEmail"): _op(
        "ses:SendRawEmail", "identity/ADDRESS of sender and recipients", _ses_send("ses:SendRawEmail", "1")
    ),
    ("ses", "SendTemplatedEmail"): _op(
        "ses:SendTemplatedEmail",
        "identity/ADDRESS of sender and recipients",
        _ses_send("ses:SendTemplatedEmail", "1"),
    ),
    ("sesv2", "SendEmail"): _op(
        "ses:SendEmail (ses:SendRawEmail for Content.Raw)",
        "identity/ADDRESS of sender and recipients",
        _ses_send(None, "2"),
        "SAR: Amazon Simple Email Service v2; raw content: AWS's refusals name ses:SendRawEmail",
    ),
    # Cognito user pools (SAR: Amazon Cognito User Pools)
    **{
        ("cognito-idp", name): _op(f"cognito-idp:{name}", "userpool/ID", _userpool(name))
        for name in (
            "AdminGetUser",
            "AdminListGroupsForUser",
            "AdminUpdateUserAttributes",
            "AdminAddUserToGroup",
            "AdminCreateUser",
            "AdminDeleteUser",
            "AdminInitiateAuth",
            "AdminSetUserPassword",
            "ListUsers",
            "ListUsersInGroup",
            "DescribeUserPool",
            "DescribeUserPoolClient",
        )
    },
    **{
        ("cognito-idp", name): _op("none", "none", _none, _PUBLIC_COGNITO)
        for name in (
            "InitiateAuth",
            "RespondToAuthChallenge",
            "GetUser",
            "UpdateUserAttributes",
            "GlobalSignOut",
            "RevokeToken",
            "SignUp",
            "ConfirmSignUp",
            "ForgotPassword",
            "ConfirmForgotPassword",
            "ChangePassword",
        )
    },
    # SQS (SAR: Amazon SQS; SendMessageBatch is authorized as sqs:SendMessage)
    ("sqs", "SendMessage"): _op("sqs:SendMessage", "queue ARN from QueueUrl", _sqs("sqs:SendMessage")),
    ("sqs", "SendMessageBatch"): _op(
        "sqs:SendMessage", "queue ARN from QueueUrl", _sqs("sqs:SendMessage"), "SQS developer guide, batch actions"
    ),
    ("sqs", "ReceiveMessage"): _op("sqs:ReceiveMessage", "queue ARN from QueueUrl", _sqs("sqs:ReceiveMessage")),
    ("sqs", "DeleteMessage"): _op("sqs:DeleteMessage", "queue ARN from QueueUrl", _sqs("sqs:DeleteMessage")),
    ("sqs", "GetQueueAttributes"): _op(
        "sqs:GetQueueAttributes", "queue ARN from QueueUrl", _sqs("sqs:GetQueueAttributes")
    ),
    # KMS (SAR: AWS Key Management Service; the key policy decides: KMS Developer Guide, "Key policies")
    ("kms", "GenerateMac"): _op(
        "kms:GenerateMac", "key/ID; keys kms:MacAlgorithm, kms:CallerAccount", _kms_mac("kms:GenerateMac")
    ),
    ("kms", "VerifyMac"): _op(
        "kms:VerifyMac", "key/ID; keys kms:MacAlgorithm, kms:CallerAccount", _kms_mac("kms:VerifyMac")
    ),
    # CloudWatch, CloudWatch Logs, X-Ray (SAR)
    ("cloudwatch", "PutMetricData"): _op(
        "cloudwatch:PutMetricData",
        "*; key cloudwatch:namespace",
        _star("cloudwatch:PutMetricData", lambda p: {"cloudwatch:namespace": str(_required(p, "Namespace"))}),
    ),
    ("logs", "CreateLogGroup"): _op("logs:CreateLogGroup", "log-group:NAME", _log_group),
    ("logs", "CreateLogStream"): _op(
        "logs:CreateLogStream", "log-group:NAME:log-stream:STREAM", _log_stream("CreateLogStream")
    ),
    ("logs", "PutLogEvents"): _op("logs:PutLogEvents", "log-group:NAME:log-stream:STREAM", _log_stream("PutLogEvents")),
    ("xray", "PutTraceSegments"): _op("xray:PutTraceSegments", "*", _star("xray:PutTraceSegments")),
    ("xray", "PutTelemetryRecords"): _op("xray:PutTelemetryRecords", "*", _star("xray:PutTelemetryRecords")),
    # STS (STS API reference: "No permissions are required to perform this operation")
    ("sts", "GetCallerIdentity"): _op("none", "none", _none, "STS API reference: always allowed"),
    ("sts", "AssumeRole"): _op("sts:AssumeRole", "role ARN", _assume_role),
    # EventBridge Scheduler and EventBridge (SAR)
    ("scheduler", "CreateSchedule"): _op(
        "scheduler:CreateSchedule + iam:PassRole", "schedule/GROUP/NAME", _schedule("CreateSchedule", True)
    ),
    ("scheduler", "UpdateSchedule"): _op(
        "scheduler:UpdateSchedule + iam:PassRole", "schedule/GROUP/NAME", _schedule("UpdateSchedule", True)
    ),
    ("scheduler", "GetSchedule"): _op("scheduler:GetSchedule", "schedule/GROUP/NAME", _schedule("GetSchedule")),
    ("scheduler", "DeleteSchedule"): _op(
        "scheduler:DeleteSchedule", "schedule/GROUP/NAME", _schedule("DeleteSchedule")
    ),
    ("events", "PutEvents"): _op("events:PutEvents", "event-bus/NAME, one per entry", _put_events),
    # CloudFormation (SAR: AWS CloudFormation)
    ("cloudformation", "DescribeStacks"): _op("cloudformation:DescribeStacks", "stack/NAME/ID", _describe_stacks),
    ("cloudformation", "ListStacks"): _op("cloudformation:ListStacks", "*", _star("cloudformation:ListStacks")),
}


def requests_for(
    service: str,
    operation: str,
    params: Mapping[str, Any],
    *,
    region: str,
    account: str,
    partition: str = "aws",
    ses_sandbox: bool = True,
) -> list[AuthRequest]:
    """Every authorization AWS makes for one call; an empty list when the operation needs none.

    service: botocore's service name (client.meta.service_model.service_name); operation: botocore's operation
    name; params: the API parameters as given to the boto3 method. ses_sandbox: whether SES also authorizes each
    recipient's identity (it does while the account is in the sandbox). Raises UnknownOperation for an operation
    this module does not know, so that a new call is noticed rather than let through.
    """
    rule = OPERATIONS.get((service, operation))
    if rule is None:
        raise UnknownOperation(
            f"the embedded AWS does not know how AWS authorizes {service}.{operation}: add an entry for "
            f"({service!r}, {operation!r}) to OPERATIONS in local/embedded_aws/strict/iam.py, with the action and the "
            "resource ARN the Service Authorization Reference gives for it "
            "(https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-"
            "contextkeys.html)"
        )
    try:
        return rule.derive(params, _Call(region, account, partition, ses_sandbox))
    except UnknownOperation as exc:
        raise UnknownOperation(f"{service}.{operation}: {exc}") from exc


# ---------------------------------------------------------------------------------------------------------------
# AccessDenied as each service answers it


@dataclass(frozen=True)
class _ErrorStyle:
    code: str
    status: int
    message: str  # "iam", "s3" (resource in double quotes) or "ses" (backquoted, SES's own wording)
    query: bool = False  # query-protocol services add Type: Sender to the parsed error


# JSON-protocol services answer AccessDeniedException with 400; REST-JSON ones with 403; query-protocol ones (and the
# JSON services that keep their query-era codes: SQS, CloudWatch) answer AccessDenied with 403.
_ERROR_STYLES: Mapping[str, _ErrorStyle] = {
    "sagemaker": _ErrorStyle("AccessDeniedException", 400, "iam"),
    "dynamodb": _ErrorStyle("AccessDeniedException", 400, "iam"),
    "ssm": _ErrorStyle("AccessDeniedException", 400, "iam"),
    "stepfunctions": _ErrorStyle("AccessDeniedException", 400, "iam"),
    "cognito-idp": _ErrorStyle("AccessDeniedException", 400, "iam"),
    "logs": _ErrorStyle("AccessDeniedException", 400, "iam"),
    "events": _ErrorStyle("AccessDeniedException", 400, "iam"),
    "lambda": _ErrorStyle("AccessDeniedException", 403, "iam"),
    "xray": _ErrorStyle("AccessDeniedException", 403, "iam"),
    "scheduler": _ErrorStyle("AccessDeniedException", 403, "iam"),
    "sesv2": _ErrorStyle("AccessDeniedException", 403, "ses"),
    "ses": _ErrorStyle("AccessDenied", 403, "ses", query=True),
    "s3": _ErrorStyle("AccessDenied", 403, "s3"),
    "sts": _ErrorStyle("AccessDenied", 403, "iam", query=True),
    "iam": _ErrorStyle("AccessDenied", 403, "iam", query=True),
    "cloudformation": _ErrorStyle("AccessDenied", 403, "iam", query=True),
    "cloudwatch": _ErrorStyle("AccessDenied", 403, "iam"),
    "kms": _ErrorStyle("AccessDeniedException", 400, "iam"),
    "sqs": _ErrorStyle("AccessDenied", 403, "iam"),
}
_DEFAULT_STYLE = _ErrorStyle("AccessDeniedException", 400, "iam")


def access_denied_message(service: str, principal_arn: str, request: AuthRequest, decision: Decision) -> str:
    """AWS's wording: "User: P is not authorized to perform: A on resource: R because no identity-based policy
    allows the A action" (IAM User Guide, "Troubleshoot access denied error messages"). A resource-less action
    ("*") names no resource; S3 quotes the resource; SES words it its own way."""
    style = _ERROR_STYLES.get(service, _DEFAULT_STYLE)
    action, resource = request.action, request.resource
    if style.message == "ses":
        return f"User `{principal_arn}' is not authorized to perform `{action}' on resource `{resource}'"
    if decision.explicit_deny:
        why = f"with an explicit deny in {_article(decision.policy_type)} policy"
    else:
        why = f"because no {decision.policy_type} policy allows the {action} action"
    if resource == "*":
        on = ""
    elif style.message == "s3":
        on = f' on resource: "{resource}"'
    else:
        on = f" on resource: {resource}"
    return f"User: {principal_arn} is not authorized to perform: {action}{on} {why}"


def _article(policy_type: str) -> str:
    return ("an " if policy_type[0] in "aeiou" else "a ") + policy_type


def access_denied_error(
    service: str,
    operation: str,
    principal_arn: str,
    request: AuthRequest,
    decision: Decision,
    *,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The refusal as botocore parses it: {"Error": {"Code", "Message"}, "ResponseMetadata": {...}}.

    S3's HeadObject answers 403 without a body, so botocore reports Code "403" and Message "Forbidden".
    """
    style = _ERROR_STYLES.get(service, _DEFAULT_STYLE)
    request_id = request_id or str(uuid.uuid4())
    if service == "s3" and operation == "HeadObject":
        error: dict[str, str] = {"Code": "403", "Message": "Forbidden"}
    else:
        error = {"Code": style.code, "Message": access_denied_message(service, principal_arn, request, decision)}
        if style.query:
            error["Type"] = "Sender"
    return {
        "Error": error,
        "ResponseMetadata": {
            "RequestId": request_id,
            "HTTPStatusCode": style.status,
            "HTTPHeaders": {"x-amzn-requestid": request_id},
            "RetryAttempts": 0,
        },
    }


def operations_table() -> str:
    """OPERATIONS as a Markdown table, for docs/embedded-aws.md: every call the embedded AWS can authorize."""
    rows = ["| service | operation | action(s) | resource | source |", "| --- | --- | --- | --- | --- |"]
    for (service, operation), rule in sorted(OPERATIONS.items()):
        rows.append(f"| {service} | {operation} | {rule.actions} | {rule.resource} | {rule.source} |")
    return "\n".join(rows)
