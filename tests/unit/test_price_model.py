"""The gbm estimator's parts on synthetic houses: neighbour encodings without leakage, the market
index, and the members' columns (the trained-model tests in tests/model cover the real data)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree
from sklearn.ensemble import HistGradientBoostingRegressor

from lambda_fn.neighbourhood import KM_PER_DEGREE_LATITUDE, KM_PER_DEGREE_LONGITUDE, NeighbourhoodPriceEncoder
from lambda_fn.price_model import GradientBoostedPrices

MONTH_EFFECT = np.log(np.linspace(1.0, 1.10, 13))   # prices rise 10% from month 0 to month 12
FEATURES = ["sqft_living", "lat", "long", "market_month"]


def synthetic_sales(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sqft = rng.uniform(800, 3500, n)
    lat, long = rng.uniform(47.4, 47.7, n), rng.uniform(-122.4, -122.1, n)
    month = rng.integers(0, 13, n).astype(float)
    location = 0.6 * (lat - 47.4) / 0.3            # north dearer
    price = sqft * 250 * np.exp(location + MONTH_EFFECT[month.astype(int)] + rng.normal(0, 0.05, n))
    return np.column_stack([sqft, lat, long, month]), price


def estimator() -> GradientBoostedPrices:
    trees = {"max_iter": 60, "learning_rate": 0.2, "random_state": 0, "early_stopping": False}
    return GradientBoostedPrices(
        encoder=NeighbourhoodPriceEncoder(lat_column=1, long_column=2, neighbours=(5, 20)),
        members=[("log_price_per_sqft", HistGradientBoostingRegressor(**trees)),
                 ("log_price", HistGradientBoostingRegressor(**trees))],
        sqft_living_column=0, market_month_column=3)


@pytest.fixture(scope="module")
def fitted() -> tuple[GradientBoostedPrices, np.ndarray, np.ndarray]:
    x, y = synthetic_sales()
    return estimator().fit(x, y), x, y


def test_the_market_index_recovers_how_prices_moved_month_by_month(fitted):
    model, _, _ = fitted

    assert (model.first_month_, model.last_month_) == (0, 12)
    recovered = model.market_index_ - model.market_index_[0]
    assert recovered == pytest.approx(MONTH_EFFECT, abs=0.015)    # about 300 noisy sales a month
    assert recovered[12] == pytest.approx(np.log(1.10), abs=0.01)


def test_a_later_month_is_priced_at_the_last_and_an_earlier_one_is_refused(fitted):
    model, x, _ = fitted
    houses = x[:10].copy()

    houses[:, 3] = 12
    at_last_month = model.predict(houses)
    houses[:, 3] = 150                               # November 2026
    assert model.predict(houses).tolist() == at_last_month.tolist()
    houses[:, 3] = 0
    assert model.predict(houses) == pytest.approx(at_last_month / 1.10, rel=0.02)
    houses[:, 3] = -1
    with pytest.raises(ValueError, match="market months must be 0 or later"):
        model.predict(houses)


def test_each_member_sees_the_neighbours_prices_on_its_own_scale(fitted):
    model, x, _ = fitted
    tree_columns = np.delete(x[:50], 3, axis=1)
    encoded = model.encoder_.transform(tree_columns)
    # The encoder's stored targets: adjusted log price per sqft, then adjusted log price.
    _, nearest = cKDTree(np.column_stack([model.encoder_.tree_.data[:, 0], model.encoder_.tree_.data[:, 1]])).query(
        np.column_stack([tree_columns[:, 1] * KM_PER_DEGREE_LATITUDE, tree_columns[:, 2] * KM_PER_DEGREE_LONGITUDE]),
        k=20)
    per_sqft, whole = model.encoder_.targets_[:, 0], model.encoder_.targets_[:, 1]

    per_sqft_member = model._member_columns("log_price_per_sqft", encoded)
    whole_price_member = model._member_columns("log_price", encoded)

    assert per_sqft_member.shape == whole_price_member.shape == (50, 3 + 2)
    assert per_sqft_member[:, 3:] == pytest.approx(np.column_stack([per_sqft[nearest[:, :5]].mean(1),
                                                                    per_sqft[nearest].mean(1)]))
    assert whole_price_member[:, 3:] == pytest.approx(np.column_stack([whole[nearest[:, :5]].mean(1),
                                                                       whole[nearest].mean(1)]))
    assert np.array_equal(per_sqft_member[:, :3], tree_columns)


def test_a_training_house_never_sees_its_own_price_in_its_neighbour_encoding():
    x, y = synthetic_sales(n=600)
    targets = np.log(y)
    changed = targets.copy()
    changed[7] += 5.0                                # house 7 "sold" for 150 times its price

    before = NeighbourhoodPriceEncoder(lat_column=1, long_column=2).fit_transform(x, targets)
    after = NeighbourhoodPriceEncoder(lat_column=1, long_column=2).fit_transform(x, changed)

    assert np.array_equal(before[7], after[7])       # its own row: encoded from the other folds only
    assert not np.array_equal(before, after)         # its neighbours in other folds do see it
