"""A stand-in for API Gateway with an API key required, on loopback: the page and its assets
(``PUBLIC_ROUTES``, as the stack deploys them) pass without a key; any other request passes only
with ``x-api-key: KEY`` and is otherwise answered 403 ``{"message": "Forbidden"}``, API Gateway's
own body. Each request is recorded with the key it carried."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.error import HTTPError
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

from lambda_fn.api.routes import PUBLIC_ROUTES
from scripts.container.loopback import HOST

KEY = "test-key-not-a-secret"
FORWARDED_HEADERS = ("Content-Type", "Accept", "x-api-key")
ANSWERED_HEADERS = ("Content-Type", "Cache-Control", "Content-Security-Policy", "X-Content-Type-Options", "Location")


@dataclass
class Seen:
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)   # (method, path, x-api-key)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(upstream: str, seen: Seen) -> type[BaseHTTPRequestHandler]:
    class Gateway(BaseHTTPRequestHandler):
        def _pass(self) -> None:
            path = urlsplit(self.path).path
            key = self.headers.get("x-api-key")
            with seen.lock:
                seen.requests.append((self.command, path, key))
            if (self.command, path) not in PUBLIC_ROUTES and key != KEY:
                self._answer(403, {"Content-Type": "application/json"}, b'{"message":"Forbidden"}')
                return
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(upstream + self.path, data=self.rfile.read(length) if length else None,
                              method=self.command,
                              headers={name: self.headers[name] for name in FORWARDED_HEADERS if self.headers[name]})
            try:
                with urlopen(request, timeout=30) as response:
                    self._answer(response.status, response.headers, response.read())
            except HTTPError as error:
                self._answer(error.code, error.headers, error.read())

        def _answer(self, status: int, headers, body: bytes) -> None:
            self.send_response(status)
            for name in ANSWERED_HEADERS:
                if headers.get(name):
                    self.send_header(name, headers[name])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _pass

        def log_message(self, format: str, *args) -> None:   # quiet: the test reads Seen instead
            pass

    return Gateway


@dataclass(frozen=True)
class KeyGateway:
    url: str
    seen: Seen


@contextmanager
def running_key_gateway(upstream: str) -> Iterator[KeyGateway]:
    """The stand-in on a free loopback port, forwarding to ``upstream``, until the block ends."""
    seen = Seen()
    server = ThreadingHTTPServer((HOST, 0), _handler(upstream, seen))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield KeyGateway(url=f"http://{HOST}:{server.server_address[1]}", seen=seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
