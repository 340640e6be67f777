"""`make serve` end to end: gunicorn on a real loopback socket, answered by the Lambda handler."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.helpers import PROJECT_ROOT, event_body, invoke, load_event


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def base_url():
    port = _free_port()
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": "2"}
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "lambda_fn/api/gunicorn_conf.py",
                                "lambda_fn.api.server:application"], cwd=PROJECT_ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/v1/health", timeout=2):
                    break
            except OSError:  # refused, reset or timed out while the workers start
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"gunicorn did not answer: {process.stderr.read().decode()[-2000:]}")
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def request(url, method="GET", body=None, content_type="application/json"):
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


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
