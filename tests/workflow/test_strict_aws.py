"""The embedded AWS refuses what AWS refuses: each rule beyond moto (docs/embedded-aws.md), shown refusing.

Calls go to a running stack. Clients made with a role's credentials are checked as that role, with the
policies SAM generates from template.yaml (the stack's iam.json); an administrator's client is only validated.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError

from embedded_aws.client import StackClient
from embedded_aws.strict import sdk_hook

pytestmark = pytest.mark.workflow

PACKAGE_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/strict-checks/1"


@pytest.fixture(scope="module")
def checked(stack: StackClient) -> StackClient:
    """This test process checks its own calls as the stack does (the hook only ever adds refusals)."""
    sdk_hook.install(iam_path=stack.info["iam_path"])
    return stack


def role_client(stack: StackClient, function: str, service: str) -> Any:
    """A client signed with the credentials the function's role gives it, as Lambda hands them over."""
    principals = json.loads(Path(stack.info["iam_path"]).read_text())["principals"]
    (role,) = [arn for arn in principals if arn.endswith(f"-{function}Role")]
    config = Config(retries={"mode": "standard", "total_max_attempts": 1})
    return sdk_hook.client_as(
        role, service, region=stack.info["region"], endpoint_url=stack.info["aws_endpoint"], config=config
    )


def single_try_client(stack: StackClient, service: str, **config: Any) -> Any:
    """An administrator's client that makes one attempt, so a fault reaches the test instead of a retry."""
    return boto3.client(
        service,
        region_name=stack.info["region"],
        endpoint_url=stack.info["aws_endpoint"],
        aws_access_key_id="embedded",
        aws_secret_access_key="embedded",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}, **config),
    )


def error_of(call: Any, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]


# -- request validation (botocore's service models) -------------------------------------------------------


def test_a_client_token_longer_than_36_characters_is_refused_as_sagemaker_refuses_it(checked):
    error = error_of(
        checked.client("sagemaker").update_model_package,
        ModelPackageArn=PACKAGE_ARN,
        ModelApprovalStatus="Approved",
        ClientToken="a" * 64,
    )
    assert error["Code"] == "ValidationException"
    assert "clientToken" in error["Message"] and "36" in error["Message"]


def test_an_approval_description_on_two_lines_is_refused_by_its_java_pattern(checked):
    error = error_of(
        checked.client("sagemaker").update_model_package,
        ModelPackageArn=PACKAGE_ARN,
        ModelApprovalStatus="Approved",
        ApprovalDescription="approved\nby someone",
    )
    assert error["Code"] == "ValidationException" and "approvalDescription" in error["Message"]


def test_customer_metadata_beyond_its_limits_is_refused(checked):
    sagemaker = checked.client("sagemaker")
    for properties in ({f"k{i}": "v" for i in range(51)}, {"k": "v" * 257}, {"k": "O'Brien"}):
        error = error_of(
            sagemaker.update_model_package, ModelPackageArn=PACKAGE_ARN, CustomerMetadataProperties=properties
        )
        assert error["Code"] == "ValidationException" and "customerMetadataProperties" in error["Message"]


def test_an_execution_name_with_a_colon_or_over_80_characters_is_refused(checked):
    sfn = checked.client("stepfunctions")
    for name in ("group:v1", "g" * 81):
        error = error_of(sfn.start_execution, stateMachineArn=checked.state_machine_arn, name=name, input="{}")
        assert error["Code"] in ("ValidationException", "InvalidName")


# -- service limits moto ignores ------------------------------------------------------------------------


def test_a_standard_ssm_parameter_over_4096_bytes_is_refused_counting_bytes_not_characters(checked):
    ssm = checked.client("ssm")
    # 2,100 characters, 4,200 bytes: fits by characters, not by bytes.
    error = error_of(ssm.put_parameter, Name="/strict/too-big", Value="é" * 2100, Type="String", Overwrite=True)
    assert error["Code"] == "ValidationException" and "4096" in error["Message"]
    ssm.put_parameter(Name="/strict/fits", Value="é" * 2048, Type="String", Overwrite=True)


def test_the_ses_sandbox_refuses_mail_to_an_address_nobody_verified(checked):
    ses = checked.client("sesv2")
    error = error_of(
        ses.send_email,
        FromEmailAddress=checked.parameters["SenderAddress"],
        Destination={"ToAddresses": ["nobody.verified.this@example.com"]},
        Content={"Simple": {"Subject": {"Data": "hello"}, "Body": {"Text": {"Data": "hello"}}}},
    )
    assert error["Code"] == "MessageRejected"
    assert "nobody.verified.this@example.com" in error["Message"]


