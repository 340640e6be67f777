"""HTTP on 127.0.0.1 only: free ports, bounded waits and JSON requests (standard library)."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from email.message import Message
from typing import Any
from urllib.parse import urlsplit

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _loopback_only(url: str) -> None:
    if urlsplit(url).hostname != HOST:
        raise ValueError(f"{url}: the container tier only talks to {HOST}")


def request(url: str, method: str = "GET", body: Any = None, *, timeout: float = 30.0,
            headers: dict[str, str] | None = None) -> tuple[int, Message, Any]:
    """(status, headers (names case-insensitive, as in HTTP), JSON body or text); HTTP errors are
    answers, not exceptions."""
    _loopback_only(url)
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    req = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            status, response_headers, payload = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, response_headers, payload = error.code, error.headers, error.read()
    text = payload.decode("utf-8", errors="replace")
    try:
        return status, response_headers, json.loads(text)
    except ValueError:
        return status, response_headers, text


def wait_for(probe: Callable[[], Any], *, timeout: float, interval: float = 0.05,
             alive: Callable[[], bool] = lambda: True, what: str = "the service") -> Any:
    """Call ``probe`` until it returns a truthy value without raising OSError; bounded by ``timeout``."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = probe()
            if result:
                return result
        except OSError as error:  # refused / reset while it starts
            last_error = error
        if not alive():
            raise RuntimeError(f"{what} stopped before it answered (last error: {last_error})")
        time.sleep(interval)
    raise TimeoutError(f"{what} did not answer within {timeout:.0f} s (last error: {last_error})")
