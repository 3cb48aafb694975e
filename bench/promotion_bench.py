"""Measure a full promotion on the embedded AWS, its Step Functions bill, and the handlers' cold imports.

Every figure is printed beside a baseline measured in the same run, as a ratio, so results from
different machines compare:
  - wall time of a 4-stage promotion (register -> SUCCEEDED, approvals via HTTP) vs the summed time
    spent inside the handlers during it (what the embedded AWS itself adds is the difference);
  - state transitions per promoted version, from the execution history (target: <= 12 per stage);
  - each handler module's cold import time vs `import boto3` alone.

Run: make bench   (or: PYTHONPATH=local:functions/promotion python bench/promotion_bench.py)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

from embedded_aws.client import PROJECT_ROOT, StackClient, StackProcess
from embedded_aws.demo_model import build_demo_assets
from embedded_aws.scenario import publish_batches, publish_model, publish_model_quality, register_version

PROMOTIONS = 3
IMPORT_REPEATS = 5
HANDLER_MODULES = [
    "model_promotion.handlers.start_promotion",
    "model_promotion.handlers.request_approval",
    "model_promotion.handlers.approval_api",
    "model_promotion.handlers.record_outcome",
    "model_promotion.handlers.collect_metrics",
    "model_promotion.handlers.start_transform",
    "model_promotion.handlers.transform_completed",
]


def promote_once(stack: StackClient, group: str, model_url: str, statistics: str) -> tuple[float, float, int, int]:
    started = time.perf_counter()
    version = register_version(stack, group, model_url, statistics_uri=statistics)["ModelPackageVersion"]
    execution = stack.execution_for(f"{group}-v{version}")
    stages = stack.parameters["Stages"].split(",")
    approvers = dict(e.split("=", 1) for e in stack.parameters["StageApprovers"].split(";"))
    for stage in stages:
        approver = approvers[stage].split(",")[0]
        subject = f"Approval needed: {group} version {version} for {stage}"
        email = stack.wait_for_email(lambda m, a=approver, s=subject: a in m["to"] and m["subject"] == s, subject)
        answer = stack.decide(stack.links(email)[0], "approve", "bench", as_user=approver)
        assert answer.status_code == 200, answer.text
    result = stack.wait_for_execution(execution, timeout=120)
    wall = time.perf_counter() - started
    assert result["status"] == "SUCCEEDED", result
    handler_seconds = sum(
        i["durationSeconds"]
        for i in stack.http.get(f"{stack.api_url}/invocations.json", timeout=10).json()
        if i.get("executionArn") == execution
        or (
            i["function"] in ("StartPromotionFunction", "ApprovalApiFunction")
            and i["startedAt"] >= started_epoch(started)
        )
    )
    transitions = sum(1 for e in stack.history(execution) if e["type"].endswith("StateEntered"))
    return wall, handler_seconds, transitions, len(stages)


def started_epoch(perf_started: float) -> float:
    return time.time() - (time.perf_counter() - perf_started)


def cold_import_seconds(statement: str) -> float:
    """Median wall time of `statement` in a fresh interpreter, imports only (as a Lambda cold start)."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    env_path = ":".join(str(PROJECT_ROOT / p) for p in ("functions/promotion",))
    samples = []
    for _ in range(IMPORT_REPEATS):
        output = subprocess.run(
            [sys.executable, "-c", code],
            check=True,
            capture_output=True,
            text=True,
            env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"},
        ).stdout
        samples.append(float(output.strip().splitlines()[-1]))
    return median(samples)


def main() -> int:
    print(f"Python {sys.version.split()[0]} on {sys.platform}; {PROMOTIONS} promotions, imports x{IMPORT_REPEATS}\n")
    with tempfile.TemporaryDirectory() as work, StackProcess() as stack:
        assets = build_demo_assets(Path(work))
        publish_batches(stack, assets)
        model_url = publish_model(stack, assets.model_archive, "bench/model.tar.gz")
        statistics = publish_model_quality(stack, assets.model_archive, assets, "bench/evaluation.json")
        # One group: the first version has no champion, every later one is scored beside its champion.
        group = f"bench-{int(time.time())}"
        runs = [promote_once(stack, group, model_url, statistics) for _ in range(PROMOTIONS)]

    wall = median(r[0] for r in runs)
    handlers = median(r[1] for r in runs)
    first_transitions = runs[0][2]
    transitions = max(r[2] for r in runs[1:])
    stages = runs[0][3]
    print("Full promotion on the embedded AWS (median of runs)")
    print(f"  wall time, register -> SUCCEEDED   {wall:8.2f} s")
    print(f"  time inside handlers (baseline)    {handlers:8.2f} s")
    print(f"  wall / handlers                    {wall / handlers:8.2f} x\n")
    print("Step Functions bill (state transitions per promoted version)")
    for label, count in (
        ("first version, no champion", first_transitions),
        ("later version, champion too", transitions),
    ):
        print(f"  {label:<34} {count:8.0f}   {count / stages:5.2f} per stage")
    print(f"  share of the 12-per-stage budget   {transitions / (12 * stages):8.2f} x  (the dearer case)\n")

    baseline = cold_import_seconds("import boto3")
    print("Cold import (median, fresh interpreter). 'with boto3' is what a cold start pays before its first AWS call.")
    print(f"  {'import boto3 (baseline)':<42} {baseline * 1000:8.1f} ms   1.00 x")
    print(f"  {'module':<42} {'alone':>8}   {'ratio':>6} {'with boto3':>11}  {'ratio':>6}")
    for module in HANDLER_MODULES:
        alone = cold_import_seconds(f"import {module}")
        with_sdk = cold_import_seconds(f"import {module}; import boto3")
        print(
            f"  {module:<42} {alone * 1000:6.1f} ms {alone / baseline:6.2f} x"
            f" {with_sdk * 1000:8.1f} ms {with_sdk / baseline:6.2f} x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
