"""Fuzzing the transform-completion path: whatever SageMaker (or anything else) sends, the waiting execution is
resumed at most once, no stored task token is ever lost, and an ignored event says why in plain words."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import pytest
from fakes import FakeWorkflow
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from property_helpers import (
    examples,
    huge_strings,
    is_one_readable_line,
    json_values,
    lambda_context,
    load_event,
    mutated,
    odd_integers,
    odd_strings,
    secrets,
)
from transform_fakes import FakeCallbacks

from model_promotion.domain.errors import DomainError, TransientAwsError
from model_promotion.handlers import transform_completed
from model_promotion.ports import TaskClosed
from model_promotion.services.batch_transform import transform_finished

FIXTURES = [load_event(f"transform_job_{name}.json") for name in ("completed", "failed", "stopped")]
JOB = FIXTURES[0]["detail"]["TransformJobName"]
OTHER_JOB = "mp-g-v3-dev-champ-1a2b3c4d"
TOKENS = {JOB: "AQCEAAAAKgAAAAMAAAAAAAAAA-token-of-the-challenger-wait", OTHER_JOB: "AQCE-token-of-another-wait"}
EVENT_JOB_TOKEN = "AQCE-token-of-the-wait-on-the-event's-job"
OUTCOMES = ("ignored", "resumed")
KEY_PATHS = (
    ("detail",),
    ("detail", "TransformJobName"),
    ("detail", "TransformJobStatus"),
    ("detail", "FailureReason"),
    ("detail", "Environment"),
    ("detail", "TransformInput"),
    ("detail", "TransformInput", "DataSource"),
    ("detail", "TransformInput", "DataSource", "S3DataSource"),
    ("detail", "TransformInput", "DataSource", "S3DataSource", "S3Uri"),
    ("detail", "TransformOutput"),
    ("detail", "TransformOutput", "S3OutputPath"),
    ("detail", "TransformStartTime"),
    ("detail", "TransformEndTime"),
)

statuses = st.one_of(
    st.sampled_from(("Completed", "Failed", "Stopped", "InProgress", "Stopping", "completed", "")),
    odd_strings("Completed"),
)
times = st.one_of(
    odd_integers,
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(("2026-11-21T12:10:41Z", "2026-11-21T12:10:41.5+02:00", "21/11/2026", "", "1795263039750")),
    odd_strings("2026-11-21T12:10:41Z"),
)
# Container environments as SageMaker returns them, with the correlation keys this workflow sets and some
# that would collide with the handler's own log keys.
environments = st.one_of(
    st.dictionaries(
        st.one_of(
            st.sampled_from(
                (
                    "MODEL_PROMOTION_STAGE",
                    "MODEL_PROMOTION_EXECUTION_ARN",
                    "MODEL_PROMOTION_STATUS",
                    "MODEL_PROMOTION_TRANSFORM_JOB",
                    "MODEL_PROMOTION_",
                    "SAGEMAKER_PROGRAM",
                )
            ),
            st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True),
        ),
        st.one_of(st.text(max_size=20), secrets),
        max_size=4,
    ),
    json_values,
)


def _odd_value_for(path: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    field = path[-1]
    if field == "TransformJobStatus":
        return statuses
    if field in ("TransformStartTime", "TransformEndTime", "CreationTime"):
        return times
    if field == "Environment":
        return environments
    if field == "TransformJobName":
        return st.one_of(st.just(OTHER_JOB), odd_strings(JOB))
    return odd_strings()


@st.composite
def _well_typed_completions(draw: st.DrawFn) -> dict[str, Any]:
    """A completion event of SageMaker's own shape, for a job of any name, in any status, at any times."""
    event = copy.deepcopy(draw(st.sampled_from(FIXTURES)))
    detail = event["detail"]
    detail["TransformJobName"] = draw(st.one_of(st.just(JOB), st.text(min_size=1, max_size=63), huge_strings()))
    detail["TransformJobStatus"] = draw(st.sampled_from(("Completed", "Failed", "Stopped")))
    detail["Environment"] = draw(environments.filter(lambda e: isinstance(e, dict)))
    for field in ("TransformStartTime", "TransformEndTime"):
        if draw(st.booleans()):
            detail[field] = draw(times)
    return event


