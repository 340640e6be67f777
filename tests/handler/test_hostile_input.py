"""Input crafted to break a parser or slip past validation still gets a clear 4xx, never a 500
or a price for something other than what was sent."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from lambda_fn.api.asgi import LocalContext
from lambda_fn.api.handler import lambda_handler
from lambda_fn.core.features import HOUSE_COLUMNS
from lambda_fn.observability import logger
from tests.helpers import event_body, invoke, load_event, with_body

HOUSE = json.dumps(event_body("predict"))


@pytest.mark.parametrize(("body", "words"), [
    (HOUSE.replace('"bathrooms": 1.0', '"bathrooms": NaN'), "NaN is not valid JSON"),
    (HOUSE.replace('"bathrooms": 1.0', '"bathrooms": Infinity'), "Infinity is not valid JSON"),
    ("[" * 50_000 + "]" * 50_000, "nested too deeply"),
    ('{"bedrooms": ' + "9" * 5000 + "}", "digits"),
])
def test_bodies_json_cannot_represent_are_malformed_json(body, words):
    status, answer = invoke(with_body(load_event("predict"), body))

    assert status == 400
    assert answer["error"] == "malformed_json"
    assert words in answer["message"]


def test_a_body_that_is_not_utf8_is_malformed_json():
    event = load_event("predict")
    event["body"], event["isBase64Encoded"] = base64.b64encode(b'{"bedrooms": "caf\xe9"}').decode(), True

    status, answer = invoke(event)

    assert status == 400
    assert "not UTF-8" in answer["message"]


def test_an_event_whose_body_is_an_object_not_text_is_malformed_not_a_server_error():
    # API Gateway always sends the body as text; a direct invocation with a hand-made event may not.
    event = load_event("predict")
    event["body"] = event_body("predict")

    status, answer = invoke(event)

    assert status == 400
    assert answer["error"] == "malformed_json"
    assert "not JSON text" in answer["message"]


def test_a_body_marked_base64_that_is_not_is_malformed_not_a_server_error():
    # API Gateway never sends one; a direct invocation with a hand-made event can.
    event = load_event("predict")
    event["body"], event["isBase64Encoded"] = "!!! not base64", True

    status, answer = invoke(event)

    assert status == 400
    assert answer["error"] == "malformed_json"
    assert "base64" in answer["message"]


@pytest.mark.parametrize("route", ["predict", "predict_minimal"])
def test_a_list_of_houses_sent_to_a_one_house_route_is_refused_not_priced_as_its_first(route):
    house = event_body(route)

    status, answer = invoke(with_body(load_event(route), [house, house]))

    assert status == 422
    [detail] = answer["details"]
    assert detail["field"] == "body"
    assert "expected a JSON object (one house), got an array" in detail["problem"]
    assert "/v1/predict/batch" in detail["problem"]


@pytest.mark.parametrize(("route", "form"), [("predict", "bedrooms=4&bathrooms=1"), ("predict_minimal", "bedrooms=4")])
def test_form_posts_are_refused_with_415(route, form):
    event = with_body(load_event(route), form)
    event["headers"]["Content-Type"] = "application/x-www-form-urlencoded"

    status, answer = invoke(event)

    assert status == 415
    assert "application/json" in answer["message"]


@pytest.mark.parametrize(("query", "status", "words"), [
    ({"modle": "basic"}, 400, "did you mean 'model'"),
    ({"model": ""}, 400, "no model named ''"),
])
def test_query_string_mistakes_do_not_silently_fall_back_to_the_default_model(query, status, words):
    got, answer = invoke(with_body(load_event("predict"), event_body("predict"), **query))

    assert got == status
    assert words in answer["message"]


@pytest.mark.parametrize(("name", "values"), [("model", ["basic", "gbm"]), ("as_of", ["2015-01-01", "2015-03-01"])])
def test_a_query_parameter_given_twice_is_refused_saying_so(name, values):
    # API Gateway and the local server keep every value; which one a client meant cannot be guessed.
    event = with_body(load_event("predict"), event_body("predict"), **{name: values[-1]})
    event["multiValueQueryStringParameters"] = {name: values}

    status, answer = invoke(event)

    assert status == 422
    assert answer["details"] == [{"field": name, "problem": "given 2 times; give it once"}]


@pytest.mark.parametrize("route", ["predict", "predict_batch"])
def test_a_compressed_body_is_refused_with_415_naming_the_encoding(route):
    event = load_event(route)
    event["body"] = base64.b64encode(gzip.compress(event["body"].encode())).decode()
    event["isBase64Encoded"] = True
    event["headers"]["Content-Encoding"] = "gzip"
    event["multiValueHeaders"]["Content-Encoding"] = ["gzip"]

    status, answer = invoke(event)

    assert status == 415
    assert answer["details"] == [{"field": "Content-Encoding", "problem": "Content-Encoding 'gzip' is not accepted: "
                                                                          "send the JSON body uncompressed"}]


def test_a_body_labelled_compressed_that_is_not_valid_json_is_told_about_the_encoding():
    # deflate or brotli bytes may happen to be UTF-8; they are still not JSON
    event = with_body(load_event("predict"), "x\x9c+I-.")
    event["headers"]["Content-Encoding"] = "deflate"

    status, answer = invoke(event)

    assert status == 415
    assert "Content-Encoding 'deflate'" in answer["message"]


@pytest.mark.parametrize(("event", "query", "words"), [
    ("health", {"as_of": "2015-01-01"}, "unknown query parameter 'as_of'; this route takes none"),
    ("models", {"model": "basic"}, "unknown query parameter 'model'; this route takes none"),
    ("model", {"as_of": "2015-01-01"}, "unknown query parameter 'as_of'; known: model"),
    ("predict", {"format": "json"}, "unknown query parameter 'format'; known: model, as_of"),
])
def test_a_query_parameter_the_route_does_not_read_is_refused(event, query, words):
    status, answer = invoke(with_body(load_event(event), load_event(event).get("body"), **query))

    assert status == 400
    assert answer["message"] == words
    assert answer["details"][0]["field"] == next(iter(query))


@pytest.mark.parametrize(("event", "method"), [("predict", "PUT"), ("model", "DELETE")])
def test_a_wrong_method_with_a_query_is_not_found_not_a_query_complaint(event, method):
    request = with_body(load_event(event), load_event(event).get("body"), model="gbm")
    request["httpMethod"] = method

    status, answer = invoke(request)

    assert status == 404
    assert method in answer["message"]


def test_the_openapi_document_still_takes_its_format():
    event = load_event("health")
    event["path"] = event["resource"] = "/v1/swagger"

    status = invoke(with_body(event, None, format="json"))[0]

    assert status == 200


def test_zipcodes_in_other_digit_scripts_are_refused():
    house = {**event_body("predict"), "zipcode": "９８１１８"}

    status, answer = invoke(with_body(load_event("predict"), house))

    assert status == 422
    assert answer["details"][0]["field"] == "zipcode"


def test_a_misspelled_batch_key_names_the_batch_field():
    status, answer = invoke(with_body(load_event("predict_batch"), {"instance": [event_body("predict")]}))

    assert status == 422
    problems = {d["field"]: d["problem"] for d in answer["details"]}
    assert "did you mean 'instances'" in problems["instance"]
    assert "bedrooms" not in problems["instance"]


def test_one_requests_model_labels_do_not_stick_to_the_next_requests_logs():
    # The model is named on its request's own log line (tests/handler/test_observability.py), never
    # appended to the logger, so nothing of it is left for the next request's lines.
    invoke(with_body(load_event("predict"), event_body("predict"), model="basic"))

    assert "model_name" not in logger.get_current_keys()
    assert "model_version" not in logger.get_current_keys()


@pytest.mark.parametrize("route", ["predict", "predict_batch"])
def test_coordinates_outside_the_houses_zipcode_are_priced_with_a_warning_naming_the_field(route):
    # Inside King County's box, but 30 km from zipcode 98118: a typo, or a real home at the edge of
    # the data. It is priced where the coordinates say, and the answer says what looks wrong.
    house = {**event_body("predict"), "lat": 47.3, "long": -122.0}
    body = {"instances": [event_body("predict"), house]} if route == "predict_batch" else house

    status, answer = invoke(with_body(load_event(route), body))

    field = "instances[1].lat" if route == "predict_batch" else "lat"
    assert status == 200
    [warning] = answer["warnings"]
    assert warning["field"] == field
    assert "outside zipcode 98118" in warning["problem"] and "check them" in warning["problem"]


def test_every_real_sale_of_the_clients_data_is_priced_without_a_warning():
    from model import data

    sales = json.loads(data.load_sales()[list(HOUSE_COLUMNS)].to_json(orient="records"))
    answers = [invoke(with_body(load_event("predict_batch"), {"instances": sales[start:start + 1000]}))
               for start in range(0, len(sales), 1000)]

    assert len(sales) > 19_000
    assert [status for status, _ in answers] == [200] * len(answers)
    assert sum(len(answer["predictions"]) for _, answer in answers) == len(sales)
    assert [warning for _, answer in answers for warning in answer["warnings"]] == []


def test_every_future_example_lies_in_its_zipcode():
    from model import data

    houses = json.loads(data.load_future_examples().to_json(orient="records"))

    status, answer = invoke(with_body(load_event("predict_batch"), {"instances": houses}))

    assert status == 200, answer
    assert answer["warnings"] == []


def test_a_multipart_body_without_a_boundary_is_refused_with_415_not_a_crash():
    event = load_event("predict")
    event["headers"]["Content-Type"] = "multipart/form-data"
    event["multiValueHeaders"] = None

    status, answer = invoke(event)

    assert status == 415
    assert answer["error"] == "unsupported_media_type"


def test_a_list_of_batches_is_refused_not_priced_as_its_first():
    house = event_body("predict")

    status, answer = invoke(with_body(load_event("predict_batch"), [{"instances": [house]}, {"instances": [house]}]))

    assert status == 422
    assert answer["details"] == [{"field": "body", "problem": 'expected a JSON object {"instances": [house, ...]}, '
                                                             "got an array"}]


def test_a_list_of_houses_sent_to_the_batch_route_is_told_to_wrap_them_not_given_a_field_list():
    # Powertools validates an array's first item: without this, the answer listed every house field
    # as unknown and "instances" as missing.
    house = event_body("predict")

    status, answer = invoke(with_body(load_event("predict_batch"), [house, house]))

    assert status == 422
    assert answer["details"] == [{"field": "body", "problem": 'expected a JSON object {"instances": [house, ...]}, '
                                                             "got an array"}]


def test_one_house_sent_to_the_batch_route_is_pointed_to_the_one_house_route():
    status, answer = invoke(with_body(load_event("predict_batch"), event_body("predict")))

    assert status == 422
    [detail] = answer["details"]
    assert detail["field"] == "body"
    assert "got the fields of one house: POST it to /v1/predict" in detail["problem"]


@pytest.mark.parametrize("route", ["predict", "predict_explain", "predict_minimal"])
def test_a_batch_sent_to_a_one_house_route_is_pointed_to_the_batch_route(route):
    status, answer = invoke(with_body(load_event(route), {"instances": [event_body("predict")]}))

    assert status == 422
    assert answer["details"] == [{"field": "body", "problem": 'this route prices one house, sent as its fields; '
                                                             'POST {"instances": [...]} to /v1/predict/batch'}]


def test_a_misdirected_body_still_reports_a_bad_query_parameter():
    status, answer = invoke(with_body(load_event("predict_batch"), [event_body("predict")], as_of="2015-13-01"))

    assert status == 422
    assert [d["field"] for d in answer["details"]] == ["as_of", "body"]


def test_an_empty_batch_body_still_names_the_missing_field():
    status, answer = invoke(with_body(load_event("predict_batch"), {}))

    assert status == 422
    assert answer["details"] == [{"field": "instances", "problem": "Field required"}]


@pytest.mark.parametrize("route", ["predict", "predict_batch"])
def test_a_field_sent_twice_is_refused_not_priced_with_its_last_value(route):
    house = json.dumps(event_body("predict"))
    twice = house[:-1] + ', "bedrooms": 9}'
    body = twice if route == "predict" else '{"instances": [' + twice + "]}"

    status, answer = invoke(with_body(load_event(route), body))

    assert status == 400
    assert "duplicate key 'bedrooms'" in answer["message"]


def test_thousands_of_unknown_fields_get_a_short_answer_naming_the_first_twenty():
    house = {**event_body("predict"), **{f"extra_{i}": 1 for i in range(25_000)}}

    status, answer = invoke(with_body(load_event("predict"), house))

    assert status == 422
    assert len(answer["details"]) == 21
    assert answer["details"][0]["field"] == "extra_0" and "unknown field" in answer["details"][0]["problem"]
    assert answer["details"][-1] == {"field": "body", "problem": "and 24980 more problems not listed"}
    assert len(json.dumps(answer)) < 20_000


def test_an_answer_naming_a_non_ascii_field_is_utf8_json_naming_it_as_sent():
    house = {**event_body("predict"), "b\u00e9drooms": 4}

    response = lambda_handler(with_body(load_event("predict"), house), LocalContext(aws_request_id="utf8"))

    assert response["statusCode"] == 422
    assert "b\u00e9drooms" in response["body"]   # written as UTF-8, not as a \u escape
    assert any(d["field"] == "b\u00e9drooms" for d in json.loads(response["body"])["details"])
