"""`pip install .` in a fresh virtualenv gives operators the `model-promotion` command and inference pipelines
`model_promotion.client`, with nothing of the Lambda package: both work against the embedded AWS."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from embedded_aws.client import StackClient
from stack_helpers import PROJECT_ROOT, Promotion, operator_env

pytestmark = pytest.mark.workflow

# What a function needs and the distribution must not pull in (template.yaml's Lambda-only dependencies).
LAMBDA_ONLY_MODULES = ("aws_xray_sdk", "jwt", "cryptography")


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtualenv with only `pip install .` in it. The versions this suite runs with are the constraints,
    so pip takes them from its cache rather than whatever is newest."""
    work = tmp_path_factory.mktemp("distribution")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    constraints = work / "constraints.txt"
    constraints.write_text("\n".join(line for line in frozen.splitlines() if not line.startswith("model-promotion")))
    installed = subprocess.run(
        [str(venv / "bin/python"), "-m", "pip", "install", "--quiet", "-c", str(constraints), str(PROJECT_ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr
    return venv


def _fresh_env(venv: Path) -> dict[str, str]:
    """Nothing of this checkout on the path: only what the install put into the venv."""
    env = operator_env()
    env.pop("PYTHONPATH")
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '')}"
    return env


def _run(venv: Path, *command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(command), capture_output=True, text=True, env=env or _fresh_env(venv), cwd=venv, timeout=120, check=False
    )


def test_the_installed_command_answers_help_and_lists_what_waits(
    fresh_venv: Path, stack: StackClient, promotion_factory, tmp_path: Path
) -> None:
    # Given a version waiting for its dev approval, and the state file `make up` writes
    promotion: Promotion = promotion_factory("dist-pending")
    promotion.approval_email("dev")
    state_file = tmp_path / "stack.json"
    state_file.write_text(json.dumps(stack.info))

    # When an operator runs the installed command
    helped = _run(fresh_venv, "model-promotion", "--help")
    listed = _run(fresh_venv, "model-promotion", "--local", "--state-file", str(state_file), "pending", "--json")

    # Then help names every command, and pending lists the version for its dev approvers
    assert helped.returncode == 0, helped.stderr
    commands = ("status", "pending", "history", "approved", "metrics", "resend", "cancel", "reconcile", "retry")
    for command in (*commands, "rollback", "audit", "smoke-test"):
        assert f"  {command} " in helped.stdout
    assert listed.returncode == 0, listed.stderr
    (waiting,) = [row for row in json.loads(listed.stdout) if row["group"] == promotion.group]
    assert (waiting["version"], waiting["stage"]) == (promotion.version, "dev")
    assert waiting["recipients"] == promotion.approvers("dev")


def test_an_inference_pipeline_reads_the_approved_version_with_only_the_distribution(
    fresh_venv: Path, stack: StackClient, promotion_factory
) -> None:
    # Given a version approved for dev (its test approvers are asked once dev's approval is recorded)
    promotion: Promotion = promotion_factory("dist-client")
    promotion.approve_until("test")
    promotion.approval_email("test")

    # When a pipeline with only `pip install .` asks which version dev runs (the standard SDK chain: endpoint,
    # region and credentials from the environment)
    prefix = stack.parameters["ParameterPrefix"]
    pipeline = (
        "import json, sys\n"
        "from model_promotion.client import get_approved_model\n"
        f"model = get_approved_model({promotion.group!r}, 'dev', prefix={prefix!r}, max_age=0)\n"
        "print(json.dumps({'version': model.version, 'arn': model.package_arn, 'modules': sorted(sys.modules)}))\n"
    )
    env = _fresh_env(fresh_venv)
    env.update(
        AWS_ENDPOINT_URL=stack.info["aws_endpoint"],
        AWS_DEFAULT_REGION=stack.info["region"],
        AWS_ACCESS_KEY_ID="embedded",
        AWS_SECRET_ACCESS_KEY="embedded",
    )
    answer = _run(fresh_venv, str(fresh_venv / "bin/python"), "-c", pipeline, env=env)

    # Then it reads the version the approver signed, and loaded nothing of the Lambda package
    assert answer.returncode == 0, answer.stderr
    read = json.loads(answer.stdout)
    assert (read["version"], read["arn"]) == (promotion.version, promotion.package_arn)
    assert not [m for m in read["modules"] if m.split(".")[0] in LAMBDA_ONLY_MODULES]
    assert not [m for m in read["modules"] if m.startswith(("model_promotion.handlers", "model_promotion.services"))]
    for module in LAMBDA_ONLY_MODULES:
        missing = _run(fresh_venv, str(fresh_venv / "bin/python"), "-c", f"import {module}")
        assert missing.returncode != 0, f"{module} came with the distribution"
