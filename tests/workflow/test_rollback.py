"""Signed rollback: an operator asks, the stage's approvers sign on the same review page (marked as a rollback,
with both versions), and only then do SSM and the registry return to the earlier version; the audit log records
who asked, who signed and why. A rollback to a version never approved for the stage is refused."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from embedded_aws.client import StackClient
from model_promotion.domain.model_version import ModelVersion
from stack_helpers import Promotion, audit_table_entries, new_group, register, run_operator_command

pytestmark = pytest.mark.workflow

OPERATOR = "olga.operator@example.com"
REASON = "version 2 misroutes claims from the new region"


@pytest.fixture(scope="module")
def state_file(single_stage_stack: StackClient, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rollback") / "stack.json"
    path.write_text(json.dumps(single_stage_stack.info))
    return path


def model_promotion(state_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_operator_command(state_file, "--json", *args)


def approved(stack: StackClient, assets: Any, group: str) -> Promotion:
    promotion = register(stack, assets, "rollback", group=group)
    answer = promotion.decide("dev", "approve", f"version {promotion.version} looks right")
    assert answer.status_code == 200, answer.text
    assert promotion.finish()["status"] == "SUCCEEDED"
    return promotion


def test_a_signed_rollback_returns_the_stage_to_the_earlier_version_and_audits_who_asked_who_signed_and_why(
    single_stage_stack: StackClient, demo_assets: Any, state_file: Path
) -> None:
    stack = single_stage_stack
    group = new_group("rollback")
    first, second = approved(stack, demo_assets, group), approved(stack, demo_assets, group)
    assert second.ssm_record("dev")["modelVersion"] == second.version

    # When an operator asks for dev to go back to version 1
    asked = model_promotion(
        state_file, "rollback", group, "--stage", "dev", "--to", str(first.version), "--reason", REASON,
        "--operator", OPERATOR,
    )  # fmt: skip

    # Then nothing has changed yet: the dev approver is asked to sign, on a review page marked as a rollback
    assert asked.returncode == 0, asked.stderr
    request = json.loads(asked.stdout)
    assert (request["toVersion"], request["replacesVersion"], request["requestedBy"]) == (1, 2, OPERATOR)
    assert second.ssm_record("dev")["modelVersion"] == second.version
    approver = first.approvers("dev")[0]
    email = stack.wait_for_email(
        lambda m: approver in m["to"] and m["subject"] == f"Rollback to sign: dev back to {group} version 1",
        "the rollback's email",
    )
    assert REASON in email["text"] and "dev runs version 2 now" in email["text"]
    (link,) = stack.links(email)
    browser = stack.signed_in(approver)
    page = browser.get(link, timeout=30)
    assert page.status_code == 200
    assert f"Roll dev back to {group} version 1?" in page.text and "Rollback." in page.text
    assert REASON in page.text and "Approve the rollback" in page.text
    assert "Now approved for dev" in page.text and "version 2" in page.text  # the version it replaces

    # When the approver signs it
    target, csrf = stack.form_of(page)
    signed = browser.post(target, data={"decision": "approve", "comment": "back to v1", "csrf": csrf}, timeout=30)
    assert signed.status_code == 200, signed.text
    finished = stack.wait_for_execution(request["executionArn"])

    # Then dev runs version 1 again: SSM points at it, signed by the approver, and the registry says so
    assert finished["status"] == "SUCCEEDED"
    record = first.ssm_record("dev")
    assert (record["modelVersion"], record["approvedBy"]) == (first.version, approver)
    assert first.describe()["CustomerMetadataProperties"]["dev"] == "Approved"
    replaced = second.describe()["CustomerMetadataProperties"]
    assert replaced["dev"] == "RolledBack" and replaced["dev-signed-by"] == "rolled back to version 1"

    # And the audit log holds the request and the signed rollback as entries of their own, in one chain
    entries = audit_table_entries(stack, group)
    requested, rolled_back = entries[-2], entries[-1]
    assert (requested["outcome"], requested["actor"], requested["reason"]) == ("rollback-requested", OPERATOR, REASON)
    assert (rolled_back["outcome"], rolled_back["actor"], rolled_back["modelVersion"]) == (
        "rolled-back",
        approver,
        first.version,
    )
    assert rolled_back["rollback"]["requestedBy"] == OPERATOR and rolled_back["rollback"]["reason"] == REASON
    assert rolled_back["rollback"]["replacesVersion"] == second.version
    assert rolled_back["meaning"] == "rolled dev back to version 1"
    operations = stack.parameters["OperationsEmail"]
    stack.wait_for_email(
        lambda m: operations in m["to"] and m["subject"] == f"{group}: dev was rolled back to version 1",
        "the rollback's notice to operations",
    )
    verified = model_promotion(state_file, "audit", "verify", group)
    assert verified.returncode == 0 and json.loads(verified.stdout)["ok"] is True


def test_a_rollback_to_a_version_never_approved_for_the_stage_or_running_there_is_refused(
    single_stage_stack: StackClient, demo_assets: Any, state_file: Path
) -> None:
    stack = single_stage_stack
    group = new_group("rollback-refused")
    current = approved(stack, demo_assets, group)
    waiting = register(stack, demo_assets, "rollback-refused", group=group)
    waiting.approval_email("dev")

    never = model_promotion(state_file, "rollback", group, "--stage", "dev", "--to", "2", "--reason", "r")
    same = model_promotion(state_file, "rollback", group, "--stage", "dev", "--to", "1", "--reason", "r")
    missing = model_promotion(state_file, "rollback", group, "--stage", "dev", "--to", "9", "--reason", "r")

    assert never.returncode == 2 and never.stdout == ""
    assert never.stderr == (
        f"error: {group} version 2 was never approved for dev: a rollback returns a stage only to a version its "
        f"approvers signed for it before (see `history {group} --stage dev`)\n"
    )
    assert same.returncode == 2 and "dev runs" in same.stderr and "already" in same.stderr
    assert missing.returncode == 1 and missing.stderr == f"error: {group} has no version 9\n"
    assert current.ssm_record("dev")["modelVersion"] == current.version
    assert [e["outcome"] for e in audit_table_entries(stack, group)] == ["approved"]


def test_a_rollback_started_by_hand_naming_an_approval_that_never_happened_asks_nobody_and_is_tampering(
    single_stage_stack: StackClient, demo_assets: Any
) -> None:
    # Given version 2 never approved for dev, and someone who may start the rollback state machine directly
    stack = single_stage_stack
    group = new_group("rollback-forged")
    current = approved(stack, demo_assets, group)
    unapproved = register(stack, demo_assets, "rollback-forged", group=group)
    unapproved.approval_email("dev")
    model = stack.client("sagemaker").describe_model_package(ModelPackageName=unapproved.package_arn)
    forged = {
        "model": ModelVersion.from_description(model).to_payload(),
        "stage": "dev",
        "stageIndex": 0,
        "stages": ["dev"],
        "evidence": None,
        "rollback": {
            "reason": "trust me",
            "requestedBy": "mallory",
            "requestedAt": "2026-11-21T10:00:00Z",
            "replacesVersion": current.version,
            "replacesPackageArn": current.package_arn,
            "approvedBefore": "an-approval-that-never-happened",
            "approvedBeforeBy": "Dana Dev",
            "approvedBeforeAt": "2026-11-01T10:00:00Z",
        },
    }
    machine = stack.resources["RollbackStateMachine"]
    started = stack.client("stepfunctions").start_execution(
        stateMachineArn=machine, name=f"{group}-forged", input=json.dumps(forged)
    )

    # Then nobody is asked to sign it: the execution fails, the audit log records tampering, SSM is unchanged
    finished = stack.wait_for_execution(started["executionArn"])
    subject = f"Rollback to sign: dev back to {group} version {unapproved.version}"
    assert not [m for m in stack.outbox() if m["subject"] == subject]
    assert (finished["status"], finished.get("error")) == ("FAILED", "RollbackFailed")
    assert current.ssm_record("dev")["modelVersion"] == current.version
    assert audit_table_entries(stack, group)[-1]["outcome"] == "tampered"
