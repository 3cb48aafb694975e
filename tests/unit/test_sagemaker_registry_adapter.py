"""The registry adapter's UpdateModelPackage requests satisfy what SageMaker checks, not only what botocore checks.

botocore validates minimum lengths and required members on the client; maximum lengths and patterns are
checked by the service. These tests read those limits from botocore's own SageMaker model and hold each
request to them, with Java's semantics: lengths in UTF-16 code units, `.` matching no line terminator,
`\\p{L}`, `\\p{Z}` and `\\p{N}` as Unicode general categories.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import ANY, Stubber
from builders import PACKAGE_ARN, STAGES

from model_promotion.adapters import aws
from model_promotion.adapters.aws import DEFAULT_CLIENTS
from model_promotion.adapters.sagemaker_registry import SageMakerRegistry
from model_promotion.domain.stages import Outcome, approval_description, stage_metadata_after

SAGEMAKER = botocore.session.get_session().get_service_model("sagemaker")
UPDATE = SAGEMAKER.operation_model("UpdateModelPackage").input_shape.members
JAVA_LINE_TERMINATORS = set("\n\r\u0085\u2028\u2029")
METADATA_SYMBOLS = set("_.:/=+-@")


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Every UpdateModelPackage request the adapter sends, answered by a Stubber."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    aws.DEFAULT_CLIENTS.clear()
    real = boto3.client("sagemaker", region_name="us-east-1")
    requests: list[dict[str, Any]] = []
    real.meta.events.register(
        "provide-client-params.sagemaker.UpdateModelPackage", lambda params, **_: requests.append(dict(params))
    )
    monkeypatch.setattr(DEFAULT_CLIENTS, "client", lambda service: real)
    with Stubber(real) as stubber:
        for _ in range(3):
            stubber.add_response("update_model_package", {"ModelPackageArn": PACKAGE_ARN}, _any_update())
        yield requests
    aws.DEFAULT_CLIENTS.clear()


def _any_update() -> dict[str, Any]:
    return {
        "ModelPackageArn": PACKAGE_ARN,
        "ModelApprovalStatus": ANY,
        "CustomerMetadataProperties": ANY,
        "ApprovalDescription": ANY,
        "ClientToken": ANY,
    }


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _metadata_text_allowed(text: str) -> bool:
    return all(unicodedata.category(c)[0] in "LZN" or c in METADATA_SYMBOLS for c in text)


def violations(request: Mapping[str, Any]) -> list[str]:
    """What SageMaker would refuse in an UpdateModelPackage request, by the limits in its service model."""
    found = []
    token = UPDATE["ClientToken"].metadata
    if not token["min"] <= len(request["ClientToken"]) <= token["max"]:
        found.append(f"ClientToken is {len(request['ClientToken'])} characters, not {token['min']}-{token['max']}")
    if not re.fullmatch(token["pattern"], request["ClientToken"]):
        found.append(f"ClientToken {request['ClientToken']!r} does not match {token['pattern']}")
    description = request["ApprovalDescription"]
    if _utf16(description) > UPDATE["ApprovalDescription"].metadata["max"]:
        found.append(f"ApprovalDescription is {_utf16(description)} UTF-16 code units")
    if JAVA_LINE_TERMINATORS & set(description):
        found.append("ApprovalDescription holds a line terminator, which Java's '.*' does not match")
    metadata = UPDATE["CustomerMetadataProperties"]
    if len(request["CustomerMetadataProperties"]) > metadata.metadata["max"]:
        found.append(f"CustomerMetadataProperties has {len(request['CustomerMetadataProperties'])} entries")
    for key, value in request["CustomerMetadataProperties"].items():
        for what, text, shape in (("key", key, metadata.key), ("value", value, metadata.value)):
            if not shape.metadata["min"] <= _utf16(text) <= shape.metadata["max"]:
                found.append(f"metadata {what} {text!r} is {_utf16(text)} UTF-16 code units")
            if not _metadata_text_allowed(text):
                found.append(f"metadata {what} {text!r} has a character outside [\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]")
    return found


def _update(description: str = "dev approved by a@example.com at 2026-11-21T14:05:09Z", **metadata: str) -> None:
    SageMakerRegistry().record_stage(PACKAGE_ARN, metadata or {"dev": "Approved"}, "Approved", description)


def test_the_client_token_fits_update_model_packages_36_characters_of_letters_digits_and_dashes(
    sent: list[dict[str, Any]],
) -> None:
    # When
    _update()

    # Then
    [request] = sent
    assert len(request["ClientToken"]) <= 36
    assert re.fullmatch(r"[a-zA-Z0-9-]+", request["ClientToken"])
    assert violations(request) == []


def test_the_same_update_sends_the_same_client_token_so_a_retry_is_the_same_request(
    sent: list[dict[str, Any]],
) -> None:
    # When
    _update()
    _update()

    # Then
    assert sent[0]["ClientToken"] == sent[1]["ClientToken"]


@pytest.mark.parametrize(
    "other",
    [
        pytest.param({"description": "dev rejected by a@example.com at 2026-11-21T14:05:09Z"}, id="description"),
        pytest.param({"dev": "Rejected"}, id="metadata"),
    ],
)
def test_a_different_update_sends_a_different_client_token(sent: list[dict[str, Any]], other: dict[str, str]) -> None:
    # When
    _update()
    _update(**other)

    # Then
    assert sent[0]["ClientToken"] != sent[1]["ClientToken"]


def test_a_multi_line_non_ascii_comment_and_a_punctuated_signer_make_an_update_sagemaker_accepts(
    sent: list[dict[str, Any]],
) -> None:
    # Given: a comment with every line terminator Java knows and letters beyond the BMP, signed by a name with
    # an apostrophe and a comma
    comment = "Looks good.\r\nRecall: fine\u2028AUC\u2029ok\u0085é " + "𝐀" * 1200
    signer = "O'Brien, Seán <sean.o'brien+qa@example.com>"
    description = approval_description(Outcome.APPROVED, "dev", signer, "2026-11-21T14:05:09Z", comment)
    metadata = stage_metadata_after(
        Outcome.APPROVED, "dev", STAGES, {"RegistrantEmail": "dana@example.com"}, signed_by=signer, at="2026"
    )

    # When
    SageMakerRegistry().record_stage(PACKAGE_ARN, metadata, "Approved", description)

    # Then
    [request] = sent
    assert violations(request) == []
    assert request["ApprovalDescription"].startswith("dev approved by O'Brien, Seán")
    assert request["CustomerMetadataProperties"]["dev-signed-by"] == "O Brien Seán sean.o brien+qa@example.com"
