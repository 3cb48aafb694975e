"""The embedded AWS's IAM engine refuses what AWS refuses: policy evaluation, the resource each call is authorized
on, and the AccessDenied AWS answers. Pure: no moto, no network."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from embedded_aws.strict.iam import (
    OPERATIONS,
    AuthRequest,
    PolicyError,
    Principal,
    UnknownOperation,
    access_denied_error,
    evaluate,
    evaluate_key_access,
    operations_table,
    requests_for,
)

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "functions" / "promotion" / "model_promotion"
STATE_MACHINE = REPO / "statemachines" / "promotion.asl.json"
REGION, ACCOUNT = "us-east-1", "123456789012"
MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:promotion"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/approvals"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/StartTransformRole/start-transform"
SENDER = "approvals@example.com"


def requests(service: str, operation: str, **params: Any) -> list[AuthRequest]:
    return requests_for(service, operation, params, region=REGION, account=ACCOUNT)


def only(service: str, operation: str, **params: Any) -> AuthRequest:
    found = requests(service, operation, **params)
    assert len(found) == 1, found
    return found[0]


def policy(*statements: Mapping[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def allowed(policies: list[dict[str, Any]], request: AuthRequest, **kwargs: Any) -> bool:
    return evaluate(policies, request, **kwargs).allowed


# Actions that support no resource type ------------------------------------------------------------------------


def test_a_statement_naming_the_state_machine_does_not_allow_send_task_success():
    # Given the statement the template had: SendTask* on the state machine's ARN
    role = [policy(allow(["states:SendTaskSuccess", "states:SendTaskFailure"], MACHINE))]
    # When the function reports a task's outcome
    success = only("stepfunctions", "SendTaskSuccess", taskToken="token", output="{}")
    failure = only("stepfunctions", "SendTaskFailure", taskToken="token", error="E", cause="c")
    # Then AWS authorizes them on "*", which the statement does not name
    assert success.resource == "*"
    assert not allowed(role, success)
    assert not allowed(role, failure)


def test_resource_star_allows_send_task_success_and_only_a_pattern_matching_star_does():
    # Given statements on "*", and on an ARN pattern that matches every state machine but not the literal "*"
    star = [policy(allow("states:SendTaskSuccess", "*"))]
    pattern = [policy(allow("states:SendTaskSuccess", "arn:aws:states:*:*:*"))]
    request = only("stepfunctions", "SendTaskSuccess", taskToken="token", output="{}")
    # Then only "*" covers the resource-less action
    assert allowed(star, request)
    assert not allowed(pattern, request)


def test_resource_less_actions_of_the_project_are_authorized_on_star():
    assert only("sagemaker", "ListModelPackageGroups").resource == "*"
    assert only("sagemaker", "ListModelPackages", ModelPackageGroupName="churn").resource == "*"
    assert only("stepfunctions", "SendTaskHeartbeat", taskToken="t").resource == "*"
    assert only("xray", "PutTraceSegments", TraceSegmentDocuments=["{}"]).resource == "*"


# Evaluation logic ---------------------------------------------------------------------------------------------


def test_an_explicit_deny_beats_an_allow_in_another_policy():
    # Given one policy that allows every DynamoDB action and another that denies DeleteItem
    role = [policy(allow("dynamodb:*", "*")), policy(deny("dynamodb:DeleteItem", TABLE, Sid="NoDeletes"))]
    # When the role deletes an item
    decision = evaluate(role, only("dynamodb", "DeleteItem", TableName="approvals", Key={}))
    # Then the deny decides, and says which statement
    assert not decision.allowed
    assert decision.explicit_deny
    assert decision.sid == "NoDeletes"
    assert decision.reason == "explicitly denied by an identity-based policy (statement NoDeletes)"


def test_with_no_statement_that_applies_the_request_is_implicitly_denied():
    decision = evaluate([policy(allow("dynamodb:GetItem", TABLE))], only("ssm", "GetParameter", Name="/x"))
    assert not decision.allowed
    assert not decision.explicit_deny
    assert decision.reason == "no identity-based policy allows the action"


def test_not_action_allows_every_action_but_the_ones_it_names():
    role = [policy({"Effect": "Allow", "NotAction": "dynamodb:Delete*", "Resource": "*"})]
    assert allowed(role, only("dynamodb", "PutItem", TableName="approvals", Item={}))
    assert not allowed(role, only("dynamodb", "DeleteItem", TableName="approvals", Key={}))


def test_not_resource_allows_every_resource_but_the_ones_it_names():
    role = [
        policy({"Effect": "Allow", "Action": "ssm:GetParameter", "NotResource": "arn:aws:ssm:*:*:parameter/secret*"})
    ]
    assert allowed(role, only("ssm", "GetParameter", Name="/public/x"))
    assert not allowed(role, only("ssm", "GetParameter", Name="/secret/x"))


def test_action_wildcards_match_case_insensitively():
    request = only("sagemaker", "DescribeModelPackage", ModelPackageName="churn")
    assert allowed([policy(allow("SageMaker:describe*", "*"))], request)
    assert allowed([policy(allow("sagemaker:Describe?odelPackage", "*"))], request)
    assert not allowed([policy(allow("sagemaker:Describe?Package", "*"))], request)


def test_resource_wildcards_match_case_sensitively_and_question_mark_is_one_character():
    request = only("s3", "GetObject", Bucket="data", Key="in/batch-1.csv")
    assert allowed([policy(allow("s3:GetObject", "arn:aws:s3:::data/*"))], request)
    assert allowed([policy(allow("s3:GetObject", "arn:aws:s3:::data/in/batch-?.csv"))], request)
    assert not allowed([policy(allow("s3:GetObject", "arn:aws:s3:::data/in/batch-??.csv"))], request)
    assert not allowed([policy(allow("s3:GetObject", "arn:aws:s3:::DATA/*"))], request)


def test_a_cloudformation_policies_entry_is_read_through_its_policy_document():
    role = [{"PolicyName": "inline", "PolicyDocument": policy(allow("ssm:GetParameter", "*"))}]
    assert allowed(role, only("ssm", "GetParameter", Name="/x"))


def test_a_policy_aws_would_refuse_fails_loudly_instead_of_matching_nothing():
    request = only("ssm", "GetParameter", Name="/x")
    with pytest.raises(PolicyError, match="unknown condition operator"):
        evaluate([policy(allow("ssm:*", "*", Condition={"StringEqualz": {"aws:SourceArn": "x"}}))], request)
    with pytest.raises(PolicyError, match="neither Action nor NotAction"):
        evaluate([policy({"Effect": "Allow", "Resource": "*"})], request)


# Conditions ---------------------------------------------------------------------------------------------------


def test_pass_role_is_allowed_only_when_passed_to_the_service_the_condition_names():
    # Given the template's PassRole statement for the transform execution role
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/TransformExecutionRole"
    statement = allow(
        "iam:PassRole", role_arn, Condition={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    )
    create_model = requests(
        "sagemaker",
        "CreateModel",
        ModelName="mp-churn-3",
        ExecutionRoleArn=role_arn,
        Containers=[{"ModelPackageName": "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3"}],
    )
    # When CreateModel passes the role, it is authorized as iam:PassRole to SageMaker
    pass_role = next(r for r in create_model if r.action == "iam:PassRole")
    assert pass_role.resource == role_arn
    assert pass_role.context == {"iam:PassedToService": "sagemaker.amazonaws.com"}
    assert allowed([policy(statement)], pass_role)
    # Then the same role passed to another service is denied
    to_scheduler = pass_role.with_context({"iam:PassedToService": "scheduler.amazonaws.com"})
    assert not allowed([policy(statement)], to_scheduler)


def test_condition_keys_match_by_name_case_insensitively_and_values_case_sensitively():
    request = only("cloudwatch", "PutMetricData", Namespace="ModelPromotion", MetricData=[])
    assert allowed(
        [
            policy(
                allow(
                    "cloudwatch:PutMetricData",
                    "*",
                    Condition={"StringEquals": {"CloudWatch:Namespace": "ModelPromotion"}},
                )
            )
        ],
        request,
    )
    assert not allowed(
        [
            policy(
                allow(
                    "cloudwatch:PutMetricData",
                    "*",
                    Condition={"StringEquals": {"cloudwatch:namespace": "modelpromotion"}},
                )
            )
        ],
        request,
    )
    ignore_case = {"StringEqualsIgnoreCase": {"cloudwatch:namespace": "modelpromotion"}}
    assert allowed([policy(allow("cloudwatch:PutMetricData", "*", Condition=ignore_case))], request)


def test_values_of_one_key_are_ored_and_keys_and_operators_are_anded():
    request = AuthRequest("x:Do", "*", {"k1": "b", "k2": "c"})
    either = {"StringEquals": {"k1": ["a", "b"]}}
    both = {"StringEquals": {"k1": "b"}, "StringLike": {"k2": "d*"}}
    assert allowed([policy(allow("x:Do", "*", Condition=either))], request)
    assert not allowed([policy(allow("x:Do", "*", Condition=both))], request)


def test_a_condition_on_an_absent_key_fails_except_for_negated_operators_ifexists_and_null():
    request = AuthRequest("x:Do", "*", {"present": "v"})

    def holds(condition: dict[str, Any]) -> bool:
        return allowed([policy(allow("x:Do", "*", Condition=condition))], request)

    assert not holds({"StringEquals": {"absent": "v"}})
    assert not holds({"ArnLike": {"aws:SourceArn": "arn:*"}})
    assert holds({"StringNotEquals": {"absent": "v"}})  # IAM User Guide: a negated operator holds
    assert holds({"StringEqualsIfExists": {"absent": "v"}})
    assert not holds({"StringEqualsIfExists": {"present": "other"}})
    assert holds({"Null": {"absent": "true"}})
    assert holds({"Null": {"present": "false"}})
    assert not holds({"Null": {"present": "true"}})


def test_negated_operators_with_several_values_hold_only_when_none_matches():
    request = AuthRequest("x:Do", "*", {"k": "b"})
    assert not allowed([policy(allow("x:Do", "*", Condition={"StringNotEquals": {"k": ["a", "b"]}}))], request)
    assert allowed([policy(allow("x:Do", "*", Condition={"StringNotLike": {"k": ["a*", "c*"]}}))], request)


def test_set_operators_on_multivalued_keys():
    request = AuthRequest("x:Do", "*", {"tags": ["team", "cost"]})

    def holds(condition: dict[str, Any], on: AuthRequest = request) -> bool:
        return allowed([policy(allow("x:Do", "*", Condition=condition))], on)

    assert holds({"ForAnyValue:StringEquals": {"tags": ["cost", "owner"]}})
    assert not holds({"ForAllValues:StringEquals": {"tags": ["cost", "owner"]}})
    assert holds({"ForAllValues:StringEquals": {"tags": ["cost", "team", "owner"]}})
    empty = AuthRequest("x:Do", "*")
    assert holds({"ForAllValues:StringEquals": {"tags": ["cost"]}}, empty)  # vacuously true, as AWS documents
    assert not holds({"ForAnyValue:StringEquals": {"tags": ["cost"]}}, empty)


def test_numeric_bool_arn_and_date_operators():
    request = AuthRequest(
        "x:Do", "*", {"n": 5, "b": True, "arn": MACHINE, "when": "2030-01-02T00:00:00Z", "ip": "10.0.0.7"}
    )

    def holds(condition: dict[str, Any]) -> bool:
        return allowed([policy(allow("x:Do", "*", Condition=condition))], request)

    assert holds({"NumericLessThan": {"n": "10"}, "NumericGreaterThanEquals": {"n": "5"}})
    assert not holds({"NumericEquals": {"n": "6"}})
    assert holds({"Bool": {"b": "true"}})
    assert holds({"ArnLike": {"arn": "arn:aws:states:*:123456789012:stateMachine:*"}})
    assert holds({"ArnEquals": {"arn": MACHINE}})
    assert not holds({"ArnLike": {"arn": "arn:aws:states:*:999999999999:*"}})
    assert holds({"ArnNotLike": {"arn": "arn:aws:lambda:*"}})
    assert holds({"DateGreaterThan": {"when": "2029-12-31T00:00:00Z"}})
    assert holds({"IpAddress": {"ip": "10.0.0.0/24"}})


# SES: the sender and, in the sandbox, every recipient ---------------------------------------------------------


def ses_send(to: list[str]) -> list[AuthRequest]:
    return requests(
        "sesv2",
        "SendEmail",
        FromEmailAddress=SENDER,
        Destination={"ToAddresses": to},
        Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}},
    )


def test_ses_authorizes_the_sender_and_each_recipient_identity():
    found = ses_send(["lead@corp.example", "ops@corp.example"])
    assert [r.resource for r in found] == [
        f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/{SENDER}",
        f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/lead@corp.example",
        f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/ops@corp.example",
    ]
    assert found[1].alternatives == (f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/corp.example",)
    assert found[0].context["ses:FromAddress"] == SENDER
    assert found[0].context["ses:Recipients"] == ["lead@corp.example", "ops@corp.example"]


def test_ses_denies_an_unverified_recipient_when_the_policy_names_only_the_sender_identity():
    # Given the template's statement: SendEmail on the sender's identity only
    role = [policy(allow(["ses:SendEmail", "ses:SendRawEmail"], f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/{SENDER}"))]
    # When a notice goes to a recipient
    sender, recipient = ses_send(["lead@corp.example"])
    # Then the sender is allowed and the recipient is not
    assert allowed(role, sender)
    assert not allowed(role, recipient)


def test_ses_allows_any_identity_when_the_from_address_condition_matches():
    condition = {"StringEquals": {"ses:FromAddress": SENDER}}
    role = [policy(allow("ses:SendEmail", f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/*", Condition=condition))]
    assert all(allowed(role, r) for r in ses_send(["lead@corp.example"]))


def test_ses_denies_when_the_from_address_condition_names_another_sender():
    condition = {"StringEquals": {"ses:FromAddress": "someone-else@example.com"}}
    role = [policy(allow("ses:SendEmail", f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/*", Condition=condition))]
    assert not any(allowed(role, r) for r in ses_send(["lead@corp.example"]))


def test_ses_accepts_a_policy_on_the_recipients_domain_identity():
    role = [policy(allow("ses:SendEmail", f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/*example*"))]
    assert all(allowed(role, r) for r in ses_send(["lead@corp.example"]))
    domain_only = [policy(allow("ses:SendEmail", f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/corp.example"))]
    assert allowed(domain_only, ses_send(["lead@corp.example"])[1])


def test_sesv2_raw_content_is_authorized_as_send_raw_email_and_reads_the_display_name():
    found = requests(
        "sesv2",
        "SendEmail",
        FromEmailAddress=f"Model approvals <{SENDER}>",
        Destination={"ToAddresses": ["lead@corp.example"]},
        Content={"Raw": {"Data": b"From: x\r\n\r\nbody"}},
    )
    assert {r.action for r in found} == {"ses:SendRawEmail"}
    assert found[0].context["ses:FromDisplayName"] == "Model approvals"
    assert found[0].context["ses:FromAddress"] == SENDER


def test_ses_v1_raw_email_without_destinations_reads_the_recipients_from_the_headers():
    message = b"From: approvals@example.com\r\nTo: a@corp.example\r\nCc: b@corp.example\r\nSubject: s\r\n\r\nbody"
    found = requests("ses", "SendRawEmail", RawMessage={"Data": message})
    assert [r.resource.rsplit("/", 1)[1] for r in found] == [SENDER, "a@corp.example", "b@corp.example"]


def test_outside_the_sandbox_only_the_sender_identity_is_authorized():
    params = {"FromEmailAddress": SENDER, "Destination": {"ToAddresses": ["a@corp.example"]}, "Content": {}}
    found = requests_for("sesv2", "SendEmail", params, region=REGION, account=ACCOUNT, ses_sandbox=False)
    assert [r.resource.rsplit("/", 1)[1] for r in found] == [SENDER]


# DynamoDB, SSM, S3 --------------------------------------------------------------------------------------------


def test_dynamodb_put_item_granted_does_not_cover_delete_item():
    # Given StartTransform's statement: PutItem only
    role = [policy(allow("dynamodb:PutItem", TABLE))]
    # Then its recovery path's DeleteItem is denied
    assert allowed(role, only("dynamodb", "PutItem", TableName="approvals", Item={}))
    assert not allowed(role, only("dynamodb", "DeleteItem", TableName="approvals", Key={}))


def test_dynamodb_query_on_an_index_needs_the_index_arn():
    request = only(
        "dynamodb", "Query", TableName="approvals", IndexName="pending-by-expiry", KeyConditionExpression="x"
    )
    assert request.resource == f"{TABLE}/index/pending-by-expiry"
    assert not allowed([policy(allow("dynamodb:Query", TABLE))], request)
    assert allowed([policy(allow("dynamodb:Query", [TABLE, f"{TABLE}/index/*"]))], request)
    assert only("dynamodb", "Query", TableName="approvals", KeyConditionExpression="x").resource == TABLE


def test_dynamodb_batches_and_transactions_are_authorized_per_table_and_per_item():
    batch = requests("dynamodb", "BatchGetItem", RequestItems={"approvals": {"Keys": []}, "decisions": {"Keys": []}})
    assert [(r.action, r.resource.rsplit("/", 1)[1]) for r in batch] == [
        ("dynamodb:BatchGetItem", "approvals"),
        ("dynamodb:BatchGetItem", "decisions"),
    ]
    transaction = requests(
        "dynamodb",
        "TransactWriteItems",
        TransactItems=[
            {"Put": {"TableName": "approvals", "Item": {}}},
            {"Delete": {"TableName": "decisions", "Key": {}}},
        ],
    )
    assert [(r.action, r.resource.rsplit("/", 1)[1]) for r in transaction] == [
        ("dynamodb:PutItem", "approvals"),
        ("dynamodb:DeleteItem", "decisions"),
    ]


def test_partiql_statements_are_authorized_by_their_verb_on_the_table_they_name():
    def authorized(statement: str) -> tuple[str, str]:
        request = only("dynamodb", "ExecuteStatement", Statement=statement)
        return request.action, request.resource.split(":table/", 1)[1]

    assert authorized('UPDATE "decisions" SET "comment" = \'x\' WHERE "entryKey" = \'k\'') == (
        "dynamodb:PartiQLUpdate",
        "decisions",
    )
    assert authorized("delete from decisions where entryKey = 'k'") == ("dynamodb:PartiQLDelete", "decisions")
    assert authorized("INSERT INTO \"decisions\" VALUE {'k': 1}") == ("dynamodb:PartiQLInsert", "decisions")
    assert authorized('SELECT * FROM "approvals"."pending-by-expiry" WHERE x = 1') == (
        "dynamodb:PartiQLSelect",
        "approvals/index/pending-by-expiry",
    )
    batch = requests(
        "dynamodb",
        "BatchExecuteStatement",
        Statements=[{"Statement": 'DELETE FROM "decisions" WHERE a = 1'}, {"Statement": 'SELECT a FROM "approvals"'}],
    )
    assert [r.action for r in batch] == ["dynamodb:PartiQLDelete", "dynamodb:PartiQLSelect"]
    with pytest.raises(UnknownOperation, match="PartiQL statement"):
        requests("dynamodb", "ExecuteStatement", Statement="EXISTS(SELECT * FROM t)")


def test_a_tables_resource_policy_deny_refuses_every_principal_whatever_its_role_allows():
    # Given the audit table's policy (template.yaml), and a role that may do anything with DynamoDB
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/decisions"
    append_only = policy(
        {
            "Sid": "AuditEntriesAreNeverChangedOrDeleted",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:PartiQL*"],
            "Resource": "*",
        }
    )
    admin = [policy(allow("dynamodb:*", "*"))]
    caller = Principal(arn=SESSION)

    def decide(operation: str, **params: Any) -> Any:
        (request,) = requests("dynamodb", operation, **params)
        return evaluate(admin, request, resource_policy=append_only, principal=caller)

    # Then updates, deletes and batch writes are refused by the table's own policy, appends and reads are not
    for refused in (
        decide("UpdateItem", TableName="decisions", Key={}),
        decide("DeleteItem", TableName="decisions", Key={}),
        decide("BatchWriteItem", RequestItems={"decisions": []}),
        decide("ExecuteStatement", Statement="DELETE FROM decisions WHERE a = 1"),
    ):
        assert not refused.allowed and refused.explicit_deny and refused.policy_type == "resource-based"
        assert refused.sid == "AuditEntriesAreNeverChangedOrDeleted"
    assert decide("PutItem", TableName="decisions", Item={}).allowed
    assert decide("Query", TableName="decisions").allowed
    assert requests("dynamodb", "Query", TableName="decisions")[0].resource == table
    delete = only("dynamodb", "DeleteItem", TableName="decisions", Key={})
    denied = decide("DeleteItem", TableName="decisions", Key={})
    assert access_denied_error("dynamodb", "DeleteItem", SESSION, delete, denied)["Error"]["Message"] == (
        f"User: {SESSION} is not authorized to perform: dynamodb:DeleteItem on resource: {table} with an explicit "
        "deny in a resource-based policy"
    )


# KMS: the key policy decides (KMS Developer Guide, "Key policies")

KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SIGNER = f"arn:aws:iam::{ACCOUNT}:role/ApprovalApiFunctionRole"
SIGNER_SESSION = Principal(arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/ApprovalApiFunctionRole/approval-api")
VERIFIER_SESSION = Principal(arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/RecordOutcomeFunctionRole/record-outcome")
ROOT = f"arn:aws:iam::{ACCOUNT}:root"


def key_policy(*statements: Mapping[str, Any]) -> dict[str, Any]:
    return policy(
        {
            "Sid": "AdministerButNeverSign",
            "Effect": "Allow",
            "Principal": {"AWS": ROOT},
            "Action": ["kms:Describe*", "kms:Put*", "kms:Get*"],
            "Resource": "*",
        },
        {"Sid": "ApprovalPagesSign", "Effect": "Allow", "Principal": {"AWS": SIGNER}, "Action": "kms:GenerateMac"},
        *statements,
    )


def mac(operation: str, **params: Any) -> AuthRequest:
    return only("kms", operation, KeyId=KEY, MacAlgorithm="HMAC_SHA_256", Message=b"m", **params)


def test_kms_mac_calls_are_authorized_on_the_key_arn_with_the_algorithm_and_caller_account():
    request = mac("GenerateMac")
    assert (request.action, request.resource) == ("kms:GenerateMac", KEY)
    assert request.context == {"kms:CallerAccount": ACCOUNT, "kms:MacAlgorithm": "HMAC_SHA_256"}
    assert only("kms", "VerifyMac", KeyId="1234abcd-12ab-34cd-56ef-1234567890ab", Mac=b"x").resource == KEY
    with pytest.raises(UnknownOperation, match="alias"):
        requests("kms", "GenerateMac", KeyId="alias/decisions", MacAlgorithm="HMAC_SHA_256")


def test_a_key_policy_that_names_the_role_allows_it_without_any_iam_policy():
    decision = evaluate_key_access([], mac("GenerateMac"), key_policy(), principal=SIGNER_SESSION)
    assert decision.allowed and decision.sid == "ApprovalPagesSign" and decision.policy_type == "resource-based"


def test_without_a_key_policy_grant_no_iam_policy_allows_a_key_to_be_used():
    # Given a role whose IAM policy allows every KMS action on every key, and a key policy that neither names
    # it nor enables IAM policies for this action
    everything = [policy(allow("kms:*", "*"))]
    decision = evaluate_key_access(everything, mac("GenerateMac"), key_policy(), principal=VERIFIER_SESSION)
    assert not decision.allowed and not decision.explicit_deny and decision.policy_type == "resource-based"
    error = access_denied_error("kms", "GenerateMac", VERIFIER_SESSION.arn, mac("GenerateMac"), decision)
    assert error["Error"] == {
        "Code": "AccessDeniedException",
        "Message": f"User: {VERIFIER_SESSION.arn} is not authorized to perform: kms:GenerateMac on resource: {KEY} "
        "because no resource-based policy allows the kms:GenerateMac action",
    }
    # Nor may the signer verify: its grant names GenerateMac only
    assert not evaluate_key_access(
        everything, mac("VerifyMac", Mac=b"x"), key_policy(), principal=SIGNER_SESSION
    ).allowed


def test_a_key_policy_that_names_the_account_enables_iam_policies_which_then_decide():
    enabling = key_policy(
        {"Sid": "EnableIamPolicies", "Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:VerifyMac"}
    )
    verify = mac("VerifyMac", Mac=b"x")
    allowed = evaluate_key_access([policy(allow("kms:VerifyMac", KEY))], verify, enabling, principal=VERIFIER_SESSION)
    assert allowed.allowed and "which the key policy enables (statement EnableIamPolicies)" in allowed.reason
    refused = evaluate_key_access([], verify, enabling, principal=VERIFIER_SESSION)
    assert not refused.allowed and refused.reason == "no identity-based policy allows the action"


def test_an_explicit_deny_in_the_key_policy_or_in_iam_beats_the_key_policys_grant():
    denying_key = key_policy({"Sid": "NoSigning", "Effect": "Deny", "Principal": "*", "Action": "kms:GenerateMac"})
    decision = evaluate_key_access([], mac("GenerateMac"), denying_key, principal=SIGNER_SESSION)
    assert not decision.allowed and decision.explicit_deny and decision.sid == "NoSigning"
    denying_iam = [policy(deny("kms:*", "*", Sid="NoKms"))]
    decision = evaluate_key_access(denying_iam, mac("GenerateMac"), key_policy(), principal=SIGNER_SESSION)
    assert not decision.allowed and decision.explicit_deny and decision.policy_type == "identity-based"


def test_key_policy_conditions_are_evaluated_against_the_requests_keys():
    conditional = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": SIGNER},
            "Action": "kms:GenerateMac",
            "Condition": {"StringEquals": {"kms:MacAlgorithm": "HMAC_SHA_512"}},
        }
    )
    assert not evaluate_key_access([], mac("GenerateMac"), conditional, principal=SIGNER_SESSION).allowed
    other = only("kms", "GenerateMac", KeyId=KEY, MacAlgorithm="HMAC_SHA_512", Message=b"m")
    assert evaluate_key_access([], other, conditional, principal=SIGNER_SESSION).allowed


def test_ssm_parameter_arns_have_one_slash_whether_or_not_the_name_starts_with_one():
    assert only("ssm", "GetParameter", Name="/model-promotion/churn/prod").resource == (
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/model-promotion/churn/prod"
    )
    assert only("ssm", "GetParameter", Name="plain").resource == f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/plain"
    assert only("ssm", "GetParameter", Name="/a/b:3").resource.endswith(":parameter/a/b")
    by_path = only("ssm", "GetParametersByPath", Path="/model-promotion", Recursive=True)
    assert by_path.resource == f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/model-promotion"
    assert by_path.context == {"ssm:Recursive": True}
    # The template's pattern parameter${ParameterPrefix}/* covers the prefix's parameters
    role = [policy(allow("ssm:GetParameter", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/model-promotion/*"))]
    assert allowed(role, only("ssm", "GetParameter", Name="/model-promotion/churn/prod"))


def test_s3_head_object_is_authorized_as_get_object_and_list_objects_as_list_bucket():
    head = only("s3", "HeadObject", Bucket="data", Key="out/batch.csv.out")
    assert (head.action, head.resource) == ("s3:GetObject", "arn:aws:s3:::data/out/batch.csv.out")
    listing = only("s3", "ListObjectsV2", Bucket="data", Prefix="out/")
    assert (listing.action, listing.resource, listing.context) == (
        "s3:ListBucket",
        "arn:aws:s3:::data",
        {"s3:prefix": "out/"},
    )
    assert only("s3", "GetObject", Bucket="data", Key="k", VersionId="v1").action == "s3:GetObjectVersion"


# Lambda, Step Functions, SageMaker ----------------------------------------------------------------------------


def test_lambda_invoke_resolves_a_name_an_arn_a_partial_arn_and_a_qualifier():
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:record-outcome"
    assert only("lambda", "Invoke", FunctionName="record-outcome").resource == function
    assert only("lambda", "Invoke", FunctionName=function).resource == function
    assert only("lambda", "Invoke", FunctionName=f"{ACCOUNT}:function:record-outcome").resource == function
    assert only("lambda", "Invoke", FunctionName="record-outcome:live").resource == f"{function}:live"
    assert only("lambda", "Invoke", FunctionName=function, Qualifier="3").resource == f"{function}:3"
    other_region = "arn:aws:lambda:eu-west-1:111122223333:function:f"
    assert only("lambda", "Invoke", FunctionName=other_region).resource == other_region


def test_a_statement_on_the_unqualified_function_does_not_cover_a_version():
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:record-outcome"
    unqualified = [policy(allow("lambda:InvokeFunction", function))]
    both = [policy(allow("lambda:InvokeFunction", [function, f"{function}:*"]))]
    version = only("lambda", "Invoke", FunctionName="record-outcome", Qualifier="3")
    assert allowed(unqualified, only("lambda", "Invoke", FunctionName="record-outcome"))
    assert not allowed(unqualified, version)
    assert allowed(both, version)


def test_step_functions_execution_arns_are_authorized_as_given():
    execution = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:promotion:churn-3-prod"
    assert only("stepfunctions", "DescribeExecution", executionArn=execution).resource == execution
    assert only("stepfunctions", "StopExecution", executionArn=execution).resource == execution
    assert only("stepfunctions", "StartExecution", stateMachineArn=MACHINE, name="n").resource == MACHINE
    role = [policy(allow("states:DescribeExecution", f"arn:aws:states:{REGION}:{ACCOUNT}:execution:promotion:*"))]
    assert allowed(role, only("stepfunctions", "DescribeExecution", executionArn=execution))


def test_sagemaker_model_package_arns_from_a_name_or_an_arn():
    versioned = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/churn/3"
    assert only("sagemaker", "DescribeModelPackage", ModelPackageName=versioned).resource == versioned
    assert only("sagemaker", "DescribeModelPackage", ModelPackageName="Unversioned").resource == (
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/Unversioned"
    )
    update = only(
        "sagemaker",
        "UpdateModelPackage",
        ModelPackageArn=versioned,
        ModelApprovalStatus="Approved",
        CustomerMetadataProperties={"prod.decision": "approved"},
    )
    assert update.resource == versioned
    assert update.context == {
        "sagemaker:ModelApprovalStatus": "Approved",
        "sagemaker:CustomerMetadataProperties/prod.decision": "approved",
    }


def test_a_tagged_transform_job_also_needs_add_tags_on_the_job():
    found = requests(
        "sagemaker",
        "CreateTransformJob",
        TransformJobName="mp-churn-3",
        ModelName="mp-churn-3",
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        Tags=[{"Key": "model-promotion:role", "Value": "candidate"}],
    )
    job = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:transform-job/mp-churn-3"
    assert [(r.action, r.resource) for r in found] == [
        ("sagemaker:CreateTransformJob", job),
        ("sagemaker:AddTags", job),
    ]
    assert found[0].context["sagemaker:InstanceTypes"] == ["ml.m5.large"]
    assert found[0].context["aws:TagKeys"] == ["model-promotion:role"]
    assert found[0].context["sagemaker:ModelArn"] == f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/mp-churn-3"


def test_get_caller_identity_needs_no_permission_and_public_cognito_calls_are_not_authorized():
    assert requests("sts", "GetCallerIdentity") == []
    assert requests("cognito-idp", "InitiateAuth", AuthFlow="USER_PASSWORD_AUTH", ClientId="c") == []
    admin = only("cognito-idp", "AdminGetUser", UserPoolId="us-east-1_abc", Username="u")
    assert admin.resource == f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/us-east-1_abc"


def test_sqs_queue_urls_become_queue_arns():
    url = f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT}/async-failures"
    assert only("sqs", "SendMessage", QueueUrl=url, MessageBody="x").resource == (
        f"arn:aws:sqs:eu-west-1:{ACCOUNT}:async-failures"
    )
    local = f"http://localhost:5000/{ACCOUNT}/async-failures"
    assert only("sqs", "SendMessage", QueueUrl=local, MessageBody="x").resource == (
        f"arn:aws:sqs:{REGION}:{ACCOUNT}:async-failures"
    )


# Resource policies --------------------------------------------------------------------------------------------

RULE = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/registration"
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:start-promotion"
EVENTS = Principal(service="events.amazonaws.com")


def function_policy() -> dict[str, Any]:
    """What AWS::Lambda::Permission with Principal events.amazonaws.com and SourceArn writes."""
    return policy(
        {
            "Sid": "RegistrationRule",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "lambda:InvokeFunction",
            "Resource": FUNCTION,
            "Condition": {"ArnLike": {"AWS:SourceArn": RULE}},
        }
    )


def test_eventbridge_may_invoke_a_function_whose_policy_names_its_rule():
    invoke = only("lambda", "Invoke", FunctionName=FUNCTION, InvocationType="Event")
    decision = evaluate(
        [], invoke.with_context({"aws:SourceArn": RULE}), resource_policy=function_policy(), principal=EVENTS
    )
    assert decision.allowed
    assert decision.policy_type == "resource-based"
    assert decision.sid == "RegistrationRule"


def test_eventbridge_is_denied_for_another_rule_or_without_a_source_arn():
    invoke = only("lambda", "Invoke", FunctionName=FUNCTION, InvocationType="Event")
    other = invoke.with_context({"aws:SourceArn": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/other"})
    decision = evaluate([], other, resource_policy=function_policy(), principal=EVENTS)
    assert not decision.allowed
    assert decision.reason == "no resource-based policy allows the action"
    assert not allowed([], invoke, resource_policy=function_policy(), principal=EVENTS)


def test_a_role_is_not_allowed_by_a_resource_policy_that_names_a_service():
    invoke = only("lambda", "Invoke", FunctionName=FUNCTION)
    assert not allowed([], invoke, resource_policy=function_policy(), principal=Principal(arn=SESSION))


def test_a_resource_policy_naming_the_role_allows_its_session_and_an_account_principal_only_delegates():
    invoke = only("lambda", "Invoke", FunctionName=FUNCTION)
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/service-role/StartTransformRole"  # with a path, unlike the session ARN
    by_role = policy({"Effect": "Allow", "Principal": {"AWS": role_arn}, "Action": "lambda:*", "Resource": "*"})
    by_account = policy({"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "lambda:*", "Resource": "*"})
    caller = Principal(arn=SESSION)
    assert allowed([], invoke, resource_policy=by_role, principal=caller)
    assert not allowed([], invoke, resource_policy=by_account, principal=caller)
    assert allowed(
        [policy(allow("lambda:InvokeFunction", FUNCTION))], invoke, resource_policy=by_account, principal=caller
    )


def test_a_deny_in_the_resource_policy_beats_the_identity_policy_allow():
    invoke = only("lambda", "Invoke", FunctionName=FUNCTION)
    denying = policy({"Effect": "Deny", "Principal": "*", "Action": "lambda:InvokeFunction", "Resource": FUNCTION})
    decision = evaluate(
        [policy(allow("lambda:*", "*"))], invoke, resource_policy=denying, principal=Principal(arn=SESSION)
    )
    assert not decision.allowed
    assert decision.policy_type == "resource-based"


def test_the_principal_can_come_from_the_request_context():
    invoke = only("lambda", "Invoke", FunctionName=FUNCTION).with_context(
        {"aws:PrincipalServiceName": "events.amazonaws.com", "aws:SourceArn": RULE}
    )
    assert allowed([], invoke, resource_policy=function_policy())


# Unknown operations and the AccessDenied AWS answers ---------------------------------------------------------


def test_an_operation_not_in_the_table_fails_loudly_and_says_what_to_add():
    with pytest.raises(UnknownOperation) as raised:
        requests("sagemaker", "DeleteModelPackageGroup", ModelPackageGroupName="churn")
    message = str(raised.value)
    assert "sagemaker.DeleteModelPackageGroup" in message
    assert "OPERATIONS in local/embedded_aws/strict/iam.py" in message


def test_the_access_denied_message_names_principal_action_resource_and_why():
    request = only(
        "sagemaker", "UpdateModelPackage", ModelPackageArn=f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/churn/3"
    )
    error = access_denied_error("sagemaker", "UpdateModelPackage", SESSION, request, evaluate([], request))
    assert error["Error"] == {
        "Code": "AccessDeniedException",
        "Message": f"User: {SESSION} is not authorized to perform: sagemaker:UpdateModelPackage on resource: "
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/churn/3 because no identity-based policy allows the "
        "sagemaker:UpdateModelPackage action",
    }
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_resource_less_action_names_no_resource_and_an_explicit_deny_says_so():
    request = only("stepfunctions", "SendTaskSuccess", taskToken="t", output="{}")
    implicit = access_denied_error("stepfunctions", "SendTaskSuccess", SESSION, request, evaluate([], request))
    assert implicit["Error"]["Message"] == (
        f"User: {SESSION} is not authorized to perform: states:SendTaskSuccess because no identity-based policy "
        "allows the states:SendTaskSuccess action"
    )
    denied = evaluate([policy(deny("states:*", "*"))], request)
    explicit = access_denied_error("stepfunctions", "SendTaskSuccess", SESSION, request, denied)
    assert explicit["Error"]["Message"].endswith(
        "states:SendTaskSuccess with an explicit deny in an identity-based policy"
    )


@pytest.mark.parametrize(
    ("service", "operation", "params", "code", "status"),
    [
        ("dynamodb", "PutItem", {"TableName": "t", "Item": {}}, "AccessDeniedException", 400),
        ("ssm", "GetParameter", {"Name": "/x"}, "AccessDeniedException", 400),
        ("stepfunctions", "StartExecution", {"stateMachineArn": MACHINE}, "AccessDeniedException", 400),
        ("lambda", "Invoke", {"FunctionName": "f"}, "AccessDeniedException", 403),
        ("s3", "GetObject", {"Bucket": "b", "Key": "k"}, "AccessDenied", 403),
        ("s3", "HeadObject", {"Bucket": "b", "Key": "k"}, "403", 403),
        ("ses", "SendEmail", {"Source": SENDER, "Destination": {}}, "AccessDenied", 403),
        ("sesv2", "SendEmail", {"FromEmailAddress": SENDER, "Content": {}}, "AccessDeniedException", 403),
        ("sts", "AssumeRole", {"RoleArn": f"arn:aws:iam::{ACCOUNT}:role/r"}, "AccessDenied", 403),
        ("cloudwatch", "PutMetricData", {"Namespace": "n"}, "AccessDenied", 403),
        ("kms", "GenerateMac", {"KeyId": "k", "MacAlgorithm": "HMAC_SHA_256"}, "AccessDeniedException", 400),
    ],
)
def test_each_service_answers_with_its_own_code_and_status(service, operation, params, code, status):
    request = requests_for(service, operation, params, region=REGION, account=ACCOUNT)[0]
    error = access_denied_error(service, operation, SESSION, request, evaluate([], request))
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)


def test_s3_quotes_the_resource_and_ses_words_the_refusal_its_own_way():
    s3 = only("s3", "GetObject", Bucket="data", Key="k")
    message = access_denied_error("s3", "GetObject", SESSION, s3, evaluate([], s3))["Error"]["Message"]
    assert message == (
        f'User: {SESSION} is not authorized to perform: s3:GetObject on resource: "arn:aws:s3:::data/k" because no '
        "identity-based policy allows the s3:GetObject action"
    )
    ses = ses_send(["lead@corp.example"])[1]
    error = access_denied_error("sesv2", "SendEmail", SESSION, ses, evaluate([], ses))
    assert error["Error"]["Message"] == (
        f"User `{SESSION}' is not authorized to perform `ses:SendEmail' on resource "
        f"`arn:aws:ses:{REGION}:{ACCOUNT}:identity/lead@corp.example'"
    )


# Every call the project makes is known ------------------------------------------------------------------------

# Powertools helpers that call AWS themselves: (module attribute, function) -> (service, boto3 method).
POWERTOOLS_CALLS = {
    ("parameters", "get_parameter"): ("ssm", "get_parameter"),
    ("parameters", "get_parameters"): ("ssm", "get_parameters_by_path"),
    ("parameters", "get_parameters_by_name"): ("ssm", "get_parameters"),
}
NOT_API_CALLS = frozenset({"meta", "exceptions", "can_paginate", "close"})


def _client_service(node: ast.AST, bound: Mapping[str, str]) -> str | None:
    """The service of `self.client("svc")` / `boto3.client("svc")` (or a single-attempt client), or of a name
    bound to one."""
    if isinstance(node, ast.Name):
        return bound.get(node.id)
    if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
        return None
    func = node.func
    names = ("client", "single_attempt_client", "single_attempt")
    is_client = (isinstance(func, ast.Name) and func.id in names) or (
        isinstance(func, ast.Attribute) and func.attr in names
    )
    return node.args[0].value if is_client and isinstance(node.args[0].value, str) else None


def _literal_first_arguments(tree: ast.AST, function: str, parameter: str) -> list[str]:
    """The string literals a module passes to `function` (self.function("x") or function(x=...)) for `parameter`."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        if name != function:
            continue
        if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            found.append(node.args[0].value)
        found += [k.value.value for k in node.keywords if k.arg == parameter and isinstance(k.value, ast.Constant)]
    return found


