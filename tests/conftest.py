"""Fixtures shared by every test: event fixtures, and the embedded AWS stacks for workflow and browser tests.

One stack serves the whole session; each test registers its own model package group, so tests never
see each other's executions, emails or SSM records.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from embedded_aws.client import StackClient
from embedded_aws.demo_model import DemoAssets, build_demo_assets
from embedded_aws.scenario import publish_batches
from stack_helpers import Promotion, register, start_stack

EVENTS = Path(__file__).resolve().parents[1] / "events"
ESCALATION = "ml-leads@example.com"


@pytest.fixture
def load_event() -> Callable[[str], dict[str, Any]]:
    def load(name: str) -> dict[str, Any]:
        return json.loads((EVENTS / name).read_text())

    return load


@pytest.fixture(scope="session")
def demo_assets(tmp_path_factory: pytest.TempPathFactory) -> DemoAssets:
    return build_demo_assets(tmp_path_factory.mktemp("assets"))


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, demo_assets: DemoAssets) -> Iterator[StackClient]:
    for client in start_stack(tmp_path_factory, "stack", {}):
        publish_batches(client, demo_assets)
        yield client


@pytest.fixture(scope="session")
def short_timeout_stack(tmp_path_factory: pytest.TempPathFactory, demo_assets: DemoAssets) -> Iterator[StackClient]:
    """Approvals expire after 3 s, reminders go 2 s before, the sweep runs every 0.25 s, expiries escalate."""
    overrides = {"ApprovalTimeoutSeconds": "3", "ReminderBeforeSeconds": "2", "EscalationEmail": ESCALATION}
    for client in start_stack(tmp_path_factory, "short-timeout", overrides, schedule_seconds=0.25):
        publish_batches(client, demo_assets)
        yield client


@pytest.fixture(scope="session")
def slow_transform_stack(tmp_path_factory: pytest.TempPathFactory, demo_assets: DemoAssets) -> Iterator[StackClient]:
    """Transform jobs here take at least 5 seconds, so a test can stop one while it runs; the sweep runs every
    half second (without reminders), so a test can watch it resume a wait whose completion event was lost."""
    overrides = {"ReminderBeforeSeconds": "0"}
    for client in start_stack(
        tmp_path_factory, "slow-transform", overrides, transform_seconds=5.0, schedule_seconds=0.5
    ):
        publish_batches(client, demo_assets)
        yield client


@pytest.fixture(scope="session")
def single_stage_stack(tmp_path_factory: pytest.TempPathFactory, demo_assets: DemoAssets) -> Iterator[StackClient]:
    """One stage, one approver, no gates: a promotion is a registration and one click."""
    overrides = {
        "Stages": "dev",
        "StageApprovers": "dev=dana.dev@example.com",
        "QualityGates": "{}",
    }
    yield from start_stack(tmp_path_factory, "single-stage", overrides)


@pytest.fixture
def promotion_factory(stack: StackClient, demo_assets: DemoAssets):
    def make(prefix: str, **kwargs: Any) -> Promotion:
        return register(stack, demo_assets, prefix, **kwargs)

    return make
