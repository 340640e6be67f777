"""Media types are case-insensitive (RFC 9110 8.3.1): ``APPLICATION/JSON`` is JSON, and is priced
exactly like ``application/json``; a type that is not JSON is still refused with 415."""

from __future__ import annotations

import pytest

from tests.helpers import invoke, load_event

PRICED_ROUTES = ["predict", "predict_batch", "predict_minimal"]


def _sent_as(route: str, content_type: str) -> dict:
    event = load_event(route)
    event["headers"]["Content-Type"] = content_type
    event["multiValueHeaders"]["Content-Type"] = [content_type]
    return event


@pytest.mark.parametrize("content_type", ["APPLICATION/JSON", "Application/Json; charset=UTF-8"])
@pytest.mark.parametrize("route", PRICED_ROUTES)
def test_json_in_any_letter_case_is_priced_like_lowercase_json(route, content_type):
    expected_status, expected = invoke(_sent_as(route, "application/json"))

    status, answer = invoke(_sent_as(route, content_type))

    assert (expected_status, status) == (200, 200)
    assert answer == expected


@pytest.mark.parametrize("content_type", ["text/plain", "TEXT/PLAIN", "application/xml", "application/jsonx"])
@pytest.mark.parametrize("route", PRICED_ROUTES)
def test_a_body_sent_as_another_media_type_is_still_415(route, content_type):
    status, answer = invoke(_sent_as(route, content_type))

    assert status == 415
    assert answer["error"] == "unsupported_media_type"
