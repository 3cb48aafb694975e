"""The smoke test of a freshly deployed stack: register a tiny model and walk its first stage, end to end.

Every check reads what an operator would read (the registry, the execution, the approvals table, the audit
log, SSM), so a pass means the real wiring held: the artifacts bucket took the objects, SageMaker's
registration event reached StartPromotion through EventBridge, the registered quality gate read the
statistics from S3, RequestApproval stored the request and SES accepted its mail, and the operators' cancel
(or a person's decision on the review page) was recorded everywhere it belongs.

The service only talks to ports, so the unit tests run it against fakes and a fake clock. The three ports
below exist for this command alone (nothing in the workflow uploads artifacts or registers versions); the
workflow's own ports come from model_promotion/ports.py. No result carries a task token: the approvals
table is read through `pending()`, which never returns one, and the execution history is read as event
types and state names only.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..domain.approvals import iso, request_key, utc_now
from ..domain.errors import DomainError, TransientAwsError
from ..domain.gates import LOWER_IS_BETTER, GateConfig, Rule
from ..domain.model_version import APPROVED, PENDING_MANUAL_APPROVAL, REGISTRANT_EMAIL_KEY, REJECTED
from ..domain.records import approved_model_parameter_name
from ..domain.registration import execution_name
from ..domain.stages import Outcome, StageStatus, approval_description, approval_status_after, stage_metadata_after
from ..ports import ApprovalStore, ApprovedModels, DecisionLog, ExecutionControl, ModelRegistry
from .operations import CANCEL_ERROR, OperationError, cancel_promotion

DEFAULT_GROUP = "model-promotion-smoke"
KEY_PREFIX = "model-promotion-smoke"
SMOKE_TEST_KEY = "smoke-test"
CANCEL_REASON = "smoke test"
# The state that mails a stage's approvers and waits for their decision (statemachines/promotion.asl.json),
# and the states that score the next stage's batch with the version after an approval.
AWAIT_APPROVAL_STATE = "Await stage approval"
SCORING_STATES = frozenset({"Plan batch scoring", "Score the batch", "Run transform job", "Collect batch metrics"})
SYNTHETIC_NOTE = (
    "Synthetic smoke-test figures written by `model-promotion smoke-test`: each value meets the stack's "
    "registered quality gate exactly. No model was trained or evaluated; the artifact is never served."
)
README = (
    "This is a smoke-test artifact of the model promotion workflow, uploaded by `model-promotion smoke-test`.\n"
    "It holds no model and is never served: the smoke test registers it only to walk one approval stage.\n"
)
# Model Monitor's model-quality names for the gate's metric names (the inverse of domain/model_quality.py).
_BINARY = "binary_classification_metrics"
_REGRESSION = "regression_metrics"
_STATISTICS_NAMES = {
    "accuracy": (_BINARY, "accuracy"),
    "precision": (_BINARY, "precision"),
    "recall": (_BINARY, "recall"),
    "f1": (_BINARY, "f1"),
    "roc_auc": (_BINARY, "auc"),
    "rmse": (_REGRESSION, "rmse"),
    "mae": (_REGRESSION, "mae"),
    "r2": (_REGRESSION, "r2"),
}

# Account ids of SageMaker's scikit-learn images per region, from the SageMaker Python SDK's
# src/sagemaker/image_uri_config/sklearn.json ("inference", version 1.2-1; identical for every version there).
SKLEARN_IMAGE_TAG = "1.2-1-cpu-py3"
SKLEARN_IMAGE_ACCOUNTS = {
    "af-south-1": "510948584623",
    "ap-east-1": "651117190479",
    "ap-northeast-1": "354813040037",
    "ap-northeast-2": "366743142698",
    "ap-northeast-3": "867004704886",
    "ap-south-1": "720646828776",
    "ap-south-2": "628508329040",
    "ap-southeast-1": "121021644041",
    "ap-southeast-2": "783357654285",
    "ap-southeast-3": "951798379941",
    "ap-southeast-4": "106583098589",
    "ca-central-1": "341280168497",
    "cn-north-1": "450853457545",
    "cn-northwest-1": "451049120500",
    "eu-central-1": "492215442770",
    "eu-central-2": "680994064768",
    "eu-north-1": "662702820516",
    "eu-south-1": "978288397137",
    "eu-south-2": "104374241257",
    "eu-west-1": "141502667606",
    "eu-west-2": "764974769150",
    "eu-west-3": "659782779980",
    "me-central-1": "272398656194",
    "me-south-1": "801668240914",
    "sa-east-1": "737474898029",
    "us-east-1": "683313688378",
    "us-east-2": "257758044811",
    "us-gov-east-1": "237065988967",
    "us-gov-west-1": "414596584902",
    "us-west-1": "746614075791",
    "us-west-2": "246618743249",
}

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_REFUSED = 2


# Ports this command alone needs


class ArtifactUploads(ABC):
    """Where the smoke test puts its two objects: the stack's model artifacts bucket."""

    @abstractmethod
    def put(self, uri: str, body: bytes, content_type: str) -> None:
        """Writes the object (s3://bucket/key)."""


