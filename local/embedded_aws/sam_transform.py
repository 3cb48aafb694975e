"""The CloudFormation template SAM would deploy, produced offline by aws-sam-translator (what SAM CLI runs).

cfn-lint 1.x reads a SAM template without expanding it, so the roles, permissions and dependency cycles the
transform generates are invisible to `sam validate --lint`. This module runs the real transform with no AWS
call, as `sam validate` and `sam package` prepare it:

- a local `CodeUri` becomes an S3 placeholder (`s3://embedded-aws-artifacts/<LogicalId>.zip`), as
  `sam package` would upload it;
- the state machine's local `DefinitionUri` is inlined as `Definition`, keeping `DefinitionSubstitutions`,
  so the ASL is linted with the rest;
- AWS managed policy names resolve from a static map instead of IAM's ListPolicies.

The result is a plain JSON-like dict with intrinsics (Ref, Fn::GetAtt, Fn::Sub, ...) left unresolved: the
embedded AWS reads the generated AWS::IAM::Role and AWS::Lambda::Permission resources from it, and the
CloudFormation checks lint it.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .template import TemplateError, load_template

ARTIFACT_BUCKET = "embedded-aws-artifacts"

# Names the translator may look up through its managed-policy map (it builds the ARNs of the policies it
# attaches itself, e.g. AWSLambdaBasicExecutionRole, but a `Policies: [Name]` entry is looked up by name).
# Partition "aws": the checks run for us-east-1.
MANAGED_POLICY_ARNS: dict[str, str] = {
    "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "AWSLambdaRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaRole",
    "AWSLambdaVPCAccessExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
    "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    "AWSXRayDaemonWriteAccess": "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
}

# The documents of the AWS managed policies the transformed template attaches, so a local IAM evaluation
# needs no IAM call. Copied from the AWS Managed Policy Reference (default versions):
# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaBasicExecutionRole.html (v1)
# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSXrayWriteOnlyAccess.html (v2)
AWS_MANAGED_POLICIES: dict[str, dict[str, Any]] = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": "*",
            }
        ],
    },
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                    "xray:GetSamplingStatisticSummaries",
                ],
                "Resource": ["*"],
            }
        ],
    },
}


class SamTransformError(ValueError):
    """The template cannot be transformed; the message carries the translator's causes."""


# -- YAML with CloudFormation's short-form tags, read into their long form -------------------------------
def load_sam_template(path: Path) -> dict[str, Any]:
    """template.yaml as CloudFormation reads it (the embedded AWS's loader: every short-form tag, dates as text)."""
    try:
        return load_template(path)
    except TemplateError as exc:
        raise SamTransformError(str(exc)) from exc


# -- what `sam package` would do to local paths ----------------------------------------------------------
# A bare placeholder such as `"TimeoutSeconds": ${ApprovalTimeoutSeconds}` is only JSON once substituted.
_BARE_PLACEHOLDER = re.compile(r'(?<!["\w])\$\{(\w+)\}(?!["\w])')


def _read_asl(path: Path) -> dict[str, Any]:
    """The ASL as a JSON object. A bare (numeric) placeholder is quoted: cfn-lint then skips it as a
    substitution instead of failing to parse the whole definition."""
    text = _BARE_PLACEHOLDER.sub(r'"${\1}"', path.read_text(encoding="utf-8"))
    try:
        definition = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SamTransformError(f"{path} is not JSON once its placeholders are quoted: {exc}") from exc
    if not isinstance(definition, dict):
        raise SamTransformError(f"{path} is not a state machine definition (not a JSON object)")
    return definition


def _is_local(uri: Any) -> bool:
    return isinstance(uri, str) and not uri.startswith("s3://")


