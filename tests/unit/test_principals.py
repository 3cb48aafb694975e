"""The IAM facts the embedded AWS enforces come from the SAM-transformed template: roles, Lambda permissions,
the dead-letter queue's policy and the rules that use it."""

from __future__ import annotations

import pytest

from embedded_aws.sam_transform import AWS_MANAGED_POLICIES
from embedded_aws.stack import REGION, EmbeddedStack
from embedded_aws.strict.iam import AuthRequest, Principal, evaluate
from embedded_aws.strict.principals import read_principals


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
    roles = principals.function_roles
    assert len(roles) == 11 and len(set(roles.values())) == 11
    assert all(role in principals.policies for role in roles.values())
