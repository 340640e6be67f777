"""Release models through the S3 model registry (layout and pointer: ``lambda_fn/registry/layout.py``).

    python -m model.registry publish  [--name basic] [--version V]  sign metadata.json with the KMS key, upload
                                                                     model/artifacts/<name>/<V> (default: its
                                                                     LATEST) and the signature; never overwrites
    python -m model.registry promote  --version V [--name basic]    verify the signature, checksums, smoke test,
                                                                     price the future examples; move the pointer
    python -m model.registry promote  --image [--name basic]        back to the model baked into the image
    python -m model.registry rollback [--name basic]                move the pointer back one release (checked)
    python -m model.registry list     [--name basic]                versions, the active one, the history

The bucket, pointer prefix and signing key come from ``--bucket`` / ``--pointer-prefix`` /
``--signing-key`` or the variables the service itself reads (MODEL_REGISTRY_BUCKET,
MODEL_POINTER_PREFIX, MODEL_SIGNING_KEY_ARN: the stack outputs BucketName, PointerPrefix,
SigningKeyArn); AWS credentials from the usual chain, as the registry's deploy role (it alone may
write and sign). Running services serve only versions signed with that key, and follow a promotion
or a rollback within MODEL_REFRESH_SECONDS, with no new image and no restart. The stack does not
create the pointers: until the first ``promote`` creates one, it reads as "the image's model".
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import json
import math
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambda_fn.core.market import today
from lambda_fn.core.predictor import Predictor
from lambda_fn.registry.artifacts import (
    METADATA_FILE,
    SIGNATURE_FILE,
    ArtifactError,
    latest_version_folder,
    load_predictor,
)
from lambda_fn.registry.layout import (
    Pointer,
    RegistryError,
    RegistryLocation,
    aws_client,
    check_id,
    describe_aws_error,
    describe_version,
    fetch_predictor,
    is_missing,
    is_parameter_not_found,
)
from lambda_fn.registry.signing import SigningKey
from lambda_fn.settings import DEFAULT_MODEL_DIR, DEFAULT_POINTER_PREFIX, Settings
from model import data

NO_POINTER = 0  # the "SSM version" of a pointer not created yet (SSM numbers versions from 1)
COMMANDS = {
    "publish": "sign metadata.json with the registry's KMS key (--signing-key), then upload a local version "
               "and its signature; never overwrites",
    "promote": "verify a published version (signature, checksums, libraries, smoke test, future examples), "
               "then make it active; --image: the model baked into each image",
    "rollback": "make the previous version active again (verified first, like promote)",
    "list": "versions, the active one and the rollback history",
}


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


@dataclass
class Registry:
    location: RegistryLocation
    s3: Any
    ssm: Any
    signing_key: SigningKey | None = None  # needed to publish (sign) and to promote or roll back (verify)

    def key(self) -> SigningKey:
        if self.signing_key is None:
            raise RegistryError("no signing key: pass --signing-key or set MODEL_SIGNING_KEY_ARN "
                                "(the registry stack's output SigningKeyArn)")
        return self.signing_key

    def names(self) -> list[str]:
        return self._children("")

    def versions(self, name: str) -> list[str]:
        return sorted(v for v in self._children(f"{check_id('name', name)}/") if self.is_published(name, v))

    def _children(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.location.bucket, Prefix=prefix, Delimiter="/")
        return [p["Prefix"][len(prefix):].rstrip("/") for page in pages for p in page.get("CommonPrefixes", [])]

    def has_objects(self, name: str, version: str) -> bool:
        listed = self.s3.list_objects_v2(Bucket=self.location.bucket, MaxKeys=1,
                                         Prefix=self.location.version_prefix(name, version))
        return listed.get("KeyCount", 0) > 0

    def is_published(self, name: str, version: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.location.bucket, Key=self.location.key(name, version, METADATA_FILE))
        except Exception as error:
            if is_missing(error):
                return False
            raise RegistryError(f"could not read {self.location.url(name, version)}: "
                                f"{describe_aws_error(error)}") from error
        return True

    def metadata(self, name: str, version: str) -> dict[str, Any]:
        body = self.s3.get_object(Bucket=self.location.bucket, Key=self.location.key(name, version, METADATA_FILE))
        return json.loads(body["Body"].read())

    def read_pointer(self, name: str) -> tuple[Pointer, int]:
        """The pointer and its SSM version; a pointer not created yet (nothing promoted) is
        ``Pointer()`` ("the image's model", no history) at version 0."""
        parameter = self.location.pointer_name(name)
        try:
            found = self.ssm.get_parameter(Name=parameter)["Parameter"]
        except Exception as error:
            if is_parameter_not_found(error):
                return Pointer(), NO_POINTER
            raise RegistryError(f"could not read pointer {parameter}: {describe_aws_error(error)}") from error
        return Pointer.parse(found["Value"], source=parameter), found["Version"]

    def write_pointer(self, name: str, pointer: Pointer, *, read_at_version: int) -> None:
        """Create or move the pointer. SSM has no compare-and-swap: re-read just before writing, so
        a release that raced another one fails loudly instead of silently dropping the other's history."""
        _, current = self.read_pointer(name)
        if current != read_at_version:
            raise RegistryError(f"pointer {self.location.pointer_name(name)} changed while this command ran "
                                "(another release?): nothing written; run it again")
        self.ssm.put_parameter(Name=self.location.pointer_name(name), Value=pointer.to_json(),
                               Type="String", Overwrite=True)


