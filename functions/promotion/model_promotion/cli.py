"""The operators' command line: where promotions stand, what waits for whom, who decided what, and the
interventions (mail a request again, cancel a promotion, start the promotions whose events were lost).

    PYTHONPATH=functions/promotion python -m model_promotion.cli \\
        [--local [STATE_FILE] | --stack-name NAME] [--profile P] [--region R] [--stages LIST] [--json] COMMAND ...

    status GROUP [--version N]          every version (newest first) or one: registry, stages, execution, waiting
    pending                             every approval that waits: for whom, since when, until when, reminded
    history GROUP [--stage S] [--version N]
                                        every recorded outcome of the group: who, when, what, why
    resend GROUP VERSION [--stage S]    mail the pending request's approvers fresh links to the same request
    cancel GROUP VERSION --reason TEXT [--operator WHO] [--stage S]
                                        stop the promotion and record who cancelled it and why
    reconcile [--group G ...]           start a promotion for every pending version that has none
    retry GROUP VERSION --reason TEXT [--operator WHO]
                                        start a new attempt of a promotion that expired, failed or was
                                        cancelled, at its first stage not yet approved; audited
    audit verify GROUP                  recompute the group's hash-chained audit log: OK with the number of
                                        entries and the newest hash, or the first broken link
    smoke-test [--group G] [--wait-for-approval SECONDS] [--operator WHO]
                                        prove a fresh stack is wired end to end: register a tiny model
                                        and walk its first stage (cancel it, or wait for a person's decision)

The target is the embedded AWS (`--local`, reading the state file `make up` writes, default
.local/stack.json) or a deployed stack (`--stack-name`, reading its CloudFormation outputs with the given
profile and region). `--json` prints stable JSON for scripts; otherwise aligned tables for people.

Exit status: 0 done; 1 not found or nothing to do (no such version, nothing pending, no decision recorded);
2 bad arguments or configuration, or AWS refused or could not be reached. Errors are one line on stderr.
smoke-test exits 0 only when every check held, 1 when one did not (within its time), 2 when AWS refused.
audit verify exits 0 when the chain holds, 1 when a link is broken (named on stderr) or nothing is recorded.
No output ever carries a task token: no command reads one.

Service logic lives in services/operations.py; this module parses arguments, builds adapters and prints.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TextIO

from .domain.approvals import utc_now
from .domain.errors import ConfigurationError, DomainError, TransientAwsError
from .domain.stages import DEFAULT_STAGES, StageStatus, parse_stages
from .services.operations import (
    OperationError,
    cancel_promotion,
    decision_history,
    pending_approvals,
    resend_request,
    retry_promotion,
    verify_audit_log,
    version_status,
)
from .services.smoke import DEFAULT_GROUP as SMOKE_GROUP
from .services.smoke import SmokePorts, SmokeSettings, run_smoke_test
from .services.smoke import check_settings as check_smoke_settings

PROG = "python -m model_promotion.cli"
SMOKE_TEST = "smoke-test"
AUDIT = "audit"
COMMANDS = ("status", "pending", "history", "resend", "cancel", "reconcile", "retry", AUDIT, SMOKE_TEST)
DEFAULT_STATE_FILE = ".local/stack.json"
EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_BAD = 2
_GROUP = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_STAGE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
# smoke-test --wait-for-approval: at most a day, so a forgotten run does not hold a terminal for a week.
SMOKE_WAIT_MAX = 86_400
# Placeholder credentials for the embedded AWS, which checks none.
LOCAL_CREDENTIALS = "embedded"


class UsageError(Exception):
    """A bad argument or configuration: exit status 2."""


# Arguments


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing a usage block and exiting, so every error is one line."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {PROG} --help)")


def _group(text: str) -> str:
    if not _GROUP.match(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a model package group name (letters, digits and '-', at most 63 characters)"
        )
    return text


def _version(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a version number (a positive integer)")
    return int(text)


def _stage(text: str) -> str:
    if not _STAGE.match(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a stage name")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Operate the model promotion workflow: status, pending approvals, history, resend, cancel.",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--local",
        nargs="?",
        const=DEFAULT_STATE_FILE,
        metavar="STATE_FILE",
        help=f"the embedded AWS, from its state file (default {DEFAULT_STATE_FILE})",
    )
    where.add_argument("--stack-name", metavar="NAME", help="a deployed stack, from its CloudFormation outputs")
    parser.add_argument("--profile", help="AWS profile (with --stack-name)")
    parser.add_argument("--region", help="AWS region (with --stack-name)")
    parser.add_argument(
        "--stages", help="stages in order, e.g. dev,test,uat,prod (default: the stack's Stages parameter)"
    )
    json_flag: dict[str, Any] = {"action": "store_true", "help": "print JSON for scripts"}
    parser.add_argument("--json", **json_flag)
    # --json also after the command; SUPPRESS keeps the value given before it.
    common = _Parser(add_help=False)
    common.add_argument("--json", **{**json_flag, "default": argparse.SUPPRESS})

    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    status = commands.add_parser("status", parents=[common], help="where each version of a group stands")
    status.add_argument("group", type=_group, metavar="GROUP")
    status.add_argument("--version", type=_version, metavar="N", help="only this version")

    commands.add_parser("pending", parents=[common], help="every approval that waits for a decision")

    history = commands.add_parser("history", parents=[common], help="every recorded outcome of a group")
    history.add_argument("group", type=_group, metavar="GROUP")
    history.add_argument("--stage", type=_stage, metavar="S", help="only this stage")
    history.add_argument("--version", type=_version, metavar="N", help="only this version")

    resend = commands.add_parser("resend", parents=[common], help="mail a pending request's approvers again")
    resend.add_argument("group", type=_group, metavar="GROUP")
    resend.add_argument("version", type=_version, metavar="VERSION")
    resend.add_argument("--stage", type=_stage, metavar="S", help="the stage whose request to resend")

    cancel = commands.add_parser("cancel", parents=[common], help="stop a version's promotion, with a reason")
    cancel.add_argument("group", type=_group, metavar="GROUP")
    cancel.add_argument("version", type=_version, metavar="VERSION")
    cancel.add_argument("--reason", required=True, metavar="TEXT", help="why (recorded; at most 1000 characters)")
    cancel.add_argument("--operator", metavar="WHO", help="who cancels (default: your AWS identity's ARN)")
    cancel.add_argument("--stage", type=_stage, metavar="S", help="the stage whose request to cancel")

    retry = commands.add_parser(
        "retry", parents=[common], help="start a new attempt of a promotion that expired, failed or was cancelled"
    )
    retry.add_argument("group", type=_group, metavar="GROUP")
    retry.add_argument("version", type=_version, metavar="VERSION")
    retry.add_argument("--reason", required=True, metavar="TEXT", help="why (recorded; at most 1000 characters)")
    retry.add_argument("--operator", metavar="WHO", help="who retries (default: your AWS identity's ARN)")

    reconcile = commands.add_parser(
        "reconcile", parents=[common], help="start a promotion for every pending version that has none"
    )
    reconcile.add_argument(
        "--group", dest="groups", action="append", type=_group, metavar="G", help="only this group (repeatable)"
    )

    audit = commands.add_parser(AUDIT, help="check the audit log")
    audit_actions = audit.add_subparsers(dest="audit_action", metavar="ACTION", parser_class=_Parser)
    audit_actions.required = True
    verify = audit_actions.add_parser(
        "verify",
        parents=[common],
        help="recompute a group's hash-chained audit log and name the first broken link, if any",
    )
    verify.add_argument("group", type=_group, metavar="GROUP")

    smoke = commands.add_parser(
        SMOKE_TEST,
        parents=[common],
        help="prove a fresh stack is wired end to end: register a tiny model and walk its first stage",
    )
    smoke.add_argument(
        "--group",
        type=_group,
        default=SMOKE_GROUP,
        metavar="G",
        help=f"the model package group (default {SMOKE_GROUP})",
    )
    smoke.add_argument(
        "--wait-for-approval",
        type=_seconds,
        metavar="SECONDS",
        help="instead of cancelling, wait this long for a person to decide on the review page",
    )
    smoke.add_argument("--operator", metavar="WHO", help="who runs it (default: your AWS identity's ARN)")
    return parser


def _seconds(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= SMOKE_WAIT_MAX:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds from 1 to {SMOKE_WAIT_MAX}")
    return int(text)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    return build_parser().parse_args(_default_state_file(list(argv)))


def _default_state_file(argv: list[str]) -> list[str]:
    """`--local status GROUP` means the default state file: argparse would take `status` as the file."""
    out: list[str] = []
    for i, arg in enumerate(argv):
        if arg in COMMANDS:
            return out + argv[i:]
        out.append(arg)
        following = argv[i + 1] if i + 1 < len(argv) else None
        if arg == "--local" and following is not None and (following in COMMANDS or following.startswith("-")):
            out.append(DEFAULT_STATE_FILE)
    return out


# Target


@dataclass(frozen=True)
class Target:
    """Where the stack's resources are, from the embedded AWS's state file or the stack's outputs."""

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


