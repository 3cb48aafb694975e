"""Read template.yaml and resolve its intrinsic functions the way CloudFormation would, for one local stack.

Only what this project's template uses is supported; anything else fails loudly with the resource and
function named, rather than resolving to something wrong.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACCOUNT_ID = "123456789012"
_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


class TemplateError(ValueError):
    """template.yaml, or a parameter value given for it, cannot be used."""


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


def _tag_constructor(name: str):
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    return construct


class _TemplateLoader(yaml.SafeLoader):
    """SafeLoader (no arbitrary objects) without the timestamp resolver: CloudFormation reads an unquoted date
    as a string."""


_TemplateLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

# Every short form CloudFormation knows, so the template loads whole (sam_transform.py reads it too); the
# Resolver below resolves only the functions this project uses, and fails loudly on the others.
for _short in (
    "Base64",
    "Cidr",
    "FindInMap",
    "GetAZs",
    "GetAtt",
    "If",
    "ImportValue",
    "Join",
    "Length",
    "Not",
    "Or",
    "And",
    "Equals",
    "Select",
    "Split",
    "Sub",
    "ToJsonString",
    "Transform",
):
    _TemplateLoader.add_constructor(f"!{_short}", _tag_constructor(f"Fn::{_short}"))
_TemplateLoader.add_constructor("!Ref", _tag_constructor("Ref"))
_TemplateLoader.add_constructor("!Condition", _tag_constructor("Condition"))


def load_template(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=_TemplateLoader)
    if not isinstance(document, dict) or "Resources" not in document:
        raise TemplateError(f"{path} is not a CloudFormation template (no Resources)")
    return document


@dataclass
class Resolver:
    """Resolves intrinsics against parameter values and the local stack's physical resource names."""

    template: Mapping[str, Any]
    parameters: dict[str, Any]
    region: str
    stack_name: str
    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)
    conditions: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.template.get("Conditions", {}):
            self.condition(name)

    def condition(self, name: str) -> bool:
        """A condition's value; conditions may name other conditions, in any order."""
        if name not in self.conditions:
            declared = self.template.get("Conditions", {})
            if name not in declared:
                raise TemplateError(f"condition {name} is not defined")
            self.conditions[name] = bool(self.resolve(declared[name]))
        return self.conditions[name]

    def pseudo(self, name: str) -> Any:
        values = {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": self.stack_name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }
        if name not in values:
            raise TemplateError(f"pseudo parameter {name} is not supported locally")
        return values[name]

    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise TemplateError(f"Ref to {name}, which is neither a parameter nor a provisioned resource")

    def get_att(self, resource: str, attribute: str) -> str:
        try:
            return self.attributes[(resource, attribute)]
        except KeyError:
            raise TemplateError(f"Fn::GetAtt {resource}.{attribute} is not known locally") from None

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            handler = _INTRINSICS.get(key)
            if handler is not None:
                return handler(self, arg)
        return {k: r for k, r in ((k, self.resolve(v)) for k, v in value.items()) if r is not NO_VALUE}

    def substitute(self, text: str, variables: Mapping[str, Any]) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                resource, attribute = name.split(".", 1)
                return self.get_att(resource, attribute)
            return str(self.ref(name))

        return _SUB_VARIABLE.sub(one, text)


def _sub(resolver: Resolver, arg: Any) -> str:
    if isinstance(arg, str):
        return resolver.substitute(arg, {})
    text, variables = arg
    return resolver.substitute(text, {k: resolver.resolve(v) for k, v in variables.items()})


def _if(resolver: Resolver, arg: Any) -> Any:
    name, when_true, when_false = arg
    return resolver.resolve(when_true if resolver.condition(name) else when_false)


_INTRINSICS = {
    "Ref": lambda r, a: r.ref(a),
    "Fn::GetAtt": lambda r, a: r.get_att(a[0], a[1]),
    "Fn::Sub": _sub,
    "Fn::If": _if,
    "Fn::Equals": lambda r, a: r.resolve(a[0]) == r.resolve(a[1]),
    "Fn::Not": lambda r, a: not r.resolve(a[0]),
    "Fn::And": lambda r, a: all(r.resolve(x) for x in a),
    "Fn::Or": lambda r, a: any(r.resolve(x) for x in a),
    "Fn::Join": lambda r, a: str(a[0]).join(str(x) for x in r.resolve(a[1])),
    "Fn::Select": lambda r, a: r.resolve(a[1])[int(r.resolve(a[0]))],
    "Fn::Split": lambda r, a: str(r.resolve(a[1])).split(str(a[0])),
    "Condition": lambda r, a: r.condition(a),
}


def parameter_values(template: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, Any]:
    """Defaults plus overrides, checked against each parameter's type and constraints like CloudFormation."""
    declared = template.get("Parameters", {})
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise TemplateError(f"parameter(s) {', '.join(unknown)} are not declared in template.yaml")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        raw = overrides.get(name, spec.get("Default"))
        if raw is None:
            raise TemplateError(f"parameter {name} has no default and no value was given")
        raw = str(raw)
        kind = spec.get("Type", "String")
        if kind == "Number":
            try:
                number = float(raw)
            except ValueError:
                raise TemplateError(f"parameter {name}={raw!r} is not a number") from None
            if not math.isfinite(number):
                raise TemplateError(f"parameter {name}={raw!r} is not a finite number")
            if ("MinValue" in spec and number < float(spec["MinValue"])) or (
                "MaxValue" in spec and number > float(spec["MaxValue"])
            ):
                raise TemplateError(f"parameter {name}={raw} is outside {spec.get('MinValue')}..{spec.get('MaxValue')}")
            if "AllowedValues" in spec and number not in [float(v) for v in spec["AllowedValues"]]:
                raise TemplateError(f"parameter {name}={raw} is not one of {spec['AllowedValues']}")
            values[name] = raw
        elif kind == "CommaDelimitedList":
            values[name] = raw.split(",") if raw else [""]
        else:
            pattern = spec.get("AllowedPattern")
            # CloudFormation matches AllowedPattern as a Java regex: ASCII \w and \d, `.` not across lines.
            if pattern and not _matches_java(pattern, raw):
                raise TemplateError(f"parameter {name}={raw!r} does not match {pattern}")
            if "AllowedValues" in spec and raw not in [str(v) for v in spec["AllowedValues"]]:
                raise TemplateError(f"parameter {name}={raw!r} is not one of {spec['AllowedValues']}")
            if "MinLength" in spec and len(raw) < int(spec["MinLength"]):
                raise TemplateError(f"parameter {name} must be at least {spec['MinLength']} characters")
            values[name] = raw
    return values


def _matches_java(pattern: str, value: str) -> bool:
    from .strict.request_rules import java_pattern

    compiled = java_pattern(pattern)
    if compiled is None:
        raise TemplateError(f"AllowedPattern {pattern!r} cannot be checked locally")
    return bool(compiled.fullmatch(value))


def parse_overrides(items: list[str]) -> dict[str, str]:
    """Reads SAM's "Key=Value" parameter_overrides entries; the value may itself contain '='."""
    parsed: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise TemplateError(f"parameter override {item!r} is not Key=Value")
        parsed[key.strip()] = value
    return parsed