class ModelRegistration(ABC):
    """What a training pipeline's RegisterModel step does: a group, and a version in it."""

    @abstractmethod
    def ensure_group(self, group: str, description: str) -> bool:
        """Creates the model package group unless it exists; True when it was created."""

    @abstractmethod
    def register(
        self,
        *,
        group: str,
        description: str,
        image_uri: str,
        model_data_url: str,
        statistics_uri: str,
        metadata: Mapping[str, str],
        task: str,
    ) -> str:
        """Registers a PendingManualApproval version (CreateModelPackage) and returns its ARN."""


@dataclass(frozen=True)
class HistoryEvent:
    """One execution history event, reduced to what the smoke test reads: never its input or parameters,
    which hold the task token."""

    type: str
    state: str | None = None


class ExecutionHistory(ABC):
    @abstractmethod
    def events(self, execution_arn: str) -> list[HistoryEvent]:
        """The execution's history, oldest first."""


# Settings, ports and clock


class SmokeConfigError(OperationError):
    """The smoke test cannot run against this stack as configured; nothing was written."""

    exit_code = EXIT_REFUSED


@dataclass(frozen=True)
class SmokeSettings:
    group: str
    stages: tuple[str, ...]
    bucket: str
    gates: GateConfig
    operations_email: str
    parameter_prefix: str
    image_uri: str
    operator: str
    # The stack's ModelPackageGroupNames: empty means it promotes every group.
    promoted_groups: tuple[str, ...] = ()
    # None cancels at once; otherwise how long a person has to decide on the review page.
    wait_for_approval: float | None = None
    start_timeout: float = 60.0
    request_timeout: float = 60.0
    check_timeout: float = 30.0
    poll_interval: float = 1.0


@dataclass(frozen=True)
class SmokePorts:
    artifacts: ArtifactUploads
    registration: ModelRegistration
    registry: ModelRegistry
    executions: ExecutionControl
    history: ExecutionHistory
    store: ApprovalStore
    log: DecisionLog
    approved_models: ApprovedModels


@dataclass(frozen=True)
class Clock:
    now: Callable[[], datetime] = utc_now
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


# Pure parts: the image, the artifact, the statistics, the description


def sklearn_image_uri(region: str) -> str:
    """The region's SageMaker scikit-learn serving image. Raises KeyError for a region the table lacks."""
    account = SKLEARN_IMAGE_ACCOUNTS[region]
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{suffix}/sagemaker-scikit-learn:{SKLEARN_IMAGE_TAG}"


def smoke_artifact(at: datetime) -> bytes:
    """A valid model.tar.gz holding only a README that says what it is. Same time, same bytes."""
    data = README.encode("utf-8")
    info = tarfile.TarInfo("README.txt")
    info.size, info.mtime, info.mode = len(data), int(at.timestamp()), 0o644
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        archive.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=int(at.timestamp()))


