"""`make serve` end to end: the server on a real loopback socket, answered by the Lambda handler."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import urllib.error
import urllib.request
import uuid

import pytest

from tests.helpers import PROJECT_ROOT, event_body, invoke, load_event


def request(url, method="GET", body=None, content_type="application/json"):
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


def test_prediction_over_http_equals_the_in_process_handler(base_url):
    status, headers, body = request(f"{base_url}/v1/predict", "POST", event_body("predict"))

    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert body == invoke(load_event("predict"))[1]


def test_batch_and_minimal_over_http(base_url):
    batch_status, _, batch = request(f"{base_url}/v1/predict/batch?model=basic", "POST", event_body("predict_batch"))
    minimal_status, _, minimal = request(f"{base_url}/v1/predict/minimal?model=basic", "POST",
                                         event_body("predict_minimal"))

    assert batch_status == minimal_status == 200
    assert len(batch["predictions"]) == 5
    assert minimal["price"] == batch["predictions"][0]["price"]


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("POST", "/v1/predict", b'{"bedrooms": ', 400),
    ("POST", "/v1/predict", {"bedrooms": 3}, 422),
    ("POST", "/v1/predict?model=premium", event_body("predict"), 400),
    ("GET", "/v1/nothing-here", None, 404),
])
def test_errors_over_http(base_url, method, path, body, status):
    got, _, answer = request(f"{base_url}{path}", method, body)

    assert got == status
    assert answer["message"]


def test_a_chunked_request_body_is_priced(base_url):
    host, port = base_url.removeprefix("http://").split(":")
    body = json.dumps(event_body("predict")).encode()
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("POST", "/v1/predict?model=basic", body=iter([body[:100], body[100:]]),
                           headers={"Content-Type": "application/json"}, encode_chunked=True)
        response = connection.getresponse()
        answer = json.loads(response.read())
    finally:
        connection.close()

    assert response.status == 200
    assert answer["price"] == 396520.0


def test_swagger_ui_and_openapi_document_are_served(base_url):
    with urllib.request.urlopen(f"{base_url}/v1/swagger", timeout=10) as response:
        assert "swagger-ui" in response.read().decode().lower()
    status, _, document = request(f"{base_url}/v1/swagger?format=json")
    assert status == 200
    assert document["servers"] == [{"url": ""}] or all(s["url"] in ("", "/") for s in document["servers"])


def test_the_example_script_prices_all_100_future_houses(base_url):
    default = subprocess.run([sys.executable, "scripts/submit_examples.py", "--url", base_url], cwd=PROJECT_ROOT,
                             capture_output=True, text=True, timeout=120)
    basic = subprocess.run([sys.executable, "scripts/submit_examples.py", "--url", base_url, "--model", "basic",
                            "--batch"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)

    assert default.returncode == basic.returncode == 0, default.stderr + basic.stderr
    assert "100 of 100 houses priced" in default.stdout and "100 of 100 houses priced" in basic.stdout
    assert "2014-15" in default.stdout
    assert "80% range" in default.stdout  # the default model (gbm) gives every price a range
    assert "$396,520" in basic.stdout


def _connection(base_url: str) -> http.client.HTTPConnection:
    host, port = base_url.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=10)


@pytest.mark.parametrize("path", ["/v1/health", "/v1/nothing-here"])
def test_answers_name_no_server_forbid_sniffing_and_carry_a_request_id(base_url, path):
    _, headers, _ = request(f"{base_url}{path}")   # an answer and an error answer alike
    _, again, _ = request(f"{base_url}{path}")

    assert "Server" not in headers, dict(headers)
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert uuid.UUID(headers["X-Request-Id"]) != uuid.UUID(again["X-Request-Id"])


@pytest.mark.parametrize("path", ["/v1/predict%2fbatch", "/v1/predict%2Fbatch", "/v1%2Fpredict"])
def test_an_encoded_slash_does_not_route(base_url, path):
    status, _, body = request(f"{base_url}{path}", "POST", event_body("predict_batch"))

    assert status == 404, body


def test_one_kept_alive_connection_answers_many_requests(base_url):
    connection = _connection(base_url)
    body = json.dumps(event_body("predict")).encode()
    try:
        for _ in range(20):
            connection.request("POST", "/v1/predict", body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            assert response.status == 200
            assert response.getheader("Connection", "keep-alive").lower() != "close"
        # http.client reconnects silently when a server closes; one socket means it never did
        assert connection.sock is not None
    finally:
        connection.close()


def test_a_body_over_api_gateways_limit_is_refused_unread(base_url):
    connection = _connection(base_url)
    try:
        connection.putrequest("POST", "/v1/predict/batch")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(11 * 1024 * 1024))
        connection.endheaders()  # nothing of the 11 MB is sent
        response = connection.getresponse()
        answer = json.loads(response.read())
    finally:
        connection.close()

    assert response.status == 413
    assert answer["details"] == [{"field": "body", "problem": "must be at most 10485760 bytes"}]


def test_concurrent_distinct_houses_each_get_their_own_price(base_url):
    """Sixty requests at once over separate sockets, each a different house: every answer is the
    in-process price of the house it asked about (none lost, none swapped with another)."""
    from concurrent.futures import ThreadPoolExecutor

    houses = []
    for i in range(60):
        house = dict(event_body("predict"))
        house["sqft_living"] = 1200 + 25 * i
        house["sqft_above"] = house["sqft_living"]
        house["sqft_basement"] = 0
        houses.append(house)
    expected = [invoke({**load_event("predict"), "body": json.dumps(h)})[1]["price"] for h in houses]

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(lambda h: request(f"{base_url}/v1/predict", "POST", h), houses))

    assert [status for status, _, _ in answers] == [200] * 60
    assert [body["price"] for _, _, body in answers] == expected
