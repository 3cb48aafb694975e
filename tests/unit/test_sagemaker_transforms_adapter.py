"""The SageMaker adapter's requests, checked against botocore's own SageMaker model by Stubber.

Stubber refuses a request whose parameters differ from the expected ones, and botocore validates every
request and stubbed answer against the service model, so a misspelt member or a wrong shape fails here
exactly as it would against SageMaker.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ParamValidationError
from botocore.stub import ANY, Stubber
from builders import EXECUTION_NAME, GROUP, PACKAGE_ARN
from transform_fakes import ACCOUNT, EXECUTION_ROLE_ARN, REGION, transform_settings

from model_promotion.adapters import aws
from model_promotion.adapters.aws import DEFAULT_CLIENTS
from model_promotion.adapters.sagemaker_transforms import SageMakerTransforms
from model_promotion.domain.errors import ConfigurationError, TransientAwsError
from model_promotion.domain.transforms import TransformPlan, model_name, transform_job_name

JOB = transform_job_name(EXECUTION_NAME, "dev", "champion")
MODEL = model_name(GROUP, 2)
CHAMPION_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/2"
PLAN = TransformPlan(
    role="champion",
    job_name=JOB,
    model_name=MODEL,
    package_arn=CHAMPION_ARN,
    version=2,
    input_uri="s3://bucket/batch-input/dev/input.csv",
    output_path=f"s3://bucket/batch-output/{GROUP}/v3/dev/champion",
)
JOB_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:transform-job/{JOB}"
MODEL_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/{MODEL}"
CREATED = datetime(2026, 11, 21, 12, 5, tzinfo=UTC)

CREATE_MODEL = {
    "ModelName": MODEL,
    "ExecutionRoleArn": EXECUTION_ROLE_ARN,
    "Containers": [{"ModelPackageName": CHAMPION_ARN}],
}
CREATE_JOB = {
    "TransformJobName": JOB,
    "ModelName": MODEL,
    "BatchStrategy": "MultiRecord",
    "TransformInput": {
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/batch-input/dev/input.csv"}},
        "ContentType": "text/csv",
        "SplitType": "Line",
    },
    "TransformOutput": {
        "S3OutputPath": f"s3://bucket/batch-output/{GROUP}/v3/dev/champion",
        "Accept": "text/csv",
        "AssembleWith": "Line",
    },
    "TransformResources": {"InstanceType": "ml.c5.xlarge", "InstanceCount": 3},
    "Tags": [{"Key": "model-promotion:role", "Value": "champion"}],
}
DESCRIBE = {"TransformJobName": JOB}


@pytest.fixture
def sagemaker(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """A real SageMaker client (dummy credentials, no endpoint override) behind a Stubber."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_SAGEMAKER", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    aws.DEFAULT_CLIENTS.clear()
    real = boto3.client("sagemaker", region_name=REGION)
    asked: list[str] = []

    def client(service: str) -> Any:
        asked.append(service)
        return real

    monkeypatch.setattr(DEFAULT_CLIENTS, "client", client)
    with Stubber(real) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()
    assert set(asked) <= {"sagemaker"}
    aws.DEFAULT_CLIENTS.clear()


@pytest.fixture
def adapter() -> SageMakerTransforms:
    return SageMakerTransforms(transform_settings(TRANSFORM_INSTANCE_TYPE="ml.c5.xlarge", TRANSFORM_INSTANCE_COUNT="3"))


def described(status: str = "InProgress", **extra: Any) -> dict[str, Any]:
    """DescribeTransformJob's answer for PLAN."""
    answer: dict[str, Any] = {
        "TransformJobName": JOB,
        "TransformJobArn": JOB_ARN,
        "TransformJobStatus": status,
        "ModelName": MODEL,
        "BatchStrategy": "MultiRecord",
        "TransformInput": CREATE_JOB["TransformInput"],
        "TransformOutput": CREATE_JOB["TransformOutput"],
        "TransformResources": CREATE_JOB["TransformResources"],
        "CreationTime": CREATED,
    }
    answer.update(extra)
    return answer


# CreateModel


def test_the_model_is_created_from_the_model_package_with_the_execution_role(
    sagemaker: Stubber, adapter: SageMakerTransforms
) -> None:
    # Given
    sagemaker.add_response("create_model", {"ModelArn": MODEL_ARN}, CREATE_MODEL)

    # When
    adapter.ensure_model(MODEL, CHAMPION_ARN)

    # Then: the fixture asserts the call was made


def test_a_model_that_exists_already_is_not_an_error(sagemaker: Stubber, adapter: SageMakerTransforms) -> None:
    # Given: SageMaker's answer when an earlier attempt (or the other stage) created it
    sagemaker.add_client_error(
        "create_model",
        service_error_code="ValidationException",
        service_message=f'Cannot create already existing model "{MODEL_ARN}".',
        http_status_code=400,
        expected_params=CREATE_MODEL,
    )

    # When / Then
    adapter.ensure_model(MODEL, CHAMPION_ARN)


