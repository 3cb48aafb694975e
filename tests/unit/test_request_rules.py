"""Requests AWS refuses for breaking their operation's model are refused by the embedded AWS too.

The constraints come from botocore's own service models (lengths, patterns, ranges, sizes, enums, required
members at every level); the messages are AWS's ValidationException wording, never with the value in them;
the patterns are Java's, and are matched as Java matches them.
"""

from __future__ import annotations

import functools
import logging
import random
import re
import uuid
from typing import Any

import botocore.session
import pytest
from botocore.model import OperationModel, ServiceModel

from embedded_aws.strict.request_rules import (
    UntranslatablePattern,
    java_pattern,
    translate_java_regex,
    validation_message,
    violations,
)

SESSION = botocore.session.get_session()
ACCOUNT = "123456789012"
PACKAGE_ARN = f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:model-package/churn-model/7"
STATE_MACHINE_ARN = f"arn:aws:states:eu-west-1:{ACCOUNT}:stateMachine:model-promotion"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/model-promotion-sagemaker"
# The services the embedded AWS serves (template.yaml and local/embedded_aws/).
SERVICES = (
    "sagemaker",
    "ssm",
    "dynamodb",
    "stepfunctions",
    "sesv2",
    "ses",
    "cognito-idp",
    "s3",
    "lambda",
    "sts",
    "scheduler",
    "sqs",
    "cloudwatch",
    "logs",
)


@functools.cache
def operation(service: str, name: str) -> OperationModel:
    return SESSION.get_service_model(service).operation_model(name)


def check(service: str, operation_name: str, /, **params: Any) -> list[str]:
    return violations(operation(service, operation_name), params)


def update_model_package(**overrides: Any) -> dict[str, Any]:
    """UpdateModelPackage as the promotion workflow sends it (adapters/sagemaker_registry.py)."""
    request: dict[str, Any] = {
        "ModelPackageArn": PACKAGE_ARN,
        "ModelApprovalStatus": "Approved",
        "CustomerMetadataProperties": {
            "promotion:stage": "uat",
            "promotion:approvedBy": "alice@example.com",
            "promotion:approvedAt": "2026-01-02T03:04:05Z",
        },
        "ApprovalDescription": "Approved for uat by alice@example.com",
        "ClientToken": str(uuid.uuid4()),
    }
    request.update(overrides)
    return request


def synthetic(shapes: dict[str, Any]) -> OperationModel:
    """An operation whose input shape is `Input` among these shapes: for shapes the real models lack."""
    model = {
        "metadata": {
            "apiVersion": "2020-01-01",
            "endpointPrefix": "synthetic",
            "jsonVersion": "1.1",
            "protocol": "json",
            "serviceId": "Synthetic",
            "signatureVersion": "v4",
            "targetPrefix": "Synthetic",
        },
        "operations": {
            "Do": {"name": "Do", "http": {"method": "POST", "requestUri": "/"}, "input": {"shape": "Input"}}
        },
        "shapes": shapes,
    }
    return ServiceModel(model, service_name="synthetic").operation_model("Do")


# SageMaker UpdateModelPackage: the call every promotion stage makes


def test_a_64_character_hex_client_token_is_refused_naming_client_token_and_36() -> None:
    # When
    found = check("sagemaker", "UpdateModelPackage", **update_model_package(ClientToken="ab" * 32))

    # Then
    assert found == [
        "Value at 'clientToken' failed to satisfy constraint: Member must have length less than or equal to 36"
    ]


def test_a_36_character_client_token_passes() -> None:
    assert check("sagemaker", "UpdateModelPackage", **update_model_package(ClientToken="0" * 36)) == []


def test_a_client_token_outside_its_character_set_is_refused_by_its_pattern() -> None:
    # When
    found = check("sagemaker", "UpdateModelPackage", **update_model_package(ClientToken="token_with_underscore"))

    # Then
    assert found == [
        "Value at 'clientToken' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-zA-Z0-9-]+"
    ]


@pytest.mark.parametrize("terminator", ["\n", "\r", "\r\n", "\u0085", "\u2028", "\u2029"])
def test_an_approval_description_with_a_line_terminator_is_refused_by_its_dot_star_pattern(terminator: str) -> None:
    # When
    found = check(
        "sagemaker", "UpdateModelPackage", **update_model_package(ApprovalDescription=f"line one{terminator}two")
    )

    # Then
    assert found == [
        "Value at 'approvalDescription' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: .*"
    ]


def test_an_approval_description_of_1025_characters_is_refused() -> None:
    # When
    found = check("sagemaker", "UpdateModelPackage", **update_model_package(ApprovalDescription="x" * 1025))

    # Then
    assert found == [
        "Value at 'approvalDescription' failed to satisfy constraint: "
        "Member must have length less than or equal to 1024"
    ]


