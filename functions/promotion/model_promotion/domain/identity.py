"""Who is signing, and whether they may sign this stage of this model.

An approver is known only from a verified ID token's claims. They may decide a stage when they are in
the stage's approver group and did not register the version themselves (GitHub Environments'
"prevent self-review", applied to models).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import DomainError
from .model_version import ModelVersion


class NotSignedIn(DomainError):
    """No session, or one whose token is invalid or expired."""


class NotAuthorized(DomainError):
    """Signed in, but not allowed to decide this request. The message says why, for the person."""


@dataclass(frozen=True)
class Approver:
    subject: str
    username: str
    email: str | None
    name: str
    groups: frozenset[str]

    @property
    def signature(self) -> str:
        """The printed name and email a signed record shows (21 CFR Part 11 §11.50)."""
        return f"{self.name} <{self.email}>" if self.email and self.email != self.name else self.name

    @property
    def identity(self) -> str:
        return self.email or self.username


def approver_from_claims(claims: Mapping[str, Any]) -> Approver:
    """Reads a verified Cognito ID token.

    Groups are Cognito's own `cognito:groups`, plus `custom:groups`: map a corporate IdP's group claim
    to that attribute when federating through SAML or OIDC (see parse_groups for the forms it takes).
    """
    subject = str(claims.get("sub") or "")
    if not subject:
        raise NotSignedIn("the token names no subject")
    username = str(claims.get("cognito:username") or subject)
    email = claims.get("email") if isinstance(claims.get("email"), str) else None
    full_name = " ".join(str(claims[k]) for k in ("given_name", "family_name") if claims.get(k))
    name = str(claims.get("name") or full_name or email or username)
    groups = parse_groups(claims.get("cognito:groups")) | parse_groups(claims.get("custom:groups"))
    return Approver(subject=subject, username=username, email=email, name=name, groups=groups)


_SEPARATOR = re.compile(r"\s*,\s*")
_QUOTES = "\"'"


def parse_groups(value: Any) -> frozenset[str]:
    """Group names from a group claim, in every form Cognito writes one.

    - a list (`cognito:groups` in an ID token): its strings;
    - a JSON array string, `["g1","g2"]` (an OIDC IdP's array claim mapped to a custom attribute): its
      strings, commas inside a name included;
    - Cognito's form for a multi-valued SAML attribute, `[g1, g2]`: split on commas;
    - a single value, `g1`, or a comma-separated list, `g1,g2`.

    Names lose surrounding whitespace and quotes. Anything else (a JSON object, a bracket that never
    closes, a claim that is neither a string nor a list) is no groups: a claim that cannot be read
    grants nothing.
    """
    if isinstance(value, (list, tuple, set, frozenset)):
        return frozenset(name for item in value if isinstance(item, str) and (name := _group_name(item)))
    if not isinstance(value, str):
        return frozenset()
    text = value.strip()
    if not text:
        return frozenset()
    if text[0] in '["':
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None  # not JSON: Cognito's SAML form, or quoted names
        if isinstance(parsed, list):
            return parse_groups(parsed)
        if isinstance(parsed, str):
            return frozenset(name for name in (_group_name(parsed),) if name)
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    elif text[0] in "[{" or text[-1] in "]}":
        return frozenset()  # a JSON object, or brackets that do not pair
    return frozenset(name for part in _SEPARATOR.split(text) if (name := _group_name(part)))


def _group_name(text: str) -> str:
    return text.strip().strip(_QUOTES).strip()


def stage_group(prefix: str, stage: str) -> str:
    return f"{prefix}{stage}"


def registered_by(approver: Approver, model: ModelVersion) -> bool:
    """Whether the approver is the person who registered the version.

    Identities are matched, case-insensitively, on any of: the registrant email in the version's
    CustomerMetadataProperties; SageMaker's CreatedBy user profile name; the session name of an
    assumed-role IAM identity in CreatedBy (arn:...:assumed-role/<role>/<session>), which SSO sessions
    set to the person's email or user name.
    """
    mine = {v.lower() for v in (approver.email, approver.username) if v}
    theirs: set[str] = set()
    if model.registrant_email:
        theirs.add(model.registrant_email.lower())
    if model.registered_by:
        who = model.registered_by
        theirs.add(who.lower())
        if ":assumed-role/" in who or ":user/" in who:
            theirs.add(who.rsplit("/", 1)[-1].lower())
    return bool(mine & theirs)


def authorize(approver: Approver, model: ModelVersion, stage: str, group_prefix: str) -> None:
    group = stage_group(group_prefix, stage)
    if group not in approver.groups:
        raise NotAuthorized(
            f"You are signed in as {approver.identity}, who is not in the {group} group. Only members of "
            f"{group} can decide the {stage} stage."
        )
    if registered_by(approver, model):
        raise NotAuthorized(
            f"You registered {model.group} version {model.version} yourself, so you cannot approve or reject "
            "it. Another approver of this stage must decide."
        )
