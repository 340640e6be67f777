"""Versions are immutable, checksummed, and refused with a clear message when anything is off,
before any model file is parsed or unpickled."""

from __future__ import annotations

import json
import shutil

import pytest

from lambda_fn.registry.artifacts import ArtifactError, latest_version_folder, load_predictor, write_version
from lambda_fn.settings import DEFAULT_MODEL_DIR


@pytest.fixture(params=["basic", "gbm"])
def version(request, tmp_path):
    source = latest_version_folder(DEFAULT_MODEL_DIR, request.param)
    copy = tmp_path / source.name
    shutil.copytree(source, copy)
    return copy


def _edit_metadata(folder, change):
    path = folder / "metadata.json"
    metadata = json.loads(path.read_text())
    change(metadata)
    path.write_text(json.dumps(metadata))


def _model_file(folder):
    return "model.pkl" if (folder / "model.pkl").exists() else "member-0.txt"


def test_a_reloaded_version_passes_its_smoke_test_and_describes_itself(version):
    loaded = load_predictor(version)

    assert loaded.version == version.name
    assert loaded.metadata["library_versions"]["lightgbm" if loaded.name == "gbm" else "scikit-learn"]
    assert set(loaded.metadata["training_data"]) == {"kc_house_data.csv", "zipcode_demographics.csv"}
    assert {"mae", "rmse", "r2", "mape"} <= set(loaded.metadata["metrics"]["held_out"])
    assert json.loads((version / "model_features.json").read_text()) == loaded.features.features


def test_a_corrupted_model_file_is_refused_before_it_is_parsed(version):
    path = version / _model_file(version)
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")

    with pytest.raises(ArtifactError, match=rf"checksum mismatch for .*{_model_file(version)}"):
        load_predictor(version)


def test_a_different_library_version_is_refused(version):
    library = "scikit-learn" if (version / "model.pkl").exists() else "lightgbm"
    _edit_metadata(version, lambda m: m["library_versions"].update({library: "1.3.1"}))

    with pytest.raises(ArtifactError, match=rf"built with {library} 1\.3\.1.*retrain"):
        load_predictor(version)


def test_a_missing_file_is_refused(version):
    (version / "demographics.csv").unlink()

    with pytest.raises(ArtifactError, match=r"demographics\.csv is missing"):
        load_predictor(version)


def test_a_file_left_out_of_the_checksums_is_refused(version):
    _edit_metadata(version, lambda m: m["files"].pop("model_features.json"))

    with pytest.raises(ArtifactError, match=r"lists no model_features\.json"):
        load_predictor(version)


def test_a_model_that_no_longer_prices_as_trained_fails_its_smoke_test(version):
    _edit_metadata(version, lambda m: m["smoke_test"]["prices"].__setitem__(0, 1.0))

    with pytest.raises(ArtifactError, match="failed its smoke test"):
        load_predictor(version)


def test_an_unknown_format_is_refused(version):
    _edit_metadata(version, lambda m: m.update(format="pickle-of-anything"))

    with pytest.raises(ArtifactError, match=r"format 'pickle-of-anything'.*retrain"):
        load_predictor(version)


def test_versions_are_immutable(version):
    with pytest.raises(ArtifactError, match="immutable"):
        write_version(version, files={"model.pkl": b""}, metadata={"format": "sklearn-pickle"})


def test_a_model_file_left_out_of_the_checksums_is_never_read(version):
    model_file = _model_file(version)
    _edit_metadata(version, lambda m: m["files"].pop(model_file))

    with pytest.raises(ArtifactError, match=rf"{model_file} is not among the version's checksummed files"):
        load_predictor(version)


def test_a_smoke_test_record_without_days_is_a_broken_version_not_a_crash(version):
    _edit_metadata(version, lambda m: m["smoke_test"].pop("asked_on"))

    with pytest.raises(ArtifactError, match="no usable smoke test"):
        load_predictor(version)


def test_a_demographics_file_that_does_not_fit_the_features_is_refused(version):
    import hashlib

    (version / "demographics.csv").write_text("zipcode,other_column\n98118,1\n")
    _edit_metadata(version, lambda m: m["files"].update(
        {"demographics.csv": hashlib.sha256((version / "demographics.csv").read_bytes()).hexdigest()}))

    with pytest.raises(ArtifactError, match="could not be loaded"):
        load_predictor(version)


def test_metadata_that_lists_other_required_fields_than_the_features_need_is_refused(version):
    # /v1/models answers from metadata without loading a model: the two must agree.
    _edit_metadata(version, lambda m: m.update(required_fields=["zipcode"]))

    with pytest.raises(ArtifactError, match="metadata lists required fields"):
        load_predictor(version)