def publish(registry: Registry, artifacts: Path, name: str, version: str | None) -> str:
    folder = artifacts / name / version if version else latest_version_folder(artifacts, name)
    predictor = load_predictor(folder)   # verified and smoke-tested, as the service will
    version = check_id("version", folder.name)
    if (predictor.name, predictor.version) != (name, version):
        raise ArtifactError(f"{folder} describes itself as {predictor.name} {predictor.version}: "
                            "refusing to publish")
    if registry.has_objects(name, version):
        raise RegistryError(f"{registry.location.url(name, version)} already exists: versions are immutable "
                            "(train a new version instead)")
    metadata = (folder / METADATA_FILE).read_bytes()
    signature = _sign(registry.key(), metadata)   # before any upload: a refused signature leaves nothing behind
    uploads = {file: (folder / file).read_bytes() for file in predictor.metadata["files"]}
    # The signature before metadata.json, which goes last: once it exists the version is complete.
    uploads.update({SIGNATURE_FILE: signature, METADATA_FILE: metadata})
    for file, body in uploads.items():
        try:
            registry.s3.put_object(Bucket=registry.location.bucket, Key=registry.location.key(name, version, file),
                                   Body=body, IfNoneMatch="*",
                                   ChecksumSHA256=base64.b64encode(hashlib.sha256(body).digest()).decode())
        except Exception as error:
            raise RegistryError(f"could not upload {registry.location.url(name, version, file)}: "
                                f"{describe_aws_error(error)}") from error
    print(f"published {name} {version} to {registry.location.url(name, version)}, signed with {registry.key().key_arn}")
    return version


def _sign(key: SigningKey, metadata: bytes) -> bytes:
    try:
        return key.sign(metadata)
    except Exception as error:  # access denied (not the deploy role?), key disabled, KMS unreachable
        raise RegistryError(f"could not sign {METADATA_FILE} with {key.key_arn}: "
                            f"{describe_aws_error(error)}") from error


def check_candidate(registry: Registry, name: str, version: str, workdir: Path) -> Predictor:
    """What the service will check (signature, checksums, libraries, smoke test), plus the 100 future examples."""
    if not registry.is_published(name, version):
        raise RegistryError(f"{registry.location.url(name, version)} is not published (see `list`)")
    predictor = fetch_predictor(registry.s3, registry.location, name, version, workdir, signing_key=registry.key())
    houses = json.loads(data.load_future_examples().to_json(orient="records"))
    prices = predictor.predict(houses, today())
    bad = [i for i, price in enumerate(prices) if not (math.isfinite(price) and price > 0)]
    if len(prices) != len(houses) or bad:
        raise ArtifactError(f"{name} {version} priced future examples {bad[:10]} as non-positive or not finite")
    print(f"checked {name} {version}: signature, checksums, libraries, smoke test, "
          f"{len(prices)} future examples priced (${min(prices):,.0f} to ${max(prices):,.0f})")
    return predictor


