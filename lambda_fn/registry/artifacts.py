"""Model versions on disk: one immutable folder per version, verified before anything is parsed.

Layout of ``<root>/<name>/<version>/``::

    metadata.json          name, version, format, creation time, library versions, the sha256 of
                           every other file (``files``), metrics, interval, market, smoke test
    model_features.json    feature names in training order (the client's format: a JSON list)
    demographics.csv       the zipcode demographics the model was trained with
    ...                    the model's own files: LightGBM text models and model.json for
                           ``lightgbm-blend``, model.pkl for ``sklearn-pickle`` (the client's model);
                           sales.csv for a version that explains (its training sales)

``<root>/<name>/LATEST`` names the newest version built locally. ``load_predictor`` checks every
listed file's checksum and the versions of the libraries that read them *before* parsing or
unpickling anything, then re-prices the smoke-test houses recorded at training; any failure
raises ``ArtifactError`` saying what is wrong, and no half-loaded model is ever returned.

Trust: a folder on local disk is trusted as the code beside it is. The image's models are built by
``make train`` and reach an environment only inside the image that ``make deploy`` ships; the
checksums here catch corruption, not an attacker. A version fetched from the S3 registry must
also carry ``metadata.json.sig``, the registry key's signature of its ``metadata.json``, checked
before anything is parsed (``lambda_fn.registry.signing``, ``lambda_fn.registry.layout``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import platform
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

from lambda_fn.core.predictor import DEMOGRAPHICS_FILE, FEATURES_FILE, ModelFormatError, Predictor

METADATA_FILE = "metadata.json"
SIGNATURE_FILE = "metadata.json.sig"  # only in the registry's copy of a version (lambda_fn.registry.signing)
LATEST_FILE = "LATEST"
# The library that parses each format's files; its version must be the one the files were written with.
FORMAT_LIBRARY = {"lightgbm-blend": "lightgbm", "sklearn-pickle": "scikit-learn"}
LIBRARIES = ("numpy", "scipy", "pykdtree", "lightgbm", "scikit-learn")


class ArtifactError(Exception):
    """A version is missing, corrupted, built with other libraries, or prices differently than trained."""


def library_versions() -> dict[str, str]:
    """Versions of the libraries models are built with, read without importing them."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        with contextlib.suppress(package_metadata.PackageNotFoundError):
            versions[name] = package_metadata.version(name)
    return versions


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_version(folder: Path, *, files: dict[str, bytes], metadata: dict[str, Any]) -> dict[str, Any]:
    """Write a new version folder (refusing one that exists: versions are immutable) and return
    its metadata, which lists every file's sha256 and the library versions."""
    if folder.exists():
        raise ArtifactError(f"{folder} already exists: model versions are immutable")
    if {METADATA_FILE, SIGNATURE_FILE} & set(files) or metadata.get("format") not in FORMAT_LIBRARY:
        raise ArtifactError(f"a version needs a known format ({', '.join(FORMAT_LIBRARY)}) and no file named "
                            f"{METADATA_FILE} or {SIGNATURE_FILE}")
    folder.mkdir(parents=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    full = {**metadata, "library_versions": library_versions(),
            "files": {name: sha256_bytes(content) for name, content in sorted(files.items())}}
    write_metadata(folder, full)
    return full


def write_metadata(folder: Path, metadata: dict[str, Any]) -> None:
    (folder / METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True))


def read_metadata(folder: Path) -> dict[str, Any]:
    path = Path(folder) / METADATA_FILE
    if not path.is_file():
        raise ArtifactError(f"{path} is missing: not a model version")
    try:
        metadata = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise ArtifactError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(metadata, dict) or not isinstance(metadata.get("files"), dict):
        raise ArtifactError(f"{path} lists no files: not a model version of this service")
    return metadata


def verified_files(folder: Path, metadata: dict[str, Any]) -> dict[str, bytes]:
    """Every file the metadata lists, read once and checked against its sha256, after checking that
    the library which parses the format is the version that wrote it. Only these bytes are parsed."""
    model_format = metadata.get("format")
    if model_format not in FORMAT_LIBRARY:
        raise ArtifactError(f"{folder} has format {model_format!r}, not one of {', '.join(FORMAT_LIBRARY)}: "
                            "retrain it (make train)")
    library = FORMAT_LIBRARY[model_format]
    built_with = metadata.get("library_versions", {}).get(library)
    installed = library_versions().get(library)
    if built_with != installed:
        raise ArtifactError(f"{folder} was built with {library} {built_with}, this process has {installed}: "
                            "retrain it with the pinned version (make train)")
    listed = metadata["files"]
    for required in (FEATURES_FILE, DEMOGRAPHICS_FILE):
        if required not in listed:
            raise ArtifactError(f"{folder}: metadata lists no {required}")
    files = {}
    for name, expected in listed.items():
        path = Path(folder) / name
        if "/" in name or name.startswith(".") or not path.is_file():
            raise ArtifactError(f"{path} is missing")
        content = path.read_bytes()
        actual = sha256_bytes(content)
        if actual != expected:
            raise ArtifactError(f"checksum mismatch for {path}: metadata says {expected}, file is {actual}")
        files[name] = content
    return files


def load_predictor(folder: Path) -> Predictor:
    """The version in ``folder``, verified, loaded and smoke-tested; any problem is an ArtifactError."""
    folder = Path(folder)
    metadata = read_metadata(folder)
    files = verified_files(folder, metadata)
    try:
        predictor = Predictor.from_files(files, metadata)
        predictor.smoke_test()
    except ModelFormatError as error:
        raise ArtifactError(str(error)) from error
    return predictor


def latest_version_folder(root: Path, name: str) -> Path:
    pointer = Path(root) / name / LATEST_FILE
    if not pointer.is_file():
        raise ArtifactError(f"no trained '{name}' model under {root}: run `make train`")
    return pointer.parent / pointer.read_text().strip()
