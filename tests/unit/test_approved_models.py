"""Inference code reads the approved version through cached SSM lookups, and hears clearly when there is none."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.utilities import parameters
from builders import GROUP as GROUP_OF_BUILDERS
from builders import decision_record, stage_task_payload
from moto import mock_aws

from model_promotion import cli
from model_promotion.adapters.aws import DEFAULT_CLIENTS
from model_promotion.adapters.ssm_approved_models import SsmApprovedModels
from model_promotion.client import (
    ApprovedModel,
    InvalidApprovedRecord,
    NothingApproved,
    get_approved_model,
)
from model_promotion.domain.approvals import StageTask
from model_promotion.domain.records import approved_model_record

GROUP = "churn-model"
ARN = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/7"


@pytest.fixture
def ssm(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_REGION", "POWERTOOLS_PARAMETERS_MAX_AGE"):
        monkeypatch.delenv(name, raising=False)
    parameters.clear_caches()
    DEFAULT_CLIENTS.clear()
    with mock_aws():
        yield DEFAULT_CLIENTS.client("ssm")
    parameters.clear_caches()
    DEFAULT_CLIENTS.clear()


def record(version: int = 7, stage: str = "prod", **overrides: Any) -> dict[str, Any]:
    """The record the workflow writes (domain/records.approved_model_record): a pointer."""
    return {
        "modelPackageGroupName": GROUP,
        "modelPackageArn": f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/{version}",
        "modelVersion": version,
        "modelDataUrl": f"s3://models/{GROUP}/{version}/model.tar.gz",
        "stage": stage,
        "approvedBy": "jane.doe@example.com",
        "approvedByName": "Jane Doe",
        "approvedBySubject": "sub-jane-0001",
        "approvedAt": "2024-05-01T10:15:00Z",
        "decisionId": "d-123",
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:promotion:x",
        "metrics": {"roc_auc": 0.93},
        "metricsStage": "uat",
        **overrides,
    }


def legacy_record(version: int = 7, stage: str = "prod") -> dict[str, Any]:
    """The record earlier releases wrote: the comment and the evidence inside, no approver subject."""
    old = {k: v for k, v in record(version, stage).items() if k not in ("approvedBySubject", "metrics", "metricsStage")}
    return {**old, "comment": "metrics look good", "evidence": {"stage": stage, "rowCount": 500, "metrics": {}}}


def put(ssm: Any, value: dict[str, Any] | str, stage: str = "prod", prefix: str = "/model-promotion") -> None:
    ssm.put_parameter(
        Name=f"{prefix}/{GROUP}/{stage}",
        Value=value if isinstance(value, str) else json.dumps(value),
        Type="String",
        Overwrite=True,
    )


def test_the_approved_record_is_returned_as_a_typed_model(ssm: Any) -> None:
    # Given
    put(ssm, record())

    # When
    model = get_approved_model(GROUP, "prod")

    # Then
    assert model == ApprovedModel(
        package_arn=ARN,
        version=7,
        model_data_url=f"s3://models/{GROUP}/7/model.tar.gz",
        stage="prod",
        approved_by="jane.doe@example.com",
        approved_by_name="Jane Doe",
        approved_at="2024-05-01T10:15:00Z",
        group=GROUP,
        decision_id="d-123",
        approved_by_subject="sub-jane-0001",
    )
    assert model.approver == "Jane Doe <jane.doe@example.com>"


def test_a_record_written_before_the_pointer_still_reads(ssm: Any) -> None:
    # Given: a parameter written by an earlier release, with the comment and the evidence inside
    put(ssm, legacy_record())

    # When
    model = get_approved_model(GROUP, "prod")

    # Then
    assert (model.version, model.package_arn, model.approved_by, model.decision_id) == (
        7,
        ARN,
        "jane.doe@example.com",
        "d-123",
    )
    assert model.approved_by_subject is None


def test_the_pointer_the_workflow_writes_through_its_adapter_reads_back(ssm: Any) -> None:
    # Given: an approval whose comment and approver name are far from ASCII, written as the workflow writes it
    task = StageTask.from_payload(stage_task_payload("prod"))
    decision = decision_record(
        "prod", comment="é" * 550, approver_name="Zoë Ångström-Łukasiewicz", approver_subject="sub-zoe-0001"
    )
    SsmApprovedModels().put(f"/model-promotion/{GROUP_OF_BUILDERS}/prod", approved_model_record(task, decision))

    # When
    model = get_approved_model(GROUP_OF_BUILDERS, "prod")

    # Then
    assert model.version == task.model.version
    assert model.approved_by_name == "Zoë Ångström-Łukasiewicz"
    assert model.approved_by_subject == "sub-zoe-0001"
    assert model.decision_id == decision.decision_id


def test_a_custom_prefix_reads_that_prefix(ssm: Any) -> None:
    # Given
    put(ssm, record(version=2), prefix="/team-a/promotion")
    put(ssm, record(version=9))

    # When
    model = get_approved_model(GROUP, "prod", prefix="/team-a/promotion")

    # Then
    assert model.version == 2


def test_optional_fields_may_be_absent(ssm: Any) -> None:
    # Given
    put(ssm, record(modelDataUrl=None, approvedByName=None))

    # When
    model = get_approved_model(GROUP, "prod")

    # Then
    assert model.model_data_url is None
    assert model.approved_by_name is None
    assert model.approver == "jane.doe@example.com"


def test_a_second_call_within_max_age_is_served_from_the_cache(ssm: Any) -> None:
    # Given
    put(ssm, record(version=7))
    first = get_approved_model(GROUP, "prod", max_age=300)

    # When: a newer version is approved
    put(ssm, record(version=8))
    cached = get_approved_model(GROUP, "prod", max_age=300)
    fresh = get_approved_model(GROUP, "prod", max_age=0)

    # Then
    assert first.version == cached.version == 7
    assert fresh.version == 8


def test_nothing_approved_names_the_group_the_stage_and_the_parameter(ssm: Any) -> None:
    # Given: uat is approved, prod is not
    put(ssm, record(stage="uat"), stage="uat")

    # When
    with pytest.raises(NothingApproved) as raised:
        get_approved_model(GROUP, "prod")

    # Then
    assert (
        str(raised.value) == f"No version of {GROUP} is approved for prod (no parameter /model-promotion/{GROUP}/prod)"
    )
    assert isinstance(raised.value, LookupError)
    assert (raised.value.group, raised.value.stage) == (GROUP, "prod")


def test_an_approval_made_after_a_miss_is_seen_at_once(ssm: Any) -> None:
    # Given
    with pytest.raises(NothingApproved):
        get_approved_model(GROUP, "prod", max_age=300)

    # When
    put(ssm, record())
    model = get_approved_model(GROUP, "prod", max_age=300)

    # Then
    assert model.version == 7


def test_other_read_failures_are_not_mistaken_for_nothing_approved(ssm: Any) -> None:
    # Given: an SSM client whose every call is refused
    class Refusing:
        def get_parameter(self, **_: Any) -> Any:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetParameter")

    parameters.base.DEFAULT_PROVIDERS["ssm"] = parameters.SSMProvider(boto3_client=Refusing())  # type: ignore[arg-type]

    # When
    with pytest.raises(parameters.exceptions.GetParameterError) as raised:
        get_approved_model(GROUP, "prod")

    # Then
    assert not isinstance(raised.value, NothingApproved)
    assert "AccessDeniedException" in str(raised.value)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        pytest.param("not json", "does not hold JSON", id="not-json"),
        pytest.param("[1]", "does not hold a JSON object", id="not-an-object"),
        pytest.param(json.dumps(record(modelVersion="7")), "modelVersion is not a positive integer", id="version"),
        pytest.param(json.dumps(record(modelPackageArn=None)), "modelPackageArn is missing", id="arn"),
        pytest.param(json.dumps(record(stage="uat")), f"holds the record of {GROUP} for uat", id="other-stage"),
    ],
)
def test_a_parameter_holding_something_else_is_refused(ssm: Any, value: str, problem: str) -> None:
    # Given
    put(ssm, value)

    # When
    with pytest.raises(InvalidApprovedRecord) as raised:
        get_approved_model(GROUP, "prod")

    # Then
    assert problem in str(raised.value)
    assert f"/model-promotion/{GROUP}/prod" in str(raised.value)


@pytest.mark.parametrize(
    ("group", "stage", "prefix", "problem"),
    [
        pytest.param("-churn", "prod", "/model-promotion", "model package group name '-churn'", id="group-dash"),
        pytest.param("churn/../x", "prod", "/model-promotion", "model package group name", id="group-path"),
        pytest.param("a" * 64, "prod", "/model-promotion", "model package group name", id="group-too-long"),
        pytest.param(GROUP, "Prod", "/model-promotion", "stage name 'Prod'", id="stage-upper-case"),
        pytest.param(GROUP, "", "/model-promotion", "stage name ''", id="stage-empty"),
        pytest.param(GROUP, "prod", "model-promotion", "parameter prefix 'model-promotion'", id="prefix-no-slash"),
        pytest.param(GROUP, "prod", "/model-promotion/", "parameter prefix", id="prefix-trailing-slash"),
    ],
)
def test_names_that_cannot_be_a_parameter_are_refused_before_any_call(
    group: str, stage: str, prefix: str, problem: str
) -> None:
    # When
    with pytest.raises(ValueError) as raised:
        get_approved_model(group, stage, prefix=prefix)

    # Then
    assert problem in str(raised.value)


def test_a_negative_max_age_is_refused() -> None:
    # When
    with pytest.raises(ValueError) as raised:
        get_approved_model(GROUP, "prod", max_age=-1)

    # Then
    assert "max_age" in str(raised.value)


# The command line


def approved(monkeypatch: pytest.MonkeyPatch, *argv: str, prefix: str = "/model-promotion") -> tuple[int, str, str]:
    """`model-promotion --local approved ...` against the mocked SSM, with the stack's ParameterPrefix."""
    target = cli.Target("the test", "sm", "a", "d", "s@example.com", "", parameters={"ParameterPrefix": prefix})
    monkeypatch.setattr(cli, "resolve_target", lambda invocation: target)
    out, err = io.StringIO(), io.StringIO()
    status = cli.main(["--local", "approved", *argv], stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def test_the_cli_prints_the_record_as_json(ssm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given
    put(ssm, record())

    # When
    status, out, _ = approved(monkeypatch, GROUP, "--stage", "prod", "--json")

    # Then
    assert status == 0
    assert json.loads(out) == {
        "modelPackageGroupName": GROUP,
        "modelPackageArn": ARN,
        "modelVersion": 7,
        "modelDataUrl": f"s3://models/{GROUP}/7/model.tar.gz",
        "stage": "prod",
        "approvedBy": "jane.doe@example.com",
        "approvedByName": "Jane Doe",
        "approvedBySubject": "sub-jane-0001",
        "approvedAt": "2024-05-01T10:15:00Z",
        "decisionId": "d-123",
    }


def test_the_cli_prints_a_readable_block_with_the_stacks_prefix(ssm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given
    put(ssm, record(stage="uat"), stage="uat", prefix="/team-a")

    # When
    status, out, _ = approved(monkeypatch, GROUP, "--stage", "uat", prefix="/team-a")

    # Then
    assert status == 0
    assert out.splitlines() == [
        f"{GROUP} version 7 is approved for uat",
        f"  package:     {ARN}",
        f"  model data:  s3://models/{GROUP}/7/model.tar.gz",
        "  approved by: Jane Doe <jane.doe@example.com>",
        "  approved at: 2024-05-01T10:15:00Z",
        "  decision:    d-123",
    ]


def test_the_cli_exits_1_with_the_message_when_nothing_is_approved(ssm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # When
    status, out, err = approved(monkeypatch, GROUP, "--stage", "prod", "--json")

    # Then
    assert status == 1
    assert out == ""
    assert err == f"error: No version of {GROUP} is approved for prod (no parameter /model-promotion/{GROUP}/prod)\n"


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["--stage", "prod"], id="no-group"),
        pytest.param([GROUP], id="no-stage"),
        pytest.param([GROUP, "--stage", "Prod"], id="bad-stage"),
        pytest.param([GROUP, "--stage", "prod", "--prefix", "nope"], id="bad-prefix"),
    ],
)
def test_the_cli_exits_2_for_bad_arguments(argv: list[str], ssm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # When
    status, out, err = approved(monkeypatch, *argv)

    # Then
    assert status == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1