def smoke_metrics(gates: GateConfig) -> dict[str, float]:
    """A value for every metric the registered gate names, meeting each rule exactly: the bound itself.

    A metric with both a min and a max gets a value within both (the gate refuses min > max): the max
    for a lower-is-better metric, else the min.
    """
    bounds: dict[str, dict[Rule, float]] = {}
    for rule in gates.registered:
        bounds.setdefault(rule.metric, {})[rule.rule] = rule.bound
    metrics = {}
    for metric, rules in bounds.items():
        lower_first = metric in LOWER_IS_BETTER
        preferred = (Rule.MAX, Rule.MIN) if lower_first else (Rule.MIN, Rule.MAX)
        metrics[metric] = next(rules[r] for r in preferred if r in rules)
    return metrics


def smoke_statistics(gates: GateConfig, at: datetime) -> dict[str, Any]:
    """A model-quality statistics document (SageMaker Model Monitor's shape) that passes the registered gate,
    saying plainly that its figures are synthetic."""
    document: dict[str, Any] = {
        "version": 0.0,
        "smoke_test": {"synthetic": True, "note": SYNTHETIC_NOTE},
        "dataset": {"item_count": 0, "evaluation_time": iso(at)},
    }
    for metric, value in smoke_metrics(gates).items():
        section, name = _STATISTICS_NAMES[metric]
        document.setdefault(section, {})[name] = {"value": value, "standard_deviation": 0.0}
    return document


def smoke_task(gates: GateConfig) -> str:
    """CLASSIFICATION, unless the registered gate names regression metrics only."""
    metrics = {rule.metric for rule in gates.registered}
    regression = {m for m in metrics if _STATISTICS_NAMES[m][0] == _REGRESSION}
    return "REGRESSION" if metrics and metrics == regression else "CLASSIFICATION"


def smoke_description(at: datetime) -> str:
    """ModelPackageDescription: one line (its pattern allows no line breaks), within 1024 characters."""
    return (
        f"Smoke test of the model promotion stack, registered by model-promotion smoke-test at {iso(at)}. "
        "The artifact holds only a README and is never served; its registered metrics are synthetic "
        "smoke-test figures that meet the quality gate exactly."
    )


# The run


