"""The tamper-evident audit log on the embedded AWS: real promotions chain their entries, `audit verify` (the
operators' CLI, run as a person runs it) says so, and an entry altered in the table is named.

Runs on the one-stage stack: a promotion there is a registration and one click.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from boto3.dynamodb.types import TypeSerializer

from stack_helpers import audit_table_entries, new_group, register, run_operator_command

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def state_file(single_stage_stack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audit") / "stack.json"
    path.write_text(json.dumps(single_stage_stack.info))
    return path


def audit_verify(state_file: Path, group: str, *, json_output: bool = True) -> tuple[int, str, str]:
    """`model-promotion --local --state-file PATH [--json] audit verify GROUP`: exit status, stdout, stderr."""
    json_flag = ["--json"] if json_output else []
    process = run_operator_command(state_file, *json_flag, "audit", "verify", group)
    assert "Traceback" not in process.stderr, process.stderr
    return process.returncode, process.stdout, process.stderr


def test_promotions_recorded_at_once_chain_their_entries_and_an_altered_entry_is_named(
    single_stage_stack, demo_assets, state_file
):
    # Given four versions of one group approved at the same moment: four RecordOutcome executions append at once
    group = new_group("audit")
    promotions = [register(single_stage_stack, demo_assets, "audit", group=group) for _ in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda p: p.decide("dev", "approve", f"v{p.version} reviewed"), promotions))
    assert [a.status_code for a in answers] == [200] * 4
    for promotion in promotions:
        assert promotion.finish()["status"] == "SUCCEEDED"

    # Then the log holds one chain: four entries, 1 to 4, each naming the hash of the one before
    entries = audit_table_entries(single_stage_stack, group)
    assert sorted(e["modelVersion"] for e in entries) == [p.version for p in promotions]
    assert [e["sequence"] for e in entries] == [1, 2, 3, 4]
    assert [e["previousHash"] for e in entries[1:]] == [e["entryHash"] for e in entries[:-1]]

    # And `audit verify` says so, with the newest entry's hash
    code, out, err = audit_verify(state_file, group)
    assert (code, err) == (0, ""), err
    verdict = json.loads(out)
    assert verdict["ok"] is True and verdict["entries"] == 4 and verdict["lastHash"] == entries[-1]["entryHash"]

    # When someone with write access to the table rewrites the second entry's comment (a PutItem overwrite,
    # which no IAM policy can refuse: this is the test's own administrator client, not a function's role)
    second = entries[1]
    serialize = TypeSerializer().serialize
    single_stage_stack.client("dynamodb").put_item(
        TableName=single_stage_stack.resources["DecisionLogTable"],
        Item={k: serialize(v) for k, v in {**second, "comment": "approved without review"}.items()},
    )

    # Then `audit verify` fails, naming that entry and why, for scripts and for people
    code, out, err = audit_verify(state_file, group)
    assert code == 1
    broken = json.loads(out)["broken"]
    assert (broken["sequence"], broken["entryKey"], broken["kind"]) == (2, second["entryKey"], "altered")
    message = f"entry 2 ({second['entryKey']}) was altered: its hash does not match its content"
    assert err == f"error: the audit log of {group} is broken: {message}\n"
    code, out, _ = audit_verify(state_file, group, json_output=False)
    assert code == 1 and out.startswith(f"BROKEN: the audit log of {group} (4 entries read) does not hold.")
    assert message in out


def test_a_recording_whose_answer_was_lost_leaves_one_entry_and_an_unbroken_chain(
    single_stage_stack, demo_assets, state_file
):
    # Given RecordOutcome's append applied with its answer lost, so the SDK sends it again
    arm = requests.post(
        f"{single_stage_stack.api_url}/_local/faults",
        json={
            "service": "dynamodb",
            "operation": "TransactWriteItems",
            "fault": "lost",
            "count": 1,
            "caller": "RecordOutcomeFunction",
        },
        timeout=10,
    )
    assert arm.status_code == 201, arm.text
    try:
        promotion = register(single_stage_stack, demo_assets, "audit-lost")
        assert promotion.decide("dev", "approve", "fine").status_code == 200
        assert promotion.finish()["status"] == "SUCCEEDED"
        assert requests.get(f"{single_stage_stack.api_url}/_local/faults", timeout=10).json() == []
    finally:
        requests.delete(f"{single_stage_stack.api_url}/_local/faults", timeout=10)

    # Then the repeat wrote nothing: one entry, at position 1, and the chain verifies
    (entry,) = audit_table_entries(single_stage_stack, promotion.group)
    assert entry["sequence"] == 1 and entry["outcome"] == "approved"
    code, out, err = audit_verify(state_file, promotion.group)
    assert code == 0, err
    assert json.loads(out)["entries"] == 1