def _package(template: dict[str, Any], root: Path) -> dict[str, Path]:
    """Replaces local artifact paths with S3 placeholders; returns the state machines' local ASL files."""
    function_globals = template.get("Globals", {}).get("Function", {})
    if _is_local(function_globals.get("CodeUri")):
        function_globals["CodeUri"] = f"s3://{ARTIFACT_BUCKET}/Globals.zip"
    definitions: dict[str, Path] = {}
    for logical_id, resource in template["Resources"].items():
        kind = resource.get("Type")
        props = resource.setdefault("Properties", {})
        if kind == "AWS::Serverless::Function" and props.get("PackageType", "Zip") == "Zip":
            if _is_local(props.get("CodeUri")):
                props["CodeUri"] = f"s3://{ARTIFACT_BUCKET}/{logical_id}.zip"
        elif kind == "AWS::Serverless::LayerVersion" and _is_local(props.get("ContentUri")):
            props["ContentUri"] = f"s3://{ARTIFACT_BUCKET}/{logical_id}.zip"
        elif kind in {"AWS::Serverless::Api", "AWS::Serverless::HttpApi"} and _is_local(props.get("DefinitionUri")):
            props["DefinitionUri"] = f"s3://{ARTIFACT_BUCKET}/{logical_id}.yaml"
        elif kind == "AWS::Serverless::StateMachine" and _is_local(props.get("DefinitionUri")):
            definitions[logical_id] = (root / props["DefinitionUri"]).resolve()
            if not definitions[logical_id].is_file():
                raise SamTransformError(f"{logical_id}: DefinitionUri {props['DefinitionUri']} is not a file")
            # Transformed from an S3 location, then inlined below: given `Definition`, SAM would wrap the
            # ASL in an Fn::Join, which cfn-lint does not look inside.
            props["DefinitionUri"] = f"s3://{ARTIFACT_BUCKET}/{logical_id}.asl.json"
    return definitions


def parameter_values(
    template: Mapping[str, Any], overrides: Mapping[str, str] | None, split_lists: bool = True
) -> dict[str, Any]:
    """Template defaults, overridden by `overrides`, a CommaDelimitedList as a list unless `split_lists` is
    false. A required parameter without a value fails here, with its name, rather than deep inside the
    translator."""
    declared = template.get("Parameters", {})
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise SamTransformError(f"parameter(s) {', '.join(unknown)} are not declared in the template")
    values: dict[str, Any] = {}
    missing = []
    for name, spec in declared.items():
        value = overrides.get(name, spec.get("Default"))
        if value is None:
            missing.append(name)
            continue
        if split_lists and spec.get("Type") == "CommaDelimitedList" and isinstance(value, str):
            value = value.split(",")
        values[name] = value
    if missing:
        raise SamTransformError(f"parameter(s) {', '.join(missing)} have no default and no value was given")
    return values


def _plain(value: Any) -> Any:
    """The translator's output holds its own str/dict subclasses in places; callers get JSON types only."""
    return json.loads(json.dumps(value))


def transform(
    template_path: Path,
    parameter_overrides: Mapping[str, str] | None = None,
    region: str = "us-east-1",
    account_id: str = "123456789012",
) -> dict[str, Any]:
    """The CloudFormation template SAM would deploy for `template_path`, with intrinsics unresolved.

    Parameter values are the template's defaults overridden by `parameter_overrides`; the translator uses
    them only where SAM itself resolves parameters (e.g. a Condition on an event, `AutoPublishAlias`).
    """
    import boto3
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    template_path = Path(template_path)
    sam_template = load_sam_template(template_path)
    # As SAM CLI passes them: the values as given, lists still comma-separated text.
    values = parameter_values(sam_template, parameter_overrides, split_lists=False)
    values.update({"AWS::Region": region, "AWS::AccountId": account_id, "AWS::Partition": _partition(region)})
    template = copy.deepcopy(sam_template)
    definitions = _package(template, template_path.parent)

    # A session only names the region (ARN partitions); creating it reads no credentials and calls nothing.
    session = boto3.session.Session(region_name=region)
    translator = Translator(managed_policy_map=None, sam_parser=Parser(), plugins=[], boto_session=session)
    try:
        translated = translator.translate(
            sam_template=template, parameter_values=values, get_managed_policy_map=lambda: dict(MANAGED_POLICY_ARNS)
        )
    except InvalidDocumentException as exc:
        causes = "; ".join(str(cause) for cause in exc.causes)
        raise SamTransformError(f"{template_path}: {exc} {causes}") from exc
    result: dict[str, Any] = _plain(translated)

    for logical_id, asl_path in definitions.items():
        props = result["Resources"][logical_id]["Properties"]
        props.pop("DefinitionS3Location", None)
        props["Definition"] = _read_asl(asl_path)
    return result


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"