def promote(registry: Registry, name: str, version: str | None, workdir: Path) -> None:
    """``version=None``: each environment serves the model baked into its own image (which it
    verifies itself at cold start): the safe state while an image with new library pins rolls out."""
    pointer, read_at = registry.read_pointer(name)
    if pointer.version == version:
        print(f"{name}: {describe_version(version)} is already active")
        return
    if version is not None:
        check_candidate(registry, name, version, workdir)
    registry.write_pointer(name, pointer.promoted(version, _now()), read_at_version=read_at)
    print(f"promoted {name}: {describe_version(pointer.version)} -> {describe_version(version)}")


def rollback(registry: Registry, name: str, workdir: Path) -> None:
    pointer, read_at = registry.read_pointer(name)
    if not pointer.previous:
        raise RegistryError(f"{name}: no previous version to roll back to "
                            f"(active: {describe_version(pointer.version)}; nothing was written)")
    target = pointer.rolled_back(_now())
    if target.version is not None:
        check_candidate(registry, name, target.version, workdir)
    registry.write_pointer(name, target, read_at_version=read_at)
    print(f"rolled back {name}: {describe_version(pointer.version)} -> {describe_version(target.version)}")


def show(registry: Registry, names: list[str]) -> None:
    for name in names:
        try:
            pointer, _ = registry.read_pointer(name)
        except RegistryError as error:
            pointer = None
            print(f"{name}: {error}")
        else:
            history = ", ".join(describe_version(v) for v in pointer.previous) or "none"
            print(f"{name}: active {describe_version(pointer.version)} (promoted {pointer.promoted_at or '-'}); "
                  f"rollback history: {history}")
        for version in registry.versions(name):
            meta = registry.metadata(name, version)
            mape = meta.get("metrics", {}).get("held_out", {}).get("mape")
            marker = "*" if pointer and pointer.version == version else " "
            print(f"  {marker} {version}  created {meta.get('created_at', '?')}  "
                  f"held-out MAPE {f'{mape:.1%}' if mape is not None else '?'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.registry", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bucket", default=os.environ.get("MODEL_REGISTRY_BUCKET"),
                        help="registry bucket (default $MODEL_REGISTRY_BUCKET)")
    parser.add_argument("--pointer-prefix", default=os.environ.get("MODEL_POINTER_PREFIX", DEFAULT_POINTER_PREFIX),
                        help="SSM path of the pointers (default $MODEL_POINTER_PREFIX or %(default)s)")
    parser.add_argument("--signing-key", default=os.environ.get("MODEL_SIGNING_KEY_ARN"),
                        help="ARN of the registry's KMS signing key: publish signs with it, promote and rollback "
                             "verify with it (default $MODEL_SIGNING_KEY_ARN)")
    commands = parser.add_subparsers(dest="command", required=True)
    for command, summary in COMMANDS.items():
        sub = commands.add_parser(command, help=summary, description=summary)
        sub.add_argument("--name", default=None if command == "list" else Settings().default_model,
                         help="model name (default: the service's default model, $DEFAULT_MODEL or gbm)")
        if command == "publish":
            sub.add_argument("--version", help="default: the folder named by model/artifacts/<name>/LATEST")
        if command == "promote":
            target = sub.add_mutually_exclusive_group(required=True)
            target.add_argument("--version", help="a published version (see list)")
            target.add_argument("--image", action="store_true", help="the model baked into each running image")
        if command == "publish":
            sub.add_argument("--artifacts", type=Path, default=DEFAULT_MODEL_DIR, help="local artifact root")
    args = parser.parse_args(argv)
    if not args.bucket:
        parser.error("no registry bucket: pass --bucket or set MODEL_REGISTRY_BUCKET")

    from botocore.exceptions import BotoCoreError, ClientError

    signing_key = SigningKey(aws_client("kms"), args.signing_key) if args.signing_key else None
    registry = Registry(RegistryLocation(args.bucket, args.pointer_prefix), aws_client("s3"), aws_client("ssm"),
                        signing_key)
    try:
        with tempfile.TemporaryDirectory(prefix="model-registry-") as workdir:
            if args.command == "publish":
                publish(registry, args.artifacts, args.name, args.version)
            elif args.command == "promote":
                promote(registry, args.name, None if args.image else args.version, Path(workdir))
            elif args.command == "rollback":
                rollback(registry, args.name, Path(workdir))
            else:
                show(registry, [args.name] if args.name else registry.names())
    except (RegistryError, ArtifactError, FileNotFoundError, BotoCoreError, ClientError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
