"""CloudFormation-level checks on what SAM would deploy: the template transformed offline, then linted.

`sam validate --lint` runs cfn-lint on the SAM template without expanding it, so the generated roles,
permissions and their dependency cycles (E3004) never reach it. Here the real transform (aws-sam-translator)
runs first, for the [local] and the [default] parameters of samconfig.toml, and then:

- cfn-lint with the serverless rules (cfn-lint-serverless) on the transformed template;
- parliament on every policy document, its intrinsics resolved to plausible values first, so it can tell an
  unknown action or an ARN of the wrong resource type;
- a check that each function's generated role allows every AWS call its code makes (the audit table of
  docs/deploy.md), with the request's own resource ARN and condition keys.

Every finding fails the test unless it is listed below with its reason (docs/deploy.md lists them too); an
accepted finding that no longer occurs fails as well, so the lists stay true.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from embedded_aws.sam_transform import AWS_MANAGED_POLICIES, parameter_values, transform
from embedded_aws.stack import samconfig_overrides

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
REGION = "us-east-1"
ACCOUNT = "123456789012"
ENVIRONMENTS = ("local", "default")
# What CloudFormation appends to a generated physical name.
SUFFIX = "AbCdEf123456"

# cfn-lint findings kept on purpose: (rule, resource) -> why. Errors stay here only while their fix is open.
ACCEPTED_CFN_LINT: dict[tuple[str, str], str] = {
    ("ES6000", "AsyncFailuresQueue"): (
        "ES6000 asks every queue for a RedrivePolicy, i.e. a dead-letter queue of its own. This queue IS the "
        "dead-letter queue (Lambda's on-failure destination and the EventBridge rules' DeadLetterConfig): a "
        "redrive from it would only move the unhandled events somewhere nobody watches."
    ),
}

# parliament findings kept on purpose: (policy name pattern, issue, subject) -> why.
_SAM_SCHEDULE_POLICY = (
    "SAM generates the Scheduler role's policy without a Version. IAM then reads it as the 2008-10-17 policy "
    "language, which differs from 2012-10-17 only in policy variables, and this policy uses none."
)
ACCEPTED_PARLIAMENT: dict[tuple[str, str, str], str] = {
    ("*", "RESOURCE_MISMATCH", "states:DescribeExecution needs arn:*:states:*:*:express:*:*:*"): (
        "The Service Authorization Reference lists two resource types for DescribeExecution, execution and "
        "express (Express workflows' executions), and parliament wants both. The state machine is STANDARD: "
        "its executions have execution ARNs only, which the statement names."
    ),
    ("SweepApprovalsFunctionSweepRole/SweepApprovalsFunctionSweepLambdaPolicy", "NO_VERSION", ""): _SAM_SCHEDULE_POLICY,
    ("ReconcileFunctionReconcileRole/ReconcileFunctionReconcileLambdaPolicy", "NO_VERSION", ""): _SAM_SCHEDULE_POLICY,
    **{
        (f"{function}Role/{function}EventInvokeConfigOnFailureSQSPolicy", "NO_VERSION", ""): (
            "SAM generates the on-failure destination's sqs:SendMessage policy without a Version: as above, it uses "
            "no policy variables."
        )
        for function in (
            "StartPromotionFunction",
            "TransformCompletedFunction",
            "SweepApprovalsFunction",
            "ReconcileFunction",
        )
    },
}


# -- the transformed template ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Transformed:
    environment: str
    parameters: dict[str, Any]
    template: dict[str, Any]

    @property
    def resources(self) -> dict[str, Any]:
        return self.template["Resources"]


@functools.cache
def transformed_for(environment: str) -> Transformed:
    overrides = samconfig_overrides(ROOT / "samconfig.toml", environment)
    template = transform(TEMPLATE, overrides, region=REGION, account_id=ACCOUNT)
    return Transformed(environment, parameter_values(template, overrides), template)


@functools.cache
def lint_findings_for(environment: str) -> tuple[LintFinding, ...]:
    return tuple(lint(transformed_for(environment).template))


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def stack(request: pytest.FixtureRequest) -> Transformed:
    return transformed_for(request.param)


# -- cfn-lint --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LintFinding:
    rule: str
    level: str
    resource: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule} ({self.level}) {self.resource}: {self.message}"


def lint(template: Mapping[str, Any]) -> list[LintFinding]:
    from cfnlint.api import ManualArgs
    from cfnlint.api import lint as cfn_lint

    # `append_rules` is a cfn-lint option ManualArgs' type does not declare; the runner reads it all the same.
    config = ManualArgs(regions=[REGION], append_rules=["cfn_lint_serverless.rules"])  # type: ignore[typeddict-unknown-key]
    return [
        LintFinding(m.rule.id, m.rule.severity, str(m.path[1]) if len(m.path) > 1 else "", m.message)
        for m in cfn_lint(json.dumps(template), config=config)
    ]


def test_the_transformed_template_has_no_cfn_lint_finding_but_the_accepted_ones(stack: Transformed) -> None:
    unexpected = [f for f in lint_findings_for(stack.environment) if (f.rule, f.resource) not in ACCEPTED_CFN_LINT]
    assert not unexpected, f"[{stack.environment}] cfn-lint on the transformed template:\n" + "\n".join(
        map(str, unexpected)
    )


def test_the_stack_has_no_circular_dependency(stack: Transformed) -> None:
    # CloudFormation refuses to create a stack whose resources depend on each other in a cycle.
    cycles = [f for f in lint_findings_for(stack.environment) if f.rule == "E3004"]
    assert not cycles, "\n".join(map(str, cycles))


def test_every_accepted_cfn_lint_finding_still_occurs(stack: Transformed) -> None:
    found = {(f.rule, f.resource) for f in lint_findings_for(stack.environment)}
    stale = sorted(set(ACCEPTED_CFN_LINT) - found)
    assert not stale, f"fixed, so remove from ACCEPTED_CFN_LINT (and docs/deploy.md): {stale}"


def test_the_lint_sees_dependency_cycles_the_state_machine_definition_and_the_serverless_rules() -> None:
    # Given the transformed template with a cycle, a broken ASL and a function without its log group
    broken = copy.deepcopy(transformed_for("local").template)
    resources = broken["Resources"]
    role_policy = resources["ApprovalApiFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    role_policy["Statement"].append(
        {"Effect": "Allow", "Action": "states:DescribeStateMachine", "Resource": {"Ref": "PromotionStateMachine"}}
    )
    resources["PromotionStateMachine"]["Properties"]["Definition"]["StartAt"] = "No such state"
    del resources["ReconcileLogGroup"]

    # When it is linted
    rules = {f.rule for f in lint(broken)}

    # Then each defect is reported: the checks above would fail on them
    assert {"E3004", "E3601", "WS1004"} <= rules, rules


# -- plausible values for intrinsics ---------------------------------------------------------------------
class Plausible:
    """Resolves intrinsics to values of the right shape for each resource type, as CloudFormation would
    produce them, so that ARNs carry their real service, resource type and name."""

    def __init__(self, stack: Transformed, stack_name: str):
        self.stack = stack
        self.stack_name = stack_name
        self.conditions: dict[str, bool] = {}

    def physical_name(self, logical_id: str) -> str:
        return f"{self.stack_name}-{logical_id}-{SUFFIX}"[:64]

    def _explicit_name(self, logical_id: str, name_property: str) -> str | None:
        props = self.stack.resources[logical_id].get("Properties", {})
        return self.resolve(props[name_property]) if name_property in props else None

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::StackName": self.stack_name,
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.stack.parameters:
            return self.stack.parameters[name]
        kind = self.stack.resources[name]["Type"]
        refs = {
            "AWS::StepFunctions::StateMachine": lambda: self.get_att(name, "Arn"),
            "AWS::Logs::LogGroup": lambda: self._explicit_name(name, "LogGroupName") or self.physical_name(name),
            "AWS::Cognito::UserPool": lambda: f"{REGION}_AbCdEf123",
            "AWS::ApiGatewayV2::Api": lambda: "a1b2c3d4e5",
            "AWS::SQS::Queue": lambda: f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{self.physical_name(name)}",
            "AWS::SNS::Topic": lambda: self.get_att(name, "TopicArn"),
        }
        return refs.get(kind, lambda: self.physical_name(name))()

    def get_att(self, logical_id: str, attribute: str) -> str:
        kind = self.stack.resources[logical_id]["Type"]
        name = self.physical_name(logical_id)
        if kind == "AWS::StepFunctions::StateMachine":
            name = self._explicit_name(logical_id, "StateMachineName") or name
        if attribute == "Name" and kind == "AWS::StepFunctions::StateMachine":
            return name
        arns = {
            "AWS::Lambda::Function": lambda: f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
            "AWS::DynamoDB::Table": lambda: f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}",
            "AWS::S3::Bucket": lambda: f"arn:aws:s3:::{name.lower()}",
            "AWS::StepFunctions::StateMachine": lambda: f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}",
            "AWS::IAM::Role": lambda: f"arn:aws:iam::{ACCOUNT}:role/{name}",
            "AWS::Logs::LogGroup": lambda: f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{self.ref(logical_id)}:*",
            "AWS::SQS::Queue": lambda: f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}",
            "AWS::SNS::Topic": lambda: f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}",
            "AWS::Cognito::UserPool": lambda: f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{REGION}_AbCdEf123",
        }
        if attribute not in {"Arn", "TopicArn"} or kind not in arns:
            raise AssertionError(f"no plausible value for Fn::GetAtt {logical_id}.{attribute} ({kind}): add one")
        return arns[kind]()

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = bool(self.resolve(self.stack.template["Conditions"][name]))
        return self.conditions[name]

    def _sub(self, arg: Any) -> str:
        text, variables = (
            (arg, {}) if isinstance(arg, str) else (arg[0], {k: self.resolve(v) for k, v in arg[1].items()})
        )

        def one(name: str) -> str:
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                return self.get_att(*name.split(".", 1))
            return str(self.ref(name))

        out, rest = [], text
        while "${" in rest:
            before, _, after = rest.partition("${")
            name, _, rest = after.partition("}")
            out.append(before + ("${" + name[1:] + "}" if name.startswith("!") else one(name)))
        return "".join(out) + rest

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.resolve(item) for item in value) if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return NO_VALUE if arg == "AWS::NoValue" else self.ref(arg)
            if key == "Fn::GetAtt":
                return self.get_att(*(arg if isinstance(arg, list) else arg.split(".", 1)))
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Join":
                return str(arg[0]).join(str(v) for v in self.resolve(arg[1]))
            if key == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            if key == "Fn::Split":
                return str(self.resolve(arg[1])).split(arg[0])
            if key == "Fn::If":
                return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
            if key == "Fn::Equals":
                return self.resolve(arg[0]) == self.resolve(arg[1])
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(a) for a in arg)
            if key == "Fn::Or":
                return any(self.resolve(a) for a in arg)
            if key == "Condition":
                return self.condition(arg)
            if key.startswith("Fn::"):
                raise AssertionError(f"no plausible value for {key}: add it")
        return {k: v for k, v in ((k, self.resolve(v)) for k, v in value.items()) if v is not NO_VALUE}


NO_VALUE = object()


def stack_name(environment: str) -> str:
    config = samconfig_stack_names()
    return config.get(environment, config["default"])


@functools.cache
def samconfig_stack_names() -> dict[str, str]:
    import tomllib

    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    names = {"default": config["default"]["global"]["parameters"]["stack_name"]}
    for environment, sections in config.items():
        if isinstance(sections, dict):
            for section in sections.values():
                if isinstance(section, dict) and "stack_name" in section.get("parameters", {}):
                    names[environment] = section["parameters"]["stack_name"]
    return names


def plausible(stack: Transformed) -> Plausible:
    return Plausible(stack, stack_name(stack.environment))


def active(stack: Transformed, resource: Mapping[str, Any], values: Plausible) -> bool:
    return "Condition" not in resource or values.condition(resource["Condition"])


# -- parliament ------------------------------------------------------------------------------------------
def policy_documents(stack: Transformed) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every identity and resource policy of the template (not trust policies), resolved."""
    values = plausible(stack)
    for lid, resource in stack.resources.items():
        if not active(stack, resource, values):
            continue
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                yield f"{lid}/{policy['PolicyName']}", values.resolve(policy["PolicyDocument"])
        elif "PolicyDocument" in props:
            yield lid, values.resolve(props["PolicyDocument"])