def _calls_in(path: Path) -> tuple[set[tuple[str, str]], list[str]]:
    """(service, boto3 method) pairs one module calls, and the dynamic calls it could not resolve."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    calls: set[tuple[str, str]] = set()
    unresolved: list[str] = []
    powertools = "aws_lambda_powertools.utilities import parameters" in source
    enclosing: dict[ast.AST, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(function):
                enclosing[node] = function  # inner functions are walked later and overwrite: the nearest wins
    bound: dict[ast.AST | None, dict[str, str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and (service := _client_service(node.value, {})):
            names = bound.setdefault(enclosing.get(node), {})
            names.update({t.id: service for t in node.targets if isinstance(t, ast.Name)})
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        scope = enclosing.get(node)
        names = {**bound.get(None, {}), **bound.get(scope, {})}
        func = node.func
        if isinstance(func, ast.Attribute) and (service := _client_service(func.value, names)):
            if func.attr == "get_paginator" and isinstance(node.args[0], ast.Constant):
                calls.add((service, node.args[0].value))
            elif func.attr not in NOT_API_CALLS:
                calls.add((service, func.attr))
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and powertools:
            calls.update(POWERTOOLS_CALLS[k] for k in [(func.value.id, func.attr)] if k in POWERTOOLS_CALLS)
        elif (
            isinstance(func, ast.Name)
            and func.id == "getattr"
            and len(node.args) == 2
            and (service := _client_service(node.args[0], names))
        ):
            method = node.args[1]
            if isinstance(method, ast.Constant):
                calls.add((service, method.value))
                continue
            found = (
                _literal_first_arguments(tree, scope.name, method.id) if scope and isinstance(method, ast.Name) else []
            )
            if not found:
                unresolved.append(f"{path.name}:{node.lineno}")
            calls.update((service, name) for name in found)
    return calls, unresolved


@cache
def _method_to_operation(service: str) -> Mapping[str, str]:
    import boto3

    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")
    return session.client(service).meta.method_to_api_mapping


def project_calls() -> tuple[set[tuple[str, str]], list[str]]:
    calls: set[tuple[str, str]] = set()
    unresolved: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        found, missing = _calls_in(path)
        calls |= found
        unresolved += missing
    return calls, unresolved


def test_every_boto3_operation_the_project_calls_has_a_known_authorization():
    # Given every client method and paginator the project's code calls (dynamic getattr dispatch included)
    calls, unresolved = project_calls()
    assert not unresolved, f"dynamic client calls whose method names this test cannot read: {unresolved}"
    operations = set()
    for service, method in calls:
        mapping = _method_to_operation(service)
        assert method in mapping, f"{service} has no method {method}: is the call right?"
        operations.add((service, mapping[method]))
    # The scan finds what is known to be there, so an empty or broken scan cannot pass
    assert {("stepfunctions", "SendTaskSuccess"), ("dynamodb", "Query"), ("sesv2", "SendEmail")} <= operations
    assert ("sagemaker", "CreateModel") in operations  # through SageMakerTransforms._call("create_model", ...)
    # Then each one is in the table
    missing = sorted(operations - set(OPERATIONS))
    assert not missing, f"add these to OPERATIONS in local/embedded_aws/strict/iam.py: {missing}"


def test_every_task_of_the_state_machine_is_a_known_authorization():
    def resources(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["Resource"]] if node.get("Type") == "Task" else []
            return own + [r for v in node.values() for r in resources(v)]
        return [r for v in node for r in resources(v)] if isinstance(node, list) else []

    # DefinitionSubstitutions may stand unquoted where a number goes ("TimeoutSeconds": ${Timeout}).
    text = re.sub(r'(?<!")\$\{[^}]+\}(?!")', "0", STATE_MACHINE.read_text(encoding="utf-8"))
    found = resources(json.loads(text))
    assert found, "the state machine has no Task states: is the path right?"
    aws_sdk_names = {"sfn": "stepfunctions"}
    for resource in found:
        if re.fullmatch(r"arn:aws:states:::lambda:invoke(\.waitForTaskToken)?", resource):
            operation = ("lambda", "Invoke")
        elif match := re.fullmatch(r"arn:aws:states:::aws-sdk:([a-z0-9]+):(\w+)(\.waitForTaskToken)?", resource):
            service = aws_sdk_names.get(match[1], match[1])
            operation = (service, match[2][0].upper() + match[2][1:])
        else:
            pytest.fail(f"the state machine calls {resource}: teach this test and iam.py how it is authorized")
        assert operation in OPERATIONS, f"add {operation} to OPERATIONS in local/embedded_aws/strict/iam.py"


def test_the_operations_table_renders_for_the_docs():
    table = operations_table()
    assert "| stepfunctions | SendTaskSuccess | states:SendTaskSuccess | * | SAR |" in table
    assert len(table.splitlines()) == len(OPERATIONS) + 2


# The ARNs agree with the Service Authorization Reference ------------------------------------------------------

# One request per operation in OPERATIONS, so that each derived ARN is checked against the reference's format.
EXAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("sagemaker", "CreateModelPackageGroup"): {"ModelPackageGroupName": "model-promotion-smoke"},
    ("sagemaker", "CreateModelPackage"): {
        "ModelPackageGroupName": "model-promotion-smoke",
        "ModelApprovalStatus": "PendingManualApproval",
    },
    ("stepfunctions", "StartExecution"): {"stateMachineArn": MACHINE},
    ("stepfunctions", "StartSyncExecution"): {"stateMachineArn": MACHINE},
    ("stepfunctions", "DescribeExecution"): {"executionArn": f"arn:aws:states:{REGION}:{ACCOUNT}:execution:m:e"},
    ("stepfunctions", "StopExecution"): {"executionArn": f"arn:aws:states:{REGION}:{ACCOUNT}:execution:m:e"},
    ("stepfunctions", "GetExecutionHistory"): {"executionArn": f"arn:aws:states:{REGION}:{ACCOUNT}:execution:m:e"},
    ("stepfunctions", "ListExecutions"): {"stateMachineArn": MACHINE},
    ("stepfunctions", "DescribeStateMachine"): {"stateMachineArn": MACHINE},
    ("stepfunctions", "SendTaskSuccess"): {"taskToken": "t"},
    ("stepfunctions", "SendTaskFailure"): {"taskToken": "t"},
    ("stepfunctions", "SendTaskHeartbeat"): {"taskToken": "t"},
    ("sagemaker", "DescribeModelPackage"): {"ModelPackageName": "p"},
    ("sagemaker", "UpdateModelPackage"): {"ModelPackageArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/g/1"},
    ("sagemaker", "DescribeModelPackageGroup"): {"ModelPackageGroupName": "g"},
    ("sagemaker", "ListModelPackageGroups"): {},
    ("sagemaker", "ListModelPackages"): {"ModelPackageGroupName": "g"},
    ("sagemaker", "CreateModel"): {
        "ModelName": "m",
        "ExecutionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/r",
        "Tags": [{"Key": "k", "Value": "v"}],
    },
    ("sagemaker", "DescribeModel"): {"ModelName": "m"},
    ("sagemaker", "DeleteModel"): {"ModelName": "m"},
    ("sagemaker", "CreateTransformJob"): {
        "TransformJobName": "j",
        "ModelName": "m",
        "Tags": [{"Key": "k", "Value": "v"}],
    },
    ("sagemaker", "DescribeTransformJob"): {"TransformJobName": "j"},
    ("sagemaker", "StopTransformJob"): {"TransformJobName": "j"},
    ("dynamodb", "GetItem"): {"TableName": "t"},
    ("dynamodb", "PutItem"): {"TableName": "t"},
    ("dynamodb", "UpdateItem"): {"TableName": "t"},
    ("dynamodb", "DeleteItem"): {"TableName": "t"},
    ("dynamodb", "DescribeTable"): {"TableName": "t"},
    ("dynamodb", "Query"): {"TableName": "t", "IndexName": "i"},
    ("dynamodb", "Scan"): {"TableName": "t", "IndexName": "i"},
    ("dynamodb", "BatchGetItem"): {"RequestItems": {"t": {}}},
    ("dynamodb", "BatchWriteItem"): {"RequestItems": {"t": []}},
    ("dynamodb", "TransactWriteItems"): {
        "TransactItems": [{"ConditionCheck": {"TableName": "t"}}, {"Update": {"TableName": "t"}}]
    },
    ("dynamodb", "TransactGetItems"): {"TransactItems": [{"Get": {"TableName": "t"}}]},
    ("dynamodb", "ExecuteStatement"): {"Statement": 'SELECT * FROM "t"."i" WHERE a = 1'},
    ("dynamodb", "BatchExecuteStatement"): {
        "Statements": [{"Statement": 'UPDATE "t" SET a = 1 WHERE k = 1'}, {"Statement": 'DELETE FROM "t" WHERE k = 1'}]
    },
    ("kms", "GenerateMac"): {"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "MacAlgorithm": "HMAC_SHA_256"},
    ("kms", "VerifyMac"): {"KeyId": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k", "MacAlgorithm": "HMAC_SHA_256"},
    ("ssm", "GetParameter"): {"Name": "/p"},
    ("ssm", "PutParameter"): {"Name": "/p", "Overwrite": True},
    ("ssm", "DeleteParameter"): {"Name": "/p"},
    ("ssm", "GetParameterHistory"): {"Name": "/p"},
    ("ssm", "GetParameters"): {"Names": ["/p", "q"]},
    ("ssm", "GetParametersByPath"): {"Path": "/p"},
    ("s3", "GetObject"): {"Bucket": "b", "Key": "k"},
    ("s3", "HeadObject"): {"Bucket": "b", "Key": "k"},
    ("s3", "PutObject"): {"Bucket": "b", "Key": "k", "ACL": "private", "Tagging": "a=b"},
    ("s3", "DeleteObject"): {"Bucket": "b", "Key": "k"},
    ("s3", "ListObjectsV2"): {"Bucket": "b"},
    ("s3", "ListObjects"): {"Bucket": "b"},
    ("lambda", "Invoke"): {"FunctionName": "f", "Qualifier": "1"},
    ("ses", "SendEmail"): {"Source": SENDER, "Destination": {"ToAddresses": ["a@b.example"]}},
    ("ses", "SendRawEmail"): {"Source": SENDER, "Destinations": ["a@b.example"], "RawMessage": {"Data": b""}},
    ("ses", "SendTemplatedEmail"): {"Source": SENDER, "Destination": {"ToAddresses": ["a@b.example"]}},
    ("sesv2", "SendEmail"): {"FromEmailAddress": SENDER, "Destination": {"ToAddresses": ["a@b.example"]}},
    ("sqs", "SendMessage"): {"QueueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/q"},
    ("sqs", "SendMessageBatch"): {"QueueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/q"},
    ("sqs", "ReceiveMessage"): {"QueueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/q"},
    ("sqs", "DeleteMessage"): {"QueueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/q"},
    ("sqs", "GetQueueAttributes"): {"QueueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/q"},
    ("cloudwatch", "PutMetricData"): {"Namespace": "n"},
    ("logs", "CreateLogGroup"): {"logGroupName": "/aws/lambda/f"},
    ("logs", "CreateLogStream"): {"logGroupName": "/aws/lambda/f", "logStreamName": "s"},
    ("logs", "PutLogEvents"): {"logGroupName": "/aws/lambda/f", "logStreamName": "s"},
    ("xray", "PutTraceSegments"): {},
    ("xray", "PutTelemetryRecords"): {},
    ("sts", "GetCallerIdentity"): {},
    ("sts", "AssumeRole"): {"RoleArn": f"arn:aws:iam::{ACCOUNT}:role/r", "RoleSessionName": "s"},
    ("scheduler", "CreateSchedule"): {"Name": "s", "Target": {"RoleArn": f"arn:aws:iam::{ACCOUNT}:role/r"}},
    ("scheduler", "UpdateSchedule"): {"Name": "s", "Target": {"RoleArn": f"arn:aws:iam::{ACCOUNT}:role/r"}},
    ("scheduler", "GetSchedule"): {"Name": "s"},
    ("scheduler", "DeleteSchedule"): {"Name": "s"},
    ("events", "PutEvents"): {"Entries": [{"Source": "s", "DetailType": "d"}, {"EventBusName": "other"}]},
    ("cloudformation", "DescribeStacks"): {"StackName": "s"},
    ("cloudformation", "ListStacks"): {},
}
COGNITO_EXAMPLE = {"UserPoolId": "us-east-1_abc"}


def example(key: tuple[str, str]) -> dict[str, Any]:
    return COGNITO_EXAMPLE if key[0] == "cognito-idp" else EXAMPLES[key]


@cache
def reference() -> dict[str, list[tuple[str, bool]]]:
    """action (lowercased) -> [(ARN format, required)], from parliament's copy of the Service Authorization
    Reference (its iam_definition.json)."""
    parliament = pytest.importorskip("parliament")
    data = json.loads((Path(parliament.__file__).parent / "iam_definition.json").read_text(encoding="utf-8"))
    actions: dict[str, list[tuple[str, bool]]] = {}
    for service in data:
        arns = {r["resource"]: r["arn"] for r in service["resources"]}
        for privilege in service["privileges"]:
            entry = actions.setdefault(f"{service['prefix']}:{privilege['privilege']}".lower(), [])
            for resource_type in privilege["resource_types"]:
                name = resource_type["resource_type"]
                if name:
                    entry.append((arns.get(name.rstrip("*"), ""), name.endswith("*")))
    return actions


def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\$\\\{[^}]*\\\}", ".+", re.escape(template)))


def test_every_operation_in_the_table_has_an_example():
    keys = {k for k in OPERATIONS if k[0] != "cognito-idp"}
    assert keys == set(EXAMPLES), sorted(keys ^ set(EXAMPLES))


@pytest.mark.parametrize("key", sorted(OPERATIONS), ids=lambda k: f"{k[0]}.{k[1]}")
def test_each_derived_arn_has_the_format_the_service_authorization_reference_gives(key):
    actions = reference()
    for request in requests_for(key[0], key[1], example(key), region=REGION, account=ACCOUNT):
        types = actions.get(request.action.lower())
        assert types is not None, f"{request.action} is not an action in the Service Authorization Reference"
        if request.resource == "*":
            assert not [t for t, required in types if required], f"{request.action} requires a resource type"
            continue
        formats = [template for template, _ in types if template]
        assert any(_template_regex(t).fullmatch(r) for t in formats for r in request.resources), (
            f"{request.action} on {request.resource} matches none of {formats}"
        )


# Cognito: the approval pages' groups recheck (adapters/cognito_directory.py) --------------------------------


def test_the_groups_recheck_is_authorized_on_the_user_pool_and_a_policy_naming_the_pool_allows_it():
    pool = f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/us-east-1_abc"
    allowed = policy(
        {
            "Effect": "Allow",
            "Action": ["cognito-idp:AdminGetUser", "cognito-idp:AdminListGroupsForUser"],
            "Resource": pool,
        }
    )
    for operation in ("AdminGetUser", "AdminListGroupsForUser"):
        request = only("cognito-idp", operation, UserPoolId="us-east-1_abc", Username="3f1c-uuid")
        assert (request.action, request.resource) == (f"cognito-idp:{operation}", pool)
        assert evaluate([allowed], request).allowed
        other = only("cognito-idp", operation, UserPoolId="us-east-1_other", Username="3f1c-uuid")
        assert not evaluate([allowed], other).allowed
