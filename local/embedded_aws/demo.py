"""`make demo`: register a real model and promote it dev -> test -> uat -> prod on the embedded AWS.

The approver's clicks go through the real HTTP approval endpoint: open the emailed link, read the
review page, submit Approve. Everything printed is read back from the registry, SSM and the outbox.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from .client import PROJECT_ROOT, StackClient, StackError, StackProcess
from .demo_model import build_demo_assets
from .scenario import publish_batches, publish_model, register_version

GROUP = "breast-cancer-classifier"
REGISTRANT = "dana.scientist@example.com"


def _metric_lines(text: str) -> list[str]:
    section = text.split("Previous stage's batch results\n", 1)[-1].split("\n\n", 1)[0]
    return [line.strip() for line in section.splitlines() if line.strip()]


def promote(stack: StackClient, work: Path) -> int:
    assets = build_demo_assets(work / "demo-assets")
    publish_batches(stack, assets)
    model_url = publish_model(stack, assets.model_archive, f"{GROUP}/v1/model.tar.gz")
    started = time.perf_counter()
    package = register_version(stack, GROUP, model_url, registrant_email=REGISTRANT)
    version = package["ModelPackageVersion"]
    print(f"Registered {GROUP} version {version} as PendingManualApproval ({package['ModelPackageArn']})")
    execution = stack.execution_for(f"{GROUP}-v{version}")
    print(f"EventBridge started execution {execution.rsplit(':', 1)[-1]}\n")

    stages = stack.parameters["Stages"].split(",")
    approvers = dict(entry.split("=", 1) for entry in stack.parameters["StageApprovers"].split(";"))
    for stage in stages:
        approver = approvers[stage].split(",")[0]
        email = stack.wait_for_email(
            lambda m, s=stage, a=approver: (
                a in m["to"] and m["subject"].endswith(f"for {s}") and f"version {version}" in m["subject"]
            ),
            f"the {stage} approval email to {approver}",
        )
        link = stack.links(email)[0]
        print(f"[{stage}] email to {approver}: {email['subject']!r}")
        for line in _metric_lines(email["text"]):
            print(f"[{stage}]   {line}")
        answer = stack.decide(link, "approve", f"Reviewed the {stage} evidence; promote.", as_user=approver)
        if answer.status_code != 200:
            print(f"[{stage}] the approval endpoint answered {answer.status_code}", file=sys.stderr)
            return 1
        print(f"[{stage}] {approver} signed in and approved through POST {link.split('/approvals/')[0]}/approvals/…\n")

    result = stack.wait_for_execution(execution, timeout=120)
    elapsed = time.perf_counter() - started
    print(f"Execution {result['status']} in {elapsed:.1f}s")
    if result["status"] != "SUCCEEDED":
        print(f"  {result.get('error')}: {result.get('cause')}", file=sys.stderr)
        return 1

    described = stack.client("sagemaker").describe_model_package(ModelPackageName=package["ModelPackageArn"])
    print("\nModel registry")
    print(f"  ModelApprovalStatus        {described['ModelApprovalStatus']}")
    print(f"  ApprovalDescription        {described.get('ApprovalDescription')}")
    for key, value in sorted(described.get("CustomerMetadataProperties", {}).items()):
        print(f"  {key:<26} {value}")
    print("\nSSM Parameter Store (what each environment's inference pipeline reads)")
    ssm = stack.client("ssm")
    prefix = stack.parameters["ParameterPrefix"]
    for stage in stages:
        record = json.loads(ssm.get_parameter(Name=f"{prefix}/{GROUP}/{stage}")["Parameter"]["Value"])
        who = f"approved by {record['approvedBy']} at {record['approvedAt']}"
        print(f"  {prefix}/{GROUP}/{stage}: v{record['modelVersion']} {who}")
    not_approved = [s for s in stages if described.get("CustomerMetadataProperties", {}).get(s) != "Approved"]
    if described["ModelApprovalStatus"] != "Approved" or not_approved:
        print(f"Stages not approved in the registry: {not_approved}", file=sys.stderr)
        return 1
    return 0


def run() -> int:
    work = PROJECT_ROOT / ".local"
    log_path = work / "logs" / "embedded-aws.log"
    print(f"Starting the embedded AWS (its log: {log_path.relative_to(PROJECT_ROOT)})")
    try:
        with StackProcess(log_path=log_path) as stack:
            return promote(stack, work)
    except StackError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
