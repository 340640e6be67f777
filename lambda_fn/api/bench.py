"""Warm in-process speed of every served model through the real Lambda handler, and the cold start.

    python -m lambda_fn.api.bench                        # every model under MODEL_DIR
    python -m lambda_fn.api.bench --calls 2000 --model gbm

Per model: p50 and p99 of one house (``events/predict.json`` with ``?model=NAME``), of one
explained house (``events/predict_explain.json``, models that explain) and of a 1,000-house
batch (the client's 100 future houses ten times) through ``lambda_handler``, beside
the prediction core alone (``Predictor.price``) on the same input: the difference is what the
framework costs (event parsing, validation, serialisation, logs, metrics, traces). Powertools'
log and metric lines, which Lambda would ship to CloudWatch, go to a sink, so they cost what
they cost without flooding the terminal.

The cold start is timed in fresh interpreters: ``import lambda_fn.api.handler``, then the model
store (the default model loaded and smoke-tested), as a Lambda environment does before its first
answer. Exits 1 if the default model misses a target.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import csv
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from lambda_fn.api.asgi import LocalContext
from lambda_fn.api.handler import lambda_handler
from lambda_fn.api.schemas import House
from lambda_fn.core.market import today
from lambda_fn.observability import logger
from lambda_fn.registry.serving import get_model_store

PROJECT_ROOT = Path(__file__).resolve().parents[2]
EVENTS = PROJECT_ROOT / "events"
FUTURE_FILE = "future_unseen_examples.csv"
ONE_HOUSE_TARGET_MS = 0.6
BATCH_TARGET_MS = 60.0
BATCH_SIZE = 1000
EXPLAIN_TARGET_MS = 25.0


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


def future_houses() -> list[dict]:
    """The client's 100 future houses as JSON clients send them (``DATA_DIR`` or ../shared/data)."""
    folder = Path(os.environ.get("DATA_DIR", PROJECT_ROOT.parent / "shared" / "data"))
    with (folder / FUTURE_FILE).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [House.model_validate({k: v if k == "zipcode" else float(v) for k, v in row.items()}).model_dump()
            for row in rows]


