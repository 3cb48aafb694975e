"""`smoke-test`, run as an operator runs it on a fresh stack (a subprocess against the session's embedded AWS,
`--local STATE_FILE`): what they notice is the exit status, the printed steps, and what the registry, the
audit log, the execution and SSM say afterwards."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from embedded_aws.client import StackClient
from stack_helpers import PROJECT_ROOT, Promotion, new_group, operator_command, operator_env

pytestmark = pytest.mark.workflow

SMOKE_GROUP = "model-promotion-smoke"
OPERATOR = "ops.oncall@example.com"
STEPS = ["upload", "register", "start", "request", "cancel", "registry", "audit", "aborted"]


@pytest.fixture(scope="module")
def state_file(stack: StackClient, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `make up` writes: the CLI's --local target. The artifacts bucket is the ML team's, as on AWS."""
    bucket = stack.parameters["ModelArtifactsBucketName"]
    s3 = stack.client("s3")
    if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=bucket)
    path = tmp_path_factory.mktemp("smoke") / "stack.json"
    path.write_text(json.dumps(stack.info))
    return path


def smoke_test(state_file: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        operator_command(state_file, *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=operator_env(),
        cwd=PROJECT_ROOT,
    )


def _promotion(stack: StackClient, group: str, version: int) -> Promotion:
    package = f"arn:aws:sagemaker:{stack.info['region']}:123456789012:model-package/{group}/{version}"
    execution = f"{stack.state_machine_arn.replace(':stateMachine:', ':execution:')}:{group}-v{version}"
    return Promotion(stack, group, version, package, execution)


def test_smoke_test_registers_a_tiny_model_walks_dev_and_cancels_it(stack: StackClient, state_file: Path) -> None:
    # When an operator smoke-tests the fresh stack
    process = smoke_test(state_file, "smoke-test", "--operator", OPERATOR)
    out, err = process.communicate(timeout=90)

    # Then it passes, with every step printed and timed
    assert process.returncode == 0, f"{out}\n{err}"
    assert err == "" and "Traceback" not in out
    lines = out.splitlines()
    rows = [line.split(maxsplit=3) for line in lines[2 : 2 + len(STEPS)]]
    assert [r[0] for r in rows] == STEPS and all(r[1] == "ok" and r[2].endswith("s") for r in rows), out
    assert "dev request stored and mailed to dana.dev@example.com" in out
    assert "Smoke test passed in " in lines[-2] and f"{SMOKE_GROUP} version " in lines[-2]
    version = int(lines[-2].split(" version ", 1)[1].split()[0])

    # And the registry shows dev Cancelled on a version that says what it is
    promotion = _promotion(stack, SMOKE_GROUP, version)
    package = promotion.describe()
    metadata = package["CustomerMetadataProperties"]
    assert metadata["dev"] == "Cancelled" and metadata["smoke-test"] == "true"
    assert metadata["RegistrantEmail"] == stack.parameters["OperationsEmail"]
    assert "synthetic smoke-test figures" in package["ModelPackageDescription"]
    # And the audit log has the cancellation, by the operator, and the execution was stopped
    (entry,) = [e for e in promotion.audit_entries() if e["modelVersion"] == version]
    assert (entry["stage"], entry["outcome"], entry["actor"], entry["reason"]) == (
        "dev",
        "cancelled",
        OPERATOR,
        "smoke test",
    )
    assert stack.client("stepfunctions").describe_execution(executionArn=promotion.execution_arn)["status"] == "ABORTED"
    # And the dev approver was mailed for real, and no output carries a task token
    assert promotion.approval_email("dev")["to"] == ["dana.dev@example.com"]
    assert not any(token in out for token in promotion.task_tokens())


def test_smoke_test_waits_for_a_persons_approval_and_stops_before_scoring(stack: StackClient, state_file: Path) -> None:
    # Given a smoke test that waits for the dev approver
    group = new_group("smoke-approval")
    process = smoke_test(state_file, "--json", "smoke-test", "--group", group, "--wait-for-approval", "60")
    promotion = _promotion(stack, group, 1)

    # When the dev approver approves on the review page
    answer = promotion.decide("dev", "approve", "the stack is wired")
    assert answer.status_code == 200, answer.text
    out, err = process.communicate(timeout=90)

    # Then the decision is reported, recorded in the registry and SSM, and the promotion stopped before test
    assert process.returncode == 0, f"{out}\n{err}"
    assert "Mailed the dev approvers dana.dev@example.com" in err
    result = json.loads(out)
    # (the stop races the workflow: when scoring of the smoke artifact began first, the last step reports how
    # the execution ended instead of recording the stop)
    assert [s["step"] for s in result["steps"]][4:8] == ["decision", "stop", "registry", "ssm"]
    assert result["steps"][-1]["step"] in ("recorded", "ended")
    assert result["decision"]["outcome"] == "approved" and result["decision"]["by"] == "dana.dev@example.com"
    assert promotion.ssm_record("dev")["modelVersion"] == 1
    metadata = promotion.describe()["CustomerMetadataProperties"]
    status = stack.client("stepfunctions").describe_execution(executionArn=promotion.execution_arn)["status"]
    if result["steps"][-1]["step"] == "recorded":  # the stop came first
        assert (metadata["dev"], metadata["test"], status) == ("Approved", "Cancelled", "ABORTED")
        assert result["steps"][5]["detail"].startswith("stopped the execution at ")
    else:  # scoring the README-only artifact failed first: that is test's failure, dev stays approved
        assert (metadata["dev"], metadata["test"], status) == ("Approved", "Failed", "FAILED")
    assert not any(token in out + err for token in promotion.task_tokens())
