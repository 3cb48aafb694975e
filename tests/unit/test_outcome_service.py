"""record_stage_outcome writes each stage outcome to the audit log, the registry, SSM and the registrant's inbox."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from builders import (
    EVIDENCE,
    EXECUTION_ARN,
    GROUP,
    MODEL_DATA_URL,
    OUTCOME_ENV,
    PACKAGE_ARN,
    REGISTRANT,
    SIGNER,
    VERSION,
    decision_record,
    model_description,
    model_version,
    outcome_payload,
    stage_task_payload,
)
from fakes import FakeApprovedModels, FakeDecisionLog, FakeExecutionHistory, FakeMailer, FakeRegistry, FakeSigner

from model_promotion.config import OutcomeSettings
from model_promotion.domain.approvals import Decision, DecisionRecord, StageTask
from model_promotion.domain.errors import DecisionNotAuthentic, InvalidPayload
from model_promotion.domain.identity import registrant_of
from model_promotion.domain.model_version import ModelVersion
from model_promotion.domain.records import audit_entry
from model_promotion.domain.stages import Outcome, metadata_value
from model_promotion.domain.task_history import TaskAttempt
from model_promotion.services.outcomes import record_stage_outcome

SETTINGS = OutcomeSettings.from_environ(OUTCOME_ENV)
PENDING = "PendingManualApproval"
REGISTRANT_KEYS = {"RegistrantEmail": REGISTRANT, "team": "retention"}
DEV_PARAMETER = f"/model-promotion/{GROUP}/dev"
RECORDED_AT = "2026-11-21T15:00:00Z"  # the payload's "2026-11-21T15:00:00.456Z", as recorded


SIGNED_AT = "2026-11-21T14:05:09Z"  # decision_record's decidedAt


def _signed(stage: str, by: str = "lead@example.com") -> dict[str, str]:
    return {f"{stage}-signed-by": by, f"{stage}-signed-at": SIGNED_AT}


def _without_signatures(metadata: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in metadata.items() if not k.endswith(("-signed-by", "-signed-at"))}


@dataclass
class World:
    registry: FakeRegistry
    approved_models: FakeApprovedModels
    log: FakeDecisionLog
    mailer: FakeMailer
    settings: OutcomeSettings = SETTINGS
    history: FakeExecutionHistory = field(default_factory=FakeExecutionHistory)

    def record(self, payload: dict[str, Any]) -> dict[str, Any]:
        return record_stage_outcome(
            payload,
            settings=self.settings,
            registry=self.registry,
            approved_models=self.approved_models,
            log=self.log,
            mailer=self.mailer,
            history=self.history,
            signer=SIGNER,
        )

    @property
    def package(self) -> dict[str, Any]:
        return self.registry.descriptions[PACKAGE_ARN]


def _world(
    status: str = PENDING, metadata: dict[str, str] | None = None, *, quorum: dict[str, int] | None = None
) -> World:
    description = model_description(status=status, metadata={**REGISTRANT_KEYS, **(metadata or {})})
    settings = replace(SETTINGS, quorum={**SETTINGS.quorum, **(quorum or {})})
    return World(FakeRegistry(description), FakeApprovedModels(), FakeDecisionLog(), FakeMailer(), settings)


def _approved(stage: str = "dev", decision_override: DecisionRecord | None = None, **decision: Any) -> dict[str, Any]:
    record = decision_override or decision_record(stage, **decision)
    return outcome_payload(stage, "approved", decision=record.to_payload())


def _rejected(stage: str = "dev", comment: str = "Recall is below 0.75 on the holdout set") -> dict[str, Any]:
    record = decision_record(stage, decision=Decision.REJECT, approver="qa.lead@example.com", comment=comment)
    return outcome_payload(
        stage, "rejected", error={"Error": "ApprovalRejected", "Cause": json.dumps(record.to_payload())}
    )


# approved


def test_an_approval_at_dev_is_appended_to_the_audit_log() -> None:
    # Given
    world = _world()

    # When
    world.record(_approved("dev"))

    # Then
    [entry] = world.log.entries(GROUP)
    assert entry["outcome"] == "approved"
    assert entry["stage"] == "dev"
    assert entry["actor"] == "lead@example.com"
    assert entry["comment"] == "Looks good"
    assert entry["at"] == "2026-11-21T14:05:09Z"
    assert entry["modelVersion"] == VERSION
    assert entry["modelPackageArn"] == PACKAGE_ARN
    assert entry["executionArn"] == EXECUTION_ARN
    assert entry["decisionId"] == "0f1e2d3c4b5a6978"


def test_an_approval_at_dev_approves_the_version_and_opens_the_later_stages_in_the_registry() -> None:
    # Given
    world = _world()

    # When
    world.record(_approved("dev"))

    # Then
    assert world.package["ModelApprovalStatus"] == "Approved"
    assert world.package["CustomerMetadataProperties"] == {
        **REGISTRANT_KEYS,
        "dev": "Approved",
        **_signed("dev"),
        "test": PENDING,
        "uat": PENDING,
        "prod": PENDING,
    }
    assert (
        world.package["ApprovalDescription"] == "dev approved by lead@example.com at 2026-11-21T14:05:09Z: Looks good"
    )


def test_an_approval_at_dev_writes_the_approved_model_record_for_dev() -> None:
    # Given
    world = _world()

    # When
    result = world.record(_approved("dev"))

    # Then
    assert result["parameterName"] == DEV_PARAMETER
    assert list(world.approved_models.history) == [DEV_PARAMETER]
    record = world.approved_models.get(DEV_PARAMETER)
    assert record is not None
    assert record["modelPackageArn"] == PACKAGE_ARN
    assert record["modelVersion"] == VERSION
    assert record["stage"] == "dev"
    assert record["approvedBy"] == "lead@example.com"
    assert record["approvedAt"] == "2026-11-21T14:05:09Z"
    assert record["modelDataUrl"] == MODEL_DATA_URL
    assert record["modelPackageGroupName"] == GROUP


def _signed_approval(stage: str = "dev", **extra: Any) -> dict[str, Any]:
    decision = decision_record(stage, approver_name="Lee Lead", approver_subject="sub-lee-0001")
    return outcome_payload(stage, "approved", decision=decision.to_payload(), **extra)


def test_the_approved_model_record_names_the_signer_and_keeps_the_metrics_they_saw() -> None:
    # Given: test is approved on the dev batch results
    world = _world("Approved", {"dev": "Approved", "test": PENDING, "uat": PENDING, "prod": PENDING})

    # When
    world.record(_signed_approval("test", evidence=dict(EVIDENCE, problemType="BinaryClassification")))

    # Then: a pointer with the signer and the approved numbers; the evidence itself is in the audit log
    record = world.approved_models.get(f"/model-promotion/{GROUP}/test")
    assert record is not None
    assert record["approvedBy"] == "lead@example.com"
    assert record["approvedByName"] == "Lee Lead"
    assert record["approvedBySubject"] == "sub-lee-0001"
    assert record["metrics"] == EVIDENCE["metrics"]
    assert record["metricsStage"] == "dev"
    assert "evidence" not in record


def test_an_approval_without_batch_results_records_no_metrics() -> None:
    # Given
    world = _world()

    # When
    world.record(_signed_approval("dev"))

    # Then
    record = world.approved_models.get(DEV_PARAMETER)
    assert record is not None
    assert "metrics" not in record
    assert "evidence" not in record
    assert record["approvedByName"] == "Lee Lead"


def test_the_next_request_for_the_stage_can_compare_against_the_recorded_metrics() -> None:
    # Given
    world = _world("Approved", {"dev": "Approved", "test": PENDING, "uat": PENDING, "prod": PENDING})

    # When
    world.record(_signed_approval("test", evidence=EVIDENCE))

    # Then: the record reads back with the metrics a champion comparison needs
    record = world.approved_models.get(f"/model-promotion/{GROUP}/test")
    assert record is not None
    assert record["metrics"]["accuracy"] == EVIDENCE["metrics"]["accuracy"]
    assert record["modelVersion"] == VERSION


def test_an_approval_is_audited_with_its_meaning_and_the_signers_email_name_and_subject() -> None:
    # Given
    world = _world()

    # When
    world.record(_signed_approval("dev"))

    # Then
    [entry] = world.log.entries(GROUP)
    assert entry["meaning"] == "approved for dev"
    assert (entry["actor"], entry["actorName"], entry["actorSubject"]) == (
        "lead@example.com",
        "Lee Lead",
        "sub-lee-0001",
    )
    assert entry["identitySource"] == "cognito"


def test_the_registry_description_carries_the_signature() -> None:
    # Given
    world = _world()

    # When
    world.record(_signed_approval("dev"))

    # Then
    assert world.package["ApprovalDescription"] == (
        "dev approved by Lee Lead <lead@example.com> at 2026-11-21T14:05:09Z: Looks good"
    )


@pytest.mark.parametrize("outcome", ["approved", "rejected"])
def test_the_registry_metadata_names_who_signed_the_stage_and_when(outcome: str) -> None:
    # Given
    world = _world()
    decision = decision_record(
        "dev",
        decision=Decision.APPROVE if outcome == "approved" else Decision.REJECT,
        approver="Lee.Lead@example.com",
        approver_name="Lee Lead (QA); <lead>",
        approver_subject="sub-lee-0001",
    )
    payload = (
        outcome_payload("dev", "approved", decision=decision.to_payload())
        if outcome == "approved"
        else outcome_payload(
            "dev", "rejected", error={"Error": "ApprovalRejected", "Cause": json.dumps(decision.to_payload())}
        )
    )

    # When
    world.record(payload)

    # Then: the signer's email (and, if shown, name) survives SageMaker's character set
    metadata = world.package["CustomerMetadataProperties"]
    assert "Lee.Lead@example.com" in metadata["dev-signed-by"]
    assert metadata["dev-signed-by"] == metadata_value(metadata["dev-signed-by"])
    assert metadata["dev-signed-at"] == SIGNED_AT


@pytest.mark.parametrize("outcome", ["expired", "failed"])
def test_an_outcome_nobody_signed_writes_no_signature_to_the_registry(outcome: str) -> None:
    # Given: dev was signed; test is pending
    world = _world("Approved", {"dev": "Approved", **_signed("dev"), "test": PENDING, "uat": PENDING, "prod": PENDING})

    # When
    world.record(outcome_payload("test", outcome, error={"Error": "States.Timeout"}))

    # Then
    metadata = world.package["CustomerMetadataProperties"]
    assert not {"test-signed-by", "test-signed-at"} & set(metadata)
    assert {k: metadata[k] for k in _signed("dev")} == _signed("dev")


def test_the_registrant_hears_of_every_approval_with_the_next_stage_and_of_the_final_promotion() -> None:
    # Given
    world = _world()

    # When dev is approved
    world.record(_approved("dev"))

    # Then the registrant hears it, and what comes next
    [email] = world.mailer.sent
    assert email.to == (REGISTRANT,) and email.subject == f"{GROUP} version {VERSION}: dev was approved"
    assert "Next: test." in email.text

    # When prod, the last stage, is approved
    world.record(_approved("prod"))

    # Then they hear the promotion is complete
    assert "promoted through every stage: prod now runs version" in world.mailer.sent[-1].text


def test_recording_the_same_approval_twice_leaves_one_ssm_version_and_one_audit_entry() -> None:
    # Given: the state machine retries the task after the first attempt completed
    world = _world()
    payload = _approved("dev")
    first = world.record(payload)
    package_after_first = json.loads(json.dumps(world.package, default=str))

    # When
    second = world.record(payload)

    # Then
    assert second == first
    assert len(world.approved_models.history[DEV_PARAMETER]) == 1
    assert len(world.log.entries(GROUP)) == 1
    assert json.loads(json.dumps(world.package, default=str)) == package_after_first


def test_a_new_decision_for_the_same_stage_writes_a_new_ssm_version() -> None:
    # Given
    world = _world()
    world.record(_approved("dev", decision_id="aaaaaaaaaaaaaaaa"))

    # When
    world.record(_approved("dev", decision_id="bbbbbbbbbbbbbbbb", approver="deputy@example.com"))

    # Then
    history = world.approved_models.history[DEV_PARAMETER]
    assert [r["decisionId"] for r in history] == ["aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"]
    assert world.approved_models.get(DEV_PARAMETER)["approvedBy"] == "deputy@example.com"  # type: ignore[index]


def test_an_approval_at_the_last_stage_completes_the_registry_and_writes_the_prod_record() -> None:
    # Given
    world = _world("Approved", {"dev": "Approved", "test": "Approved", "uat": "Approved", "prod": PENDING})

    # When
    result = world.record(_approved("prod"))

    # Then
    assert result["parameterName"] == f"/model-promotion/{GROUP}/prod"
    assert world.package["CustomerMetadataProperties"] == {
        **REGISTRANT_KEYS,
        "dev": "Approved",
        "test": "Approved",
        "uat": "Approved",
        "prod": "Approved",
        **_signed("prod"),
    }
    assert world.package["ModelApprovalStatus"] == "Approved"


# rejected


def test_a_rejection_rejects_the_version_and_the_stage_and_writes_no_approved_model_record() -> None:
    # Given
    world = _world()

    # When
    result = world.record(_rejected("dev"))

    # Then
    assert result["outcome"] == "rejected"
    assert "parameterName" not in result
    assert world.approved_models.history == {}
    assert world.package["ModelApprovalStatus"] == "Rejected"
    assert world.package["CustomerMetadataProperties"] == {
        **REGISTRANT_KEYS,
        "dev": "Rejected",
        **_signed("dev", "qa.lead@example.com"),
        "promotion-ended": "rejected at dev 2026-11-21T14:05:09Z",
    }
    assert world.package["ApprovalDescription"] == (
        "dev rejected by qa.lead@example.com at 2026-11-21T14:05:09Z: Recall is below 0.75 on the holdout set"
    )


def test_a_rejection_emails_the_registrant_with_the_reason() -> None:
    # Given
    world = _world()

    # When
    world.record(_rejected("dev", comment="Recall is below 0.75 on the holdout set"))

    # Then
    [email] = world.mailer.sent
    assert email.to == (REGISTRANT,)
    assert email.subject == f"{GROUP} version {VERSION}: dev was rejected"
    assert "Recall is below 0.75 on the holdout set" in email.text
    assert "qa.lead@example.com" in email.text


def test_a_rejection_is_audited_with_the_approver_and_the_reason() -> None:
    # Given
    world = _world()

    # When
    world.record(_rejected("dev"))

    # Then
    [entry] = world.log.entries(GROUP)
    assert entry["outcome"] == "rejected"
    assert entry["meaning"] == "rejected for dev"
    assert entry["actor"] == "qa.lead@example.com"
    assert entry["reason"] == "Recall is below 0.75 on the holdout set"


def test_a_rejection_at_a_later_stage_keeps_earlier_approvals_and_their_records() -> None:
    # Given: dev was approved earlier in the promotion
    world = _world()
    world.record(_approved("dev"))

    # When
    world.record(_rejected("test"))

    # Then
    assert world.package["ModelApprovalStatus"] == "Rejected"
    assert world.package["CustomerMetadataProperties"] == {
        **REGISTRANT_KEYS,
        "dev": "Approved",
        **_signed("dev"),
        "test": "Rejected",
        **_signed("test", "qa.lead@example.com"),
        "uat": PENDING,
        "prod": PENDING,
        "promotion-ended": "rejected at test " + world.package["CustomerMetadataProperties"]["test-signed-at"],
    }
    assert list(world.approved_models.history) == [DEV_PARAMETER]
    assert [e["outcome"] for e in world.log.entries(GROUP)] == ["approved", "rejected"]


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(None, id="no-error"),
        pytest.param({"Error": "ApprovalRejected"}, id="no-cause"),
        pytest.param({"Error": "ApprovalRejected", "Cause": "not json"}, id="cause-not-json"),
        pytest.param({"Error": "ApprovalRejected", "Cause": json.dumps({"decision": "reject"})}, id="cause-incomplete"),
    ],
)
def test_a_rejection_without_a_readable_decision_is_invalid_and_records_nothing(error: Any) -> None:
    # Given
    world = _world()
    payload = outcome_payload("dev", "rejected", error=error)

    # When
    with pytest.raises(InvalidPayload):
        world.record(payload)

    # Then
    assert world.log.entries(GROUP) == []
    assert world.registry.updates == []
    assert world.mailer.sent == []


# expired


def test_an_expiry_marks_the_stage_expired_and_keeps_the_approval_status() -> None:
    # Given: dev was approved, test expires
    world = _world("Approved", {"dev": "Approved", "test": PENDING, "uat": PENDING, "prod": PENDING})

    # When
    result = world.record(outcome_payload("test", "expired"))

    # Then
    assert result["outcome"] == "expired"
    assert world.package["ModelApprovalStatus"] == "Approved"
    assert _without_signatures(world.package["CustomerMetadataProperties"]) == {
        **REGISTRANT_KEYS,
        "dev": "Approved",
        "test": "Expired",
        "uat": PENDING,
        "prod": PENDING,
        "promotion-ended": "expired at test",
    }
    assert world.approved_models.history == {}
    [entry] = world.log.entries(GROUP)
    assert entry["outcome"] == "expired"
    assert entry["meaning"] == "expired"
    assert (entry["actor"], entry["actorName"], entry["actorSubject"]) == (None, None, None)
    assert entry["at"] == RECORDED_AT


def test_an_expiry_at_the_first_stage_keeps_the_version_pending() -> None:
    # Given
    world = _world()

    # When
    world.record(outcome_payload("dev", "expired"))

    # Then
    assert world.package["ModelApprovalStatus"] == PENDING
    assert _without_signatures(world.package["CustomerMetadataProperties"]) == {
        **REGISTRANT_KEYS,
        "dev": "Expired",
        "promotion-ended": "expired at dev",
    }


def test_an_expiry_for_a_model_without_registrant_email_goes_to_operations() -> None:
    # Given
    world = _world()
    payload = outcome_payload("dev", "expired", model=model_version(registrant_email=None))

    # When
    world.record(payload)

    # Then
    [email] = world.mailer.sent
    assert email.to == ("ml-ops@example.com",)
    assert email.subject == f"{GROUP} version {VERSION}: dev expired without a decision"
    assert "no approver decided before the request expired" in email.text
    assert EXECUTION_ARN in email.text


def test_an_expiry_for_a_model_with_a_registrant_email_goes_to_the_registrant() -> None:
    # Given
    world = _world()

    # When
    world.record(outcome_payload("dev", "expired"))

    # Then
    assert [email.to for email in world.mailer.sent] == [(REGISTRANT,)]


# failed


def test_a_failure_reports_the_lambda_error_message_from_the_cause() -> None:
    # Given: a Lambda failure as Step Functions catches it
    cause = json.dumps(
        {
            "errorMessage": "Batch transform job breast-cancer-classifier-v3-test failed: ClientError: no data in s3://x/input",
            "errorType": "BatchJobFailed",
            "stackTrace": ['  File "/var/task/handler.py", line 12'],
        }
    )
    world = _world("Approved", {"dev": "Approved", "test": PENDING, "uat": PENDING, "prod": PENDING})

    # When
    result = world.record(outcome_payload("test", "failed", error={"Error": "BatchJobFailed", "Cause": cause}))

    # Then
    reason = "BatchJobFailed: Batch transform job breast-cancer-classifier-v3-test failed: ClientError: no data in s3://x/input"
    assert result["summary"] == f"test failed at {RECORDED_AT}: {reason}"
    assert world.package["CustomerMetadataProperties"]["test"] == "Failed"
    assert world.package["ModelApprovalStatus"] == "Approved"
    [entry] = world.log.entries(GROUP)
    assert entry["reason"] == reason
    [email] = world.mailer.sent
    assert reason in email.text
    assert "stackTrace" not in email.text


def test_a_configuration_problem_tells_operations_what_to_fix_and_the_registrant_only_that_it_stopped() -> None:
    # Given: CheckRegisteredMetrics could not read the stack's QualityGates
    cause = json.dumps(
        {
            "errorMessage": "QUALITY_GATES is not JSON: Expecting value: line 1 column 1 (char 0)",
            "errorType": "GateConfigError",
        }
    )
    world = _world()

    # When
    result = world.record(outcome_payload("dev", "failed", error={"Error": "GateConfigError", "Cause": cause}))

    # Then operations hear what is wrong and what to do; the registrant, in a line, that it stopped and who knows
    to_operations, to_registrant = world.mailer.sent
    assert to_operations.to == ("ml-ops@example.com",) and to_registrant.to == (REGISTRANT,)
    assert "QUALITY_GATES is not JSON" in to_operations.text and "model-promotion retry" in to_operations.text
    assert "configuration problem" in to_registrant.text and "operations has been told" in to_registrant.text
    assert "Expecting value" not in to_registrant.text + to_registrant.html
    assert result["notifiedTo"] == ["ml-ops@example.com", REGISTRANT]
    [entry] = world.log.entries(GROUP)
    assert entry["outcome"] == "failed" and "QUALITY_GATES is not JSON" in entry["reason"]


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        pytest.param({"Error": "States.Timeout"}, "States.Timeout", id="no-cause"),
        pytest.param({"Error": "States.TaskFailed", "Cause": "plain text"}, "States.TaskFailed: plain text", id="text"),
        pytest.param(None, "the stage failed for an unknown reason", id="no-error"),
    ],
)
def test_a_failure_without_a_lambda_cause_still_gets_a_reason(error: Any, reason: str) -> None:
    # Given
    world = _world()

    # When
    world.record(outcome_payload("dev", "failed", error=error))

    # Then
    [entry] = world.log.entries(GROUP)
    assert entry["reason"] == reason


# invalid payloads


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(_approved("test"), id="approval-for-another-stage"),
        pytest.param(_rejected("uat"), id="rejection-for-another-stage"),
        pytest.param(_approved("dev", version=VERSION + 1), id="approval-for-another-version"),
    ],
)
def test_a_decision_for_another_stage_or_version_is_refused_as_not_authentic_and_records_nothing(
    payload: dict[str, Any],
) -> None:
    # Given: the task is at dev; the signed decision was made for another stage or version (a replay)
    payload = {**payload, "stage": "dev", "stageIndex": 0}
    world = _world()

    # When
    with pytest.raises(DecisionNotAuthentic) as raised:
        world.record(payload)

    # Then
    assert "made for another promotion or stage" in str(raised.value)
    assert world.log.entries(GROUP) == []
    assert world.registry.updates == []
    assert world.approved_models.history == {}
    assert world.mailer.sent == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"outcome": "approve"}, "'outcome'", id="unknown-outcome"),
        pytest.param({"outcome": None}, "'outcome'", id="no-outcome"),
        pytest.param({"recordedAt": ""}, "recordedAt", id="no-recorded-at"),
        pytest.param({"recordedAt": "yesterday"}, "ISO 8601", id="recorded-at-garbled"),
        pytest.param({"decision": None}, "decision", id="approval-without-decision"),
        pytest.param({"stageIndex": 1}, "stageIndex", id="stage-index-mismatch"),
    ],
)
def test_a_malformed_outcome_payload_is_invalid_and_records_nothing(overrides: dict[str, Any], message: str) -> None:
    # Given
    world = _world()
    payload = {**_approved("dev"), **overrides}

    # When
    with pytest.raises(InvalidPayload) as raised:
        world.record(payload)

    # Then
    assert message in str(raised.value)
    assert world.log.entries(GROUP) == []
    assert world.registry.updates == []


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(_approved("dev", decision=Decision.REJECT, comment="no"), id="approved-outcome-with-a-reject"),
        pytest.param(_approved("dev", model_package_arn=PACKAGE_ARN + "0"), id="decision-for-another-package"),
    ],
)
def test_a_decision_that_does_not_match_the_outcome_or_package_is_invalid_and_records_nothing(
    payload: dict[str, Any],
) -> None:
    # Given
    world = _world()

    # When
    with pytest.raises((InvalidPayload, DecisionNotAuthentic)):
        world.record(payload)

    # Then
    assert world.log.entries(GROUP) == []
    assert world.registry.updates == []
    assert world.approved_models.history == {}


@pytest.mark.parametrize(
    "forged",
    [
        pytest.param(lambda d: replace(d, seal=None), id="no-seal"),
        pytest.param(lambda d: replace(d, approver="priya.prod@example.com"), id="signer-changed-after-sealing"),
        pytest.param(lambda d: replace(d, comment="looks fine"), id="comment-changed-after-sealing"),
        pytest.param(
            lambda d: d.with_seal(FakeSigner(b"someone else's key").seal(d.sealing_message())), id="other-key"
        ),
        pytest.param(lambda d: replace(d, seal="not base64!"), id="garbage-seal"),
    ],
)
def test_an_approval_without_the_approval_pages_seal_records_nothing_and_is_refused(forged: Any) -> None:
    # Given: an output sent with a task token read from the history, not made on a review page
    world = _world()
    payload = _approved("dev")
    payload["decision"] = forged(DecisionRecord.from_payload(payload["decision"])).to_payload()

    # When
    with pytest.raises(DecisionNotAuthentic) as raised:
        world.record(payload)

    # Then: nothing is written anywhere, and the refusal says why
    assert "no valid signature of the approval pages" in str(raised.value)
    assert world.log.entries(GROUP) == []
    assert world.registry.updates == []
    assert world.approved_models.history == {}


def test_a_refused_decision_is_recorded_as_tampering_not_as_an_approval_and_operations_hear_of_it() -> None:
    # Given: "Record approval" raised DecisionNotAuthentic, and the state machine's Catch records the failure
    world = _world()
    error = {"Error": "DecisionNotAuthentic", "Cause": json.dumps({"errorMessage": "the dev decision ... refused"})}

    # When
    result = world.record(outcome_payload("dev", "failed", error=error))

    # Then
    assert result["outcome"] == "tampered"
    [entry] = world.log.entries(GROUP)
    assert (entry["outcome"], entry["actor"], entry["decisionId"]) == ("tampered", None, None)
    [update] = world.registry.updates
    assert update.metadata["dev"] == "RefusedUnsignedDecision"
    assert update.approval_status != "Approved"
    assert "refused an unsigned or altered decision" in update.description
    assert world.approved_models.history == {}
    assert "ml-ops@example.com" in world.mailer.sent[0].to


@pytest.mark.parametrize(
    ("outcome", "sent_error"),
    [
        pytest.param("failed", "TransientAwsError", id="a-retried-error-name"),
        pytest.param("failed", "ConfigurationError", id="any-other-error-name"),
        pytest.param("expired", "States.Timeout", id="a-sent-timeout"),
    ],
)
def test_a_wait_failed_by_somebody_elses_send_is_recorded_as_tampering_whatever_its_error_name(
    outcome: str, sent_error: str
) -> None:
    # Given: the history shows the wait failed by a send after RequestApproval had returned
    world = _world()
    world.history.attempts = [TaskAttempt(submitted=True, ending="failed", error=sent_error)]
    error = {"Error": sent_error, "Cause": json.dumps({"errorMessage": "the approvals table is unavailable"})}

    # When
    result = world.record(outcome_payload("dev", outcome, error=error))

    # Then: tampering, in the audit log, the registry and the operators' email, never a failure or an expiry
    assert result["outcome"] == "tampered"
    [entry] = world.log.entries(GROUP)
    assert entry["outcome"] == "tampered"
    assert f"SendTaskFailure (error {sent_error})" in entry["reason"]
    assert world.registry.updates[0].metadata["dev"] == "RefusedUnsignedDecision"
    assert "ml-ops@example.com" in world.mailer.sent[0].to
    assert world.history.read == [(EXECUTION_ARN, "Await stage approval")]


@pytest.mark.parametrize(
    ("outcome", "attempts", "recorded"),
    [
        pytest.param(
            "failed",
            [TaskAttempt(submitted=False, ending="failed", error="ConfigurationError")],
            "failed",
            id="the-function-failed",
        ),
        pytest.param("expired", [TaskAttempt(submitted=True, ending="timed-out")], "expired", id="a-real-timeout"),
    ],
)
def test_a_failure_or_expiry_the_history_shows_as_real_is_recorded_as_it_is(
    outcome: str, attempts: list[TaskAttempt], recorded: str
) -> None:
    world = _world()
    world.history.attempts = attempts
    error = {"Error": "ConfigurationError", "Cause": "no approvers are configured for stage 'dev'"}

    result = world.record(outcome_payload("dev", outcome, error=error))

    assert result["outcome"] == recorded
    assert world.log.entries(GROUP)[0]["outcome"] == recorded


def test_a_quorum_approval_needs_that_many_distinct_sealed_signers_and_records_them_all() -> None:
    # Given: prod needs two approvers
    world = _world(quorum={"dev": 2})
    first = decision_record(
        "dev",
        approver="priya@example.com",
        approver_name="Priya Prod",
        approver_subject="sub-p",
        decision_id="aaaaaaaaaaaaaaaa",
    )
    twice = decision_record(
        "dev", approver="priya@example.com", approver_name="Priya Prod", approver_subject="sub-p", cosigners=(first,)
    )
    second = decision_record(
        "dev", approver="omar@example.com", approver_name="Omar Ops", approver_subject="sub-o", cosigners=(first,)
    )

    # When one approval alone, or the same person twice, is sent
    for short in (decision_record("dev", approver_subject="sub-p"), twice):
        with pytest.raises(DecisionNotAuthentic):
            world.record(_approved("dev", decision_override=short))
    assert world.log.entries(GROUP) == []

    # Then two distinct signers are recorded, each of them in the audit log, the registry and SSM
    world.record(_approved("dev", decision_override=second))
    [entry] = world.log.entries(GROUP)
    assert [s["by"] for s in entry["signers"]] == ["priya@example.com", "omar@example.com"]
    assert "Priya Prod <priya@example.com>, Omar Ops <omar@example.com>" in world.registry.updates[-1].description
    pointer = next(iter(world.approved_models.history.values()))[-1]
    assert [a["by"] for a in pointer["approvers"]] == ["priya@example.com", "omar@example.com"]


def test_a_cosigner_the_approval_pages_did_not_seal_does_not_make_a_quorum() -> None:
    # Given: an unsealed approval was written into the request, and the last approver's seal covers it
    world = _world(quorum={"dev": 2})
    ghost = decision_record("dev", approver="ghost@example.com", approver_subject="ghost", sealed=False)
    last = decision_record("dev", approver="omar@example.com", approver_subject="sub-o", cosigners=(ghost,))

    # When / Then
    with pytest.raises(DecisionNotAuthentic, match="did not seal"):
        world.record(_approved("dev", decision_override=last))
    assert world.log.entries(GROUP) == []


def test_a_rejection_after_approvals_is_signed_by_the_one_who_rejected() -> None:
    # Given: Priya approved, then Omar rejected
    world = _world(quorum={"dev": 2})
    priya = decision_record("dev", approver="priya@example.com", approver_name="Priya Prod", approver_subject="p")
    rejection = decision_record(
        "dev",
        decision=Decision.REJECT,
        approver="omar@example.com",
        approver_name="Omar Ops",
        approver_subject="o",
        comment="recall dropped",
        cosigners=(priya,),
    )
    payload = outcome_payload(
        "dev", "rejected", error={"Error": "ApprovalRejected", "Cause": json.dumps(rejection.to_payload())}
    )

    # When
    world.record(payload)

    # Then the registry names Omar as the one who rejected, and the audit log keeps Priya's approval as context
    [update] = world.registry.updates
    assert "rejected by Omar Ops <omar@example.com>" in update.description
    assert "Priya" not in update.description
    [entry] = world.log.entries(GROUP)
    assert [(s["by"], s["decision"]) for s in entry["signers"]] == [
        ("priya@example.com", "approve"),
        ("omar@example.com", "reject"),
    ]


def test_a_decision_by_the_registrant_is_refused_again_where_it_is_recorded() -> None:
    # Given: the request the pages read was rewritten so that the registrant could sign (or the pages erred)
    world = _world()
    registrant = next(iter(registrant_of(ModelVersion.from_payload(_approved("dev")["model"])).names))
    signed = replace(decision_record("dev", sealed=False), approver_identifiers=("sub-1", registrant))
    signed = signed.with_seal(SIGNER.seal(signed.sealing_message()))

    # When / Then: RecordOutcome checks its own copy of the version's CreatedBy
    with pytest.raises(DecisionNotAuthentic, match="registered the version"):
        world.record(_approved("dev", decision_override=signed))
    assert world.log.entries(GROUP) == []


# a signed rollback (statemachines/rollback.asl.json)

REPLACED_ARN = PACKAGE_ARN.rsplit("/", 1)[0] + f"/{VERSION + 1}"
ROLLBACK = {
    "reason": "version 4 misroutes claims",
    "requestedBy": "olga.operator@example.com",
    "requestedAt": "2026-11-21T14:00:00Z",
    "replacesVersion": VERSION + 1,
    "replacesPackageArn": REPLACED_ARN,
    "approvedBefore": "d-earlier",
    "approvedBeforeBy": "dana@example.com",
    "approvedBeforeAt": SIGNED_AT,
}


# The rollback as the approvers were shown it (a case may alter what they saw).
ROLLBACK_SHOWN: dict[str, Any] = {}


def _rollback_world(*, approved_before: bool = True) -> World:
    """Version VERSION was approved for dev before (its audit entry "d-earlier"); VERSION + 1 runs in dev now."""
    world = _world("Approved", {"dev": "Approved", "test": "Approved", **_signed("dev", "dana@example.com")})
    if approved_before:
        earlier = decision_record("dev", decision_id="d-earlier", approver="dana@example.com")
        world.log.append(
            audit_entry(
                StageTask.from_payload(stage_task_payload("dev")), Outcome.APPROVED, SIGNED_AT, decision=earlier
            )
        )
    replaced = model_description(status="Approved", metadata={**REGISTRANT_KEYS, "dev": "Approved"})
    replaced.update(ModelPackageArn=REPLACED_ARN, ModelPackageVersion=VERSION + 1)
    world.registry.descriptions[REPLACED_ARN] = replaced
    world.approved_models.put(DEV_PARAMETER, {"modelVersion": VERSION + 1, "modelPackageArn": REPLACED_ARN})
    return world


def test_a_signed_rollback_points_ssm_at_the_earlier_version_and_marks_the_replaced_one_rolled_back() -> None:
    world = _rollback_world()

    result = world.record(
        outcome_payload("dev", "rolled-back", decision=decision_record("dev").to_payload(), rollback=ROLLBACK)
    )

    assert result["parameterName"] == DEV_PARAMETER
    record = world.approved_models.get(DEV_PARAMETER)
    assert record is not None and (record["modelVersion"], record["approvedBy"]) == (VERSION, "lead@example.com")
    # The version rolled back to: dev signed again, its later stages untouched, no promotion-ended marker
    assert world.package["CustomerMetadataProperties"] == {
        **REGISTRANT_KEYS,
        "dev": "Approved",
        "test": "Approved",
        **_signed("dev"),
    }
    replaced = world.registry.descriptions[REPLACED_ARN]["CustomerMetadataProperties"]
    assert replaced["dev"] == "RolledBack" and replaced["dev-signed-by"] == f"rolled back to version {VERSION}"
    entry = world.log.entries(GROUP)[-1]
    assert (entry["outcome"], entry["meaning"]) == ("rolled-back", f"rolled dev back to version {VERSION}")
    assert entry["rollback"] == ROLLBACK and entry["actor"] == "lead@example.com"
    [mail] = world.mailer.sent
    assert (
        mail.to == (SETTINGS.operations_email,) and mail.subject == f"{GROUP}: dev was rolled back to version {VERSION}"
    )
    assert result["notifiedTo"] == [SETTINGS.operations_email]


@pytest.mark.parametrize("outcome", ["rejected", "expired"])
def test_a_declined_or_expired_rollback_changes_nothing_but_the_audit_log_and_tells_operations(outcome: str) -> None:
    world = _rollback_world()
    before = json.dumps(world.registry.descriptions, sort_keys=True, default=str)
    payload = _rejected("dev") if outcome == "rejected" else outcome_payload("dev", "expired")

    result = world.record({**payload, "rollback": ROLLBACK})

    assert json.dumps(world.registry.descriptions, sort_keys=True, default=str) == before
    assert world.approved_models.get(DEV_PARAMETER) == {"modelVersion": VERSION + 1, "modelPackageArn": REPLACED_ARN}
    entry = world.log.entries(GROUP)[-1]
    assert entry["outcome"] == outcome and entry["meaning"].startswith(f"rollback of dev to version {VERSION}: ")
    assert result["notifiedTo"] == [SETTINGS.operations_email]
    [mail] = world.mailer.sent
    assert mail.subject.startswith(f"{GROUP}: the rollback of dev to version {VERSION} ")


def test_a_rollback_records_only_rolled_back_and_only_a_rollback_does() -> None:
    world = _rollback_world()
    approval = decision_record("dev").to_payload()

    with pytest.raises(InvalidPayload, match="records the outcome 'rolled-back'"):
        world.record(outcome_payload("dev", "approved", decision=approval, rollback=ROLLBACK))
    with pytest.raises(InvalidPayload, match="only a rollback's execution"):
        world.record(outcome_payload("dev", "rolled-back", decision=approval))
    with pytest.raises(InvalidPayload, match=r"rollback\.reason"):
        world.record(outcome_payload("dev", "rolled-back", decision=approval, rollback={**ROLLBACK, "reason": ""}))
    assert [e["outcome"] for e in world.log.entries(GROUP)] == ["approved"]


def _forged_approval(world: World) -> None:
    """An approval written into the audit table by someone who may PutItem there: no valid seal."""
    forged = decision_record("dev", decision_id="d-earlier", sealed=False).to_payload()
    world.log.append(
        {"modelPackageGroupName": GROUP, "entryKey": "forged", "modelVersion": VERSION, "stage": "dev"}
        | {"outcome": "approved", "decisionId": "d-earlier", "decisionRecord": forged, "modelPackageArn": PACKAGE_ARN}
        | {"actor": "dana@example.com", "at": SIGNED_AT}
    )


@pytest.mark.parametrize(
    ("approved_before", "arrange", "error", "message"),
    [
        (
            False,
            lambda world: None,
            DecisionNotAuthentic,
            r"names an earlier approval \(d-earlier\) that the audit log",
        ),
        (False, _forged_approval, DecisionNotAuthentic, "does not carry the approval pages' valid seals"),
        (
            True,
            lambda world: ROLLBACK_SHOWN.update(approvedBeforeBy="someone.else@example.com"),
            DecisionNotAuthentic,
            "another signer or time for its earlier approval",
        ),
        (
            True,
            lambda world: world.approved_models.put(DEV_PARAMETER, {"modelVersion": 9, "modelPackageArn": "x"}),
            InvalidPayload,
            "dev runs version 9 now, not version 4",
        ),
        (
            True,
            lambda world: world.registry.descriptions[PACKAGE_ARN].update(ModelApprovalStatus="Rejected"),
            InvalidPayload,
            "was rejected while the rollback waited",
        ),
    ],
    ids=["no-such-approval", "unsealed-approval", "shown-another-signer", "stage-moved-on", "rejected-since"],
)
def test_a_rollback_whose_claims_do_not_hold_any_more_is_refused_before_any_write(
    approved_before: bool, arrange: Any, error: type[Exception], message: str
) -> None:
    world = _rollback_world(approved_before=approved_before)
    ROLLBACK_SHOWN.clear()
    ROLLBACK_SHOWN.update(ROLLBACK)
    arrange(world)
    before = json.dumps(world.registry.descriptions, sort_keys=True, default=str)
    entries = world.log.entries(GROUP)
    ssm = world.approved_models.get(DEV_PARAMETER)

    with pytest.raises(error, match=message):
        world.record(
            outcome_payload("dev", "rolled-back", decision=decision_record("dev").to_payload(), rollback=ROLLBACK_SHOWN)
        )

    assert world.log.entries(GROUP) == entries and world.mailer.sent == []
    assert json.dumps(world.registry.descriptions, sort_keys=True, default=str) == before
    assert world.approved_models.get(DEV_PARAMETER) == ssm


def test_a_rollback_naming_another_package_than_the_registrys_version_is_tampering() -> None:
    world = _rollback_world()
    swapped = replace(model_version(), model_data_url="s3://attacker/evil.tar.gz")

    with pytest.raises(DecisionNotAuthentic, match="not the registry's version"):
        world.record(
            outcome_payload(
                "dev", "rolled-back", decision=decision_record("dev").to_payload(), rollback=ROLLBACK, model=swapped
            )
        )
    assert world.approved_models.get(DEV_PARAMETER) == {"modelVersion": VERSION + 1, "modelPackageArn": REPLACED_ARN}


def test_a_signed_rollback_recorded_again_after_a_lost_answer_writes_nothing_twice() -> None:
    world = _rollback_world()
    payload = outcome_payload("dev", "rolled-back", decision=decision_record("dev").to_payload(), rollback=ROLLBACK)
    first = world.record(payload)
    entries, ssm = world.log.entries(GROUP), world.approved_models.history[DEV_PARAMETER]

    again = world.record(payload)

    assert again == first
    assert world.log.entries(GROUP) == entries and world.approved_models.history[DEV_PARAMETER] == ssm
