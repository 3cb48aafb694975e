"""The Cognito user pool behind the Directory port: what the approval pages re-read every few minutes.

AdminGetUser says whether the user still exists and may sign in (Enabled), and, for a federated user, the IdP's
group claim as Cognito stored it at their last sign-in (the mapped attribute). A user pool user's groups are
AdminListGroupsForUser's. Both calls are authorized on the user pool (Service Authorization Reference, Amazon
Cognito User Pools: resource type userpool).
"""

from __future__ import annotations

from collections.abc import Callable

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.errors import ConfigurationError
from ..domain.identity import federated_groups
from ..ports import Directory, DirectoryEntry
from .aws import AwsAdapter, AwsClients, error_code, is_transient, transient

# AdminListGroupsForUser answers at most 60 groups a page.
GROUPS_PAGE = 60


class CognitoDirectory(AwsAdapter, Directory):
    def __init__(self, user_pool_id: str, is_approver_group: Callable[[str], bool], clients: AwsClients | None = None):
        super().__init__(clients)
        self.user_pool_id = user_pool_id
        self.is_approver_group = is_approver_group

    def _call(self, action: str, **request: object) -> dict[str, object]:
        try:
            return dict(getattr(self.client("cognito-idp"), action)(UserPoolId=self.user_pool_id, **request))
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) == "UserNotFoundException":
                raise
            if is_transient(exc):
                raise transient(action, exc) from exc
            raise ConfigurationError(f"user pool {self.user_pool_id} refused {action}: {error_code(exc)}") from exc

    def lookup(self, username: str) -> DirectoryEntry | None:
        try:
            user = self._call("admin_get_user", Username=username)
        except ClientError:
            return None  # UserNotFoundException: deleted since they signed in
        attributes = {a["Name"]: a["Value"] for a in user.get("UserAttributes", []) or []}  # type: ignore[union-attr]
        enabled = bool(user.get("Enabled", True))
        from_idp = federated_groups(attributes, self.is_approver_group)
        if from_idp is not None:
            return DirectoryEntry(enabled, from_idp)
        groups: set[str] = set()
        token: str | None = None
        while True:
            try:
                page = self._call(
                    "admin_list_groups_for_user",
                    Username=username,
                    Limit=GROUPS_PAGE,
                    **({"NextToken": token} if token else {}),
                )
            except ClientError:
                return None
            groups.update(g["GroupName"] for g in page.get("Groups", []) or [])  # type: ignore[union-attr]
            token = page.get("NextToken")  # type: ignore[assignment]
            if not token:
                return DirectoryEntry(enabled, frozenset(groups))
