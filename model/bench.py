"""Warm in-process speed of every served model, through the real Lambda handler.

    python -m model.bench                       # every model under MODEL_DIR (default model/artifacts)
    python -m model.bench --calls 2000 --model gbm

Per model: p50 and p99 of one house (``events/predict.json`` with ``?model=NAME``) through
``lambda_fn.handler.lambda_handler``, and of a 1,000-house batch (the batch event's route,
``?model=NAME``), plus the prediction core alone for the same batch. Targets (issue 5): one house
p50 under 5 ms, 1,000 houses under 100 ms. Powertools' log and metric lines, which Lambda would
ship to CloudWatch, are written to a sink here so they cost what they cost without flooding the
terminal. Exits 1 if a model misses a target.

It also times the in-process cold start in fresh interpreters: ``import lambda_fn.handler``, then
loading every model (``get_model_store()``), as a Lambda environment does before its first answer.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from lambda_fn.handler import lambda_handler
from lambda_fn.model_store import get_model_store
from lambda_fn.observability import logger
from lambda_fn.server import LocalContext
from model import data

EVENTS = data.PROJECT_ROOT / "events"
ONE_HOUSE_TARGET_MS = 5.0
BATCH_TARGET_MS = 100.0
BATCH_SIZE = 1000


def with_model(event: dict, model: str) -> dict:
    event = copy.deepcopy(event)
    event["queryStringParameters"] = {**(event.get("queryStringParameters") or {}), "model": model}
    event["multiValueQueryStringParameters"] = {**(event.get("multiValueQueryStringParameters") or {}),
                                                "model": [model]}
    return event


def batch_event(template: dict, houses: list[dict], model: str) -> dict:
    event = with_model(template, model)
    event["body"] = json.dumps({"instances": houses})
    return event


def thousand_houses() -> list[dict]:
    """The client's 100 future houses, ten times over, as JSON clients send them."""
    houses = json.loads(data.load_future_examples().to_json(orient="records"))
    for house in houses:
        house["zipcode"] = int(house["zipcode"])
    return (houses * (BATCH_SIZE // len(houses) + 1))[:BATCH_SIZE]


def timings_ms(call: Callable[[], object], calls: int, warmup: int = 20) -> list[float]:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return times


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def invoke(event: dict) -> Callable[[], dict]:
    context = LocalContext(aws_request_id="bench")

    def call() -> dict:
        response = lambda_handler(event, context)
        if response["statusCode"] != 200:
            raise RuntimeError(f"handler answered {response['statusCode']}: {response['body'][:300]}")
        return response
    return call


def bench_model(name: str, calls: int, batch_calls: int) -> dict[str, float]:
    one = timings_ms(invoke(with_model(json.loads((EVENTS / "predict.json").read_text()), name)), calls)
    houses = thousand_houses()
    batch = timings_ms(invoke(batch_event(json.loads((EVENTS / "predict_batch.json").read_text()), houses, name)),
                       batch_calls, warmup=2)
    predictor = get_model_store().get(name)
    core = timings_ms(lambda: predictor.predict(houses), batch_calls, warmup=2)
    return {"one_p50": statistics.median(one), "one_p99": percentile(one, 0.99),
            "batch_p50": statistics.median(batch), "batch_p99": percentile(batch, 0.99),
            "core_batch_p50": statistics.median(core)}


COLD_START_SCRIPT = """
import json, time
started = time.perf_counter()
import lambda_fn.handler
imported = time.perf_counter()
from lambda_fn.model_store import get_model_store
get_model_store()
loaded = time.perf_counter()
print(json.dumps({"import_ms": (imported - started) * 1000, "load_ms": (loaded - imported) * 1000}))
"""


def cold_start_ms(runs: int) -> dict[str, float]:
    """Median import and model-load times over ``runs`` fresh interpreters."""
    samples = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", COLD_START_SCRIPT], capture_output=True, text=True, check=True,
                              cwd=data.PROJECT_ROOT)
        samples.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {key: statistics.median(s[key] for s in samples) for key in ("import_ms", "load_ms")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", help="bench only these models (default: every one served)")
    parser.add_argument("--calls", type=int, default=1000, help="one-house calls per model")
    parser.add_argument("--batch-calls", type=int, default=50,
                        help="1,000-house calls per model (50: a steadier p50 than 20)")
    parser.add_argument("--cold-runs", type=int, default=5, help="fresh interpreters for the cold start (0: skip)")
    args = parser.parse_args(argv)

    sink = io.StringIO()
    log_stream = logger.registered_handler.setStream(sink)
    with contextlib.redirect_stdout(sink):  # Powertools metric lines
        store = get_model_store()
        names = args.model or store.names()
        results = {}
        for name in names:
            results[name] = bench_model(name, args.calls, args.batch_calls)
            sink.seek(0)
            sink.truncate()
    logger.registered_handler.setStream(log_stream)
    if args.cold_runs:
        cold = cold_start_ms(args.cold_runs)
        print(f"cold start, in process (median of {args.cold_runs} fresh interpreters): import "
              f"{cold['import_ms']:.0f} ms + load every model {cold['load_ms']:.0f} ms = "
              f"{cold['import_ms'] + cold['load_ms']:.0f} ms")
    print(f"warm, in process, {len(os.sched_getaffinity(0))} cores; targets: one house p50 < "
          f"{ONE_HOUSE_TARGET_MS:g} ms, {BATCH_SIZE:,} houses < {BATCH_TARGET_MS:g} ms")
    print(f"{'model':8s} {'version':28s} {'1 house p50':>12s} {'p99':>8s} {'1,000 p50':>10s} {'p99':>8s} "
          f"{'core 1,000':>11s}  verdict")
    failed = False
    for name, r in results.items():
        ok = r["one_p50"] < ONE_HOUSE_TARGET_MS and r["batch_p50"] < BATCH_TARGET_MS
        failed |= not ok
        print(f"{name:8s} {store.get(name).version:28s} {r['one_p50']:9.2f} ms {r['one_p99']:5.2f} ms "
              f"{r['batch_p50']:7.1f} ms {r['batch_p99']:5.1f} ms {r['core_batch_p50']:8.1f} ms  "
              f"{'meets targets' if ok else 'MISSES TARGETS'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
