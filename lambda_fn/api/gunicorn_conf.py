"""gunicorn settings for the local server (`make serve`) and the ECS task; overridable by env.

HOST/PORT: 127.0.0.1:3000 locally; the ECS task sets HOST=0.0.0.0 PORT=8080.
WEB_CONCURRENCY: worker processes, default one per core. Each worker loads the models once,
right after it starts (not on its first request, and not in the master before forking, since
OpenMP runtimes are not safe across fork).
"""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '3000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_class = "sync"
timeout = 30
graceful_timeout = 30
keepalive = 5
accesslog = "-"


def post_worker_init(worker):
    from lambda_fn.registry.serving import get_model_store

    get_model_store()