def test_a_one_line_approval_description_of_1024_characters_passes() -> None:
    description = ("Approved for prod by Zoë Müller, with tabs\tand symbols !#$%&; " * 20)[:1024]

    assert check("sagemaker", "UpdateModelPackage", **update_model_package(ApprovalDescription=description)) == []


def test_51_customer_metadata_properties_are_refused_and_50_pass() -> None:
    fifty = {f"promotion:key{i}": f"value {i}" for i in range(50)}

    # When
    found = check(
        "sagemaker",
        "UpdateModelPackage",
        **update_model_package(CustomerMetadataProperties={**fifty, "one:more": "x"}),
    )

    # Then
    assert found == [
        "Value at 'customerMetadataProperties' failed to satisfy constraint: "
        "Member must have length less than or equal to 50"
    ]
    assert check("sagemaker", "UpdateModelPackage", **update_model_package(CustomerMetadataProperties=fifty)) == []


def test_a_metadata_key_of_129_characters_is_refused_at_its_entry_position() -> None:
    metadata = {"promotion:stage": "uat", "k" * 129: "value"}

    # When
    found = check("sagemaker", "UpdateModelPackage", **update_model_package(CustomerMetadataProperties=metadata))

    # Then
    assert found == [
        "Value at 'customerMetadataProperties.2.key' failed to satisfy constraint: "
        "Member must have length less than or equal to 128"
    ]


def test_a_metadata_value_of_257_characters_is_refused_and_256_passes() -> None:
    # When
    found = check(
        "sagemaker", "UpdateModelPackage", **update_model_package(CustomerMetadataProperties={"note": "v" * 257})
    )

    # Then
    assert found == [
        "Value at 'customerMetadataProperties.1.value' failed to satisfy constraint: "
        "Member must have length less than or equal to 256"
    ]
    assert (
        check("sagemaker", "UpdateModelPackage", **update_model_package(CustomerMetadataProperties={"note": "v" * 256}))
        == []
    )


def test_lengths_count_utf16_code_units_as_java_does() -> None:
    """Given a metadata value of 128 CJK Extension B letters (U+20000, outside the BMP: 256 UTF-16 units, AWS's
    maximum) and one of 129 (258 units, although Python's len() is 129): the second is refused."""
    letter = "\U00020000"

    # When
    at_limit = check(
        "sagemaker", "UpdateModelPackage", **update_model_package(CustomerMetadataProperties={"name": letter * 128})
    )
    over = check(
        "sagemaker", "UpdateModelPackage", **update_model_package(CustomerMetadataProperties={"name": letter * 129})
    )

    # Then
    assert at_limit == []
    assert over == [
        "Value at 'customerMetadataProperties.1.value' failed to satisfy constraint: "
        "Member must have length less than or equal to 256"
    ]


@pytest.mark.parametrize("value", ["approved!", "two\nlines", "tab\there", "semi;colon", "quote'"])
def test_a_metadata_value_outside_the_charset_is_refused_by_its_pattern(value: str) -> None:
    # When
    found = check("sagemaker", "UpdateModelPackage", **update_model_package(CustomerMetadataProperties={"note": value}))

    # Then
    assert found == [
        "Value at 'customerMetadataProperties.1.value' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ([\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@]*)${1,256}"
    ]


@pytest.mark.parametrize(
    "value",
    ["Zoë Müller", "approved by alice@example.com", "2026-01-02T03:04:05Z", "s3://bucket/key=1+2", "_.:/=+-@", "١٢٣"],
)
def test_letters_of_any_script_spaces_digits_and_the_allowed_symbols_pass_as_metadata(value: str) -> None:
    metadata = {"promotion:note é": value}

    assert check("sagemaker", "UpdateModelPackage", **update_model_package(CustomerMetadataProperties=metadata)) == []


def test_an_approval_status_outside_its_enum_is_refused_with_the_allowed_values() -> None:
    # When
    found = check("sagemaker", "UpdateModelPackage", **update_model_package(ModelApprovalStatus="Maybe"))

    # Then
    assert found == [
        "Value at 'modelApprovalStatus' failed to satisfy constraint: "
        "Member must satisfy enum value set: [Approved, Rejected, PendingManualApproval]"
    ]


def test_every_broken_constraint_is_reported_each_in_its_own_message() -> None:
    # When
    found = check(
        "sagemaker",
        "UpdateModelPackage",
        **update_model_package(ClientToken="_" * 40, ModelApprovalStatus="Maybe", ApprovalDescription="a\nb"),
    )

    # Then
    assert sorted(found) == sorted(
        [
            "Value at 'clientToken' failed to satisfy constraint: Member must have length less than or equal to 36",
            "Value at 'clientToken' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [a-zA-Z0-9-]+",
            "Value at 'modelApprovalStatus' failed to satisfy constraint: "
            "Member must satisfy enum value set: [Approved, Rejected, PendingManualApproval]",
            "Value at 'approvalDescription' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: .*",
        ]
    )


