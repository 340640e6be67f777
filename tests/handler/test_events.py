"""The handler answers every real API Gateway event in events/ as the API contract says."""

from __future__ import annotations

import json

import pytest

from lambda_fn.api.asgi import LocalContext
from lambda_fn.api.handler import lambda_handler
from lambda_fn.core.features import HOUSE_COLUMNS
from lambda_fn.settings import Settings
from tests.helpers import EVENTS_DIR, event_body, invoke, load_event, with_body

BAD_EVENTS = {
    # event file: (status, field named in the error, words the problem must contain)
    "bad_malformed_json": (400, "body", "not valid JSON"),
    "bad_missing_field": (422, "sqft_living", "Field required"),
    "bad_wrong_type": (422, "bedrooms", "valid integer"),
    "bad_negative_area": (422, "sqft_lot", "greater than 0"),
    "bad_outside_king_county": (422, "lat", "greater than or equal to 47"),
    "bad_unknown_zipcode": (422, "zipcode", "98101 is not one of the 70 King County zipcodes"),
    "bad_misspelled_field": (422, "sqft_livng", "did you mean 'sqft_living'"),
    "bad_demographic_field": (422, "medn_hshld_incm_amt", "the service adds them from the zipcode"),
    "bad_area_mismatch": (422, "body", "must equal sqft_living"),
    "bad_empty_batch": (422, "instances", "at least 1 item"),
    "bad_batch_item": (422, "instances[1].zipcode", "98101 is not one of"),
    "bad_unknown_model": (400, "model", "no model named 'premium'"),
    "bad_as_of_before_data": (422, "as_of", "2013-06-01 is before 2014-05"),
}


BASIC_PRICE_OF_FIRST_FUTURE_HOUSE = 396520.0  # the client's recipe, see tests/unit/test_recipe_parity.py


def test_one_house_gets_a_price_in_usd_from_the_default_model_with_its_range():
    status, body = invoke(load_event("predict"))

    assert status == 200
    assert body["currency"] == "USD"
    assert "2014" in body["price_basis"] and "2015" in body["price_basis"]
    assert body["model"]["name"] == Settings().default_model == "gbm"
    assert body["model"]["version"]
    assert body["interval"]["low"] < body["price"] < body["interval"]["high"]
    assert body["interval"]["coverage"] == 0.8


def test_a_request_can_ask_for_the_clients_basic_model():
    status, body = invoke(with_body(load_event("predict"), event_body("predict"), model="basic"))

    assert status == 200
    assert body["price"] == BASIC_PRICE_OF_FIRST_FUTURE_HOUSE
    assert body["model"]["name"] == "basic"
    assert body["interval"] is None


def test_batch_answers_each_house_in_input_order():
    houses = event_body("predict_batch")["instances"]
    one_by_one = [invoke(with_body(load_event("predict"), house))[1]["price"] for house in houses]

    status, body = invoke(load_event("predict_batch"))
    reversed_status, reversed_body = invoke(with_body(load_event("predict_batch"), {"instances": houses[::-1]}))

    assert status == reversed_status == 200
    assert [p["price"] for p in body["predictions"]] == one_by_one
    assert [p["price"] for p in reversed_body["predictions"]] == one_by_one[::-1]


def test_minimal_route_prices_from_the_eight_fields_the_basic_model_uses():
    minimal = event_body("predict_minimal")
    status, body = invoke(load_event("predict_minimal"))

    assert sorted(minimal) == sorted(["bedrooms", "bathrooms", "sqft_living", "sqft_lot", "floors",
                                      "sqft_above", "sqft_basement", "zipcode"])
    assert status == 200
    assert body["price"] == BASIC_PRICE_OF_FIRST_FUTURE_HOUSE


def test_minimal_route_rejects_fields_the_model_does_not_use():
    status, body = invoke(load_event("predict"))  # warm
    house = event_body("predict")
    status, body = invoke(with_body(load_event("predict_minimal"), house))

    assert status == 422
    assert {d["field"] for d in body["details"]} >= {"grade", "lat"}


@pytest.mark.parametrize("name", sorted(BAD_EVENTS))
def test_bad_input_gets_a_4xx_naming_the_field_and_the_problem(name):
    expected_status, field, words = BAD_EVENTS[name]

    status, body = invoke(load_event(name))

    assert status == expected_status
    assert body["error"] and body["message"]
    problems = {d["field"]: d["problem"] for d in body["details"]}
    assert field in problems, problems
    assert words in problems[field]


