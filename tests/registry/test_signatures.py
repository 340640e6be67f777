"""Only versions signed with the registry's KMS key are served: publish signs metadata.json (which
holds every file's sha256), and the service and the CLI verify the signature with kms:Verify
before parsing anything. Unsigned, wrongly signed or changed versions are refused and the current
model keeps serving. The image's own models carry no signature and need none.

moto's KMS signs and verifies with real ECDSA P-256 keys (it hashes a DIGEST message once more,
as it does a RAW one, so sign and verify still agree); the flipped-byte tests below would pass a
fake that accepted anything, were it not for the refusals they assert."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil

import pytest

from lambda_fn import settings
from lambda_fn.registry import serving
from lambda_fn.registry.artifacts import METADATA_FILE, SIGNATURE_FILE, ArtifactError
from lambda_fn.registry.signing import MESSAGE_TYPE, SIGNING_ALGORITHM, SigningKey
from tests.registry.conftest import (
    BUCKET,
    MODEL,
    assert_still_serving,
    create_signing_key,
    edit_json,
    run_cli,
    served,
)

METADATA = json.dumps({"name": MODEL, "files": {"model.pkl": "ab" * 32}, "padding": "x" * 5000}).encode()


def _flip(data: bytes, at: int = -1) -> bytes:
    changed = bytearray(data)
    changed[at] ^= 0x01
    return bytes(changed)


def _with_signature(signature_file: bytes, change) -> bytes:
    content = json.loads(signature_file)
    change(content)
    return json.dumps(content).encode()


# ---- the key: sign, verify, refuse ----------------------------------------------------------------

def test_a_signature_verifies_with_the_key_that_made_it(aws):
    signature_file = aws.signing_key.sign(METADATA)

    aws.signing_key.verify(METADATA, signature_file, source="test")   # returns: verified

    content = json.loads(signature_file)
    assert (content["key_arn"], content["signing_algorithm"], content["message_type"]) == (
        aws.key_arn, SIGNING_ALGORITHM, MESSAGE_TYPE)
    assert len(METADATA) > 4096   # why DIGEST: KMS signs at most 4,096 raw bytes


def test_one_flipped_byte_of_the_signature_fails_verification(aws):
    def flip_signature(content):
        content["signature"] = base64.b64encode(_flip(base64.b64decode(content["signature"]), 10)).decode()

    with pytest.raises(ArtifactError, match="does not verify with the trusted key"):
        aws.signing_key.verify(METADATA, _with_signature(aws.signing_key.sign(METADATA), flip_signature),
                               source="test")


def test_changed_metadata_fails_verification_even_with_its_digest_rewritten(aws):
    signature_file = aws.signing_key.sign(METADATA)
    changed = _flip(METADATA, 20)

    with pytest.raises(ArtifactError, match="changed after it was signed"):
        aws.signing_key.verify(changed, signature_file, source="test")
    # Rewriting the recorded digest gets past the quick check, not past KMS.
    forged = _with_signature(signature_file, lambda c: c.update(metadata_sha256=hashlib.sha256(changed).hexdigest()))
    with pytest.raises(ArtifactError, match="does not verify with the trusted key"):
        aws.signing_key.verify(changed, forged, source="test")


def test_another_keys_signature_is_refused_whatever_key_the_file_names(aws):
    other = SigningKey(aws.kms, create_signing_key(aws.kms))
    by_other = other.sign(METADATA)

    with pytest.raises(ArtifactError, match=f"does not verify with the trusted key {aws.key_arn}"):
        aws.signing_key.verify(METADATA, by_other, source="test")
    claims_ours = _with_signature(by_other, lambda c: c.update(key_arn=aws.key_arn))
    with pytest.raises(ArtifactError, match="does not verify with the trusted key"):
        aws.signing_key.verify(METADATA, claims_ours, source="test")


@pytest.mark.parametrize("signature_file", [b"", b"not json", b'{"signature": "AAAA"}',
                                            b'{"key_arn": "k", "signing_algorithm": "RSASSA_PSS_SHA_256", '
                                            b'"message_type": "DIGEST", "metadata_sha256": "", "signature": "AA=="}'])
def test_a_malformed_signature_file_is_refused(aws, signature_file):
    with pytest.raises(ArtifactError, match="is not a signature file"):
        aws.signing_key.verify(METADATA, signature_file, source="test")


# ---- the service: refuses, keeps serving ----------------------------------------------------------

@pytest.fixture
def candidate(versions, tmp_path):
    """A copy of v2 under a new version name, to be uploaded broken in some way."""
    folder = tmp_path / "20990101T000013Z-candidate"
    shutil.copytree(versions.root / MODEL / versions.v2, folder)
    edit_json(folder / METADATA_FILE, lambda m: m.update(version=folder.name))
    return folder


def _replace_in_bucket(aws, folder, file, body):
    aws.s3.put_object(Bucket=BUCKET, Key=f"{MODEL}/{folder.name}/{file}", Body=body)


def _unsigned(aws, folder):
    aws.upload(folder, skip=(SIGNATURE_FILE,))


def _metadata_changed_after_signing(aws, folder):
    aws.upload(folder)
    metadata = json.loads((folder / METADATA_FILE).read_text())
    metadata["smoke_test"]["prices"][0] *= 2   # still valid JSON, a different release
    _replace_in_bucket(aws, folder, METADATA_FILE, json.dumps(metadata).encode())


def _signed_by_another_key(aws, folder):
    aws.upload(folder, signed_by=SigningKey(aws.kms, create_signing_key(aws.kms)))


def _garbage_signature(aws, folder):
    aws.upload(folder)
    _replace_in_bucket(aws, folder, SIGNATURE_FILE, b"-----BEGIN SIGNATURE-----")


REFUSALS = {
    "unsigned": (_unsigned, r"has no metadata\.json\.sig: an unsigned version is never served"),
    "metadata changed after signing": (_metadata_changed_after_signing, r"metadata\.json changed after it was signed"),
    "signed by another key": (_signed_by_another_key, r"does not verify with the trusted key"),
    "not a signature": (_garbage_signature, r"metadata\.json\.sig is not a signature file"),
}


@pytest.mark.parametrize("refusal", REFUSALS, ids=list(REFUSALS))
def test_a_wrongly_signed_version_is_refused_before_any_model_file_is_read(
        serving_v1, versions, candidate, log_lines, capsys, refusal):
    break_it, reason = REFUSALS[refusal]
    break_it(serving_v1, candidate)
    sync = serving.get_model_store().updates
    downloaded = []
    download = sync.s3.download_file

    def recording_download(bucket, key, filename, *args, **kwargs):
        downloaded.append(key.rsplit("/", 1)[-1])
        return download(bucket, key, filename, *args, **kwargs)

    sync.s3.download_file = recording_download
    serving_v1.set_pointer(candidate.name)

    failures = assert_still_serving(versions, versions.v1, log_lines, capsys, reason)

    assert failures[0]["wanted_version"] == candidate.name
    assert set(downloaded) <= {METADATA_FILE, SIGNATURE_FILE}   # no model file fetched, let alone parsed


def test_without_a_trusted_key_no_registry_version_is_served(serving_v1, versions, monkeypatch, log_lines, capsys):
    monkeypatch.delenv("MODEL_SIGNING_KEY_ARN")
    settings.get_settings.cache_clear()
    serving.get_model_store.cache_clear()   # a cold start without the key: the image's model serves

    assert_still_serving(versions, versions.baked, log_lines, capsys, r"MODEL_SIGNING_KEY_ARN is not set")


def test_the_image_model_needs_no_signature(registry_env, versions, monkeypatch, log_lines):
    # The image's model is trusted as the image is: served with no signature and no key configured.
    monkeypatch.delenv("MODEL_SIGNING_KEY_ARN")
    registry_env.set_pointer(None)

    assert served() == (versions.baked, versions.prices[versions.baked])
    assert not [line for line in log_lines() if "swap failed" in line.get("message", "")]


# ---- the CLI: publish signs, promote verifies -------------------------------------------------------

def test_publish_uploads_a_signature_of_the_metadata_it_uploads(registry_env, versions):
    assert run_cli("publish", "--artifacts", str(versions.root), "--version", versions.v1) == 0

    prefix = f"{MODEL}/{versions.v1}/"
    metadata = registry_env.s3.get_object(Bucket=BUCKET, Key=prefix + METADATA_FILE)["Body"].read()
    signature = registry_env.s3.get_object(Bucket=BUCKET, Key=prefix + SIGNATURE_FILE)["Body"].read()
    registry_env.signing_key.verify(metadata, signature, source="test")
    assert metadata == (versions.root / MODEL / versions.v1 / METADATA_FILE).read_bytes()


def test_publish_without_a_usable_key_uploads_nothing(registry_env, versions, monkeypatch, capsys):
    monkeypatch.delenv("MODEL_SIGNING_KEY_ARN")
    assert run_cli("publish", "--artifacts", str(versions.root), "--version", versions.v1) == 1
    assert "no signing key: pass --signing-key or set MODEL_SIGNING_KEY_ARN" in capsys.readouterr().err

    cannot_sign = registry_env.kms.create_key()["KeyMetadata"]["Arn"]   # an encryption key: KMS refuses kms:Sign
    assert run_cli("--signing-key", cannot_sign,
                   "publish", "--artifacts", str(versions.root), "--version", versions.v1) == 1

    assert f"could not sign metadata.json with {cannot_sign}" in capsys.readouterr().err
    assert registry_env.s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0


@pytest.mark.parametrize("refusal", ["unsigned", "signed by another key"])
def test_promote_refuses_a_wrongly_signed_version(registry_env, candidate, refusal, capsys):
    break_it, reason = REFUSALS[refusal]
    break_it(registry_env, candidate)

    assert run_cli("promote", "--version", candidate.name) == 1

    assert re.search(reason, capsys.readouterr().err)
    assert registry_env.pointer() is None
