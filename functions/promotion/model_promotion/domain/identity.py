"""Who is signing, and whether they may sign this stage of this model.

An approver is known only from a verified ID token's claims, and only from the claims no user can write:
- groups come from `cognito:groups` alone. Users cannot write it; for a federated user the pre-token-generation
  trigger (handlers/pre_token_generation.py) fills it from the IdP's group claim, which Cognito stores in the
  mapped attribute GROUPS_ATTRIBUTE and refreshes at every federated sign-in. The raw attribute never counts:
  an administrator's or a user's value in it grants nothing.
- the person is identified by immutable identifiers: the user's `sub`, `cognito:username` and, for a federated
  user, the IdP's own subject (the `identities` claim's userId). Never by an email, which a user can change.
- the printed name is the `name` attribute, which the approval pages' app client cannot write and no token it
  issues may change (no direct sign-in, no aws.cognito.signin.user.admin scope): an administrator or the IdP sets it.

An approver may decide a stage when they are in the stage's approver group and did not register the version
(GitHub Environments' "prevent self-review", applied to models). When the registrant cannot be established
from SageMaker's CreatedBy, nobody may decide: the check fails closed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import DomainError
from .model_version import ModelVersion

# The user pool attribute a federated IdP's group claim is mapped to (template.yaml, CorporateIdentityProvider).
GROUPS_ATTRIBUTE = "custom:groups"


class NotSignedIn(DomainError):
    """No session, or one whose token is invalid or expired."""


class UnverifiedEmail(NotSignedIn):
    """The ID token's email address is not verified: the person behind it is not established."""


class NotAuthorized(DomainError):
    """Signed in, but not allowed to decide this request. The message says why, for the person."""


@dataclass(frozen=True)
class FederatedIdentity:
    """One entry of the ID token's `identities` claim: who the IdP says the person is."""

    provider: str
    user_id: str


@dataclass(frozen=True)
class Approver:
    subject: str
    username: str
    email: str | None
    name: str
    groups: frozenset[str]
    federated: tuple[FederatedIdentity, ...] = ()

    @property
    def signature(self) -> str:
        """The printed name and email a signed record shows (21 CFR Part 11 §11.50)."""
        return f"{self.name} <{self.email}>" if self.email and self.email != self.name else self.name

    @property
    def identity(self) -> str:
        """What a record names the signer by, for people to read. Never used to decide who someone is."""
        return self.email or self.username

    @property
    def identifiers(self) -> frozenset[str]:
        """The identifiers nobody but an administrator or the IdP can change, case-folded: sub,
        cognito:username and each IdP subject. Only these tell whether two records name the same person."""
        names = {self.subject, self.username, *(f.user_id for f in self.federated)}
        return frozenset(n.casefold() for n in names if n)

    @property
    def identity_source(self) -> str:
        """Where the identity comes from: the IdP's provider name for a federated user, else "cognito"."""
        return self.federated[0].provider if self.federated else "cognito"

    def with_groups(self, groups: frozenset[str]) -> Approver:
        return Approver(self.subject, self.username, self.email, self.name, frozenset(groups), self.federated)


def approver_from_claims(claims: Mapping[str, Any]) -> Approver:
    """Reads a verified Cognito ID token. Raises NotSignedIn without a subject, UnverifiedEmail when a user pool
    user's email is not verified.

    A federated user's email is the IdP's own assertion, refreshed at every sign-in: Cognito leaves
    `email_verified` false for SAML users unless the IdP maps it, so it is not asked of them.
    """
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise NotSignedIn("the token names no subject")
    username = claims.get("cognito:username")
    username = username if isinstance(username, str) and username else subject
    federated = federated_identities(claims.get("identities"))
    email = claims.get("email") if isinstance(claims.get("email"), str) and claims.get("email") else None
    if not federated and not _is_true(claims.get("email_verified")):
        raise UnverifiedEmail(
            f"The email address of your account ({email or 'none'}) is not verified, so the approval pages cannot "
            "establish who you are. Verify it, or ask your administrator to, then sign in again."
        )
    name = claims.get("name") if isinstance(claims.get("name"), str) and claims.get("name", "").strip() else None
    return Approver(
        subject=subject,
        username=username,
        email=email,
        name=(name or email or username).strip(),
        groups=parse_groups(claims.get("cognito:groups")),
        federated=federated,
    )


def _is_true(value: Any) -> bool:
    """Cognito writes booleans in ID tokens; attribute values (and some emulators) are the strings "true"/"false"."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def federated_identities(value: Any) -> tuple[FederatedIdentity, ...]:
    """The `identities` claim (a JSON array in an ID token; a JSON string as a user attribute), read.

    Only Cognito writes it, at a federated sign-in or an administrator's AdminLinkProviderForUser; neither a
    user nor the pre-token-generation trigger can change it (Cognito lists it among the claims no trigger may
    modify). Anything unreadable is no federation.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return ()
    if not isinstance(value, list):
        return ()
    found = []
    for entry in value:
        if not isinstance(entry, Mapping):
            continue
        provider, user_id = entry.get("providerName"), entry.get("userId")
        if isinstance(provider, str) and provider and isinstance(user_id, str) and user_id:
            found.append(FederatedIdentity(provider, user_id))
    return tuple(found)


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


