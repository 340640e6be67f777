"""The pre-traffic hook's checks of an answer: what a priced house and a refusal must look like."""

from __future__ import annotations

import base64
import json

import pytest

from infra.constructs.pre_traffic_hook.runtime.checks import (
    EVENT_FILES,
    Expected,
    check_priced,
    check_refused,
    parse_answer,
)
from tests.helpers import EVENTS_DIR

GBM = Expected(model="gbm")
PRICED = {"price": 326934.9, "interval": {"low": 277467.21, "high": 383127.22, "coverage": 0.8}, "currency": "USD",
          "price_basis": "Estimated as a sale in King County in 2015-05 ...", "market_month": "2015-05",
          "model": {"name": "gbm", "version": "20261127T154825Z-c00b49ac"}, "warnings": []}
REFUSAL = {"error": "invalid_input", "message": "sqft_living: Field required",
           "details": [{"field": "sqft_living", "problem": "Field required"}]}


def answer(status: int, body) -> str:
    return json.dumps({"statusCode": status, "headers": {"Content-Type": "application/json"},
                       "body": body if isinstance(body, str) else json.dumps(body), "isBase64Encoded": False})


def with_(base: dict, **changes) -> dict:
    return {**base, **changes}


def test_the_cases_send_events_of_the_repository():
    assert all((EVENTS_DIR / name).is_file() for name in EVENT_FILES)


def test_a_priced_house_passes():
    assert check_priced(parse_answer(answer(200, PRICED)), GBM) == []


def test_a_model_without_an_interval_passes():
    assert check_priced(parse_answer(answer(200, with_(PRICED, interval=None))), GBM) == []


@pytest.mark.parametrize(("body", "problem"), [
    (with_(PRICED, price=0), "price 0 is not a positive number"),
    (with_(PRICED, price=-5.0), "price -5.0 is not a positive number"),
    (with_(PRICED, price=True), "price True is not a positive number"),
    (with_(PRICED, price="326934.9"), "price '326934.9' is not a positive number"),
    (with_(PRICED, price=500000.0), "is not inside its interval"),
    (with_(PRICED, interval={"low": 1.0}), "is not inside its interval"),
    (with_(PRICED, model={"name": "basic", "version": "v1"}), "priced by model 'basic', expected 'gbm'"),
    (with_(PRICED, model={"name": "gbm", "version": ""}), "no model version"),
    (with_(PRICED, price_basis=""), "no price_basis"),
    ({k: v for k, v in PRICED.items() if k != "price_basis"}, "no price_basis"),
])
def test_a_wrong_priced_body_fails(body, problem):
    problems = check_priced(parse_answer(answer(200, body)), GBM)
    assert any(problem in found for found in problems), problems


def test_a_price_answered_with_another_status_fails():
    assert check_priced(parse_answer(answer(500, {"error": "internal"})), GBM) == [
        'expected status 200, got 500: {"error": "internal"}']


def test_a_non_json_body_fails():
    assert check_priced(parse_answer(answer(200, "<html>")), GBM) == ["expected a JSON object, got: <html>"]


def test_a_refusal_in_the_error_format_passes():
    assert check_refused(parse_answer(answer(422, REFUSAL)), GBM) == []


def test_an_invalid_request_answered_200_fails():
    [problem] = check_refused(parse_answer(answer(200, PRICED)), GBM)
    assert problem.startswith("an invalid request was answered 200")


@pytest.mark.parametrize("status", [302, 500, 502])
def test_a_refusal_must_be_a_4xx(status):
    [problem] = check_refused(parse_answer(answer(status, REFUSAL)), GBM)
    assert problem.startswith(f"expected a 4xx refusal, got {status}")


@pytest.mark.parametrize(("body", "problem"), [
    ("Bad Request", "expected the error format"),
    (with_(REFUSAL, error=""), "'error' is not a non-empty string"),
    ({k: v for k, v in REFUSAL.items() if k != "message"}, "'message' is not a non-empty string"),
    (with_(REFUSAL, details=[]), "is not a list of {field, problem}"),
    (with_(REFUSAL, details=[{"field": "sqft_living"}]), "is not a list of {field, problem}"),
])
def test_a_refusal_outside_the_error_format_fails(body, problem):
    problems = check_refused(parse_answer(answer(422, body)), GBM)
    assert any(problem in found for found in problems), problems


def test_a_base64_body_is_decoded():
    encoded = json.dumps({"statusCode": 200, "body": base64.b64encode(json.dumps(PRICED).encode()).decode(),
                          "isBase64Encoded": True})
    assert parse_answer(encoded).body == PRICED


@pytest.mark.parametrize(("payload", "reason"), [
    ("not json", "the payload is not JSON"),
    ('{"errorMessage": "boom"}', "not an API Gateway proxy response"),
    ('{"statusCode": "200", "body": "{}"}', "not an API Gateway proxy response"),
    ('{"statusCode": 200, "body": "%%%", "isBase64Encoded": true}', "does not decode"),
])
def test_a_payload_that_is_no_proxy_response_is_refused(payload, reason):
    with pytest.raises(ValueError, match=reason):
        parse_answer(payload)