@pytest.mark.parametrize(
    ("code", "status"),
    [("ThrottlingException", 400), ("InternalFailure", 500), ("ServiceUnavailable", 503)],
)
def test_a_throttled_or_failing_create_model_is_transient(
    sagemaker: Stubber, adapter: SageMakerTransforms, code: str, status: int
) -> None:
    # Given
    sagemaker.add_client_error(
        "create_model",
        service_error_code=code,
        service_message="Rate exceeded",
        http_status_code=status,
        expected_params=CREATE_MODEL,
    )

    # When / Then
    with pytest.raises(TransientAwsError, match=code):
        adapter.ensure_model(MODEL, CHAMPION_ARN)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ValidationException", f"Could not access model data at {PACKAGE_ARN}."),
        ("ValidationException", "Could not assume role arn:aws:iam::123456789012:role/model-promotion-transform."),
        ("AccessDeniedException", "User is not authorized to perform: sagemaker:CreateModel"),
        ("ResourceLimitExceeded", "The account-level service limit 'Number of models' is 1000."),
    ],
)
def test_any_other_create_model_refusal_is_a_configuration_error(
    sagemaker: Stubber, adapter: SageMakerTransforms, code: str, message: str
) -> None:
    # Given
    sagemaker.add_client_error(
        "create_model",
        service_error_code=code,
        service_message=message,
        http_status_code=400,
        expected_params=CREATE_MODEL,
    )

    # When / Then
    with pytest.raises(ConfigurationError, match=f"CreateModel for {CHAMPION_ARN} refused: {code}"):
        adapter.ensure_model(MODEL, CHAMPION_ARN)


# CreateTransformJob


def test_the_transform_job_scores_the_csv_batch_line_by_line_on_the_configured_instances(
    sagemaker: Stubber, adapter: SageMakerTransforms
) -> None:
    # Given
    sagemaker.add_response("create_transform_job", {"TransformJobArn": JOB_ARN}, CREATE_JOB)

    # When
    adapter.start_job(PLAN)


def test_a_job_request_built_from_a_plan_payload_has_the_same_shape(
    sagemaker: Stubber, adapter: SageMakerTransforms
) -> None:
    # Given: the plan as it arrives from the state machine
    plan = TransformPlan.from_payload(PLAN.to_payload())
    sagemaker.add_response("create_transform_job", {"TransformJobArn": JOB_ARN}, CREATE_JOB)

    # When
    adapter.start_job(plan)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (
            "ValidationException",
            "Job name must be unique within an AWS account and region, and a job with this name already exists "
            f"({JOB_ARN})",
        ),
        ("ResourceInUse", f"Transform job {JOB} already exists"),
    ],
    ids=["name-must-be-unique", "resource-in-use"],
)
def test_a_job_that_exists_already_is_a_retry_not_an_error(
    sagemaker: Stubber, adapter: SageMakerTransforms, code: str, message: str
) -> None:
    # Given
    sagemaker.add_client_error(
        "create_transform_job",
        service_error_code=code,
        service_message=message,
        http_status_code=400,
        expected_params=CREATE_JOB,
    )

    # When / Then
    adapter.start_job(PLAN)


@pytest.mark.parametrize("code", ["ThrottlingException", "TooManyRequestsException", "InternalServerError"])
def test_a_throttled_create_transform_job_is_transient(
    sagemaker: Stubber, adapter: SageMakerTransforms, code: str
) -> None:
    # Given
    sagemaker.add_client_error(
        "create_transform_job",
        service_error_code=code,
        service_message="Rate exceeded",
        http_status_code=400,
        expected_params=CREATE_JOB,
    )

    # When / Then
    with pytest.raises(TransientAwsError, match="create_transform_job"):
        adapter.start_job(PLAN)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ResourceNotFound", f"Could not find model {MODEL_ARN}."),
        ("ResourceLimitExceeded", "The account-level service limit 'ml.c5.xlarge for transform job usage' is 0."),
        ("ValidationException", "1 validation error detected: Value 'ml.c5.xlarge' failed to satisfy constraint"),
    ],
)
def test_any_other_create_transform_job_refusal_is_a_configuration_error(
    sagemaker: Stubber, adapter: SageMakerTransforms, code: str, message: str
) -> None:
    # Given
    sagemaker.add_client_error(
        "create_transform_job",
        service_error_code=code,
        service_message=message,
        http_status_code=400,
        expected_params=CREATE_JOB,
    )

    # When / Then
    with pytest.raises(ConfigurationError, match=f"CreateTransformJob {JOB} refused: {code}"):
        adapter.start_job(PLAN)


