"""The HTTP server of ``make serve`` and the ECS task: uvicorn running ``lambda_fn.api.asgi``.

Environment (read once, at start):
    HOST, PORT          127.0.0.1:3000 locally; the ECS task sets 0.0.0.0:8080
    WEB_CONCURRENCY     worker processes (default: one per core); each loads the models itself
    KEEP_ALIVE_SECONDS  how long an idle kept-alive connection stays open (default 5; behind an
                        ALB it must outlast the ALB's 60 s idle timeout, so the task sets 65)
    MAX_CONNECTIONS     open connections per worker before new ones get 503 (default 1000)
    ACCESS_LOG          "1" prints uvicorn's access line per request (off: CloudWatch and the
                        ALB's own access logs already count requests, and the line costs time)
    LOG_PREDICTIONS     "1" logs the app's ``priced houses`` line per priced request
                        (``lambda_fn.settings``); off by default for the same reasons: the
                        ``Predictions`` metric counts them per model version, and the line took
                        about a tenth of a one-house request's time

    python -m lambda_fn.api.serve
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import uvicorn

APP = "lambda_fn.api.asgi:application"


def server_options(environ: Mapping[str, str] = os.environ) -> dict:
    """uvicorn.run's keyword arguments for this environment."""
    return {
        "host": environ.get("HOST", "127.0.0.1"),
        "port": int(environ.get("PORT", "3000")),
        "workers": int(environ.get("WEB_CONCURRENCY") or os.cpu_count() or 1),
        "timeout_keep_alive": int(environ.get("KEEP_ALIVE_SECONDS", "5")),
        "limit_concurrency": int(environ.get("MAX_CONNECTIONS", "1000")),
        "access_log": environ.get("ACCESS_LOG", "0") == "1",
        "server_header": False,   # no banner naming the server and its version
        "lifespan": "on",         # models load before the first request; startup failure stops the worker
        "http": "httptools",
        "loop": "uvloop",
        "timeout_graceful_shutdown": 30,
    }


def main() -> None:
    uvicorn.run(APP, **server_options())


if __name__ == "__main__":
    main()
