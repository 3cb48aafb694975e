"""Transform job and model names SageMaker accepts, where SageMaker writes, and the plan as it travels."""

from __future__ import annotations

import re

import pytest
from builders import EXECUTION_NAME, GROUP, PACKAGE_ARN, STAGES

from model_promotion.domain.errors import InvalidPayload
from model_promotion.domain.registration import execution_name
from model_promotion.domain.stages import parse_stages
from model_promotion.domain.transforms import (
    CHALLENGER,
    CHAMPION,
    JOB_PREFIX,
    TransformPlan,
    model_name,
    output_uri,
    transform_job_name,
)

# TransformJobName and ModelName as the SageMaker API reference defines them.
SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
EIGHTY = "a" * 20 + "-" * 5 + "b" * 25 + "_" * 5 + "c" * 25  # the longest Step Functions execution name
assert len(EIGHTY) == 80

ODD_EXECUTION_NAMES = [
    pytest.param(EXECUTION_NAME, id="the-usual-name"),
    pytest.param(EIGHTY, id="80-characters"),
    pytest.param("x" * 80, id="80-characters-no-separator"),
    pytest.param("-" * 29 + "a" * 51, id="leading-hyphens"),
    pytest.param("a" * 29 + "-" * 51, id="hyphens-at-the-cut"),
    pytest.param("a" * 29 + "_b", id="underscore-at-the-cut"),
    pytest.param("churn_model.v2+retrain@team", id="dots-underscores-plus-at"),
    pytest.param("modèle-prévision-v3", id="non-ascii-letters"),
    pytest.param("___", id="nothing-readable"),
    pytest.param("Fraud-Model-v12", id="upper-case"),
]


def valid_sagemaker_name(name: str) -> bool:
    return len(name) <= 63 and SAGEMAKER_NAME.match(name) is not None


def plan(**overrides: object) -> TransformPlan:
    values: dict[str, object] = {
        "role": CHALLENGER,
        "job_name": transform_job_name(EXECUTION_NAME, "dev", CHALLENGER),
        "model_name": model_name(GROUP, 3),
        "package_arn": PACKAGE_ARN,
        "version": 3,
        "input_uri": "s3://bucket/batch-input/dev/input.csv",
        "output_path": f"s3://bucket/batch-output/{GROUP}/v3/dev/challenger",
    }
    values.update(overrides)
    return TransformPlan(**values)  # type: ignore[arg-type]


# Transform job names


@pytest.mark.parametrize("execution", ODD_EXECUTION_NAMES)
@pytest.mark.parametrize("role", [CHALLENGER, CHAMPION])
@pytest.mark.parametrize("stage", ["dev", "prod", "a" * 32, "staging-eu-west-1"])
def test_a_transform_job_name_is_a_valid_sagemaker_name_starting_with_the_prefix(
    execution: str, role: str, stage: str
) -> None:
    # When
    name = transform_job_name(execution, stage, role)

    # Then
    assert valid_sagemaker_name(name), name
    assert name.startswith(JOB_PREFIX)


def test_a_transform_job_name_stays_readable_for_the_usual_execution() -> None:
    # When
    name = transform_job_name(EXECUTION_NAME, "dev", CHALLENGER)

    # Then: an operator listing transform jobs sees whose job it is
    assert name.startswith(f"{JOB_PREFIX}{EXECUTION_NAME}-dev-")
    assert re.fullmatch(rf"{JOB_PREFIX}{EXECUTION_NAME}-dev-chall-[0-9a-f]{{8}}", name)


@pytest.mark.parametrize("execution", ODD_EXECUTION_NAMES)
def test_a_transform_job_name_is_the_same_on_every_call(execution: str) -> None:
    # Given: a retry computes the name again, in another Lambda invocation
    first = transform_job_name(execution, "test", CHAMPION)

    # When
    again = transform_job_name(execution, "test", CHAMPION)

    # Then
    assert again == first