@st.composite
def _completions_in_any_status(draw: st.DrawFn) -> dict[str, Any]:
    """A fixture completion whose status is anything at all: what the rule's status filter would let through if
    it were ever widened, or what a test event sent by hand holds."""
    event = copy.deepcopy(draw(st.sampled_from(FIXTURES)))
    event["detail"]["TransformJobStatus"] = draw(st.one_of(statuses, json_values))
    return event


completion_events = st.one_of(
    st.sampled_from(FIXTURES).map(copy.deepcopy),
    _completions_in_any_status(),
    json_values,
    *(mutated(fixture, key_paths=KEY_PATHS, odd_values=_odd_value_for) for fixture in FIXTURES),
    _well_typed_completions(),
)
send_failures = st.sampled_from(
    (
        None,
        TaskClosed("TaskTimedOut"),
        TransientAwsError("SendTaskSuccess failed after retries (ThrottlingException); try again"),
        ConnectionError("Connection reset by peer"),
    )
)


def _callbacks_for(event: Any) -> FakeCallbacks:
    """The approvals table's waits: the fixture job's, another job's, and one on the event's job, if it has one."""
    callbacks = FakeCallbacks()
    callbacks.tokens.update(TOKENS)
    detail = event.get("detail") if isinstance(event, dict) else None
    name = detail.get("TransformJobName") if isinstance(detail, dict) else None
    if isinstance(name, str) and name not in TOKENS:
        callbacks.tokens[name] = f"{EVENT_JOB_TOKEN}#{hashlib.sha256(name.encode()).hexdigest()[:16]}"
    return callbacks


def _sent_tokens(workflow: FakeWorkflow) -> list[str]:
    return [token for token, _ in workflow.succeeded] + [failed.token for failed in workflow.failed]


class _Adapters:
    """The handler's AWS adapters replaced by the fakes, and the environment the template gives it."""

    def __init__(self, callbacks: FakeCallbacks, workflow: FakeWorkflow) -> None:
        self.callbacks = callbacks
        self.workflow = workflow

    def __enter__(self) -> _Adapters:
        self._patch = pytest.MonkeyPatch()
        self._patch.setenv("APPROVALS_TABLE", "model-promotion-approvals")
        self._patch.setattr(transform_completed.metrics, "namespace", "ModelPromotion")
        self._patch.setattr(transform_completed, "DynamoDbTransformCallbacks", lambda table: self.callbacks)
        self._patch.setattr(transform_completed, "StepFunctionsWorkflow", lambda: self.workflow)
        return self

    def __exit__(self, *exc: object) -> None:
        self._patch.undo()
        transform_completed.approvals_table.cache_clear()  # leaves no table name behind for later tests


def _invoke(event: Any, callbacks: FakeCallbacks, workflow: FakeWorkflow) -> dict[str, Any] | DomainError:
    """One invocation of the TransformCompleted function. A domain error is an answer (the state machine's
    wait times out in the end); anything else escapes, fails the test, and is shrunk by hypothesis."""
    with _Adapters(callbacks, workflow):
        try:
            return transform_completed.lambda_handler(event, lambda_context("TransformCompletedFunction"))
        except DomainError as error:
            return error


def _finish(detail: Any, callbacks: FakeCallbacks, workflow: FakeWorkflow) -> dict[str, Any] | Exception:
    """The service on its own; every exception is caught, for properties about state rather than crashes."""
    try:
        return transform_finished(detail, callbacks=callbacks, workflow=workflow)
    except Exception as error:
        return error


def _detail(event: Any) -> Any:
    return event.get("detail") if isinstance(event, dict) and isinstance(event.get("detail"), dict) else {}