# DescribeTransformJob


def test_describing_a_job_returns_sagemakers_answer_without_response_metadata(
    sagemaker: Stubber, adapter: SageMakerTransforms
) -> None:
    # Given
    started = CREATED + timedelta(seconds=150)
    answer = described(
        "Completed",
        TransformStartTime=started,
        TransformEndTime=started + timedelta(seconds=95),
    )
    sagemaker.add_response("describe_transform_job", answer, DESCRIBE)

    # When
    result = adapter.describe_job(JOB)

    # Then
    assert result == answer
    assert result is not None
    assert "ResponseMetadata" not in result


def test_describing_a_failed_job_carries_the_failure_reason(sagemaker: Stubber, adapter: SageMakerTransforms) -> None:
    # Given
    sagemaker.add_response(
        "describe_transform_job", described("Failed", FailureReason="ClientError: See job logs"), DESCRIBE
    )

    # When
    result = adapter.describe_job(JOB)

    # Then
    assert result is not None
    assert (result["TransformJobStatus"], result["FailureReason"]) == ("Failed", "ClientError: See job logs")


def test_describing_a_job_that_does_not_exist_returns_none(sagemaker: Stubber, adapter: SageMakerTransforms) -> None:
    # Given
    sagemaker.add_client_error(
        "describe_transform_job",
        service_error_code="ValidationException",
        service_message=f"Could not find requested job with name {JOB}",
        http_status_code=400,
        expected_params=DESCRIBE,
    )

    # When / Then
    assert adapter.describe_job(JOB) is None


def test_a_throttled_describe_is_transient(sagemaker: Stubber, adapter: SageMakerTransforms) -> None:
    # Given
    sagemaker.add_client_error(
        "describe_transform_job",
        service_error_code="ThrottlingException",
        service_message="Rate exceeded",
        http_status_code=400,
        expected_params=DESCRIBE,
    )

    # When / Then
    with pytest.raises(TransientAwsError):
        adapter.describe_job(JOB)


def test_any_other_describe_refusal_is_a_configuration_error(sagemaker: Stubber, adapter: SageMakerTransforms) -> None:
    # Given
    sagemaker.add_client_error(
        "describe_transform_job",
        service_error_code="AccessDeniedException",
        service_message="User is not authorized to perform: sagemaker:DescribeTransformJob",
        http_status_code=400,
        expected_params=DESCRIBE,
    )

    # When / Then
    with pytest.raises(ConfigurationError, match=f"DescribeTransformJob {JOB} refused: AccessDeniedException"):
        adapter.describe_job(JOB)


# The whole start, in the order the service makes the calls


def test_a_first_start_and_a_retry_make_the_same_calls(sagemaker: Stubber, adapter: SageMakerTransforms) -> None:
    # Given: the first attempt creates both; the retry finds both
    sagemaker.add_response("create_model", {"ModelArn": MODEL_ARN}, CREATE_MODEL)
    sagemaker.add_response("create_transform_job", {"TransformJobArn": JOB_ARN}, CREATE_JOB)
    sagemaker.add_response("describe_transform_job", described(), DESCRIBE)
    sagemaker.add_client_error(
        "create_model",
        service_error_code="ValidationException",
        service_message=f'Cannot create already existing model "{MODEL_ARN}".',
        expected_params=CREATE_MODEL,
    )
    sagemaker.add_client_error(
        "create_transform_job",
        service_error_code="ValidationException",
        service_message="Job name must be unique within an AWS account and region, and a job with this name "
        f"already exists ({JOB_ARN})",
        expected_params=CREATE_JOB,
    )
    sagemaker.add_response("describe_transform_job", described("Completed"), {"TransformJobName": ANY})

    # When
    statuses = []
    for _ in range(2):
        adapter.ensure_model(PLAN.model_name, PLAN.package_arn)
        adapter.start_job(PLAN)
        answer = adapter.describe_job(PLAN.job_name)
        assert answer is not None
        statuses.append(answer["TransformJobStatus"])

    # Then
    assert statuses == ["InProgress", "Completed"]


def test_the_stubbed_client_checks_request_shapes_against_the_sagemaker_model(sagemaker: Stubber) -> None:
    """Guards the guard: a request botocore's model would refuse fails before it reaches the stub."""
    real = sagemaker.client
    sagemaker.add_response("create_model", {"ModelArn": MODEL_ARN}, {"ModelName": MODEL, "Containers": ANY})
    with pytest.raises(ParamValidationError):
        real.create_model(ModelName=MODEL, Containers=[{"ModelPackage": CHAMPION_ARN}])
    real.create_model(ModelName=MODEL, Containers=[{"ModelPackageName": CHAMPION_ARN}])