def parliament_findings(document: Mapping[str, Any]) -> list[Any]:
    import parliament

    policy = parliament.analyze_policy_string(json.dumps(document), ignore_private_auditors=True)
    return [parliament.enhance_finding(f) for f in policy.findings]


@dataclass(frozen=True)
class PolicyFinding:
    policy: str
    issue: str
    subject: str  # for RESOURCE_MISMATCH "<action> needs <ARN format>", one finding per pair
    text: str

    def accepted_by(self) -> tuple[str, str, str] | None:
        for key in ACCEPTED_PARLIAMENT:
            pattern, issue, subject = key
            if fnmatchcase(self.policy, pattern) and (issue, subject) == (self.issue, self.subject):
                return key
        return None


@functools.cache
def all_parliament_findings(environment: str) -> tuple[PolicyFinding, ...]:
    found = []
    for name, document in policy_documents(transformed_for(environment)):
        for finding in parliament_findings(document):
            text = f"{finding.severity}: {finding.title} {finding.detail}"
            if finding.issue == "RESOURCE_MISMATCH" and isinstance(finding.detail, list):
                for item in finding.detail:
                    subject = f"{item['action']} needs {item['required_format']}"
                    found.append(PolicyFinding(name, finding.issue, subject, text))
            else:
                found.append(PolicyFinding(name, finding.issue, "", text))
    return tuple(found)