def test_every_stage_and_role_of_an_execution_gets_its_own_job() -> None:
    # When
    names = {transform_job_name(EIGHTY, stage, role) for stage in STAGES for role in (CHALLENGER, CHAMPION)}

    # Then
    assert len(names) == len(STAGES) * 2


def test_stages_that_share_their_first_ten_characters_still_get_their_own_jobs() -> None:
    # When
    west = transform_job_name(EXECUTION_NAME, "staging-eu-west", CHALLENGER)
    east = transform_job_name(EXECUTION_NAME, "staging-eu-east", CHALLENGER)

    # Then
    assert west != east


def test_executions_that_read_the_same_after_the_cut_still_get_their_own_jobs() -> None:
    # Given: execution names that differ only after the 30 readable characters, or only in odd characters
    long_a, long_b = "a" * 30 + "-version-1", "a" * 30 + "-version-2"
    dotted, underscored = "churn.model-v2", "churn_model-v2"

    # When / Then
    assert transform_job_name(long_a, "dev", CHALLENGER) != transform_job_name(long_b, "dev", CHALLENGER)
    assert transform_job_name(dotted, "dev", CHALLENGER) != transform_job_name(underscored, "dev", CHALLENGER)


def test_execution_names_made_by_the_promotion_starter_give_valid_job_names() -> None:
    # Given: the longest group name SageMaker allows, with an underscore-free but long version
    group = "g" * 63

    # When
    name = transform_job_name(execution_name(group, 123456), "dev", CHALLENGER)

    # Then
    assert valid_sagemaker_name(name)


@pytest.mark.parametrize("role", ["", "Challenger", "shadow", "champ"])
def test_a_transform_job_name_for_an_unknown_role_is_refused(role: str) -> None:
    with pytest.raises(InvalidPayload, match="transform role"):
        transform_job_name(EXECUTION_NAME, "dev", role)


@pytest.mark.parametrize("stage", ["pre_prod", "user_acceptance"])
def test_a_stage_name_with_an_underscore_still_gives_a_valid_job_name(stage: str) -> None:
    # Given: a stage list the configuration accepts
    assert stage in parse_stages(f"dev,{stage},prod")

    # When
    name = transform_job_name(EXECUTION_NAME, stage, CHALLENGER)

    # Then
    assert valid_sagemaker_name(name), name


# Model names


@pytest.mark.parametrize(
    "group",
    [
        pytest.param(GROUP, id="usual"),
        pytest.param("g", id="one-character"),
        pytest.param("G" * 63, id="longest-group-sagemaker-allows"),
        pytest.param("a" * 52 + "-" * 11, id="hyphens-at-the-cut"),
        pytest.param("churn_model.v2", id="odd-characters"),
        pytest.param("modèle", id="non-ascii"),
    ],
)
@pytest.mark.parametrize("version", [1, 3, 10**9])
def test_a_model_name_is_a_valid_sagemaker_name(group: str, version: int) -> None:
    # When
    name = model_name(group, version)

    # Then
    assert valid_sagemaker_name(name), name
    assert name.startswith(JOB_PREFIX)
    assert model_name(group, version) == name


def test_a_short_model_name_is_readable() -> None:
    assert model_name(GROUP, 3) == f"mp-{GROUP}-v3"


def test_every_version_and_group_gets_its_own_model_name() -> None:
    # Given: names that sanitising or cutting would otherwise merge
    pairs = [(GROUP, 2), (GROUP, 3), ("G" * 63, 1), ("G" * 63, 2), ("a.b", 1), ("a_b", 1), ("a-b", 1)]

    # When
    names = {model_name(group, version) for group, version in pairs}

    # Then
    assert len(names) == len(pairs)


# Where SageMaker writes