def test_a_nested_structure_missing_a_required_member_is_refused_by_its_path() -> None:
    # When
    found = check("sagemaker", "UpdateModelPackage", **update_model_package(ModelLifeCycle={"Stage": "uat"}))

    # Then
    assert found == ["Value at 'modelLifeCycle.stageStatus' failed to satisfy constraint: Member must not be null"]


def test_a_missing_required_member_inside_a_list_is_named_by_its_1_based_index() -> None:
    put = {"Put": {"TableName": "decision-log", "Item": {"entryKey": {"S": "a"}}}}

    # When
    found = check("dynamodb", "TransactWriteItems", TransactItems=[put, {"Put": {"TableName": "decision-log"}}])

    # Then
    assert found == ["Value at 'transactItems.2.put.item' failed to satisfy constraint: Member must not be null"]


def test_a_missing_top_level_required_member_is_refused_too() -> None:
    assert check("sagemaker", "UpdateModelPackage", ModelApprovalStatus="Approved") == [
        "Value at 'modelPackageArn' failed to satisfy constraint: Member must not be null"
    ]


def test_a_missing_idempotency_token_is_not_the_callers_error_since_botocore_fills_it() -> None:
    """Given StartPipelineExecution without its ClientRequestToken, required and an idempotencyToken in the
    model: botocore generates it, so nothing is refused."""
    shape = operation("sagemaker", "StartPipelineExecution").input_shape

    assert "ClientRequestToken" in shape.required_members
    assert shape.members["ClientRequestToken"].metadata.get("idempotencyToken") is True
    assert check("sagemaker", "StartPipelineExecution", PipelineName="churn-training") == []


# Step Functions


def test_an_execution_name_of_81_characters_is_refused_and_80_passes() -> None:
    # When
    found = check("stepfunctions", "StartExecution", stateMachineArn=STATE_MACHINE_ARN, name="n" * 81, input="{}")

    # Then
    assert found == ["Value at 'name' failed to satisfy constraint: Member must have length less than or equal to 80"]
    assert check("stepfunctions", "StartExecution", stateMachineArn=STATE_MACHINE_ARN, name="n" * 80) == []


def test_a_task_token_of_2049_characters_is_refused_and_2048_passes() -> None:
    # When
    found = check("stepfunctions", "SendTaskSuccess", taskToken="t" * 2049, output="{}")

    # Then
    assert found == [
        "Value at 'taskToken' failed to satisfy constraint: Member must have length less than or equal to 2048"
    ]
    assert check("stepfunctions", "SendTaskSuccess", taskToken="t" * 2048, output="{}") == []


def test_a_task_output_over_256_kib_is_refused() -> None:
    # When
    found = check("stepfunctions", "SendTaskSuccess", taskToken="token", output="x" * 262145)

    # Then
    assert found == [
        "Value at 'output' failed to satisfy constraint: Member must have length less than or equal to 262144"
    ]


# Collections, numbers, blobs


def test_a_list_over_its_maximum_is_refused() -> None:
    """Given a BatchWriteItem of 26 put requests to one table (AWS takes 25)."""
    writes = [{"PutRequest": {"Item": {"entryKey": {"S": str(i)}}}} for i in range(26)]

    # When
    found = check("dynamodb", "BatchWriteItem", RequestItems={"decision-log": writes})

    # Then
    assert found == [
        "Value at 'requestItems.1.value' failed to satisfy constraint: Member must have length less than or equal to 25"
    ]
    assert check("dynamodb", "BatchWriteItem", RequestItems={"decision-log": writes[:25]}) == []


def test_an_empty_list_under_its_minimum_is_refused() -> None:
    assert check("logs", "FilterLogEvents", logGroupName="/aws/lambda/fn", logStreamNames=[]) == [
        "Value at 'logStreamNames' failed to satisfy constraint: Member must have length greater than or equal to 1"
    ]


@pytest.mark.parametrize(
    ("limit", "constraint"),
    [
        (0, "Member must have value greater than or equal to 1"),
        (10001, "Member must have value less than or equal to 10000"),
    ],
)
def test_a_number_outside_its_range_is_refused(limit: int, constraint: str) -> None:
    assert check("logs", "FilterLogEvents", logGroupName="/aws/lambda/fn", limit=limit) == [
        f"Value at 'limit' failed to satisfy constraint: {constraint}"
    ]