def resolve_target(args: argparse.Namespace, environ: dict[str, str] | None = None) -> Target:
    """Points the AWS SDK at the target (through the environment the adapters' clients read) and reads it."""
    environ = os.environ if environ is None else environ
    if args.local is not None:
        target = local_target(Path(args.local), environ)
    elif args.stack_name:
        target = stack_target(args.stack_name, args.profile, args.region, environ)
    else:
        raise UsageError("choose a target: --local [STATE_FILE] for the embedded AWS, or --stack-name NAME")
    return target


def _reset_clients() -> None:
    from .adapters.aws import client

    client.cache_clear()


def local_target(path: Path, environ: dict[str, str]) -> Target:
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(
            f"no embedded AWS state file at {path}: start the embedded AWS (make up) or give --local PATH"
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
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        environ.pop(key, None)
    environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_REGION=region,
        AWS_DEFAULT_REGION=region,
        AWS_ACCESS_KEY_ID=LOCAL_CREDENTIALS,
        AWS_SECRET_ACCESS_KEY=LOCAL_CREDENTIALS,
    )
    _reset_clients()
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
    )


def stack_target(name: str, profile: str | None, region: str | None, environ: dict[str, str]) -> Target:
    if profile:
        environ["AWS_PROFILE"] = profile
    if region:
        environ.update(AWS_REGION=region, AWS_DEFAULT_REGION=region)
    _reset_clients()
    from botocore.exceptions import ClientError

    from .adapters.aws import client, error_code

    try:
        stacks = client("cloudformation").describe_stacks(StackName=name)["Stacks"]
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
        region=_stack_region(str(stack.get("StackId") or "")) or client("cloudformation").meta.region_name or "",
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


