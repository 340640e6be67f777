"""Signatures of registry versions: only a version signed with the registry's KMS key is served.

A version's ``metadata.json`` lists the sha256 of every other file, so one signature over it
covers the whole version. ``publish`` signs it with ``kms:Sign`` (an ECC_NIST_P256 key,
ECDSA_SHA_256, MessageType DIGEST: metadata.json is larger than the 4,096 bytes KMS signs raw)
and uploads ``metadata.json.sig`` beside it::

    {"key_arn": "<the key that signed>", "signing_algorithm": "ECDSA_SHA_256",
     "message_type": "DIGEST", "metadata_sha256": "<hex>", "signature": "<base64 DER>"}

``SigningKey.verify`` checks the metadata bytes as downloaded, before they are parsed, with
``kms:Verify`` on the key this process trusts (never the one the file names, which only serves
the error message). A missing, malformed or wrong signature raises ``ArtifactError``; KMS errors
(unreachable, throttled, access denied, key disabled) propagate for the caller to report as the
registry being unusable. Either way the version is refused. Models baked into the image are not
signed: see ``lambda_fn.registry.store``. Why KMS verifies, not a local public key:
docs/decisions/018-signed-model-versions.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from lambda_fn.registry.artifacts import METADATA_FILE, SIGNATURE_FILE, ArtifactError

SIGNING_ALGORITHM = "ECDSA_SHA_256"  # the only one an ECC_NIST_P256 key offers
MESSAGE_TYPE = "DIGEST"  # KMS signs at most 4,096 raw bytes; a version's metadata.json is larger
INVALID_SIGNATURE = "KMSInvalidSignatureException"  # how KMS answers a signature that does not verify


class SignatureFile(BaseModel):
    """The content of ``metadata.json.sig``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key_arn: str
    signing_algorithm: Literal["ECDSA_SHA_256"]
    message_type: Literal["DIGEST"]
    metadata_sha256: str
    signature: str  # base64

    def signature_bytes(self) -> bytes:
        try:
            return base64.b64decode(self.signature, validate=True)
        except (binascii.Error, ValueError) as error:
            raise ArtifactError(f"{SIGNATURE_FILE} holds no base64 signature: {error}") from error


def _error_code(error: Exception) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))


@dataclass(frozen=True)
class SigningKey:
    """The registry's signing key: ``kms`` a boto3 KMS client, ``key_arn`` the key to sign with
    or the only key whose signatures are accepted."""

    kms: Any
    key_arn: str

    def sign(self, metadata: bytes) -> bytes:
        """The ``metadata.json.sig`` content for these exact ``metadata.json`` bytes (one kms:Sign)."""
        digest = hashlib.sha256(metadata).digest()
        answer = self.kms.sign(KeyId=self.key_arn, Message=digest, MessageType=MESSAGE_TYPE,
                               SigningAlgorithm=SIGNING_ALGORITHM)
        signed = SignatureFile(key_arn=answer["KeyId"], signing_algorithm=SIGNING_ALGORITHM, message_type=MESSAGE_TYPE,
                               metadata_sha256=digest.hex(),
                               signature=base64.b64encode(answer["Signature"]).decode())
        return signed.model_dump_json(indent=2).encode()

    def verify(self, metadata: bytes, signature_file: bytes, *, source: str) -> None:
        """Return only if ``signature_file`` is this key's signature of ``metadata`` (one kms:Verify).
        ``source`` names the version in messages."""
        try:
            signed = SignatureFile.model_validate_json(signature_file)
        except ValidationError as error:
            raise ArtifactError(f"{source}/{SIGNATURE_FILE} is not a signature file: {error}") from error
        digest = hashlib.sha256(metadata).digest()
        if signed.metadata_sha256 != digest.hex():  # a quick, readable refusal; KMS would refuse it too
            raise ArtifactError(f"{source}/{METADATA_FILE} changed after it was signed: its sha256 is {digest.hex()}, "
                                f"the signature is of {signed.metadata_sha256}")
        try:
            answer = self.kms.verify(KeyId=self.key_arn, Message=digest, MessageType=MESSAGE_TYPE,
                                     Signature=signed.signature_bytes(), SigningAlgorithm=SIGNING_ALGORITHM)
        except Exception as error:
            if _error_code(error) != INVALID_SIGNATURE:
                raise  # not an answer about the signature: the caller reports KMS as unusable
            answer = {"SignatureValid": False}
        if answer.get("SignatureValid") is not True:
            raise ArtifactError(f"{source}/{SIGNATURE_FILE} does not verify with the trusted key {self.key_arn} "
                                f"(the file says {signed.key_arn} signed it): refusing a version the registry's key "
                                "did not sign")