def is_approver_group(prefix: str, stages: tuple[str, ...] | None = None) -> Callable[[str], bool]:
    """Whether a group name names a stage's approver group (any stage with the prefix when stages is None)."""
    if stages is not None:
        wanted = {stage_group(prefix, s) for s in stages}
        return wanted.__contains__
    return lambda group: bool(prefix) and group.startswith(prefix) and len(group) > len(prefix)


def federated_groups(attributes: Mapping[str, Any], is_wanted: Callable[[str], bool]) -> frozenset[str] | None:
    """For a federated user (an `identities` attribute Cognito wrote), the approver groups of the IdP's group
    claim as Cognito stored it in GROUPS_ATTRIBUTE; None for a user pool user, whose groups are Cognito's own."""
    if not federated_identities(attributes.get("identities")):
        return None
    return frozenset(g for g in parse_groups(attributes.get(GROUPS_ATTRIBUTE)) if is_wanted(g))


@dataclass(frozen=True)
class Registrant:
    """Who registered a version, as SageMaker's CreatedBy tells it: the names a person is known by there
    (case-folded), or, when no person can be established, why not."""

    names: frozenset[str]
    unknown_because: str | None = None


_ASSUMED_ROLE = re.compile(r"arn:aws[a-z-]*:sts::\d{12}:assumed-role/(?P<role>[^/]+)/(?P<session>.+)")
_FEDERATED_USER = re.compile(r"arn:aws[a-z-]*:sts::\d{12}:federated-user/(?P<name>.+)")
_USER = re.compile(r"arn:aws[a-z-]*:(?:iam|sts)::\d{12}:user/(?:.*/)?(?P<name>[^/]+)")  # sts: as moto writes a user
_ROLE = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/(?:.*/)?(?P<name>[^/]+)")
_ROOT = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:root")
# IAM Identity Center's permission-set roles. Identity Center alone can assume them (their trust policy names its
# SAML provider, and IAM refuses any change to them), and it sets the session name to the user's user name.
IDENTITY_CENTER_ROLE_PREFIX = "AWSReservedSSO_"


def registrant_of(model: ModelVersion) -> Registrant:
    """The person CreatedBy names, trusting only names that an administrator or the IdP sets:

    - a SageMaker Studio user profile name (SageMaker writes it from the profile an administrator created);
    - the session name of an IAM Identity Center role (AWSReservedSSO_*), which Identity Center sets to the user
      name;
    - an IAM user's name.

    Any other assumed-role session names no one: whoever may assume the role chooses RoleSessionName, so a data
    scientist could register as "not-me" and approve her own version. A federated user's name is likewise chosen
    by whoever called GetFederationToken. So are SageMaker Pipelines' sessions of their execution role, which name
    a pipeline step, not the person who started it. For all of these the check fails closed, saying why.

    The RegistrantEmail metadata is the registrant's own say and only addresses notices: it never counts here.
    """
    who = (model.registered_by or "").strip()
    if not who:
        return Registrant(frozenset(), "SageMaker CreatedBy is empty")
    if not who.startswith("arn:"):
        return Registrant(frozenset({who.casefold()}))  # a Studio user profile name
    if found := _ASSUMED_ROLE.fullmatch(who):
        role, session = found.group("role"), found.group("session")
        if role.startswith(IDENTITY_CENTER_ROLE_PREFIX):
            return Registrant(frozenset({session.casefold()}))
        return Registrant(
            frozenset(),
            f"SageMaker CreatedBy names the session {session!r} of the role {role}, and whoever may assume {role} "
            "chooses that name, so it names no one",
        )
    if found := _FEDERATED_USER.fullmatch(who):
        return Registrant(
            frozenset(),
            f"SageMaker CreatedBy names the federated user {found.group('name')!r}, a name its caller chose",
        )
    if found := _USER.fullmatch(who):
        return Registrant(frozenset({found.group("name").casefold()}))
    if found := _ROLE.fullmatch(who):
        return Registrant(frozenset(), f"SageMaker CreatedBy names only the role {found.group('name')}, no session")
    if _ROOT.fullmatch(who):
        return Registrant(frozenset(), "SageMaker CreatedBy names the account's root user, not a person")
    return Registrant(frozenset(), f"SageMaker CreatedBy names {who}, which is not a person")


def registered_by(approver: Approver, model: ModelVersion) -> bool:
    """Whether the approver is the person who registered the version, matched (case-insensitively) only on
    identifiers nobody can change for themselves: the approver's sub, user name and IdP subject against the
    names CreatedBy gives (registrant_of)."""
    return bool(approver.identifiers & registrant_of(model).names)


def authorize(approver: Approver, model: ModelVersion, stage: str, group_prefix: str) -> None:
    group = stage_group(group_prefix, stage)
    if group not in approver.groups:
        raise NotAuthorized(
            f"You are signed in as {approver.identity}, who is not in the {group} group. Only members of "
            f"{group} can decide the {stage} stage."
        )
    registrant = registrant_of(model)
    if registrant.unknown_because:
        raise NotAuthorized(
            f"Version {model.version} of {model.group} records no registrant ({registrant.unknown_because}), so "
            "nobody can be shown not to be approving their own work. Register it again with a person's own "
            "credentials (a SageMaker Studio user profile, an IAM Identity Center session or an IAM user), or ask "
            "an operator."
        )
    if approver.identifiers & registrant.names:
        raise NotAuthorized(
            f"You registered {model.group} version {model.version} yourself, so you cannot approve or reject "
            "it. Another approver of this stage must decide."
        )
