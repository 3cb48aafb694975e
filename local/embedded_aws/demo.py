"""`make demo`: real models promoted dev -> test -> uat -> prod on the embedded AWS, by signed-in approvers.

1. Version 1 is registered with its evaluation metrics, passes the quality gate, and each stage's approver
   signs in from the emailed link and approves; batch transform scores every stage's batch in between.
2. Version 2, retrained, goes the same way: each approver sees it beside version 1, the champion, scored
   on the same batch.
3. Version 3, a weak model, is rejected by the quality gate with its reasons, before anyone is asked.
Everything printed is read back from the registry, SSM, the execution and the outbox.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from .client import PROJECT_ROOT, StackClient, StackError, StackProcess
from .demo_model import build_demo_assets, build_retrained_model_archive, build_weaker_model_archive
from .demo_users import REGISTRANT
from .scenario import RegistrantSession, publish_batches, publish_model, publish_model_quality, register_version

GROUP = "breast-cancer-classifier"


def _section(text: str, title: str) -> list[str]:
    body = text.split(f"{title}\n", 1)[-1].split("\n\n", 1)[0]
    return [line.strip() for line in body.splitlines() if line.strip()]


def _register(stack: StackClient, archive: Path, assets: Any, label: str) -> tuple[dict[str, Any], str]:
    model_url = publish_model(stack, archive, f"{GROUP}/{label}/model.tar.gz")
    statistics = publish_model_quality(stack, archive, assets, f"{GROUP}/{label}/evaluation.json")
    package = register_version(
        RegistrantSession(stack, REGISTRANT), GROUP, model_url, registrant_email=REGISTRANT, statistics_uri=statistics
    )
    version = package["ModelPackageVersion"]
    print(f"\n=== {GROUP} version {version} ({label}) registered as PendingManualApproval")
    execution = stack.execution_for(f"{GROUP}-v{version}")
    print(f"    EventBridge started execution {execution.rsplit(':', 1)[-1]}")
    return package, execution


def _promote(stack: StackClient, package: dict[str, Any], execution: str) -> int:
    version = package["ModelPackageVersion"]
    stages = stack.parameters["Stages"].split(",")
    approvers = dict(entry.split("=", 1) for entry in stack.parameters["StageApprovers"].split(";"))
    for stage in stages:
        approver = approvers[stage].split(",")[0]
        subject = f"Approval needed: {GROUP} version {version} for {stage}"
        email = stack.wait_for_email(lambda m, a=approver, s=subject: a in m["to"] and m["subject"] == s, subject)
        print(f"[{stage}] email to {approver}: {email['subject']!r}")
        for line in _section(email["text"], "Previous stage's batch results"):
            print(f"[{stage}]   {line}")
        for line in _section(email["text"], f"Now approved for {stage}"):
            print(f"[{stage}]   {line}")
        answer = stack.decide(
            stack.links(email)[0], "approve", f"Reviewed the {stage} evidence; promote.", as_user=approver
        )
        if answer.status_code != 200:
            print(f"[{stage}] the approval endpoint answered {answer.status_code}", file=sys.stderr)
            return 1
        print(f"[{stage}] {approver} signed in and approved\n")
    result = stack.wait_for_execution(execution, timeout=120)
    print(f"Execution {result['status']}")
    if result["status"] != "SUCCEEDED":
        print(f"  {result.get('error')}: {result.get('cause')}", file=sys.stderr)
        return 1
    return 0


def _show_records(stack: StackClient, package: dict[str, Any]) -> int:
    stages = stack.parameters["Stages"].split(",")
    described = stack.client("sagemaker").describe_model_package(ModelPackageName=package["ModelPackageArn"])
    metadata = described.get("CustomerMetadataProperties", {})
    print("\nModel registry")
    print(f"  ModelApprovalStatus        {described['ModelApprovalStatus']}")
    print(f"  ApprovalDescription        {described.get('ApprovalDescription')}")
    for stage in stages:
        print(f"  {stage:<26} {metadata.get(stage)} (signed by {metadata.get(f'{stage}-signed-by')})")
    print("\nSSM Parameter Store (what each environment's inference pipeline reads)")
    ssm = stack.client("ssm")
    prefix = stack.parameters["ParameterPrefix"]
    for stage in stages:
        record = json.loads(ssm.get_parameter(Name=f"{prefix}/{GROUP}/{stage}")["Parameter"]["Value"])
        who = f"approved by {record['approvedByName']} <{record['approvedBy']}> at {record['approvedAt']}"
        print(f"  {prefix}/{GROUP}/{stage}: v{record['modelVersion']} {who}")
    not_approved = [s for s in stages if metadata.get(s) != "Approved"]
    if described["ModelApprovalStatus"] != "Approved" or not_approved:
        print(f"Stages not approved in the registry: {not_approved}", file=sys.stderr)
        return 1
    return 0


def _show_inference_pipeline_view(stack: StackClient) -> None:
    """Seed step 9: an inference pipeline asks which version is approved for its environment (the installed
    model_promotion.client, reading the embedded SSM through the client it is given)."""
    from model_promotion.client import get_approved_model

    ssm = stack.client("ssm")
    print("\nInference pipelines: get_approved_model(group, stage)")
    for stage in stack.parameters["Stages"].split(","):
        model = get_approved_model(GROUP, stage, prefix=stack.parameters["ParameterPrefix"], ssm_client=ssm)
        print(f"  {stage:<5} -> version {model.version}  {model.model_data_url}")


def promote(stack: StackClient, work: Path) -> int:
    assets = build_demo_assets(work / "demo-assets")
    publish_batches(stack, assets)
    started = time.perf_counter()

    first, execution = _register(stack, assets.model_archive, assets, "v1")
    if _promote(stack, first, execution) or _show_records(stack, first):
        return 1

    second, execution = _register(stack, build_retrained_model_archive(work / "demo-assets"), assets, "v2-retrained")
    if _promote(stack, second, execution) or _show_records(stack, second):
        return 1
    _show_inference_pipeline_view(stack)

    weak, execution = _register(stack, build_weaker_model_archive(work / "demo-assets"), assets, "v3-weak")
    result = stack.wait_for_execution(execution, timeout=60)
    print(f"Execution {result['status']}: {result.get('error')}")
    print(f"  {result.get('cause')}")
    notice = stack.wait_for_email(
        lambda m: m["subject"].startswith(f"{GROUP} version {weak['ModelPackageVersion']}:"), "the registrant's notice"
    )
    print(f"  Registrant notified: {notice['subject']!r}")
    described = stack.client("sagemaker").describe_model_package(ModelPackageName=weak["ModelPackageArn"])
    print(f"  Registry: {described['ModelApprovalStatus']}; {described.get('ApprovalDescription')}")
    print(f"\nThree versions handled in {time.perf_counter() - started:.1f}s")
    return 0 if result.get("error") == "QualityGateFailed" and described["ModelApprovalStatus"] == "Rejected" else 1


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