@pytest.mark.parametrize(
    ("output_path", "input_uri", "expected"),
    [
        (
            "s3://bucket/batch-output/g/v3/dev/challenger",
            "s3://bucket/batch-input/dev/input.csv",
            "s3://bucket/batch-output/g/v3/dev/challenger/input.csv.out",
        ),
        (
            "s3://bucket/batch-output/g/v3/dev/challenger/",
            "s3://bucket/batch-input/dev/input.csv",
            "s3://bucket/batch-output/g/v3/dev/challenger/input.csv.out",
        ),
        ("s3://out-bucket", "s3://in-bucket/rows.csv", "s3://out-bucket/rows.csv.out"),
    ],
)
def test_the_output_uri_is_the_output_path_and_the_input_object_name_with_out(
    output_path: str, input_uri: str, expected: str
) -> None:
    assert output_uri(output_path, input_uri) == expected


def test_a_plan_knows_where_its_predictions_land() -> None:
    assert plan().output_uri == f"s3://bucket/batch-output/{GROUP}/v3/dev/challenger/input.csv.out"


# The plan in the execution state


def test_a_plan_travels_as_camel_case_json_with_its_output_uri() -> None:
    # When
    payload = plan().to_payload()

    # Then
    assert payload == {
        "role": "challenger",
        "jobName": transform_job_name(EXECUTION_NAME, "dev", CHALLENGER),
        "modelName": f"mp-{GROUP}-v3",
        "packageArn": PACKAGE_ARN,
        "version": 3,
        "inputUri": "s3://bucket/batch-input/dev/input.csv",
        "outputPath": f"s3://bucket/batch-output/{GROUP}/v3/dev/challenger",
        "outputUri": f"s3://bucket/batch-output/{GROUP}/v3/dev/challenger/input.csv.out",
        "correlation": {},
    }


@pytest.mark.parametrize("role", [CHALLENGER, CHAMPION])
def test_a_plan_survives_the_round_trip_through_its_payload(role: str) -> None:
    # Given
    original = plan(role=role, job_name=transform_job_name(EXECUTION_NAME, "uat", role), version=2)

    # When
    again = TransformPlan.from_payload(original.to_payload())

    # Then
    assert again == original
    assert again.to_payload() == original.to_payload()


@pytest.mark.parametrize(
    "job_name",
    ["my-own-job", "MP-g-v3-dev-chall-0827d67d", "xmp-g-v3", "", "mp_g_v3"],
)
def test_a_plan_for_a_job_that_is_not_this_workflows_is_refused(job_name: str) -> None:
    # Given
    payload = plan().to_payload() | {"jobName": job_name}

    # When / Then
    with pytest.raises(InvalidPayload, match="not one of this workflow's"):
        TransformPlan.from_payload(payload)


@pytest.mark.parametrize("role", ["shadow", "Champion", "", None])
def test_a_plan_with_an_unknown_role_is_refused(role: object) -> None:
    # Given
    payload = plan().to_payload() | {"role": role}

    # When / Then
    with pytest.raises(InvalidPayload):
        TransformPlan.from_payload(payload)


@pytest.mark.parametrize("missing", ["role", "jobName", "modelName", "packageArn", "version", "inputUri", "outputPath"])
def test_a_plan_missing_a_field_is_refused_naming_it(missing: str) -> None:
    # Given
    payload = plan().to_payload()
    del payload[missing]

    # When / Then
    with pytest.raises(InvalidPayload, match=missing):
        TransformPlan.from_payload(payload)


@pytest.mark.parametrize("version", ["three", None, [3]])
def test_a_plan_whose_version_is_not_a_number_is_refused(version: object) -> None:
    with pytest.raises(InvalidPayload, match="incomplete"):
        TransformPlan.from_payload(plan().to_payload() | {"version": version})


@pytest.mark.parametrize("payload", [None, "job", ["jobName"], 3])
def test_a_plan_that_is_not_an_object_is_refused(payload: object) -> None:
    with pytest.raises(InvalidPayload, match="must be an object"):
        TransformPlan.from_payload(payload)
