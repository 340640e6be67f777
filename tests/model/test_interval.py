"""The 80% price range, computed here on the held-out quarter the model never saw."""

from __future__ import annotations

import math

import numpy as np

from lambda_fn.core.intervals import PriceIntervals
from lambda_fn.registry.artifacts import load_predictor
from model import interval


def test_held_out_coverage_of_the_80_percent_range(trained):
    model, folder = trained["gbm"].model, trained["gbm"].folder
    predictor = load_predictor(folder)

    prices = predictor.predict(model.test_houses.to_dict(orient="records"), asked_on=model.test_asked_on)
    low, high = np.array(predictor.intervals(prices)).T
    actual = model.test_prices.to_numpy()
    coverage = ((actual >= low) & (actual <= high)).mean()
    width = np.median(high - low)

    assert 0.78 <= coverage <= 0.82, coverage
    assert 100_000 < width < 250_000, width
    assert np.all((low < prices) & (prices < high))


def test_each_estimated_price_band_holds_about_80_percent(trained):
    model, folder = trained["gbm"].model, trained["gbm"].folder
    predictor = load_predictor(folder)
    prices = np.array(predictor.predict(model.test_houses.to_dict(orient="records"), asked_on=model.test_asked_on))
    low, high = np.array(predictor.intervals(prices.tolist())).T
    inside = (model.test_prices.to_numpy() >= low) & (model.test_prices.to_numpy() <= high)

    band = interval.bands(prices)
    for b in range(len(interval.BAND_EDGES) + 1):
        assert (band == b).sum() > 150
        assert 0.72 <= inside[band == b].mean() <= 0.88, (b, inside[band == b].mean())


def test_serving_and_calibration_put_an_estimate_in_the_same_band():
    widths = [0.1 * (b + 1) for b in range(len(interval.BAND_EDGES) + 1)]
    spec = {"coverage": 0.8, "band_edges": list(interval.BAND_EDGES),
            "log_offsets": [{"low": -w, "high": w} for w in widths]}
    rule = PriceIntervals(spec)
    prices = [1.0, 249_999.99, 250_000.0, 250_000.01, 399_999.0, 400_000.0, 1_200_000.0, 9e6]

    assert [rule.band(p) for p in prices] == list(interval.bands(prices))
    assert rule([250_000.0]) == [(round(250_000 * math.exp(-0.2), 2), round(250_000 * math.exp(0.2), 2))]


def test_basic_model_has_no_interval(trained):
    predictor = load_predictor(trained["basic"].folder)

    assert not predictor.has_interval
    assert predictor.interval_coverage is None