def test_every_policy_has_known_actions_and_resources_of_their_types(stack: Transformed) -> None:
    unexpected = [f for f in all_parliament_findings(stack.environment) if f.accepted_by() is None]
    assert not unexpected, f"[{stack.environment}] parliament:\n" + "\n".join(
        f"{f.policy} | {f.issue} | {f.text}" for f in unexpected
    )


def test_every_accepted_parliament_finding_still_occurs(stack: Transformed) -> None:
    used = {f.accepted_by() for f in all_parliament_findings(stack.environment)}
    stale = sorted(set(ACCEPTED_PARLIAMENT) - used)
    assert not stale, f"fixed, so remove from ACCEPTED_PARLIAMENT (and docs/deploy.md): {stale}"


def test_parliament_sees_an_unknown_action_and_an_arn_of_the_wrong_type() -> None:
    # Given a policy with a misspelt action and a table ARN given to an S3 action
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "dynamodb:PutItems", "Resource": "*"},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t"},
        ],
    }

    # When parliament reads it, then it reports both
    assert {"UNKNOWN_ACTION", "RESOURCE_MISMATCH"} <= {f.issue for f in parliament_findings(document)}


# -- every AWS call each function makes is allowed by its generated role ------------------------------------
GROUP, VERSION, STAGE, NEXT_STAGE = "fraud-model", 3, "dev", "test"
REGISTRANT = "dana.scientist@example.com"


