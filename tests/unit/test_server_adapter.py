"""The WSGI adapter turns HTTP requests into API Gateway REST events and back, faithfully."""

from __future__ import annotations

import io
import json

from lambda_fn.api import server
from tests.helpers import event_body


def _environ(method="GET", path="/v1/health", query="", body=b"", **headers):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "SERVER_PROTOCOL": "HTTP/1.1",
               "REMOTE_ADDR": "127.0.0.1", "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
    for name, value in headers.items():
        key = name.upper()
        environ[key if key in ("CONTENT_TYPE",) else f"HTTP_{key}"] = value
    return environ


def _call(environ):
    captured = {}

    def start_response(status, headers):
        captured["status"], captured["headers"] = status, headers

    body = b"".join(server.application(environ, start_response))
    return captured["status"], dict(captured["headers"]), body


def test_request_becomes_a_rest_event_with_headers_query_and_body():
    environ = _environ("POST", "/v1/predict", "model=basic&tag=a&tag=b", b'{"a": 1}',
                       CONTENT_TYPE="application/json", X_API_KEY="k", USER_AGENT="curl/8, like that")

    event = server.to_event(environ, b'{"a": 1}', "req-1")

    assert event["httpMethod"] == "POST" and event["path"] == "/v1/predict"
    assert event["headers"]["Content-Type"] == "application/json"
    assert event["headers"]["X-Api-Key"] == "k"
    assert event["multiValueHeaders"]["User-Agent"] == ["curl/8, like that"]
    assert event["queryStringParameters"] == {"model": "basic", "tag": "b"}
    assert event["multiValueQueryStringParameters"]["tag"] == ["a", "b"]
    assert event["body"] == '{"a": 1}' and event["isBase64Encoded"] is False
    assert event["requestContext"]["requestId"] == "req-1"
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"


def test_a_request_without_body_or_query_has_nulls_like_api_gateway():
    event = server.to_event(_environ(), b"", "req-2")

    assert event["body"] is None
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None


def test_binary_bodies_are_base64_encoded():
    event = server.to_event(_environ("POST", body=b"\xff\xfe"), b"\xff\xfe", "req-3")

    assert event["isBase64Encoded"] is True
    assert event["body"] == "//4="


def test_responses_keep_status_headers_and_json_body():
    house = json.dumps(event_body("predict")).encode()

    status, headers, body = _call(_environ("POST", "/v1/predict", "model=basic", body=house,
                                           CONTENT_TYPE="application/json"))

    assert status == "200 OK"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["price"] == 396520.0  # the query string reached the handler


def test_error_statuses_pass_through_with_their_reason_phrase():
    assert _call(_environ("GET", "/nowhere"))[0] == "404 Not Found"
    bad = _call(_environ("POST", "/v1/predict", body=b"{", CONTENT_TYPE="application/json"))
    assert bad[0] == "400 Bad Request"
    assert json.loads(bad[2])["error"] == "malformed_json"


def test_bodies_over_10_mb_are_refused_unread_like_api_gateway():
    environ = _environ("POST", "/v1/predict/batch", CONTENT_TYPE="application/json")
    environ["CONTENT_LENGTH"] = str(server.MAX_BODY_BYTES + 1)
    environ["wsgi.input"] = None  # reading it would fail the test

    status, _, body = _call(environ)

    assert status == "413 Payload Too Large"
    assert json.loads(body)["details"][0]["field"] == "body"


def test_a_body_without_content_length_is_read_to_its_end():
    house = json.dumps(event_body("predict")).encode()
    environ = _environ("POST", "/v1/predict", "model=basic", body=house, CONTENT_TYPE="application/json")
    del environ["CONTENT_LENGTH"]  # what gunicorn passes for a chunked request

    status, _, body = _call(environ)

    assert status == "200 OK"
    assert json.loads(body)["price"] == 396520.0