def _with_detail(**fields: Any) -> dict[str, Any]:
    event = load_event("transform_job_completed.json")
    event["detail"].update(fields)
    return event


@example(event=_with_detail(Environment={"MODEL_PROMOTION_STATUS": ""}))
@settings(max_examples=examples(200))
@given(event=completion_events)
def test_any_completion_event_is_answered_or_refused_with_a_domain_error(event: Any) -> None:
    """Given any JSON value as the event, and executions waiting on the event's job and on others,
    When the TransformCompleted function handles it,
    Then it answers "resumed" or "ignored", or refuses with a domain error: a crash would have Lambda retry
    the same event twice and then drop it."""
    callbacks, workflow = _callbacks_for(event), FakeWorkflow()

    answer = _invoke(event, callbacks, workflow)

    if isinstance(answer, dict):
        assert answer["outcome"] in OUTCOMES


@example(detail=_with_detail(TransformInput="s3://bucket/batch-input/dev/input.csv")["detail"])
@example(detail=_with_detail(TransformEndTime=10**20)["detail"])
@settings(max_examples=examples(200))
@given(detail=completion_events.map(_detail))
def test_the_service_answers_any_completion_detail_or_refuses_it_with_a_domain_error(detail: Any) -> None:
    """Given any detail object of a completion event, for a job an execution waits on,
    When the service handles it,
    Then it answers "resumed" or "ignored", or refuses with a domain error."""
    callbacks, workflow = _callbacks_for({"detail": detail}), FakeWorkflow()

    try:
        answer = transform_finished(detail, callbacks=callbacks, workflow=workflow)
    except DomainError:
        return

    assert answer["outcome"] in OUTCOMES


@example(environment="MODEL_PROMOTION_STAGE=dev", status="Completed")
@example(environment={"MODEL_PROMOTION_STATUS": "x"}, status="Completed")
@example(environment={}, status="InProgress" * 30)
@settings(max_examples=examples(150))
@given(environment=environments, status=statuses)
def test_the_handler_answers_a_completion_whatever_its_environment_and_status(environment: Any, status: Any) -> None:
    """Given the completed-job fixture with any container environment and any status,
    When the TransformCompleted function handles it,
    Then it answers or refuses with a domain error; what it only logs or counts cannot make it crash."""
    event = _with_detail(Environment=environment, TransformJobStatus=status)
    callbacks, workflow = _callbacks_for(event), FakeWorkflow()

    answer = _invoke(event, callbacks, workflow)

    if isinstance(answer, dict):
        assert answer["outcome"] in OUTCOMES


@settings(max_examples=examples(200))
@given(events=st.lists(completion_events, min_size=1, max_size=4), repeats=st.integers(min_value=1, max_value=3))
def test_a_wait_is_resumed_at_most_once_however_often_and_in_whatever_status_its_job_is_reported(
    events: list[Any], repeats: int
) -> None:
    """Given any completion events, each delivered up to three times (EventBridge delivers at least once, and a
    job can be reported Completed and then Stopped),
    When the service handles every delivery,
    Then each stored task token is sent to Step Functions at most once, and only tokens that were stored."""
    callbacks, workflow = FakeCallbacks(), FakeWorkflow()
    for event in events:
        for job, token in _callbacks_for(event).tokens.items():
            callbacks.tokens.setdefault(job, token)
    stored = dict(callbacks.tokens)

    for event in events:
        for _ in range(repeats):
            _finish(_detail(event), callbacks, workflow)

    sent = _sent_tokens(workflow)
    assert len(sent) == len(set(sent))
    assert set(sent) <= set(stored.values())


