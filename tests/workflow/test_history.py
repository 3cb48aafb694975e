"""Every decision stays retrievable: `history` past SSM's limit of 100 versions per parameter."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from stack_helpers import new_group, register

from .test_cli import cli

pytestmark = pytest.mark.workflow
PROMOTIONS = 105


@pytest.fixture
def single_stage_state_file(single_stage_stack, tmp_path):
    import json

    path = tmp_path / "stack.json"
    path.write_text(json.dumps(single_stage_stack.info))
    return path


def test_history_lists_every_approval_of_a_group_after_more_than_100_promotions(
    single_stage_stack, demo_assets, single_stage_state_file
):
    # Given 105 versions of one group, each registered and approved for dev by its approver
    group = new_group("history")
    promotions = [register(single_stage_stack, demo_assets, "history", group=group) for _ in range(PROMOTIONS)]

    def approve(promotion):
        return promotion.decide("dev", "approve", f"v{promotion.version} reviewed").status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(approve, promotions)) == {200}
    for promotion in promotions:
        assert promotion.finish()["status"] == "SUCCEEDED"

    # When an operator asks for the group's dev history
    history = cli(single_stage_state_file, "history", group, "--stage", "dev")

    # Then every one of the 105 approvals is there, with who and when, although SSM keeps 100 versions at most
    entries = history["entries"] if isinstance(history, dict) else history
    approvals = [e for e in entries if e["outcome"] == "approved"]
    assert sorted(e["version"] for e in approvals) == list(range(1, PROMOTIONS + 1))
    assert all(e["actor"] == "dana.dev@example.com" and e["at"] for e in approvals)
    ssm = single_stage_stack.client("ssm")
    name = f"{single_stage_stack.parameters['ParameterPrefix']}/{group}/dev"
    assert ssm.get_parameter(Name=name)["Parameter"]["Version"] == PROMOTIONS
