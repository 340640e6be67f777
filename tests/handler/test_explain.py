"""POST /v1/predict/explain: the price of /v1/predict, what moved it, and the sales behind it."""

from __future__ import annotations

from lambda_fn.core.contributions import GROUPS
from tests.helpers import event_body, invoke, load_event, with_body

COMPARABLE_FIELDS = {"zipcode", "lat", "long", "bedrooms", "bathrooms", "sqft_living", "grade", "yr_built",
                     "sale_date", "sale_price", "price_at_market_month", "distance_km"}


def cents(value: float) -> int:
    return round(value * 100)


def test_an_explained_price_is_the_predicted_price_with_its_reasons():
    _, predicted = invoke(load_event("predict"))
    status, body = invoke(load_event("predict_explain"))

    assert status == 200
    for key in ("price", "interval", "market_month", "price_basis", "model", "currency", "warnings"):
        assert body[key] == predicted[key]
    assert "2014-15" in body["price_basis"]
    assert [c["group"] for c in body["contributions"]] == list(GROUPS)
    assert cents(body["baseline"]) + sum(cents(c["usd"]) for c in body["contributions"]) == cents(body["price"])


def test_five_comparable_sales_with_their_prices_moved_to_the_month_asked():
    status, body = invoke(with_body(load_event("predict_explain"), event_body("predict"), as_of="2015-01-15"))

    assert status == 200
    assert body["market_month"] == "2015-01"
    assert len(body["comparables"]) == 5
    for sale in body["comparables"]:
        assert set(sale) == COMPARABLE_FIELDS
        assert "2014-05-01" <= sale["sale_date"] <= "2015-05-31"
        assert sale["distance_km"] >= 0
        assert sale["price_at_market_month"] > 0


def test_a_model_that_cannot_explain_is_refused_naming_those_that_can():
    status, body = invoke(with_body(load_event("predict_explain"), event_body("predict"), model="basic"))

    assert status == 422
    assert body["error"] == "cannot_explain"
    assert body["details"] == [{"field": "model", "problem": body["message"]}]
    assert "basic cannot explain" in body["message"] and "models that can: gbm" in body["message"]


def test_bad_input_gets_the_same_answer_as_on_the_predict_route():
    bad = {**event_body("predict"), "sqft_lot": -5}

    explained = invoke(with_body(load_event("predict_explain"), bad))
    predicted = invoke(with_body(load_event("predict"), bad))

    assert explained[0] == predicted[0] == 422
    assert explained[1]["details"] == predicted[1]["details"]


def test_a_day_before_the_data_is_refused():
    status, body = invoke(with_body(load_event("predict_explain"), event_body("predict"), as_of="2013-01-01"))

    assert status == 422
    assert body["details"][0]["field"] == "as_of"


def test_the_models_list_says_which_models_explain():
    _, body = invoke(load_event("models"))

    assert {m["name"]: m["explains"] for m in body["models"]} == {"basic": False, "gbm": True}