@settings(max_examples=examples(200))
@given(event=completion_events, failure=send_failures)
def test_no_stored_token_is_lost_whatever_the_event_and_however_the_resume_fails(
    event: Any, failure: Exception | None
) -> None:
    """Given executions waiting on several jobs, any completion event, and Step Functions answering the resume
    with success, TaskTimedOut, throttling after retries, or a dropped connection,
    When the service handles the event,
    Then every stored token is still stored, or was sent once, or Step Functions said it no longer waits for
    it; a resume that failed for any other reason has given its token back for the redelivery."""
    callbacks, workflow = _callbacks_for(event), FakeWorkflow()
    stored = dict(callbacks.tokens)
    if failure is not None:
        workflow.raise_on_next_send(failure)

    _finish(_detail(event), callbacks, workflow)

    sent = _sent_tokens(workflow)
    taken = [job for job, token in stored.items() if callbacks.tokens.get(job) != token]
    assert len(taken) <= 1
    for job in taken:
        assert stored[job] in sent or isinstance(failure, TaskClosed)
    if failure is not None and not isinstance(failure, TaskClosed):
        assert callbacks.tokens == stored


@settings(max_examples=examples(150))
@given(
    status=st.sampled_from(("Completed", "Failed", "Stopped")),
    failure=send_failures.filter(lambda f: f is not None and not isinstance(f, TaskClosed)),
    fixture=st.sampled_from(FIXTURES),
)
def test_a_resume_that_failed_is_made_by_the_events_redelivery_exactly_once(
    status: str, failure: Exception, fixture: dict[str, Any]
) -> None:
    """Given an execution waiting on a job, and a first resume that Step Functions does not receive,
    When EventBridge redelivers the completion, twice,
    Then the wait is resumed exactly once, with its own token, and nothing is left stored for the job."""
    detail = {**copy.deepcopy(fixture["detail"]), "TransformJobStatus": status}
    callbacks, workflow = FakeCallbacks(), FakeWorkflow()
    callbacks.tokens[JOB] = TOKENS[JOB]
    workflow.raise_on_next_send(failure)

    answers = [_finish(detail, callbacks, workflow) for _ in range(3)]

    assert isinstance(answers[0], type(failure))
    assert _sent_tokens(workflow) == [TOKENS[JOB]]
    assert JOB not in callbacks.tokens
    assert answers[1] == {"outcome": "resumed", "status": status, "jobName": JOB}


@example(event=_with_detail(TransformJobStatus="x" * 300))
@settings(max_examples=examples(200))
@given(event=completion_events)
def test_an_ignored_completion_is_told_in_one_short_readable_line(event: Any) -> None:
    """Given any completion event,
    When the service ignores it, or the handler refuses it,
    Then the reason it logs and returns is one line of words, at most 300 characters."""
    callbacks, workflow = _callbacks_for(event), FakeWorkflow()
    detail = event.get("detail") if isinstance(event, dict) else None

    if isinstance(detail, dict):
        answer = _finish(detail, callbacks, workflow)
        if not isinstance(answer, dict) or answer["outcome"] != "ignored":
            return
        reason = answer["reason"]
    else:
        answer = _invoke(event, callbacks, workflow)
        reason = answer["reason"] if isinstance(answer, dict) else str(answer)

    assert is_one_readable_line(reason), reason[:500]


@settings(max_examples=examples(200))
@given(event=_well_typed_completions(), secret=secrets, failure=send_failures)
def test_a_completion_answer_never_repeats_a_secret_from_the_jobs_environment(
    event: dict[str, Any], secret: str, failure: Exception | None
) -> None:
    """Given a completion of SageMaker's shape whose container environment and tags hold a credential,
    When the service handles it,
    Then neither its answer nor the output it sends the workflow contains the credential."""
    detail = event["detail"]
    assume(secret not in json.dumps(detail))  # in a field SageMaker fills (a time, say) it is no secret
    detail["Environment"] = {**detail["Environment"], "DB_PASSWORD": secret}
    detail["Tags"] = {"api-key": secret}
    callbacks, workflow = _callbacks_for(event), FakeWorkflow()
    if failure is not None:
        workflow.raise_on_next_send(failure)

    answer = _finish(detail, callbacks, workflow)

    told = json.dumps(answer) if isinstance(answer, dict) else str(answer)
    told += json.dumps(workflow.succeeded) + json.dumps([f.cause for f in workflow.failed])
    assert secret not in told
