"""The ASGI adapter: HTTP requests become API Gateway REST events faithfully, bodies are read
whole before the handler runs, and the handler runs for one request at a time per process."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid

import pytest

from lambda_fn.api import asgi
from tests.helpers import event_body, invoke, load_event


def _scope(method="GET", path="/v1/health", query=b"", headers=(), raw_path=None):
    return {"type": "http", "method": method, "path": path, "raw_path": raw_path or path.encode(),
            "query_string": query, "headers": [(n.lower().encode(), v.encode()) for n, v in headers],
            "http_version": "1.1", "client": ("127.0.0.1", 5000)}


def _receiver(*chunks: bytes, pause: float = 0.0):
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

    async def receive():
        if pause:
            await asyncio.sleep(pause)
        return messages.pop(0) if messages else {"type": "http.disconnect"}
    return receive


async def _call(scope, receive):
    sent = []

    async def send(message):
        sent.append(message)
    await asgi.application(scope, receive, send)
    start, body = sent
    return start["status"], dict(start["headers"]), body["body"]


def test_request_becomes_a_rest_event_with_headers_query_and_body():
    scope = _scope("POST", "/v1/predict", b"model=basic&tag=a&tag=b",
                   [("Content-Type", "application/json"), ("X-Api-Key", "k"), ("Accept", "a"), ("Accept", "b")])

    event = asgi.to_event(scope, b'{"a": 1}', "req-1")

    assert event["httpMethod"] == "POST" and event["path"] == "/v1/predict"
    assert event["headers"]["Content-Type"] == "application/json" and event["headers"]["X-Api-Key"] == "k"
    assert event["multiValueHeaders"]["Accept"] == ["a", "b"] and event["headers"]["Accept"] == "a, b"
    assert event["queryStringParameters"] == {"model": "basic", "tag": "b"}
    assert event["multiValueQueryStringParameters"]["tag"] == ["a", "b"]
    assert event["body"] == '{"a": 1}' and event["isBase64Encoded"] is False
    assert event["requestContext"]["requestId"] == "req-1"
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"


def test_a_request_without_body_or_query_has_nulls_like_api_gateway():
    event = asgi.to_event(_scope(), b"", "req-2")

    assert event["body"] is None and event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None


def test_binary_bodies_are_base64_encoded():
    event = asgi.to_event(_scope("POST"), b"\xff\xfe", "req-3")

    assert event["isBase64Encoded"] is True and event["body"] == "//4="


@pytest.mark.parametrize(("raw", "path"), [
    (b"/v1/predict", "/v1/predict"),
    (b"/v1/pre%64ict", "/v1/predict"),
    (b"/v1/predict%2fbatch", "/v1/predict%2Fbatch"),
    (b"/v1%2Fpredict%2Fbatch", "/v1%2Fpredict%2Fbatch"),
])
def test_encoded_slashes_stay_encoded_in_the_path(raw, path):
    assert asgi.event_path(raw) == path


def test_answers_equal_the_lambda_handler_and_carry_a_content_length():
    body = json.dumps(event_body("predict")).encode()
    scope = _scope("POST", "/v1/predict", headers=[("Content-Type", "application/json")])

    status, headers, payload = asyncio.run(_call(scope, _receiver(body[:50], body[50:])))

    assert status == 200
    assert json.loads(payload) == invoke(load_event("predict"))[1]
    assert headers[b"content-length"] == str(len(payload)).encode()
    assert headers[b"x-content-type-options"] == b"nosniff"


def test_every_answer_carries_its_own_request_id_the_one_a_500_names(monkeypatch):
    # Given a prediction core that fails in a way nobody planned for
    from lambda_fn.core.predictor import Predictor

    def broken(*args, **kwargs):
        raise RuntimeError("unplanned")

    body = json.dumps(event_body("predict")).encode()
    scope = _scope("POST", "/v1/predict", headers=[("Content-Type", "application/json")])
    _, healthy, _ = asyncio.run(_call(_scope(), _receiver(b"")))
    monkeypatch.setattr(Predictor, "price", broken)

    # When a client asks for a price
    status, headers, payload = asyncio.run(_call(scope, _receiver(body)))

    # Then the 500 names the id its answer carries, which no other answer had
    request_id = headers[b"x-request-id"].decode()
    assert status == 500 and request_id in json.loads(payload)["message"]
    assert uuid.UUID(request_id) and healthy[b"x-request-id"].decode() != request_id


def test_a_refused_body_also_carries_a_request_id(monkeypatch):
    monkeypatch.setattr(asgi, "MAX_BODY_BYTES", 10)
    scope = _scope("POST", "/v1/predict", headers=[("Content-Type", "application/json")])

    status, headers, _ = asyncio.run(_call(scope, _receiver(b"x" * 20)))

    assert status == 413 and uuid.UUID(headers[b"x-request-id"].decode())


def test_the_handler_runs_one_request_at_a_time_after_each_body_is_whole(monkeypatch):
    """Forty requests interleave their slow bodies on one loop; the handler (and so Powertools'
    resolver, which keeps request state on the app) is never entered twice at once, and each
    answer is the price of its own house."""
    inside, most = 0, 0
    guard = threading.Lock()
    real = asgi.http_handler

    def counting_handler(event, context):
        nonlocal inside, most
        with guard:
            inside += 1
            most = max(most, inside)
        try:
            return real(event, context)
        finally:
            with guard:
                inside -= 1

    monkeypatch.setattr(asgi, "http_handler", counting_handler)
    houses = [{**event_body("predict"), "sqft_living": 1500 + 10 * i, "sqft_above": 1500 + 10 * i,
               "sqft_basement": 0} for i in range(40)]
    expected = [invoke({**load_event("predict"), "body": json.dumps(h)})[1]["price"] for h in houses]
    scope = _scope("POST", "/v1/predict", headers=[("Content-Type", "application/json")])

    async def all_at_once():
        calls = []
        for house in houses:
            body = json.dumps(house).encode()
            calls.append(_call(dict(scope), _receiver(body[:30], body[30:90], body[90:], pause=0.001)))
        return await asyncio.gather(*calls)

    answers = asyncio.run(all_at_once())

    assert most == 1
    assert [json.loads(payload)["price"] for _, _, payload in answers] == expected


def test_a_body_too_slow_to_arrive_gets_408(monkeypatch):
    monkeypatch.setattr(asgi, "BODY_SECONDS", 0.05)
    scope = _scope("POST", "/v1/predict", headers=[("Content-Type", "application/json")])

    status, headers, payload = asyncio.run(_call(scope, _receiver(b"{", b"}", pause=0.2)))

    assert status == 408
    assert json.loads(payload)["details"][0]["field"] == "body"
    assert headers[b"connection"] == b"close"


def test_a_chunked_body_over_the_limit_gets_413_without_being_kept(monkeypatch):
    monkeypatch.setattr(asgi, "MAX_BODY_BYTES", 100)
    scope = _scope("POST", "/v1/predict/batch", headers=[("Content-Type", "application/json")])

    status, _, payload = asyncio.run(_call(scope, _receiver(b"x" * 60, b"x" * 60, b"x")))

    assert status == 413
    assert json.loads(payload)["error"] == "payload_too_large"


def test_a_malformed_content_length_gets_400():
    scope = _scope("POST", "/v1/predict", headers=[("Content-Length", "ten")])

    status, _, payload = asyncio.run(_call(scope, _receiver(b"")))

    assert status == 400 and "Content-Length" in json.loads(payload)["message"]


def test_a_worker_that_cannot_load_its_models_fails_startup(monkeypatch):
    def broken_store():
        raise RuntimeError("no trained models")

    monkeypatch.setattr(asgi, "get_model_store", broken_store)
    messages = [{"type": "lifespan.startup"}]
    sent = []

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    asyncio.run(asgi.application({"type": "lifespan"}, receive, send))

    assert sent == [{"type": "lifespan.startup.failed", "message": "no trained models"}]
