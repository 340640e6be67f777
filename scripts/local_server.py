"""The real server (``python -m lambda_fn.api.serve``, as ``make serve`` and the ECS task run it)
on a free loopback port, for benchmarks and tests that talk to it over sockets."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scripts.container.loopback import free_port

PROJECT_ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 90


@contextmanager
def running_server(**environment: str) -> Iterator[str]:
    """The base URL once /v1/health answers (2 workers unless ``WEB_CONCURRENCY`` says otherwise);
    the server is stopped and waited for on exit. Raises RuntimeError with the server's last
    output if it does not answer within ``START_SECONDS``."""
    port = free_port()
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": "2", **environment}
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen([sys.executable, "-m", "lambda_fn.api.serve"], cwd=PROJECT_ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=output)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_SECONDS
            while True:
                try:
                    urllib.request.urlopen(f"{url}/v1/health", timeout=2).close()
                    break
                except OSError:  # refused, reset or timed out while the workers start
                    if process.poll() is not None or time.monotonic() > deadline:
                        output.seek(0)
                        raise RuntimeError(f"the server did not answer: {output.read().decode()[-2000:]}") from None
                    time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=40)
