"""The served model prices every future example exactly as the client's own recipe does."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from threadpoolctl import threadpool_limits

from lambda_fn.core.market import today
from lambda_fn.registry.artifacts import latest_version_folder, load_predictor
from lambda_fn.settings import DEFAULT_MODEL_DIR
from model import data, recipe
from tests.helpers import PROJECT_ROOT, invoke, load_event, with_body


@pytest.fixture(scope="module")
def future():
    return data.load_future_examples()


@pytest.fixture(scope="module")
def recipe_prices(future):
    demographics = data.load_demographics()
    result = recipe.train_basic_model(data.load_sales(), demographics)
    with threadpool_limits(limits=1):
        prices = recipe.recipe_prices(result.model, result.features, future, demographics)
    return [round(float(p), 2) for p in prices]


@pytest.fixture(scope="module")
def served():
    return load_predictor(latest_version_folder(DEFAULT_MODEL_DIR, "basic"))


def test_all_100_future_examples_price_as_the_recipe_does(future, recipe_prices, served):
    prices = served.predict(future.to_dict(orient="records"), today())

    assert len(prices) == 100
    assert prices == recipe_prices


def test_the_handler_serves_the_recipe_prices(future, recipe_prices):
    houses = json.loads(future.to_json(orient="records"))

    status, body = invoke(with_body(load_event("predict_batch"), {"instances": houses}, model="basic"))

    assert status == 200
    assert [p["price"] for p in body["predictions"]] == recipe_prices


def test_prices_do_not_depend_on_the_number_of_native_threads(served, future):
    # OMP_NUM_THREADS=2 is what scikit-learn picks on a 2-core machine; 2 of the 100 houses
    # tie-break differently there unless the predictor pins one thread per call.
    script = ("import json, sys\n"
              "from lambda_fn.core.market import today\n"
              "from lambda_fn.registry.artifacts import latest_version_folder, load_predictor\n"
              "from lambda_fn.settings import DEFAULT_MODEL_DIR\n"
              "p = load_predictor(latest_version_folder(DEFAULT_MODEL_DIR, 'basic'))\n"
              "print(json.dumps(p.predict(json.load(sys.stdin), today())))\n")
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    out = subprocess.run([sys.executable, "-c", script], input=json.dumps(future.to_dict(orient="records")), text=True,
                         capture_output=True, check=True, env=env, cwd=PROJECT_ROOT)

    assert json.loads(out.stdout) == served.predict(future.to_dict(orient="records"), today())
