"""Cold start and warm latency of the Lambda image through the Runtime Interface Emulator
(``make bench-container``).

    python -m scripts.container.bench [--cold-runs 3] [--warm 200] [--cpus 0.58] [--no-build]
    python -m scripts.container.bench --memory-sizes 1024 1769 3008 [--no-build]   # cold starts only

Cold start: from ``docker run`` of a fresh container (RIE + the image's own entrypoint and
handler) to the first answer of a real prediction, the way Lambda's first request after a
deploy or scale-out sees it, minus the image download. Warm: the same invoke, repeated on the
running container, for one house (events/predict.json) and a batch (events/predict_batch.json).
Timed on the client side over 127.0.0.1, so the RIE's HTTP hop is included. The RIE is the one
bundled with the SAM CLI (samcli/local/rapid/aws-lambda-rie-x86_64), mounted read-only, listening
on 127.0.0.1 (host network). ``--cpus`` caps the container's CPU like a Lambda memory size does
(1,769 MB = 1 vCPU; the function's 1,024 MB is about 0.58); without it the container may use
every core of this machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scripts.container import image
from scripts.container.loopback import HOST, free_port, request, wait_for
from scripts.container.toolchain import (
    ROOT,
    container_logs,
    detached_container,
    ensure_sam,
    run,
    sam_package_dir,
    toolchain,
    unique_name,
)

EVENTS = ROOT / "events"
REPORT = ROOT / "reports" / "container-bench.json"
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
RIE_IN_IMAGE = "/usr/local/bin/aws-lambda-rie"  # the AWS base image ships one; the stand-in does not


def rie_binary() -> Path | None:
    """The RIE bundled with the SAM CLI (None: use the image's own, as the AWS base has one)."""
    try:
        ensure_sam()
    except RuntimeError:  # no SAM CLI: fine on the AWS base image, which carries its own RIE
        return None
    package = sam_package_dir()
    candidate = package / "local" / "rapid" / "aws-lambda-rie-x86_64" if package else None
    return candidate if candidate and candidate.is_file() else None


def rie_arguments(rie: Path | None, api_port: int, runtime_port: int, cmd: list[str], cpus: float | None
                  ) -> tuple[list[str], list[str]]:
    """(docker run arguments, container command) for the image under the RIE on 127.0.0.1."""
    args = ["--entrypoint", "/rie" if rie else RIE_IN_IMAGE]
    if rie:
        args += ["--volume", f"{rie}:/rie:ro"]
    if cpus:
        args += ["--cpus", f"{cpus:g}"]
    command = ["--runtime-interface-emulator-address", f"{HOST}:{api_port}",
               "--runtime-api-address", f"{HOST}:{runtime_port}", "/lambda-entrypoint.sh", *cmd]
    return args, command


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


@dataclass
class Latency:
    count: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, seconds: list[float]) -> Latency:
        ms = [s * 1000 for s in seconds]
        return cls(len(ms), round(statistics.median(ms), 2), round(_percentile(ms, 0.9), 2),
                   round(_percentile(ms, 0.99), 2), round(max(ms), 2))


@dataclass
class ColdStart:
    to_first_answer_ms: float  # docker run -> first answer (the cold start a client sees)
    docker_run_ms: float  # docker run -> container started (the RIE is up soon after)
    init_ms: float | None  # the RIE's INIT REPORT: runtime start + handler module import
    first_invoke_ms: float | None  # the RIE's first INVOKE RTDONE: model load + first prediction


@dataclass
class BenchResult:
    image: str
    base_image: str
    cpus: str
    machine: str
    cold: list[ColdStart] = field(default_factory=list)
    warm: dict[str, Latency] = field(default_factory=dict)
    first_answer: dict[str, Any] = field(default_factory=dict)

    @property
    def cold_median_ms(self) -> float:
        return statistics.median(c.to_first_answer_ms for c in self.cold)


