"""The operators' command line, `model-promotion`: where promotions stand, what waits for whom, who decided
what, which version is approved where, and the interventions (mail a request again, cancel a promotion,
retry one, start the promotions whose events were lost).

    model-promotion [--local [--state-file PATH] | --stack-name NAME] [--profile P] [--region R]
                    [--stages LIST] [--json] COMMAND ...

    status GROUP [--version N]          every version (newest first) or one: registry, stages, execution, waiting
    pending                             every approval that waits: for whom, since when, until when, reminded
    history GROUP [--stage S] [--version N]
                                        every recorded outcome of the group: who, when, what, why
    approved GROUP --stage S            the version approved for a stage, as an inference pipeline reads it
    metrics GROUP [--stage S]           each version's batch metrics per stage, from the audit log
    resend GROUP VERSION [--stage S]    mail the pending request's approvers fresh links to the same request
    cancel GROUP VERSION --reason TEXT [--operator WHO] [--stage S]
                                        stop the promotion and record who cancelled it and why
    reconcile [--group G ...]           start a promotion for every pending version that has none
    retry GROUP VERSION --reason TEXT [--operator WHO]
                                        start a new attempt of a promotion that expired, failed or was
                                        cancelled, at its first stage not yet approved; audited
    rollback GROUP --stage S --to VERSION --reason TEXT [--operator WHO]
                                        ask the stage's approvers to sign a rollback to a version they
                                        approved for it before; audited
    audit verify GROUP                  recompute the group's hash-chained audit log: OK with the number of
                                        entries and the newest hash, or the first broken link
    smoke-test [--group G] [--wait-for-approval SECONDS] [--operator WHO]
                                        prove a fresh stack is wired end to end: register a tiny model
                                        and walk its first stage (cancel it, or wait for a person's decision)

The target is the embedded AWS (`--local`, reading the state file `make up` writes, default
.local/stack.json) or a deployed stack (`--stack-name`, reading its CloudFormation outputs with the given
profile and region). Either way the adapters get one boto3 session built for the target; the process's
environment is never edited. `--json` (before or after the command) prints stable JSON for scripts;
otherwise aligned tables for people.

Exit status: 0 done; 1 not found or nothing to do (no such version, nothing pending, no decision recorded,
nothing approved); 2 bad arguments or configuration, or AWS refused or could not be reached. Errors are one
line on stderr. smoke-test exits 0 only when every check held, 1 when one did not (within its time), 2 when
AWS refused. audit verify exits 0 when the chain holds, 1 when a link is broken (named on stderr) or nothing
is recorded. No output ever carries a task token: no command reads one.

Service logic lives in services/operations.py; this module parses arguments (click), builds adapters and
prints.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import click

from .adapters.aws import DEFAULT_CLIENTS, AwsClients
from .domain.approvals import utc_now
from .domain.errors import ConfigurationError, DomainError, TransientAwsError
from .domain.model_version import MODEL_GROUP_NAME
from .domain.presentation import format_metric
from .domain.stages import DEFAULT_STAGES, StageStatus, parse_stages
from .services.operations import (
    NotFound,
    OperationError,
    batch_metrics,
    cancel_promotion,
    decision_history,
    pending_approvals,
    request_rollback,
    resend_request,
    retry_promotion,
    verify_audit_log,
    version_status,
)
from .services.smoke import DEFAULT_GROUP as SMOKE_GROUP
from .services.smoke import SmokePorts, SmokeSettings, run_smoke_test
from .services.smoke import check_settings as check_smoke_settings

PROG = "model-promotion"
SMOKE_TEST = "smoke-test"
AUDIT = "audit"
DEFAULT_STATE_FILE = ".local/stack.json"
EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_BAD = 2
_STAGE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
# smoke-test --wait-for-approval: at most a day, so a forgotten run does not hold a terminal for a week.
SMOKE_WAIT_MAX = 86_400
# Placeholder credentials for the embedded AWS, which checks none of the administrator's.
LOCAL_CREDENTIALS = "embedded"
REASON_HELP = "why (recorded; at most 1000 characters)"


class UsageError(Exception):
    """A bad argument or configuration: exit status 2."""


# Arguments


class _Checked(click.ParamType):
    """A string argument checked against a rule, with a message that says what it must be."""

    def __init__(self, name: str, accepts: Callable[[str], bool], must_be: str, convert: Callable[[str], Any] = str):
        self.name = name
        self._accepts = accepts
        self._must_be = must_be
        self._convert = convert

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        if not self._accepts(value):
            self.fail(f"{value!r} is not {self._must_be}", param, ctx)
        return self._convert(value)


GROUP = _Checked(
    "group",
    lambda t: bool(MODEL_GROUP_NAME.match(t)),
    "a model package group name (letters, digits and '-', at most 63 characters)",
)
VERSION = _Checked("version", lambda t: t.isdigit() and int(t) >= 1, "a version number (a positive integer)", int)
STAGE = _Checked("stage", lambda t: bool(_STAGE.match(t)), "a stage name")
SECONDS = _Checked(
    "seconds",
    lambda t: t.isdigit() and 1 <= int(t) <= SMOKE_WAIT_MAX,
    f"a number of seconds from 1 to {SMOKE_WAIT_MAX}",
    int,
)


@dataclass
class Invocation:
    """The options before the command, and where output goes."""

    stdout: TextIO
    stderr: TextIO
    local: bool = False
    state_file: str = DEFAULT_STATE_FILE
    stack_name: str | None = None
    profile: str | None = None
    region: str | None = None
    stages: str | None = None
    as_json: bool = False


def _json_after_the_command(function: Callable[..., Any]) -> Callable[..., Any]:
    """--json is accepted after the command too, as scripts write it either way."""

    def remember(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            ctx.find_object(Invocation).as_json = True

    return click.option("--json", is_flag=True, expose_value=False, callback=remember, help="print JSON for scripts")(
        function
    )


@click.group(
    name=PROG,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
    no_args_is_help=False,
)
@click.version_option(package_name="model-promotion", prog_name=PROG)
@click.option("--local", is_flag=True, help="the embedded AWS (make up), from its state file")
@click.option(
    "--state-file",
    default=DEFAULT_STATE_FILE,
    show_default=True,
    metavar="PATH",
    help="the embedded AWS's state file (with --local)",
)
@click.option("--stack-name", metavar="NAME", help="a deployed stack, from its CloudFormation outputs")
@click.option("--profile", metavar="P", help="AWS profile (with --stack-name)")
@click.option("--region", metavar="R", help="AWS region (with --stack-name)")
@click.option("--stages", metavar="LIST", help="stages in order, e.g. dev,test,uat,prod (default: the stack's)")
@click.option("--json", "as_json", is_flag=True, help="print JSON for scripts")
@click.pass_obj
def app(
    invocation: Invocation,
    local: bool,
    state_file: str,
    stack_name: str | None,
    profile: str | None,
    region: str | None,
    stages: str | None,
    as_json: bool,
) -> None:
    """Operate the model promotion workflow: status, pending approvals, history, resend, cancel, retry."""
    if local and stack_name:
        raise UsageError("--local and --stack-name name two targets: choose one")
    invocation.local, invocation.state_file, invocation.stack_name = local, state_file, stack_name
    invocation.profile, invocation.region, invocation.stages = profile, region, stages
    invocation.as_json = invocation.as_json or as_json


# Target


@dataclass(frozen=True)
class Target:
    """Where the stack's resources are, from the embedded AWS's state file or the stack's outputs, and the
    clients (one boto3 session) that reach them."""

    description: str
    state_machine_arn: str
    approvals_table: str
    decision_log_table: str
    sender: str
    approval_base_url: str
    stages: tuple[str, ...] | None = None
    groups: tuple[str, ...] = ()
    # The stack's parameters and region: what smoke-test needs beyond the outputs (bucket, gates, ...).
    parameters: Mapping[str, Any] = field(default_factory=dict)
    region: str = ""
    clients: AwsClients = DEFAULT_CLIENTS
    local: bool = False
    rollback_state_machine_arn: str = ""

    def approvals(self) -> Any:
        from .adapters.dynamodb_approvals import DynamoDbApprovalStore

        return DynamoDbApprovalStore(self.approvals_table, self.clients)

    def decision_log(self) -> Any:
        from .adapters.dynamodb_decision_log import DynamoDbDecisionLog

        return DynamoDbDecisionLog(self.decision_log_table, clients=self.clients)

    def executions(self) -> Any:
        from .adapters.step_functions import StepFunctionsWorkflow

        return StepFunctionsWorkflow(self.state_machine_arn, self.clients)

    def catalog(self) -> Any:
        from .adapters.sagemaker_registry import SageMakerCatalog

        return SageMakerCatalog(self.clients)

    def registry(self) -> Any:
        from .adapters.sagemaker_registry import SageMakerRegistry

        return SageMakerRegistry(self.clients)

    def rollbacks(self) -> Any:
        from .adapters.step_functions import StepFunctionsWorkflow

        if not self.rollback_state_machine_arn:
            raise UsageError(f"{self.description} has no rollback state machine: deploy this version of the stack")
        return StepFunctionsWorkflow(self.rollback_state_machine_arn, self.clients)

    def approved_models(self) -> Any:
        from .adapters.ssm_approved_models import SsmApprovedModels

        return SsmApprovedModels(self.clients)

    @property
    def parameter_prefix(self) -> str:
        from .client import DEFAULT_PREFIX

        return str(self.parameters.get("ParameterPrefix") or DEFAULT_PREFIX)

    def mailer(self) -> Any:
        from .adapters.ses_mailer import SesMailer

        return SesMailer(self.sender, self.clients)


def resolve_target(invocation: Invocation) -> Target:
    if invocation.local:
        return local_target(Path(invocation.state_file))
    if invocation.stack_name:
        return stack_target(invocation.stack_name, invocation.profile, invocation.region)
    raise UsageError("choose a target: --local for the embedded AWS, or --stack-name NAME")


def local_session(region: str) -> Any:
    """A session for the embedded AWS: its placeholder credentials, and none of the operator's profiles (an
    AWS_PROFILE naming a profile this machine lacks would otherwise fail every call)."""
    import boto3
    import botocore.session

    core = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    return boto3.session.Session(
        aws_access_key_id=LOCAL_CREDENTIALS,
        aws_secret_access_key=LOCAL_CREDENTIALS,
        region_name=region,
        botocore_session=core,
    )


def local_target(path: Path) -> Target:
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(
            f"no embedded AWS state file at {path}: start the embedded AWS (make up) or give --state-file PATH"
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read the state file {path}: {exc}") from None
    try:
        resources, parameters = info["resources"], info["parameters"]
        endpoint, region = str(info["aws_endpoint"]), str(info["region"])
        state_machine = resources["PromotionStateMachine"]
        approvals, decisions = resources["ApprovalsTable"], resources["DecisionLogTable"]
    except (KeyError, TypeError) as exc:
        raise UsageError(f"the state file {path} lacks {exc}: is it the embedded AWS's state file?") from None
    pid = info.get("pid")
    if isinstance(pid, int) and not process_alive(pid):
        raise UsageError(
            f"the embedded AWS that wrote {path} (process {pid}) is no longer running: start it again with make up"
        )
    return Target(
        description=f"the embedded AWS at {endpoint}",
        state_machine_arn=str(state_machine),
        approvals_table=str(approvals),
        decision_log_table=str(decisions),
        sender=str(parameters.get("SenderAddress") or ""),
        approval_base_url=str(parameters.get("ApprovalBaseUrl") or info.get("api_url") or ""),
        stages=_stages_or_none(parameters.get("Stages"), f"{path}: Stages"),
        groups=_groups(parameters.get("ModelPackageGroupNames")),
        parameters=dict(parameters),
        region=region,
        clients=AwsClients(local_session(region), endpoint_url=endpoint),
        local=True,
        rollback_state_machine_arn=str(resources.get("RollbackStateMachine") or ""),
    )


def process_alive(pid: int) -> bool:
    """Whether a process of this machine has that id (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # somebody else's process: alive
        return True
    return True


def stack_target(name: str, profile: str | None, region: str | None) -> Target:
    import boto3
    from botocore.exceptions import ClientError

    from .adapters.aws import error_code

    clients = AwsClients(boto3.session.Session(profile_name=profile, region_name=region))
    try:
        stacks = clients.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if error_code(exc) == "ValidationError":
            raise UsageError(f"stack {name} does not exist in this account and region") from None
        raise
    stack = stacks[0]
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs") or []}
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters") or []}
    wanted = ("PromotionStateMachineArn", "ApprovalsTableName", "DecisionLogTableName", "SenderAddress")
    missing = [key for key in wanted if not outputs.get(key)]
    if missing:
        raise UsageError(f"stack {name} has no output {', '.join(missing)}: is it the model promotion stack?")
    return Target(
        description=f"stack {name}",
        state_machine_arn=outputs["PromotionStateMachineArn"],
        approvals_table=outputs["ApprovalsTableName"],
        decision_log_table=outputs["DecisionLogTableName"],
        sender=outputs["SenderAddress"],
        approval_base_url=outputs.get("ApprovalApiUrl", ""),
        stages=_stages_or_none(parameters.get("Stages"), f"stack {name}: Stages"),
        groups=_groups(parameters.get("ModelPackageGroupNames")),
        parameters=parameters,
        region=_stack_region(str(stack.get("StackId") or ""))
        or clients.client("cloudformation").meta.region_name
        or "",
        clients=clients,
        rollback_state_machine_arn=outputs.get("RollbackStateMachineArn", ""),
    )


def _stack_region(stack_id: str) -> str:
    """arn:aws:cloudformation:REGION:ACCOUNT:stack/NAME/ID: the stack's own region, whatever the profile says."""
    parts = stack_id.split(":")
    return parts[3] if len(parts) >= 6 and parts[0] == "arn" else ""


def _stages_or_none(text: Any, where: str) -> tuple[str, ...] | None:
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        return parse_stages(text)
    except ConfigurationError as exc:
        raise UsageError(f"{where}: {exc}") from None


def _groups(value: Any) -> tuple[str, ...]:
    """ModelPackageGroupNames: a comma-separated string, or the list a CommaDelimitedList resolves to."""
    parts = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else []
    return tuple(g.strip() for g in parts if isinstance(g, str) and g.strip())


def stages_of(option: str | None, target: Target) -> tuple[str, ...]:
    if option:
        try:
            return parse_stages(option)
        except ConfigurationError as exc:
            raise UsageError(f"--stages: {exc}") from None
    return target.stages or DEFAULT_STAGES


def caller_identity(target: Target) -> str:
    """Who runs the CLI: the AWS identity's ARN, else the local user name."""
    try:
        return str(target.clients.client("sts").get_caller_identity()["Arn"])
    except Exception:
        return os.environ.get("USER") or getpass.getuser()


# Commands: each resolves the target, calls one use case of services/operations.py and prints its result.


def _print(invocation: Invocation, command: str, result: Any) -> int:
    print(render(command, result, invocation.as_json), file=invocation.stdout)
    return EXIT_OK


def _target_and_stages(invocation: Invocation, stage: str | None = None) -> tuple[Target, tuple[str, ...]]:
    target = resolve_target(invocation)
    stages = stages_of(invocation.stages, target)
    if stage and stage not in stages:
        raise UsageError(f"stage {stage!r} is not one of the stages {', '.join(stages)}")
    return target, stages


@app.command()
@click.argument("group", type=GROUP)
@click.option("--version", type=VERSION, metavar="N", help="only this version")
@_json_after_the_command
@click.pass_obj
def status(invocation: Invocation, group: str, version: int | None) -> int:
    """Where each version of a group stands, newest first."""
    target, stages = _target_and_stages(invocation)
    result = version_status(
        catalog=target.catalog(),
        executions=target.executions(),
        store=target.approvals(),
        group=group,
        stages=stages,
        now=utc_now(),
        version=version,
    )
    return _print(invocation, "status", result)


@app.command()
@_json_after_the_command
@click.pass_obj
def pending(invocation: Invocation) -> int:
    """Every approval that waits: for whom, since and until when."""
    target = resolve_target(invocation)
    return _print(invocation, "pending", pending_approvals(store=target.approvals(), now=utc_now()))


@app.command()
@click.argument("group", type=GROUP)
@click.option("--stage", type=STAGE, metavar="S", help="only this stage")
@click.option("--version", type=VERSION, metavar="N", help="only this version")
@_json_after_the_command
@click.pass_obj
def history(invocation: Invocation, group: str, stage: str | None, version: int | None) -> int:
    """Every recorded outcome of a group: who, when, what, why."""
    target, stages = _target_and_stages(invocation, stage)
    result = decision_history(log=target.decision_log(), group=group, stage=stage, version=version, stages=stages)
    return _print(invocation, "history", result)


@app.command()
@click.argument("group", type=GROUP)
@click.option("--stage", type=STAGE, metavar="S", help="only the batches scored at this stage")
@_json_after_the_command
@click.pass_obj
def metrics(invocation: Invocation, group: str, stage: str | None) -> int:
    """Each version's batch metrics per stage, to compare versions.

    From the audit log: every decision records the batch results its approvers saw.
    """
    target, stages = _target_and_stages(invocation, stage)
    return _print(
        invocation, "metrics", batch_metrics(log=target.decision_log(), group=group, stages=stages, stage=stage)
    )


@app.command()
@click.argument("group", type=GROUP)
@click.option("--stage", type=STAGE, metavar="S", required=True, help="the stage, e.g. prod")
@click.option("--prefix", metavar="P", help="the SSM parameter prefix (default: the stack's ParameterPrefix)")
@_json_after_the_command
@click.pass_obj
def approved(invocation: Invocation, group: str, stage: str, prefix: str | None) -> int:
    """The version approved for a stage, as pipelines read it.

    Read from SSM Parameter Store, as model_promotion.client.get_approved_model reads it.
    """
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    from .client import NothingApproved, get_approved_model

    target, _ = _target_and_stages(invocation, stage)
    prefix = prefix or target.parameter_prefix
    try:
        model = get_approved_model(group, stage, prefix=prefix, max_age=0, ssm_client=target.clients.client("ssm"))
    except NothingApproved as exc:
        raise NotFound(str(exc)) from None
    except ValueError as exc:  # a prefix that cannot be one, or a record the workflow did not write
        raise UsageError(str(exc)) from None
    except GetParameterError as exc:  # no access, no network: says nothing about what is approved
        raise UsageError(f"cannot read the approved model of {group} for {stage}: {exc}") from None
    return _print(invocation, "approved", model)


@app.command()
@click.argument("group", type=GROUP)
@click.argument("version", type=VERSION)
@click.option("--stage", type=STAGE, metavar="S", help="the stage whose request to resend")
@click.option("--operator", metavar="WHO", help="who has them mailed (default: your AWS identity's ARN)")
@_json_after_the_command
@click.pass_obj
def resend(invocation: Invocation, group: str, version: int, stage: str | None, operator: str | None) -> int:
    """Mail a pending request's approvers fresh links to it; audited."""
    target, _ = _target_and_stages(invocation, stage)
    if not target.sender or not target.approval_base_url:
        raise UsageError(f"{target.description} names no sender address or approval base URL")
    result = resend_request(
        store=target.approvals(),
        mailer=target.mailer(),
        log=target.decision_log(),
        base_url=target.approval_base_url,
        group=group,
        version=version,
        operator=operator if operator is not None else caller_identity(target),
        stage=stage,
        now=utc_now(),
    )
    return _print(invocation, "resend", result)


@app.command()
@click.argument("group", type=GROUP)
@click.argument("version", type=VERSION)
@click.option("--reason", required=True, metavar="TEXT", help=REASON_HELP)
@click.option("--operator", metavar="WHO", help="who cancels (default: your AWS identity's ARN)")
@click.option("--stage", type=STAGE, metavar="S", help="the stage whose request to cancel")
@_json_after_the_command
@click.pass_obj
def cancel(
    invocation: Invocation, group: str, version: int, reason: str, operator: str | None, stage: str | None
) -> int:
    """Stop a promotion; record who cancelled it and why."""
    target, _ = _target_and_stages(invocation, stage)
    result = cancel_promotion(
        store=target.approvals(),
        executions=target.executions(),
        registry=target.registry(),
        log=target.decision_log(),
        group=group,
        version=version,
        reason=reason,
        operator=operator if operator is not None else caller_identity(target),
        stage=stage,
        now=utc_now(),
    )
    return _print(invocation, "cancel", result)


@app.command()
@click.argument("group", type=GROUP)
@click.argument("version", type=VERSION)
@click.option("--reason", required=True, metavar="TEXT", help=REASON_HELP)
@click.option("--operator", metavar="WHO", help="who retries (default: your AWS identity's ARN)")
@_json_after_the_command
@click.pass_obj
def retry(invocation: Invocation, group: str, version: int, reason: str, operator: str | None) -> int:
    """Start a new attempt of an ended promotion; audited.

    For a promotion that expired, failed or was cancelled: it starts at its first stage not yet approved.
    """
    target, stages = _target_and_stages(invocation)
    workflow = target.executions()
    result = retry_promotion(
        catalog=target.catalog(),
        registry=target.registry(),
        executions=workflow,
        workflow=workflow,
        log=target.decision_log(),
        group=group,
        version=version,
        reason=reason,
        operator=operator if operator is not None else caller_identity(target),
        stages=stages,
        now=utc_now(),
    )
    return _print(invocation, "retry", result)


@app.command()
@click.argument("group", type=GROUP)
@click.option("--stage", type=STAGE, metavar="S", required=True, help="the stage to roll back")
@click.option("--to", "to_version", type=VERSION, metavar="VERSION", required=True, help="the version it returns to")
@click.option("--reason", required=True, metavar="TEXT", help=REASON_HELP)
@click.option("--operator", metavar="WHO", help="who asks (default: your AWS identity's ARN)")
@_json_after_the_command
@click.pass_obj
def rollback(invocation: Invocation, group: str, stage: str, to_version: int, reason: str, operator: str | None) -> int:
    """Ask a stage's approvers to sign a rollback.

    The version must have been approved for the stage before. Nothing changes until the stage's approvers sign
    it on the review page; then the SSM record and the registry return to that version, and the audit log
    records who asked, who signed and why.
    """
    target, stages = _target_and_stages(invocation, stage)
    who = operator if operator is not None else caller_identity(target)
    result = request_rollback(
        catalog=target.catalog(),
        log=target.decision_log(),
        approved_models=target.approved_models(),
        workflow=target.rollbacks(),
        parameter_prefix=target.parameter_prefix,
        group=group,
        stage=stage,
        to_version=to_version,
        reason=reason,
        operator=who,
        stages=stages,
        now=utc_now(),
    )
    return _print(invocation, "rollback", result)


@app.command()
@click.option("--group", "groups", multiple=True, type=GROUP, metavar="G", help="only this group (repeatable)")
@_json_after_the_command
@click.pass_obj
def reconcile(invocation: Invocation, groups: tuple[str, ...]) -> int:
    """Start a promotion for each pending version without one."""
    from .services.reconcile import reconcile as reconcile_promotions

    target, stages = _target_and_stages(invocation)
    result = reconcile_promotions(
        catalog=target.catalog(), workflow=target.executions(), stages=stages, groups=groups or target.groups
    )
    return _print(invocation, "reconcile", result)


@app.group(name=AUDIT, no_args_is_help=False)
def audit() -> None:
    """Check the audit log."""


@audit.command()
@click.argument("group", type=GROUP)
@_json_after_the_command
@click.pass_obj
def verify(invocation: Invocation, group: str) -> int:
    """Check a group's hash chain; name its first broken link.

    Recomputes every entry's hash: OK with the number of entries and the newest hash, or the first broken link.
    """
    target = resolve_target(invocation)
    result = verify_audit_log(log=target.decision_log(), group=group)
    _print(invocation, AUDIT, result)
    if not result["ok"]:
        print(f"error: the audit log of {group} is broken: {result['broken']['message']}", file=invocation.stderr)
        return EXIT_NOT_FOUND
    return EXIT_OK


@app.command(name=SMOKE_TEST)
@click.option("--group", type=GROUP, default=SMOKE_GROUP, show_default=True, metavar="G", help="the group")
@click.option(
    "--wait-for-approval",
    type=SECONDS,
    metavar="SECONDS",
    help="instead of cancelling, wait this long for a person to decide on the review page",
)
@click.option("--operator", metavar="WHO", help="who runs it (default: your AWS identity's ARN)")
@_json_after_the_command
@click.pass_obj
def smoke_test_command(invocation: Invocation, group: str, wait_for_approval: int | None, operator: str | None) -> int:
    """Prove a stack is wired: a tiny model through stage one.

    Registers a tiny model and walks its first stage: cancels it, or waits for a person's decision.
    """
    target = resolve_target(invocation)
    request = SmokeRequest(
        group=group, wait_for_approval=wait_for_approval, operator=operator, stages=invocation.stages
    )
    return smoke_test_main(request, target, invocation)


# smoke-test


@dataclass(frozen=True)
class SmokeRequest:
    """smoke-test's own options."""

    group: str = SMOKE_GROUP
    wait_for_approval: int | None = None
    operator: str | None = None
    stages: str | None = None


def smoke_settings(request: SmokeRequest, target: Target, operator: str) -> SmokeSettings:
    """What the smoke test reads of the stack: the artifacts bucket, the registered gate, OperationsEmail."""
    from .domain.gates import GateConfig
    from .services.smoke import sklearn_image_uri

    parameters, where = target.parameters, target.description
    bucket = str(parameters.get("ModelArtifactsBucketName") or "")
    operations = str(parameters.get("OperationsEmail") or "")
    if not bucket or not operations:
        missing = [n for n, v in (("ModelArtifactsBucketName", bucket), ("OperationsEmail", operations)) if not v]
        raise UsageError(f"{where} has no parameter {', '.join(missing)}: is it the model promotion stack?")
    try:
        gates = GateConfig.parse(str(parameters.get("QualityGates") or "{}"))
    except ConfigurationError as exc:
        raise UsageError(f"{where}: QualityGates: {exc}") from None
    try:
        image = sklearn_image_uri(target.region)
    except KeyError:
        if not target.local:
            raise UsageError(
                f"no SageMaker scikit-learn image is known for region {target.region or '(none)'}: give --region"
            ) from None
        image = sklearn_image_uri("us-east-1")  # nothing pulls it locally: any region's image will do
    return SmokeSettings(
        group=request.group,
        stages=stages_of(request.stages, target),
        bucket=bucket,
        gates=gates,
        operations_email=operations,
        parameter_prefix=target.parameter_prefix,
        image_uri=image,
        operator=operator,
        promoted_groups=target.groups,
        wait_for_approval=request.wait_for_approval,
        # The embedded AWS answers in milliseconds; a deployed stack is polled more gently.
        poll_interval=0.2 if target.local else 1.0,
    )


def smoke_plan(request: SmokeRequest, target: Target) -> tuple[SmokeSettings, SmokePorts]:
    """The settings and the adapters, checked before anything is printed or written."""
    from .adapters.smoke_aws import S3ArtifactUploads, SageMakerRegistration, StepFunctionsHistory
    from .adapters.ssm_approved_models import SsmApprovedModels

    operator = request.operator if request.operator is not None else caller_identity(target)
    settings = smoke_settings(request, target, operator)
    check_smoke_settings(settings)
    clients = target.clients
    ports = SmokePorts(
        artifacts=S3ArtifactUploads(clients),
        registration=SageMakerRegistration(clients),
        registry=target.registry(),
        executions=target.executions(),
        history=StepFunctionsHistory(clients),
        store=target.approvals(),
        log=target.decision_log(),
        approved_models=SsmApprovedModels(clients),
    )
    return settings, ports


def smoke_test(
    request: SmokeRequest,
    target: Target,
    on_step: Callable[[Mapping[str, Any]], None] | None = None,
    notice: Callable[[str], None] | None = None,
    plan: tuple[SmokeSettings, SmokePorts] | None = None,
) -> dict[str, Any]:
    settings, ports = plan or smoke_plan(request, target)
    return run_smoke_test(settings, ports, on_step=on_step, notice=notice)


def smoke_test_main(request: SmokeRequest, target: Target, invocation: Invocation) -> int:
    """Runs the smoke test, printing each step as it ends (people) or one JSON document at the end (scripts).

    A failure is also one line on stderr naming the step and what to look at.
    """
    stdout, stderr = invocation.stdout, invocation.stderr
    plan = smoke_plan(request, target)  # a bad configuration is one line on stderr, before any output
    if invocation.as_json:
        result = smoke_test(request, target, notice=lambda text: print(text, file=stderr, flush=True), plan=plan)
        print(to_json(result), file=stdout)
    else:
        print(f"Smoke test of {target.description}", file=stdout)
        print(SMOKE_HEADER, file=stdout, flush=True)
        result = smoke_test(
            request,
            target,
            on_step=lambda step: print(render_smoke_step(step), file=stdout, flush=True),
            notice=lambda text: print(f"  … {text}", file=stdout, flush=True),
            plan=plan,
        )
        print("", file=stdout)
        print(render_smoke_summary(result), file=stdout)
    failure = result["failure"]
    if failure and failure["step"] == "interrupted":
        print(f"error: {failure['message']}", file=stderr)
    elif failure:
        print(f"error: smoke test failed at {failure['step']}: {failure['message']}", file=stderr)
    return int(result["exitCode"])


SMOKE_HEADER = f"{'STEP':<9} {'RESULT':<6} {'TIME':>7}  WHAT"


def render_smoke_step(step: Mapping[str, Any]) -> str:
    result = "ok" if step["ok"] else "FAILED"
    return f"{step['step']:<9} {result:<6} {step['seconds']:>6.1f}s  {_cell(step['detail'])}"


def render_smoke_summary(result: Mapping[str, Any]) -> str:
    seconds = f"{result['totalSeconds']:.1f} s"
    if result["failure"]:
        step = result["failure"]["step"]
        return f"Smoke test {'interrupted' if step == 'interrupted' else f'FAILED at {step}'} after {seconds}."
    group, version, stage = result["group"], result["version"], result["stage"]
    decision = result.get("decision") or {}
    if result["mode"] == "cancel":
        walked = f"mailed to {', '.join(result['mailedTo'])} for {stage}, and cancelled"
        state = f"{stage} = Cancelled"
    else:
        who = decision.get("byName") or decision.get("by")
        walked = f"mailed to {', '.join(result['mailedTo'])} for {stage}, and {decision.get('outcome')} by {who}"
        state = f"{stage} = {'Approved' if decision.get('outcome') == 'approved' else 'Rejected'}"
    prefix = str(result["modelDataUrl"]).rsplit("/", 1)[0]
    return "\n".join(
        [
            f"Smoke test passed in {seconds}: {group} version {version} was registered, started, {walked}.",
            f"Left behind: {group} version {version} ({state}) and {prefix}/ (model.tar.gz, evaluation.json).",
        ]
    )


def render_smoke(result: Mapping[str, Any]) -> str:
    return "\n".join([SMOKE_HEADER, *(render_smoke_step(s) for s in result["steps"]), "", render_smoke_summary(result)])


# Printing


def to_json(result: Any) -> str:
    return json.dumps(result, indent=2, sort_keys=True, default=str)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Left-aligned columns two spaces apart; None prints as '-'."""
    cells = [[_cell(v) for v in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip() for row in cells)


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return " ".join(str(value).split())


def duration(seconds: float) -> str:
    """'2d 3h', '3h 12m', '4m 5s', '12s'."""
    total = int(abs(seconds))
    parts = [(total // 86400, "d"), (total % 86400 // 3600, "h"), (total % 3600 // 60, "m"), (total % 60, "s")]
    first = next((i for i, (n, _) in enumerate(parts) if n), len(parts) - 1)
    return " ".join(f"{n}{unit}" for n, unit in parts[first : first + 2] if n or first == len(parts) - 1)


def _short(text: Any, limit: int = 80) -> Any:
    if not isinstance(text, str) or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def _stage_status(status: Any) -> Any:
    return "Pending" if status == StageStatus.PENDING.value else status


def render_status(result: Mapping[str, Any]) -> str:
    stages = list(result["stages"])
    versions = list(result["versions"])
    rows = []
    for v in versions:
        by_stage = {s["stage"]: s for s in v["stages"]}
        execution = v["execution"]
        rows.append(
            [
                v["version"],
                v["modelApprovalStatus"],
                *(_stage_status(by_stage.get(stage, {}).get("status")) for stage in stages),
                execution["status"] or "none",
                _waiting(v["pending"]),
            ]
        )
    headers = ["VERSION", "REGISTRY", *(s.upper() for s in stages), "EXECUTION", "WAITING FOR"]
    plural = "s" if len(versions) != 1 else ""
    lines = [
        f"{result['group']}: {len(versions)} version{plural} (stages {' → '.join(stages)})",
        "",
        table(headers, rows),
    ]
    if len(versions) == 1:
        lines += ["", *_status_detail(versions[0])]
    return "\n".join(lines)


def _waiting(pending: Mapping[str, Any] | None) -> str | None:
    if not pending:
        return None
    left = "expired" if pending["expired"] else f"{duration(pending['secondsLeft'])} left"
    return f"{pending['stage']} approval for {duration(pending['ageSeconds'])}, {left}"


def _status_detail(version: Mapping[str, Any]) -> list[str]:
    execution = version["execution"]
    run = execution["status"] or "not started"
    if execution["startedAt"]:
        run += f" (started {execution['startedAt']}"
        run += f", stopped {execution['stoppedAt']})" if execution["stoppedAt"] else ")"
    if execution["error"]:
        run += f", error {execution['error']}"
    facts = [
        ("package", version["packageArn"]),
        ("registered", version["registeredAt"]),
        ("registry", version["modelApprovalStatus"]),
        ("last decision", version["approvalDescription"]),
        ("execution", f"{execution['name']}: {run}"),
    ]
    pending = version["pending"]
    if pending:
        facts.append(
            (
                "waiting for",
                f"{pending['stage']} approval by {', '.join(pending['recipients'])} since {pending['requestedAt']}, "
                f"expires {pending['expiresAt']}",
            )
        )
    width = max(len(k) for k, _ in facts)
    stage_rows = [[s["stage"], s["status"], s["signedBy"], s["signedAt"]] for s in version["stages"]]
    return [
        *(f"{k.ljust(width)}  {_cell(v)}" for k, v in facts),
        "",
        table(["STAGE", "STATUS", "SIGNED BY", "SIGNED AT"], stage_rows),
    ]


def render_pending(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return "Nothing is pending."
    body = [
        [
            r["group"],
            r["version"],
            r["stage"],
            ", ".join(r["recipients"]),
            r["requestedAt"],
            duration(r["ageSeconds"]),
            r["expiresAt"],
            "expired" if r["expired"] else duration(r["secondsLeft"]),
            r["reminded"],
        ]
        for r in rows
    ]
    headers = ["GROUP", "VERSION", "STAGE", "FOR", "REQUESTED", "AGE", "EXPIRES", "LEFT", "REMINDED"]
    return f"{len(rows)} pending approval{'s' if len(rows) != 1 else ''}\n\n" + table(headers, body)


def render_history(rows: Sequence[Mapping[str, Any]]) -> str:
    body = [
        [r["at"], r["version"], r["stage"], r["meaning"] or r["outcome"], r["who"], _short(r["comment"] or r["reason"])]
        for r in rows
    ]
    return table(["AT", "VERSION", "STAGE", "WHAT", "WHO", "COMMENT / REASON"], body)


def render_resend(result: Mapping[str, Any]) -> str:
    return (
        f"Sent {result['sent']} fresh link{'s' if result['sent'] != 1 else ''} to the {result['stage']} request of "
        f"{result['group']} version {result['version']} ({', '.join(result['recipients'])}); "
        f"it expires at {result['expiresAt']}."
    )


def render_cancel(result: Mapping[str, Any]) -> str:
    return "\n".join(
        [
            f"Cancelled the promotion of {result['group']} version {result['version']} at {result['stage']}.",
            f"  execution  {result['executionArn']} stopped (PromotionCancelled)",
            f"  registry   {result['stage']} = Cancelled; {result['approvalDescription']}",
            f"  audit log  cancelled by {result['cancelledBy']} at {result['cancelledAt']}",
        ]
    )


def render_reconcile(result: Mapping[str, Any]) -> str:
    started = list(result.get("started") or [])
    running = result.get("alreadyRunning", 0)
    ended = result.get("ended", 0)
    left_alone = f" {ended} whose promotion ended (retry starts one again) left alone." if ended else ""
    if not started:
        return f"Nothing to start: every pending version ({running}) has its promotion.{left_alone}"
    lines = [f"Started {len(started)} promotion{'s' if len(started) != 1 else ''} whose registration event was lost:"]
    lines += [f"  {name}" for name in started]
    lines.append(f"{running} pending version{'s' if running != 1 else ''} already had one.{left_alone}")
    return "\n".join(lines)


def render_retry(result: Mapping[str, Any]) -> str:
    return "\n".join(
        [
            f"Retried the promotion of {result['group']} version {result['version']} "
            f"(attempt {result['attempt']}, after: {result['previousOutcome']}).",
            f"  execution  {result['executionArn']} starts at {result['fromStage']}",
            f"  audit log  retried by {result['retriedBy']} at {result['retriedAt']}: {result['reason']}",
        ]
    )


def render_metrics(result: Mapping[str, Any]) -> str:
    names = list(result["metrics"])
    rows = [
        [row["stage"], row["version"], row["rowCount"], *(format_metric(row["metrics"].get(n)) for n in names)]
        for row in result["rows"]
    ]
    headers = ["STAGE", "VERSION", "ROWS", *(n.upper() for n in names)]
    return f"{result['group']}: batch metrics by stage and version\n\n" + table(headers, rows)


def render_rollback(result: Mapping[str, Any]) -> str:
    now = f"version {result['replacesVersion']}" if result["replacesVersion"] else "no approved version"
    return "\n".join(
        [
            f"Asked the {result['stage']} approvers of {result['group']} to sign a rollback to version "
            f"{result['toVersion']} ({result['stage']} runs {now}).",
            f"  approved before  by {result['approvedBefore']['by']} at {result['approvedBefore']['at']}",
            f"  execution        {result['executionArn']} waits for their signature",
            f"  audit log        requested by {result['requestedBy']} at {result['requestedAt']}: {result['reason']}",
        ]
    )


def render_audit(result: Mapping[str, Any]) -> str:
    count = result["entries"]
    entries = f"{count} entr{'ies' if count != 1 else 'y'}"
    if result["ok"]:
        return "\n".join(
            [
                f"OK: the audit log of {result['group']} holds {entries} in one unbroken chain.",
                f"  last entry  {result['lastSequence']}",
                f"  last hash   {result['lastHash']}",
            ]
        )
    broken = result["broken"]
    held = (
        f"entries 1 to {result['lastSequence']} hold (hash of entry {result['lastSequence']}: {result['lastHash']})"
        if result["lastSequence"]
        else "no entry before it holds"
    )
    return "\n".join(
        [
            f"BROKEN: the audit log of {result['group']} ({entries} read) does not hold.",
            f"  first broken link  {broken['message']}",
            f"  before it          {held}",
        ]
    )


def render_approved(model: Any) -> str:
    rows = [
        ("package", model.package_arn),
        ("model data", model.model_data_url or "-"),
        ("approved by", model.approver),
        ("approved at", model.approved_at),
        ("decision", model.decision_id or "-"),
    ]
    width = max(len(label) for label, _ in rows) + 1
    lines = [f"{model.group} version {model.version} is approved for {model.stage}"]
    lines.extend(f"  {label + ':':<{width}} {value}" for label, value in rows)
    return "\n".join(lines)


RENDERERS: dict[str, Callable[[Any], str]] = {
    "approved": render_approved,
    "status": render_status,
    "pending": render_pending,
    "history": render_history,
    "resend": render_resend,
    "cancel": render_cancel,
    "reconcile": render_reconcile,
    "retry": render_retry,
    "rollback": render_rollback,
    "metrics": render_metrics,
    AUDIT: render_audit,
    SMOKE_TEST: render_smoke,
}


def render(command: str, result: Any, as_json: bool) -> str:
    if as_json:
        return to_json(result.to_payload() if hasattr(result, "to_payload") else result)
    return RENDERERS[command](result)


# Entry point


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Runs one command; returns its exit status. Every error is one line on stderr, never a traceback."""
    invocation = Invocation(stdout=stdout or sys.stdout, stderr=stderr or sys.stderr)
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        code = app.main(args=arguments, prog_name=PROG, obj=invocation, standalone_mode=False)
    except click.UsageError as exc:
        print(f"error: {_one_line(exc.format_message())} (see {PROG} --help)", file=invocation.stderr)
        return EXIT_BAD
    except click.ClickException as exc:
        print(f"error: {_one_line(exc.format_message())}", file=invocation.stderr)
        return EXIT_BAD
    except OperationError as exc:
        print(f"error: {exc}", file=invocation.stderr)
        return exc.exit_code
    except (KeyboardInterrupt, click.Abort):
        print("error: interrupted", file=invocation.stderr)
        return EXIT_BAD
    except Exception as exc:  # never a traceback: one line that says what failed
        print(f"error: {describe_failure(exc)}", file=invocation.stderr)
        return EXIT_BAD
    return code if isinstance(code, int) else EXIT_OK


def _one_line(text: str) -> str:
    return " ".join(text.split())


def describe_failure(exc: Exception) -> str:
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        ProfileNotFound,
    )

    from .adapters.aws import error_code

    if isinstance(exc, (UsageError, DomainError)):
        return str(exc)
    if isinstance(exc, TransientAwsError):
        return f"{exc} (AWS answered with a transient error)"
    if isinstance(exc, NoRegionError):
        return "no AWS region: give --region or set AWS_REGION"
    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials: give --profile or configure credentials"
    if isinstance(exc, ProfileNotFound):
        return str(exc)
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach AWS at {exc.kwargs.get('endpoint_url')}: is the endpoint (or the embedded AWS) up?"
    if isinstance(exc, ClientError):
        operation = getattr(exc, "operation_name", "the call")
        message = exc.response.get("Error", {}).get("Message", "")
        return f"AWS refused {operation}: {error_code(exc)} {message}".strip()
    return f"unexpected failure ({type(exc).__name__}): {exc}"


if __name__ == "__main__":
    raise SystemExit(main())
