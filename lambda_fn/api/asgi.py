"""ASGI front door for ``make serve`` and the ECS task: each HTTP request, read whole, becomes the
API Gateway REST (payload v1) event Lambda would receive, answered by the same app as ``lambda_handler``
(``http_handler``).

Contract:
- The handler runs only after the whole body has arrived, on the event loop's one thread, one
  request at a time per process: idle and slow clients cost a socket, never the handler, and two
  requests never share the Powertools resolver (which keeps request state on the app) at once.
- Bodies over ``MAX_BODY_BYTES`` get 413 (API Gateway's limit), bodies that take longer than
  ``BODY_SECONDS`` to arrive get 408; both are JSON like every other error.
- Encoded slashes (``%2F``) stay encoded in the event's path, so they never route.
- At startup (ASGI lifespan) the process loads its models; with a registry it follows promotions
  in a background thread, so no request waits for a download or a smoke test.
- Metrics gather across requests and are flushed every ``METRICS_SECONDS`` and at shutdown, by
  the loop's thread (the one that adds them), rather than after every request as in Lambda.
- Every answer carries ``X-Request-Id``: the id its log lines carry as ``correlation_id`` and a
  500 names, so a client can quote it (API Gateway's documented ``x-amzn-RequestId`` carries that id there).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

from lambda_fn.api.errors import SECURITY_HEADERS
from lambda_fn.api.handler import http_handler
from lambda_fn.observability import flush_metrics, logger, write_whole_lines
from lambda_fn.registry.serving import get_model_store

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

MAX_BODY_BYTES = 10 * 1024 * 1024
BODY_SECONDS = 10.0   # a 10 MB body at 1 MB/s; a client slower than that is answered 408
METRICS_SECONDS = 60.0   # CloudWatch's standard resolution: one EMF document a minute, not one a request
STAGE = "local"
JSON_HEADERS = [(b"content-type", b"application/json"),
                *((name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items())]


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


class BodyRefused(Exception):
    def __init__(self, status: int, error: str, problem: str) -> None:
        super().__init__(problem)
        self.status, self.error, self.problem = status, error, problem


def event_path(raw_path: bytes) -> str:
    """The decoded path, except that ``%2F`` stays as written: ``/v1/predict%2Fbatch`` is one
    segment (no route), not ``/v1/predict/batch``."""
    path = raw_path.decode("latin-1")
    if "%" not in path:
        return path
    return "%2F".join(unquote(part) for part in path.replace("%2f", "%2F").split("%2F"))


def to_event(scope: Scope, body: bytes, request_id: str) -> dict[str, Any]:
    path = event_path(scope.get("raw_path") or scope["path"].encode())
    method = scope["method"]
    multi_headers: dict[str, list[str]] = {}
    for name, value in scope["headers"]:
        multi_headers.setdefault(name.decode("latin-1").title(), []).append(value.decode("latin-1"))
    query = parse_qs(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    text, is_base64 = _body_text(body)
    client = scope.get("client") or ("127.0.0.1", 0)
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
            "protocol": f"HTTP/{scope.get('http_version', '1.1')}",
            "requestId": request_id,
            "requestTimeEpoch": int(time.time() * 1000),
            "accountId": "000000000000",
            "apiId": "local",
            "identity": {"sourceIp": client[0], "userAgent": (multi_headers.get("User-Agent") or [None])[0]},
        },
        "body": text,
        "isBase64Encoded": is_base64,
    }


def _body_text(raw: bytes) -> tuple[str | None, bool]:
    if not raw:
        return None, False
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), True


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                raise BodyRefused(400, "bad_request", "Content-Length is not a number") from None
    return None


async def read_body(scope: Scope, receive: Receive) -> bytes:
    """The whole request body, or ``BodyRefused`` (413 too large, 408 too slow)."""
    length = _declared_length(scope)
    if length is not None and length > MAX_BODY_BYTES:
        raise BodyRefused(413, "payload_too_large", f"must be at most {MAX_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0

    async def receive_all() -> None:
        nonlocal size
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ConnectionResetError("client went away before sending its body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:   # a chunked body declares no length
                raise BodyRefused(413, "payload_too_large", f"must be at most {MAX_BODY_BYTES} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return

    try:
        async with asyncio.timeout(BODY_SECONDS):   # a timer on this task: no second task as wait_for makes
            await receive_all()
    except TimeoutError:
        raise BodyRefused(408, "request_timeout", f"must arrive within {BODY_SECONDS:g} seconds") from None
    return b"".join(chunks)


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], payload: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [*headers, (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


def _response_headers(response: dict[str, Any]) -> list[tuple[bytes, bytes]]:
    pairs = [(name.lower().encode(), str(value).encode()) for name, value in (response.get("headers") or {}).items()]
    single = {name for name, _ in pairs}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        if name.lower().encode() not in single:
            pairs.extend((name.lower().encode(), str(value).encode()) for value in values)
    return [(name, value) for name, value in pairs if name != b"content-length"]


async def _refuse(send: Send, refusal: BodyRefused, request_id: str) -> None:
    body = {"error": refusal.error, "message": f"body {refusal.problem}",
            "details": [{"field": "body", "problem": refusal.problem}]}
    await _send(send, refusal.status, [*JSON_HEADERS, (b"connection", b"close"), _request_id_header(request_id)],
                json.dumps(body).encode())


def _request_id_header(request_id: str) -> tuple[bytes, bytes]:
    return b"x-request-id", request_id.encode("ascii")


async def _flush_metrics_every(seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        flush_metrics()


async def _lifespan(receive: Receive, send: Send) -> None:
    flusher: asyncio.Task | None = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            write_whole_lines()   # each worker: its log and metric lines never interleave with another's
            try:
                get_model_store().refresh_in_background()
            except Exception as error:  # a process that cannot serve must not look healthy
                logger.exception("startup failed")
                await send({"type": "lifespan.startup.failed", "message": str(error)})
                return
            flusher = asyncio.create_task(_flush_metrics_every(METRICS_SECONDS))
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            get_model_store().stop_background_refresh()
            if flusher is not None:
                flusher.cancel()
            flush_metrics()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    request_id = str(uuid.uuid4())
    try:
        body = await read_body(scope, receive)
    except BodyRefused as refusal:
        await _refuse(send, refusal, request_id)
        return
    except ConnectionResetError:
        return
    # Synchronous on purpose: the loop's thread runs one handler at a time (see the module's contract).
    response = http_handler(to_event(scope, body, request_id), LocalContext(aws_request_id=request_id))
    text = response.get("body") or ""
    payload = base64.b64decode(text) if response.get("isBase64Encoded") else text.encode("utf-8")
    await _send(send, response["statusCode"], [*_response_headers(response), _request_id_header(request_id)], payload)