def test_a_number_inside_a_list_of_structures_is_checked_by_its_path() -> None:
    # When
    found = check(
        "cloudwatch",
        "PutMetricData",
        Namespace="ModelPromotion",
        MetricData=[{"MetricName": "Approvals", "Value": 1.0, "StorageResolution": 0}],
    )

    # Then
    assert found == [
        "Value at 'metricData.1.storageResolution' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    ]


def test_a_blob_over_its_maximum_bytes_is_refused() -> None:
    """Given a hosted-UI logo of 128 KiB + 1 byte (Cognito takes 131072 bytes)."""
    # When
    found = check("cognito-idp", "SetUICustomization", UserPoolId="eu-west-1_abc", ImageFile=b"\x89PNG" + b"0" * 131069)

    # Then
    assert found == [
        "Value at 'imageFile' failed to satisfy constraint: Member must have length less than or equal to 131072"
    ]
    assert check("cognito-idp", "SetUICustomization", UserPoolId="eu-west-1_abc", ImageFile=b"0" * 131072) == []


def test_blobs_given_as_text_are_measured_in_utf8_bytes() -> None:
    blob = synthetic(
        {"Input": {"type": "structure", "members": {"Data": {"shape": "Data"}}}, "Data": {"type": "blob", "max": 4}}
    )

    assert violations(blob, {"Data": "ééé"}) == [
        "Value at 'data' failed to satisfy constraint: Member must have length less than or equal to 4"
    ]
    assert violations(blob, {"Data": "éé"}) == []


def test_a_union_with_two_members_set_is_refused_and_one_passes() -> None:
    union = synthetic(
        {
            "Input": {"type": "structure", "members": {"Choice": {"shape": "Choice"}}},
            "Choice": {"type": "structure", "union": True, "members": {"A": {"shape": "S"}, "B": {"shape": "S"}}},
            "S": {"type": "string"},
        }
    )

    assert violations(union, {"Choice": {"A": "a", "B": "b"}}) == [
        "Value at 'choice' failed to satisfy constraint: Member must have exactly one of its members set"
    ]
    assert violations(union, {"Choice": {"A": "a"}}) == []


def test_recursive_shapes_are_checked_at_every_depth() -> None:
    """Given DynamoDB's AttributeValue, which contains maps and lists of itself, with an attribute name of
    65536 characters (AWS takes 65535) three levels down."""
    deep = {"M": {"outer": {"L": [{"M": {"n" * 65536: {"S": "x"}}}]}}}

    # When
    found = check("dynamodb", "PutItem", TableName="decision-log", Item={"entryKey": {"S": "a"}, "nested": deep})

    # Then
    assert found == [
        "Value at 'item.2.value.m.1.value.l.1.m.1.key' failed to satisfy constraint: "
        "Member must have length less than or equal to 65535"
    ]


# Values never appear in messages


def test_no_message_contains_the_value_it_is_about() -> None:
    secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
    found = check(
        "sagemaker",
        "UpdateModelPackage",
        ModelPackageArn=f"not-an-arn-{secret}",
        ModelApprovalStatus=secret,
        ApprovalDescription=f"{secret}\n" * 40,
        CustomerMetadataProperties={f"{secret}!" * 4: f"{secret}!" * 8},
        ClientToken=secret + "_" + secret,
    )
    found += check("stepfunctions", "SendTaskSuccess", taskToken=secret * 60, output="{}")
    found += check("ssm", "PutParameter", Name=secret * 60, Value=secret, Type=secret)

    # When
    message = validation_message(found)

    # Then
    assert len(found) >= 10
    assert secret not in message
    assert not any(secret in f for f in found)


# The ValidationException message


def test_one_violation_is_one_validation_error() -> None:
    assert validation_message(["Value at 'a' failed to satisfy constraint: X"]) == (
        "1 validation error detected: Value at 'a' failed to satisfy constraint: X"
    )


def test_several_violations_are_joined_with_semicolons_as_aws_does() -> None:
    assert validation_message(["A", "B"]) == "2 validation errors detected: A; B"


def test_no_violations_have_no_message() -> None:
    with pytest.raises(ValueError, match="no violations"):
        validation_message([])


# Realistic valid requests pass

TAGS = [{"Key": "model-promotion:role", "Value": "champion"}]
VALID_REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("sagemaker", "UpdateModelPackage", update_model_package()),
    ("sagemaker", "DescribeModelPackage", {"ModelPackageName": PACKAGE_ARN}),
    ("sagemaker", "ListModelPackages", {"ModelPackageGroupName": "churn-model", "ModelApprovalStatus": "Approved"}),
    (
        "sagemaker",
        "CreateModel",
        {
            "ModelName": "churn-model-7-uat",
            "ExecutionRoleArn": ROLE_ARN,
            "Containers": [{"ModelPackageName": PACKAGE_ARN}],
        },
    ),
    (
        "sagemaker",
        "CreateTransformJob",
        {
            "TransformJobName": "churn-model-7-uat-champion-20260102",
            "ModelName": "churn-model-7-uat",
            "BatchStrategy": "MultiRecord",
            "TransformInput": {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://batches/churn/uat/input.csv"}},
                "ContentType": "text/csv",
                "SplitType": "Line",
            },
            "TransformOutput": {
                "S3OutputPath": "s3://batches/churn/uat/out/",
                "Accept": "text/csv",
                "AssembleWith": "Line",
            },
            "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
            "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "MODEL_STAGE": "uat\nmultiline is fine here"},
            "Tags": TAGS,
        },
    ),
    (
        "ssm",
        "PutParameter",
        {
            "Name": "/model-promotion/approved/churn-model/uat",
            "Value": '{"modelPackageArn": "' + PACKAGE_ARN + '", "stage": "uat"}',
            "Type": "String",
            "Overwrite": True,
            "Description": "Model version approved for this stage, written by the promotion workflow",
        },
    ),
    ("ssm", "GetParameter", {"Name": "/model-promotion/approved/churn-model/uat", "WithDecryption": False}),
    (
        "dynamodb",
        "PutItem",
        {
            "TableName": "model-promotion-decision-log",
            "Item": {
                "entryKey": {"S": "churn-model#7#uat#approved"},
                "modelPackageGroupName": {"S": "churn-model"},
                "version": {"N": "7"},
                "metrics": {"M": {"roc_auc": {"N": "0.91"}, "rmse": {"N": "12.1"}}},
                "approvers": {"L": [{"S": "alice@example.com"}]},
                "stages": {"SS": ["dev", "test"]},
                "gatePassed": {"BOOL": True},
                "note": {"NULL": True},
            },
            "ConditionExpression": "attribute_not_exists(entryKey)",
        },
    ),
    (
        "dynamodb",
        "Query",
        {
            "TableName": "model-promotion-decision-log",
            "KeyConditionExpression": "modelPackageGroupName = :g",
            "ExpressionAttributeValues": {":g": {"S": "churn-model"}},
            "ConsistentRead": True,
            "Limit": 100,
        },
    ),
    (
        "dynamodb",
        "UpdateItem",
        {
            "TableName": "model-promotion-approvals",
            "Key": {"token": {"S": "abc"}},
            "UpdateExpression": "SET #s = :s",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":s": {"S": "decided"}},
            "ReturnValues": "ALL_NEW",
        },
    ),
    (
        "stepfunctions",
        "StartExecution",
        {"stateMachineArn": STATE_MACHINE_ARN, "name": "churn-model-7-uat", "input": '{"stage": "uat"}'},
    ),
    ("stepfunctions", "SendTaskSuccess", {"taskToken": "AQB8AAAAKgAAAAMAAAAA" * 40, "output": '{"approved": true}'}),
    ("stepfunctions", "SendTaskFailure", {"taskToken": "AQB8AAAA", "error": "Rejected", "cause": "Not good enough"}),
    (
        "stepfunctions",
        "DescribeExecution",
        {"executionArn": STATE_MACHINE_ARN.replace(":stateMachine:", ":execution:")},
    ),
    (
        "sesv2",
        "SendEmail",
        {
            "FromEmailAddress": "model-promotion@example.com",
            "Destination": {"ToAddresses": ["alice@example.com", "Bob <bob@example.com>"]},
            "Content": {"Raw": {"Data": b"From: model-promotion@example.com\r\nSubject: Approve\r\n\r\nBody"}},
        },
    ),
    (
        "sesv2",
        "SendEmail",
        {
            "FromEmailAddress": "model-promotion@example.com",
            "Destination": {"ToAddresses": ["alice@example.com"]},
            "Content": {"Simple": {"Subject": {"Data": "Approve churn-model 7"}, "Body": {"Text": {"Data": "Hi\n"}}}},
        },
    ),
    (
        "ses",
        "SendEmail",
        {
            "Source": "model-promotion@example.com",
            "Destination": {"ToAddresses": ["alice@example.com"]},
            "Message": {"Subject": {"Data": "Approve"}, "Body": {"Html": {"Data": "<p>Approve?</p>\n"}}},
        },
    ),
    (
        "cognito-idp",
        "AdminCreateUser",
        {
            "UserPoolId": "eu-west-1_AbCdEf123",
            "Username": "alice@example.com",
            "UserAttributes": [
                {"Name": "email", "Value": "alice@example.com"},
                {"Name": "email_verified", "Value": "true"},
                {"Name": "name", "Value": "Alice Müller"},
            ],
            "MessageAction": "SUPPRESS",
        },
    ),
    (
        "cognito-idp",
        "AdminSetUserPassword",
        {
            "UserPoolId": "eu-west-1_AbCdEf123",
            "Username": "alice@example.com",
            "Password": "Correct-Horse-9!",
            "Permanent": True,
        },
    ),
    (
        "cognito-idp",
        "AdminAddUserToGroup",
        {"UserPoolId": "eu-west-1_AbCdEf123", "Username": "a", "GroupName": "approvers-uat"},
    ),
    ("cognito-idp", "ListGroups", {"UserPoolId": "eu-west-1_AbCdEf123"}),
    (
        "s3",
        "PutObject",
        {
            "Bucket": "model-promotion-batches",
            "Key": "churn/uat/input.csv",
            "Body": b"a,b\n1,2\n",
            "ContentType": "text/csv",
        },
    ),
    ("s3", "GetObject", {"Bucket": "model-promotion-batches", "Key": "churn/uat/predictions.csv.out"}),
    ("s3", "ListObjectsV2", {"Bucket": "model-promotion-batches", "Prefix": "churn/", "MaxKeys": 1000}),
    (
        "lambda",
        "Invoke",
        {"FunctionName": "model-promotion-RecordOutcome", "InvocationType": "Event", "Payload": b'{"a": 1}'},
    ),
    ("sts", "GetCallerIdentity", {}),
    ("sts", "AssumeRole", {"RoleArn": ROLE_ARN, "RoleSessionName": "model-promotion-test", "DurationSeconds": 3600}),
    (
        "scheduler",
        "CreateSchedule",
        {
            "Name": "model-promotion-sweep",
            "ScheduleExpression": "rate(1 hour)",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {
                "Arn": f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:model-promotion-Sweep",
                "RoleArn": ROLE_ARN,
                "Input": "{}",
            },
        },
    ),
    (
        "sqs",
        "SendMessage",
        {"QueueUrl": f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT}/model-promotion-dlq", "MessageBody": '{"a": 1}'},
    ),
    (
        "cloudwatch",
        "PutMetricData",
        {
            "Namespace": "ModelPromotion",
            "MetricData": [
                {
                    "MetricName": "Approvals",
                    "Dimensions": [{"Name": "Stage", "Value": "uat"}],
                    "Value": 1.0,
                    "Unit": "Count",
                }
            ],
        },
    ),
    (
        "logs",
        "PutLogEvents",
        {
            "logGroupName": "/aws/lambda/model-promotion-RecordOutcome",
            "logStreamName": "2026/01/02/[$LATEST]abcdef0123456789",
            "logEvents": [{"timestamp": 1767323045000, "message": "START RequestId: 1\nmultiline"}],
        },
    ),
    ("logs", "FilterLogEvents", {"logGroupName": "/aws/lambda/fn", "filterPattern": "ERROR", "limit": 50}),
]


