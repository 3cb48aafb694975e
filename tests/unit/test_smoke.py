"""The smoke test of a fresh stack (services/smoke.py, `cli smoke-test`), run against fakes and a fake clock.

A scripted world plays the stack: registering a version makes the execution start a moment later, then the
first stage's request appear and RequestApproval return; a person's decision is recorded by the real
RecordOutcome service. Each test then looks at what an operator would see: the printed steps, the registry,
the audit log, the execution, SSM.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.session
import pytest
from builders import SIGNER, TASK_TOKEN
from fakes import (
    EXECUTION_ARN_PREFIX,
    FakeApprovalStore,
    FakeApprovedModels,
    FakeDecisionLog,
    FakeExecutionHistory,
    FakeExecutions,
    FakeMailer,
    FakeRegistry,
)

from embedded_aws.strict.request_rules import violations
from model_promotion import cli
from model_promotion.adapters.aws import DEFAULT_CLIENTS
from model_promotion.config import OutcomeSettings
from model_promotion.domain.approvals import ApprovalRequest, Decision, DecisionRecord, StageTask, iso, request_key
from model_promotion.domain.errors import ConfigurationError
from model_promotion.domain.gates import GateConfig, evaluate_registered
from model_promotion.domain.model_quality import registered_metrics
from model_promotion.domain.model_version import ModelVersion
from model_promotion.domain.registration import execution_name
from model_promotion.services.outcomes import record_stage_outcome
from model_promotion.services.smoke import (
    DEFAULT_GROUP,
    ArtifactUploads,
    Clock,
    ExecutionHistory,
    HistoryEvent,
    ModelRegistration,
    SmokeConfigError,
    SmokePorts,
    SmokeSettings,
    run_smoke_test,
    sklearn_image_uri,
    smoke_artifact,
    smoke_description,
    smoke_metrics,
    smoke_statistics,
)

STAGES = ("dev", "test", "uat", "prod")
BUCKET = "demo-model-artifacts"
OPERATIONS = "ml-platform@example.com"
OPERATOR = "arn:aws:iam::123456789012:user/ops"
DEV_APPROVER = "dana.dev@example.com"
LOCAL_GATES = (
    '{"registered": {"accuracy": {"min": 0.9}, "roc_auc": {"min": 0.95}}, "batch": {"accuracy": {"min": 0.85}}}'
)
START = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
SESSION = botocore.session.get_session()


# The scripted stack


class FakeClock(Clock):
    """Time moves only when the code under test sleeps; each sleep lets the world do what is due."""

    def __init__(self) -> None:
        self.t = 0.0
        self.due: list[tuple[float, Callable[[], None]]] = []
        super().__init__(now=lambda: START + timedelta(seconds=self.t), monotonic=lambda: self.t, sleep=self._sleep)

    def at(self, delay: float, action: Callable[[], None]) -> None:
        self.due.append((self.t + delay, action))

    def _sleep(self, seconds: float) -> None:
        self.t += seconds
        for entry in sorted((e for e in self.due if e[0] <= self.t), key=lambda e: e[0]):
            self.due.remove(entry)
            entry[1]()


class FakeUploads(ArtifactUploads):
    def __init__(self, refuse: bool = False) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.refuse = refuse

    def put(self, uri: str, body: bytes, content_type: str) -> None:
        if self.refuse:
            raise ConfigurationError(f"cannot write {uri}: AccessDenied")
        self.objects[uri] = (body, content_type)


class FakeHistory(ExecutionHistory):
    def __init__(self) -> None:
        self.by_arn: dict[str, list[HistoryEvent]] = {}

    def add(self, arn: str, *events: HistoryEvent) -> None:
        self.by_arn.setdefault(arn, []).extend(events)

    def events(self, execution_arn: str) -> list[HistoryEvent]:
        return list(self.by_arn.get(execution_arn, []))


class World(ModelRegistration):
    """The stack as the smoke test meets it. `behaviour` says what happens after a registration."""

    def __init__(self, clock: FakeClock, stages: tuple[str, ...] = STAGES, **behaviour: Any) -> None:
        self.clock, self.stages = clock, stages
        self.behaviour = {"start_after": 1.5, "request_after": 1.0, "mailed": True, "ends": None, **behaviour}
        self.registry = FakeRegistry()
        self.executions = FakeExecutions()
        self.history = FakeHistory()
        self.store = FakeApprovalStore()
        self.log = FakeDecisionLog()
        self.approved = FakeApprovedModels()
        self.uploads = FakeUploads(refuse=self.behaviour.get("refuse_upload", False))
        self.groups: set[str] = set()
        self.registered: list[dict[str, Any]] = []

    def ports(self) -> SmokePorts:
        return SmokePorts(
            artifacts=self.uploads,
            registration=self,
            registry=self.registry,
            executions=self.executions,
            history=self.history,
            store=self.store,
            log=self.log,
            approved_models=self.approved,
        )

    # ModelRegistration

    def ensure_group(self, group: str, description: str) -> bool:
        created = group not in self.groups
        self.groups.add(group)
        return created

    def register(self, **request: Any) -> str:
        group = request["group"]
        version = 1 + sum(1 for d in self.registry.descriptions.values() if d["ModelPackageGroupName"] == group)
        arn = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{group}/{version}"
        self.registered.append(request)
        self.registry.add(
            {
                "ModelPackageArn": arn,
                "ModelPackageGroupName": group,
                "ModelPackageVersion": version,
                "ModelApprovalStatus": "PendingManualApproval",
                "ModelPackageDescription": request["description"],
                "CustomerMetadataProperties": dict(request["metadata"]),
                "InferenceSpecification": {
                    "Containers": [{"Image": request["image_uri"], "ModelDataUrl": request["model_data_url"]}]
                },
                "ModelMetrics": {"ModelQuality": {"Statistics": {"S3Uri": request["statistics_uri"]}}},
                # SageMaker records the caller: the operator running the smoke test, never the dev approver
                "CreatedBy": {"IamIdentity": {"Arn": "arn:aws:iam::123456789012:user/olga.operator"}},
            }
        )
        if self.behaviour["start_after"] is not None:
            self.clock.at(self.behaviour["start_after"], lambda: self._start(arn))
        return arn

    # What the workflow does

    def _start(self, package_arn: str) -> None:
        description = self.registry.descriptions[package_arn]
        model = ModelVersion.from_description(description)
        name = execution_name(model.group, model.version)
        arn = self.executions.add(name)
        self.history.add(
            arn, HistoryEvent("ExecutionStarted"), HistoryEvent("TaskStateEntered", "Check registered metrics")
        )
        if self.behaviour["ends"]:
            error, cause = self.behaviour["ends"]
            self.executions.executions[name].update(status="FAILED", error=error, cause=cause)
            return
        task = StageTask(arn, model, self.stages[0], 0, self.stages)
        self.clock.at(self.behaviour["request_after"], lambda: self._request(task))

    def _request(self, task: StageTask) -> None:
        now = self.clock.now()
        request = ApprovalRequest(
            key=request_key(task.execution_name, task.stage),
            task=task,
            requested_at=now,
            expires_at=now + timedelta(hours=1),
            recipients=(DEV_APPROVER,),
            evidence=None,
        )
        self.store.save_request(request, TASK_TOKEN, now + timedelta(days=30))
        self.history.add(task.execution_arn, HistoryEvent("TaskStateEntered", "Await stage approval"))
        if self.behaviour["mailed"]:
            self.history.add(task.execution_arn, HistoryEvent("TaskScheduled"), HistoryEvent("TaskSubmitted"))
        self.task = task

    def decide(self, decision: Decision, comment: str | None, after: float) -> None:
        """A dev approver decides on the review page `after` seconds into the run (the request is out by then)."""

        def decided() -> None:
            task = self.task
            record = DecisionRecord(
                decision_id="d3c1510n",
                decision=decision,
                stage=task.stage,
                approver=DEV_APPROVER,
                comment=comment,
                decided_at=iso(self.clock.now()),
                model_package_arn=task.model.package_arn,
                model_version=task.model.version,
                approver_name="Dana Dev",
                execution_arn=task.execution_arn,
            )
            record = record.with_seal(SIGNER.seal(record.sealing_message()))
            self.store.claim(request_key(task.execution_name, task.stage), record, 0, self.clock.now())
            payload: dict[str, Any] = {
                "executionArn": task.execution_arn,
                "recordedAt": iso(self.clock.now()),
                "model": task.model.to_payload(),
                "stage": task.stage,
                "stageIndex": 0,
                "stages": list(task.stages),
            }
            if decision is Decision.APPROVE:
                payload.update(outcome="approved", decision=record.to_payload())
            else:
                payload.update(
                    outcome="rejected", error={"Error": "ApprovalRejected", "Cause": json.dumps(record.to_payload())}
                )
            settings = OutcomeSettings("/model-promotion", "decisions", "mp@example.com", OPERATIONS)
            record_stage_outcome(
                payload,
                settings=settings,
                registry=self.registry,
                approved_models=self.approved,
                log=self.log,
                mailer=FakeMailer(),
                history=FakeExecutionHistory(),
                signer=SIGNER,
            )
            execution = self.executions.executions[task.execution_name]
            self.history.add(task.execution_arn, HistoryEvent("TaskStateEntered", "Record approval"))
            if decision is Decision.APPROVE and self.behaviour.get("scoring_begins"):
                self.history.add(
                    task.execution_arn,
                    HistoryEvent("TaskStateEntered", "Plan batch scoring"),
                    HistoryEvent("MapStateEntered", "Score the batch"),
                )
            if decision is Decision.APPROVE and self.behaviour.get("scoring_fails"):
                execution.update(status="FAILED", error="PromotionFailed", cause="test failed: TransformJobFailed")
            if decision is Decision.REJECT:
                execution.update(status="FAILED", error="ApprovalRejected", cause="dev rejected")
            elif len(task.stages) == 1:
                execution.update(status="SUCCEEDED")

        self.clock.at(after, decided)

    def version(self, number: int = 1) -> dict[str, Any]:
        return next(d for d in self.registry.descriptions.values() if d["ModelPackageVersion"] == number)

    def audit(self, group: str = DEFAULT_GROUP) -> list[dict[str, Any]]:
        return self.log.entries(group)


def settings(world: World, **overrides: Any) -> SmokeSettings:
    values: dict[str, Any] = {
        "group": DEFAULT_GROUP,
        "stages": world.stages,
        "bucket": BUCKET,
        "gates": GateConfig.parse(LOCAL_GATES),
        "operations_email": OPERATIONS,
        "parameter_prefix": "/model-promotion",
        "image_uri": sklearn_image_uri("us-east-1"),
        "operator": OPERATOR,
        "start_timeout": 60.0,
        "request_timeout": 60.0,
        "check_timeout": 10.0,
        "poll_interval": 0.5,
        **overrides,
    }
    return SmokeSettings(**values)


def smoke(world: World, **overrides: Any) -> tuple[dict[str, Any], list[Mapping[str, Any]], list[str]]:
    reported: list[Mapping[str, Any]] = []
    notices: list[str] = []
    result = run_smoke_test(
        settings(world, **overrides), world.ports(), clock=world.clock, on_step=reported.append, notice=notices.append
    )
    return result, reported, notices


def steps_of(result: Mapping[str, Any]) -> list[tuple[str, bool]]:
    return [(s["step"], s["ok"]) for s in result["steps"]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# The artifact, the statistics, the image


def test_the_artifact_is_a_tar_gz_holding_only_a_readme_that_says_it_is_never_served() -> None:
    body = smoke_artifact(START)

    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
        (member,) = archive.getmembers()
        text = archive.extractfile(member).read().decode()  # type: ignore[union-attr]

    assert member.name == "README.txt" and member.isfile()
    assert "smoke-test artifact" in text and "never served" in text
    assert gzip.decompress(body)  # a valid gzip stream, not only a tar
    assert smoke_artifact(START) == body  # the same run time, the same bytes


@pytest.mark.parametrize(
    "gates",
    [
        LOCAL_GATES,
        '{"registered": {"rmse": {"max": 12.5}, "mae": {"min": 0.5, "max": 3}, "r2": {"min": 0.7, "max": 0.95}}}',
        '{"registered": {"precision": {"min": 0.8}, "recall": {"max": 0.99}, "f1": {"min": 0.75, "max": 0.9}}}',
        '{"batch": {"roc_auc": {"min": 0.9}}}',
        "{}",
    ],
)
def test_the_statistics_meet_every_registered_rule_exactly_and_say_they_are_synthetic(gates: str) -> None:
    config = GateConfig.parse(gates)

    document = json.loads(json.dumps(smoke_statistics(config, START)))  # as S3 stores it
    metrics = registered_metrics(document)

    assert evaluate_registered(config, metrics).passed
    bounds = {r.metric: set() for r in config.registered}
    for rule in config.registered:
        bounds[rule.metric].add(rule.bound)
    assert metrics == smoke_metrics(config) and all(metrics[m] in b for m, b in bounds.items())
    assert (
        document["smoke_test"]["synthetic"] is True and "Synthetic smoke-test figures" in document["smoke_test"]["note"]
    )


@pytest.mark.parametrize(
    ("region", "uri"),
    [
        ("us-east-1", "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"),
        ("eu-west-1", "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"),
        ("cn-north-1", "450853457545.dkr.ecr.cn-north-1.amazonaws.com.cn/sagemaker-scikit-learn:1.2-1-cpu-py3"),
    ],
)
def test_the_serving_image_is_the_regions_sagemaker_scikit_learn_image(region: str, uri: str) -> None:
    assert sklearn_image_uri(region) == uri


def test_a_region_without_a_known_image_is_refused() -> None:
    with pytest.raises(KeyError):
        sklearn_image_uri("mars-north-1")


# The default walk: cancel


def test_a_fresh_stack_passes_registration_start_request_cancel_and_every_record(clock: FakeClock) -> None:
    world = World(clock)

    result, reported, _ = smoke(world)

    assert result["ok"] is True and result["exitCode"] == 0 and result["failure"] is None
    assert steps_of(result) == [
        ("upload", True),
        ("register", True),
        ("start", True),
        ("request", True),
        ("cancel", True),
        ("registry", True),
        ("audit", True),
        ("aborted", True),
    ]
    assert reported == result["steps"]  # each step reported as it ended
    # The two objects, under model-promotion-smoke/<UTC timestamp>/
    prefix = f"s3://{BUCKET}/model-promotion-smoke/20261121T120000Z"
    assert set(world.uploads.objects) == {f"{prefix}/model.tar.gz", f"{prefix}/evaluation.json"}
    assert (result["modelDataUrl"], result["statisticsUri"]) == (f"{prefix}/model.tar.gz", f"{prefix}/evaluation.json")
    # The version: pending, mailing operations, marked as a smoke test, honest about its metrics
    (registered,) = world.registered
    assert registered["metadata"] == {"RegistrantEmail": OPERATIONS, "smoke-test": "true"}
    assert "synthetic smoke-test figures" in registered["description"] and "\n" not in registered["description"]
    assert registered["image_uri"].endswith("/sagemaker-scikit-learn:1.2-1-cpu-py3")
    # What an operator sees afterwards: dev Cancelled, the audit entry, the execution aborted
    version = world.version(1)
    assert version["CustomerMetadataProperties"]["dev"] == "Cancelled"
    (entry,) = world.audit()
    assert (entry["stage"], entry["outcome"], entry["actor"], entry["reason"]) == (
        "dev",
        "cancelled",
        OPERATOR,
        "smoke test",
    )
    assert world.executions.executions[f"{DEFAULT_GROUP}-v1"]["status"] == "ABORTED"
    assert result["mailedTo"] == [DEV_APPROVER] and result["version"] == 1
    assert TASK_TOKEN not in json.dumps(result) and "SECRET-TASK-TOKEN" not in json.dumps(result)


def test_a_second_run_registers_the_next_version_in_the_existing_group(clock: FakeClock) -> None:
    world = World(clock)
    smoke(world)

    result, _, _ = smoke(world)

    assert result["ok"] and result["version"] == 2
    assert "existing group" in result["steps"][1]["detail"]
    assert result["executionName"] == f"{DEFAULT_GROUP}-v2"


def test_no_execution_within_the_wait_fails_at_start_naming_the_rule_and_start_promotion(clock: FakeClock) -> None:
    world = World(clock, start_after=None)

    result, _, _ = smoke(world, start_timeout=5.0)

    assert result["ok"] is False and result["exitCode"] == 1
    assert steps_of(result) == [("upload", True), ("register", True), ("start", False)]
    assert result["failure"] == {
        "step": "start",
        "message": f"no execution {DEFAULT_GROUP}-v1 started within 5 s: is the EventBridge rule enabled, "
        "and does StartPromotion's log say why?",
    }


def test_a_gate_that_refuses_the_statistics_fails_at_request_naming_the_gate(clock: FakeClock) -> None:
    world = World(clock, ends=("QualityGateFailed", "accuracy 0.8900 is below the minimum 0.9"))

    result, _, _ = smoke(world)

    assert steps_of(result)[-1] == ("request", False) and result["exitCode"] == 1
    message = result["failure"]["message"]
    assert "ended FAILED (QualityGateFailed: accuracy 0.8900 is below the minimum 0.9)" in message
    assert "the registered quality gate refused" in message and "QualityGates" in message


def test_a_stored_request_whose_mail_ses_never_accepted_fails_at_request(clock: FakeClock) -> None:
    world = World(clock, mailed=False)

    result, _, _ = smoke(world, request_timeout=4.0)

    assert steps_of(result)[-1] == ("request", False)
    assert "no dev approval request was stored and mailed within 4 s" in result["failure"]["message"]
    assert "SES sandbox" in result["failure"]["message"]
    assert world.audit() == []  # nothing was cancelled: the request is left as the stack left it


def test_a_refused_upload_fails_at_upload_with_exit_2_before_anything_is_registered(clock: FakeClock) -> None:
    world = World(clock, refuse_upload=True)

    result, _, _ = smoke(world)

    assert steps_of(result) == [("upload", False)] and result["exitCode"] == 2
    assert "AccessDenied" in result["failure"]["message"] and world.registered == []


def test_a_group_the_stack_does_not_promote_is_refused_before_anything_is_printed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cli, "resolve_target", lambda invocation: _target(ModelPackageGroupNames="churn-model"))
    monkeypatch.setattr(cli, "smoke_test", lambda *args, **kwargs: pytest.fail("the smoke test ran"))
    out, err = io.StringIO(), io.StringIO()

    assert cli.main(["--stack-name", "mp", "smoke-test", "--operator", "ops"], stdout=out, stderr=err) == 2

    assert out.getvalue() == "" and err.getvalue().count("\n") == 1
    assert "promotes only the groups churn-model (ModelPackageGroupNames)" in err.getvalue()


def test_a_group_the_stack_does_not_promote_is_refused_before_anything_is_written(clock: FakeClock) -> None:
    world = World(clock)

    with pytest.raises(SmokeConfigError, match="promotes only the groups churn-model"):
        smoke(world, promoted_groups=("churn-model",))

    assert world.uploads.objects == {} and world.registered == []


# --wait-for-approval: a person decides


def test_an_approval_is_reported_then_the_promotion_stops_before_scoring_the_smoke_artifact(clock: FakeClock) -> None:
    world = World(clock)
    world.decide(Decision.APPROVE, "wired end to end", after=20)

    result, _, notices = smoke(world, wait_for_approval=120)

    assert result["ok"], result["failure"]
    assert notices == [
        f"Mailed the dev approvers {DEV_APPROVER}: one of them decides on the review page (the link in the mail). "
        "Waiting up to 120 s."
    ]
    assert steps_of(result) == [
        ("upload", True),
        ("register", True),
        ("start", True),
        ("request", True),
        ("decision", True),
        ("stop", True),
        ("registry", True),
        ("ssm", True),
        ("recorded", True),
    ]
    assert result["decision"]["outcome"] == "approved" and result["decision"]["by"] == DEV_APPROVER
    assert (
        "Dana Dev approved dev" in result["steps"][4]["detail"] and "wired end to end" in result["steps"][4]["detail"]
    )
    # Stopped before test, and the stop is recorded as an operator's cancellation at test
    (stopped,) = world.executions.stopped
    assert stopped.error == "PromotionCancelled" and "before test" in stopped.cause
    metadata = world.version(1)["CustomerMetadataProperties"]
    assert (metadata["dev"], metadata["test"]) == ("Approved", "Cancelled") and "promotion-ended" in metadata
    assert [(e["stage"], e["outcome"]) for e in world.audit()] == [("dev", "approved"), ("test", "cancelled")]
    assert world.approved.get(f"/model-promotion/{DEFAULT_GROUP}/dev")["modelVersion"] == 1
    assert result["steps"][5]["detail"] == (
        "stopped the execution at 'Record approval', before test is scored: the smoke artifact is never served"
    )


def test_a_stop_that_lands_after_batch_scoring_began_says_so_and_still_passes(clock: FakeClock) -> None:
    world = World(clock, scoring_begins=True)
    world.decide(Decision.APPROVE, None, after=5)

    result, _, _ = smoke(world, wait_for_approval=60)

    assert result["ok"], result["failure"]
    assert result["steps"][5]["detail"] == (
        "stopped the execution at 'Score the batch': the batch scoring of test had begun, so a transform job of "
        "the smoke artifact may run and fail (nothing waits for it any more)"
    )
    assert world.executions.executions[f"{DEFAULT_GROUP}-v1"]["status"] == "ABORTED"


def test_an_execution_that_ended_before_the_stop_is_reported_and_not_overwritten(clock: FakeClock) -> None:
    world = World(clock, scoring_fails=True)
    world.decide(Decision.APPROVE, None, after=5)

    result, _, _ = smoke(world, wait_for_approval=60)

    assert result["ok"], result["failure"]
    assert [s for s, _ in steps_of(result)][4:] == ["decision", "stop", "registry", "ssm", "ended"]
    assert result["steps"][5]["detail"] == "the execution had ended FAILED already; nothing to stop"
    assert world.executions.stopped == [] and [e["stage"] for e in world.audit()] == ["dev"]


def test_an_approval_on_a_single_stage_stack_ends_with_the_execution_succeeded(clock: FakeClock) -> None:
    world = World(clock, stages=("dev",))
    world.decide(Decision.APPROVE, None, after=5)

    result, _, _ = smoke(world, wait_for_approval=60)

    assert result["ok"], result["failure"]
    assert [s for s, _ in steps_of(result)][4:] == ["decision", "registry", "ssm", "succeeded"]
    assert world.executions.stopped == []


def test_a_rejection_is_reported_with_the_registry_and_the_failed_execution(clock: FakeClock) -> None:
    world = World(clock)
    world.decide(Decision.REJECT, "not a real model", after=5)

    result, _, _ = smoke(world, wait_for_approval=60)

    assert result["ok"], result["failure"]
    assert [s for s, _ in steps_of(result)][4:] == ["decision", "registry", "ended"]
    assert result["decision"]["outcome"] == "rejected" and result["decision"]["comment"] == "not a real model"
    assert world.version(1)["ModelApprovalStatus"] == "Rejected"
    assert world.approved.get(f"/model-promotion/{DEFAULT_GROUP}/dev") is None


def test_nobody_deciding_in_time_fails_at_decision_and_cancels_the_smoke_promotion(clock: FakeClock) -> None:
    world = World(clock)

    result, _, _ = smoke(world, wait_for_approval=30)

    assert steps_of(result)[-1] == ("decision", False) and result["exitCode"] == 1
    assert result["failure"]["message"] == (
        f"nobody decided the dev request within 30 s (mailed {DEV_APPROVER}); the smoke promotion was cancelled"
    )
    assert world.version(1)["CustomerMetadataProperties"]["dev"] == "Cancelled"
    assert world.audit()[0]["reason"] == "smoke test: nobody decided within 30 s"


def test_ctrl_c_during_a_wait_says_which_version_is_left_and_how_to_cancel_it(clock: FakeClock) -> None:
    world = World(clock)

    def interrupt() -> None:
        raise KeyboardInterrupt

    clock.at(10, interrupt)

    result, _, _ = smoke(world, wait_for_approval=600)

    assert result["ok"] is False and result["exitCode"] == 2
    assert result["failure"] == {
        "step": "interrupted",
        "message": f"interrupted: {DEFAULT_GROUP} version 1 stays as it is; cancel it with "
        f'`cancel {DEFAULT_GROUP} 1 --reason "smoke test"` if it still waits',
    }


# The adapters: requests AWS accepts, and a history without tokens


class RecordingClient:
    def __init__(self, answers: Mapping[str, Any] | None = None, missing_group: bool = True) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.answers = dict(answers or {})
        self.missing_group = missing_group

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            if name == "describe_model_package_group" and self.missing_group:
                from botocore.exceptions import ClientError

                raise ClientError({"Error": {"Code": "ValidationException", "Message": "does not exist."}}, name)
            answer = self.answers.get(name, {})
            return answer.pop(0) if isinstance(answer, list) else answer

        return call


def _operation(service: str, method: str) -> Any:
    model = SESSION.get_service_model(service)
    name = next(op for op in model.operation_names if botocore.xform_name(op) == method)
    return model.operation_model(name)


def test_the_registration_requests_are_ones_sagemaker_and_s3_accept(monkeypatch: pytest.MonkeyPatch) -> None:
    from model_promotion.adapters import smoke_aws

    fake = RecordingClient(
        {"create_model_package": {"ModelPackageArn": "arn:aws:sagemaker:us-east-1:1:model-package/g/1"}}
    )
    monkeypatch.setattr(DEFAULT_CLIENTS, "client", lambda service: fake)
    config = GateConfig.parse(LOCAL_GATES)
    request = {
        "group": DEFAULT_GROUP,
        "description": smoke_description(START),
        "image_uri": sklearn_image_uri("eu-west-1"),
        "model_data_url": f"s3://{BUCKET}/model-promotion-smoke/20261121T120000Z/model.tar.gz",
        "statistics_uri": f"s3://{BUCKET}/model-promotion-smoke/20261121T120000Z/evaluation.json",
        "metadata": {"RegistrantEmail": OPERATIONS, "smoke-test": "true"},
        "task": "CLASSIFICATION",
    }
    registration = smoke_aws.SageMakerRegistration()

    assert registration.ensure_group(DEFAULT_GROUP, "Smoke tests of the model promotion stack") is True
    assert registration.register(**request) == "arn:aws:sagemaker:us-east-1:1:model-package/g/1"
    smoke_aws.S3ArtifactUploads().put(request["model_data_url"], smoke_artifact(START), "application/gzip")
    smoke_aws.S3ArtifactUploads().put(
        request["statistics_uri"], json.dumps(smoke_statistics(config, START)).encode(), "application/json"
    )

    services = {"put_object": "s3"}
    for method, params in fake.calls:
        found = violations(_operation(services.get(method, "sagemaker"), method), params)
        assert found == [], (method, found)
    assert [m for m, _ in fake.calls] == [
        "describe_model_package_group",
        "create_model_package_group",
        "create_model_package",
        "put_object",
        "put_object",
    ]


def test_the_history_is_read_as_event_types_and_state_names_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from model_promotion.adapters import smoke_aws

    page = {
        "events": [
            {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "Await stage approval", "input": "{}"}},
            {
                "type": "TaskScheduled",
                "taskScheduledEventDetails": {"parameters": json.dumps({"taskToken": TASK_TOKEN})},
            },
            {"type": "TaskSubmitted", "taskSubmittedEventDetails": {"output": "{}"}},
        ]
    }
    fake = RecordingClient({"get_execution_history": [dict(page, nextToken="2"), {"events": []}]})
    monkeypatch.setattr(DEFAULT_CLIENTS, "client", lambda service: fake)

    events = smoke_aws.StepFunctionsHistory().events(EXECUTION_ARN_PREFIX + "x-v1")

    assert events == [
        HistoryEvent("TaskStateEntered", "Await stage approval"),
        HistoryEvent("TaskScheduled"),
        HistoryEvent("TaskSubmitted"),
    ]
    assert TASK_TOKEN not in repr(events) and len(fake.calls) == 2 and fake.calls[1][1]["nextToken"] == "2"


def test_a_missing_bucket_is_named_as_the_operators_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import ClientError

    from model_promotion.adapters import smoke_aws

    class NoBucket:
        def put_object(self, **kwargs: Any) -> None:
            raise ClientError({"Error": {"Code": "NoSuchBucket", "Message": "nope"}}, "PutObject")

    monkeypatch.setattr(DEFAULT_CLIENTS, "client", lambda service: NoBucket())

    with pytest.raises(ConfigurationError, match="the model artifacts bucket demo-model-artifacts does not exist"):
        smoke_aws.S3ArtifactUploads().put(
            f"s3://{BUCKET}/model-promotion-smoke/t/model.tar.gz", b"x", "application/gzip"
        )


# The CLI: arguments, the stack's settings, the printed steps and the exit status


def test_smoke_test_takes_a_group_a_wait_and_an_operator(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[cli.SmokeRequest] = []
    monkeypatch.setattr(cli, "resolve_target", lambda invocation: _target())
    monkeypatch.setattr(cli, "smoke_test_main", lambda request, target, invocation: seen.append(request) or 0)

    assert cli.main(["--local", "smoke-test"]) == 0
    assert cli.main(["--stack-name", "s", "smoke-test", "--group", "g1", "--wait-for-approval", "600", "--json"]) == 0

    assert seen == [
        cli.SmokeRequest(group=DEFAULT_GROUP, wait_for_approval=None, operator=None),
        cli.SmokeRequest(group="g1", wait_for_approval=600, operator=None),
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--local", "smoke-test", "--wait-for-approval", "0"], "not a number of seconds"),
        (["--local", "smoke-test", "--group", "bad group"], "not a model package group name"),
    ],
)
def test_bad_smoke_test_arguments_exit_2_with_one_line(argv: list[str], message: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(argv, stdout=out, stderr=err) == 2
    assert message in err.getvalue() and err.getvalue().count("\n") == 1 and out.getvalue() == ""


def _target(**parameters: Any) -> cli.Target:
    values = {
        "ModelArtifactsBucketName": BUCKET,
        "OperationsEmail": OPERATIONS,
        "QualityGates": LOCAL_GATES,
        "ParameterPrefix": "/mp",
        **parameters,
    }
    return cli.Target(
        "stack mp",
        "arn:aws:states:eu-west-1:1:stateMachine:x",
        "a",
        "d",
        "s@example.com",
        "https://x",
        stages=("dev", "prod"),
        groups=cli._groups(values.get("ModelPackageGroupNames", "")),
        parameters=values,
        region="eu-west-1",
    )


def test_the_settings_come_from_the_stacks_parameters_and_region() -> None:
    settings = cli.smoke_settings(cli.SmokeRequest(), _target(), "ops")

    assert (settings.bucket, settings.operations_email, settings.parameter_prefix) == (BUCKET, OPERATIONS, "/mp")
    assert settings.gates == GateConfig.parse(LOCAL_GATES) and settings.stages == ("dev", "prod")
    assert settings.image_uri.startswith("141502667606.dkr.ecr.eu-west-1.amazonaws.com/")
    assert settings.wait_for_approval is None and settings.operator == "ops"


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"ModelArtifactsBucketName": ""}, "has no parameter ModelArtifactsBucketName"),
        ({"QualityGates": '{"registered": {"accuracy": {"min": 2, "max": 1}}}'}, "QualityGates"),
    ],
)
def test_a_stack_without_what_the_smoke_test_needs_is_a_usage_error(parameters: dict[str, str], message: str) -> None:
    with pytest.raises(cli.UsageError, match=message):
        cli.smoke_settings(cli.SmokeRequest(), _target(**parameters), "ops")


def test_the_stacks_region_is_read_from_its_stack_id() -> None:
    assert cli._stack_region("arn:aws:cloudformation:eu-west-2:123456789012:stack/mp/abc-123") == "eu-west-2"
    assert cli._stack_region("not an arn") == ""


def _passed(clock: FakeClock) -> dict[str, Any]:
    return smoke(World(clock))[0]


def test_people_see_each_step_as_it_ends_and_a_summary_of_what_was_left_behind(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    result = _passed(clock)

    def fake_smoke(
        request: Any, target: Any, on_step: Any = None, notice: Any = None, plan: Any = None
    ) -> dict[str, Any]:
        for step in result["steps"]:
            on_step(step)
        return result

    monkeypatch.setattr(cli, "resolve_target", lambda invocation: _target())
    monkeypatch.setattr(cli, "smoke_test", fake_smoke)
    out, err = io.StringIO(), io.StringIO()

    assert cli.main(["--stack-name", "mp", "smoke-test", "--operator", "ops"], stdout=out, stderr=err) == 0

    lines = out.getvalue().splitlines()
    assert lines[0] == "Smoke test of stack mp" and lines[1].split() == ["STEP", "RESULT", "TIME", "WHAT"]
    assert [line.split()[0] for line in lines[2:10]] == [s["step"] for s in result["steps"]]
    assert all(line.split()[1] == "ok" for line in lines[2:10])
    assert lines[-2].startswith("Smoke test passed in ")
    assert f": {DEFAULT_GROUP} version 1 was registered, started, mailed to {DEV_APPROVER} for dev" in lines[-2]
    assert lines[-1] == (
        f"Left behind: {DEFAULT_GROUP} version 1 (dev = Cancelled) and "
        f"s3://{BUCKET}/model-promotion-smoke/20261121T120000Z/ (model.tar.gz, evaluation.json)."
    )
    assert err.getvalue() == ""


def test_a_failure_exits_non_zero_with_one_line_naming_the_step_and_json_keeps_its_shape(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    result, _, _ = smoke(World(clock, start_after=None), start_timeout=3.0)
    monkeypatch.setattr(cli, "resolve_target", lambda invocation: _target())
    monkeypatch.setattr(cli, "smoke_test", lambda request, target, **kwargs: result)
    out, err = io.StringIO(), io.StringIO()

    assert cli.main(["--stack-name", "mp", "--json", "smoke-test", "--operator", "ops"], stdout=out, stderr=err) == 1

    printed = json.loads(out.getvalue())
    assert set(printed) == {
        "ok",
        "mode",
        "group",
        "stage",
        "version",
        "packageArn",
        "executionName",
        "executionArn",
        "modelDataUrl",
        "statisticsUri",
        "imageUri",
        "mailedTo",
        "decision",
        "steps",
        "failure",
        "exitCode",
        "totalSeconds",
    }
    assert printed["ok"] is False and printed["failure"]["step"] == "start"
    assert err.getvalue() == (
        f"error: smoke test failed at start: no execution {DEFAULT_GROUP}-v1 started within 3 s: is the "
        "EventBridge rule enabled, and does StartPromotion's log say why?\n"
    )
    assert "Smoke test FAILED at start" in cli.render("smoke-test", result, False)
