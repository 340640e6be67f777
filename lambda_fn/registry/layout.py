"""The S3 model registry's layout, shared by the release CLI (``model.registry``) and the service
(``lambda_fn.registry.sync``), so both always agree on where a version lives and what is active.

    s3://<bucket>/<name>/<version>/<file>   one immutable prefix per model version: the version
                                            folder of lambda_fn.registry.artifacts, uploaded with
                                            If-None-Match: * (never overwritten), then
                                            metadata.json.sig (lambda_fn.registry.signing), then
                                            metadata.json (a version is complete once its metadata
                                            exists; it lists every other file)
    SSM parameter <pointer prefix>/<name> = {"version": "<version>" | null,
                                             "previous": ["<version>" | null, ...],
                                             "promoted_at": "<UTC time>"}

``version: null`` means "the model baked into the image", and so does a pointer that does not
exist: CloudFormation does not create the pointers (a deploy would write its value over a
released one), the first ``promote`` does. Rolling back past the first promotion returns to null. ``previous`` is the
rollback history, newest first; promote pushes onto it, rollback pops it.

Why the pointer is an SSM parameter: docs/decisions/002-registry-s3-versions-and-ssm-pointer.md.
SSM has no compare-and-swap, so releases must be serialised; the CLI re-reads the pointer just
before writing and refuses if it moved meanwhile.

``fetch_predictor`` is the one way a registry version becomes servable, for the CLI and the
service alike: download ``metadata.json`` and its signature into a fresh folder, verify the
signature with the registry's KMS key before parsing anything, then download the files the
metadata lists, check it names the requested version, verify checksums and library versions,
load and smoke test (``load_predictor``); any failure raises ``RegistryError`` or
``ArtifactError`` with the reason, and nothing half-loaded or unsigned escapes.
"""

from __future__ import annotations

import re
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from lambda_fn.core.predictor import Predictor
from lambda_fn.registry.artifacts import METADATA_FILE, SIGNATURE_FILE, ArtifactError, load_predictor, read_metadata
from lambda_fn.registry.signing import SigningKey

HISTORY_LIMIT = 20  # rollback depth kept in the pointer (an SSM standard parameter holds 4 KB)
# Names and versions become S3 keys and local folder names: no slashes, no leading dot.
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# Connect fast, never retry: in Lambda a request that notices a new pointer pays for the swap, and
# a failed swap is retried by the next check anyway. One call then lasts at most
# connect + read (a version's files are far below S3's 8 MB multipart threshold: one GET each).
CLIENT_TIMEOUTS = {"connect_timeout": 1, "read_timeout": 2, "retries": {"mode": "standard", "max_attempts": 1}}
WORST_CALL_SECONDS = CLIENT_TIMEOUTS["connect_timeout"] + CLIENT_TIMEOUTS["read_timeout"]
_MISSING = {"404", "NoSuchKey", "NotFound", "ParameterNotFound"}  # error codes of "does not exist"


class RegistryError(Exception):
    """The registry is unreachable, or holds no usable answer for what was asked."""


@dataclass(frozen=True)
class TimeBudget:
    """The moment a swap must be done by (``clock`` seconds). ``check`` refuses to start a network
    call that, at its worst, would end after it: a swap inside a Lambda request stops before the
    function's timeout, however slow S3 is."""

    ends_at: float
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

    def allows_a_call(self) -> bool:
        return self.clock() + WORST_CALL_SECONDS <= self.ends_at

    def check(self, step: str) -> None:
        if not self.allows_a_call():
            raise RegistryError(f"no time left in this request to {step}; the next check retries")


def check_id(kind: str, value: str) -> str:
    if not _SAFE_ID.fullmatch(value):
        raise RegistryError(f"invalid model {kind} {value!r}: letters, digits, '.', '_', '-' (max 128)")
    return value


class Pointer(BaseModel):
    """The value of one model name's pointer parameter."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    version: str | None = None
    previous: tuple[str | None, ...] = ()
    promoted_at: str | None = None

    @field_validator("version")
    @classmethod
    def _safe_version(cls, value: str | None) -> str | None:
        if value is not None and not _SAFE_ID.fullmatch(value):
            raise ValueError(f"unsafe version {value!r}")
        return value

    @field_validator("previous")
    @classmethod
    def _safe_history(cls, value: tuple[str | None, ...]) -> tuple[str | None, ...]:
        for version in value:
            cls._safe_version(version)
        return value

    @classmethod
    def parse(cls, raw: Any, *, source: str) -> Pointer:
        try:
            return cls.model_validate_json(raw) if isinstance(raw, str | bytes) else cls.model_validate(raw)
        except ValidationError as error:
            raise RegistryError(f"pointer {source} is not a valid pointer ({raw!r}): {error}") from error

    def promoted(self, version: str | None, at: str) -> Pointer:
        history = (self.version, *self.previous)[:HISTORY_LIMIT]
        return Pointer(version=version, previous=history, promoted_at=at)

    def rolled_back(self, at: str) -> Pointer:
        if not self.previous:
            raise RegistryError("no previous version to roll back to")
        return Pointer(version=self.previous[0], previous=self.previous[1:], promoted_at=at)

    def to_json(self) -> str:
        return self.model_dump_json()


def describe_version(version: str | None) -> str:
    return version or "the image's model"


@dataclass(frozen=True)
class RegistryLocation:
    bucket: str
    pointer_prefix: str

    def version_prefix(self, name: str, version: str) -> str:
        return f"{check_id('name', name)}/{check_id('version', version)}/"

    def key(self, name: str, version: str, file: str) -> str:
        return self.version_prefix(name, version) + file

    def url(self, name: str, version: str, file: str = "") -> str:
        return f"s3://{self.bucket}/{self.key(name, version, file)}"

    def pointer_name(self, name: str) -> str:
        return f"{self.pointer_prefix.rstrip('/')}/{check_id('name', name)}"


def aws_client(service: str) -> Any:
    """A boto3 client with short timeouts (boto3 is imported only by processes that use the registry)."""
    import boto3
    from botocore.config import Config

    return boto3.client(service, config=Config(**CLIENT_TIMEOUTS))


def describe_aws_error(error: Exception) -> str:
    """'NoSuchKey (missing)', 'EndpointConnectionError: ...': short enough for a log line."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code", "error"))
        return f"{code}{' (missing)' if is_missing(error) else ''}: {error}"
    return f"{type(error).__name__}: {error}"


