"""Every trained model, reloaded from disk as the service loads it, prices exactly as in memory."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from lambda_fn.registry.artifacts import ArtifactError, load_predictor, read_metadata
from model import train

MODELS = sorted(train.TRAINERS)
FILES = {"basic": {"model.pkl", "model_features.json", "demographics.csv"},
         "gbm": {"model.json", "model_features.json", "demographics.csv", "sales.csv",
                 *(f"member-{i}.txt" for i in range(len(train.gbm.MEMBERS)))}}


@pytest.mark.parametrize("name", MODELS)
def test_reloaded_version_prices_every_held_out_house_as_the_trained_model(trained, name):
    model, folder = trained[name].model, trained[name].folder

    predictor = load_predictor(folder)
    served = predictor.predict(model.test_houses.to_dict(orient="records"), model.test_asked_on)

    assert len(served) == len(model.test_prices) > 4000
    assert served == [round(float(p), 2) for p in model.test_predictions]


@pytest.mark.parametrize("name", MODELS)
def test_version_is_named_checksummed_and_carries_its_metrics(trained, name):
    folder = trained[name].folder
    metadata = read_metadata(folder)

    assert metadata["name"] == name and metadata["version"] == folder.name
    assert set(metadata["files"]) == FILES[name]
    assert (folder.parent / "LATEST").read_text().strip() == folder.name
    for part in ("train", "held_out", "cv"):
        assert set(metadata["metrics"][part]) == {"mae", "rmse", "r2", "mape", "median_ape", "within_10pct",
                                                  "within_20pct"}
    assert metadata["required_fields"] == load_predictor(folder).required_fields


def test_gbm_is_lightgbm_text_and_json_with_no_pickle(trained):
    folder = trained["gbm"].folder

    assert read_metadata(folder)["format"] == "lightgbm-blend"
    assert not list(folder.glob("*.pkl"))
    assert (folder / "member-0.txt").read_text().startswith("tree\n")
    assert json.loads((folder / "model.json").read_text())["format"] == "lightgbm-blend"


def test_gbm_trains_on_the_clients_split(trained):
    basic, gbm = trained["basic"].model, trained["gbm"].model

    assert list(gbm.test_houses.index) == list(basic.test_houses.index)
    assert np.array_equal(gbm.test_prices.to_numpy(), basic.test_prices.to_numpy())


def test_a_tampered_interval_fails_the_smoke_test(trained, tmp_path):
    folder = shutil.copytree(trained["gbm"].folder, tmp_path / "gbm")
    metadata = read_metadata(folder)
    for band in metadata["interval"]["log_offsets"]:
        band["high"] += 0.01
    (folder / "metadata.json").write_text(json.dumps(metadata))

    with pytest.raises(ArtifactError, match="intervals differ"):
        load_predictor(folder)