def test_an_app_client_refuses_a_sign_in_flow_it_does_not_enable(checked):
    cognito = checked.client("cognito-idp")
    error = error_of(
        cognito.initiate_auth,
        ClientId=checked.resources["ApprovalWebClient"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "olive.outsider@example.com", "PASSWORD": "Approve-Locally-1!"},
    )
    assert error["Code"] == "InvalidParameterException" and "not enabled" in error["Message"]


def test_an_app_client_refuses_to_write_an_attribute_its_write_attributes_leave_out(checked):
    # Given a client that may write only `name`, and a user signed in through it
    cognito = checked.client("cognito-idp")
    tokens = _signed_in_through_a_client_that(checked, "strict-write-attributes", WriteAttributes=["name"])

    # When she writes her own groups attribute, Then Cognito refuses; her name she may change
    error = error_of(
        cognito.update_user_attributes,
        AccessToken=tokens["AccessToken"],
        UserAttributes=[{"Name": "custom:groups", "Value": "approvers-prod"}],
    )
    assert error["Code"] == "NotAuthorizedException"
    cognito.update_user_attributes(AccessToken=tokens["AccessToken"], UserAttributes=[{"Name": "name", "Value": "O"}])


def _signed_in_through_a_client_that(stack: StackClient, name: str, **settings: Any) -> dict[str, str]:
    """The outsider's tokens from a new app client of the approvers' pool with these settings."""
    cognito = stack.client("cognito-idp")
    pool = stack.resources["ApproverUserPool"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool,
        ClientName=name,
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        **settings,
    )["UserPoolClient"]["ClientId"]
    return cognito.admin_initiate_auth(
        UserPoolId=pool,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "olive.outsider@example.com", "PASSWORD": "Approve-Locally-1!"},
    )["AuthenticationResult"]


# -- IAM: each function's role, as SAM generates it -------------------------------------------------------


def test_a_function_is_refused_what_its_role_does_not_allow_in_aws_words(checked):
    # The approval pages' role may not write the registry.
    error = error_of(
        role_client(checked, "ApprovalApiFunction", "sagemaker").update_model_package,
        ModelPackageArn=PACKAGE_ARN,
        ModelApprovalStatus="Approved",
    )
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"].startswith("User: arn:aws:sts::123456789012:assumed-role/")
    assert f"is not authorized to perform: sagemaker:UpdateModelPackage on resource: {PACKAGE_ARN}" in error["Message"]


def test_send_task_success_is_allowed_only_by_a_statement_on_every_resource(checked):
    # The approval pages' role grants SendTaskSuccess on "*": the call gets past IAM and meets the service,
    # which answers for the unknown token. The reconcile role has no such grant: IAM refuses first.
    allowed = role_client(checked, "ApprovalApiFunction", "stepfunctions")
    assert error_of(allowed.send_task_success, taskToken="not-a-token", output="{}")["Code"] != "AccessDeniedException"
    refused = role_client(checked, "ReconcileFunction", "stepfunctions")
    assert error_of(refused.send_task_success, taskToken="not-a-token", output="{}")["Code"] == "AccessDeniedException"


def test_a_role_may_mail_only_from_the_sender_address(checked):
    ses = role_client(checked, "RecordOutcomeFunction", "sesv2")
    error = error_of(
        ses.send_email,
        FromEmailAddress="someone.else@example.com",
        Destination={"ToAddresses": [checked.parameters["OperationsEmail"]]},
        Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}},
    )
    assert error["Code"] == "AccessDeniedException" and "ses:SendEmail" in error["Message"]


