"""The gbm model's parts on synthetic houses: the market index, neighbour prices without leakage,
each member's columns, and its files (the trained-model tests in tests/model cover the real data)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.spatial import cKDTree

from lambda_fn.core.boosted import BoostedPrices
from lambda_fn.core.neighbourhood import to_km
from model.gbm import fit_boosted, out_of_fold_neighbours

MONTH_EFFECT = np.log(np.linspace(1.0, 1.10, 13))   # prices rise 10% from month 0 to month 12
FEATURES = ["sqft_living", "lat", "long", "market_month"]
MEMBERS = (("log_price_per_sqft", "l2"), ("log_price", "l2"))


def synthetic_sales(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sqft = rng.uniform(800, 3500, n)
    lat, long = rng.uniform(47.4, 47.7, n), rng.uniform(-122.4, -122.1, n)
    month = rng.integers(0, 13, n).astype(float)
    location = 0.6 * (lat - 47.4) / 0.3            # north dearer
    price = sqft * 250 * np.exp(location + MONTH_EFFECT[month.astype(int)] + rng.normal(0, 0.05, n))
    return np.column_stack([sqft, lat, long, month]), price


@pytest.fixture(scope="module")
def fitted() -> tuple[BoostedPrices, np.ndarray, np.ndarray]:
    x, y = synthetic_sales()
    return fit_boosted(x, y, FEATURES, params={"learning_rate": 0.2}, rounds=60, members=MEMBERS), x, y


def test_the_market_index_recovers_how_prices_moved_month_by_month(fitted):
    model, _, _ = fitted

    assert model.first_month == "2014-05" and len(model.month_offsets) == 13
    recovered = model.month_offsets - model.month_offsets[0]
    assert recovered == pytest.approx(MONTH_EFFECT, abs=0.015)    # about 300 noisy sales a month
    assert recovered[12] == pytest.approx(np.log(1.10), abs=0.01)


def test_a_month_after_the_data_is_priced_at_its_last_month(fitted):
    model, x, _ = fitted
    houses = x[:10].copy()

    houses[:, 3] = 12
    at_last_month = model.predict(houses)
    houses[:, 3] = 150                               # November 2026
    assert model.predict(houses).tolist() == at_last_month.tolist()
    houses[:, 3] = 0
    assert model.predict(houses) == pytest.approx(at_last_month / 1.10, rel=0.02)


def test_each_member_sees_the_house_then_the_neighbours_prices_on_its_own_scale(fitted):
    model, x, _ = fitted
    houses = x[:50]
    _, nearest = cKDTree(to_km(model.neighbours.lat, model.neighbours.long)).query(to_km(houses[:, 1], houses[:, 2]),
                                                                                    k=20)
    encoded = model.neighbours.encode(houses[:, 1], houses[:, 2])

    for member in model.members:
        columns = model.member_columns(houses, encoded, member)
        stored = model.neighbours.targets[:, model.neighbours.target_names.index(member.neighbour_target)]
        assert member.neighbour_target == ("log_price" if member.target == "log_price" else "log_price_per_sqft")
        assert columns.shape == (50, 3 + 2)
        assert np.array_equal(columns[:, :3], houses[:, :3])     # every column but the month
        assert columns[:, 3:] == pytest.approx(np.column_stack([stored[nearest[:, :5]].mean(1),
                                                                stored[nearest].mean(1)]))


def test_a_training_house_never_sees_its_own_price_in_its_neighbour_prices():
    x, y = synthetic_sales(n=600)
    targets = np.log(y)[:, None]
    changed = targets.copy()
    changed[7] += 5.0                                # house 7 "sold" for 150 times its price

    before = out_of_fold_neighbours(x[:, 1], x[:, 2], targets, (5, 20))
    after = out_of_fold_neighbours(x[:, 1], x[:, 2], changed, (5, 20))

    assert np.array_equal(before[7], after[7])       # its own row: encoded from the other folds only
    assert not np.array_equal(before, after)         # its neighbours in other folds do see it


def test_saved_files_load_back_to_bit_identical_prices(fitted):
    model, x, _ = fitted
    files = model.files()

    loaded = BoostedPrices.load(files)

    assert sorted(files) == ["member-0.txt", "member-1.txt", "model.json"]
    assert files["member-0.txt"].startswith(b"tree\n")   # LightGBM's own text format, not a pickle
    assert np.array_equal(loaded.predict(x), model.predict(x))


def test_lightgbm_is_imported_without_scikit_learn_or_pandas():
    # lightgbm's own __init__ would import both (over a second of cold start) for wrappers never used.
    script = ("import sys; from lambda_fn.core.boosted import import_lightgbm; lgb = import_lightgbm(); "
              "print(lgb.Booster.__name__, 'sklearn' in sys.modules, 'pandas' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)

    assert done.stdout.split() == ["Booster", "False", "False"]
