"""Fuzzing the registration path: any EventBridge event, however broken, is answered, starts at most one
execution per version under a name Step Functions accepts, and says in plain words why it was ignored."""

from __future__ import annotations

import copy
import itertools
import json
import re
from typing import Any

from builders import PACKAGE_ARN, STAGES, model_description
from fakes import FakeRegistry, FakeWorkflow
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from property_helpers import (
    examples,
    huge_strings,
    is_one_readable_line,
    json_values,
    load_event,
    mutated,
    nasty_strings,
    odd_integers,
    odd_strings,
    secrets,
)

from model_promotion.domain.errors import DomainError
from model_promotion.domain.model_version import PENDING_MANUAL_APPROVAL
from model_promotion.domain.registration import (
    EVENT_DETAIL_TYPE,
    EVENT_SOURCE,
    Ignored,
    RegistrationEvent,
    execution_name,
    read_registration_event,
)
from model_promotion.domain.stages import PROMOTION_ATTEMPT_KEY, PROMOTION_ENDED_KEY
from model_promotion.services.start_promotion import StartResult, start_promotion

REGISTERED = load_event("model_package_registered.json")
FIXTURES = [REGISTERED, load_event("model_package_approved.json"), load_event("model_package_malformed.json")]
STEP_FUNCTIONS_NAME = re.compile(r"[0-9A-Za-z_-]{1,80}")
OUTCOMES = ("started", "duplicate", "ignored")
KEY_FIELDS = ("ModelApprovalStatus", "ModelPackageArn", "ModelPackageGroupName", "ModelPackageVersion")
KEY_PATHS = (
    ("source",),
    ("detail-type",),
    ("detail",),
    *(("detail", field) for field in KEY_FIELDS),
    ("detail", "CustomerMetadataProperties"),
    ("detail", "InferenceSpecification"),
)
ARN_PREFIX = "arn:aws:sagemaker:us-east-1:123456789012:model-package/"

odd_versions = st.one_of(
    odd_integers,
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(("3", "three", "", "0x3", "٣")),
    st.none(),
)
odd_groups = st.one_of(odd_strings("breast-cancer-classifier"), st.text(min_size=1), huge_strings())
odd_arns = st.one_of(
    st.builds(lambda group, version: f"{ARN_PREFIX}{group}/{version}", odd_groups, odd_versions),
    odd_strings(PACKAGE_ARN),
    st.builds(lambda rest: f"arn:{rest}", st.text()),
)
odd_statuses = st.one_of(
    st.sampled_from(
        (PENDING_MANUAL_APPROVAL, "Approved", "Rejected", "pendingmanualapproval", f"{PENDING_MANUAL_APPROVAL} ")
    ),
    odd_strings(PENDING_MANUAL_APPROVAL),
)


