"""Comparable sales: near the house and like it, never the house's own sale, priced at the month asked."""

from __future__ import annotations

import datetime
import math

import numpy as np
import pytest

from lambda_fn.core.comparables import CANDIDATES, SaleRecords
from lambda_fn.core.predictor import SALES_FILE, ModelFormatError, Predictor
from lambda_fn.registry.artifacts import latest_version_folder, load_predictor
from lambda_fn.settings import DEFAULT_MODEL_DIR
from model import data, gbm

HOUSE = {"zipcode": 98118, "lat": 47.5354, "long": -122.273, "bedrooms": 4, "bathrooms": 1.0, "sqft_living": 1680,
         "grade": 6, "yr_built": 1911}


def records(rows: list[dict]) -> SaleRecords:
    """``rows`` plus enough far-away filler sales (60 km north, sold for $0.5) to fill the candidate list."""
    filler = [{**HOUSE, "lat": 48.1 + i * 1e-3, "sale_date": "2014-06-01", "sale_price": 0.5}
              for i in range(CANDIDATES)]
    table = rows + filler
    return SaleRecords({name: [row[name] for row in table] for name in table[0]})


def sale(**changes) -> dict:
    return {**HOUSE, "sale_date": "2014-10-01", "sale_price": 300_000.0, **changes}


def test_a_similar_house_a_little_further_beats_a_different_one_next_door():
    table = records([sale(lat=47.5355, sqft_living=4800, grade=11, sale_price=1.0),   # 10 m away, a mansion
                     sale(lat=47.5390, sale_price=2.0)])                               # 400 m away, alike

    [first, second] = table.most_like(HOUSE, 2)

    assert first.sale_price == 2.0
    assert second.sale_price == 1.0
    assert first.distance_km == pytest.approx(0.0036 * 111.2, abs=0.01)


def test_the_houses_own_sale_is_never_its_comparable_but_a_neighbour_at_the_same_spot_is():
    table = records([sale(sale_price=1.0),                       # the house itself: same spot, same attributes
                     sale(bedrooms=3, sale_price=2.0),           # same spot, another home (a condo block)
                     sale(lat=47.5370, sale_price=3.0)])

    prices = [c.sale_price for c in table.most_like(HOUSE, 5)]

    assert 1.0 not in prices
    assert prices[:2] == [2.0, 3.0]


def test_records_survive_their_file_unchanged():
    table = records([sale(bathrooms=2.25, sale_price=512_500.0)])

    again = SaleRecords.from_csv(table.to_csv())

    assert again.most_like(HOUSE, 3) == table.most_like(HOUSE, 3)
    assert table.to_csv().startswith(b"zipcode,lat,long,bedrooms,bathrooms,sqft_living,grade,yr_built,sale_date,"
                                     b"sale_price\n98118,47.5354,-122.273,4,2.25,1680,6,1911,2014-10-01,512500\n")


def test_a_file_with_other_columns_is_refused():
    with pytest.raises(ValueError, match="must start with the header"):
        SaleRecords.from_csv(b"zipcode,lat\n98118,47.5\n")


@pytest.fixture(scope="module")
def served():
    return load_predictor(latest_version_folder(DEFAULT_MODEL_DIR, "gbm"))


def test_a_training_sale_asked_about_gets_five_other_sales(served):
    sales = data.load_sales()
    train_rows, _ = gbm.split(sales)
    trained_on = sales.loc[train_rows[:20]]

    for _, row in trained_on.iterrows():
        house = {name: row[name] for name in data.load_future_examples().columns}
        _, [explanation] = served.explain([house], datetime.date(2015, 5, 1))

        assert len(explanation.comparables) == 5
        assert all(not (c.distance_km < 0.001 and c.sale_price == row["price"] and c.sqft_living == row["sqft_living"])
                   for c in explanation.comparables)


def test_comparable_prices_move_to_the_asked_month_by_the_models_index(served):
    house = data.load_future_examples().iloc[0].to_dict()
    index = served.metadata["market"]["index_pct"]

    for day in (datetime.date(2014, 6, 1), datetime.date(2015, 5, 1)):
        _, [explanation] = served.explain([house], day)
        for comparable, moved in zip(explanation.comparables, explanation.comparable_prices, strict=True):
            sold, asked = comparable.sale_date[:7], f"{day:%Y-%m}"
            expected = comparable.sale_price * (1 + index[asked] / 100) / (1 + index[sold] / 100)
            assert moved == pytest.approx(expected, abs=0.02 + expected * 1e-5)   # the index is stored to 0.001%


def test_comparables_are_near_and_most_alike_first(served):
    house = data.load_future_examples().iloc[0].to_dict()
    _, [explanation] = served.explain([house], datetime.date(2015, 5, 1))

    assert max(c.distance_km for c in explanation.comparables) < 2.0
    assert all(abs(c.grade - house["grade"]) <= 1 for c in explanation.comparables)
    assert not math.isnan(np.mean([c.sale_price for c in explanation.comparables]))


def test_a_version_that_claims_to_explain_without_its_sales_is_refused(served):
    folder = latest_version_folder(DEFAULT_MODEL_DIR, "gbm")
    files = {path.name: path.read_bytes() for path in folder.iterdir() if path.name != "metadata.json"}
    del files[SALES_FILE]

    with pytest.raises(ModelFormatError, match="says it explains its prices, but its model, sales"):
        Predictor.from_files(files, served.metadata)