def stages_of(args: argparse.Namespace, target: Target) -> tuple[str, ...]:
    if args.stages:
        try:
            return parse_stages(args.stages)
        except ConfigurationError as exc:
            raise UsageError(f"--stages: {exc}") from None
    return target.stages or DEFAULT_STAGES


def caller_identity() -> str:
    """Who runs the CLI: the AWS identity's ARN, else the local user name."""
    from .adapters.aws import client

    try:
        return str(client("sts").get_caller_identity()["Arn"])
    except Exception:
        return os.environ.get("USER") or getpass.getuser()


# Commands


def run(args: argparse.Namespace, target: Target, now: datetime | None = None) -> Any:
    """Carries out the command against the target's adapters and returns its result (dicts and lists)."""
    from .adapters.dynamodb_approvals import DynamoDbApprovalStore
    from .adapters.dynamodb_decision_log import DynamoDbDecisionLog
    from .adapters.sagemaker_registry import SageMakerCatalog, SageMakerRegistry
    from .adapters.ses_mailer import SesMailer
    from .adapters.step_functions import StepFunctionsWorkflow
    from .services.reconcile import reconcile

    now = now or utc_now()
    stages = stages_of(args, target)
    if getattr(args, "stage", None) and args.stage not in stages:
        raise UsageError(f"stage {args.stage!r} is not one of the stages {', '.join(stages)}")
    store = DynamoDbApprovalStore(target.approvals_table)
    workflow = StepFunctionsWorkflow(target.state_machine_arn)
    if args.command == "status":
        return version_status(
            catalog=SageMakerCatalog(),
            executions=workflow,
            store=store,
            group=args.group,
            stages=stages,
            now=now,
            version=args.version,
        )
    if args.command == "pending":
        return pending_approvals(store=store, now=now)
    if args.command == "history":
        return decision_history(
            log=DynamoDbDecisionLog(target.decision_log_table),
            group=args.group,
            stage=args.stage,
            version=args.version,
            stages=stages,
        )
    if args.command == "resend":
        if not target.sender or not target.approval_base_url:
            raise UsageError(f"{target.description} names no sender address or approval base URL")
        return resend_request(
            store=store,
            mailer=SesMailer(target.sender),
            base_url=target.approval_base_url,
            group=args.group,
            version=args.version,
            stage=args.stage,
            now=now,
        )
    if args.command == "cancel":
        return cancel_promotion(
            store=store,
            executions=workflow,
            registry=SageMakerRegistry(),
            log=DynamoDbDecisionLog(target.decision_log_table),
            group=args.group,
            version=args.version,
            reason=args.reason,
            operator=args.operator if args.operator is not None else caller_identity(),
            stage=args.stage,
            now=now,
        )
    if args.command == "retry":
        return retry_promotion(
            catalog=SageMakerCatalog(),
            registry=SageMakerRegistry(),
            executions=workflow,
            workflow=workflow,
            log=DynamoDbDecisionLog(target.decision_log_table),
            group=args.group,
            version=args.version,
            reason=args.reason,
            operator=args.operator if args.operator is not None else caller_identity(),
            stages=stages,
            now=now,
        )
    if args.command == "reconcile":
        return reconcile(
            catalog=SageMakerCatalog(),
            workflow=workflow,
            stages=stages,
            groups=tuple(args.groups or ()) or target.groups,
        )
    if args.command == AUDIT:
        return verify_audit_log(log=DynamoDbDecisionLog(target.decision_log_table), group=args.group)
    if args.command == SMOKE_TEST:
        return smoke_test(args, target)
    raise UsageError(f"unknown command {args.command!r}")  # argparse refuses it first


