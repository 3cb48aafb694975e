"""Bring up the embedded AWS: moto in server mode, the template's resources, its handlers, events and API."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import sys
import tempfile
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .demo_users import demo_addresses, seed_approvers
from .eventbridge import EventBus, publish_registry_events
from .faults import FaultError, FaultInjector
from .hosted_ui import HostedUi
from .http_api import HttpRoute, LocalHttpApi
from .lambda_runtime import RUNTIME, FunctionSpec, LocalLambdaRuntime
from .moto_fixes import apply_all as apply_moto_fixes
from .sam_transform import AWS_MANAGED_POLICIES, transform
from .scheduler import LocalScheduler
from .strict import sdk_hook
from .strict.principals import StackPrincipals, read_principals
from .strict.service_limits import CognitoAppClients, SesSandbox
from .template import ACCOUNT_ID, Resolver, TemplateError, load_template, parameter_values, parse_overrides
from .transform_runner import LocalTransformRunner

log = logging.getLogger("embedded_aws")

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
# What a KMS key's ARN names before KMS has created the key (preflight resolves the functions' environments).
PLACEHOLDER_KEY = "00000000-0000-4000-8000-000000000000"
# A federated approver of every embedded stack: signed in "at the corporate IdP" (the stand-in's form), a dev and
# test approver by the IdP's group claim alone. Her IdP subject is also her IAM Identity Center user name.
FEDERATED_USER = "fran.federated@example.com"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def samconfig_overrides(path: Path, environment: str = "local") -> dict[str, str]:
    """The parameter_overrides of one samconfig.toml environment ([local] for the embedded stack)."""
    if not path.exists():
        return {}
    config = tomllib.loads(path.read_text(encoding="utf-8"))
    overrides = config.get(environment, {}).get("deploy", {}).get("parameters", {}).get("parameter_overrides", [])
    if isinstance(overrides, str):
        overrides = overrides.split()
    return parse_overrides(list(overrides))


@dataclass
class StackInfo:
    """What a client needs to reach the stack; written to a JSON file by `python -m embedded_aws up`."""

    aws_endpoint: str
    api_url: str
    region: str
    stack_name: str
    resources: dict[str, str]
    parameters: dict[str, Any]
    # The roles and resource policies the stack enforces (strict/principals.py), for tools that check a call.
    iam_path: str = ""
    pid: int = field(default_factory=os.getpid)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class EmbeddedStack:
    def __init__(
        self,
        project_root: Path = PROJECT_ROOT,
        overrides: dict[str, str] | None = None,
        aws_port: int = 0,
        api_port: int = 0,
        host: str = "127.0.0.1",
        stack_name: str = "model-promotion-local",
        transform_seconds: float = 0.0,
        schedule_seconds: float = 0.0,
        state_dir: Path | None = None,
        ses_production_access: bool = False,
    ):
        self.ses_production_access = ses_production_access
        self.state_dir = state_dir or Path(tempfile.mkdtemp(prefix="embedded-aws-"))
        self.transform_seconds = transform_seconds
        self.schedule_seconds = schedule_seconds
        self.schedules: list[tuple[str, str, FunctionSpec, dict[str, Any] | None]] = []
        self.root = project_root
        self.host = host
        self.aws_port = aws_port or free_port()
        self.api_port = api_port or free_port()
        self.stack_name = stack_name
        self.aws_endpoint = f"http://{host}:{self.aws_port}"
        self.api_url = f"http://{host}:{self.api_port}"
        self.template = load_template(self.root / "template.yaml")
        wanted = samconfig_overrides(self.root / "samconfig.toml")
        wanted.update(overrides or {})
        # Approval links must point at this machine's API, as a custom domain would in AWS.
        wanted.setdefault("ApprovalBaseUrl", self.api_url)
        # The hosted UI stand-in is served by the same local server (see hosted_ui.py).
        wanted.setdefault("SignInBaseUrl", self.api_url)
        self.parameters = parameter_values(self.template, wanted)
        self.resolver = Resolver(self.template, self.parameters, REGION, stack_name)
        # What SAM would deploy: the generated roles, permissions, rules and schedules come from here.
        self.transformed = transform(self.root / "template.yaml", {k: _override_text(v) for k, v in wanted.items()})
        self.principals = StackPrincipals()
        self.faults: FaultInjector | None = None
        self.runtime: LocalLambdaRuntime | None = None
        self.bus: EventBus | None = None
        self.api: LocalHttpApi | None = None
        self.scheduler: LocalScheduler | None = None
        self._moto: Any = None

    # -- moto --------------------------------------------------------------------------------------
    def _start_moto(self) -> None:
        if sys.version_info[:2] != (3, 13):
            # The functions run on this interpreter: differences from the python3.13 runtime go unnoticed.
            log.warning(
                "the embedded Lambda runs python%d.%d; template.yaml's runtime is python3.13 (make PYTHON=python3.13)",
                *sys.version_info[:2],
            )
        os.environ.update(
            {
                "AWS_ACCESS_KEY_ID": "embedded",
                "AWS_SECRET_ACCESS_KEY": "embedded",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                # The interpreter calls back into moto on this port for every AWS SDK integration.
                "MOTO_PORT": str(self.aws_port),
                # Every boto3 client in this process, the handlers' included, talks to the embedded AWS.
                "AWS_ENDPOINT_URL": self.aws_endpoint,
            }
        )
        os.environ.pop("AWS_PROFILE", None)
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer

        apply_moto_fixes()
        sandbox = SesSandbox()
        sandbox.production_access = self.ses_production_access
        sandbox.install()
        CognitoAppClients().install()
        self._moto = ThreadedMotoServer(ip_address=self.host, port=self.aws_port, verbose=False)
        self._moto.start()
        # Every request to the embedded AWS passes the fault injector (a no-op until a fault is armed).
        self.faults = FaultInjector(self._moto._server.app)
        self._moto._server.app = self.faults
        import requests

        requests.post(
            f"{self.aws_endpoint}/moto-api/config",
            json={"stepfunctions": {"execute_state_machine": True}},
            timeout=10,
        ).raise_for_status()

    def _client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, region_name=REGION, endpoint_url=self.aws_endpoint)

    # -- provisioning ------------------------------------------------------------------------------
    def _resources(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        """The template's resources of one type whose Condition (if any) holds, as CloudFormation creates them."""
        return [
            (lid, r)
            for lid, r in self.template["Resources"].items()
            if r.get("Type") == kind and ("Condition" not in r or self.resolver.condition(r["Condition"]))
        ]

    def _physical_name(self, logical_id: str, lowercase: bool = False) -> str:
        name = f"{self.stack_name}-{logical_id}"[:63]
        return name.lower() if lowercase else name

    def _name_resources(self) -> None:
        r = self.resolver
        for lid, _ in self._resources("AWS::DynamoDB::Table"):
            name = self._physical_name(lid)
            r.refs[lid] = name
            r.attributes[(lid, "Arn")] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}"
        for lid, _ in self._resources("AWS::S3::Bucket"):
            name = self._physical_name(lid, lowercase=True)
            r.refs[lid] = name
            r.attributes[(lid, "Arn")] = f"arn:aws:s3:::{name}"
        for lid, _ in self._resources("AWS::Serverless::Function"):
            name = self._physical_name(lid)
            r.refs[lid] = name
            r.attributes[(lid, "Arn")] = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
        for lid, resource in self._resources("AWS::Serverless::StateMachine"):
            given = resource.get("Properties", {}).get("Name")
            name = str(r.resolve(given)) if given else self._physical_name(lid)
            r.refs[lid] = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{name}"
            r.attributes[(lid, "Name")] = name
            r.attributes[(lid, "Arn")] = r.refs[lid]
        for lid, _ in self._resources("AWS::Serverless::HttpApi"):
            r.refs[lid] = "localapi"
        for lid, _ in self._resources("AWS::SQS::Queue"):
            name = self._physical_name(lid)[:80]
            r.refs[lid] = f"{self.aws_endpoint}/{ACCOUNT_ID}/{name}"
            r.attributes[(lid, "Arn")] = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}"
            r.attributes[(lid, "QueueName")] = name
        for lid, _ in self._resources("AWS::IAM::Role"):
            name = self._physical_name(lid)
            r.refs[lid] = name
            r.attributes[(lid, "Arn")] = f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"
        for lid, _ in self._resources("AWS::Cognito::UserPool"):
            # moto makes up a pool's id when it creates the pool (_provision_identity), which then names it for
            # good; until then its ARN names the logical id, so that what refers to the pool resolves.
            r.attributes[(lid, "Arn")] = f"arn:aws:cognito-idp:{REGION}:{ACCOUNT_ID}:userpool/{REGION}_{lid}"

    def _provision_identity(self) -> None:
        """User pools first: their ids are generated, and clients, groups and parameters refer to them."""
        cognito = self._client("cognito-idp")
        for lid, resource in self._resources("AWS::Cognito::UserPool"):
            props = self.resolver.resolve(resource.get("Properties", {}))
            props.pop("UserPoolAddOns", None)
            pool = cognito.create_user_pool(PoolName=self._physical_name(lid), **props)["UserPool"]
            self.resolver.refs[lid] = pool["Id"]
            self.resolver.attributes[(lid, "Arn")] = pool["Arn"]
        for lid, resource in self._resources("AWS::Cognito::UserPoolClient"):
            props = self.resolver.resolve(resource.get("Properties", {}))
            client = cognito.create_user_pool_client(**props)["UserPoolClient"]
            self.resolver.refs[lid] = client["ClientId"]
        for lid, resource in self._resources("AWS::Cognito::UserPoolGroup"):
            props = self.resolver.resolve(resource.get("Properties", {}))
            cognito.create_group(**props)
            self.resolver.refs[lid] = props["GroupName"]
        for lid, resource in self._resources("AWS::Cognito::UserPoolDomain"):
            self.resolver.refs[lid] = self.resolver.resolve(resource["Properties"]["Domain"])

    def _provision_keys(self) -> None:
        """KMS keys, with the key policy the template gives (the strict IAM layer evaluates it)."""
        kms = self._client("kms")
        for lid, resource in self._resources("AWS::KMS::Key"):
            props = self.resolver.resolve(resource["Properties"])
            key = kms.create_key(
                Description=props.get("Description", lid),
                KeySpec=props.get("KeySpec", "SYMMETRIC_DEFAULT"),
                KeyUsage=props.get("KeyUsage", "ENCRYPT_DECRYPT"),
                Policy=json.dumps(props["KeyPolicy"]),
            )["KeyMetadata"]
            self.resolver.refs[lid] = key["KeyId"]
            self.resolver.attributes[(lid, "Arn")] = key["Arn"]
            self.resolver.attributes[(lid, "KeyId")] = key["KeyId"]

    def _provision_parameters(self) -> None:
        ssm = self._client("ssm")
        for lid, resource in self._resources("AWS::SSM::Parameter"):
            props = self.resolver.resolve(resource["Properties"])
            ssm.put_parameter(Name=props["Name"], Value=props["Value"], Type=props.get("Type", "String"))
            self.resolver.refs[lid] = props["Name"]

    def _globals(self) -> dict[str, Any]:
        return self.template.get("Globals", {}).get("Function", {})

    def _raw_variables(self, props: dict[str, Any]) -> dict[str, Any]:
        """A function's environment variables as the template writes them (Globals first), before resolving."""
        variables = dict(self._globals().get("Environment", {}).get("Variables", {}))
        variables.update(props.get("Environment", {}).get("Variables", {}))
        return variables

    def _environment(self, props: dict[str, Any]) -> dict[str, str]:
        return {k: str(v) for k, v in self.resolver.resolve(self._raw_variables(props)).items()}

    def _function_specs(self) -> list[FunctionSpec]:
        defaults = self._globals()
        specs = []
        for lid, resource in self._resources("AWS::Serverless::Function"):
            props = resource.get("Properties", {})
            specs.append(
                FunctionSpec(
                    logical_id=lid,
                    name=self.resolver.refs[lid],
                    arn=self.resolver.attributes[(lid, "Arn")],
                    code_uri=(self.root / props["CodeUri"]).resolve(),
                    handler=props["Handler"],
                    environment=self._environment(props),
                    timeout=int(props.get("Timeout", defaults.get("Timeout", 3))),
                    memory_size=int(props.get("MemorySize", defaults.get("MemorySize", 128))),
                    role_arn=self.principals.function_roles[lid],
                    tracing=str(self.resolver.resolve(props.get("Tracing", defaults.get("Tracing", "PassThrough")))),
                    **self._async_config(lid),
                )
            )
        return specs

    def _async_config(self, lid: str) -> dict[str, Any]:
        retries, destination = self.principals.async_configs.get(lid, (2, None))
        config: dict[str, Any] = {"maximum_retry_attempts": retries}
        if destination:
            if ":sqs:" not in destination:
                raise TemplateError(f"{lid}: the embedded AWS delivers on-failure events to SQS queues only")
            name = destination.rsplit(":", 1)[-1]
            config["on_failure_queue_arn"] = destination
            config["on_failure_queue_url"] = f"{self.aws_endpoint}/{ACCOUNT_ID}/{name}"
        return config

    def _provision(self, functions: list[FunctionSpec]) -> None:
        dynamodb, s3, iam = self._client("dynamodb"), self._client("s3"), self._client("iam")
        for lid, resource in self._resources("AWS::DynamoDB::Table"):
            props = self.resolver.resolve(resource["Properties"])
            dynamodb.create_table(
                TableName=self.resolver.refs[lid],
                AttributeDefinitions=props["AttributeDefinitions"],
                KeySchema=props["KeySchema"],
                BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
                **(
                    {"GlobalSecondaryIndexes": props["GlobalSecondaryIndexes"]}
                    if "GlobalSecondaryIndexes" in props
                    else {}
                ),
            )
            if "TimeToLiveSpecification" in props:
                dynamodb.update_time_to_live(
                    TableName=self.resolver.refs[lid], TimeToLiveSpecification=props["TimeToLiveSpecification"]
                )
        for lid, _ in self._resources("AWS::S3::Bucket"):
            s3.create_bucket(Bucket=self.resolver.refs[lid])
        sqs = self._client("sqs")
        for lid, _ in self._resources("AWS::SQS::Queue"):
            sqs.create_queue(QueueName=self.resolver.attributes[(lid, "QueueName")])
        # Every role of the transformed template, SAM's generated ones included. Their policies are
        # evaluated from iam.json (strict/principals.py), not by moto's IAM.
        for lid, resource in self.transformed["Resources"].items():
            if resource.get("Type") != "AWS::IAM::Role":
                continue
            if "Condition" in resource and not self.resolver.condition(resource["Condition"]):
                continue
            props = self.resolver.resolve(resource["Properties"])
            iam.create_role(
                RoleName=self.resolver.refs[lid], AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"])
            )
        self._provision_functions(functions)
        self._verify_ses_identities()
        self._provision_state_machines()

    def _provision_functions(self, functions: list[FunctionSpec]) -> None:
        """Registers each function with moto's Lambda so it can be listed and described like in AWS.

        The code package is a placeholder: invocations never reach moto's Lambda (see lambda_runtime).
        """
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as bundle:
            bundle.writestr("placeholder.py", "# The embedded AWS runs the handler from the project tree.\n")
        lambda_client = self._client("lambda")
        for spec in functions:
            lambda_client.create_function(
                FunctionName=spec.name,
                Runtime=RUNTIME,
                Role=spec.role_arn,
                Handler=spec.handler,
                Code={"ZipFile": archive.getvalue()},
                Timeout=spec.timeout,
                MemorySize=spec.memory_size,
                Environment={"Variables": spec.environment},
            )

    def _verify_ses_identities(self) -> None:
        """Verifies the addresses an account owner verifies in SES's sandbox: the sender, operations and
        escalation, and the demo users (approvers, registrant, outsider; see demo_users.py).

        Addresses, not the domain: a verified domain would verify every recipient in it, and the sandbox
        (strict/service_limits.py) must refuse any address nobody verified, as SES does.
        """
        addresses = {self.parameters.get(name, "") for name in ("SenderAddress", "OperationsEmail", "EscalationEmail")}
        addresses |= set(demo_addresses(self.parameters.get("StageApprovers", "")))
        ses = self._client("ses")
        for address in sorted(a for a in addresses if a):
            ses.verify_email_identity(EmailAddress=address)

    def _provision_state_machines(self) -> None:
        sfn = self._client("stepfunctions")
        for lid, resource in self._resources("AWS::Serverless::StateMachine"):
            props = resource["Properties"]
            definition = (self.root / props["DefinitionUri"]).read_text(encoding="utf-8")
            # SAM replaces ${Name} in the ASL file with each DefinitionSubstitutions value, as plain text.
            for key, value in self.resolver.resolve(props.get("DefinitionSubstitutions", {})).items():
                definition = definition.replace("${" + key + "}", str(value))
            json.loads(definition)  # a substitution that broke the JSON should fail here, not mid-execution
            sfn.create_state_machine(
                name=self.resolver.attributes[(lid, "Name")],
                definition=definition,
                roleArn=self.principals.state_machine_roles[lid],
                type=props.get("Type", "STANDARD"),
                tracingConfiguration={"enabled": bool(props.get("Tracing", {}).get("Enabled", False))},
            )

    def _routes(
        self, functions: list[FunctionSpec]
    ) -> tuple[list[tuple[str, dict[str, Any], FunctionSpec]], list[HttpRoute]]:
        by_id = {f.logical_id: f for f in functions}
        rules, routes = [], []
        self.schedules = []
        for lid, resource in self._resources("AWS::Serverless::Function"):
            for event_id, event in resource.get("Properties", {}).get("Events", {}).items():
                props = self.resolver.resolve(event.get("Properties", {}))
                if event["Type"] == "EventBridgeRule":
                    rules.append((f"{lid}{event_id}", props["Pattern"], by_id[lid]))
                elif event["Type"] == "HttpApi":
                    routes.append(HttpRoute(props["Method"].upper(), props["Path"], by_id[lid]))
                elif event["Type"] == "ScheduleV2":
                    payload = json.loads(props["Input"]) if props.get("Input") else None
                    self.schedules.append((f"{lid}{event_id}", props["ScheduleExpression"], by_id[lid], payload))
                else:
                    raise TemplateError(f"{lid}: event type {event['Type']} is not supported by the embedded AWS")
        return rules, routes

    # -- lifecycle ---------------------------------------------------------------------------------
    def preflight(self) -> None:
        """What `up` checks before it starts anything, so that a stack that cannot work never says it is up:
        both ports are free, and each function's settings read from the environment the template gives it,
        by the function's own code (model_promotion.config), as its first invocation would read them.
        Raises TemplateError with one line that names the port or the parameter."""
        for port, option in ((self.aws_port, "--aws-port"), (self.api_port, "--api-port")):
            if port_in_use(self.host, port):
                raise TemplateError(
                    f"port {port} on {self.host} ({option}) is in use: another `make up` may be running; "
                    f"stop it, or choose another port with {option}"
                )
        self._name_resources()
        for lid, _ in self._resources("AWS::KMS::Key"):  # the key's real ARN exists once KMS creates it
            self.resolver.attributes.setdefault(
                (lid, "Arn"), f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{PLACEHOLDER_KEY}"
            )
        functions = self._resources("AWS::Serverless::Function")
        for code_uri in sorted({str((self.root / r["Properties"]["CodeUri"]).resolve()) for _, r in functions}):
            if code_uri not in sys.path:  # the functions' own code, from their CodeUri
                sys.path.append(code_uri)
        from model_promotion.config import check_function_settings
        from model_promotion.domain.errors import ConfigurationError

        for lid, resource in functions:
            props = resource.get("Properties", {})
            try:
                check_function_settings(props["Handler"].rpartition(".")[0], self._environment(props))
            except ConfigurationError as exc:
                raise TemplateError(_named_by_parameter(str(exc), self._raw_variables(props), lid)) from None

    def start(self) -> StackInfo:
        self._start_moto()
        self._name_resources()
        self._provision_identity()
        self._read_principals()
        self._provision_keys()  # their policies name the functions' roles
        functions = self._function_specs()
        self._provision(functions)
        self._provision_parameters()
        self._seed_users()
        self.runtime = LocalLambdaRuntime(
            functions, self.aws_endpoint, REGION, iam_path=self.iam_path, send_to_queue=self._send_on_failure
        )
        self.runtime.install()
        self.runtime.warm()
        self.bus = EventBus(self.runtime, self._event_rule_arn, self._events_may_invoke, self._rule_dead_letter)
        rules, routes = self._routes(functions)
        for name, pattern, target in rules:
            self.bus.add_rule(name, pattern, target)
        publish_registry_events(self.bus)
        LocalTransformRunner(self.bus, self.aws_endpoint, REGION, self.transform_seconds).install()
        self.bus.start()
        self.scheduler = LocalScheduler(self.runtime, self._scheduler_may_invoke, self.schedule_seconds)
        for name, expression, target, payload in self.schedules:
            self.scheduler.add(name, expression, target, payload)
        self.scheduler.start()
        self.api = LocalHttpApi(self.runtime, routes, REGION)
        for lid, _ in self._resources("AWS::Cognito::UserPool"):
            hosted_ui = HostedUi(self._client("cognito-idp"), self.resolver.refs[lid], self._invoke_cognito_trigger)
            self.api.extra_routes.update(hosted_ui.routes())
        self.api.extra_routes[("POST", "/_local/drop-next-events")] = self._drop_next_events
        self.api.extra_routes[("POST", "/_local/faults")] = self._arm_fault
        self.api.extra_routes[("GET", "/_local/faults")] = self._armed_faults
        self.api.extra_routes[("DELETE", "/_local/faults")] = self._clear_faults
        self.api.extra_routes[("GET", "/_local/traces")] = self.runtime.xray.serve
        self.api.start(self.host, self.api_port)
        return self.info()

    @property
    def iam_path(self) -> Path:
        return self.state_dir / "iam.json"

    def _read_principals(self) -> None:
        """The roles and permissions SAM generates; this process's own calls (the state machine
        interpreter's) are then checked as the state machine's role."""
        self.principals = read_principals(
            self.transformed, self.resolver, AWS_MANAGED_POLICIES, self.stack_name, REGION
        )
        self.iam_path.write_text(json.dumps(self.principals.to_json(), indent=1), encoding="utf-8")
        callers = {sdk_hook.credentials_for(role)[0]: lid for lid, role in self.principals.function_roles.items()}
        assert self.faults is not None
        self.faults.caller_of = callers.get
        self.faults.callers = tuple(sorted(callers.values()))
        machines = list(self.principals.state_machine_roles.values())
        sdk_hook.install(iam_path=self.iam_path, interpreter_role_arn=machines[0] if machines else None)

    def _event_rule_arn(self, rule: str) -> str:
        return self.resolver.attributes[(rule, "Arn")]

    def _events_may_invoke(self, spec: FunctionSpec, rule_arn: str) -> bool:
        """EventBridge invokes a function only as its resource policy allows (SAM's AWS::Lambda::Permission)."""
        from .strict.iam import AuthRequest, Principal, evaluate

        request = AuthRequest(
            "lambda:InvokeFunction", spec.arn, {"aws:SourceArn": rule_arn, "aws:SourceAccount": ACCOUNT_ID}
        )
        policy = self.principals.resource_policies.get(spec.arn)
        return evaluate([], request, policy, principal=Principal(service="events.amazonaws.com")).allowed

    def _rule_dead_letter(self, rule_arn: str, event: dict[str, Any], error_code: str) -> None:
        """EventBridge sends an event it could not deliver to the target's dead-letter queue, as the queue's
        policy allows (events.amazonaws.com, aws:SourceArn the rule), with its error in message attributes."""
        from .strict.iam import AuthRequest, Principal, evaluate

        queue_arn = self.principals.rule_dead_letters.get(rule_arn)
        if queue_arn is None:
            return
        request = AuthRequest(
            "sqs:SendMessage", queue_arn, {"aws:SourceArn": rule_arn, "aws:SourceAccount": ACCOUNT_ID}
        )
        policy = self.principals.resource_policies.get(queue_arn)
        if not evaluate([], request, policy, principal=Principal(service="events.amazonaws.com")).allowed:
            log.error("rule %s: its dead-letter queue's policy refuses EventBridge; the event is lost", rule_arn)
            return
        self._client("sqs").send_message(
            QueueUrl=f"{self.aws_endpoint}/{ACCOUNT_ID}/{queue_arn.rsplit(':', 1)[-1]}",
            MessageBody=json.dumps(event),
            MessageAttributes={
                "RULE_ARN": {"DataType": "String", "StringValue": rule_arn},
                "ERROR_CODE": {"DataType": "String", "StringValue": error_code},
            },
        )

    def _scheduler_may_invoke(self, spec: FunctionSpec) -> bool:
        """EventBridge Scheduler invokes a target with the schedule's role (SAM generates one per ScheduleV2)."""
        from .strict.iam import AuthRequest, Principal, evaluate

        roles = self.principals.schedule_roles.get(spec.logical_id, [])
        request = AuthRequest("lambda:InvokeFunction", spec.arn)
        return bool(roles) and all(
            evaluate(self.principals.policies.get(role, []), request, principal=Principal(arn=role)).allowed
            for role in roles
        )

    def _send_on_failure(self, spec: FunctionSpec, record: dict[str, Any]) -> None:
        """Lambda sends a failed asynchronous event to the destination with the function's own role."""
        sqs = sdk_hook.client_as(spec.role_arn, "sqs", region=REGION, endpoint_url=self.aws_endpoint)
        try:
            sqs.send_message(QueueUrl=spec.on_failure_queue_url, MessageBody=json.dumps(record))
        except Exception as exc:  # Lambda drops the event when the destination refuses it
            log.error("%s: on-failure destination refused the event: %s", spec.name, exc)

    def _arm_fault(self, request: Any) -> Any:
        """POST /_local/faults {"service", "operation", "fault", "count", "seconds"}: see faults.py."""
        from werkzeug.wrappers import Response

        assert self.faults is not None
        try:
            body = json.loads(request.get_data() or b"{}")
            fault = self.faults.arm(
                str(body.get("service", "")),
                str(body.get("operation", "")),
                str(body.get("fault", "")),
                int(body.get("count", 1)),
                float(body.get("seconds", 60.0)),
                body.get("code"),
                int(body["status"]) if body.get("status") is not None else None,
                body.get("caller"),
            )
        except (FaultError, ValueError, TypeError) as exc:
            return Response(json.dumps({"message": str(exc)}), status=400, content_type="application/json")
        return Response(json.dumps(fault.__dict__), status=201, content_type="application/json")

    def _armed_faults(self, request: Any) -> Any:
        from werkzeug.wrappers import Response

        assert self.faults is not None
        return Response(json.dumps(self.faults.armed()), content_type="application/json")

    def _clear_faults(self, request: Any) -> Any:
        from werkzeug.wrappers import Response

        assert self.faults is not None
        self.faults.clear()
        return Response(status=204)

    def _drop_next_events(self, request: Any) -> Any:
        """Test aid: lose the next N events on the bus (about ?group= only, of ?detail-type= only, when given),
        as EventBridge may, to prove reconcile and the sweep recover them."""
        from werkzeug.wrappers import Response

        count = request.args.get("count", "1")
        if not count.isdigit():
            return Response("count must be a whole number\n", status=400)
        assert self.bus is not None
        self.bus.drop_next(int(count), request.args.get("group") or None, request.args.get("detail-type") or None)
        return Response(status=204)

    def _invoke_cognito_trigger(self, function_arn: str, pool_arn: str, event: dict[str, Any]) -> dict[str, Any]:
        """Cognito invokes a user pool's trigger synchronously as cognito-idp.amazonaws.com, as the function's
        resource policy allows (AWS::Lambda::Permission, aws:SourceArn the pool), and fails the sign-in when the
        function fails ("PreTokenGeneration failed with error ...")."""
        from .hosted_ui import TriggerFailed
        from .strict.iam import AuthRequest, Principal, evaluate

        assert self.runtime is not None
        spec = next((f for f in self.runtime.functions.values() if f.arn == function_arn), None)
        if spec is None:
            raise TriggerFailed(f"the user pool's trigger {function_arn} is no function of this stack")
        request = AuthRequest(
            "lambda:InvokeFunction", spec.arn, {"aws:SourceArn": pool_arn, "aws:SourceAccount": ACCOUNT_ID}
        )
        policy = self.principals.resource_policies.get(spec.arn)
        if not evaluate([], request, policy, principal=Principal(service="cognito-idp.amazonaws.com")).allowed:
            raise TriggerFailed(f"{spec.logical_id}'s resource policy does not let Cognito invoke it for {pool_arn}")
        result = self.runtime.invoke(spec, event)
        answer = json.loads(result.payload or b"null")
        if result.function_error:
            message = answer.get("errorMessage") if isinstance(answer, dict) else None
            raise TriggerFailed(f"PreTokenGeneration failed with error {message or result.function_error}.")
        return answer if isinstance(answer, dict) else {}

    def _seed_users(self) -> None:
        if "ApproverGroupPrefix" not in self.parameters:
            return
        for lid, _ in self._resources("AWS::Cognito::UserPool"):
            cognito, pool = self._client("cognito-idp"), self.resolver.refs[lid]
            seed_approvers(
                cognito,
                pool,
                self.parameters["StageApprovers"],
                self.parameters["ApproverGroupPrefix"],
                self.parameters.get("OperatorGroupName"),
            )
            self._seed_federated_user(cognito, pool)

    def _seed_federated_user(self, cognito: Any, pool: str) -> None:
        """A user as Cognito creates one at a corporate IdP's first sign-in: an `identities` attribute naming the
        IdP and its subject, and the attributes the IdP's assertion maps (the group claim in Cognito's form for a
        multi-valued SAML attribute). In no Cognito group: her approver groups are the IdP's, through the pre
        token generation trigger. The hosted UI stand-in signs her in with the demo password."""
        provider = self.parameters.get("IdentityProviderName") or "Corporate"
        prefix = self.parameters["ApproverGroupPrefix"]
        identities = [
            {
                "userId": FEDERATED_USER,
                "providerName": provider,
                "providerType": "SAML",
                "issuer": None,
                "primary": "true",
                "dateCreated": "1764547200000",
            }
        ]
        cognito.admin_create_user(
            UserPoolId=pool,
            Username=FEDERATED_USER,
            UserAttributes=[
                {"Name": "email", "Value": FEDERATED_USER},
                {"Name": "name", "Value": "Fran Federated"},
                {"Name": "identities", "Value": json.dumps(identities)},
                {"Name": "custom:groups", "Value": f"[{prefix}dev, {prefix}test, Finance]"},
            ],
            MessageAction="SUPPRESS",
        )

    def info(self) -> StackInfo:
        resources = dict(self.resolver.refs)
        return StackInfo(
            aws_endpoint=self.aws_endpoint,
            api_url=self.api_url,
            region=REGION,
            stack_name=self.stack_name,
            resources=resources,
            parameters=self.parameters,
            iam_path=str(self.iam_path),
        )

    def stop(self) -> None:
        if self.api is not None:
            self.api.stop()
        # Nothing may start an environment once the runtime stops them.
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.bus is not None:
            self.bus.stop()
        if self.runtime is not None:
            self.runtime.stop()
        if self._moto is not None:
            self._moto.stop()


def port_in_use(host: str, port: int) -> bool:
    """Whether something listens on the port already. SO_REUSEADDR, as the servers set it: a port whose last
    connections linger in TIME_WAIT is free."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def _named_by_parameter(message: str, variables: dict[str, Any], function: str) -> str:
    """A function's configuration error in the template's terms: 'QUALITY_GATES: ...' becomes 'parameter
    QualityGates: ...' when the variable is a Ref to that parameter; otherwise the function names it."""
    for name, value in variables.items():
        if (
            isinstance(value, dict)
            and set(value) == {"Ref"}
            and (message.startswith(f"{name}:") or message.startswith(f"{name}=") or f"variable {name} " in message)
        ):
            return f"parameter {value['Ref']}: {message.removeprefix(f'{name}: ')}"
    return f"{function}: {message}"


def _override_text(value: Any) -> str:
    return ",".join(value) if isinstance(value, list) else str(value)
