"""Service limits AWS enforces on a request that botocore's service models do not state.

Each rule names its source. The request's own parameters decide each of them; limits that depend on
the service's state (verified SES identities, a Cognito app client's settings) are in service_limits.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

# SSM PutParameter: "Standard parameters: 4 KB; Advanced parameters: 8 KB" (Systems Manager User Guide,
# "Managing parameter tiers"). The service counts the UTF-8 bytes of the value.
SSM_VALUE_BYTES = {"Standard": 4096, "Advanced": 8192, "Intelligent-Tiering": 8192}

# StartExecution: "The name must not contain whitespace, brackets < > { } [ ], wildcard characters ? *,
# special characters " # % \ ^ | ~ ` $ & , ; : /, or control characters (U+0000-001F, U+007F-009F)"
# (Step Functions API Reference, StartExecution, Request Parameters, name).
_EXECUTION_NAME_FORBIDDEN = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]")

# DynamoDB: "The maximum item size in DynamoDB is 400 KB, which includes both attribute name binary length
# (UTF-8 length) and attribute value lengths" (Developer Guide, "Service, account, and table quotas").
DYNAMODB_ITEM_BYTES = 400 * 1024


def _ssm_put_parameter(params: Mapping[str, Any]) -> list[str]:
    value = params.get("Value")
    if not isinstance(value, str):
        return []
    tier = params.get("Tier") or "Standard"
    limit = SSM_VALUE_BYTES.get(tier, 4096)
    size = len(value.encode("utf-8"))
    if size <= limit:
        return []
    if tier == "Standard":
        return [
            f"Standard tier parameters support a maximum parameter value of {limit} characters "
            f"(this value is {size} bytes). To create a larger parameter value, upgrade the parameter to use "
            "the advanced-parameter tier."
        ]
    return [f"Value at 'value' failed to satisfy constraint: {tier} parameters hold at most {limit} bytes"]


def _start_execution(params: Mapping[str, Any]) -> list[str]:
    name = params.get("name")
    if isinstance(name, str) and _EXECUTION_NAME_FORBIDDEN.search(name):
        return [
            "Invalid Name: execution names must not contain whitespace, brackets, wildcards, "
            'the characters " # % \\ ^ | ~ ` $ & , ; : / or control characters'
        ]
    return []


def _attribute_value_bytes(value: Any) -> int:
    if not isinstance(value, Mapping) or len(value) != 1:
        return len(json.dumps(value, default=str).encode())
    ((kind, inner),) = value.items()
    if kind in ("S", "N"):
        return len(str(inner).encode("utf-8"))
    if kind == "B":
        return len(inner) if isinstance(inner, bytes | bytearray) else len(str(inner).encode())
    if kind in ("SS", "NS"):
        return sum(len(str(v).encode("utf-8")) for v in inner)
    if kind == "BS":
        return sum(len(v) for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode()) + _attribute_value_bytes(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(_attribute_value_bytes(v) + 1 for v in inner)
    return 1  # BOOL, NULL


def _item_bytes(item: Mapping[str, Any]) -> int:
    return sum(len(name.encode("utf-8")) + _attribute_value_bytes(value) for name, value in item.items())


def _dynamodb_put_item(params: Mapping[str, Any]) -> list[str]:
    item = params.get("Item")
    if isinstance(item, Mapping) and _item_bytes(item) > DYNAMODB_ITEM_BYTES:
        return ["Item size has exceeded the maximum allowed size"]
    return []


_RULES: dict[tuple[str, str], Callable[[Mapping[str, Any]], list[str]]] = {
    ("ssm", "PutParameter"): _ssm_put_parameter,
    ("stepfunctions", "StartExecution"): _start_execution,
    ("dynamodb", "PutItem"): _dynamodb_put_item,
}


def limit_violations(operation_model: Any, params: Mapping[str, Any]) -> list[str]:
    rule = _RULES.get((operation_model.service_model.service_name, operation_model.name))
    return rule(params) if rule else []