@dataclass
class _Run:
    """What the run has found so far; becomes the command's result."""

    settings: SmokeSettings
    started: float
    steps: list[dict[str, Any]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


class StepFailed(Exception):
    """A step's check did not hold (exit 1), or AWS refused one of its calls (exit 2)."""

    def __init__(self, message: str, exit_code: int = EXIT_CHECK_FAILED):
        super().__init__(message)
        self.exit_code = exit_code


StepReport = Callable[[Mapping[str, Any]], None]
Notice = Callable[[str], None]


def run_smoke_test(
    settings: SmokeSettings,
    ports: SmokePorts,
    *,
    clock: Clock | None = None,
    on_step: StepReport | None = None,
    notice: Notice | None = None,
) -> dict[str, Any]:
    """Registers the smoke version and walks its first stage; every step is timed and reported as it ends.

    Stops at the first step that fails. The result says `ok` only when every check held; otherwise
    `failure` names the step and what to look at, and `exitCode` is 1 (a check did not hold) or 2 (AWS
    refused a call or could not be reached).
    """
    clock = clock or Clock()
    check_settings(settings)
    run = _Run(settings, clock.monotonic())
    walk = _walk_approval if settings.wait_for_approval is not None else _walk_cancel
    failure: dict[str, Any] | None = None
    exit_code = EXIT_OK
    steps = _Steps(run, clock, on_step or (lambda _: None))
    try:
        _register(steps, ports, clock)
        _await_request(steps, ports, clock)
        walk(steps, ports, clock, notice or (lambda _: None))
    except _Stop as stop:
        failure, exit_code = {"step": stop.step, "message": stop.message}, stop.exit_code
    except KeyboardInterrupt:
        # Ctrl-C during a wait: say what is left, so the operator can finish by hand.
        left = (
            f"{settings.group} version {run.facts['version']} stays as it is; cancel it with "
            f'`cancel {settings.group} {run.facts["version"]} --reason "smoke test"` if it still waits'
            if run.facts.get("version")
            else "nothing was registered"
        )
        failure, exit_code = {"step": "interrupted", "message": f"interrupted: {left}"}, EXIT_REFUSED
    stage = settings.stages[0]
    return {
        "ok": failure is None,
        "mode": "cancel" if settings.wait_for_approval is None else "wait-for-approval",
        "group": settings.group,
        "stage": stage,
        "version": run.facts.get("version"),
        "packageArn": run.facts.get("packageArn"),
        "executionName": run.facts.get("executionName"),
        "executionArn": run.facts.get("executionArn"),
        "modelDataUrl": run.facts.get("modelDataUrl"),
        "statisticsUri": run.facts.get("statisticsUri"),
        "imageUri": settings.image_uri,
        "mailedTo": run.facts.get("mailedTo", []),
        "decision": run.facts.get("decision"),
        "steps": run.steps,
        "failure": failure,
        "exitCode": exit_code,
        "totalSeconds": round(clock.monotonic() - run.started, 2),
    }


def check_settings(settings: SmokeSettings) -> None:
    """Refuses (SmokeConfigError) what would make the run fail for sure, before anything is written."""
    if settings.promoted_groups and settings.group not in settings.promoted_groups:
        raise SmokeConfigError(
            f"the stack promotes only the groups {', '.join(settings.promoted_groups)} (ModelPackageGroupNames), "
            f"so a version of {settings.group} would never start a promotion: add {settings.group} to the "
            "parameter, or give --group one of them (its history then holds the smoke version)"
        )
    if not settings.stages:
        raise SmokeConfigError("the stack names no stages")
    if not settings.operator.strip():
        raise SmokeConfigError("the smoke test needs an operator: give --operator WHO")


class _Stop(Exception):
    def __init__(self, step: str, message: str, exit_code: int):
        super().__init__(message)
        self.step, self.message, self.exit_code = step, message, exit_code


class _Steps:
    """Runs each step, times it, reports it, and turns its failure into the one line the CLI prints."""

    def __init__(self, run: _Run, clock: Clock, report: StepReport):
        self.run, self.clock, self.report = run, clock, report

    @property
    def settings(self) -> SmokeSettings:
        return self.run.settings

    @property
    def facts(self) -> dict[str, Any]:
        return self.run.facts

    def do(self, step: str, action: Callable[[], str]) -> None:
        began = self.clock.monotonic()
        try:
            detail, ok, exit_code = action(), True, EXIT_OK
        except StepFailed as exc:
            detail, ok, exit_code = str(exc), False, exc.exit_code
        except OperationError as exc:
            detail, ok, exit_code = str(exc), False, exc.exit_code
        except (DomainError, TransientAwsError) as exc:  # an adapter's refusal, already in words
            detail, ok, exit_code = str(exc), False, EXIT_REFUSED
        except Exception as exc:  # botocore's own errors: refused, unreachable, no credentials
            detail, ok, exit_code = _aws_failure(exc), False, EXIT_REFUSED
        entry = {"step": step, "ok": ok, "seconds": round(self.clock.monotonic() - began, 2), "detail": detail}
        self.run.steps.append(entry)
        self.report(entry)
        if not ok:
            raise _Stop(step, detail, exit_code)

    def wait(self, what: Callable[[], Any], timeout: float) -> Any:
        """Polls `what` until it answers something truthy; None after `timeout` seconds."""
        deadline = self.clock.monotonic() + timeout
        while True:
            found = what()
            if found:
                return found
            if self.clock.monotonic() >= deadline:
                return None
            self.clock.sleep(self.settings.poll_interval)


def _aws_failure(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        error = response.get("Error") or {}
        operation = getattr(exc, "operation_name", "the call")
        return f"AWS refused {operation}: {error.get('Code', '')} {error.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"


# Steps 1 and 2: the objects and the version


def _register(steps: _Steps, ports: SmokePorts, clock: Clock) -> None:
    settings, facts = steps.settings, steps.facts
    at = clock.now()
    prefix = f"s3://{settings.bucket}/{KEY_PREFIX}/{at.strftime('%Y%m%dT%H%M%SZ')}"

    def upload() -> str:
        model_url, statistics_uri = f"{prefix}/model.tar.gz", f"{prefix}/evaluation.json"
        ports.artifacts.put(model_url, smoke_artifact(at), "application/gzip")
        statistics = json.dumps(smoke_statistics(settings.gates, at), indent=2, sort_keys=True)
        ports.artifacts.put(statistics_uri, statistics.encode("utf-8"), "application/json")
        facts.update(modelDataUrl=model_url, statisticsUri=statistics_uri)
        metrics = smoke_metrics(settings.gates)
        figures = ", ".join(f"{k} {v:g}" for k, v in metrics.items()) or "none (the stack has no registered gate)"
        return f"uploaded {prefix}/: model.tar.gz (a README only) and evaluation.json (synthetic: {figures})"

    def register() -> str:
        created = ports.registration.ensure_group(
            settings.group,
            "Smoke tests of the model promotion stack (model-promotion smoke-test); its versions are never served.",
        )
        arn = ports.registration.register(
            group=settings.group,
            description=smoke_description(at),
            image_uri=settings.image_uri,
            model_data_url=facts["modelDataUrl"],
            statistics_uri=facts["statisticsUri"],
            metadata={REGISTRANT_EMAIL_KEY: settings.operations_email, SMOKE_TEST_KEY: "true"},
            task=smoke_task(settings.gates),
        )
        description = ports.registry.describe(arn)
        version = int(description.get("ModelPackageVersion") or 0)
        status = description.get("ModelApprovalStatus")
        if version < 1 or status != PENDING_MANUAL_APPROVAL:
            raise StepFailed(
                f"SageMaker answered version {version or '?'} with status {status}: expected a new "
                f"{PENDING_MANUAL_APPROVAL} version of {settings.group}"
            )
        facts.update(packageArn=arn, version=version, executionName=execution_name(settings.group, version))
        group_note = "created the group" if created else "existing group"
        return f"registered {settings.group} version {version} as {PENDING_MANUAL_APPROVAL} ({group_note}), {arn}"

    steps.do("upload", upload)
    steps.do("register", register)


# Step 3: the execution starts, and the first stage's request is stored and mailed


def _await_request(steps: _Steps, ports: SmokePorts, clock: Clock) -> None:
    settings, facts = steps.settings, steps.facts
    stage, name = settings.stages[0], facts["executionName"]

    def started() -> str:
        execution = steps.wait(lambda: ports.executions.describe_execution(name), settings.start_timeout)
        if execution is None:
            raise StepFailed(
                f"no execution {name} started within {settings.start_timeout:.0f} s: is the EventBridge rule "
                "enabled, and does StartPromotion's log say why?"
            )
        facts["executionArn"] = execution.get("executionArn")
        return f"execution {name} started (EventBridge → StartPromotion), {facts['executionArn']}"

    def requested() -> str:
        def found() -> dict[str, Any] | None:
            # The request by its key, not among the pending ones: an approver may have decided it already.
            if _request_mailed(ports.history.events(facts["executionArn"])):
                request = ports.store.get_request(request_key(name, stage))
                if request is not None:
                    return {"recipients": list(request.recipients), "expiresAt": iso(request.expires_at)}
            execution = ports.executions.describe_execution(name) or {}
            if execution.get("status") not in (None, "RUNNING"):
                raise StepFailed(_ended_early(execution, stage, facts))
            return None

        row = steps.wait(found, settings.request_timeout)
        if row is None:
            raise StepFailed(
                f"no {stage} approval request was stored and mailed within {settings.request_timeout:.0f} s: "
                f"does RequestApproval's log say why (in the SES sandbox every {stage} approver must be verified)?"
            )
        facts["mailedTo"] = list(row["recipients"])
        return (
            f"{stage} request stored and mailed to {', '.join(row['recipients'])} (RequestApproval → SES), "
            f"expires {row['expiresAt']}"
        )

    steps.do("start", started)
    steps.do("request", requested)


def _request_mailed(events: Sequence[HistoryEvent]) -> bool:
    """RequestApproval returned for the first stage: the request is stored and SES accepted every email.

    Step Functions records TaskSubmitted when the Lambda invocation of a .waitForTaskToken task returns
    without an error; RequestApproval returns only after its last email was accepted.
    """
    entered = False
    for event in events:
        if event.type == "TaskStateEntered" and event.state == AWAIT_APPROVAL_STATE:
            entered = True
        elif entered and event.type == "TaskSubmitted":
            return True
    return False


def _ended_early(execution: Mapping[str, Any], stage: str, facts: Mapping[str, Any]) -> str:
    error, cause = execution.get("error") or "", _short(execution.get("cause"))
    what = f"execution {facts['executionName']} ended {execution.get('status')} ({error or 'no error'}"
    what += f": {cause})" if cause else ")"
    if error == "QualityGateFailed":
        hint = (
            f"the registered quality gate refused {facts['statisticsUri']}: compare it with the QualityGates parameter"
        )
    else:
        hint = "see RequestApproval's and RecordOutcome's logs (in the SES sandbox every approver must be verified)"
    return f"{what} before the {stage} request was mailed: {hint}"


# Step 4, by default: cancel, and check that it was recorded everywhere


def _walk_cancel(steps: _Steps, ports: SmokePorts, clock: Clock, notice: Notice) -> None:
    settings, facts = steps.settings, steps.facts
    del notice  # nothing to tell a person: the cancel follows at once
    stage = settings.stages[0]

    def cancel() -> str:
        result = cancel_promotion(
            store=ports.store,
            executions=ports.executions,
            registry=ports.registry,
            log=ports.log,
            group=settings.group,
            version=facts["version"],
            reason=CANCEL_REASON,
            operator=settings.operator,
            stage=stage,
            now=clock.now(),
        )
        return f"cancelled the {stage} request as {result['cancelledBy']} (reason: {result['reason']})"

    steps.do("cancel", cancel)
    steps.do("registry", lambda: _registry_shows(steps, ports, stage, StageStatus.CANCELLED.value))
    steps.do("audit", lambda: _audit_shows(steps, ports, stage, {Outcome.CANCELLED.value}))
    steps.do("aborted", lambda: _execution_ends(steps, ports, {"ABORTED"}))


# Step 4 with --wait-for-approval: a person decides; the decision is checked where it is recorded


def _walk_approval(steps: _Steps, ports: SmokePorts, clock: Clock, notice: Notice) -> None:
    settings, facts = steps.settings, steps.facts
    stage, wait = settings.stages[0], float(settings.wait_for_approval or 0)
    notice(
        f"Mailed the {stage} approvers {', '.join(facts['mailedTo'])}: one of them decides on the review page "
        f"(the link in the mail). Waiting up to {wait:.0f} s."
    )
    decided = {Outcome.APPROVED.value, Outcome.REJECTED.value}

    def decision() -> str:
        entry = steps.wait(lambda: _audit_entry(ports, steps, stage, {o.value for o in Outcome}), wait)
        if entry is None:
            cancelled = _cancel_after_timeout(ports, steps, clock, stage, wait)
            raise StepFailed(
                f"nobody decided the {stage} request within {wait:.0f} s (mailed {', '.join(facts['mailedTo'])}); "
                f"{cancelled}"
            )
        who = entry.get("actorName") or entry.get("actor") or "?"
        facts["decision"] = {
            "outcome": entry.get("outcome"),
            "by": entry.get("actor"),
            "byName": entry.get("actorName"),
            "at": entry.get("at"),
            "comment": entry.get("comment"),
            "decisionId": entry.get("decisionId"),
        }
        if entry.get("outcome") not in decided:
            raise StepFailed(
                f"the {stage} request ended {entry.get('outcome')} without a decision ({entry.get('reason')}): "
                "see the audit log and RecordOutcome's log"
            )
        comment = f": {entry['comment']}" if entry.get("comment") else ""
        return f"{who} {entry['outcome']} {stage} at {entry.get('at')}{comment} (audit log)"

    steps.do("decision", decision)
    outcome = facts["decision"]["outcome"]
    later = settings.stages[1:]
    if outcome == Outcome.APPROVED.value and later:
        # The next stage would batch-score the smoke artifact, which serves nothing: stop before it does.
        steps.do("stop", lambda: _stop_before(ports, steps, later[0]))
    expected = StageStatus.APPROVED.value if outcome == Outcome.APPROVED.value else StageStatus.REJECTED.value
    steps.do("registry", lambda: _registry_shows(steps, ports, stage, expected))
    if outcome == Outcome.APPROVED.value:
        steps.do("ssm", lambda: _ssm_points_at(steps, ports, stage))
        if later and facts.get("stopped"):
            steps.do("recorded", lambda: _record_stop(steps, ports, clock, later[0]))
        elif later:
            terminal = {"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"}
            steps.do("ended", lambda: _execution_ends(steps, ports, terminal))
        else:
            steps.do("succeeded", lambda: _execution_ends(steps, ports, {"SUCCEEDED"}))
    else:
        steps.do("ended", lambda: _execution_ends(steps, ports, {"FAILED"}))


def _cancel_after_timeout(ports: SmokePorts, steps: _Steps, clock: Clock, stage: str, wait: float) -> str:
    try:
        cancel_promotion(
            store=ports.store,
            executions=ports.executions,
            registry=ports.registry,
            log=ports.log,
            group=steps.settings.group,
            version=steps.facts["version"],
            reason=f"{CANCEL_REASON}: nobody decided within {wait:.0f} s",
            operator=steps.settings.operator,
            stage=stage,
            now=clock.now(),
        )
    except Exception as exc:
        return f"cancelling the smoke promotion failed too ({exc}): cancel it with the cancel command"
    return "the smoke promotion was cancelled"


def _stop_before(ports: SmokePorts, steps: _Steps, next_stage: str) -> str:
    """Stops the execution as soon as the decision is in the audit log, while RecordOutcome still writes the
    registry and SSM (a running Lambda invocation finishes whatever happens to its execution).

    It is a race with the workflow, which goes on to score the next stage's batch: on a fresh stack, cold
    starts of PlanScoring and StartTransform usually lose it. When they win, a transform job of the smoke
    artifact may start and fail; its completion then finds nobody waiting, which TransformCompleted ignores.
    The step says which happened.
    """
    facts = steps.facts
    execution = ports.executions.describe_execution(facts["executionName"]) or {}
    facts["stopped"] = execution.get("status") == "RUNNING"
    if not facts["stopped"]:
        return f"the execution had ended {execution.get('status')} already; nothing to stop"
    ports.executions.stop(
        facts["executionArn"],
        CANCEL_ERROR,
        f"{CANCEL_REASON}: stopped after {steps.settings.stages[0]} was decided, before {next_stage} is scored",
    )
    entered = [e.state for e in ports.history.events(facts["executionArn"]) if e.type.endswith("StateEntered")]
    at = entered[-1] if entered else "?"
    if any(state in SCORING_STATES for state in entered):
        return (
            f"stopped the execution at '{at}': the batch scoring of {next_stage} had begun, so a transform job "
            "of the smoke artifact may run and fail (nothing waits for it any more)"
        )
    return f"stopped the execution at '{at}', before {next_stage} is scored: the smoke artifact is never served"


def _record_stop(steps: _Steps, ports: SmokePorts, clock: Clock, next_stage: str) -> str:
    """The stop is an operator's cancellation at the next stage: audited, and marked in the registry so that
    no reconcile starts the version again, as the cancel command records one."""
    settings, facts = steps.settings, steps.facts
    at = iso(clock.now())
    reason = f"{CANCEL_REASON}: stopped after {settings.stages[0]} was decided"
    ports.log.append(
        {
            "modelPackageGroupName": settings.group,
            "entryKey": f"{at}#v{facts['version']:08d}#{next_stage}#{Outcome.CANCELLED.value}",
            "modelVersion": facts["version"],
            "modelPackageArn": facts["packageArn"],
            "stage": next_stage,
            "outcome": Outcome.CANCELLED.value,
            "at": at,
            "meaning": f"promotion cancelled at {next_stage}",
            "actor": settings.operator,
            "reason": reason,
            "identitySource": "operator",
            "executionArn": facts["executionArn"],
        }
    )
    description = ports.registry.describe(facts["packageArn"])
    ports.registry.record_stage(
        facts["packageArn"],
        stage_metadata_after(
            Outcome.CANCELLED, next_stage, settings.stages, description.get("CustomerMetadataProperties") or {}
        ),
        approval_status_after(Outcome.CANCELLED, description.get("ModelApprovalStatus")),
        approval_description(Outcome.CANCELLED, next_stage, settings.operator, at, reason),
    )
    execution = _execution_ends(steps, ports, {"ABORTED"})
    return f"{next_stage} = Cancelled by {settings.operator} in the registry and the audit log; {execution}"


# Checks


def _registry_shows(steps: _Steps, ports: SmokePorts, stage: str, expected: str) -> str:
    settings, facts = steps.settings, steps.facts

    def shows() -> Mapping[str, Any] | None:
        description = ports.registry.describe(facts["packageArn"])
        metadata = description.get("CustomerMetadataProperties") or {}
        return description if metadata.get(stage) == expected else None

    description = steps.wait(shows, settings.check_timeout)
    if description is None:
        current = (ports.registry.describe(facts["packageArn"]).get("CustomerMetadataProperties") or {}).get(stage)
        raise StepFailed(
            f"the registry shows {stage} = {current or 'nothing'} after {settings.check_timeout:.0f} s, not "
            f"{expected}: see RecordOutcome's log (or the cancel's own error)"
        )
    status = description.get("ModelApprovalStatus")
    if expected == StageStatus.APPROVED.value and status != APPROVED:
        raise StepFailed(f"the registry shows {stage} = Approved but the version is {status}, not {APPROVED}")
    if expected == StageStatus.REJECTED.value and status != REJECTED:
        raise StepFailed(f"the registry shows {stage} = Rejected but the version is {status}, not {REJECTED}")
    return f"registry: {stage} = {expected}, version {status}; {description.get('ApprovalDescription')}"


def _audit_entry(ports: SmokePorts, steps: _Steps, stage: str, outcomes: set[str]) -> dict[str, Any] | None:
    return next(
        (
            e
            for e in ports.log.entries(steps.settings.group)
            if e.get("modelVersion") == steps.facts["version"]
            and e.get("stage") == stage
            and e.get("outcome") in outcomes
        ),
        None,
    )


def _audit_shows(steps: _Steps, ports: SmokePorts, stage: str, outcomes: set[str]) -> str:
    entry = steps.wait(lambda: _audit_entry(ports, steps, stage, outcomes), steps.settings.check_timeout)
    if entry is None:
        raise StepFailed(
            f"the audit log has no {'/'.join(sorted(outcomes))} entry for {stage}: see the decision log table"
        )
    return f"audit log: {entry.get('meaning') or entry.get('outcome')} by {entry.get('actor')} at {entry.get('at')}"


def _execution_ends(steps: _Steps, ports: SmokePorts, statuses: set[str]) -> str:
    name = steps.facts["executionName"]

    def ended() -> Mapping[str, Any] | None:
        execution = ports.executions.describe_execution(name) or {}
        return execution if execution.get("status") not in (None, "RUNNING") else None

    execution = steps.wait(ended, steps.settings.check_timeout)
    if execution is None:
        raise StepFailed(f"execution {name} still runs after {steps.settings.check_timeout:.0f} s: see its history")
    status, error = execution.get("status"), execution.get("error")
    if status not in statuses:
        raise StepFailed(
            f"execution {name} ended {status} ({error or 'no error'}: {_short(execution.get('cause'))}), "
            f"not {'/'.join(sorted(statuses))}: see its history"
        )
    return f"execution {status}" + (f" ({error})" if error else "")


def _ssm_points_at(steps: _Steps, ports: SmokePorts, stage: str) -> str:
    settings, facts = steps.settings, steps.facts
    name = approved_model_parameter_name(settings.parameter_prefix, settings.group, stage)
    decision_id = (facts.get("decision") or {}).get("decisionId")

    def points() -> dict[str, Any] | None:
        record = ports.approved_models.get(name)
        if record and record.get("modelVersion") == facts["version"] and record.get("decisionId") == decision_id:
            return record
        return None

    record = steps.wait(points, settings.check_timeout)
    if record is None:
        raise StepFailed(
            f"SSM {name} does not point at version {facts['version']} (decision {decision_id}) after "
            f"{settings.check_timeout:.0f} s: see RecordOutcome's log"
        )
    who, at = record.get("approvedBy"), record.get("approvedAt")
    return f"SSM {name}: version {record['modelVersion']}, approved by {who} at {at}"


def _short(text: Any, limit: int = 200) -> str:
    if not isinstance(text, str):
        return ""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