def _invoke(url: str, event: dict[str, Any]) -> dict[str, Any]:
    status, _, answer = request(url, "POST", event, timeout=60)
    if status != 200 or not isinstance(answer, dict) or "statusCode" not in answer:
        raise RuntimeError(f"the RIE answered {status}: {str(answer)[:500]}")
    return answer


def _rie_report(logs: str) -> tuple[float | None, float | None]:
    init = re.search(r"INIT REPORT\(durationMs: ([0-9.]+)\)", logs)
    first = re.search(r"INVOKE RTDONE\(status: \w+, produced bytes: \d+, duration: ([0-9.]+)ms\)", logs)
    return (float(init.group(1)) if init else None), (float(first.group(1)) if first else None)


def _load(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def cold_start(image_tag: str, rie: Path | None, cmd: list[str], cpus: float | None
               ) -> tuple[ColdStart, dict[str, Any], str]:
    """One fresh container: time to the first answer. Returns (timings, that answer, container name)."""
    api_port, runtime_port = free_port(), free_port()
    args, command = rie_arguments(rie, api_port, runtime_port, cmd, cpus)
    url = f"http://{HOST}:{api_port}{INVOKE_PATH}"
    event = _load("predict.json")
    name = unique_name("rie")
    started = time.perf_counter()
    with detached_container(name, args, image_tag, command):
        docker_run = time.perf_counter() - started
        answer = wait_for(lambda: _invoke(url, event), timeout=120, interval=0.01, what=f"RIE container {name}")
        first = time.perf_counter() - started
        init_ms, first_invoke_ms = _rie_report(container_logs(name, tail=200))
    return ColdStart(round(first * 1000, 1), round(docker_run * 1000, 1), init_ms, first_invoke_ms), answer, name


def warm_latency(image_tag: str, rie: Path | None, cmd: list[str], cpus: float | None, requests: int
                 ) -> dict[str, Latency]:
    api_port, runtime_port = free_port(), free_port()
    args, command = rie_arguments(rie, api_port, runtime_port, cmd, cpus)
    url = f"http://{HOST}:{api_port}{INVOKE_PATH}"
    results = {}
    with detached_container(unique_name("rie"), args, image_tag, command):
        single, batch = _load("predict.json"), _load("predict_batch.json")
        wait_for(lambda: _invoke(url, single), timeout=120, interval=0.05, what="RIE container")
        for label, event, count in (("predict (1 house)", single, requests),
                                    ("predict_batch (5 houses)", batch, max(1, requests // 4))):
            for _ in range(20):
                _invoke(url, event)  # settle
            seconds = []
            for _ in range(count):
                started = time.perf_counter()
                answer = _invoke(url, event)
                seconds.append(time.perf_counter() - started)
                if answer["statusCode"] != 200:
                    raise RuntimeError(f"warm invoke answered {answer}")
            results[label] = Latency.of(seconds)
    return results


def bench(image_tag: str | None = None, *, cold_runs: int = 3, warm_requests: int = 200,
          cpus: float | None = None) -> BenchResult:
    tools = toolchain()
    image_tag = image_tag or tools.image_tag
    cmd = image.inspect(image_tag)["Config"].get("Cmd") or []
    rie = rie_binary()
    result = BenchResult(image_tag, tools.base_image, f"{cpus:g}" if cpus else "unlimited",
                         f"{platform.machine()}, {run(['nproc']).stdout.strip()} cores")
    for _ in range(cold_runs):
        timings, answer, _ = cold_start(image_tag, rie, cmd, cpus)
        result.cold.append(timings)
        result.first_answer = answer
    result.warm = warm_latency(image_tag, rie, cmd, cpus, warm_requests)
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps({**asdict(result), "cold_median_ms": result.cold_median_ms}, indent=2) + "\n")
    return result


def render(result: BenchResult) -> str:
    lines = [f"image {result.image} (base {result.base_image}), CPU {result.cpus}, machine {result.machine}",
             "cold start through the RIE (docker run -> first priced answer):"]
    for index, cold in enumerate(result.cold, start=1):
        init, first = (f"{ms:.0f} ms" if ms is not None else "?" for ms in (cold.init_ms, cold.first_invoke_ms))
        lines.append(f"  run {index}: {cold.to_first_answer_ms:7.0f} ms   (docker run {cold.docker_run_ms:.0f} ms, "
                     f"init {init}, first invoke {first})")
    lines.append(f"  median: {result.cold_median_ms:.0f} ms")
    lines.append("warm invoke latency through the RIE (client side, 127.0.0.1):")
    for label, latency in result.warm.items():
        lines.append(f"  {label:<26} n={latency.count:<4} p50 {latency.p50_ms:6.1f} ms  p90 {latency.p90_ms:6.1f} ms  "
                     f"p99 {latency.p99_ms:6.1f} ms  max {latency.max_ms:6.1f} ms")
    lines.append(f"recorded in {REPORT.relative_to(ROOT)}")
    return "\n".join(lines)


MB_PER_VCPU = 1769           # Lambda gives one vCPU at 1,769 MB, and CPU in proportion to memory
USD_PER_GB_SECOND = 0.0000166667   # x86 on-demand duration price (us-east-1, the first price tier)


def memory_sizes(sizes: list[int], *, cold_runs: int) -> str:
    """Cold start (median of ``cold_runs``) at the CPU share of each memory size, and what one cold
    request costs there (memory x duration): the figures behind the function's memory size."""
    tools = toolchain()
    cmd = image.inspect(tools.image_tag)["Config"].get("Cmd") or []
    rie = rie_binary()
    lines = [f"cold start through the RIE by Lambda memory size (median of {cold_runs}; CPU = memory / "
             f"{MB_PER_VCPU:,} MB), image {tools.image_tag}",
             f"{'memory':>8} {'cpus':>5} {'cold start':>11} {'init':>7} {'1st invoke':>10} {'GB-s':>7} "
             f"{'USD per cold start':>19} {'GB-s x s':>9}"]
    rows = []
    for size in sizes:
        cpus = round(size / MB_PER_VCPU, 2)
        runs = [cold_start(tools.image_tag, rie, cmd, cpus)[0] for _ in range(cold_runs)]
        median = statistics.median(run.to_first_answer_ms for run in runs)
        init = statistics.median(run.init_ms or 0 for run in runs)
        first = statistics.median(run.first_invoke_ms or 0 for run in runs)
        gb_seconds = size / 1024 * median / 1000
        rows.append({"memory_mb": size, "cpus": cpus, "cold_start_ms": median, "init_ms": init,
                     "first_invoke_ms": first, "gb_seconds": gb_seconds})
        lines.append(f"{size:>6} MB {cpus:>5.2f} {median:>8.0f} ms {init:>4.0f} ms {first:>7.0f} ms {gb_seconds:>7.3f} "
                     f"{gb_seconds * USD_PER_GB_SECOND:>19.8f} {gb_seconds * median / 1000:>9.3f}")
    (REPORT.parent / "container-memory-sizes.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines.append(f"recorded in {(REPORT.parent / 'container-memory-sizes.json').relative_to(ROOT)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cold-runs", type=int, default=3, help="fresh containers to time (default 3)")
    parser.add_argument("--warm", type=int, default=200, help="warm invokes of one house (default 200)")
    parser.add_argument("--cpus", type=float, help="CPU cap, e.g. 0.58 for a 1,024 MB function")
    parser.add_argument("--no-build", action="store_true", help="bench the image as it is")
    parser.add_argument("--memory-sizes", type=int, nargs="+", metavar="MB",
                        help="cold starts only, at the CPU share of each Lambda memory size, e.g. 1024 1769 3008")
    args = parser.parse_args(argv)
    if not args.no_build:
        image.build(quiet=True)
    if args.memory_sizes:
        REPORT.parent.mkdir(exist_ok=True)
        print(memory_sizes(args.memory_sizes, cold_runs=args.cold_runs))
        return 0
    print(render(bench(cold_runs=args.cold_runs, warm_requests=args.warm, cpus=args.cpus)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