@pytest.mark.parametrize(("service", "name", "params"), VALID_REQUESTS, ids=[f"{s}:{n}" for s, n, _ in VALID_REQUESTS])
def test_a_realistic_valid_request_has_no_violations(service: str, name: str, params: dict[str, Any]) -> None:
    assert check(service, name, **params) == []


def test_every_service_the_embedded_aws_serves_has_a_realistic_valid_request() -> None:
    assert {service for service, _, _ in VALID_REQUESTS} == set(SERVICES)


# Never a crash


@pytest.mark.parametrize(
    "params",
    [
        None,
        [],
        "text",
        {"ModelPackageArn": None},
        {"ModelPackageArn": 42, "ClientToken": b"bytes", "ApprovalDescription": ["a", "list"]},
        {"CustomerMetadataProperties": ["not", "a", "map"]},
        {"CustomerMetadataProperties": {1: object(), None: "x", "k": None}},
        {"AdditionalInferenceSpecificationsToAdd": {"not": "a list"}},
        {"AdditionalInferenceSpecificationsToAdd": [None, 3, "x", {"Containers": "no"}]},
        {"ModelLifeCycle": "not a structure"},
        {"UnknownMember": {"deep": [1, 2, 3]}},
        {"ApprovalDescription": "\ud800 lone surrogate"},
    ],
)
def test_any_input_gives_a_list_and_never_an_exception(params: Any) -> None:
    found = violations(operation("sagemaker", "UpdateModelPackage"), params)

    assert isinstance(found, list)
    assert all(isinstance(message, str) for message in found)


