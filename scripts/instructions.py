"""Instructions per request, counted by valgrind's callgrind (``make bench-instructions``).

    python -m scripts.instructions [part ...]    parts: lambda http health price asgi batch

Seconds on a shared 2-core machine move by up to 40% from one minute to the next; instruction
counts move by about 2%, so they decide between two versions of the code. Each part runs in
two fresh interpreters under callgrind, one answering ``FEW`` more requests than the other; the
difference divided by ``FEW`` is one request, without the imports and the model load. Needs
valgrind (Debian/Ubuntu: ``apt-get install valgrind``); a part takes one to three minutes.

The parts (``gbm``, ``events/predict.json``'s house):
    lambda  lambda_handler (Lambda's entry point)       http   http_handler (the HTTP server's)
    health  http_handler on GET /v1/health              price  Predictor.price alone
    asgi    the ASGI adapter around http_handler        batch  lambda_handler, 1,000 houses
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FEW = {"batch": 5}   # extra requests counted per part; 100 unless named here
PARTS = ("lambda", "http", "health", "price", "asgi", "batch")


def _event(name: str) -> dict:
    return json.loads((PROJECT_ROOT / "events" / f"{name}.json").read_text())


def _requests(part: str):
    """A function answering one request of ``part``."""
    from lambda_fn.api import asgi
    from lambda_fn.api.handler import http_handler, lambda_handler

    context = asgi.LocalContext(aws_request_id="count")
    predict = _event("predict")
    if part == "lambda":
        return lambda: lambda_handler(predict, context)
    if part == "http":
        return lambda: http_handler(predict, context)
    if part == "health":
        health = _event("health")
        return lambda: http_handler(health, context)
    if part == "price":
        from lambda_fn.registry.serving import get_model_store

        predictor, house = get_model_store().get(), json.loads(predict["body"])
        return lambda: predictor.price([house], datetime.date(2015, 5, 1))
    if part == "asgi":
        return lambda: _asgi_request(asgi.application, predict["body"].encode())   # awaited by _answer
    if part == "batch":
        house = json.loads(predict["body"])
        batch = {**_event("predict_batch"), "body": json.dumps({"instances": [house] * 1000})}
        return lambda: lambda_handler(batch, context)
    raise SystemExit(f"unknown part {part!r}; parts: {', '.join(PARTS)}")


async def _asgi_request(application, body: bytes) -> None:
    scope = {"type": "http", "method": "POST", "path": "/v1/predict", "raw_path": b"/v1/predict",
             "query_string": b"", "http_version": "1.1", "client": ("127.0.0.1", 1),
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]}

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        pass

    await application(scope, receive, send)


def _answer(part: str, count: int) -> None:
    """Inside callgrind: answer ``count`` requests of ``part`` after one warm-up request (the ASGI
    ones on one event loop, as a server worker runs them)."""
    request = _requests(part)
    if part == "asgi":
        async def all_requests() -> None:
            for _ in range(count + 1):
                await request()
        asyncio.run(all_requests())
        return
    for _ in range(count + 1):
        request()


def _collected(part: str, count: int, folder: Path) -> int:
    out = folder / f"{part}.{count}.out"
    run = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
                          "-m", "scripts.instructions", "--answer", part, str(count)],
                         cwd=PROJECT_ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONHASHSEED": "0"})
    found = re.search(r"Collected : (\d+)", run.stderr)
    if run.returncode != 0 or not found:
        raise SystemExit(f"callgrind failed for {part}: {run.stderr[-1500:]}")
    return int(found.group(1))


def count(part: str) -> float:
    """Instructions for one request of ``part``."""
    few = FEW.get(part, 100)
    with tempfile.TemporaryDirectory() as folder, ThreadPoolExecutor(2) as pool:
        base, more = pool.map(lambda n: _collected(part, n, Path(folder)), (1, 1 + few))
    return (more - base) / few


def main(argv: list[str]) -> None:
    if argv[:1] == ["--answer"]:
        _answer(argv[1], int(argv[2]))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("needs valgrind on PATH (Debian/Ubuntu: apt-get install valgrind)")
    for part in argv or PARTS:
        print(f"{part:<7} {count(part) / 1e6:10.2f} M instructions per request", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
