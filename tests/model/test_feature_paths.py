"""The per-request numpy path prices exactly as a pandas path, one house exactly as in a batch;
derived features are computed from the fields a client sends."""

from __future__ import annotations

import datetime
import math

import numpy as np
import pandas as pd
import pytest

from lambda_fn.core.features import DERIVED_FEATURES, HOUSE_COLUMNS, HOUSE_RATIOS, FeatureBuilder
from lambda_fn.core.market import market_month
from lambda_fn.registry.artifacts import load_predictor
from model import data

ASKED_ON = datetime.date(2014, 12, 15)   # a month inside the data, so the market index matters


def pandas_features(houses: pd.DataFrame, features: list[str], demographics: pd.DataFrame) -> np.ndarray:
    """The reference: a pandas join on the zipcode and pandas column arithmetic, no FeatureBuilder."""
    frame = houses.astype({"zipcode": str}).merge(demographics, how="left", on="zipcode")
    frame["zipcode"] = frame["zipcode"].astype(int)
    frame["market_month"] = (ASKED_ON.year - 2014) * 12 + ASKED_ON.month - 5
    for degrees in (15, 30, 45, 60):
        radians = math.radians(degrees)
        frame[f"coord_axis_p{degrees}"] = frame["lat"] * math.cos(radians) + frame["long"] * math.sin(radians)
        frame[f"coord_axis_m{degrees}"] = frame["lat"] * math.cos(-radians) + frame["long"] * math.sin(-radians)
    frame["eff_year"] = frame[["yr_built", "yr_renovated"]].max(axis=1)
    frame["years_to_renovation"] = (frame["yr_renovated"] - frame["yr_built"]).where(frame["yr_renovated"] > 0, 0)
    frame["log_sqft_living"] = np.log(frame["sqft_living"])
    frame["living_to_lot"] = frame["sqft_living"] / frame["sqft_lot"]
    frame["living_to_neighbours_living"] = frame["sqft_living"] / frame["sqft_living15"]
    frame["lot_to_neighbours_lot"] = frame["sqft_lot"] / frame["sqft_lot15"]
    frame["above_share"] = frame["sqft_above"] / frame["sqft_living"]
    frame["sqft_per_bedroom"] = frame["sqft_living"] / frame["bedrooms"].clip(lower=1)
    frame["bathrooms_per_bedroom"] = frame["bathrooms"] / frame["bedrooms"].clip(lower=1)
    return frame[features].to_numpy(dtype=float)


@pytest.fixture(scope="module")
def gbm(trained):
    return load_predictor(trained["gbm"].folder)


@pytest.fixture(scope="module")
def houses(trained) -> pd.DataFrame:
    future = data.load_future_examples()
    held_out = trained["gbm"].model.test_houses.head(400)
    return pd.concat([future, held_out], ignore_index=True)[list(HOUSE_COLUMNS)]


def test_numpy_path_prices_identically_to_a_pandas_path(gbm, houses, demographics):
    x = pandas_features(houses, gbm.features.features, demographics)
    pandas_prices = [round(float(p), 2) for p in gbm.model.predict(x)]

    served = gbm.predict(houses.to_dict(orient="records"), ASKED_ON)

    assert served == pandas_prices


def test_one_house_at_a_time_prices_exactly_as_a_batch(gbm, houses):
    records = houses.to_dict(orient="records")

    batch = gbm.predict(records, ASKED_ON)
    one_by_one = [gbm.predict([house], ASKED_ON)[0] for house in records[:150]]
    in_groups_of_7 = [price for i in range(0, 161, 7) for price in gbm.predict(records[i:i + 7], ASKED_ON)]

    assert one_by_one == batch[:150]
    assert in_groups_of_7 == batch[:len(in_groups_of_7)]


def test_the_month_asked_for_moves_the_price_by_the_market_index(gbm, houses):
    records = houses.head(20).to_dict(orient="records")
    index = gbm.metadata["market"]["index_pct"]

    winter = np.array(gbm.predict(records, datetime.date(2015, 1, 20)))
    spring = np.array(gbm.predict(records, datetime.date(2015, 4, 2)))
    years_later = np.array(gbm.predict(records, datetime.date(2026, 11, 27)))
    after_the_data = np.array(gbm.predict(records, datetime.date(2015, 6, 1)))

    assert spring / winter == pytest.approx((1 + index["2015-04"] / 100) / (1 + index["2015-01"] / 100), rel=1e-3)
    assert years_later.tolist() == after_the_data.tolist() == gbm.predict(records, datetime.date(2015, 5, 1))
    assert gbm.priced_month(datetime.date(2026, 11, 27)) == "2015-05"
    assert gbm.priced_month(datetime.date(2014, 9, 30)) == "2014-09"
    assert market_month(datetime.date(2014, 9, 30)) == 4


def test_gbm_needs_exactly_the_columns_clients_send(gbm):
    assert gbm.required_fields == sorted(HOUSE_COLUMNS)   # the market month is the request's, not the house's


def test_derived_features_come_from_the_house_fields_alone():
    demographics = {"98118": {"ppltn_qty": 1.0}}
    builder = FeatureBuilder(["coord_axis_p45", "sqft_living"], demographics)
    house = {"lat": 47.5, "long": -122.25, "sqft_living": 1000}

    [[axis, area]] = builder.matrix([house])

    assert builder.required_fields == ["lat", "long", "sqft_living"]
    assert axis == pytest.approx((47.5 - 122.25) * math.sqrt(0.5))
    assert area == 1000
    assert set(DERIVED_FEATURES) == {f"coord_axis_{s}{d}" for s in "pm" for d in (15, 30, 45, 60)} | set(HOUSE_RATIOS)


def test_house_ratios_come_from_the_house_fields_alone():
    builder = FeatureBuilder(list(HOUSE_RATIOS), {"98118": {"ppltn_qty": 1.0}})
    house = {"yr_built": 1950, "yr_renovated": 1990, "sqft_living": 2000, "sqft_lot": 8000, "sqft_living15": 1600,
             "sqft_lot15": 4000, "sqft_above": 1500, "bedrooms": 0, "bathrooms": 1.5}

    [row] = builder.matrix([house])

    assert dict(zip(HOUSE_RATIOS, row, strict=True)) == pytest.approx({
        "eff_year": 1990, "years_to_renovation": 40, "log_sqft_living": math.log(2000), "living_to_lot": 0.25,
        "living_to_neighbours_living": 1.25, "lot_to_neighbours_lot": 2.0, "above_share": 0.75,
        "sqft_per_bedroom": 2000, "bathrooms_per_bedroom": 1.5})   # no bedrooms: counted as one


def test_unknown_feature_names_are_refused():
    with pytest.raises(ValueError, match="neither sent by clients, demographic nor derived"):
        FeatureBuilder(["sqft_living", "price_per_sqft"], {"98118": {"ppltn_qty": 1.0}})
