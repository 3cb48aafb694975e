"""template.yaml is the one source of truth for wiring: these checks keep it, the ASL and the code in step."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from builders import APPROVAL_API_ENV, APPROVAL_ENV, CONSOLE_ENV, OUTCOME_ENV, STARTER_ENV

from embedded_aws.template import Resolver, load_template, parameter_values
from model_promotion.services.approvals import REJECTION_ERROR

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTIONS = {lid: r["Properties"] for lid, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"}
STATE_MACHINE = RESOURCES["PromotionStateMachine"]["Properties"]
ASL_TEXT = (ROOT / STATE_MACHINE["DefinitionUri"]).read_text()


def _asl() -> dict[str, Any]:
    text = ASL_TEXT
    for key in STATE_MACHINE["DefinitionSubstitutions"]:
        text = text.replace("${" + key + "}", "1" if key.endswith("Seconds") else f"sub-{key}")
    return json.loads(text)


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_function_handler_exists_in_its_code_uri(logical_id: str) -> None:
    props = FUNCTIONS[logical_id]
    module_name, _, attribute = props["Handler"].rpartition(".")
    assert (ROOT / props["CodeUri"]).is_dir()
    module = importlib.import_module(module_name)
    assert callable(getattr(module, attribute))


def test_every_substitution_is_used_by_the_asl_and_every_placeholder_is_substituted() -> None:
    placeholders = set(re.findall(r"\$\{(\w+)\}", ASL_TEXT))
    assert placeholders == set(STATE_MACHINE["DefinitionSubstitutions"])


def test_the_asl_is_jsonpath_and_every_lambda_task_names_a_substituted_function() -> None:
    asl = _asl()
    assert asl.get("QueryLanguage", "JSONPath") == "JSONPath"
    for name, state in asl["States"].items():
        assert state.get("QueryLanguage", "JSONPath") == "JSONPath", name
        if state["Type"] == "Task":
            assert state["Parameters"]["FunctionName"].startswith("sub-"), name


def test_every_wait_for_a_person_has_a_timeout_and_catches_rejection_and_timeout() -> None:
    waits = {n: s for n, s in _asl()["States"].items() if s.get("Resource", "").endswith(".waitForTaskToken")}
    assert waits
    for name, state in waits.items():
        assert "TimeoutSeconds" in state, name
        caught = [e for catcher in state["Catch"] for e in catcher["ErrorEquals"]]
        assert REJECTION_ERROR in caught and "States.Timeout" in caught, name


def test_retries_cover_only_transient_errors_never_domain_errors() -> None:
    domain_errors = {"InvalidPayload", "ConfigurationError", "ApprovalClosed", "MetricsError", "BatchInputError"}
    for name, state in _asl()["States"].items():
        for retrier in state.get("Retry", []):
            assert not domain_errors & set(retrier["ErrorEquals"]), name
            assert "States.ALL" not in retrier["ErrorEquals"], name
            assert retrier.get("JitterStrategy") == "FULL", name


# Actions AWS offers no resource-level permission for: "*" is the narrowest a policy can say.
ACTIONS_WITHOUT_RESOURCES = {
    "sagemaker:ListModelPackageGroups",
    "sagemaker:ListModelPackages",
    "states:SendTaskSuccess",
    "states:SendTaskFailure",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}


def test_no_policy_grants_every_resource_where_aws_allows_narrower() -> None:
    def statements(policies: list[Any]) -> list[dict[str, Any]]:
        return [s for p in policies if isinstance(p, dict) for s in p.get("Statement", [])]

    owners = {**FUNCTIONS, "PromotionStateMachine": STATE_MACHINE}
    for lid, props in owners.items():
        for statement in statements(props.get("Policies", [])):
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "*" in resources:
                assert set(actions) <= ACTIONS_WITHOUT_RESOURCES, (lid, actions)


def test_functions_and_state_machine_are_traced_and_use_python_3_13() -> None:
    globals_ = TEMPLATE["Globals"]["Function"]
    # python3.13 runs on Amazon Linux 2023; python3.11's Amazon Linux 2 ends 2026-06-30.
    assert globals_["Runtime"] == "python3.13"
    assert globals_["Tracing"] == "Active"
    assert STATE_MACHINE["Tracing"]["Enabled"] is True
    assert STATE_MACHINE["Type"] == "STANDARD"


def test_the_registration_rule_filters_on_pending_approval() -> None:
    pattern = FUNCTIONS["StartPromotionFunction"]["Events"]["ModelPackageRegistered"]["Properties"]["Pattern"]
    assert pattern["source"] == ["aws.sagemaker"]
    assert pattern["detail-type"] == ["SageMaker Model Package State Change"]
    assert pattern["detail"]["ModelApprovalStatus"] == ["PendingManualApproval"]


@pytest.mark.parametrize(
    ("groups", "expected"),
    [("", None), ("fraud-model", ["fraud-model"]), ("fraud-model,churn-model", ["fraud-model", "churn-model"])],
)
def test_the_group_parameter_limits_the_registration_rule_to_those_groups(groups: str, expected: list[str] | None):
    # Given the template resolved with ModelPackageGroupNames set (or left empty)
    overrides = {
        "StageApprovers": "dev=a@example.com;test=a@example.com;uat=a@example.com;prod=a@example.com",
        "SenderAddress": "s@example.com",
        "OperationsEmail": "o@example.com",
        "ModelArtifactsBucketName": "artifacts-bucket",
        "SignInDomainPrefix": "model-approvals",
        "ModelPackageGroupNames": groups,
    }
    resolver = Resolver(TEMPLATE, parameter_values(TEMPLATE, overrides), "us-east-1", "stack")

    # When the rule's pattern is resolved
    event = FUNCTIONS["StartPromotionFunction"]["Events"]["ModelPackageRegistered"]
    detail = resolver.resolve(event["Properties"]["Pattern"])["detail"]

    # Then it names exactly those groups, or leaves the group unfiltered
    assert detail.get("ModelPackageGroupName") == expected


@pytest.mark.parametrize(
    ("logical_id", "environment"),
    [
        ("StartPromotionFunction", STARTER_ENV),
        ("RequestApprovalFunction", APPROVAL_ENV),
        ("ApprovalApiFunction", APPROVAL_API_ENV),
        ("RecordOutcomeFunction", OUTCOME_ENV),
    ],
)
def test_every_variable_a_functions_settings_read_is_set_by_the_template(
    logical_id: str, environment: dict[str, str]
) -> None:
    variables = {**TEMPLATE["Globals"]["Function"].get("Environment", {}).get("Variables", {})}
    variables.update(FUNCTIONS[logical_id].get("Environment", {}).get("Variables", {}))
    assert set(environment) <= set(variables), sorted(set(environment) - set(variables))


def test_the_approval_api_routes_every_path_the_approval_pages_serve() -> None:
    events = FUNCTIONS["ApprovalApiFunction"]["Events"].values()
    routes = {(e["Properties"]["Method"], e["Properties"]["Path"]) for e in events if e["Type"] == "HttpApi"}
    assert routes == {
        ("GET", "/approvals/{approvalId}"),
        ("HEAD", "/approvals/{approvalId}"),
        ("POST", "/approvals/{approvalId}"),
        ("GET", "/auth/login"),
        ("GET", "/auth/callback"),
        ("GET", "/auth/logout"),
        ("POST", "/auth/logout"),
        ("GET", "/auth/signed-out"),
    }


def test_the_approval_api_routes_every_path_the_operators_console_serves_to_its_own_function() -> None:
    events = FUNCTIONS["OperatorConsoleFunction"]["Events"].values()
    routes = {(e["Properties"]["Method"], e["Properties"]["Path"]) for e in events if e["Type"] == "HttpApi"}
    assert {e["Properties"]["ApiId"]["Ref"] for e in events} == {"ApprovalApi"}
    assert routes == {
        ("GET", "/console"),
        ("GET", "/console/versions/{group}/{version}"),
        ("GET", "/console/console.js"),
        ("POST", "/console/actions/{action}"),
        ("GET", "/console/auth/login"),
        ("GET", "/console/auth/callback"),
        ("GET", "/console/auth/logout"),
        ("POST", "/console/auth/logout"),
        ("GET", "/console/auth/signed-out"),
    }
    variables = FUNCTIONS["OperatorConsoleFunction"]["Environment"]["Variables"]
    assert set(CONSOLE_ENV) <= set(variables), sorted(set(CONSOLE_ENV) - set(variables))
    # The app client lets the hosted UI return to the console's callback and sign-out pages.
    client = TEMPLATE["Resources"]["ApprovalWebClient"]["Properties"]
    assert any("/console/auth/callback" in str(url) for url in client["CallbackURLs"])
    assert any("/console/auth/signed-out" in str(url) for url in client["LogoutURLs"])


# -- what a deployed stack needs beyond "it validates" (issue 8, items 7, 9, 11 and 12) ---------------------


def test_alarms_watch_the_projects_outcomes_not_executions_failed_which_every_rejection_raises() -> None:
    alarms = {lid: r["Properties"] for lid, r in RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert all(a.get("MetricName") != "ExecutionsFailed" for a in alarms.values())
    failures = alarms["PromotionFailuresAlarm"]
    assert (failures["Namespace"], failures["MetricName"]) == ("ModelPromotion", "StageOutcomes")
    assert {"Name": "outcome", "Value": "failed"} in failures["Dimensions"]
    assert {a["MetricName"] for a in alarms.values()} >= {"NoticesUndelivered", "ApproximateNumberOfMessagesVisible"}


def test_every_asynchronously_invoked_function_sends_what_fails_for_good_to_the_on_failure_queue() -> None:
    asynchronous = {
        lid
        for lid, props in FUNCTIONS.items()
        if any(e["Type"] in ("EventBridgeRule", "ScheduleV2") for e in props.get("Events", {}).values())
    }
    assert asynchronous == {
        "StartPromotionFunction",
        "TransformCompletedFunction",
        "SweepApprovalsFunction",
        "ReconcileFunction",
    }
    for lid in asynchronous:
        config = FUNCTIONS[lid]["EventInvokeConfig"]
        assert config["MaximumRetryAttempts"] == 2
        assert config["DestinationConfig"]["OnFailure"] == {
            "Type": "SQS",
            "Destination": {"Fn::GetAtt": ["AsyncFailuresQueue", "Arn"]},
        }


def test_a_notice_that_fails_to_record_still_ends_with_its_outcomes_error() -> None:
    states = _asl()["States"]
    for record, error in (
        ("Record rejection", "ApprovalRejected"),
        ("Record expiry", "ApprovalExpired"),
        ("Record gate failure", "QualityGateFailed"),
    ):
        catch = states[record]["Catch"][-1]
        assert catch["ErrorEquals"] == ["States.ALL"]
        target = states[catch["Next"]]
        assert (target["Type"], target["Error"]) == ("Fail", error)


def test_a_decision_nobody_signed_is_recorded_as_tampering_wherever_it_is_refused() -> None:
    # Record approval sends every error to Record failure; Record rejection sends DecisionNotAuthentic there too
    states = _asl()["States"]
    assert [c["Next"] for c in states["Record approval"]["Catch"]] == ["Record failure"]
    first = states["Record rejection"]["Catch"][0]
    assert (first["ErrorEquals"], first["ResultPath"], first["Next"]) == (
        ["DecisionNotAuthentic"],
        "$.error",
        "Record failure",
    )


def test_a_second_stack_in_the_account_gets_schedule_names_of_its_own() -> None:
    for props in FUNCTIONS.values():
        for event in props.get("Events", {}).values():
            if event["Type"] == "ScheduleV2":
                assert event["Properties"]["Name"]["Fn::Sub"].startswith("${AWS::StackName}-")


def test_logs_are_kept_for_a_bounded_time_and_the_state_machines_under_vendedlogs() -> None:
    groups = {lid: r["Properties"] for lid, r in RESOURCES.items() if r["Type"] == "AWS::Logs::LogGroup"}
    assert all(g["RetentionInDays"] == {"Ref": "LogRetentionDays"} for g in groups.values())
    assert groups["PromotionLogGroup"]["LogGroupName"]["Fn::Sub"].startswith("/aws/vendedlogs/states/")
    logged = {g["LogGroupName"]["Fn::Sub"] for g in groups.values()}
    assert {f"/aws/lambda/${{{lid}}}" for lid in FUNCTIONS} <= logged


def test_the_approval_api_logs_access_and_is_throttled() -> None:
    api = RESOURCES["ApprovalApi"]["Properties"]
    assert "DestinationArn" in api["AccessLogSettings"]
    assert "cookie" not in api["AccessLogSettings"]["Format"].lower()
    assert api["DefaultRouteSettings"]["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}


def test_deleting_the_stack_keeps_the_approvers_the_requests_and_the_audit_trail() -> None:
    for lid in ("ApproverUserPool", "ApprovalsTable", "DecisionLogTable"):
        assert (RESOURCES[lid]["DeletionPolicy"], RESOURCES[lid]["UpdateReplacePolicy"]) == ("Retain", "Retain")