def is_missing(error: BaseException | None) -> bool:
    """Whether an AWS error says the object or parameter does not exist."""
    response = getattr(error, "response", None)
    return isinstance(response, dict) and str(response.get("Error", {}).get("Code")) in _MISSING


def is_parameter_not_found(error: BaseException) -> bool:
    """Whether SSM answered ParameterNotFound, however wrapped: Powertools' GetParameterError keeps
    only the message and chains the SDK's ClientError as its context."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        response = getattr(current, "response", None)
        if isinstance(response, dict) and response.get("Error", {}).get("Code") == "ParameterNotFound":
            return True
        current = current.__cause__ or current.__context__
    return False


def download_version(s3: Any, location: RegistryLocation, name: str, version: str, folder: Path, *,
                     signing_key: SigningKey, budget: TimeBudget | None = None) -> Path:
    """``metadata.json`` of ``name``/``version`` and its signature, verified with ``signing_key``
    before the metadata is parsed, then every file it lists, into ``folder`` (which must not exist
    yet); each call started only within ``budget``. Names come from the metadata, so only plain
    file names are accepted."""
    folder.mkdir(parents=True)
    _download(s3, location, name, version, METADATA_FILE, folder, budget)
    _download_signature(s3, location, name, version, folder, budget)
    _verify_signature(signing_key, location.url(name, version).rstrip("/"), folder, budget)
    try:
        files = read_metadata(folder)["files"]
    except ArtifactError as error:
        raise ArtifactError(str(error).replace(str(folder), location.url(name, version).rstrip("/"))) from error
    for file in files:
        if not _SAFE_ID.fullmatch(file):
            raise ArtifactError(f"{location.url(name, version, METADATA_FILE)} lists an unsafe file name {file!r}")
        _download(s3, location, name, version, file, folder, budget)
    return folder


def _download_signature(s3: Any, location: RegistryLocation, name: str, version: str, folder: Path,
                        budget: TimeBudget | None) -> None:
    try:
        _download(s3, location, name, version, SIGNATURE_FILE, folder, budget)
    except RegistryError as error:
        if is_missing(error.__cause__):
            raise ArtifactError(f"{location.url(name, version)} has no {SIGNATURE_FILE}: "
                                "an unsigned version is never served (publish signs it)") from error
        raise


def _verify_signature(signing_key: SigningKey, source: str, folder: Path, budget: TimeBudget | None) -> None:
    if budget is not None:
        budget.check(f"verify the signature of {source}")
    try:
        signing_key.verify((folder / METADATA_FILE).read_bytes(), (folder / SIGNATURE_FILE).read_bytes(),
                           source=source)
    except ArtifactError:
        raise
    except Exception as error:  # KMS unreachable, throttled, access denied, key disabled: no answer
        raise RegistryError(f"could not verify the signature of {source} with KMS: "
                            f"{describe_aws_error(error)}") from error


def _download(s3: Any, location: RegistryLocation, name: str, version: str, file: str, folder: Path,
              budget: TimeBudget | None) -> None:
    if budget is not None:
        budget.check(f"download {location.url(name, version, file)}")
    try:
        s3.download_file(location.bucket, location.key(name, version, file), str(folder / file))
    except Exception as error:  # botocore's ClientError / BotoCoreError, s3transfer's errors
        raise RegistryError(f"could not download {location.url(name, version, file)}: "
                            f"{describe_aws_error(error)}") from error


def fetch_predictor(s3: Any, location: RegistryLocation, name: str, version: str, workdir: Path, *,
                    signing_key: SigningKey, budget: TimeBudget | None = None) -> Predictor:
    """Download (within ``budget``, if any), check the signature with ``signing_key``, verify, load
    and smoke-test one registry version; the downloaded files are removed whatever happens (the
    returned predictor holds everything it needs in memory)."""
    folder = Path(workdir) / f"{check_id('name', name)}-{check_id('version', version)}-{uuid.uuid4().hex[:8]}"
    try:
        download_version(s3, location, name, version, folder, signing_key=signing_key, budget=budget)
        metadata = read_metadata(folder)
        if (metadata.get("name"), metadata.get("version")) != (name, version):
            raise ArtifactError(f"{location.url(name, version)} holds {metadata.get('name')} {metadata.get('version')} "
                                "according to its metadata.json: refusing a mislabelled version")
        try:
            return load_predictor(folder)
        except ArtifactError as error:  # name the registry's copy, not the temporary folder
            raise ArtifactError(str(error).replace(str(folder), location.url(name, version).rstrip("/"))) from error
    finally:
        shutil.rmtree(folder, ignore_errors=True)
