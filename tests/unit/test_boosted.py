"""The gbm model's parts on synthetic houses: the market index, neighbour prices without leakage,
each member's columns, its files, and the single-row path giving Booster.predict's numbers to the last
bit (the trained-model tests in tests/model cover the real data)."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading

import numpy as np
import pytest
from scipy.spatial import cKDTree

from lambda_fn.core.boosted import FEW_ROWS, BoostedPrices, house_attributes, import_lightgbm
from lambda_fn.core.lightgbm_rows import RowPredictor
from lambda_fn.core.neighbourhood import SEARCHES, Neighbourhood, column_names, kd_tree, to_km
from model.gbm import MEMBERS, REGRESSORS, fit_boosted, inner_folds, neighbourhood

MONTH_EFFECT = np.log(np.linspace(1.0, 1.10, 13))   # prices rise 10% from month 0 to month 12
CONDITION_EFFECT = 0.08                             # each step of condition: 8% dearer
FEATURES = ["sqft_living", "sqft_lot", "grade", "yr_built", "yr_renovated", "condition", "view", "lat", "long",
            "market_month"]
CONDITION, LAT, LONG, MONTH = 5, 7, 8, 9


def synthetic_sales(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sqft, lot = rng.uniform(800, 3500, n), rng.uniform(2000, 20000, n)
    grade, built = rng.integers(5, 11, n).astype(float), rng.integers(1900, 2015, n).astype(float)
    renovated = np.where(rng.uniform(size=n) < 0.1, 2010.0, 0.0)
    lat, long = rng.uniform(47.4, 47.7, n), rng.uniform(-122.4, -122.1, n)
    month = rng.integers(0, 13, n).astype(float)
    location = 0.6 * (lat - 47.4) / 0.3            # north dearer
    noise = rng.normal(0, 0.05, n)
    # Most houses in average condition (3), one in ten a step either side; a tenth have a view, priced nil.
    condition, view = 3.0 + rng.choice([-1.0, 0.0, 1.0], n, p=[0.1, 0.8, 0.1]), 2.0 * (rng.uniform(size=n) < 0.1)
    price = sqft * 250 * np.exp(location + 0.05 * (grade - 7) + CONDITION_EFFECT * (condition - 3)
                                + MONTH_EFFECT[month.astype(int)] + noise)
    return np.column_stack([sqft, lot, grade, built, renovated, condition, view, lat, long, month]), price


@pytest.fixture(scope="module")
def fitted() -> tuple[BoostedPrices, np.ndarray, np.ndarray]:
    x, y = synthetic_sales(n=8000)
    return fit_boosted(x, y, FEATURES, params={"learning_rate": 0.2}, rounds=60), x, y


def test_the_market_index_recovers_how_prices_moved_month_by_month(fitted):
    model, _, _ = fitted

    assert model.first_month == "2014-05" and len(model.month_offsets) == 13
    recovered = model.month_offsets - model.month_offsets[0]
    assert recovered == pytest.approx(MONTH_EFFECT, abs=0.015)    # about 600 noisy sales a month
    assert recovered[12] == pytest.approx(np.log(1.10), abs=0.01)


def test_a_month_after_the_data_is_priced_at_its_last_month(fitted):
    model, x, _ = fitted
    houses = x[:10].copy()

    houses[:, MONTH] = 12
    at_last_month = model.predict(houses)
    houses[:, MONTH] = 150                           # November 2026
    assert model.predict(houses).tolist() == at_last_month.tolist()
    houses[:, MONTH] = 0
    assert model.predict(houses) == pytest.approx(at_last_month / 1.10, rel=0.02)


def test_the_neighbourhood_describes_each_house_from_its_nearest_training_sales(fitted):
    model, x, _ = fitted
    houses = x[:50]
    stored = model.neighbourhood.stored
    _, nearest = cKDTree(to_km(stored["lat"], stored["long"])).query(to_km(houses[:, LAT], houses[:, LONG]), k=20)
    inputs = model.inputs(houses)
    column = {name: inputs[:, i] for i, name in enumerate(model.columns)}
    log_sqft = np.log(stored["sqft_living"])

    assert model.columns[-len(column_names()):] == column_names()
    assert np.array_equal(inputs[:, :MONTH], houses[:, :MONTH])          # every feature but the month
    assert column["near5_price_per_sqft"] == pytest.approx(stored["log_price_per_sqft"][nearest[:, :5]].mean(1))
    assert column["near20_price"] == pytest.approx((stored["log_price_per_sqft"] + log_sqft)[nearest].mean(1))
    assert column["near20_grade"] == pytest.approx(stored["grade"][nearest].mean(1))
    assert column["relative_grade"] == pytest.approx(houses[:, 2] - stored["grade"][nearest].mean(1))
    # The local regression's intercept on both scales: they differ by exactly the house's log size.
    assert column["local_price"] - column["local_price_per_sqft"] == pytest.approx(np.log(houses[:, 0]))
    assert column["local_slope_grade"] == pytest.approx(0.05, abs=0.03)  # the planted 5% per grade


def test_the_local_regression_prices_the_house_s_own_condition(fitted):
    model, x, _ = fitted
    houses = x[:200].copy()
    better = houses.copy()
    better[:, CONDITION] += 1
    local = model.columns.index("local_price")

    assert model.neighbourhood.regressors == ("condition", "view")
    step = model.inputs(better)[:, local] - model.inputs(houses)[:, local]
    # One step dearer, as planted; the ridge shrinks the slope somewhat (few neighbours differ).
    assert 0.5 * CONDITION_EFFECT < np.median(step) < CONDITION_EFFECT + 0.01


def test_a_neighbourhood_saved_without_regressors_describes_as_it_did(fitted):
    # Versions saved before the local regression took regressors keep pricing as they were trained.
    model, x, _ = fitted
    spec = {name: values for name, values in model.neighbourhood.to_json().items()
            if name not in ("regressors", "condition", "view")}
    houses = x[:30]

    older = Neighbourhood.from_json(spec)

    plain = neighbourhood(x, FEATURES, model.neighbourhood.stored["log_price_per_sqft"], regressors=())
    own = house_attributes(houses, FEATURES)
    described = older.describe(houses[:, LAT], houses[:, LONG], own)
    assert older.regressors == ()
    assert np.array_equal(described, plain.describe(houses[:, LAT], houses[:, LONG], own))
    assert not np.array_equal(described, model.inputs(houses)[:, -len(column_names()):])


def test_a_neighbourhood_saved_without_a_search_keeps_scipy_s_order_of_equally_near_houses(fitted):
    # Versions saved before pykdtree were trained on cKDTree's order of houses at equal distances.
    model, x, _ = fitted
    spec = {name: values for name, values in model.neighbourhood.to_json().items() if name != "search"}
    houses = x[:30]
    own = house_attributes(houses, FEATURES, model.neighbourhood.regressors)

    older = Neighbourhood.from_json(spec)

    assert model.neighbourhood.search == "pykdtree"
    assert older.search == "scipy"
    with_scipy = Neighbourhood.from_json({**spec, "search": "scipy"})
    assert np.array_equal(older.describe(houses[:, LAT], houses[:, LONG], own),
                          with_scipy.describe(houses[:, LAT], houses[:, LONG], own))


def test_pykdtree_finds_scipy_s_neighbours_at_the_same_distances_to_the_bit():
    rng = np.random.default_rng(3)
    points, queries = rng.uniform(0, 30, (5000, 2)), rng.uniform(0, 30, (300, 2))   # no two at equal distance

    found = {search: kd_tree(points, search).query(queries, k=40) for search in SEARCHES}

    (distances, nearest), (scipy_distances, scipy_nearest) = found["pykdtree"], found["scipy"]
    assert np.array_equal(distances, scipy_distances)
    assert np.array_equal(nearest, scipy_nearest)


def test_an_unknown_search_is_refused(fitted):
    model, _, _ = fitted

    with pytest.raises(ValueError, match="unknown nearest-neighbour search 'ball-tree'"):
        Neighbourhood.from_json({**model.neighbourhood.to_json(), "search": "ball-tree"})


def test_a_pickled_neighbourhood_describes_as_the_original(fitted):
    # Training's worker processes hand fitted models back pickled; pykdtree's tree is rebuilt.
    model, x, _ = fitted
    houses = x[:40]
    own = house_attributes(houses, FEATURES, model.neighbourhood.regressors)

    copied = pickle.loads(pickle.dumps(model.neighbourhood))

    assert np.array_equal(copied.describe(houses[:, LAT], houses[:, LONG], own),
                          model.neighbourhood.describe(houses[:, LAT], houses[:, LONG], own))


def test_neighbour_queries_start_no_threads():
    # pykdtree's OpenMP would start one thread per core for a many-house query; a server's processes
    # would then fight over the cores. The process is fresh, so no earlier setting of OMP_NUM_THREADS helps.
    script = ("import os, numpy as np\n"
              "from lambda_fn.core.neighbourhood import kd_tree\n"
              "tree = kd_tree(np.random.default_rng(0).uniform(0, 30, (5000, 2)), 'pykdtree')\n"
              "before = len(os.listdir('/proc/self/task'))\n"
              "tree.query(np.random.default_rng(1).uniform(0, 30, (20000, 2)), k=40)\n"
              "print(before, len(os.listdir('/proc/self/task')))\n")
    environment = {name: value for name, value in os.environ.items() if name != "OMP_NUM_THREADS"}

    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=environment)

    before, after = out.stdout.split()
    assert after == before


def test_each_member_sees_its_own_view_of_the_house(fitted):
    model, _, _ = fitted

    assert [m.target for m in model.members] == ["log_price_per_sqft", "log_price", "log_price_per_sqft"]
    assert len(model.members) == len(MEMBERS)
    seen = [set(m.columns) for m in model.members]
    assert "local_price_per_sqft" in seen[0] and "relative_grade" in seen[1] and "weighted_price_per_sqft" in seen[2]
    assert ["near20_price" in s for s in seen] == [False, True, False]
    assert all("market_month" not in s for s in seen)


def test_a_training_house_never_sees_its_own_price_in_its_neighbourhood():
    x, y = synthetic_sales(n=600)
    adjusted = np.log(y / x[:, 0])
    changed = adjusted.copy()
    changed[7] += 5.0                                # house 7 "sold" for 150 times its price
    fold_of_7 = next(i for i, (_, rows) in enumerate(inner_folds(len(x))) if 7 in rows)
    fit_rows, encode_rows = inner_folds(len(x))[fold_of_7]

    def described(values):
        around = neighbourhood(x, FEATURES, values, fit_rows)
        return around.describe(x[encode_rows, LAT], x[encode_rows, LONG],
                               house_attributes(x[encode_rows], FEATURES, REGRESSORS))

    assert 7 not in fit_rows                         # its own fold never describes it
    assert np.array_equal(described(adjusted), described(changed))


def test_a_seed_among_the_settings_is_the_one_used():
    x, y = synthetic_sales(n=600)

    prices = [fit_boosted(x, y, FEATURES, params={"seed": seed}, rounds=10).predict(x[:50]) for seed in (0, 0, 1)]

    assert np.array_equal(prices[0], prices[1])        # deterministic
    assert not np.array_equal(prices[0], prices[2])    # not overridden by the fixed seed


def test_saved_files_load_back_to_bit_identical_prices(fitted):
    model, x, _ = fitted
    files = model.files()

    loaded = BoostedPrices.load(files)

    assert sorted(files) == ["member-0.txt", "member-1.txt", "member-2.txt", "model.json"]
    assert files["member-0.txt"].startswith(b"tree\n")   # LightGBM's own text format, not a pickle
    assert np.array_equal(loaded.predict(x), model.predict(x))


def test_lightgbm_is_imported_without_scikit_learn_or_pandas():
    # lightgbm's own __init__ would import both (over a second of cold start) for wrappers never used.
    script = ("import sys; from lambda_fn.core.boosted import import_lightgbm; lgb = import_lightgbm(); "
              "print(lgb.Booster.__name__, 'sklearn' in sys.modules, 'pandas' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)

    assert done.stdout.split() == ["Booster", "False", "False"]

def test_each_member_predicts_rows_bit_for_bit_as_booster_predict(fitted):
    model, x, _ = fitted
    inputs = model.inputs(x[:300])
    for i, member in enumerate(model.members):
        rows = model.member_inputs(inputs, i)

        predictor = RowPredictor(member.booster.model_to_string(), import_lightgbm())

        expected = member.booster.predict(rows, num_threads=1)
        assert np.array_equal(predictor.predict(rows), expected)
        own_columns = np.array([model.columns.index(name) for name in member.columns])
        assert np.array_equal(predictor.predict(inputs, own_columns), expected)   # read in place from all columns


def test_a_few_houses_and_a_batch_get_the_same_prices_to_the_last_bit(fitted):
    model, x, _ = fitted
    batch = model.predict(x[:200])                  # Booster.predict

    one_by_one = np.concatenate([model.predict(x[i:i + 1]) for i in range(50)])
    a_few = model.predict(x[:FEW_ROWS])             # the fast path, several rows in one call

    assert np.array_equal(one_by_one, batch[:50])
    assert np.array_equal(a_few, batch[:FEW_ROWS])


def test_threads_sharing_one_predictor_each_get_their_own_rows_answer(fitted):
    model, x, _ = fitted
    member = model.members[0]
    rows = model.member_inputs(model.inputs(x[:64]), 0)
    predictor = RowPredictor(member.booster.model_to_string(), import_lightgbm())
    expected = member.booster.predict(rows, num_threads=1)
    answers: dict[int, list[float]] = {}

    def ask(thread: int) -> None:
        answers[thread] = [float(predictor.predict(rows[j:j + 1])[0]) for j in range(len(rows))
                           for _ in range(5)][::5]

    threads = [threading.Thread(target=ask, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(answer == expected.tolist() for answer in answers.values())


def test_rows_of_the_wrong_width_are_refused(fitted):
    model, _, _ = fitted
    predictor = RowPredictor(model.members[0].booster.model_to_string(), import_lightgbm())

    with pytest.raises(ValueError, match=f"rows of {predictor.columns} columns"):
        predictor.predict(np.zeros((1, predictor.columns + 1)))
    with pytest.raises(ValueError, match=f"{predictor.columns - 1} columns to read"):
        predictor.predict(np.zeros((1, 50)), np.arange(predictor.columns - 1))


def test_a_model_text_lightgbm_cannot_read_is_refused_with_its_reason():
    with pytest.raises(RuntimeError, match="LightGBM: "):
        RowPredictor("tree\nnot a model\n", import_lightgbm())
