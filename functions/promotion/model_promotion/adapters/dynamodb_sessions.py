"""DynamoDB behind the SessionStore port: the approval pages' sessions, in a table only their role may use.

Two kinds of item, keyed by the SHA-256 of the secret the browser holds, never the secret:
- `session#<digest of the session id>`: the verified identity (subject, user name, IdP identities, email, name,
  groups), when the person authenticated (the ID token's auth_time), when the session was created and last seen,
  when its groups were last read from the directory, its idle and absolute expiry, and a decision to show again
  after a re-authentication. Never a token.
- `login#<digest of the login state>`: a re-authentication at signing in progress, with the decision and
  comment the approver pressed, until the new sign-in returns (10 minutes at most).

Expiry is always read from the item's own timestamps; the table's TTL attribute `purgeAt` only clears the items
away afterwards (DynamoDB deletes expired items eventually, within days).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.identity import Approver, FederatedIdentity
from ..domain.web_security import PendingLogin, Refill, Session
from ..ports import SessionStore
from .aws import AwsAdapter, AwsClients
from .dynamodb_approvals import table_error

# Items stay this long past their own expiry before TTL may purge them: long enough to tell "expired" from
# "never existed" in a log line, short enough to keep nothing about a person for long.
PURGE_AFTER = timedelta(days=1)


class DynamoDbSessionStore(AwsAdapter, SessionStore):
    def __init__(self, table: str, clients: AwsClients | None = None):
        super().__init__(clients)
        self.table = table

    def _call(self, action: str, **request: Any) -> dict[str, Any]:
        try:
            return getattr(self.client("dynamodb"), action)(TableName=self.table, **request)
        except (ClientError, BotoCoreError) as exc:
            error = table_error(self.table, action, exc, "sessions table")
            if error is exc:
                raise
            raise error from exc

    def save(self, session: Session, *, new: bool) -> bool:
        condition = {} if new else {"ConditionExpression": "attribute_exists(pk)"}
        try:
            self._call("put_item", Item=_session_item(session), **condition)
        except ClientError:
            return False  # ended (signed out) since it was read: the sign-out wins
        return True

    def get(self, digest: str) -> Session | None:
        item = self._call("get_item", Key={"pk": {"S": f"session#{digest}"}}, ConsistentRead=True).get("Item")
        return _session_from_item(digest, item) if item else None

    def delete(self, digest: str) -> None:
        self._call("delete_item", Key={"pk": {"S": f"session#{digest}"}})

    def save_login(self, login: PendingLogin) -> None:
        self._call(
            "put_item",
            Item={
                "pk": {"S": f"login#{login.state_digest}"},
                "kind": {"S": "login"},
                "sessionDigest": {"S": login.session_digest},
                "subject": {"S": login.subject},
                "startedAt": {"N": str(_seconds(login.started_at))},
                "expiresAt": {"N": str(_seconds(login.expires_at))},
                "refill": {"S": json.dumps(_refill_payload(login.refill))},
                "purgeAt": {"N": str(_seconds(login.expires_at + PURGE_AFTER))},
            },
        )

    def take_login(self, state_digest: str) -> PendingLogin | None:
        answer = self._call("delete_item", Key={"pk": {"S": f"login#{state_digest}"}}, ReturnValues="ALL_OLD")
        item = answer.get("Attributes")
        if not item:
            return None
        refill = _refill(json.loads(item["refill"]["S"]))
        if refill is None:
            return None
        return PendingLogin(
            state_digest=state_digest,
            session_digest=item["sessionDigest"]["S"],
            subject=item["subject"]["S"],
            started_at=_time(item["startedAt"]),
            expires_at=_time(item["expiresAt"]),
            refill=refill,
        )


def _seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def _time(value: dict[str, str]) -> datetime:
    return datetime.fromtimestamp(int(value["N"]), tz=UTC)


def _refill_payload(refill: Refill | None) -> dict[str, str] | None:
    if refill is None:
        return None
    return {"approvalId": refill.approval_id, "decision": refill.decision, "comment": refill.comment}


def _refill(payload: Any) -> Refill | None:
    if not isinstance(payload, dict):
        return None
    values = [payload.get(k) for k in ("approvalId", "decision", "comment")]
    if not all(isinstance(v, str) for v in values):
        return None
    return Refill(*values)


def _session_item(session: Session) -> dict[str, Any]:
    person = session.approver
    return {
        "pk": {"S": f"session#{session.digest}"},
        "kind": {"S": "session"},
        "subject": {"S": person.subject},
        "username": {"S": person.username},
        "email": {"S": person.email} if person.email else {"NULL": True},
        "name": {"S": person.name},
        "groups": {"S": json.dumps(sorted(person.groups))},
        "identities": {"S": json.dumps([{"providerName": f.provider, "userId": f.user_id} for f in person.federated])},
        "authTime": {"N": str(_seconds(session.authenticated_at))},
        "createdAt": {"N": str(_seconds(session.created_at))},
        "lastSeenAt": {"N": str(_seconds(session.last_seen_at))},
        "groupsCheckedAt": {"N": str(_seconds(session.groups_checked_at))},
        "idleExpiresAt": {"N": str(_seconds(session.idle_expires_at))},
        "expiresAt": {"N": str(_seconds(session.expires_at))},
        "refill": {"S": json.dumps(_refill_payload(session.refill))},
        "purgeAt": {"N": str(_seconds(session.expires_at + PURGE_AFTER))},
    }


def _session_from_item(digest: str, item: dict[str, Any]) -> Session | None:
    """The session an item holds; None for an item this code cannot read (it then signs the person out)."""
    try:
        identities = json.loads(item["identities"]["S"])
        approver = Approver(
            subject=item["subject"]["S"],
            username=item["username"]["S"],
            email=item["email"].get("S"),
            name=item["name"]["S"],
            groups=frozenset(json.loads(item["groups"]["S"])),
            federated=tuple(FederatedIdentity(i["providerName"], i["userId"]) for i in identities),
        )
        return Session(
            digest=digest,
            approver=approver,
            authenticated_at=_time(item["authTime"]),
            created_at=_time(item["createdAt"]),
            last_seen_at=_time(item["lastSeenAt"]),
            groups_checked_at=_time(item["groupsCheckedAt"]),
            idle_expires_at=_time(item["idleExpiresAt"]),
            expires_at=_time(item["expiresAt"]),
            refill=_refill(json.loads(item.get("refill", {}).get("S", "null"))),
        )
    except (KeyError, TypeError, ValueError):
        return None
