"""Model artifacts: one immutable folder per model version.

Layout of ``<root>/<name>/<version>/``::

    model.pkl              the fitted scikit-learn estimator (pickle)
    model_features.json    feature names in training order (the client's format: a JSON list)
    demographics.csv       the zipcode demographics the model was trained with
    metadata.json          name, version, creation time, library versions, sha256 of every file
                           above, training-data fingerprint, held-out metrics

``<root>/<name>/LATEST`` names the newest version built locally. Loading verifies every
checksum and the scikit-learn version *before* unpickling, and raises ``ArtifactError`` with
a message saying what is wrong; a model that fails a check is never returned.
"""

from __future__ import annotations

import csv
import hashlib
import json
import pickle
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import sklearn

MODEL_FILE = "model.pkl"
FEATURES_FILE = "model_features.json"
DEMOGRAPHICS_FILE = "demographics.csv"
METADATA_FILE = "metadata.json"
LATEST_FILE = "LATEST"
CHECKSUMMED_FILES = (MODEL_FILE, FEATURES_FILE, DEMOGRAPHICS_FILE)


class ArtifactError(Exception):
    """An artifact is missing, corrupted or built with incompatible libraries."""


@dataclass(frozen=True)
class ModelArtifact:
    metadata: dict[str, Any]
    estimator: Any
    features: list[str]
    demographics: dict[str, dict[str, float]]

    @property
    def name(self) -> str:
        return self.metadata["name"]

    @property
    def version(self) -> str:
        return self.metadata["version"]


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_artifact(folder: Path, *, estimator: Any, features: list[str], demographics_csv: bytes,
                   metadata: dict[str, Any]) -> dict[str, Any]:
    """Write a new version folder; refuses to touch one that exists (versions are immutable)."""
    if folder.exists():
        raise ArtifactError(f"{folder} already exists: model versions are immutable")
    folder.mkdir(parents=True)
    (folder / MODEL_FILE).write_bytes(pickle.dumps(estimator, protocol=pickle.HIGHEST_PROTOCOL))
    (folder / FEATURES_FILE).write_text(json.dumps(features))
    (folder / DEMOGRAPHICS_FILE).write_bytes(demographics_csv)
    files = {name: sha256_file(folder / name) for name in CHECKSUMMED_FILES}
    full = {**metadata, "library_versions": library_versions(), "files": files,
            "model_sha256": files[MODEL_FILE]}
    (folder / METADATA_FILE).write_text(json.dumps(full, indent=2, sort_keys=True))
    return full


def read_metadata(folder: Path) -> dict[str, Any]:
    path = folder / METADATA_FILE
    if not path.is_file():
        raise ArtifactError(f"{path} is missing: not a model artifact")
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise ArtifactError(f"{path} is not valid JSON: {error}") from error


def verify(folder: Path, metadata: dict[str, Any]) -> None:
    """Checksums of every file, and the scikit-learn version the pickle was made with."""
    for name in CHECKSUMMED_FILES:
        path = folder / name
        if not path.is_file():
            raise ArtifactError(f"{path} is missing")
        expected = metadata.get("files", {}).get(name)
        actual = sha256_file(path)
        if actual != expected:
            raise ArtifactError(f"checksum mismatch for {path}: metadata says {expected}, file is {actual}")
    built_with = metadata.get("library_versions", {}).get("scikit-learn")
    if built_with != sklearn.__version__:
        raise ArtifactError(
            f"{folder} was built with scikit-learn {built_with}, this process has {sklearn.__version__}: "
            "retrain it with the pinned version (make train)")


def _read_demographics(path: Path) -> dict[str, dict[str, float]]:
    with path.open(newline="") as handle:
        return {row.pop("zipcode"): {k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)}


def load_artifact(folder: Path) -> ModelArtifact:
    folder = Path(folder)
    metadata = read_metadata(folder)
    verify(folder, metadata)
    try:
        estimator = pickle.loads((folder / MODEL_FILE).read_bytes())
        features = json.loads((folder / FEATURES_FILE).read_text())
        demographics = _read_demographics(folder / DEMOGRAPHICS_FILE)
    except Exception as error:  # an unpicklable or unreadable artifact must never reach serving
        raise ArtifactError(f"{folder} could not be loaded: {type(error).__name__}: {error}") from error
    return ModelArtifact(metadata, estimator, features, demographics)


def latest_version_folder(root: Path, name: str) -> Path:
    pointer = Path(root) / name / LATEST_FILE
    if not pointer.is_file():
        raise ArtifactError(f"no trained '{name}' model under {root}: run `make train`")
    return pointer.parent / pointer.read_text().strip()
