"""How long a newcomer waits: a fresh clone of HEAD, then ``make serve`` with an empty pip cache,
until the first priced answer (``make first-answer``).

    python -m scripts.first_answer [--keep]

Clones the committed HEAD into a temporary folder (uncommitted changes are not in it), points pip
at an empty cache (PIP_CACHE_DIR), runs ``make serve`` on a free loopback port, and prints the
seconds from the start of ``make`` to a 200 answer of ``POST /v1/predict`` with
``events/predict.json``, with the time ``pip`` and training took from make's own output. The
server is stopped and the clone deleted afterwards (``--keep`` keeps the clone).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scripts.container.loopback import HOST, free_port, request

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_SECONDS = 600


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="keep the clone (its path is printed)")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="first-answer-"))
    clone, cache = workdir / "clone", workdir / "pip-cache"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    port = free_port()
    env = {**os.environ, "PIP_CACHE_DIR": str(cache), "PORT": str(port), "HOST": HOST,
           "DATA_DIR": os.environ.get("DATA_DIR", str(ROOT.parent / "shared" / "data"))}
    env.pop("VIRTUAL_ENV", None)
    event = json.loads((ROOT / "events" / "predict.json").read_text())
    log = (workdir / "make-serve.log").open("w")
    started = time.monotonic()
    server = subprocess.Popen(["make", "serve"], cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        while time.monotonic() - started < TIMEOUT_SECONDS:
            if server.poll() is not None:
                raise RuntimeError(f"make serve exited with {server.returncode}; see {workdir / 'make-serve.log'}")
            try:
                status, _, body = request(f"http://{HOST}:{port}/v1/predict", "POST", event["body"].encode(),
                                          timeout=5)
            except OSError:
                status = None
            if status == 200:
                print(f"fresh clone of {ROOT.name} HEAD, empty pip cache: first priced answer after "
                      f"{time.monotonic() - started:.0f} s of `make serve` (price {body['price']:,.2f}, "
                      f"{body['model']['name']} {body['model']['version']})")
                return 0
            time.sleep(0.5)
        raise RuntimeError(f"no answer within {TIMEOUT_SECONDS} s; see {workdir / 'make-serve.log'}")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
        if args.keep:
            print(f"clone kept in {clone}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