@dataclass(frozen=True)
class Call:
    """One AWS request: the IAM action it is authorized as, its resource, and its condition keys."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()


def expected_calls(stack: Transformed) -> dict[str, list[Call]]:
    """The audit of docs/deploy.md: what each function's code calls (handlers -> services -> adapters),
    and what the state machine and the schedules invoke. Resource-less actions are authorized against "*"."""
    v = plausible(stack)
    p = stack.parameters
    approvals, decisions = v.get_att("ApprovalsTable", "Arn"), v.get_att("DecisionLogTable", "Arn")
    state_machine = v.get_att("PromotionStateMachine", "Arn")
    execution = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{v.get_att('PromotionStateMachine', 'Name')}:{GROUP}-v3"
    package = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/{VERSION}"
    parameter = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{p['ParameterPrefix']}/{GROUP}"
    batch = v.get_att("BatchDataBucket", "Arn")
    batch_output = f"{batch}/{p['BatchOutputPrefix']}/{GROUP}/v{VERSION}/{STAGE}"
    sender = p["SenderAddress"]
    approvers = [a for entry in p["StageApprovers"].split(";") for a in entry.partition("=")[2].split(",")]
    transform_role = (
        v.get_att("TransformExecutionRole", "Arn")
        if v.condition("CreateTransformRole")
        else p["SageMakerExecutionRoleArn"]
    )

    def mail(*recipients: str) -> list[Call]:
        # SES authorizes the sender's identity and, in the sandbox, each recipient's. SES v2 SendEmail with raw
        # content (SesMailer) is authorized as ses:SendRawEmail (anymail/django-anymail#384,
        # aws/aws-actionmailer-ses-ruby#10); both actions are checked, so a switch to simple content keeps working.
        return [
            Call(action, f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/{identity}", (("ses:FromAddress", sender),))
            for action in ("ses:SendEmail", "ses:SendRawEmail")
            for identity in (sender, sender.split("@")[1], *recipients)
        ]

    def send_task() -> list[Call]:
        return [Call("states:SendTaskSuccess", "*"), Call("states:SendTaskFailure", "*")]

    def invoke(*functions: str) -> list[Call]:
        return [Call("lambda:InvokeFunction", v.get_att(f, "Arn")) for f in functions]

    def runs_as_lambda(function: str) -> list[Call]:
        log_group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{v.physical_name(function)}"
        return [
            Call("logs:CreateLogStream", f"{log_group}:log-stream:2026/12/01/[$LATEST]0123456789abcdef"),
            Call("logs:PutLogEvents", f"{log_group}:log-stream:2026/12/01/[$LATEST]0123456789abcdef"),
            Call("xray:PutTraceSegments", "*"),
            Call("xray:PutTelemetryRecords", "*"),
        ]

    calls = {
        # Cognito invokes it with the token's claims; it calls nothing.
        "PreTokenGenerationFunction": [],
        "StartPromotionFunction": [
            Call("sagemaker:DescribeModelPackage", package),
            Call("states:DescribeExecution", execution),
            Call("states:StartExecution", state_machine),
        ],
        "RequestApprovalFunction": [
            Call("ssm:GetParameter", f"{parameter}/{STAGE}"),
            Call("dynamodb:PutItem", approvals),
            # a rollback's claims: its earlier approval and the registry's version
            Call("dynamodb:Query", decisions),
            Call("sagemaker:DescribeModelPackage", package),
            *mail(*approvers),
            # a retry reads how the earlier attempt ended
            Call("states:GetExecutionHistory", execution),
        ],
        "ApprovalApiFunction": [
            Call("ssm:GetParameter", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{p['ParameterPrefix']}-config/sign-in"),
            Call("dynamodb:GetItem", approvals),
            Call("dynamodb:UpdateItem", approvals),
            # sessions: stored at sign-in, read on every page, deleted at sign-out; in a table of their own
            Call("dynamodb:GetItem", v.get_att("SessionsTable", "Arn")),
            Call("dynamodb:PutItem", v.get_att("SessionsTable", "Arn")),
            Call("dynamodb:DeleteItem", v.get_att("SessionsTable", "Arn")),
            # a session's groups, read again from the directory every few minutes
            Call("cognito-idp:AdminGetUser", v.get_att("ApproverUserPool", "Arn")),
            Call("cognito-idp:AdminListGroupsForUser", v.get_att("ApproverUserPool", "Arn")),
            *send_task(),
            # a send whose answer was lost is looked up in the execution's history
            Call("states:GetExecutionHistory", execution),
        ],
        "OperatorConsoleFunction": [
            Call("ssm:GetParameter", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{p['ParameterPrefix']}-config/sign-in"),
            # its own sessions, in a table of their own (never the approval pages')
            *(
                Call(f"dynamodb:{a}", v.get_att("ConsoleSessionsTable", "Arn"))
                for a in ("GetItem", "PutItem", "DeleteItem")
            ),
            Call("cognito-idp:AdminGetUser", v.get_att("ApproverUserPool", "Arn")),
            Call("cognito-idp:AdminListGroupsForUser", v.get_att("ApproverUserPool", "Arn")),
            # what waits; a cancel closes the request and reads who won; a resend stores fresh links
            Call("dynamodb:Query", f"{approvals}/index/pending-by-expiry"),
            *(Call(f"dynamodb:{a}", approvals) for a in ("BatchGetItem", "GetItem", "UpdateItem", "PutItem")),
            # the audit log: read, and each intervention appended to its chain
            Call("dynamodb:Query", decisions),
            Call("dynamodb:PutItem", decisions),
            Call("sagemaker:ListModelPackageGroups", "*"),
            Call("sagemaker:ListModelPackages", "*"),
            Call("sagemaker:DescribeModelPackage", package),
            Call("sagemaker:UpdateModelPackage", package),
            Call("states:DescribeExecution", execution),
            Call("states:StopExecution", execution),
            Call("states:StartExecution", state_machine),
            *mail(*approvers),
        ],
        "RecordOutcomeFunction": [
            # the audit chain: its tail (Query), then the entry and its chain position (TransactWriteItems' Puts)
            Call("dynamodb:Query", decisions),
            Call("dynamodb:PutItem", decisions),
            Call("sagemaker:DescribeModelPackage", package),
            Call("sagemaker:UpdateModelPackage", package),
            Call("ssm:GetParameter", f"{parameter}/{STAGE}"),
            Call("ssm:PutParameter", f"{parameter}/{STAGE}"),
            *mail(REGISTRANT, p["OperationsEmail"]),
            # a failure or an expiry of the approval wait is checked against the history
            Call("states:GetExecutionHistory", execution),
        ],
        "CheckRegisteredMetricsFunction": [
            Call("sagemaker:DescribeModelPackage", package),
            Call("s3:GetObject", f"arn:aws:s3:::{p['ModelArtifactsBucketName']}/{GROUP}/v3/statistics.json"),
            Call("s3:ListBucket", f"arn:aws:s3:::{p['ModelArtifactsBucketName']}"),
        ],
        "PlanScoringFunction": [Call("ssm:GetParameter", f"{parameter}/{NEXT_STAGE}")],
        "StartTransformFunction": [
            Call("dynamodb:PutItem", approvals),
            Call("dynamodb:DeleteItem", approvals),
            Call("sagemaker:CreateModel", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/mp-{GROUP}-v{VERSION}"),
            Call("iam:PassRole", transform_role, (("iam:PassedToService", "sagemaker.amazonaws.com"),)),
            *(
                Call(action, f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:transform-job/mp-{GROUP}-v3-dev-chall-0a1b2c3d")
                for action in ("sagemaker:CreateTransformJob", "sagemaker:AddTags", "sagemaker:DescribeTransformJob")
            ),
            *send_task(),
        ],
        "TransformCompletedFunction": [
            Call("dynamodb:DeleteItem", approvals),
            Call("dynamodb:PutItem", approvals),
            *send_task(),
        ],
        "CollectMetricsFunction": [
            Call("s3:GetObject", f"{batch}/{p['BatchInputPrefix']}/{STAGE}/labels.csv"),
            Call("s3:ListBucket", batch),
            Call("s3:GetObject", f"{batch_output}/challenger/input.csv.out"),
            Call("s3:PutObject", f"{batch_output}/challenger/metrics.json"),
        ],
        "SweepApprovalsFunction": [
            Call("dynamodb:Query", f"{approvals}/index/pending-by-expiry"),
            Call("dynamodb:BatchGetItem", approvals),
            Call("dynamodb:UpdateItem", approvals),
            Call("dynamodb:PutItem", approvals),
            # a decision left SENDING: read whole, settled from the history, sent again
            Call("dynamodb:GetItem", approvals),
            Call("states:GetExecutionHistory", execution),
            *send_task(),
            *mail(*approvers),
        ],
        "ReconcileFunction": [
            Call("sagemaker:ListModelPackageGroups", "*"),
            Call("sagemaker:ListModelPackages", "*"),
            Call("sagemaker:DescribeModelPackage", package),
            Call("states:DescribeExecution", execution),
            Call("states:StartExecution", state_machine),
        ],
    }
    for function, function_calls in calls.items():
        function_calls.extend(runs_as_lambda(function))
    calls["PromotionStateMachine"] = [
        *invoke(
            "CheckRegisteredMetricsFunction",
            "RequestApprovalFunction",
            "RecordOutcomeFunction",
            "PlanScoringFunction",
            "StartTransformFunction",
            "CollectMetricsFunction",
        ),
        *(Call(f"logs:{action}", "*") for action in ("CreateLogDelivery", "GetLogDelivery", "UpdateLogDelivery")),
        Call("xray:PutTraceSegments", "*"),
    ]
    calls["SweepApprovalsFunctionSweep"] = invoke("SweepApprovalsFunction")
    calls["ReconcileFunctionReconcile"] = invoke("ReconcileFunction")
    return calls


def role_of(stack: Transformed, caller: str) -> str:
    props = stack.resources[caller]["Properties"]
    role = props.get("Role") or props.get("RoleArn") or props.get("Target", {}).get("RoleArn")
    assert isinstance(role, dict) and "Fn::GetAtt" in role, f"{caller}'s role is not one of the template's"
    return role["Fn::GetAtt"][0]


def role_documents(stack: Transformed, role: str) -> list[dict[str, Any]]:
    values = plausible(stack)
    props = stack.resources[role]["Properties"]
    documents = [values.resolve(p["PolicyDocument"]) for p in props.get("Policies", [])]
    documents += [AWS_MANAGED_POLICIES[arn] for arn in values.resolve(props.get("ManagedPolicyArns", []))]
    return documents


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _conditions_hold(conditions: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    """The operators this template uses; any other one makes the statement not apply (fail closed)."""
    matchers = {"StringEquals": str.__eq__, "StringLike": fnmatchcase, "ArnEquals": str.__eq__, "ArnLike": fnmatchcase}
    for operator, keys in conditions.items():
        if operator not in matchers:
            return False
        for key, wanted in keys.items():
            if key not in context or not any(matchers[operator](context[key], w) for w in _listed(wanted)):
                return False
    return True


def allows(documents: list[dict[str, Any]], call: Call) -> bool:
    context = dict(call.context)
    allowed = False
    for document in documents:
        for statement in _listed(document["Statement"]):
            if not any(fnmatchcase(call.action.lower(), a.lower()) for a in _listed(statement["Action"])):
                continue
            if not any(fnmatchcase(call.resource, r) for r in _listed(statement["Resource"])):
                continue
            if not _conditions_hold(statement.get("Condition", {}), context):
                continue
            if statement["Effect"] == "Deny":
                return False
            allowed = True
    return allowed


def test_every_role_allows_every_call_its_code_makes(stack: Transformed) -> None:
    denied = []
    for caller, calls in expected_calls(stack).items():
        documents = role_documents(stack, role_of(stack, caller))
        denied += [
            f"{caller}: {c.action} on {c.resource} {dict(c.context) or ''}" for c in calls if not allows(documents, c)
        ]
    assert not denied, f"[{stack.environment}] AccessDenied in AWS:\n" + "\n".join(denied)


def test_the_audit_covers_every_function_of_the_template(stack: Transformed) -> None:
    functions = {lid for lid, r in stack.resources.items() if r["Type"] == "AWS::Lambda::Function"}
    assert functions <= set(expected_calls(stack)), sorted(functions - set(expected_calls(stack)))


def test_mail_goes_out_only_from_the_sender_address(stack: Transformed) -> None:
    # Any recipient identity is allowed (the SES sandbox checks each), but only with SenderAddress as From.
    identity = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/someone@example.com"
    sender = (("ses:FromAddress", stack.parameters["SenderAddress"]),)
    for function in (
        "RequestApprovalFunction",
        "RecordOutcomeFunction",
        "SweepApprovalsFunction",
        "OperatorConsoleFunction",
    ):
        documents = role_documents(stack, role_of(stack, function))
        for action in ("ses:SendEmail", "ses:SendRawEmail"):
            assert allows(documents, Call(action, identity, sender)), (function, action)
            assert not allows(documents, Call(action, identity, (("ses:FromAddress", "forged@example.com"),)))
            assert not allows(documents, Call(action, identity))


def test_only_the_approval_pages_may_sign_decisions_and_only_record_outcome_may_verify_them(stack: Transformed) -> None:
    # The key policy is the only grant (KMS evaluates it first); the account root administers the key but
    # cannot sign or verify with it, so no identity policy anyone writes can make a signer.
    values = plausible(stack)
    policy = values.resolve(stack.resources["DecisionSigningKey"]["Properties"]["KeyPolicy"])
    grants: dict[str, set[str]] = {}
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        for principal in _listed(statement["Principal"]["AWS"]):
            grants.setdefault(principal, set()).update(_listed(statement["Action"]))
    root = f"arn:aws:iam::{ACCOUNT}:root"
    signer, verifier = (
        values.get_att("ApprovalApiFunctionRole", "Arn"),
        values.get_att("RecordOutcomeFunctionRole", "Arn"),
    )
    assert grants[signer] == {"kms:GenerateMac"}
    assert grants[verifier] == {"kms:VerifyMac"}
    assert not [
        a for a in grants[root] if a in ("kms:*", "kms:GenerateMac", "kms:VerifyMac") or a.startswith("kms:Gen")
    ]
    assert set(grants) == {root, signer, verifier}


def test_no_role_but_the_approval_pages_may_touch_the_sessions_table(stack: Transformed) -> None:
    # Whoever can write a session signs as the person it names, so no other role may write (or read) one.
    sessions = plausible(stack).get_att("SessionsTable", "Arn")
    for caller in expected_calls(stack):
        if caller in ("ApprovalApiFunction", "PromotionStateMachine") or caller.endswith(("Sweep", "Reconcile")):
            continue
        documents = role_documents(stack, role_of(stack, caller))
        for action in ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"):
            assert not allows(documents, Call(action, sessions)), (caller, action)


def test_no_role_but_the_consoles_may_touch_its_sessions_table_and_the_console_cannot_decide(
    stack: Transformed,
) -> None:
    values = plausible(stack)
    sessions = values.get_att("ConsoleSessionsTable", "Arn")
    for caller in expected_calls(stack):
        if caller in ("OperatorConsoleFunction", "PromotionStateMachine") or caller.endswith(("Sweep", "Reconcile")):
            continue
        documents = role_documents(stack, role_of(stack, caller))
        for action in ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"):
            assert not allows(documents, Call(action, sessions)), (caller, action)
    console = role_documents(stack, role_of(stack, "OperatorConsoleFunction"))
    assert not allows(console, Call("states:SendTaskSuccess", "*"))
    assert not allows(console, Call("dynamodb:PutItem", values.get_att("SessionsTable", "Arn")))
    assert not allows(
        console, Call("kms:GenerateMac", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    )