def test_random_requests_never_raise_and_never_echo_a_value() -> None:
    """Given 400 requests of random values (strings with terminators, emoji and surrogates, numbers, lists,
    maps, None) on the members of four operations: each gives a list of messages, none containing a value.
    (A seeded stand-in for a hypothesis property: hypothesis is not installed here.)"""
    rnd = random.Random(20260102)
    alphabet = "aZ09_-.:/=+@!\n\r\t é中😀\u2028\ud800\\"
    targets = [
        operation("sagemaker", "UpdateModelPackage"),
        operation("sagemaker", "CreateTransformJob"),
        operation("dynamodb", "PutItem"),
        operation("stepfunctions", "SendTaskSuccess"),
    ]

    def value(depth: int = 0) -> Any:
        kind = rnd.randrange(7 if depth < 3 else 4)
        if kind <= 1:
            return "secret-" + "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(0, 300)))
        if kind == 2:
            return rnd.choice([None, True, -1, 0, 10**12, 1.5, float("nan"), b"bytes"])
        if kind == 3:
            return rnd.choice(["Approved", "S3Prefix", "x" * 2049])
        if kind == 4:
            return [value(depth + 1) for _ in range(rnd.randrange(0, 4))]
        members = ["S", "M", "L", "Key", "Value", "DataSource", "S3DataSource", "S3Uri", "Stage", "secret-key"]
        return {rnd.choice(members): value(depth + 1) for _ in range(rnd.randrange(0, 4))}

    for _ in range(400):
        model = rnd.choice(targets)
        names = list(model.input_shape.members)
        params = {name: value() for name in rnd.sample(names, min(3, len(names)))}

        found = violations(model, params)

        assert all(isinstance(message, str) and "secret-" not in message for message in found)


