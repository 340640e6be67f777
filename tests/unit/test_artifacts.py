"""Artifacts are immutable, checksummed, and refused with a clear message when anything is off."""

from __future__ import annotations

import json
import shutil

import pytest

from lambda_fn.artifacts import ArtifactError, latest_version_folder, load_artifact, write_artifact
from lambda_fn.predictor import Predictor
from lambda_fn.settings import DEFAULT_MODEL_DIR


@pytest.fixture
def artifact(tmp_path):
    source = latest_version_folder(DEFAULT_MODEL_DIR, "basic")
    copy = tmp_path / source.name
    shutil.copytree(source, copy)
    return copy


def _edit_metadata(folder, change):
    path = folder / "metadata.json"
    metadata = json.loads(path.read_text())
    change(metadata)
    path.write_text(json.dumps(metadata))


def test_a_reloaded_artifact_passes_its_smoke_test_and_describes_itself(artifact):
    loaded = load_artifact(artifact)
    Predictor(loaded).smoke_test()

    assert loaded.version == artifact.name
    assert loaded.metadata["library_versions"]["scikit-learn"]
    assert set(loaded.metadata["training_data"]) == {"kc_house_data.csv", "zipcode_demographics.csv"}
    assert {"mae", "rmse", "r2", "mape"} <= set(loaded.metadata["metrics"]["held_out"])
    assert json.loads((artifact / "model_features.json").read_text()) == loaded.features


def test_a_corrupted_pickle_is_refused_before_unpickling(artifact):
    pickle_path = artifact / "model.pkl"
    pickle_path.write_bytes(pickle_path.read_bytes()[:-10] + b"0123456789")

    with pytest.raises(ArtifactError, match=r"checksum mismatch for .*model\.pkl"):
        load_artifact(artifact)


def test_a_different_scikit_learn_version_is_refused(artifact):
    _edit_metadata(artifact, lambda m: m["library_versions"].update({"scikit-learn": "1.3.1"}))

    with pytest.raises(ArtifactError, match=r"built with scikit-learn 1\.3\.1.*retrain"):
        load_artifact(artifact)


def test_a_missing_file_is_refused(artifact):
    (artifact / "demographics.csv").unlink()

    with pytest.raises(ArtifactError, match=r"demographics\.csv is missing"):
        load_artifact(artifact)


def test_a_model_that_no_longer_prices_as_trained_fails_its_smoke_test(artifact):
    _edit_metadata(artifact, lambda m: m["smoke_test"]["prices"].__setitem__(0, 1.0))

    with pytest.raises(ArtifactError, match="failed its smoke test"):
        Predictor(load_artifact(artifact)).smoke_test()


def test_versions_are_immutable(artifact):
    loaded = load_artifact(artifact)

    with pytest.raises(ArtifactError, match="immutable"):
        write_artifact(artifact, estimator=loaded.estimator, features=loaded.features,
                       demographics_csv=b"zipcode\n", metadata={})
