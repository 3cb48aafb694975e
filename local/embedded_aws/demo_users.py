"""The embedded AWS's approvers (one Cognito user per address in StageApprovers, in its stage's group), and an
operator in the operators' group, who may use the console.

Local only: in AWS, approvers come from the user pool or the corporate IdP federated with it.
"""

from __future__ import annotations

from typing import Any

# Every demo user signs in with this password; `make up` prints it. Nothing here is a real secret.
DEMO_PASSWORD = "Approve-Locally-1!"
REGISTRANT = "dana.scientist@example.com"
OUTSIDER = "olive.outsider@example.com"
OPERATOR = "oscar.operator@example.com"


def display_name(email: str) -> str:
    return " ".join(part.capitalize() for part in email.split("@", 1)[0].replace("_", ".").split("."))


def demo_addresses(stage_approvers: str) -> list[str]:
    """Every demo user's email address: the approvers of StageApprovers, the registrant, the outsider and the
    operator."""
    addresses = [REGISTRANT, OUTSIDER, OPERATOR]
    for entry in filter(None, stage_approvers.split(";")):
        _, _, listed = entry.partition("=")
        addresses.extend(a.strip() for a in listed.split(",") if a.strip())
    return list(dict.fromkeys(addresses))


def seed_approvers(
    cognito: Any, user_pool_id: str, stage_approvers: str, group_prefix: str, operator_group: str | None = None
) -> dict[str, list[str]]:
    """Creates the users and puts each in approvers-<stage> for the stages they approve.

    The registrant is also a dev approver, as data scientists often are, so the self-approval rule has
    someone to refuse; the outsider is in no group; the operator is in the operators' group only.
    """
    memberships: dict[str, list[str]] = {REGISTRANT: [f"{group_prefix}dev"], OUTSIDER: []}
    if operator_group:
        memberships[OPERATOR] = [operator_group]
    for entry in filter(None, stage_approvers.split(";")):
        stage, _, addresses = entry.partition("=")
        for address in filter(None, (a.strip() for a in addresses.split(","))):
            memberships.setdefault(address, []).append(f"{group_prefix}{stage.strip()}")
    existing = {g["GroupName"] for g in cognito.list_groups(UserPoolId=user_pool_id)["Groups"]}
    for email, groups in memberships.items():
        cognito.admin_create_user(
            UserPoolId=user_pool_id,
            Username=email,
            UserAttributes=[
                {"Name": "email", "Value": email},
                {"Name": "email_verified", "Value": "true"},
                {"Name": "name", "Value": display_name(email)},
            ],
            MessageAction="SUPPRESS",
        )
        cognito.admin_set_user_password(UserPoolId=user_pool_id, Username=email, Password=DEMO_PASSWORD, Permanent=True)
        for group in groups:
            if group not in existing:
                cognito.create_group(UserPoolId=user_pool_id, GroupName=group)
                existing.add(group)
            cognito.admin_add_user_to_group(UserPoolId=user_pool_id, Username=email, GroupName=group)
    return memberships
