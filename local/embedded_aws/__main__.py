"""python -m embedded_aws up | register | demo"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path

from .demo_users import DEMO_PASSWORD, OPERATOR
from .template import TemplateError, parse_overrides


def up(args: argparse.Namespace) -> int:
    from .stack import EmbeddedStack

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # The interpreter logs every caught state failure with its full internal representation.
    logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("botocore").setLevel(logging.WARNING)
    state = Path(args.state_file)
    running = _running_stack(state)
    if running:
        print(f"embedded AWS: {running}", file=sys.stderr)
        return 2
    try:
        # The stack's own files (iam.json) live beside its state file.
        state.parent.mkdir(parents=True, exist_ok=True)
        stack = EmbeddedStack(
            overrides=parse_overrides(args.parameter),
            aws_port=args.aws_port,
            api_port=args.api_port,
            host=args.host,
            transform_seconds=args.transform_seconds,
            schedule_seconds=args.schedule_seconds,
            state_dir=state.resolve().parent,
            ses_production_access=args.ses_production_access,
        )
        stack.preflight()  # ports and configuration, before anything starts
    except (TemplateError, OSError) as exc:
        print(f"embedded AWS: {exc}", file=sys.stderr)
        return 2
    try:
        info = stack.start()
    except Exception as exc:  # one line, and nothing left running
        print(f"embedded AWS failed to start: {type(exc).__name__}: {exc}", file=sys.stderr)
        stack.stop()
        return 2
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    temporary = state.with_suffix(".tmp")
    temporary.write_text(json.dumps(info.to_json(), indent=2))
    temporary.replace(state)  # readers never see a half-written file
    print(
        f"Embedded AWS is up.\n"
        f"  AWS endpoint : {info.aws_endpoint}   (AWS_ENDPOINT_URL for the AWS CLI and boto3)\n"
        f"  Approval API : {info.api_url}\n"
        f"  Outbox       : {info.api_url}/outbox\n"
        f"  Console      : {info.api_url}/console   (sign in as {OPERATOR})\n"
        f"  State machine: {info.resources['PromotionStateMachine']}\n"
        f"  Approvers    : the StageApprovers addresses, password {DEMO_PASSWORD!r}\n"
        f"Stop with Ctrl-C.",
        flush=True,
    )
    stopped.wait()
    stack.stop()
    state.unlink(missing_ok=True)
    return 0


def _running_stack(state: Path) -> str:
    """Why `up` must not start: another one is running with this state file. A file left by a stack that is
    gone is stale; `up` replaces it."""
    from .client import StateFileError, read_state

    try:
        info = read_state(state)
    except StateFileError:
        return ""
    return (
        f"another embedded AWS (process {info.get('pid')}) is running with {state}, at {info.get('api_url')}: "
        "stop it first, or give --state-file another path"
    )


def register(args: argparse.Namespace) -> int:
    """Registers a demo model version against a running `up` stack, as a training pipeline would."""
    from .client import StackClient, StateFileError, read_state
    from .demo_model import build_demo_assets
    from .scenario import RegistrantSession, publish_batches, publish_model, publish_model_quality, register_version

    state = Path(args.state_file)
    try:
        stack = StackClient(read_state(state))
    except StateFileError as exc:
        print(f"embedded AWS: {exc}", file=sys.stderr)
        return 2
    assets = build_demo_assets(state.parent / "demo-assets")
    publish_batches(stack, assets)
    url = publish_model(stack, assets.model_archive, f"{args.group}/model.tar.gz")
    statistics = publish_model_quality(stack, assets.model_archive, assets, f"{args.group}/evaluation.json")
    registrant = RegistrantSession(stack, args.registrant)  # CreatedBy names the registrant, as SageMaker records it
    package = register_version(registrant, args.group, url, registrant_email=args.registrant, statistics_uri=statistics)
    print(f"Registered {package['ModelPackageArn']} as PendingManualApproval.")
    print(f"Open {stack.api_url}/outbox for the dev approver's email.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m embedded_aws")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("up", help="run the embedded AWS until stopped")
    start.add_argument("--host", default="127.0.0.1")
    start.add_argument("--aws-port", type=int, default=4010)
    start.add_argument("--api-port", type=int, default=3000)
    start.add_argument("--state-file", default=".local/stack.json")
    start.add_argument(
        "--ses-production-access",
        action="store_true",
        help="SES as after an approved production-access request: mail to unverified addresses too "
        "(by default the embedded SES is in the sandbox, as every new account is)",
    )
    start.add_argument(
        "--schedule-seconds",
        type=float,
        default=0.0,
        help="run every scheduled function this often instead of at its template rate",
    )
    start.add_argument(
        "--transform-seconds",
        type=float,
        default=0.0,
        help="make every batch transform job take at least this long (to stop one in a test)",
    )
    start.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a template parameter (after samconfig.toml's [local] section)",
    )
    start.set_defaults(func=up)
    add = commands.add_parser("register", help="register a demo model version on a running stack")
    add.add_argument("--group", default="breast-cancer-classifier")
    add.add_argument("--registrant", default="dana.scientist@example.com")
    add.add_argument("--state-file", default=".local/stack.json")
    add.set_defaults(func=register)
    demo = commands.add_parser("demo", help="register a model and promote it through every stage")
    demo.set_defaults(func=lambda args: __import__("embedded_aws.demo", fromlist=["run"]).run())
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
