"""?as_of=: the day a price is asked for, and the month of the 2014-15 data it is priced at."""

from __future__ import annotations

import pytest

from tests.helpers import event_body, invoke, load_event, with_body


def test_a_price_asked_today_is_priced_at_the_datas_last_month_and_says_so():
    status, body = invoke(load_event("predict"))
    _, at_last_month = invoke(with_body(load_event("predict"), event_body("predict"), as_of="2015-05-27"))

    assert status == 200
    assert body["market_month"] == "2015-05"
    assert "2015-05" in body["price_basis"] and "2014-15 price" in body["price_basis"]
    assert body["price"] == at_last_month["price"]


def test_as_of_prices_the_house_at_that_month_of_the_data():
    status, october = invoke(load_event("predict_as_of"))
    _, today = invoke(load_event("predict"))
    _, minimal = invoke(with_body(load_event("predict_minimal_gbm"), event_body("predict_minimal_gbm"),
                                  as_of="2014-10-13"))

    assert status == 200
    assert october["market_month"] == "2014-10" and "2014-10" in october["price_basis"]
    assert october["price"] != today["price"]
    assert october["interval"]["low"] < october["price"] < october["interval"]["high"]
    assert minimal["price"] == october["price"]


def test_batch_prices_every_house_at_the_same_month():
    houses = event_body("predict_batch")["instances"]
    one_by_one = [invoke(with_body(load_event("predict"), house, as_of="2014-12-01"))[1]["price"] for house in houses]

    status, batch = invoke(with_body(load_event("predict_batch"), {"instances": houses}, as_of="2014-12-01"))

    assert status == 200 and batch["market_month"] == "2014-12"
    assert [p["price"] for p in batch["predictions"]] == one_by_one


def test_the_basic_model_prices_at_the_average_of_its_data_whatever_the_day():
    _, today = invoke(with_body(load_event("predict"), event_body("predict"), model="basic"))
    _, october = invoke(with_body(load_event("predict"), event_body("predict"), model="basic", as_of="2014-10-13"))

    assert today["market_month"] is None and october["market_month"] is None
    assert today["price"] == october["price"]
    assert "May 2014 to May 2015" in today["price_basis"]


@pytest.mark.parametrize("as_of", ["2014-13-01", "2015-02-29", "13/10/2014", "yesterday", "",
                                   # pydantic alone reads these as days: a Unix time, a time of day
                                   "1412121600", "0", "2015-05-27T10:00:00Z", "2015-05-27 00:00", "２０１５-０５-２７"])
def test_an_as_of_that_is_not_a_yyyy_mm_dd_day_is_a_422_naming_it(as_of):
    status, body = invoke(with_body(load_event("predict"), event_body("predict"), as_of=as_of))

    assert status == 422
    assert [d["field"] for d in body["details"]] == ["as_of"]
    assert "YYYY-MM-DD" in body["details"][0]["problem"]


def test_a_day_before_the_data_is_refused_even_for_a_batch():
    status, body = invoke(with_body(load_event("predict_batch"), event_body("predict_batch"), as_of="2014-04-30"))

    assert status == 422
    assert body["details"] == [{"field": "as_of", "problem": body["details"][0]["problem"]}]
    assert "2014-04-30 is before 2014-05" in body["message"]
