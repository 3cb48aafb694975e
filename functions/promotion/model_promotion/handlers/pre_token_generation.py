"""Cognito pre token generation trigger (event version V1_0): groups in the ID token only from the directory or the IdP.

Cognito invokes it before it issues tokens, at every sign-in and refresh (triggerSource TokenGeneration_*). It
- for a federated user (an `identities` attribute, which only Cognito writes), overrides `cognito:groups` with
  the stage approver groups (<APPROVER_GROUP_PREFIX><stage>) and the operators' group (OPERATOR_GROUP) named by
  the IdP's group claim, which Cognito maps
  into the attribute custom:groups and rewrites from the IdP's assertion at every federated sign-in. It accepts
  the claim in every form Cognito stores it: a SAML multi-valued attribute as `[g1, g2]`, an OIDC array as a
  JSON string, a comma list, one value (domain/identity.py, parse_groups). Other groups of the claim never
  reach the token;
- leaves a user pool user's `cognito:groups` as Cognito has them (administrators manage those groups);
- suppresses the raw custom:groups claim for everyone, so no client ever sees a group value anyone set by hand.

V1_0 is the event every feature plan delivers, and it customises the ID token, the only token the approval
pages read (Cognito Developer Guide, "Pre token generation Lambda trigger"). The function makes no AWS call.
Its answer is the event with `response.claimsOverrideDetails` filled in; a failure fails the sign-in.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from ..domain.errors import ConfigurationError, InvalidPayload
from ..domain.identity import GROUPS_ATTRIBUTE, federated_groups, is_approver_group
from ..domain.stages import parse_stages

logger = Logger()


@cache
def stage_groups() -> Callable[[str], bool]:
    prefix = os.environ.get("APPROVER_GROUP_PREFIX", "").strip()
    if not prefix:
        raise ConfigurationError("environment variable APPROVER_GROUP_PREFIX is not set")
    try:
        stages = parse_stages(os.environ.get("STAGES", ""))
    except ConfigurationError as exc:
        raise ConfigurationError(f"STAGES: {exc}") from exc
    is_stage_group = is_approver_group(prefix, stages)
    # The operators' console's group, when the stack has one: a federated operator's IdP claim names it too.
    operators = os.environ.get("OPERATOR_GROUP", "").strip()
    return lambda group: is_stage_group(group) or (bool(operators) and group == operators)


def override(event: Mapping[str, Any], is_wanted: Callable[[str], bool]) -> dict[str, Any]:
    """The V1_0 response for this event: what to override in, and suppress from, the ID token."""
    request = event.get("request")
    if not isinstance(request, Mapping) or not isinstance(request.get("userAttributes"), Mapping):
        raise InvalidPayload("a pre token generation event carries request.userAttributes")
    details: dict[str, Any] = {"claimsToSuppress": [GROUPS_ATTRIBUTE]}
    groups = federated_groups(request["userAttributes"], is_wanted)
    if groups is not None:
        current = request.get("groupConfiguration") if isinstance(request.get("groupConfiguration"), Mapping) else {}
        group_details: dict[str, Any] = {"groupsToOverride": sorted(groups)}
        # Roles are an identity pool's business; whatever Cognito would have sent stays as it is.
        for key in ("iamRolesToOverride", "preferredRole"):
            if current.get(key):
                group_details[key] = current[key]
        details["groupOverrideDetails"] = group_details
    return details


@logger.inject_lambda_context(log_event=False, clear_state=True)  # the event holds the person's attributes
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    details = override(event, stage_groups())
    answer = dict(event)
    answer["response"] = {**(event.get("response") or {}), "claimsOverrideDetails": details}
    overridden = details.get("groupOverrideDetails")
    logger.info(
        "token claims set",
        trigger_source=event.get("triggerSource"),
        federated=overridden is not None,
        approver_groups=len(overridden["groupsToOverride"]) if overridden else None,
    )
    return answer
