"""Choosing a model per request: ?model=, GET /v1/models, the minimal route per model, intervals."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from lambda_fn.core.features import HOUSE_COLUMNS
from lambda_fn.registry.artifacts import latest_version_folder
from lambda_fn.settings import DEFAULT_MODEL_DIR
from tests.helpers import PROJECT_ROOT, event_body, invoke, load_event, with_body

BASIC_FIELDS = ["bathrooms", "bedrooms", "floors", "sqft_above", "sqft_basement", "sqft_living", "sqft_lot", "zipcode"]


def test_models_lists_every_model_with_its_fields_interval_and_the_default():
    status, body = invoke(load_event("models"))

    assert status == 200
    models = {m["name"]: m for m in body["models"]}
    assert set(models) == {"basic", "gbm"}
    assert body["default"] in models and models[body["default"]]["default"]
    assert models["basic"]["required_fields"] == BASIC_FIELDS
    assert models["gbm"]["required_fields"] == sorted(HOUSE_COLUMNS)
    assert models["basic"]["interval_coverage"] is None
    assert models["gbm"]["interval_coverage"] == 0.8
    assert models["gbm"]["metrics"]["held_out"]["r2"] > models["basic"]["metrics"]["held_out"]["r2"]


@pytest.mark.parametrize("name", ["basic", "gbm"])
def test_model_query_selects_the_model_by_name_or_version(name):
    _, listing = invoke(load_event("models"))
    version = next(m["version"] for m in listing["models"] if m["name"] == name)

    by_name = invoke(with_body(load_event("predict"), event_body("predict"), model=name))
    by_version = invoke(with_body(load_event("predict"), event_body("predict"), model=version))

    assert by_name[0] == by_version[0] == 200
    assert by_name[1]["model"] == by_version[1]["model"] == {"name": name, "version": version}
    assert by_name[1]["price"] == by_version[1]["price"]


def test_gbm_prices_come_with_an_80_percent_range_and_basic_ones_without():
    _, gbm = invoke(with_body(load_event("predict"), event_body("predict"), model="gbm"))
    _, basic = invoke(with_body(load_event("predict"), event_body("predict"), model="basic"))
    _, batch = invoke(with_body(load_event("predict_batch"), event_body("predict_batch"), model="gbm"))

    assert gbm["interval"]["low"] < gbm["price"] < gbm["interval"]["high"]
    assert gbm["interval"]["coverage"] == 0.8
    assert basic["interval"] is None
    assert all(p["interval"]["low"] < p["price"] < p["interval"]["high"] for p in batch["predictions"])
    assert batch["predictions"][0] == {k: gbm[k] for k in ("price", "interval")}


def test_minimal_route_for_gbm_asks_for_all_the_columns_clients_send():
    status, body = invoke(load_event("predict_minimal_gbm"))
    _, full = invoke(with_body(load_event("predict"), event_body("predict"), model="gbm"))
    short_status, short = invoke(with_body(load_event("predict_minimal"), event_body("predict_minimal"), model="gbm"))

    assert sorted(event_body("predict_minimal_gbm")) == sorted(HOUSE_COLUMNS)
    assert status == 200 and body["price"] == full["price"] and body["interval"] == full["interval"]
    assert short_status == 422
    assert {d["field"] for d in short["details"]} == set(HOUSE_COLUMNS) - set(BASIC_FIELDS)
    assert all(d["problem"] == "Field required" for d in short["details"])


def test_minimal_route_for_basic_keeps_the_house_checks():
    house = {**event_body("predict_minimal"), "sqft_above": 1000}

    status, body = invoke(with_body(load_event("predict_minimal"), house, model="basic"))

    assert status == 422
    assert "must equal sqft_living" in body["message"]


def test_minimal_route_refuses_a_field_the_model_does_not_use_and_names_the_allowed_ones():
    house = {**event_body("predict_minimal"), "grade": 7}

    status, body = invoke(with_body(load_event("predict_minimal"), house, model="basic"))

    assert status == 422
    [detail] = body["details"]
    assert detail["field"] == "grade"
    assert "allowed fields: " + ", ".join(BASIC_FIELDS) in detail["problem"]


@pytest.mark.parametrize("route", ["predict", "predict_batch", "predict_minimal", "model"])
def test_unknown_model_name_is_a_clear_400_on_every_route(route):
    event = load_event(route)
    event["queryStringParameters"] = {"model": "premium"}
    event["multiValueQueryStringParameters"] = {"model": ["premium"]}

    status, body = invoke(event)

    assert status == 400
    assert body["error"] == "unknown_model"
    assert "available: basic, gbm" in body["message"]


def test_only_a_request_naming_basic_loads_scikit_learn():
    # The default model is LightGBM; the client's pickled pipeline (and scikit-learn, about a second
    # of imports) loads when a request first names it, not at the cold start.
    script = """
import json, sys
from tests.helpers import event_body, invoke, load_event, with_body
before = [invoke(load_event(name))[0] for name in ("predict", "predict_batch", "health", "models")]
loaded_before = "sklearn" in sys.modules
status, body = invoke(with_body(load_event("predict"), event_body("predict"), model="basic"))
print(json.dumps([before, loaded_before, status, body["model"]["name"], "sklearn" in sys.modules]))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PROJECT_ROOT,
                          check=True)

    assert json.loads(done.stdout.strip().splitlines()[-1]) == [[200, 200, 200, 200], False, 200, "basic", True]


def test_a_baked_model_that_fails_its_checks_is_a_503_and_the_default_keeps_answering(tmp_path, monkeypatch):
    # Given the image's models, of which basic's pickle no longer matches its checksum
    root = tmp_path / "artifacts"
    shutil.copytree(DEFAULT_MODEL_DIR, root)
    pickle_path = latest_version_folder(root, "basic") / "model.pkl"
    pickle_path.write_bytes(pickle_path.read_bytes() + b"tampered")
    monkeypatch.setenv("MODEL_DIR", str(root))

    # When requests name it, and others do not
    first = invoke(with_body(load_event("predict"), event_body("predict"), model="basic"))
    again = invoke(with_body(load_event("predict"), event_body("predict"), model="basic"))
    default = invoke(load_event("predict"))
    listing = invoke(load_event("models"))

    # Then naming it is the service's fault, said plainly, every time; the default model still prices
    assert first[0] == again[0] == 503
    assert first[1]["error"] == "model_unavailable" and "could not be loaded" in first[1]["message"]
    assert default[0] == 200 and default[1]["model"]["name"] == "gbm"
    assert {m["name"] for m in listing[1]["models"]} == {"basic", "gbm"}
