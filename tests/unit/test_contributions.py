"""What moved a price: grouped exact attributions that add up to the price to the cent."""

from __future__ import annotations

import datetime
import math
import re

import numpy as np
import pytest

from lambda_fn.core.contributions import GROUPS, Grouping, UngroupedColumnError, column_groups
from lambda_fn.registry.artifacts import latest_version_folder, load_predictor
from lambda_fn.settings import DEFAULT_MODEL_DIR
from model import data

DAYS = ("2014-06-15", "2015-01-10", "2015-05-01", "2026-11-27")


@pytest.fixture(scope="module")
def gbm():
    return load_predictor(latest_version_folder(DEFAULT_MODEL_DIR, "gbm"))


@pytest.fixture(scope="module")
def future():
    return data.load_future_examples().to_dict(orient="records")


def cents(value: float) -> int:
    return round(value * 100)


@pytest.mark.parametrize("day", DAYS)
def test_baseline_plus_contributions_is_the_price_to_the_cent_for_every_future_house(gbm, future, day):
    asked_on = datetime.date.fromisoformat(day)
    pricing, explanations = gbm.explain(future, asked_on)

    assert len(explanations) == 100
    assert pricing.prices == gbm.predict(future, asked_on)   # the same price /v1/predict gives
    for price, explanation in zip(pricing.prices, explanations, strict=True):
        grouped = explanation.contributions
        assert list(grouped.usd) == list(GROUPS)
        assert cents(grouped.baseline) + sum(cents(v) for v in grouped.usd.values()) == cents(price)


def test_log_attributions_are_exact_before_any_rounding(gbm, future):
    x = gbm.features.matrix(future, asked_on=datetime.date(2015, 2, 1))
    baseline, shares = gbm.model.log_contributions(x)

    assert np.allclose(np.log(gbm.model.predict(x)), baseline + shares.sum(axis=1), rtol=0, atol=1e-9)
    assert shares.shape == (100, len(gbm.model.explained_columns))


def test_the_market_month_moves_a_price_as_the_index_says(gbm, future):
    winter, spring = datetime.date(2015, 1, 10), datetime.date(2015, 5, 1)
    (_, [in_winter]), (_, [in_spring]) = gbm.explain(future[:1], winter), gbm.explain(future[:1], spring)
    index = gbm.metadata["market"]["index_pct"]

    # The index rose from January to May 2015; only the market month's share changes with the day.
    assert index["2015-05"] > index["2015-01"]
    assert in_spring.contributions.usd["market month"] > in_winter.contributions.usd["market month"]
    assert in_spring.contributions.baseline == in_winter.contributions.baseline


def test_every_column_of_the_served_model_is_in_exactly_one_group(gbm):
    groups = column_groups(gbm.model.explained_columns, gbm.demographic_fields)

    assert set(groups) == set(GROUPS)   # every group holds at least one column of this model
    assert groups[gbm.model.explained_columns.index("medn_hshld_incm_amt")] == "neighbourhood demographics"
    assert groups[gbm.model.explained_columns.index("relative_grade")] == "nearby sales"


def test_a_column_no_group_names_is_refused():
    with pytest.raises(UngroupedColumnError, match=re.escape("'roof_colour' is in 0 contribution groups")):
        column_groups(["lat", "roof_colour"], demographic_columns=[])


def test_dollars_keep_each_shares_sign_and_add_up_exactly():
    grouping = Grouping(["lat", "grade", "view"], demographic_columns=[])
    shares = np.zeros((1, 3))
    shares[0, :] = [0.10, -0.05, 0.02]   # log units
    base = 500_000.0
    price = round(base * math.exp(0.07), 2)

    [result] = grouping.in_dollars(math.log(base), grouping.log_shares(shares), [price])

    assert result.usd["location"] > 0 > result.usd["quality and grade"]
    assert result.usd["view and waterfront"] > 0
    assert cents(result.baseline) + sum(cents(v) for v in result.usd.values()) == cents(price)
    # Proportional to the log shares: the logarithmic mean turns each into dollars at one rate.
    assert result.usd["location"] / result.usd["view and waterfront"] == pytest.approx(5, rel=1e-4)


def test_a_price_at_the_baseline_has_no_contributions():
    grouping = Grouping(["lat", "grade"], demographic_columns=[])

    [result] = grouping.in_dollars(math.log(400_000.0), np.zeros((1, len(GROUPS))), [400_000.0])

    assert set(result.usd.values()) == {0.0}
    assert result.baseline == 400_000.0


def test_large_opposite_shares_that_nearly_cancel_stay_their_own_size():
    grouping = Grouping(["lat", "grade"], demographic_columns=[])
    shares = np.array([[0.3, -0.3 + 1e-11]])   # the price is within a cent of the baseline
    base = 500_000.0

    [result] = grouping.in_dollars(math.log(base), grouping.log_shares(shares), [round(base * math.exp(1e-11), 2)])

    # About 0.3 of a log unit at the baseline's rate, not 0.3 times (a cent / 1e-11).
    assert result.usd["location"] == pytest.approx(150_000, rel=1e-6)
    assert result.usd["quality and grade"] == pytest.approx(-150_000, rel=1e-6)
    assert cents(result.baseline) + sum(cents(v) for v in result.usd.values()) == cents(base)