# smoke-test


def smoke_settings(args: argparse.Namespace, target: Target, operator: str) -> SmokeSettings:
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
    local = args.local is not None
    try:
        image = sklearn_image_uri(target.region)
    except KeyError:
        if not local:
            raise UsageError(
                f"no SageMaker scikit-learn image is known for region {target.region or '(none)'}: give --region"
            ) from None
        image = sklearn_image_uri("us-east-1")  # nothing pulls it locally: any region's image will do
    return SmokeSettings(
        group=args.group,
        stages=stages_of(args, target),
        bucket=bucket,
        gates=gates,
        operations_email=operations,
        parameter_prefix=str(parameters.get("ParameterPrefix") or "/model-promotion"),
        image_uri=image,
        operator=operator,
        promoted_groups=target.groups,
        wait_for_approval=args.wait_for_approval,
        # The embedded AWS answers in milliseconds; a deployed stack is polled more gently.
        poll_interval=0.2 if local else 1.0,
    )


def smoke_plan(args: argparse.Namespace, target: Target) -> tuple[SmokeSettings, SmokePorts]:
    """The settings and the adapters, checked before anything is printed or written."""
    from .adapters.dynamodb_approvals import DynamoDbApprovalStore
    from .adapters.dynamodb_decision_log import DynamoDbDecisionLog
    from .adapters.sagemaker_registry import SageMakerRegistry
    from .adapters.smoke_aws import S3ArtifactUploads, SageMakerRegistration, StepFunctionsHistory
    from .adapters.ssm_approved_models import SsmApprovedModels
    from .adapters.step_functions import StepFunctionsWorkflow

    operator = args.operator if args.operator is not None else caller_identity()
    settings = smoke_settings(args, target, operator)
    check_smoke_settings(settings)
    ports = SmokePorts(
        artifacts=S3ArtifactUploads(),
        registration=SageMakerRegistration(),
        registry=SageMakerRegistry(),
        executions=StepFunctionsWorkflow(target.state_machine_arn),
        history=StepFunctionsHistory(),
        store=DynamoDbApprovalStore(target.approvals_table),
        log=DynamoDbDecisionLog(target.decision_log_table),
        approved_models=SsmApprovedModels(),
    )
    return settings, ports


def smoke_test(
    args: argparse.Namespace,
    target: Target,
    on_step: Callable[[Mapping[str, Any]], None] | None = None,
    notice: Callable[[str], None] | None = None,
    plan: tuple[SmokeSettings, SmokePorts] | None = None,
) -> dict[str, Any]:
    settings, ports = plan or smoke_plan(args, target)
    return run_smoke_test(settings, ports, on_step=on_step, notice=notice)


def smoke_test_main(args: argparse.Namespace, target: Target, *, stdout: TextIO, stderr: TextIO) -> int:
    """Runs the smoke test, printing each step as it ends (people) or one JSON document at the end (scripts).

    A failure is also one line on stderr naming the step and what to look at.
    """
    plan = smoke_plan(args, target)  # a bad configuration is one line on stderr, before any output
    if args.json:
        result = smoke_test(args, target, notice=lambda text: print(text, file=stderr, flush=True), plan=plan)
        print(to_json(result), file=stdout)
    else:
        print(f"Smoke test of {target.description}", file=stdout)
        print(SMOKE_HEADER, file=stdout, flush=True)
        result = smoke_test(
            args,
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


RENDERERS: dict[str, Callable[[Any], str]] = {
    "status": render_status,
    "pending": render_pending,
    "history": render_history,
    "resend": render_resend,
    "cancel": render_cancel,
    "reconcile": render_reconcile,
    "retry": render_retry,
    AUDIT: render_audit,
    SMOKE_TEST: render_smoke,
}


def render(command: str, result: Any, as_json: bool) -> str:
    return to_json(result) if as_json else RENDERERS[command](result)


# Entry point


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except UsageError as exc:
        print(f"error: {exc}", file=stderr)
        return EXIT_BAD
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    try:
        target = resolve_target(args)
        if args.command == SMOKE_TEST:
            return smoke_test_main(args, target, stdout=stdout, stderr=stderr)
        result = run(args, target)
    except OperationError as exc:
        print(f"error: {exc}", file=stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=stderr)
        return EXIT_BAD
    except Exception as exc:  # never a traceback: one line that says what failed
        print(f"error: {describe_failure(exc)}", file=stderr)
        return EXIT_BAD
    print(render(args.command, result, args.json), file=stdout)
    if args.command == AUDIT and not result["ok"]:
        print(f"error: the audit log of {args.group} is broken: {result['broken']['message']}", file=stderr)
        return EXIT_NOT_FOUND
    return EXIT_OK


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
