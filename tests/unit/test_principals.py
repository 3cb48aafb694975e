"""The IAM facts the embedded AWS enforces come from the SAM-transformed template: roles, Lambda permissions,
the dead-letter queue's policy and the rules that use it, the audit table's resource policy, and the signing
key's policy."""

from __future__ import annotations

import pytest

from embedded_aws.sam_transform import AWS_MANAGED_POLICIES
from embedded_aws.stack import REGION, EmbeddedStack
from embedded_aws.strict.iam import AuthRequest, Principal, evaluate, evaluate_key_access, requests_for
from embedded_aws.strict.principals import read_principals

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def principals():
    stack = EmbeddedStack()  # not started: its template, parameters and names are all this needs
    stack._name_resources()
    return read_principals(stack.transformed, stack.resolver, AWS_MANAGED_POLICIES, stack.stack_name, REGION)


def _send(queue: str, rule: str, account: str = "123456789012") -> AuthRequest:
    return AuthRequest("sqs:SendMessage", queue, {"aws:SourceArn": rule, "aws:SourceAccount": account})


def test_eventbridge_may_send_what_it_cannot_deliver_to_the_dead_letter_queue_only_from_this_accounts_rules(
    principals,
) -> None:
    # Given the two rules whose targets name the on-failure queue as their dead-letter queue
    assert len(principals.rule_dead_letters) == 2
    queue = next(iter(principals.rule_dead_letters.values()))
    rule = next(iter(principals.rule_dead_letters))
    policy = principals.resource_policies[queue]
    events = Principal(service="events.amazonaws.com")

    # Then the queue's policy lets EventBridge send for this account's rule, and nobody else
    assert evaluate([], _send(queue, rule), policy, principal=events).allowed
    other_account_rule = rule.replace("123456789012", "210987654321")
    assert not evaluate([], _send(queue, other_account_rule, "210987654321"), policy, principal=events).allowed
    assert not evaluate([], _send(queue, rule), policy, principal=Principal(service="sns.amazonaws.com")).allowed


def test_every_function_runs_as_its_own_generated_role(principals) -> None:
    stack = EmbeddedStack()
    functions = [lid for lid, r in stack.transformed["Resources"].items() if r["Type"] == "AWS::Lambda::Function"]
    roles = principals.function_roles
    assert len(functions) >= 11 and set(roles) == set(functions)
    assert len(set(roles.values())) == len(roles)
    assert all(role in principals.policies for role in roles.values())


def _session(role_arn: str) -> Principal:
    name = role_arn.rsplit("/", 1)[-1]
    return Principal(arn=f"arn:aws:sts::123456789012:assumed-role/{name}/{name}")


def _role_of(principals, function: str) -> str:
    return principals.function_roles[function]


def test_the_audit_tables_own_policy_refuses_updates_and_deletes_to_every_role_and_lets_appends_through(
    principals, stack_names
) -> None:
    # Given the audit table's resource policy, as the template declares it
    table = stack_names["DecisionLogTable"]
    policy = principals.resource_policies[table]
    record_outcome = _role_of(principals, "RecordOutcomeFunction")

    def decide(role: str, operation: str, iam: list | None = None, **params: object):
        (request,) = requests_for("dynamodb", operation, {"TableName": table, **params}, region=REGION, account=ACCOUNT)
        policies = principals.policies[role] if iam is None else iam
        return evaluate(policies, request, policy, principal=_session(role))

    # Then RecordOutcome may append (each Put of its transaction) and read the chain's tail
    transaction = requests_for(
        "dynamodb",
        "TransactWriteItems",
        {"TransactItems": [{"Put": {"TableName": table, "Item": {}}}, {"Put": {"TableName": table, "Item": {}}}]},
        region=REGION,
        account=ACCOUNT,
    )
    caller = _session(record_outcome)
    assert all(evaluate(principals.policies[record_outcome], r, policy, principal=caller).allowed for r in transaction)
    assert decide(record_outcome, "Query", KeyConditionExpression="x").allowed

    # And no role, not even one whose IAM policy allows everything, may update or delete an entry
    administrator = [{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}]
    for role in principals.policies:
        for iam in (None, administrator):
            for operation in ("UpdateItem", "DeleteItem"):
                decision = decide(role, operation, iam, Key={})
                assert not decision.allowed and decision.explicit_deny, (role, operation)
                assert decision.policy_type == "resource-based"
                assert decision.sid == "AuditEntriesAreNeverChangedOrDeleted"
    batch = requests_for("dynamodb", "BatchWriteItem", {"RequestItems": {table: []}}, region=REGION, account=ACCOUNT)
    assert not evaluate(administrator, batch[0], policy, principal=_session(record_outcome)).allowed


def test_the_signing_keys_policy_lets_only_the_approval_pages_sign_and_only_record_outcome_verify(
    principals, key_policy
) -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    signer = _role_of(principals, "ApprovalApiFunction")
    verifier = _role_of(principals, "RecordOutcomeFunction")
    everything = [{"Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}]

    def may(role: str, operation: str, iam: list | None = None) -> bool:
        (request,) = requests_for(
            "kms", operation, {"KeyId": key, "MacAlgorithm": "HMAC_SHA_256"}, region=REGION, account=ACCOUNT
        )
        policies = principals.policies[role] if iam is None else iam
        return evaluate_key_access(policies, request, key_policy, principal=_session(role)).allowed

    for role in principals.function_roles.values():
        # Whatever a role's IAM policy says: the key policy alone grants the use of the key
        for iam in (None, everything):
            assert may(role, "GenerateMac", iam) is (role == signer), role
            assert may(role, "VerifyMac", iam) is (role == verifier), role


@pytest.fixture(scope="module")
def stack_names():
    stack = EmbeddedStack()
    stack._name_resources()
    return {lid: arn for (lid, attribute), arn in stack.resolver.attributes.items() if attribute == "Arn"}


@pytest.fixture(scope="module")
def key_policy():
    """The signing key's policy as stack.py gives it to KMS: the template's, resolved against the stack's names."""
    stack = EmbeddedStack()
    stack._name_resources()
    read_principals(stack.transformed, stack.resolver, AWS_MANAGED_POLICIES, stack.stack_name, REGION)
    return stack.resolver.resolve(stack.template["Resources"]["DecisionSigningKey"]["Properties"]["KeyPolicy"])
