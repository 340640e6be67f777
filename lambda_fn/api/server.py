"""WSGI front door: each HTTP request becomes the API Gateway REST (payload v1) event Lambda would
receive, answered by the same ``lambda_handler``. Used by ``make serve`` and the ECS task
(gunicorn ``lambda_fn.api.server:application``), so local, Lambda and ECS behave identically.

No maintained library does this direction (apig-wsgi and Mangum translate events *to* WSGI/ASGI
apps; Powertools' HttpResolverLocal is a different resolver), so the adapter is kept small and
tested end to end: headers, query strings, text and binary bodies, status
codes and response headers.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from lambda_fn.api.handler import lambda_handler

# API Gateway refuses bodies over 10 MB before Lambda sees them; so does this adapter.
MAX_BODY_BYTES = 10 * 1024 * 1024
STAGE = "local"


@dataclass
class LocalContext:
    """The parts of the Lambda context object that Powertools reads."""

    aws_request_id: str
    function_name: str = "price-service-local"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 0
    invoked_function_arn: str = "arn:aws:lambda:local:000000000000:function:price-service-local"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _headers(environ: dict[str, Any]) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").title()
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            name = key.replace("_", "-").title()
        else:
            continue
        # A WSGI server has already joined repeated headers with ", "; splitting them again would
        # break values that contain commas (dates), so each header keeps its one joined value.
        headers[name] = [value]
    return headers


def _body(raw: bytes) -> tuple[str | None, bool]:
    if not raw:
        return None, False
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), True


def to_event(environ: dict[str, Any], raw_body: bytes, request_id: str) -> dict[str, Any]:
    path = environ.get("PATH_INFO") or "/"
    method = environ["REQUEST_METHOD"]
    multi_headers = _headers(environ)
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    body, is_base64 = _body(raw_body)
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {name: ", ".join(values) for name, values in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {name: values[-1] for name, values in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            # Like SAM local or a custom domain: no stage prefix, so OpenAPI links point here.
            "path": path,
            "stage": STAGE,
            "protocol": environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "requestId": request_id,
            "requestTimeEpoch": int(time.time() * 1000),
            "accountId": "000000000000",
            "apiId": "local",
            "identity": {"sourceIp": environ.get("REMOTE_ADDR", "127.0.0.1"),
                         "userAgent": environ.get("HTTP_USER_AGENT")},
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


def _response_headers(response: dict[str, Any]) -> list[tuple[str, str]]:
    pairs = [(name, str(value)) for name, value in (response.get("headers") or {}).items()]
    single = {name.lower() for name, _ in pairs}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        if name.lower() not in single:
            pairs.extend((name, str(value)) for value in values)
    return pairs


def _too_large(start_response: Callable) -> Iterable[bytes]:
    body = json.dumps({"error": "payload_too_large", "message": f"request body over {MAX_BODY_BYTES} bytes",
                       "details": [{"field": "body", "problem": f"must be at most {MAX_BODY_BYTES} bytes"}]})
    start_response("413 Payload Too Large", [("Content-Type", "application/json")])
    return [body.encode()]


def _read_body(environ: dict[str, Any]) -> bytes | None:
    """The request body, or None when it is over MAX_BODY_BYTES (then left unread)."""
    length = environ.get("CONTENT_LENGTH")
    if length:
        return environ["wsgi.input"].read(int(length)) if int(length) <= MAX_BODY_BYTES else None
    # No Content-Length: a chunked body (gunicorn decodes it) or none at all; read to the limit.
    raw = environ["wsgi.input"].read(MAX_BODY_BYTES + 1)
    return raw if len(raw) <= MAX_BODY_BYTES else None


def application(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
    raw_body = _read_body(environ)
    if raw_body is None:
        return _too_large(start_response)
    request_id = str(uuid.uuid4())
    response = lambda_handler(to_event(environ, raw_body, request_id), LocalContext(aws_request_id=request_id))
    body = response.get("body") or ""
    payload = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode("utf-8")
    status = HTTPStatus(response["statusCode"])
    start_response(f"{status.value} {status.phrase}", _response_headers(response))
    return [payload]