def thousand_houses() -> list[dict]:
    houses = future_houses()
    return (houses * (BATCH_SIZE // len(houses) + 1))[:BATCH_SIZE]


def timings_ms(whole: Callable[[], object], part: Callable[[], object], calls: int,
               warmup: int = 20) -> tuple[list[float], list[float]]:
    """Milliseconds of each call of ``whole`` (the handler) and of ``part`` (the core on the same
    input), taken in turn, so that both see the same machine: its speed here moves by up to 40%
    from one minute to the next, which would otherwise land in the difference between them."""
    for _ in range(warmup):
        whole()
        part()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(calls):
        for call, spent in ((whole, times[0]), (part, times[1])):
            start = time.perf_counter()
            call()
            spent.append((time.perf_counter() - start) * 1000)
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
    one_event = with_model(json.loads((EVENTS / "predict.json").read_text()), name)
    one_house = [json.loads(one_event["body"])]
    houses = thousand_houses()
    batch = batch_event(json.loads((EVENTS / "predict_batch.json").read_text()), houses, name)
    predictor = get_model_store().get(name)
    day = today()
    one, one_core = timings_ms(invoke(one_event), lambda: predictor.price(one_house, day), calls)
    many, many_core = timings_ms(invoke(batch), lambda: predictor.price(houses, day), batch_calls, warmup=2)
    explained = {}
    if predictor.explains:
        explain, explain_core = timings_ms(
            invoke(with_model(json.loads((EVENTS / "predict_explain.json").read_text()), name)),
            lambda: predictor.explain(one_house, day), max(1, calls // 4))
        explained = {"explain_p50": statistics.median(explain), "explain_p99": percentile(explain, 0.99),
                     "explain_core_p50": statistics.median(explain_core)}
    return {**explained, "one_p50": statistics.median(one), "one_p99": percentile(one, 0.99),
            "one_core_p50": statistics.median(one_core),
            "batch_p50": statistics.median(many), "batch_p99": percentile(many, 0.99),
            "batch_core_p50": statistics.median(many_core)}


COLD_START_SCRIPT = """
import json, time
started = time.perf_counter()
import lambda_fn.api.handler
imported = time.perf_counter()
from lambda_fn.registry.serving import get_model_store
get_model_store()
loaded = time.perf_counter()
print(json.dumps({"import_ms": (imported - started) * 1000, "load_ms": (loaded - imported) * 1000}))
"""


def cold_start_ms(runs: int) -> dict[str, float]:
    """Median import and model-load times over ``runs`` fresh interpreters."""
    samples = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", COLD_START_SCRIPT], capture_output=True, text=True, check=True,
                              cwd=PROJECT_ROOT)
        samples.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {key: statistics.median(s[key] for s in samples) for key in ("import_ms", "load_ms")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", help="bench only these models (default: every one served)")
    parser.add_argument("--calls", type=int, default=2000, help="one-house calls per model")
    parser.add_argument("--batch-calls", type=int, default=50, help="1,000-house calls per model")
    parser.add_argument("--cold-runs", type=int, default=5, help="fresh interpreters for the cold start (0: skip)")
    args = parser.parse_args(argv)

    sink = io.StringIO()
    log_stream = logger.registered_handler.setStream(sink)
    with contextlib.redirect_stdout(sink):  # Powertools metric lines
        store = get_model_store()
        # The default model first, in a process that has loaded nothing else, as a Lambda
        # environment serves it; the others after it.
        names = args.model or sorted(store.names(), key=lambda name: name != store.default)
        results = {}
        for name in names:
            results[name] = bench_model(name, args.calls, args.batch_calls)
            sink.seek(0)
            sink.truncate()
    logger.registered_handler.setStream(log_stream)
    if args.cold_runs:
        cold = cold_start_ms(args.cold_runs)
        print(f"cold start, in process (median of {args.cold_runs} fresh interpreters): import "
              f"{cold['import_ms']:.0f} ms + load the default model {cold['load_ms']:.0f} ms = "
              f"{cold['import_ms'] + cold['load_ms']:.0f} ms")
    print(f"warm, in process, {len(os.sched_getaffinity(0))} cores, through lambda_handler; targets for the default "
          f"model: one house p50 <= {ONE_HOUSE_TARGET_MS:g} ms, {BATCH_SIZE:,} houses p50 <= {BATCH_TARGET_MS:g} ms")
    print(f"{'model':8s} {'version':28s} {'1 house p50':>12s} {'p99':>8s} {'(model':>8s} {'framework)':>10s} "
          f"{'1,000 p50':>10s} {'p99':>8s} {'(model':>8s} {'framework)':>10s}")
    failed = False
    for name, r in results.items():
        if name == store.default:
            failed = r["one_p50"] > ONE_HOUSE_TARGET_MS or r["batch_p50"] > BATCH_TARGET_MS
        print(f"{name:8s} {store.version_of(name):28s} {r['one_p50']:9.3f} ms {r['one_p99']:5.2f} ms "
              f"{r['one_core_p50']:5.3f} ms {r['one_p50'] - r['one_core_p50']:7.3f} ms "
              f"{r['batch_p50']:7.1f} ms {r['batch_p99']:5.1f} ms {r['batch_core_p50']:5.1f} ms "
              f"{r['batch_p50'] - r['batch_core_p50']:7.1f} ms")
    for name, r in results.items():
        if "explain_p50" in r:
            print(f"{name:8s} explain one house (target p50 <= {EXPLAIN_TARGET_MS:g} ms): "
                  f"p50 {r['explain_p50']:.2f} ms, p99 {r['explain_p99']:.2f} ms "
                  f"(model {r['explain_core_p50']:.2f} ms, framework "
                  f"{r['explain_p50'] - r['explain_core_p50']:.2f} ms)")
            failed |= name == store.default and r["explain_p50"] > EXPLAIN_TARGET_MS
    if store.default in results:
        print(f"default model {store.default}: {'meets the targets' if not failed else 'MISSES A TARGET'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
