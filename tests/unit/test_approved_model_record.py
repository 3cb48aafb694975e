"""The approved-model record is a small pointer, sized in bytes as SSM sizes it, and refused before any write.

An SSM Standard parameter holds 4096 bytes. json.dumps' default escapes "é" as six bytes, so a record that
carried the approver's comment overflowed with a 550-character comment in French, after the page had told
the approver "Recorded". The comment and the evidence now stay in the audit log (and S3).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from builders import EVIDENCE, GROUP, OUTCOME_ENV, SIGNER, decision_record, model_description, outcome_payload
from fakes import FakeApprovedModels, FakeDecisionLog, FakeExecutionHistory, FakeMailer, FakeRegistry

from model_promotion.adapters import ssm_approved_models
from model_promotion.adapters.aws import DEFAULT_CLIENTS
from model_promotion.adapters.ssm_approved_models import SsmApprovedModels
from model_promotion.config import OutcomeSettings
from model_promotion.domain.approvals import StageTask
from model_promotion.domain.errors import RecordTooLarge
from model_promotion.domain.presentation import Email, champion_rows
from model_promotion.domain.records import (
    APPROVED_RECORD_MAX_BYTES,
    approved_model_json,
    approved_model_record,
)
from model_promotion.services.outcomes import record_stage_outcome

SETTINGS = OutcomeSettings.from_environ(OUTCOME_ENV)
FRENCH = "é" * 550
# As a real batch run reports them: unrounded floats.
SCORED = dict(
    EVIDENCE,
    problemType="BinaryClassification",
    metrics={
        "accuracy": 0.9122807017543859,
        "precision": 0.9178082191780822,
        "recall": 0.9436619718309859,
        "f1": 0.9305555555555556,
        "roc_auc": 0.9834087481146304,
    },
    metricsUri="s3://demo-batch-data/batch-output/breast-cancer-classifier/v3/dev/metrics.json",
)
PARAMETER = f"/model-promotion/{GROUP}/test"


class Calls(list[str]):
    """Every port call, in order, across the recording fakes below."""


class RecordingRegistry(FakeRegistry):
    def __init__(self, calls: Calls, *descriptions: Mapping[str, Any]) -> None:
        super().__init__(*descriptions)
        self.calls = calls

    def describe(self, package_arn: str) -> Mapping[str, Any]:
        self.calls.append("registry.describe")
        return super().describe(package_arn)

    def record_stage(
        self, package_arn: str, metadata: Mapping[str, str], approval_status: str, description: str
    ) -> None:
        self.calls.append("registry.record_stage")
        super().record_stage(package_arn, metadata, approval_status, description)


class RecordingApprovedModels(FakeApprovedModels):
    def __init__(self, calls: Calls) -> None:
        super().__init__()
        self.calls = calls

    def get(self, name: str) -> dict[str, Any] | None:
        self.calls.append("ssm.get")
        return super().get(name)

    def put(self, name: str, record: Mapping[str, Any]) -> None:
        self.calls.append("ssm.put")
        super().put(name, record)


class RecordingLog(FakeDecisionLog):
    def __init__(self, calls: Calls) -> None:
        super().__init__()
        self.calls = calls

    def append(self, entry: Mapping[str, Any]) -> bool:
        self.calls.append("log.append")
        return super().append(entry)


class RecordingMailer(FakeMailer):
    def __init__(self, calls: Calls) -> None:
        super().__init__()
        self.calls = calls

    def send(self, email: Email) -> str:
        self.calls.append("mailer.send")
        return super().send(email)


def _approve(
    payload: dict[str, Any], calls: Calls | None = None
) -> tuple[Calls, dict[str, Any], RecordingApprovedModels, RecordingLog]:
    calls = Calls() if calls is None else calls
    metadata = {"dev": "Approved", "test": "PendingManualApproval"}
    registry = RecordingRegistry(calls, model_description(status="Approved", metadata=metadata))
    models, log = RecordingApprovedModels(calls), RecordingLog(calls)
    result = record_stage_outcome(
        payload,
        settings=SETTINGS,
        registry=registry,
        approved_models=models,
        log=log,
        mailer=RecordingMailer(calls),
        history=FakeExecutionHistory(),
        signer=SIGNER,
    )
    return calls, result, models, log


def _approval(comment: str = FRENCH, **extra: Any) -> dict[str, Any]:
    decision = decision_record("test", comment=comment, approver_name="Zoë Lefèvre", approver_subject="sub-zoe-0001")
    return outcome_payload("test", "approved", decision=decision.to_payload(), **extra)


def _task(**model: Any) -> StageTask:
    payload = outcome_payload("test", "approved")
    payload["model"].update(model)
    return StageTask.from_payload(payload)


def test_a_550_character_non_ascii_comment_leaves_the_approved_model_record_within_4096_bytes() -> None:
    # Given: with the comment inside, as json.dumps wrote it, the record of this approval was 4,129 bytes

    # When
    _, _, models, _ = _approve(_approval(FRENCH, evidence=SCORED))

    # Then: the record holds no comment, and its value is far within the limit
    record = models.get(PARAMETER)
    assert record is not None
    assert FRENCH not in json.dumps(record, ensure_ascii=False)
    assert len(approved_model_json(record).encode("utf-8")) <= APPROVED_RECORD_MAX_BYTES
    assert set(record) == {
        "modelPackageGroupName",
        "modelPackageArn",
        "modelVersion",
        "modelDataUrl",
        "stage",
        "decisionId",
        "approvedBy",
        "approvedByName",
        "approvedBySubject",
        "approvedAt",
        "executionArn",
        "metrics",
        "metricsStage",
        "evidenceUri",
    }
    assert record["evidenceUri"] == SCORED["metricsUri"]
    assert record["metrics"] == SCORED["metrics"]


def test_the_comment_and_the_evidence_stay_whole_in_the_audit_log_under_the_records_decision_id() -> None:
    # Given: a comment of several lines
    comment = "Ça marche.\nRecall is fine."

    # When
    _, _, models, log = _approve(_approval(comment, evidence=EVIDENCE))

    # Then
    [entry] = log.entries(GROUP)
    record = models.get(PARAMETER)
    assert record is not None
    assert entry["decisionId"] == record["decisionId"]
    assert entry["comment"] == comment
    assert entry["evidence"] == EVIDENCE


def test_the_value_is_compact_utf8_json_not_ascii_escapes() -> None:
    # Given
    record = approved_model_record(_task(), decision_record("test", approver_name="Zoë Lefèvre"))

    # When
    value = approved_model_json(record)

    # Then
    assert "Zoë Lefèvre" in value
    assert "\\u00eb" not in value
    assert ": " not in value and ", " not in value.replace("Zoë Lefèvre", "")
    assert json.loads(value) == record


def test_a_record_over_the_budget_is_refused_before_any_port_is_called() -> None:
    # Given: a model data URL of 1,024 characters, letters beyond the BMP of 4 bytes each in UTF-8
    payload = _approval(evidence=EVIDENCE)
    payload["model"]["modelDataUrl"] = "s3://models/" + "\U0001d400" * 1012

    calls = Calls()

    # When
    with pytest.raises(RecordTooLarge) as raised:
        _approve(payload, calls)

    # Then: nothing was written, nor even read
    assert calls == []
    assert "SSM Standard parameter holds 4096" in str(raised.value)
    assert "modelDataUrl" in str(raised.value)
    assert "nothing was written" in str(raised.value)


def test_the_ssm_adapter_refuses_an_oversized_record_before_calling_ssm(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given
    monkeypatch.setattr(DEFAULT_CLIENTS, "client", lambda service: pytest.fail("SSM must not be called"))
    record = {"modelPackageGroupName": GROUP, "modelVersion": 3, "stage": "test", "modelDataUrl": "é" * 2100}

    # When / Then
    with pytest.raises(RecordTooLarge):
        SsmApprovedModels().put(PARAMETER, record)


def test_the_ssm_adapter_writes_the_compact_utf8_value(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given
    sent: list[dict[str, Any]] = []

    class Ssm:
        def put_parameter(self, **request: Any) -> dict[str, Any]:
            sent.append(request)
            return {"Version": 1, "Tier": "Standard"}

    monkeypatch.setattr(DEFAULT_CLIENTS, "single_attempt", lambda service: Ssm())
    record = approved_model_record(_task(), decision_record("test", approver_name="Zoë Lefèvre"))

    # When
    SsmApprovedModels().put(PARAMETER, record)

    # Then
    [request] = sent
    assert request["Value"] == approved_model_json(record)
    assert request["Type"] == "String"


def test_when_the_metrics_would_not_fit_the_pointer_is_written_without_them() -> None:
    # Given: a long (but valid) model data URL that leaves no room for the metrics and the evidence URI
    task = _task(modelDataUrl="s3://models/" + "\U0001d400" * 850)
    evidence = dict(EVIDENCE, metricsUri="s3://b/" + "x" * 400)

    # When
    record = approved_model_record(task, decision_record("test"), evidence)

    # Then
    assert "metrics" not in record
    assert "evidenceUri" not in record
    assert len(approved_model_json(record).encode("utf-8")) <= APPROVED_RECORD_MAX_BYTES


def test_only_finite_numbers_under_plain_names_are_kept_as_metrics() -> None:
    # Given
    evidence = {
        "stage": "dev",
        "metrics": {"accuracy": 0.9, "roc_auc": None, "nan": float("nan"), "flag": True, "bad name": 1, "r2": 0.5},
    }

    # When
    record = approved_model_record(_task(), decision_record("test"), evidence)

    # Then
    assert record["metrics"] == {"accuracy": 0.9, "r2": 0.5}


def test_a_very_long_approver_name_is_shortened_in_the_pointer_only() -> None:
    # Given
    name = "Zoë " * 600

    # When
    record = approved_model_record(_task(), decision_record("test", approver_name=name))

    # Then
    assert len(record["approvedByName"]) == 128
    assert record["approvedByName"].endswith("…")
    assert len(approved_model_json(record).encode("utf-8")) <= APPROVED_RECORD_MAX_BYTES


@pytest.mark.parametrize(
    "champion",
    [
        pytest.param(
            {"modelVersion": 2, "metrics": {"accuracy": 0.88}},
            id="pointer",
        ),
        pytest.param(
            {"modelVersion": 2, "comment": "ok", "evidence": {"stage": "dev", "metrics": {"accuracy": 0.88}}},
            id="record-written-before-the-pointer",
        ),
    ],
)
def test_the_next_approver_compares_against_the_champions_metrics_in_either_record_shape(
    champion: dict[str, Any],
) -> None:
    # When
    rows = champion_rows({"metrics": {"accuracy": 0.91}}, champion)

    # Then
    assert rows == [("Accuracy", "0.9100", "0.8800")]


def test_the_pointer_written_for_a_stage_gives_the_next_request_its_comparison() -> None:
    # Given: version 3 approved for test on the dev batch
    _, _, models, _ = _approve(_approval(evidence=EVIDENCE))

    # When: the next version's approver compares against it
    rows = champion_rows({"metrics": {"accuracy": 0.95}}, models.get(PARAMETER))

    # Then
    assert ("Accuracy", "0.9500", "0.9123") in rows


class _LossySsm:
    """SSM whose PutParameter answers get lost: `applied` says whether the lost put was applied anyway."""

    def __init__(self, applied: bool) -> None:
        self.applied = applied
        self.versions: list[str] = []
        self.puts = 0

    def put_parameter(self, **request: Any) -> dict[str, Any]:
        from botocore.exceptions import ConnectionClosedError

        self.puts += 1
        if self.puts == 1:
            if self.applied:
                self.versions.append(request["Value"])
            raise ConnectionClosedError(endpoint_url="https://ssm.us-east-1.amazonaws.com/")
        self.versions.append(request["Value"])
        return {"Version": len(self.versions)}

    def get_parameter(self, **request: Any) -> dict[str, Any]:
        return {"Parameter": {"Value": self.versions[-1] if self.versions else ""}}


@pytest.mark.parametrize("applied", [True, False], ids=["lost-after-applied", "lost-before-applied"])
def test_a_put_whose_answer_was_lost_leaves_exactly_one_parameter_version(
    monkeypatch: pytest.MonkeyPatch, applied: bool
) -> None:
    # Given an SSM that loses the first PutParameter's answer (applied or not)
    ssm = _LossySsm(applied)
    monkeypatch.setattr(DEFAULT_CLIENTS, "single_attempt", lambda service: ssm)
    monkeypatch.setattr(DEFAULT_CLIENTS, "client", lambda service: ssm)
    monkeypatch.setattr(ssm_approved_models.time, "sleep", lambda seconds: None)
    record = approved_model_record(_task(), decision_record("test"))

    # When the record is written
    SsmApprovedModels().put(PARAMETER, record)

    # Then SSM holds it once: read back, not written twice
    assert ssm.versions == [approved_model_json(record)]
