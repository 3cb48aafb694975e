"""Who may do what in the embedded stack: the roles and resource policies SAM generates, read from the
transformed template, never re-derived by hand.

aws-sam-translator (what SAM CLI runs) expands each function's Policies, policy templates and event
sources into AWS::IAM::Role, AWS::Lambda::Permission, AWS::Events::Rule and AWS::Scheduler::Schedule
resources. Their intrinsics are resolved against the local stack's names, and the result is written
as one JSON document every process of the embedded AWS loads (strict/sdk_hook.py).

Resource-based policies come from the template too: SAM's Lambda permissions, SQS queue policies, and a
DynamoDB table's `ResourcePolicy`, which also governs the table's indexes ("You can control index
permissions using the base table's policy": DynamoDB API reference, PutResourcePolicy). KMS key policies are
not here: the keys are created after this document is written, and sdk_hook.py reads each key's policy from
the embedded KMS when the key is used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..template import ACCOUNT_ID, Resolver, TemplateError


@dataclass
class StackPrincipals:
    """The resolved IAM facts of one stack."""

    # Role ARN -> its policy documents (inline ones and the AWS managed ones attached).
    policies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Resource ARN -> its resource-based policy (a Lambda function's permissions, a queue's policy, a DynamoDB
    # table's ResourcePolicy under the table's ARN and each of its indexes' ARNs).
    resource_policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Function logical id -> the ARN of the role it runs as.
    function_roles: dict[str, str] = field(default_factory=dict)
    # State machine logical id -> its role's ARN.
    state_machine_roles: dict[str, str] = field(default_factory=dict)
    # Function logical id -> the ARN of the role each of its schedules invokes it with.
    schedule_roles: dict[str, list[str]] = field(default_factory=dict)
    # Function logical id -> the ARNs of the EventBridge rules that target it.
    rule_arns: dict[str, list[str]] = field(default_factory=dict)
    # Rule ARN -> the queue ARN its target's DeadLetterConfig names (what EventBridge could not deliver).
    rule_dead_letters: dict[str, str] = field(default_factory=dict)
    # Function logical id -> (maximum retry attempts, on-failure destination ARN) of its async invocations.
    async_configs: dict[str, tuple[int, str | None]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "principals": {arn: {"policies": docs} for arn, docs in self.policies.items()},
            "resourcePolicies": self.resource_policies,
        }


def _name_generated(transformed: Mapping[str, Any], resolver: Resolver, stack_name: str, region: str) -> None:
    """Physical names for the resources SAM adds, in the forms CloudFormation gives them."""
    for lid, resource in transformed.get("Resources", {}).items():
        kind = resource.get("Type")
        if lid in resolver.refs:
            continue
        name = f"{stack_name}-{lid}"[:64]
        if kind == "AWS::IAM::Role":
            resolver.refs[lid] = name
            resolver.attributes[(lid, "Arn")] = f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"
        elif kind == "AWS::Events::Rule":
            resolver.refs[lid] = name
            resolver.attributes[(lid, "Arn")] = f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/{name}"
        elif kind == "AWS::SQS::Queue":
            resolver.refs[lid] = f"http://sqs.{region}.localhost/{ACCOUNT_ID}/{name}"
            resolver.attributes[(lid, "Arn")] = f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{name}"
            resolver.attributes[(lid, "QueueName")] = name
        elif kind == "AWS::Logs::LogGroup":
            resolver.refs[lid] = name
            resolver.attributes[(lid, "Arn")] = f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:{name}:*"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def read_principals(
    transformed: Mapping[str, Any],
    resolver: Resolver,
    managed_policies: Mapping[str, Mapping[str, Any]],
    stack_name: str,
    region: str,
) -> StackPrincipals:
    """Resolves the transformed template's IAM resources against the local stack (see module docstring)."""
    _name_generated(transformed, resolver, stack_name, region)
    resources: Mapping[str, Any] = transformed.get("Resources", {})
    principals = StackPrincipals()

    def resolve(value: Any, where: str) -> Any:
        try:
            return resolver.resolve(value)
        except TemplateError as exc:
            raise TemplateError(f"{where}: {exc}") from exc

    def active(resource: Mapping[str, Any]) -> bool:
        return "Condition" not in resource or resolver.condition(resource["Condition"])

    for lid, resource in resources.items():
        if not active(resource):
            continue
        props = resource.get("Properties", {})
        kind = resource.get("Type")
        if kind == "AWS::IAM::Role":
            arn = resolver.attributes[(lid, "Arn")]
            documents = [
                resolve(p["PolicyDocument"], f"{lid} policy {p.get('PolicyName')}") for p in props.get("Policies", [])
            ]
            for managed in resolve(props.get("ManagedPolicyArns", []), f"{lid} ManagedPolicyArns"):
                if managed not in managed_policies:
                    raise TemplateError(
                        f"{lid} attaches {managed}, whose document the embedded AWS does not have: add it to "
                        "AWS_MANAGED_POLICIES in local/embedded_aws/sam_transform.py"
                    )
                documents.append(dict(managed_policies[managed]))
            principals.policies[arn] = documents
        elif kind == "AWS::Lambda::Function":
            principals.function_roles[lid] = resolve(props["Role"], f"{lid} Role")
        elif kind == "AWS::StepFunctions::StateMachine":
            principals.state_machine_roles[lid] = resolve(props["RoleArn"], f"{lid} RoleArn")
        elif kind == "AWS::Lambda::Permission":
            function_arn = _function_arn(resolve(props["FunctionName"], f"{lid} FunctionName"), region)
            statement: dict[str, Any] = {
                "Sid": lid,
                "Effect": "Allow",
                "Principal": {"Service": resolve(props["Principal"], f"{lid} Principal")},
                "Action": resolve(props["Action"], f"{lid} Action"),
                "Resource": function_arn,
            }
            if "SourceArn" in props:
                statement["Condition"] = {"ArnLike": {"aws:SourceArn": resolve(props["SourceArn"], f"{lid} SourceArn")}}
            policy = principals.resource_policies.setdefault(function_arn, {"Version": "2012-10-17", "Statement": []})
            policy["Statement"].append(statement)
        elif kind == "AWS::Events::Rule":
            for target in props.get("Targets", []):
                function = _logical_id_of(target.get("Arn"))
                if function:
                    principals.rule_arns.setdefault(function, []).append(resolver.attributes[(lid, "Arn")])
                dead_letter = target.get("DeadLetterConfig", {}).get("Arn")
                if dead_letter:
                    principals.rule_dead_letters[resolver.attributes[(lid, "Arn")]] = resolve(
                        dead_letter, f"{lid} DeadLetterConfig"
                    )
        elif kind == "AWS::DynamoDB::Table" and "ResourcePolicy" in props:
            document = resolve(props["ResourcePolicy"]["PolicyDocument"], f"{lid} ResourcePolicy")
            table_arn = resolver.attributes[(lid, "Arn")]
            principals.resource_policies[table_arn] = document
            for index in [*props.get("GlobalSecondaryIndexes", []), *props.get("LocalSecondaryIndexes", [])]:
                principals.resource_policies[f"{table_arn}/index/{resolve(index['IndexName'], lid)}"] = document
        elif kind == "AWS::SQS::QueuePolicy":
            document = resolve(props["PolicyDocument"], f"{lid} PolicyDocument")
            for queue_url in resolve(props["Queues"], f"{lid} Queues"):
                queue_arn = _queue_arn(queue_url, region)
                principals.resource_policies[queue_arn] = document
        elif kind == "AWS::Scheduler::Schedule":
            target = props.get("Target", {})
            function = _logical_id_of(target.get("Arn"))
            if function:
                principals.schedule_roles.setdefault(function, []).append(resolve(target["RoleArn"], f"{lid} RoleArn"))
        elif kind == "AWS::Lambda::EventInvokeConfig":
            function = _logical_id_of(props.get("FunctionName"))
            destination = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            if function:
                principals.async_configs[function] = (
                    int(props.get("MaximumRetryAttempts", 2)),
                    resolve(destination, f"{lid} OnFailure") if destination else None,
                )
    return principals


def _logical_id_of(reference: Any) -> str | None:
    """The logical id a Ref or Fn::GetAtt names (the targets SAM writes are always one of the two)."""
    if isinstance(reference, Mapping):
        if "Ref" in reference:
            return str(reference["Ref"])
        if "Fn::GetAtt" in reference:
            target = reference["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else target.split(".", 1)[0])
    return None


def _queue_arn(queue_url: str, region: str) -> str:
    return f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{queue_url.rstrip('/').rsplit('/', 1)[-1]}"


def _function_arn(name_or_arn: str, region: str) -> str:
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name_or_arn}"