def test_wrong_types_are_left_to_botocore_and_not_reported() -> None:
    assert check("sagemaker", "UpdateModelPackage", ModelPackageArn=PACKAGE_ARN, ClientToken=12345) == []


def test_an_impossibly_deep_item_stops_validation_with_a_warning_and_no_exception(
    caplog: pytest.LogCaptureFixture,
) -> None:
    deep: dict[str, Any] = {"S": "x"}
    for _ in range(5000):
        deep = {"M": {"a": deep}}

    # When
    with caplog.at_level(logging.WARNING, logger="embedded_aws.strict.request_rules"):
        found = check("dynamodb", "PutItem", TableName="t", Item={"a": deep})

    # Then
    assert found == []
    assert "stopped on an internal error" in caplog.text


def test_something_that_is_not_an_operation_model_gives_no_violations() -> None:
    assert violations(object(), {"a": 1}) == []  # type: ignore[arg-type]


def test_shapes_of_unknown_types_and_documents_are_skipped() -> None:
    odd = synthetic(
        {
            "Input": {
                "type": "structure",
                "members": {"Odd": {"shape": "Odd"}, "Doc": {"shape": "Doc"}, "When": {"shape": "When"}},
            },
            "Odd": {"type": "mystery", "max": 1},
            "Doc": {"type": "structure", "document": True, "members": {}},
            "When": {"type": "timestamp"},
        }
    )

    assert violations(odd, {"Odd": "too long", "Doc": {"any": ["json"]}, "When": "2026-01-02"}) == []


def test_a_pattern_that_cannot_be_translated_is_skipped_and_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    """Given a string shape whose pattern uses Java's (?U), which this module does not translate."""
    odd = synthetic(
        {
            "Input": {"type": "structure", "members": {"Name": {"shape": "Name"}}},
            "Name": {"type": "string", "max": 5, "pattern": "(?U)\\w+ untranslatable"},
        }
    )

    # When
    with caplog.at_level(logging.DEBUG, logger="embedded_aws.strict.request_rules"):
        found = violations(odd, {"Name": "too long"})

    # Then
    assert found == ["Value at 'name' failed to satisfy constraint: Member must have length less than or equal to 5"]
    assert "(?U)\\\\w+ untranslatable" in caplog.text
    assert "its check is skipped" in caplog.text


# Java regular expressions

