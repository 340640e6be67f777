"""HTTP speed of the real server on loopback (``make bench-http``), against the service's targets.

    python -m scripts.bench_http [--seconds 20] [--url http://127.0.0.1:3000]

Without ``--url`` it starts ``python -m lambda_fn.api.serve`` (2 workers) on a free loopback port.
Needs ``wrk`` (Debian/Ubuntu: ``apt-get install wrk``). Runs, one after another:
- throughput: ``wrk -t2 -c16`` of one-house ``POST /v1/predict`` (default model);
- sequential: one connection, one request at a time;
- beside batches: the same one-house load while one client sends 1,000-house batches back to back;
- slow clients: 200 idle connections and 50 slow-body senders held open while 1,000 valid requests
  are answered (``slow_client_run``, which the tests also run).
Each line prints the figure, its target and whether it is met; the exit code is 0 either way.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lambda_fn.core.features import HOUSE_COLUMNS
from scripts.local_server import running_server

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_EVENT = PROJECT_ROOT / "events" / "predict.json"
WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[%s]]
done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests": %%d, "seconds": %%f, "p50_ms": %%f, "p99_ms": %%f, "errors": %%d, "non2xx": %%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
"""


@dataclass
class Figures:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    non2xx: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def example_house() -> bytes:
    return json.loads(EXAMPLE_EVENT.read_text())["body"].encode()


def wrk(url: str, seconds: int, threads: int, connections: int) -> Figures:
    if shutil.which("wrk") is None:
        sys.exit("bench-http needs wrk on PATH (Debian/Ubuntu: apt-get install wrk)")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % example_house().decode())
    try:
        out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", script.name,
                              f"{url}/v1/predict"], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    return Figures(**json.loads(out.strip().splitlines()[-1]))


def _post(connection: http.client.HTTPConnection, path: str, body: bytes) -> int:
    connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    return response.status


def _connection(url: str, timeout: float = 30) -> http.client.HTTPConnection:
    host, port = url.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=timeout)


@contextmanager
def batches_back_to_back(url: str, houses: list[dict]) -> Iterator[list[int]]:
    """One client posting 1,000-house batches until the block ends; yields their statuses."""
    statuses: list[int] = []
    stop = threading.Event()
    body = json.dumps({"instances": houses}).encode()

    def send() -> None:
        connection = _connection(url)
        while not stop.is_set():
            statuses.append(_post(connection, "/v1/predict/batch", body))
        connection.close()

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    try:
        yield statuses
    finally:
        stop.set()
        thread.join(timeout=30)


@dataclass
class SlowClientRun:
    latencies_ms: list[float]
    failures: int
    held_open: int   # idle and slow connections still open when the valid requests had all been answered

    @property
    def p99_ms(self) -> float:
        return statistics.quantiles(self.latencies_ms, n=100)[98]


def slow_client_run(url: str, *, idle: int = 200, slow: int = 50, requests: int = 1000,
                    clients: int = 4) -> SlowClientRun:
    """Open ``idle`` connections that send nothing and ``slow`` that send a body a byte a second,
    then answer ``requests`` one-house requests from ``clients`` kept-alive connections."""
    host, port = url.removeprefix("http://").split(":")
    stop = threading.Event()
    with ExitStack() as stack:
        idle_sockets = [stack.enter_context(socket.create_connection((host, int(port)))) for _ in range(idle)]
        slow_sockets = [stack.enter_context(socket.create_connection((host, int(port)))) for _ in range(slow)]
        for s in slow_sockets:
            s.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 1000\r\n\r\n{")

        def trickle() -> None:
            while not stop.wait(1.0):
                for s in slow_sockets:
                    with contextlib.suppress(OSError):   # answered 408 and closed: the server's job
                        s.sendall(b" ")

        threading.Thread(target=trickle, daemon=True).start()
        latencies: list[float] = []
        failures = 0
        lock = threading.Lock()
        body = example_house()

        def client(count: int) -> None:
            nonlocal failures
            connection = _connection(url, timeout=10)
            for _ in range(count):
                started = time.perf_counter()
                try:
                    ok = _post(connection, "/v1/predict", body) == 200
                except OSError:
                    ok = False
                    connection.close()
                with lock:
                    latencies.append((time.perf_counter() - started) * 1000)
                    failures += not ok
            connection.close()

        threads = [threading.Thread(target=client, args=(requests // clients,)) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stop.set()
        held = sum(_still_open(s) for s in idle_sockets + slow_sockets)
    return SlowClientRun(latencies, failures, held)


def _still_open(s: socket.socket) -> bool:
    s.setblocking(False)
    try:
        return s.recv(1, socket.MSG_PEEK) != b""   # b"": closed by the server
    except BlockingIOError:
        return True   # nothing to read and not closed
    except OSError:
        return False


def _line(name: str, figure: str, target: str, met: bool) -> None:
    print(f"{name:<44} {figure:<40} target {target:<12} {'met' if met else 'MISSED'}")


def run(url: str, seconds: int) -> None:
    frame = pd.read_csv(Path(os.environ.get("DATA_DIR", PROJECT_ROOT.parent / "shared" / "data"))
                        / "future_unseen_examples.csv")[list(HOUSE_COLUMNS)]
    houses = json.loads(frame.to_json(orient="records"))   # whole numbers as JSON integers, as clients send
    batch = [houses[i % len(houses)] for i in range(1000)]
    wrk(url, 3, 2, 16)   # warm-up: both workers' first requests, caches
    load = wrk(url, seconds, 2, 16)
    _line("one house, wrk -t2 -c16: rate", f"{load.rate:,.0f} req/s", ">= 1,500", load.rate >= 1500)
    _line("one house, wrk -t2 -c16: p99", f"{load.p99_ms:.1f} ms (p50 {load.p50_ms:.1f} ms)", "<= 20 ms",
          load.p99_ms <= 20)
    _line("one house, wrk -t2 -c16: errors", f"{load.errors} socket, {load.non2xx} non-2xx", "0",
          load.errors + load.non2xx == 0)
    sequential = wrk(url, max(5, seconds // 2), 1, 1)
    _line("one house, sequential: p50", f"{sequential.p50_ms:.2f} ms ({sequential.rate:,.0f} req/s)", "<= 2 ms",
          sequential.p50_ms <= 2)
    with batches_back_to_back(url, batch) as statuses:
        beside = wrk(url, max(5, seconds // 2), 1, 4)
    answered = f"{statuses.count(200)} of {len(statuses)} batches answered 200"
    _line("one house beside 1,000-house batches: p99", f"{beside.p99_ms:.1f} ms ({answered})",
          "<= 50 ms", beside.p99_ms <= 50 and set(statuses) == {200})
    slow = slow_client_run(url)
    _line("1,000 requests beside 200 idle + 50 slow: p99", f"{slow.p99_ms:.1f} ms, {slow.failures} failed",
          "<= 100 ms", slow.p99_ms <= 100 and slow.failures == 0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server (default: start one on a free loopback port)")
    parser.add_argument("--seconds", type=int, default=20, help="length of the throughput run (default 20)")
    args = parser.parse_args(argv)
    print(f"{os.cpu_count()} cores; figures vary by machine and load: compare runs made together")
    if args.url:
        run(args.url.rstrip("/"), args.seconds)
    else:
        with running_server() as url:
            run(url, args.seconds)


if __name__ == "__main__":
    main()