def _odd_value_for(path: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    field = path[-1]
    return {
        "ModelPackageVersion": odd_versions,
        "ModelPackageArn": odd_arns,
        "ModelPackageGroupName": odd_groups,
        "ModelApprovalStatus": odd_statuses,
    }.get(field, odd_strings())


def _mutations(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return mutated(base, key_paths=KEY_PATHS, odd_values=_odd_value_for)


@st.composite
def _well_typed_registrations(draw: st.DrawFn) -> dict[str, Any]:
    """A pending registration whose group and version are of the right types but odd values: the kind that
    reaches StartExecution, so its execution name must still be one Step Functions accepts."""
    group = draw(st.one_of(odd_groups, st.text(min_size=1)).filter(bool))
    version = draw(st.one_of(st.integers(min_value=1, max_value=10**6), st.integers(min_value=1)))
    event = load_event("model_package_registered.json")
    event["detail"].update(
        ModelPackageGroupName=group, ModelPackageVersion=version, ModelPackageArn=f"{ARN_PREFIX}{group}/{version}"
    )
    return event


@st.composite
def _broken_in_one_field(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """The pending registration fixture with exactly one field the reader checks made invalid (or dropped),
    and the words a reason about that field must contain."""
    event = load_event("model_package_registered.json")
    field = draw(st.sampled_from(("source", "detail-type", "detail", *KEY_FIELDS)))
    container = event if field in ("source", "detail-type", "detail") else event["detail"]
    if draw(st.booleans()):
        del container[field]
    else:
        invalid = {
            "source": json_values.filter(lambda v: v != EVENT_SOURCE),
            "detail-type": json_values.filter(lambda v: v != EVENT_DETAIL_TYPE),
            "detail": json_values.filter(lambda v: not isinstance(v, dict)),
            "ModelApprovalStatus": st.one_of(json_values, odd_statuses).filter(lambda v: v != PENDING_MANUAL_APPROVAL),
            "ModelPackageArn": st.one_of(json_values, odd_arns).filter(
                lambda v: not (isinstance(v, str) and v.startswith("arn:"))
            ),
            "ModelPackageGroupName": json_values.filter(lambda v: not (isinstance(v, str) and v)),
            "ModelPackageVersion": odd_versions.filter(lambda v: not (type(v) is int and v >= 1)),
        }[field]
        container[field] = draw(invalid)
    named = {"source": EVENT_SOURCE, "detail-type": EVENT_DETAIL_TYPE}.get(field, field)
    return event, named


registration_events = st.one_of(
    st.sampled_from(FIXTURES).map(copy.deepcopy),
    json_values,
    *(_mutations(fixture) for fixture in FIXTURES),
    _well_typed_registrations(),
    _broken_in_one_field().map(lambda broken: broken[0]),
)

# CustomerMetadataProperties as SageMaker stores them: keys and values of [\p{L}\p{Z}\p{N}_.:/=+\-@]*.
_metadata_text = st.text(alphabet=st.characters(categories=("L", "Z", "N"), include_characters="_.:/=+-@"), max_size=40)
_metadata_keys = st.one_of(
    st.sampled_from((PROMOTION_ATTEMPT_KEY, PROMOTION_ENDED_KEY, *STAGES, "RegistrantEmail")),
    _metadata_text.filter(bool),
)
_metadata_values = st.one_of(
    st.sampled_from(("1", "2", "0", "10", "²", "٣", "１", "Ⅻ", "Approved", PENDING_MANUAL_APPROVAL)),
    st.text(alphabet=st.characters(categories=("N",)), min_size=1, max_size=3),
    _metadata_text.filter(bool),
)


registry_metadata = st.one_of(st.none(), st.dictionaries(_metadata_keys, _metadata_values, max_size=6))
registry_statuses = st.sampled_from((PENDING_MANUAL_APPROVAL, PENDING_MANUAL_APPROVAL, "Approved", "Rejected"))


def _pending_with_status(status: Any) -> dict[str, Any]:
    event = load_event("model_package_registered.json")
    event["detail"]["ModelApprovalStatus"] = status
    return event


class LaggingWorkflow(FakeWorkflow):
    """DescribeExecution that does not yet see a start: only the execution name can stop a second one."""

    def execution_exists(self, name: str) -> bool:
        return False


def _registry_for(event: Any, status: str, metadata: dict[str, str] | None, knows_event: bool) -> FakeRegistry:
    """SageMaker knows the fixture's version and, when `knows_event`, the version the event names (when it
    names one of the right types): DescribeModelPackage answers with the event's own group and version."""
    registry = FakeRegistry(model_description(status=status, metadata=metadata))
    detail = event.get("detail") if isinstance(event, dict) else None
    if knows_event and isinstance(detail, dict):
        arn, group, version = (
            detail.get(k) for k in ("ModelPackageArn", "ModelPackageGroupName", "ModelPackageVersion")
        )
        if isinstance(arn, str) and isinstance(group, str) and group and type(version) is int and version >= 1:
            description = model_description(status=status, metadata=metadata)
            description.update(ModelPackageArn=arn, ModelPackageGroupName=group, ModelPackageVersion=version)
            registry.add(description)
    return registry


def _deliver(event: Any, registry: FakeRegistry, workflow: FakeWorkflow) -> StartResult | DomainError:
    """One invocation of the StartPromotion function's logic. A domain error is an answer (the handler logs it
    and returns "ignored"); anything else escapes, fails the test, and is shrunk by hypothesis."""
    try:
        return start_promotion(event, registry=registry, workflow=workflow, stages=STAGES)
    except DomainError as error:
        return error


@settings(max_examples=examples(300))
@given(
    event=registration_events,
    status=registry_statuses,
    metadata=registry_metadata,
    knows_event=st.booleans(),
    lagging=st.booleans(),
)
def test_any_registration_event_gets_an_answer_and_starts_nothing_unless_it_says_started(
    event: Any, status: str, metadata: dict[str, str] | None, knows_event: bool, lagging: bool
) -> None:
    """Given any JSON value as the event, and the registry in any state a version can be in,
    When the starter handles it,
    Then it answers started, duplicate or ignored, or refuses with a domain error; it never writes to the
    registry, and only a "started" answer leaves an execution behind."""
    registry = _registry_for(event, status, metadata, knows_event)
    workflow = LaggingWorkflow() if lagging else FakeWorkflow()

    answer = _deliver(event, registry, workflow)

    assert registry.updates == []
    if isinstance(answer, StartResult):
        assert answer.outcome in OUTCOMES
    if isinstance(answer, StartResult) and answer.outcome == "started":
        assert list(workflow.started) == [answer.execution_name]
    else:
        assert workflow.started == {}


@example(metadata={PROMOTION_ATTEMPT_KEY: "²"})
@settings(max_examples=examples(200))
@given(
    metadata=st.dictionaries(
        st.one_of(st.sampled_from((PROMOTION_ATTEMPT_KEY, PROMOTION_ENDED_KEY, *STAGES)), _metadata_keys),
        _metadata_values,
        max_size=6,
    )
)
def test_a_pending_registration_gets_an_answer_whatever_metadata_sagemaker_holds_for_the_version(
    metadata: dict[str, str],
) -> None:
    """Given the pending registration fixture, and the version holding any CustomerMetadataProperties SageMaker
    accepts ([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*: a registrant sets them, and the workflow's own keys among them),
    When the starter handles the event,
    Then it answers started, duplicate or ignored, or refuses with a domain error; a started execution has a
    name Step Functions accepts."""
    registry = FakeRegistry(model_description(metadata=metadata))
    workflow = FakeWorkflow()

    answer = _deliver(load_event("model_package_registered.json"), registry, workflow)

    if isinstance(answer, StartResult):
        assert answer.outcome in OUTCOMES
    assert all(STEP_FUNCTIONS_NAME.fullmatch(name) for name in workflow.started)


@settings(max_examples=examples(200))
@given(
    event=registration_events,
    status=registry_statuses,
    metadata=registry_metadata,
    lagging=st.booleans(),
    event_id=st.text(max_size=20),
)
def test_however_often_an_event_is_delivered_at_most_one_execution_starts_for_the_version(
    event: Any, status: str, metadata: dict[str, str] | None, lagging: bool, event_id: str
) -> None:
    """Given any event, delivered three times (EventBridge delivers at least once; SageMaker also sends an
    event of its own for every update), once as a fresh event with another id,
    When the starter handles every delivery,
    Then at most one execution exists and at most one answer says "started", even when DescribeExecution
    lags behind StartExecution."""
    registry = _registry_for(event, status, metadata, knows_event=True)
    workflow = LaggingWorkflow() if lagging else FakeWorkflow()
    again = {**event, "id": event_id} if isinstance(event, dict) else event

    answers = [_deliver(delivery, registry, workflow) for delivery in (event, again, event)]

    started = [a for a in answers if isinstance(a, StartResult) and a.outcome == "started"]
    assert len(started) <= 1
    assert len(workflow.started) <= 1


@settings(max_examples=examples(200))
@given(event=st.one_of(_well_typed_registrations(), registration_events), metadata=registry_metadata)
def test_every_execution_started_has_a_name_step_functions_accepts(event: Any, metadata: dict[str, str] | None) -> None:
    """Given any event, including pending registrations of groups with odd, long or non-ASCII names,
    When the starter starts an execution for it,
    Then the name is 1 to 80 characters of [0-9A-Za-z_-], the only names StartExecution accepts."""
    registry = _registry_for(event, PENDING_MANUAL_APPROVAL, metadata, knows_event=True)
    workflow = FakeWorkflow()

    answer = _deliver(event, registry, workflow)

    for name in workflow.started:
        assert STEP_FUNCTIONS_NAME.fullmatch(name), name
    if isinstance(answer, StartResult) and answer.execution_name is not None:
        assert STEP_FUNCTIONS_NAME.fullmatch(answer.execution_name)


versions = st.one_of(st.integers(min_value=1, max_value=1000), st.integers(min_value=1))
attempts = st.one_of(st.just(1), st.integers(min_value=1, max_value=50), st.integers(min_value=1))
groups = st.one_of(st.text(), odd_groups, nasty_strings)


@settings(max_examples=examples(300))
@given(first=st.tuples(groups, versions, attempts), second=st.tuples(groups, versions, attempts))
def test_execution_names_fit_step_functions_and_name_one_version_and_attempt_each(
    first: tuple[str, int, int], second: tuple[str, int, int]
) -> None:
    """Given any two (group, version, attempt) triples, of any characters and length,
    When each gets its execution name,
    Then both names are valid Step Functions names, and they differ unless the triples are the same: the name
    is what stops a second execution for one version, so two versions may never share one."""
    one, other = execution_name(*first), execution_name(*second)

    assert STEP_FUNCTIONS_NAME.fullmatch(one)
    assert STEP_FUNCTIONS_NAME.fullmatch(other)
    assert (one == other) == (first == second)


@example(event=_pending_with_status("\n"), status=PENDING_MANUAL_APPROVAL, metadata=None)
@example(event=_pending_with_status("0" * 300), status=PENDING_MANUAL_APPROVAL, metadata=None)
@settings(max_examples=examples(300))
@given(event=registration_events, status=registry_statuses, metadata=registry_metadata)
def test_an_ignored_registration_is_told_in_one_short_readable_line(
    event: Any, status: str, metadata: dict[str, str] | None
) -> None:
    """Given any event and registry state,
    When the starter ignores the event or refuses it,
    Then the reason it logs and returns is one line of words, at most 300 characters, whatever the event held."""
    registry = _registry_for(event, status, metadata, knows_event=True)

    answer = _deliver(event, registry, FakeWorkflow())

    reason = answer.reason if isinstance(answer, StartResult) else str(answer)
    assert is_one_readable_line(reason), reason[:500]


_SECRET_PLACES = (
    ("CustomerMetadataProperties", "ApiKey"),
    ("InferenceSpecification", "Containers", 0, "Environment", "AWS_SECRET_ACCESS_KEY"),
    ("CreatedBy", "IamIdentity", "SessionToken"),
    ("ModelPackageDescription",),
)


def _plant(event: Any, secret: str, places: list[tuple[Any, ...]]) -> Any:
    """Puts the secret into the event's detail at each place (creating what is missing), except where the
    event's shape leaves no room for it."""
    if not isinstance(event, dict) or not isinstance(event.get("detail"), dict):
        return event
    event = copy.deepcopy(event)
    for place in places:
        node: Any = event["detail"]
        for step, following in itertools.pairwise(place):
            if isinstance(node, dict):
                if not isinstance(node.get(step), dict | list):
                    node[step] = [] if isinstance(following, int) else {}
                node = node[step]
            elif isinstance(node, list) and isinstance(step, int):
                while len(node) <= step:
                    node.append({})
                if not isinstance(node[step], dict):
                    node[step] = {}
                node = node[step]
            else:
                break
        else:
            if isinstance(node, dict):
                node[place[-1]] = secret
    return event


@settings(max_examples=examples(200))
@given(
    event=registration_events,
    secret=secrets,
    places=st.lists(st.sampled_from(_SECRET_PLACES), min_size=1, max_size=4, unique=True),
    status=registry_statuses,
    metadata=registry_metadata,
)
def test_a_registration_answer_never_repeats_a_secret_the_event_or_the_registry_carried(
    event: Any, secret: str, places: list[tuple[Any, ...]], status: str, metadata: dict[str, str] | None
) -> None:
    """Given any event carrying a credential-shaped value in its metadata, container environment, identity or
    description, and a registry whose own metadata holds one too,
    When the starter answers,
    Then neither the reason nor the error message contains the credential: both are logged."""
    assume(secret not in json.dumps(event))  # elsewhere (as a status, say) it is an ordinary, quotable value
    event = _plant(event, secret, places)
    registry_metadata_with_secret = {**(metadata or {}), "ApiKey": secret}
    registry = _registry_for(event, status, registry_metadata_with_secret, knows_event=True)

    answer = _deliver(event, registry, FakeWorkflow())

    text = answer.reason if isinstance(answer, StartResult) else str(answer)
    assert secret not in text


@settings(max_examples=examples(300))
@given(broken=_broken_in_one_field())
def test_a_registration_broken_in_one_field_is_ignored_with_a_reason_naming_that_field(
    broken: tuple[dict[str, Any], str],
) -> None:
    """Given the pending registration fixture with one field dropped or given a wrong type or value,
    When the domain reads it,
    Then it is Ignored, and the reason names the field (or the source and detail type it expected), so an
    operator reading the log knows what to fix."""
    event, named = broken

    read = read_registration_event(event)

    assert isinstance(read, Ignored)
    assert named in read.reason


@settings(max_examples=examples(300))
@given(event=registration_events)
def test_the_domain_reader_answers_every_event_with_a_registration_or_a_reason(event: Any) -> None:
    """Given any JSON value,
    When the domain reads it as a registration event,
    Then it never raises: it returns the pending registration it describes, with exactly the event's values,
    or Ignored with a non-empty reason."""
    read = read_registration_event(event)

    if isinstance(read, RegistrationEvent):
        detail = event["detail"]
        assert (read.package_arn, read.group, read.version, read.approval_status) == (
            detail["ModelPackageArn"],
            detail["ModelPackageGroupName"],
            detail["ModelPackageVersion"],
            PENDING_MANUAL_APPROVAL,
        )
    else:
        assert isinstance(read, Ignored)
        assert read.reason.strip()