def test_each_function_runs_in_a_process_of_its_own_with_only_its_own_environment(checked):
    # Given the stack's Lambda execution environments (one per function was started at start-up)
    workers = []
    for status in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = status.read_bytes().split(b"\0")
            environ = (status.parent / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"embedded_aws.lambda_worker" in command:
            variables = dict(item.decode().split("=", 1) for item in environ if b"=" in item)
            if variables.get("AWS_ENDPOINT_URL") == checked.info["aws_endpoint"]:
                workers.append(variables)

    # Then each has its own function name and role credentials, and only its own template variables
    by_name = {w["AWS_LAMBDA_FUNCTION_NAME"]: w for w in workers}
    assert len(by_name) >= 11
    assert len({w["AWS_ACCESS_KEY_ID"] for w in by_name.values()}) == len(by_name)
    approval_api = next(w for n, w in by_name.items() if n.endswith("ApprovalApiFunction"))
    start_promotion = next(w for n, w in by_name.items() if n.endswith("StartPromotionFunction"))
    assert "STATE_MACHINE_ARN" in start_promotion and "STATE_MACHINE_ARN" not in approval_api
    assert "APPROVER_GROUP_PREFIX" in approval_api and "APPROVER_GROUP_PREFIX" not in start_promotion


# -- resource policies: the audit table's own policy, the signing key's policy --------------------------

AUDIT_KEY = {
    "modelPackageGroupName": {"S": "strict-audit"},
    "entryKey": {"S": "2026-11-21T12:00:00Z#v00000001#dev#approved"},
}


def test_no_role_may_update_or_delete_an_audit_entry_the_tables_own_policy_denies_it(checked):
    # Given the role that writes the audit log, and another that does not
    table = checked.resources["DecisionLogTable"]
    for function in ("RecordOutcomeFunction", "SweepApprovalsFunction"):
        dynamodb = role_client(checked, function, "dynamodb")

        # When it tries what would change or remove an entry: update, delete, a batch delete, PartiQL
        attempts = [
            (
                "dynamodb:UpdateItem",
                dynamodb.update_item,
                {
                    "TableName": table,
                    "Key": AUDIT_KEY,
                    "UpdateExpression": "SET #c = :c",
                    "ExpressionAttributeNames": {"#c": "comment"},
                    "ExpressionAttributeValues": {":c": {"S": "rewritten"}},
                },
            ),
            ("dynamodb:DeleteItem", dynamodb.delete_item, {"TableName": table, "Key": AUDIT_KEY}),
            (
                "dynamodb:BatchWriteItem",
                dynamodb.batch_write_item,
                {"RequestItems": {table: [{"DeleteRequest": {"Key": AUDIT_KEY}}]}},
            ),
            (
                "dynamodb:PartiQLUpdate",
                dynamodb.execute_statement,
                {"Statement": f'UPDATE "{table}" SET "comment" = \'x\' WHERE "modelPackageGroupName" = \'g\''},
            ),
            (
                "dynamodb:PartiQLDelete",
                dynamodb.execute_statement,
                {"Statement": f'DELETE FROM "{table}" WHERE "modelPackageGroupName" = \'g\''},
            ),
        ]
        for action, call, params in attempts:
            error = error_of(call, **params)

            # Then the table's resource policy refuses it, whatever the role's own policy says
            assert error["Code"] == "AccessDeniedException", (function, action)
            assert f"is not authorized to perform: {action}" in error["Message"]
            assert error["Message"].endswith("with an explicit deny in a resource-based policy"), error["Message"]


def test_the_audit_table_lets_record_outcome_read_the_chain_and_append_with_conditional_puts(checked):
    # Given RecordOutcome's role, which appends with one transaction of two conditional Puts
    table = checked.resources["DecisionLogTable"]
    dynamodb = role_client(checked, "RecordOutcomeFunction", "dynamodb")
    assert (
        dynamodb.query(
            TableName=table,
            KeyConditionExpression="modelPackageGroupName = :g",
            ExpressionAttributeValues={":g": {"S": "strict-audit#chain"}},
        )["Items"]
        == []
    )

    # When its transaction gets past IAM and the table's policy, Then DynamoDB itself answers (here: the
    # conditions, which demand items that do not exist, fail, so nothing is written)
    put = {"TableName": table, "ConditionExpression": "attribute_exists(entryKey)"}
    error = error_of(
        dynamodb.transact_write_items,
        TransactItems=[
            {"Put": {**put, "Item": AUDIT_KEY}},
            {"Put": {**put, "Item": {**AUDIT_KEY, "modelPackageGroupName": {"S": "strict-audit#chain"}}}},
        ],
    )
    assert error["Code"] == "TransactionCanceledException"


def signing_key_arn(stack: StackClient) -> str:
    return stack.client("kms").describe_key(KeyId=stack.resources["DecisionSigningKey"])["KeyMetadata"]["Arn"]


def test_only_the_approval_pages_may_sign_and_only_record_outcome_may_verify_as_the_key_policy_says(checked):
    # Given the decision signing key, whose key policy alone grants its use
    key = signing_key_arn(checked)
    record = {"KeyId": key, "MacAlgorithm": "HMAC_SHA_256", "Message": b"approved for test by theo.test"}

    # When the approval pages' role signs, Then RecordOutcome's role may verify the signature
    mac = role_client(checked, "ApprovalApiFunction", "kms").generate_mac(**record)["Mac"]
    assert role_client(checked, "RecordOutcomeFunction", "kms").verify_mac(**record, Mac=mac)["MacValid"] is True

    # And no other role may sign, RecordOutcome's included; nor may the approval pages' role verify
    for function in ("SweepApprovalsFunction", "RecordOutcomeFunction", "RequestApprovalFunction"):
        error = error_of(role_client(checked, function, "kms").generate_mac, **record)
        assert error["Code"] == "AccessDeniedException", function
        assert error["Message"].endswith(
            f"is not authorized to perform: kms:GenerateMac on resource: {key} because no resource-based policy "
            "allows the kms:GenerateMac action"
        ), error["Message"]
    error = error_of(role_client(checked, "ApprovalApiFunction", "kms").verify_mac, **record, Mac=mac)
    assert error["Code"] == "AccessDeniedException" and "kms:VerifyMac" in error["Message"]


def test_the_key_policy_is_read_as_kms_holds_it_now(checked):
    # Given the signing key's policy changed by an administrator to let nobody sign (PutKeyPolicy)
    kms, key = checked.client("kms"), signing_key_arn(checked)
    original = kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
    policy = json.loads(original)
    policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != "ApprovalPagesSign"]
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(policy))
    try:
        # Then the approval pages' role may no longer sign
        error = error_of(
            role_client(checked, "ApprovalApiFunction", "kms").generate_mac,
            KeyId=key,
            MacAlgorithm="HMAC_SHA_256",
            Message=b"m",
        )
        assert error["Code"] == "AccessDeniedException"
    finally:
        kms.put_key_policy(KeyId=key, PolicyName="default", Policy=original)
    assert role_client(checked, "ApprovalApiFunction", "kms").generate_mac(
        KeyId=key, MacAlgorithm="HMAC_SHA_256", Message=b"m"
    )["Mac"]


