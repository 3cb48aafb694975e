"""AWS KMS behind the DecisionSigner port: an HMAC key (HMAC_256) that never leaves KMS.

The key policy is the only grant (template.yaml, DecisionSigningKey): the approval pages' role may call
GenerateMac, RecordOutcome's may call VerifyMac, and nobody else, administrators included, may use it.
"""

from __future__ import annotations

import base64
import binascii

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.errors import ConfigurationError
from ..ports import DecisionSigner
from .aws import AwsAdapter, AwsClients, error_code, is_transient, transient

MAC_ALGORITHM = "HMAC_SHA_256"
# GenerateMac and VerifyMac take at most 4096 bytes; callers seal a digest, not a whole record.
MESSAGE_MAX_BYTES = 4096


class KmsDecisionSigner(AwsAdapter, DecisionSigner):
    def __init__(self, key_id: str, clients: AwsClients | None = None):
        super().__init__(clients)
        self.key_id = key_id

    def seal(self, message: bytes) -> str:
        _check(message)
        try:
            answer = self.client("kms").generate_mac(KeyId=self.key_id, Message=message, MacAlgorithm=MAC_ALGORITHM)
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                raise transient("GenerateMac", exc) from exc
            raise ConfigurationError(f"KMS refused GenerateMac with {self.key_id}: {error_code(exc)}") from exc
        return base64.b64encode(answer["Mac"]).decode("ascii")

    def verify(self, message: bytes, seal: str) -> bool:
        _check(message)
        try:
            mac = base64.b64decode(seal, validate=True)
        except (binascii.Error, ValueError):
            return False
        if not 1 <= len(mac) <= 6144:  # VerifyMac's own bounds: a longer or empty Mac is no seal
            return False
        try:
            answer = self.client("kms").verify_mac(
                KeyId=self.key_id, Message=message, Mac=mac, MacAlgorithm=MAC_ALGORITHM
            )
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) == "KMSInvalidMacException":
                return False
            if is_transient(exc):
                raise transient("VerifyMac", exc) from exc
            raise ConfigurationError(f"KMS refused VerifyMac with {self.key_id}: {error_code(exc)}") from exc
        return bool(answer.get("MacValid"))


def _check(message: bytes) -> None:
    if not 1 <= len(message) <= MESSAGE_MAX_BYTES:
        raise ValueError(f"a MAC message holds 1 to {MESSAGE_MAX_BYTES} bytes, not {len(message)}")