def test_unknown_route_is_404():
    status, body = invoke(load_event("bad_unknown_route"))

    assert status == 404
    assert "/v1/predictions" in body["message"]


def test_batch_of_1000_is_priced_and_1001_is_refused():
    house = event_body("predict")

    ok_status, ok_body = invoke(with_body(load_event("predict_batch"), {"instances": [house] * 1000}))
    big_status, big_body = invoke(with_body(load_event("predict_batch"), {"instances": [house] * 1001}))

    assert ok_status == 200 and len(ok_body["predictions"]) == 1000
    assert big_status == 422
    assert big_body["details"][0]["field"] == "instances"
    assert "at most 1000" in big_body["details"][0]["problem"]


@pytest.mark.parametrize(("field", "value", "words"), [
    ("bedrooms", True, "valid integer"),          # booleans are not counts
    ("sqft_living", "1680", "valid integer"),     # numbers must be JSON numbers
    ("sqft_living", 1680.5, "valid integer"),     # no fractional square feet in the records
    ("floors", 0, "greater than or equal to 1"),
    ("grade", 14, "less than or equal to 13"),
    ("yr_built", 2999, "in the future"),
    ("zipcode", "9811", "expected a 5-digit zipcode such as 98118, as a number or as text; got '9811'"),
    ("zipcode", "98118-1234", "expected a 5-digit zipcode"),
    ("zipcode", 98118.5, "valid integer"),
    ("zipcode", 10001, "greater than or equal to 98001"),
])
def test_impossible_or_mistyped_values_are_refused(field, value, words):
    house = {**event_body("predict"), field: value}

    status, body = invoke(with_body(load_event("predict"), house))

    assert status == 422
    assert any(d["field"] == field and words in d["problem"] for d in body["details"]), body


@pytest.mark.parametrize(("field", "value"), [("sqft_living", 1680.0), ("zipcode", "98118"), ("zipcode", 98118.0),
                                             ("bathrooms", 1)])
def test_equivalent_spellings_of_a_value_price_the_same(field, value):
    house = {**event_body("predict"), field: value}

    status, body = invoke(with_body(load_event("predict"), house))

    assert status == 200
    assert body["price"] == invoke(load_event("predict"))[1]["price"]


def test_renovation_before_construction_is_refused():
    house = {**event_body("predict"), "yr_renovated": 1900}

    status, body = invoke(with_body(load_event("predict"), house))

    assert status == 422
    assert "yr_renovated" in body["message"]



def test_health_and_model_metadata_name_the_served_version():
    _, health = invoke(load_event("health"))
    _, default_metadata = invoke(load_event("model"))
    status, metadata = invoke(with_body(load_event("model"), None, model="basic"))

    assert status == 200
    assert health["status"] == "ok"
    assert default_metadata["version"] == health["model"]["version"]
    assert default_metadata["required_fields"] == sorted(HOUSE_COLUMNS)
    assert metadata["required_fields"] == sorted(event_body("predict_minimal"))
    assert len(metadata["zipcodes"]) == 70
    assert metadata["metrics"]["held_out"]["r2"] > 0.7
    assert set(metadata["files"]) == {"model.pkl", "model_features.json", "demographics.csv"}


def test_openapi_document_describes_every_route():
    event = load_event("health")
    event["path"] = event["resource"] = "/v1/swagger"
    event["queryStringParameters"] = {"format": "json"}
    event["multiValueQueryStringParameters"] = {"format": ["json"]}

    response = invoke_raw(event)
    document = json.loads(response["body"])

    assert response["statusCode"] == 200
    assert {"/v1/predict", "/v1/predict/batch", "/v1/predict/minimal", "/v1/health", "/v1/model"} <= set(
        document["paths"])
    house_schema = document["components"]["schemas"]["House"]
    assert set(house_schema["properties"]) == set(HOUSE_COLUMNS)
    assert house_schema["additionalProperties"] is False


def invoke_raw(event):
    import uuid

    from lambda_fn.api.asgi import LocalContext
    from lambda_fn.api.handler import lambda_handler

    return lambda_handler(event, LocalContext(aws_request_id=str(uuid.uuid4())))


@pytest.mark.parametrize("name", sorted(path.stem for path in EVENTS_DIR.glob("*.json")))
def test_every_answer_forbids_content_sniffing(name):
    response = lambda_handler(load_event(name), LocalContext(aws_request_id="nosniff"))
    headers = {**(response.get("headers") or {}),
               **{key: values[-1] for key, values in (response.get("multiValueHeaders") or {}).items()}}

    assert headers.get("X-Content-Type-Options") == "nosniff", (name, response["statusCode"])
