"""Helpers for tests that run the real template, ASL and handlers on the embedded AWS.

A Promotion is one registered version and its execution, seen only through public AWS APIs and HTTP.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from embedded_aws.client import SESSION_COOKIE, StackClient, StackError, StackProcess, browser
from embedded_aws.demo_model import DemoAssets
from embedded_aws.demo_users import DEMO_PASSWORD
from embedded_aws.scenario import RegistrantSession, publish_model, publish_model_quality, register_version

REGISTRANT = "dana.scientist@example.com"
_groups = itertools.count(1)


# -- browsers: sign-in helpers ------------------------------------------------------------------------------------


PROJECT_ROOT = Path(__file__).resolve().parents[1]


def operator_command(state_file: Path, *args: str) -> list[str]:
    """`model-promotion --local --state-file PATH ARGS...`: the command `make` installs into the venv, as an
    operator runs it."""
    command = Path(sys.executable).parent / "model-promotion"
    assert command.exists(), f"{command} is missing: install the project into the venv (make .venv/.installed)"
    return [str(command), "--local", "--state-file", str(state_file), *args]


def run_operator_command(state_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Runs `model-promotion --local --state-file PATH ARGS...` to its end: exit status, stdout, stderr."""
    return subprocess.run(
        operator_command(state_file, *args),
        capture_output=True,
        text=True,
        env=operator_env(),
        cwd=PROJECT_ROOT,
        timeout=60,
        check=False,
    )


def operator_env() -> dict[str, str]:
    """The operator's environment, with no AWS settings (the state file alone says where AWS is), running this
    checkout's code whichever checkout the venv's editable install points at."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(PROJECT_ROOT / "functions/promotion"), os.environ.get("PYTHONPATH")])
    )
    return env


def hidden_fields(page: requests.Response) -> dict[str, str]:
    fields = dict(re.findall(r"<input type='hidden' name='([^']+)' value='([^']*)'>", page.text))
    return {k: html.unescape(v) for k, v in fields.items()}


def sign_in(
    stack: StackClient, email: str, password: str = DEMO_PASSWORD, session: requests.Session | None = None
) -> requests.Session:
    """A browser signed in through the hosted UI (authorization code with PKCE), as a person clicks through it."""
    session = session or browser()
    form_page = session.get(f"{stack.api_url}/auth/login?next=/", timeout=30)
    fields = hidden_fields(form_page)
    if not fields:
        raise StackError(f"the sign-in page did not load ({form_page.status_code})")
    answer = session.post(
        f"{stack.api_url}/login", data={**fields, "username": email, "password": password}, timeout=30
    )
    if SESSION_COOKIE not in session.cookies:
        raise StackError(f"signing in as {email} failed ({answer.status_code})")
    return session


def session_id(session: requests.Session) -> str:
    return str(session.cookies[SESSION_COOKIE])


def session_key(session: requests.Session) -> dict[str, dict[str, str]]:
    """The approvals table's key of a browser's session: the SHA-256 of its id, never the id."""
    return {"pk": {"S": f"session#{hashlib.sha256(session_id(session).encode()).hexdigest()}"}}


def age_session(stack: StackClient, session: requests.Session, minutes: float, *fields: str) -> None:
    """Moves the session's timestamps (authTime, groupsCheckedAt, lastSeenAt, ...) `minutes` into the past, as if
    that much time had gone by since, through DynamoDB's own API."""
    table = stack.resources["SessionsTable"]
    names = {f"#f{i}": field for i, field in enumerate(fields)}
    stack.client("dynamodb").update_item(
        TableName=table,
        Key=session_key(session),
        UpdateExpression="SET " + ", ".join(f"{name} = {name} - :age" for name in names),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={":age": {"N": str(int(minutes * 60))}},
        ConditionExpression="attribute_exists(pk)",
    )


def cognito_username(stack: StackClient, email: str) -> str:
    """The user pool's immutable user name for an address (a UUID where email is the sign-in name)."""
    pool = stack.resources["ApproverUserPool"]
    return str(stack.client("cognito-idp").admin_get_user(UserPoolId=pool, Username=email)["Username"])