# (pattern, value, what java.util.regex.Pattern.matches answers), each verified against OpenJDK 17.
JAVA_MATCHES = [
    (".*", "one line", True),
    (".*", "two\nlines", False),
    (".*", "cr\r", False),
    (".*", "nel\x85", False),
    (".*", "ls\u2028", False),
    (".*", "ps\u2029", False),
    (".*", "tab\tand\x0bvt", True),
    ("(?s).*", "two\nlines", True),
    ("(?d).*", "cr\r", True),
    ("[a-z]+", "abc", True),
    ("[a-z]+", "abc1", False),
    ("abc|abcdef", "abcdef", True),
    ("b", "abc", False),
    ("\\p{L}+", "éÅßΩ中", True),
    ("\\p{L}+", "a1", False),
    ("\\p{L}+", "a_", False),
    ("\\p{Alnum}+", "abc123", True),
    ("\\p{Alnum}+", "é", False),
    ("\\p{Alpha}", "ß", False),
    ("\\w+", "é", False),
    ("\\w+", "a_1", True),
    ("\\d", "٣", False),
    ("\\d", "7", True),
    ("\\s", "\xa0", False),
    ("\\s", "\x0b", True),
    ("\\p{Punct}", "!", True),
    ("\\p{Punct}", "¡", False),
    ("\\p{Print}+", "Hello, world!", True),
    ("\\p{Print}", "é", False),
    ("\\p{Graph}", " ", False),
    ("\\p{Space}", "\u2028", False),
    ("\\p{XDigit}+", "0aF", True),
    ("\\p{XDigit}", "g", False),
    ("\\p{Lower}", "é", False),
    ("\\p{Upper}", "Z", True),
    ("\\p{ASCII}*", "plain", True),
    ("\\p{ASCII}*", "naïve", False),
    ("\\p{IsAlphabetic}+", "éΩ中", True),
    ("\\p{javaLowerCase}", "é", True),
    ("\\p{IsLatin}+", "Zürich", True),
    ("\\p{IsLatin}", "Ω", False),
    ("\\p{InGreek}", "Ω", True),
    ("a$", "a\n", False),
    ("a$\n", "a\n", True),
    ("a$\r\n", "a\r\n", True),
    ("a\\Z\n", "a\n", True),
    ("a\\z\n", "a\n", False),
    ("(?m)a$\nb", "a\nb", True),
    ("^a$", "a", True),
    ("([\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@]*)${1,128}", "promotion:stage", True),
    ("([\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@]*)${1,128}", "bad!", False),
    ("([\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@]*)${1,128}", "line\n", False),
    ("[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\r\\n\\t]*", "emoji 😀 ok", True),
    ("[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\r\\n\\t]*", "bell\x07", False),
    ("[a-z&&[^aeiou]]+", "xyz", True),
    ("[a-z&&[^aeiou]]+", "bad", False),
    ("[]a]+", "]a]", True),
    ("[\\w-.]+", "a-b.c", True),
    ("[+--]+", "+,-", True),
    ("[^]a]", "b", True),
    ("(?i)straße", "STRAßE", True),
    ("(?i)é", "É", False),
    ("(?iu)é", "É", True),
    ("(?i)[a-c]+", "AbC", True),
    ("\\Qa.b\\E", "a.b", True),
    ("\\Qa.b\\E", "axb", False),
    ("(?x) a b  # comment", "ab", True),
    ("(a)\\1", "aa", True),
    ("\\0101\\x41\\u0041\\x{41}", "AAAA", True),
    ("x{2}{0,3}", "xx", True),
    ("x{2}{0,3}", "xxxx", False),
    ("[^\\P{L}\\p{L}]", "É", False),
    ("[^K[\\P{L}\\p{L}]]", "É", False),
    ("(?iu)[^K]", "\u212a", False),
    ("\\R", "\r\n", True),
    ("\\R{1,2}\n", "\r\n", False),
    ("[\\v-\\x0c]+", "\x0b\x0c", True),
    ("\\bfoo\\b", "foo", True),
    ("(?i)\\p{Lower}+", "aBc", True),
    ("(?m)^", "", False),
]


@pytest.mark.parametrize(("pattern", "value", "java"), JAVA_MATCHES)
def test_a_translated_pattern_matches_exactly_what_java_matches(pattern: str, value: str, java: bool) -> None:
    compiled = java_pattern(pattern)

    assert compiled is not None
    assert (compiled.fullmatch(value) is not None) is java


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(?U)\\w", "UNICODE_CHARACTER_CLASS"),
        ("(?c)a", "CANON_EQ"),
        ("\\b{g}", "\\b{g}"),
        ("a**", "dangling"),
        ("a{,2}", "illegal repetition"),
        ("(a", "unclosed group"),
        ("a)", "unmatched"),
        ("[a", "unclosed character class"),
        ("[z-a]", "illegal character range"),
        ("\\p{NoSuchProperty}", "unknown character property"),
        ("\\y", "illegal/unsupported escape"),
        ("\\k<missing>", "does not exist"),
    ],
)
def test_what_java_refuses_or_this_module_cannot_express_is_untranslatable(pattern: str, reason: str) -> None:
    with pytest.raises(UntranslatablePattern, match=re.escape(reason)):
        translate_java_regex(pattern)
    assert java_pattern(pattern) is None


def test_every_pattern_of_the_served_services_models_translates() -> None:
    """Known exceptions, with their reason, would be listed here; there are none in botocore 1.44's models
    of these services (of all botocore's models, only rbin's "...{11}{0,1011}$" needs Java's quirk of
    ignoring a quantifier after a quantifier, which is translated too)."""
    known_exceptions: dict[str, str] = {}
    patterns = {
        (service, shape.metadata["pattern"])
        for service in SERVICES
        for model in [SESSION.get_service_model(service)]
        for shape in map(model.shape_for, model.shape_names)
        if shape.metadata.get("pattern")
    }

    untranslated = sorted(
        (service, pattern)
        for service, pattern in patterns
        if java_pattern(pattern) is None and pattern not in known_exceptions
    )

    assert len(patterns) > 400
    assert untranslated == []