# -- fault injection -------------------------------------------------------------------------------------


def arm(stack: StackClient, service: str, operation: str, fault: str, count: int = 1, **extra: Any) -> None:
    answer = requests.post(
        f"{stack.api_url}/_local/faults",
        json={"service": service, "operation": operation, "fault": fault, "count": count, **extra},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text


@pytest.fixture
def faults(stack: StackClient):
    yield lambda *args, **kwargs: arm(stack, *args, **kwargs)
    requests.delete(f"{stack.api_url}/_local/faults", timeout=10)


def test_throttling_is_retried_by_the_sdk_and_surfaces_once_retries_run_out(stack, faults):
    ssm = stack.client("ssm")
    ssm.put_parameter(Name="/strict/faults", Value="v", Type="String", Overwrite=True)
    faults("ssm", "GetParameter", "throttle", count=2)
    assert ssm.get_parameter(Name="/strict/faults")["Parameter"]["Value"] == "v"  # retried by the SDK

    faults("ssm", "GetParameter", "throttle", count=10)
    error = error_of(ssm.get_parameter, Name="/strict/faults")
    assert error["Code"] == "ThrottlingException"


def test_an_injected_5xx_answers_as_the_service_answers_an_internal_error(stack, faults):
    sagemaker = single_try_client(stack, "sagemaker")
    faults("sagemaker", "ListModelPackageGroups", "error")
    with pytest.raises(ClientError) as caught:
        sagemaker.list_model_package_groups()
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_a_lost_response_leaves_the_request_applied_and_the_caller_uninformed(stack, faults):
    ssm = single_try_client(stack, "ssm")
    faults("ssm", "PutParameter", "lost")
    with pytest.raises(ConnectionClosedError):
        ssm.put_parameter(Name="/strict/lost", Value="applied", Type="String", Overwrite=True)
    assert ssm.get_parameter(Name="/strict/lost")["Parameter"]["Value"] == "applied"


def test_a_timeout_holds_the_answer_until_the_caller_gives_up_and_applies_nothing(stack, faults):
    ssm = single_try_client(stack, "ssm", read_timeout=1)
    faults("ssm", "PutParameter", "timeout", seconds=2)
    started = time.monotonic()
    with pytest.raises(ReadTimeoutError):
        ssm.put_parameter(Name="/strict/timed-out", Value="never", Type="String")
    assert time.monotonic() - started < 5
    assert error_of(ssm.get_parameter, Name="/strict/timed-out")["Code"] == "ParameterNotFound"


def test_a_fault_for_an_unknown_operation_is_refused_with_what_to_send(stack):
    answer = requests.post(
        f"{stack.api_url}/_local/faults",
        json={"service": "sagemaker", "operation": "approve_everything", "fault": "throttle"},
        timeout=10,
    )
    assert answer.status_code == 400 and "SendTaskSuccess" in answer.json()["message"]


def test_an_id_token_carries_only_the_attributes_its_client_may_read(checked):
    # Given a client that may read only the email, and a user with a name and a custom attribute
    import jwt

    cognito = checked.client("cognito-idp")
    pool = checked.resources["ApproverUserPool"]
    cognito.admin_update_user_attributes(
        UserPoolId=pool,
        Username="olive.outsider@example.com",
        UserAttributes=[{"Name": "custom:groups", "Value": "approvers-prod"}],
    )

    # When she signs in through it
    tokens = _signed_in_through_a_client_that(checked, "strict-read-attributes", ReadAttributes=["email"])

    # Then her ID token names her email, and neither her name nor the custom attribute
    claims = jwt.decode(tokens["IdToken"], options={"verify_signature": False})
    assert claims["email"] == "olive.outsider@example.com"
    assert "name" not in claims and "custom:groups" not in claims
    cognito.admin_delete_user_attributes(
        UserPoolId=pool, Username="olive.outsider@example.com", UserAttributeNames=["custom:groups"]
    )


def test_a_task_token_is_good_for_one_send(single_stage_stack, demo_assets):
    # Given a promotion whose approval wait was resumed by its approver
    from stack_helpers import register

    promotion = register(single_stage_stack, demo_assets, "strict-token")
    assert promotion.decide("dev", "approve", "fine").status_code == 200
    assert promotion.finish()["status"] == "SUCCEEDED"
    (token,) = promotion.task_tokens() - set()  # the approval wait's token (the only callback of one stage)

    # When the same token is sent again (what an SDK retry of a lost answer does)
    error = error_of(single_stage_stack.client("stepfunctions").send_task_success, taskToken=token, output="{}")

    # Then Step Functions answers that the task is closed
    assert error["Code"] == "TaskTimedOut"


def test_while_a_fault_is_armed_other_calls_pass_untouched_bodiless_ones_included(stack, faults):
    # Given a fault armed for some other operation
    faults("sagemaker", "ListModelPackageGroups", "error")
    s3 = single_try_client(stack, "s3", read_timeout=5)
    bucket = stack.resources["BatchDataBucket"]
    s3.put_object(Bucket=bucket, Key="strict/untouched.txt", Body=b"untouched")

    # When a GET without a body is sent, Then it is answered at once
    assert s3.get_object(Bucket=bucket, Key="strict/untouched.txt")["Body"].read() == b"untouched"
    assert s3.list_objects_v2(Bucket=bucket, Prefix="strict/")["KeyCount"] == 1


def test_a_transform_job_reads_s3_as_its_models_execution_role(stack):
    # Given a model whose execution role may not read S3 (the approval pages' role, say)
    principals = json.loads(Path(stack.info["iam_path"]).read_text())["principals"]
    (role,) = [arn for arn in principals if arn.endswith("-ApprovalApiFunctionRole")]
    sagemaker = stack.client("sagemaker")
    bucket = stack.parameters["ModelArtifactsBucketName"]
    sagemaker.create_model(
        ModelName="strict-wrong-role",
        ExecutionRoleArn=role,
        PrimaryContainer={"Image": "sklearn", "ModelDataUrl": f"s3://{bucket}/strict/model.tar.gz"},
    )

    # When a transform job runs it
    batch = stack.resources["BatchDataBucket"]
    sagemaker.create_transform_job(
        TransformJobName="strict-wrong-role",
        ModelName="strict-wrong-role",
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{batch}/x.csv"}}},
        TransformOutput={"S3OutputPath": f"s3://{batch}/strict-out"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )

    # Then the job fails as SageMaker's would: the role may not read the model
    def finished() -> dict[str, Any] | None:
        job = sagemaker.describe_transform_job(TransformJobName="strict-wrong-role")
        return job if job["TransformJobStatus"] != "InProgress" else None

    job = stack.wait_for("the transform job to end", finished, timeout=30)
    assert job["TransformJobStatus"] == "Failed"
    assert "AccessDenied" in job["FailureReason"]