@dataclass
class Promotion:
    """One registered version and its execution, seen only through public AWS APIs and HTTP."""

    stack: StackClient
    group: str
    version: int
    package_arn: str
    execution_arn: str

    def approval_email(self, stage: str, approver: str | None = None, timeout: float = 30) -> dict[str, Any]:
        wanted = approver or self.approvers(stage)[0]
        return self.stack.wait_for_email(
            lambda m: (
                wanted in m["to"]
                and m["subject"] == f"Approval needed: {self.group} version {self.version} for {stage}"
            ),
            f"the {stage} approval email to {wanted}",
            timeout,
        )

    def link(self, stage: str, approver: str | None = None) -> str:
        links = self.stack.links(self.approval_email(stage, approver))
        assert len(links) == 1, links
        return links[0]

    def approvers(self, stage: str) -> list[str]:
        entries = dict(e.split("=", 1) for e in self.stack.parameters["StageApprovers"].split(";"))
        return entries[stage].split(",")

    def decide(self, stage: str, decision: str, comment: str = "", as_user: str | None = None) -> Any:
        """The stage's (first) approver signs in, opens their link and decides."""
        return self.stack.decide(self.link(stage), decision, comment, as_user=as_user or self.approvers(stage)[0])

    def approve_until(self, last_stage: str) -> None:
        for stage in self.stack.parameters["Stages"].split(","):
            if stage == last_stage:
                return
            answer = self.decide(stage, "approve", f"{stage} looks right")
            assert answer.status_code == 200, answer.text

    def finish(self, timeout: float = 60) -> dict[str, Any]:
        return self.stack.wait_for_execution(self.execution_arn, timeout)

    def describe(self) -> dict[str, Any]:
        return self.stack.client("sagemaker").describe_model_package(ModelPackageName=self.package_arn)

    def ssm_record(self, stage: str) -> dict[str, Any] | None:
        ssm = self.stack.client("ssm")
        name = f"{self.stack.parameters['ParameterPrefix']}/{self.group}/{stage}"
        try:
            return json.loads(ssm.get_parameter(Name=name)["Parameter"]["Value"])
        except ssm.exceptions.ParameterNotFound:
            return None

    def ssm_versions(self, stage: str) -> int:
        ssm = self.stack.client("ssm")
        name = f"{self.stack.parameters['ParameterPrefix']}/{self.group}/{stage}"
        try:
            return len(ssm.get_parameter_history(Name=name)["Parameters"])
        except ssm.exceptions.ParameterNotFound:
            return 0

    def audit_entries(self) -> list[dict[str, Any]]:
        return audit_table_entries(self.stack, self.group)

    def history(self) -> list[dict[str, Any]]:
        return self.stack.history(self.execution_arn)

    def decisions(self) -> list[dict[str, Any]]:
        """History events that carry a person's decision: an approval's output, or a rejection."""
        return [
            e
            for e in self.history()
            if (e["type"] == "TaskSucceeded" and '"decisionId"' in e["taskSucceededEventDetails"].get("output", ""))
            or (e["type"] == "TaskFailed" and e["taskFailedEventDetails"].get("error") == "ApprovalRejected")
        ]

    def task_tokens(self) -> set[str]:
        tokens = set()
        for event in self.history():
            details = event.get("taskScheduledEventDetails")
            if details:
                payload = json.loads(details["parameters"]).get("Payload", {})
                if "taskToken" in payload:
                    tokens.add(payload["taskToken"])
        return tokens

    def emails(self) -> list[dict[str, Any]]:
        return [m for m in self.stack.outbox() if f"{self.group} version {self.version}" in m["subject"]]


def audit_table_entries(stack: StackClient, group: str) -> list[dict[str, Any]]:
    """The group's audit items as the table holds them, in chain order, read with an administrator's credentials."""
    from boto3.dynamodb.types import TypeDeserializer

    deserialize = TypeDeserializer().deserialize
    items = stack.client("dynamodb").query(
        TableName=stack.resources["DecisionLogTable"],
        KeyConditionExpression="modelPackageGroupName = :g",
        ExpressionAttributeValues={":g": {"S": group}},
        ConsistentRead=True,
    )["Items"]
    return sorted(({k: deserialize(v) for k, v in item.items()} for item in items), key=lambda e: e["sequence"])


def start_stack(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    overrides: dict[str, str],
    transform_seconds: float = 0.0,
    schedule_seconds: float = 0.0,
) -> Iterator[StackClient]:
    log_path = tmp_path_factory.mktemp(name) / "stack.log"
    process = StackProcess(
        overrides=overrides, log_path=log_path, transform_seconds=transform_seconds, schedule_seconds=schedule_seconds
    )
    client = process.start()
    client.info["log_path"] = str(log_path)
    try:
        yield client
    finally:
        process.stop()


def arm_fault(
    stack: StackClient, caller: str, service: str, operation: str, fault: str, count: int, **extra: Any
) -> None:
    """Arms the embedded AWS's fault injector (docs/embedded-aws.md) for one function's calls of one operation."""
    answer = requests.post(
        f"{stack.api_url}/_local/faults",
        json={"service": service, "operation": operation, "fault": fault, "count": count, "caller": caller, **extra},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text


def new_group(prefix: str) -> str:
    return re.sub(r"[^a-zA-Z0-9-]", "-", f"{prefix}-{next(_groups)}")[:63]


def register(
    stack: StackClient,
    assets: DemoAssets,
    prefix: str,
    *,
    model_key: str | None = None,
    registrant: str | None = REGISTRANT,
    archive: Path | None = None,
    with_metrics: bool = True,
    metrics_of: Path | None = None,
    group: str | None = None,
    registered_as: str | None = None,
) -> Promotion:
    """Given a registered PendingManualApproval version, returns its promotion once EventBridge started it.

    Like a training pipeline, it registers the model's evaluation metrics (on the demo's held-out rows)
    unless told not to; the local configuration's quality gate checks them before any approval.
    `metrics_of` registers another model's metrics, as an over-optimistic evaluation would. `registered_as`
    registers through an IAM Identity Center session of that name (CreatedBy then names that person); without it,
    CreatedBy is the test's own (administrator's) identity, which names no approver.
    """
    group = group or new_group(prefix)
    archive = archive or assets.model_archive
    if model_key is None:
        model_url = publish_model(stack, archive, f"{group}/{archive.name}")
    else:
        model_url = f"s3://{stack.parameters['ModelArtifactsBucketName']}/{model_key}"
    evaluated = metrics_of or archive
    statistics = (
        publish_model_quality(stack, evaluated, assets, f"{group}/{evaluated.name}.json") if with_metrics else None
    )
    registering: Any = RegistrantSession(stack, registered_as) if registered_as else stack
    package = register_version(registering, group, model_url, registrant_email=registrant, statistics_uri=statistics)
    version = package["ModelPackageVersion"]
    execution = stack.execution_for(f"{group}-v{version}")
    return Promotion(stack, group, version, package["ModelPackageArn"], execution)


def log_text(stack: StackClient) -> str:
    return Path(stack.info["log_path"]).read_text(errors="replace")
