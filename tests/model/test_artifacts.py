"""Every trained model, reloaded from disk as the service loads it, prices exactly as in memory."""

from __future__ import annotations

import numpy as np
import pytest

from lambda_fn.artifacts import CHECKSUMMED_FILES, load_artifact, read_metadata
from lambda_fn.predictor import Predictor
from model import train

MODELS = sorted(train.TRAINERS)


@pytest.mark.parametrize("name", MODELS)
def test_reloaded_artifact_prices_every_held_out_house_as_the_trained_model(trained, name):
    model, folder = trained[name].model, trained[name].folder

    predictor = Predictor(load_artifact(folder))
    served = predictor.predict(model.test_houses.to_dict(orient="records"), asked_on=model.test_asked_on)

    assert len(served) == len(model.test_prices) > 4000
    assert served == [round(float(p), 2) for p in model.test_predictions]


@pytest.mark.parametrize("name", MODELS)
def test_artifact_is_versioned_checksummed_and_carries_its_metrics(trained, name):
    folder = trained[name].folder
    metadata = read_metadata(folder)

    assert metadata["name"] == name and metadata["version"] == folder.name
    assert folder.name.endswith(metadata["model_sha256"][:8])
    assert set(metadata["files"]) == set(CHECKSUMMED_FILES)
    assert (folder.parent / "LATEST").read_text().strip() == folder.name
    for part in ("train", "held_out", "cv"):
        assert set(metadata["metrics"][part]) == {"mae", "rmse", "r2", "mape", "median_ape", "within_10pct",
                                                  "within_20pct"}
    Predictor(load_artifact(folder)).smoke_test()


def test_gbm_trains_on_the_clients_split(trained):
    basic, gbm = trained["basic"].model, trained["gbm"].model

    assert list(gbm.test_houses.index) == list(basic.test_houses.index)
    assert np.array_equal(gbm.test_prices.to_numpy(), basic.test_prices.to_numpy())


def test_a_tampered_interval_fails_the_smoke_test(trained, tmp_path):
    import json
    import shutil

    from lambda_fn.artifacts import ArtifactError

    folder = shutil.copytree(trained["gbm"].folder, tmp_path / "gbm")
    metadata = read_metadata(folder)
    for band in metadata["interval"]["log_offsets"]:
        band["high"] += 0.01
    (folder / "metadata.json").write_text(json.dumps(metadata))

    with pytest.raises(ArtifactError, match="intervals differ"):
        Predictor(load_artifact(folder)).smoke_test()
