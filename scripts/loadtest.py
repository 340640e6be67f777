"""A bounded load run over 127.0.0.1 with a registry promotion in the middle (``make loadtest``).

    python -m scripts.loadtest [--seconds 20] [--clients 16] [--grace 5] [--workers 2]

1. moto's server (S3, SSM and KMS) on a free loopback port holds the model registry: a versioned
   bucket and a signing key, with two published (signed) versions of the default model, the one
   baked into model/artifacts and one derived from it whose blend scale is multiplied by
   ``DERIVED_FACTOR`` (no retraining; every house gets another price, so a price names the
   version that made it).
2. The real server (``python -m lambda_fn.api.serve``, uvicorn, WEB_CONCURRENCY workers) follows
   that registry, checking the pointer every second.
3. ``--clients`` keep-alive HTTP/1.1 connections POST /v1/predict?as_of=2015-05-01 with the
   future example houses for ``--seconds``; halfway, ``python -m model.registry promote`` moves
   the pointer to the derived version. The load runs on until ``--grace`` seconds (plus a
   short tail) after the promotion returned, so the takeover is always observed.
4. Every answer must be 2xx and whole: its ``model.version`` one of the two, and its price and
   80% range exactly those that version gives that house (precomputed in this process with
   ``load_predictor``). New-version answers must appear, none before the promotion started, and
   no old-version answer to a request sent after the grace period; every worker must log the swap.

Prints req/s, p50/p99 latency (and p99 before, during and after the swap), errors, the load
generator's own CPU time and answers per version. Exits 0 if every check held, 1 if any failed, 2
if the setup failed, 130 if interrupted. Every process it starts runs in its own session and is
stopped on any exit (Ctrl-C and SIGTERM included). AWS variables are replaced by fake credentials
and an endpoint on 127.0.0.1, so nothing reaches AWS.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lambda_fn.api.schemas import House
from lambda_fn.core.boosted import FORMAT, SPEC_FILE
from lambda_fn.core.predictor import Predictor
from lambda_fn.registry.artifacts import (
    ArtifactError,
    latest_version_folder,
    load_predictor,
    read_metadata,
    verified_files,
    write_version,
)
from lambda_fn.registry.layout import RegistryError, RegistryLocation, aws_client
from lambda_fn.registry.signing import SigningKey
from lambda_fn.settings import Settings
from model import data
from model import registry as registry_cli
from scripts.container.loopback import HOST, free_port, request, wait_for

ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2015-05-01"       # every request pins the day, so a version prices a house one way only
PREDICT_PATH = f"/v1/predict?as_of={AS_OF}"
DERIVED_FACTOR = 0.9       # the derived version's prices: 90% of the baked version's
REGION = "us-west-2"
BUCKET = "price-service-models-loadtest"
POINTER_PREFIX = "/price-service/loadtest/models"
REFRESH_SECONDS = 1        # how often each worker reads the pointer
TAIL_SECONDS = 2.0         # load kept up after the grace period, so late old answers would show
START_SECONDS = 90         # bound on moto's and the server's start
PROMOTE_SECONDS = 120      # bound on the release CLI
REQUEST_SECONDS = 10       # bound on one answer
STOP_SECONDS = 30          # uvicorn's own graceful shutdown bound


# ---- versions and expected answers ------------------------------------------------------------

Expected = tuple[float, tuple[float, float] | None]   # price, (low, high) of its range


@dataclass(frozen=True)
class Version:
    version: str
    folder: Path
    expected: list[Expected]   # by house, in the order of the houses


def derive_version(baked: Path, root: Path, factor: float) -> Path:
    """A new version folder under ``root/<name>/`` with the baked version's files except its blend
    scale, times ``factor``; its smoke test records its own prices, as training records them.
    Only the LightGBM blend has a scale; another format raises SetupError."""
    metadata = read_metadata(baked)
    if metadata.get("format") != FORMAT:
        raise SetupError(f"{baked} is a {metadata.get('format')} model; a derived version needs a {FORMAT}")
    files = verified_files(baked, metadata)
    spec = json.loads(files[SPEC_FILE])
    spec["scale"] *= factor
    files[SPEC_FILE] = json.dumps(spec).encode()
    version = f"{metadata['version']}-x{factor:g}"
    metadata = {**metadata, "version": version,
                "description": f"load test version: the baked version's prices times {factor:g}"}
    smoke = _smoke_test(Predictor.from_files(files, metadata), metadata["smoke_test"])
    folder = root / metadata["name"] / version
    write_version(folder, files=files, metadata={**metadata, "smoke_test": smoke})
    return folder


def _smoke_test(predictor: Predictor, recorded: dict[str, Any]) -> dict[str, Any]:
    days = [datetime.date.fromisoformat(day) for day in recorded["asked_on"]]
    prices = predictor.predict(recorded["houses"], days)
    smoke = {**recorded, "prices": prices}
    if "intervals" in recorded:
        smoke["intervals"] = [list(interval) for interval in predictor.intervals(prices)]
    return smoke


def load_version(folder: Path, houses: list[dict[str, Any]]) -> Version:
    """The version in ``folder``, loaded as the service loads it, with its answer for each house,
    validated by the API's own request model first, as the route does."""
    predictor = load_predictor(folder)
    validated = [House.model_validate(house).model_dump() for house in houses]
    pricing = predictor.price(validated, datetime.date.fromisoformat(AS_OF))
    ranges = pricing.intervals or [None] * len(pricing.prices)
    expected = [(price, tuple(interval) if interval else None) for price, interval in zip(pricing.prices, ranges,
                                                                                          strict=True)]
    return Version(predictor.version, folder, expected)


def distinguishable(old: Version, new: Version) -> bool:
    """Whether every house's price tells the two versions apart."""
    return all(a[0] != b[0] for a, b in zip(old.expected, new.expected, strict=True))


def load_houses() -> list[dict[str, Any]]:
    """The client's future examples as JSON objects, read as the release CLI reads them."""
    return json.loads(data.load_future_examples().to_json(orient="records"))


# ---- processes --------------------------------------------------------------------------------

def fake_aws_environment(endpoint: str) -> dict[str, str]:
    """This process's environment with every AWS_* variable replaced: fake credentials, one region,
    every service at ``endpoint``, no config or credentials file (whose endpoints could win)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    return {**env, "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true"}


def server_environment(base: dict[str, str], port: int, workers: int, downloads: Path, model: str) -> dict[str, str]:
    return {**base, "HOST": HOST, "PORT": str(port), "WEB_CONCURRENCY": str(workers), "DEFAULT_MODEL": model,
            "MODEL_REGISTRY_BUCKET": BUCKET, "MODEL_POINTER_PREFIX": POINTER_PREFIX,
            "MODEL_REFRESH_SECONDS": str(REFRESH_SECONDS), "MODEL_DOWNLOAD_DIR": str(downloads), "ACCESS_LOG": "0",
            # As the image sets it: nothing waits in a buffer when the run reads the log.
            "PYTHONUNBUFFERED": "1"}


@contextlib.contextmanager
def started(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """``command`` in its own session (a Ctrl-C in the terminal reaches only this script, which
    stops it in order), output to ``log``; on leaving, its whole process group is stopped."""
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process group this script started (uvicorn's workers with their parent),
    SIGKILL if it outlives STOP_SECONDS."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)   # start_new_session: the group id is the child's pid
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_until_listening(port: int, process: subprocess.Popen, what: str, log: Path) -> None:
    def connects() -> bool:
        with socket.create_connection((HOST, port), timeout=1):
            return True

    _wait(connects, process, what, log)


def wait_until_healthy(url: str, process: subprocess.Popen, log: Path) -> dict[str, Any]:
    """The health answer once the server gives one (its models loaded, the registry followed)."""
    def healthy() -> dict[str, Any] | None:
        status, _, body = request(f"{url}/v1/health", timeout=2)
        return body if status == 200 else None

    return _wait(healthy, process, "the server", log)


def _wait(probe: Callable[[], Any], process: subprocess.Popen, what: str, log: Path) -> Any:
    try:
        return wait_for(probe, timeout=START_SECONDS, interval=0.1, alive=lambda: process.poll() is None, what=what)
    except (RuntimeError, TimeoutError) as error:
        raise SetupError(f"{error}\n--- last lines of {log.name} ---\n{tail(log)}") from error


def tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.is_file() else ""


class SetupError(Exception):
    """Something the load run needs could not be started or prepared."""


# ---- the registry in moto ---------------------------------------------------------------------

def create_registry() -> registry_cli.Registry:
    """The versioned bucket and the signing key (as the ModelRegistry construct creates them) and
    the release CLI's view of them; no pointer yet, so the server starts on the image's model."""
    kms = aws_client("kms")
    key_arn = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    registry = registry_cli.Registry(RegistryLocation(BUCKET, POINTER_PREFIX), aws_client("s3"), aws_client("ssm"),
                                     SigningKey(kms, key_arn))
    registry.s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    registry.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return registry


def publish(registry: registry_cli.Registry, version: Version) -> None:
    """Upload one version folder with the release CLI's own ``publish`` (checks, If-None-Match)."""
    with contextlib.redirect_stdout(io.StringIO()):   # its "published ..." line is setup noise
        registry_cli.publish(registry, version.folder.parent.parent, version.folder.parent.name, version.version)


def promote_command(model: str, version: str) -> list[str]:
    return [sys.executable, "-m", "model.registry", "--bucket", BUCKET, "--pointer-prefix", POINTER_PREFIX,
            "promote", "--name", model, "--version", version]


# ---- the load -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Answer:
    sent: float                # monotonic seconds since the load started
    seconds: float             # until the whole answer was read
    house: int
    status: int | None         # None: no HTTP answer (refused, reset, timed out, malformed)
    version: str | None = None
    problem: str | None = None  # why this answer is wrong; None for a right one


@dataclass
class Promotion:
    command: list[str]
    at: float                  # seconds into the load when it starts
    started: float | None = None
    finished: float | None = None
    returncode: int | None = None
    output: str = ""


@dataclass
class Load:
    deadline: float            # seconds since start; the promotion pushes it past its grace period
    promoting: bool = True     # the load never ends while the release CLI still runs
    answers: list[Answer] = field(default_factory=list)
    origin: float = field(default_factory=time.monotonic)
    client_cpu: float = 0.0    # CPU seconds this process spent generating the load

    def now(self) -> float:
        return time.monotonic() - self.origin

    def running(self) -> bool:
        return self.promoting or self.now() < self.deadline


def http_requests(port: int, houses: list[dict[str, Any]]) -> list[bytes]:
    """One whole HTTP/1.1 keep-alive request per house, built once."""
    requests = []
    for house in houses:
        body = json.dumps(house).encode()
        head = (f"POST {PREDICT_PATH} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
                f"Accept: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        requests.append(head.encode() + body)
    return requests


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, whether the connection stays open); bodies must carry a Content-Length,
    as every answer of this server does."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" not in headers:
        raise ValueError(f"HTTP {status} answer without Content-Length")
    body = await reader.readexactly(int(headers["content-length"]))
    return status, body, headers.get("connection", "").lower() != "close"


def judge(status: int, body: bytes, house: int, versions: dict[str, Version]) -> tuple[str | None, str | None]:
    """(version answering, problem or None): a right answer is 2xx, names a known version and has
    exactly that version's price and range for the house."""
    if not 200 <= status < 300:
        return None, f"HTTP {status}: {body[:200].decode(errors='replace')}"
    try:
        answer = json.loads(body)
        version = (answer.get("model") or {}).get("version")
        interval = answer.get("interval")
        got = (answer.get("price"), (interval["low"], interval["high"]) if interval else None)
    except (ValueError, AttributeError, KeyError, TypeError) as error:
        return None, f"malformed answer ({type(error).__name__}: {error}): {body[:200].decode(errors='replace')}"
    if version not in versions:
        return version, f"unknown version {version!r}"
    want = versions[version].expected[house]
    if got != want:
        return version, f"house {house}: {version} answered {got}, expected {want}"
    return version, None


async def client(port: int, number: int, requests: list[bytes], versions: dict[str, Version], load: Load) -> None:
    """One keep-alive connection sending the houses in turn, from house ``number`` on; a failed
    connection is recorded and replaced."""
    house = number % len(requests)
    connection = None
    try:
        while load.running():
            sent = load.now()
            try:
                if connection is None:
                    connection = await asyncio.wait_for(asyncio.open_connection(HOST, port), REQUEST_SECONDS)
                reader, writer = connection
                writer.write(requests[house])
                status, body, keep = await asyncio.wait_for(read_response(reader), REQUEST_SECONDS)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    ValueError, IndexError) as error:
                load.answers.append(Answer(sent, load.now() - sent, house, None,
                                           problem=f"no answer: {type(error).__name__}: {error}"))
                connection = _close(connection)
                await asyncio.sleep(0.05)   # a refusing server must not be hammered in a tight loop
                continue
            version, problem = judge(status, body, house, versions)
            load.answers.append(Answer(sent, load.now() - sent, house, status, version, problem))
            if not keep:
                connection = _close(connection)
            house = (house + 1) % len(requests)
    finally:
        _close(connection)


def _close(connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None) -> None:
    if connection is not None:
        connection[1].close()
    return None


async def promote(promotion: Promotion, env: dict[str, str], load: Load, grace: float) -> None:
    """At ``promotion.at``, run the release CLI; once it returns, keep the load up until the grace
    period and a tail have passed, so a worker still on the old version would be seen."""
    try:
        await asyncio.sleep(max(0.0, promotion.at - load.now()))
        promotion.started = load.now()
        process = await asyncio.create_subprocess_exec(*promotion.command, cwd=ROOT, env=env,
                                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                                       stderr=subprocess.STDOUT, start_new_session=True)
        try:
            output, _ = await asyncio.wait_for(process.communicate(), PROMOTE_SECONDS)
        finally:
            if process.returncode is None:   # timed out or interrupted: it must not outlive this run
                process.kill()
                await process.wait()
        promotion.finished, promotion.returncode = load.now(), process.returncode
        promotion.output = output.decode(errors="replace").strip()
        load.deadline = max(load.deadline, promotion.finished + grace + TAIL_SECONDS)
    finally:
        load.promoting = False


async def drive(port: int, clients: int, seconds: float, grace: float, requests: list[bytes],
                versions: dict[str, Version], promotion: Promotion, env: dict[str, str]) -> Load:
    load = Load(deadline=seconds)
    promoting = asyncio.create_task(promote(promotion, env, load, grace))
    await asyncio.gather(*(client(port, n, requests, versions, load) for n in range(clients)))
    await promoting   # re-raises a failure to start the CLI
    return load


def run_load(*args: Any) -> Load:
    """``drive`` on uvloop when installed (the server's own loop; a lighter client on a shared CPU)."""
    try:
        import uvloop
        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    cpu = time.process_time()
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        load = runner.run(drive(*args))
    load.client_cpu = time.process_time() - cpu
    return load


# ---- verdict ----------------------------------------------------------------------------------

def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def log_records(text: str) -> Iterator[dict[str, Any]]:
    """Every JSON object in the server log, also where two workers' records share a line: the
    workers write to one file, and a metric line (``print``: the text, then its newline) can take
    another worker's record between the two."""
    decoder = json.JSONDecoder()
    position = text.find("{")
    while position != -1:
        try:
            record, end = decoder.raw_decode(text, position)
        except ValueError:
            position = text.find("{", position + 1)
            continue
        if isinstance(record, dict):
            yield record
        position = text.find("{", end)


def swap_log_lines(log: Path, to_version: str) -> tuple[int, list[str]]:
    """(workers that logged swapping to ``to_version``, every swap failure record) in the server log."""
    swapped, failed = 0, []
    for entry in log_records(log.read_text(errors="replace")):
        if entry.get("message") == "model swapped" and entry.get("to_version") == to_version:
            swapped += 1
        elif entry.get("message") == "model swap failed":
            failed.append(json.dumps(entry))
    return swapped, failed


def swap_failures(load: Load, promotion: Promotion, old: str, new: str, grace: float) -> list[str]:
    """What is wrong with the takeover: a failed promotion, no new answers, new answers before the
    promotion started, old answers to requests sent after the grace period, or a load too short to tell."""
    if promotion.returncode != 0:
        return [f"the promotion failed (exit {promotion.returncode}): {promotion.output[-500:]}"]
    if not any(a.version == new for a in load.answers):
        return ["no answer of the promoted version: no swap"]
    problems = []
    early = sum(a.sent < promotion.started and a.version == new for a in load.answers)
    if early:
        problems.append(f"{early} answers of {new} to requests sent before the promotion started")
    cutoff = promotion.finished + grace
    late = sum(a.sent > cutoff and a.version == old for a in load.answers)
    if late:
        problems.append(f"{late} answers of {old} to requests sent over {grace:g} s after the promotion")
    if not any(a.sent > cutoff for a in load.answers):
        problems.append("no request was sent after the grace period: the takeover was not checked")
    return problems


def request_lines(load: Load) -> tuple[list[str], list[str]]:
    """(throughput, latency and error lines; failures): every request must get a 2xx answer."""
    answered = [a for a in load.answers if a.status is not None]
    failed = [a for a in load.answers if a.status is None or not 200 <= a.status < 300]
    non_2xx = sum(a.status is not None for a in failed)
    elapsed = max((a.sent + a.seconds for a in load.answers), default=load.deadline)
    latencies = [a.seconds * 1000 for a in answered]
    lines = [f"requests: {len(load.answers)} in {elapsed:.1f} s = {len(answered) / elapsed:.0f} req/s; latency "
             f"p50 {percentile(latencies, 0.50):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms, "
             f"max {max(latencies, default=float('nan')):.1f} ms",
             f"errors: {len(failed)} ({non_2xx} non-2xx, {len(failed) - non_2xx} connection failures); "
             f"the load generator used {load.client_cpu:.1f} s of CPU"]
    return lines, [f"{len(failed)} failed requests, e.g. {failed[0].problem}"] if failed else []


def version_lines(load: Load, promotion: Promotion, old: str, new: str, grace: float) -> tuple[list[str], list[str]]:
    """(answers per version and the swap's timeline, in seconds since the load started; failures)."""
    wrong = [a for a in load.answers if a.status is not None and 200 <= a.status < 300 and a.problem]
    right = Counter(a.version for a in load.answers if a.status is not None and a.problem is None)
    received = {version: [a.sent + a.seconds for a in load.answers if a.version == version] for version in (old, new)}
    cutoff = None if promotion.finished is None else promotion.finished + grace
    late = sum(a.version == old and cutoff is not None and a.sent > cutoff for a in load.answers)
    lines = [f"wrong answers (mixed or unknown version): {len(wrong)}",
             f"answers per version: {old} {right[old]}, {new} {right[new]}",
             f"swap: release CLI ran {_at(promotion.started)} to {_at(promotion.finished)}; {new} answered from "
             f"{_at(min(received[new], default=None))}, {old} until {_at(max(received[old], default=None))}; "
             f"{old} answers to requests sent after {_at(cutoff)} (grace {grace:g} s): {late}",
             f"release CLI: {promotion.output.splitlines()[-1] if promotion.output else '-'}"]
    if promotion.started is not None and received[old] and received[new]:
        lines.append(phase_latencies(load, promotion.started, max(max(received[old]), min(received[new]))))
    failures = [f"{len(wrong)} wrong answers, e.g. {wrong[0].problem}"] if wrong else []
    return lines, failures + swap_failures(load, promotion, old, new, grace)


def phase_latencies(load: Load, promoting_from: float, swapped_by: float) -> str:
    """p99 before the promotion, while the release CLI ran and the workers swapped (both share
    these cores with the server), and after: what a swap costs the requests around it."""
    phases = {"before": [], "during": [], "after": []}
    for a in load.answers:
        if a.status is not None:
            phase = "before" if a.sent < promoting_from else "during" if a.sent <= swapped_by else "after"
            phases[phase].append(a.seconds * 1000)
    return "latency p99 " + ", ".join(f"{phase} the swap {percentile(ms, 0.99):.1f} ms ({len(ms)} requests)"
                                      for phase, ms in phases.items())


def worker_lines(log: Path, new: str, workers: int) -> tuple[list[str], list[str]]:
    """(what the server logged about swaps; failures): every worker swaps, none fails to."""
    swapped, swap_errors = swap_log_lines(log, new)
    failures = [f"only {swapped} of {workers} workers logged the swap"] if swapped < workers else []
    failures += [f"swap failure logged: {line[:300]}" for line in swap_errors]
    return [f"workers that logged the swap: {swapped} of {workers}; swap failures logged: {len(swap_errors)}"], failures


def summary(load: Load, promotion: Promotion, old: Version, new: Version, grace: float, log: Path,
            workers: int) -> tuple[list[str], list[str]]:
    """(lines to print, failures); no failures means the run passed."""
    lines, failures = [], []
    for part_lines, part_failures in (request_lines(load),
                                      version_lines(load, promotion, old.version, new.version, grace),
                                      worker_lines(log, new.version, workers)):
        lines += part_lines
        failures += part_failures
    return lines, failures


def _at(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f} s"


# ---- main -----------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.loadtest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="load duration before the grace "
                        "period's extension (default %(default)s; the promotion starts halfway)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent keep-alive connections (%(default)s)")
    parser.add_argument("--grace", type=float, default=5.0, help="seconds after the promotion by which "
                        "no worker may answer with the old version (default %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers, WEB_CONCURRENCY (%(default)s)")
    args = parser.parse_args(argv)
    if not (0 < args.seconds <= 600 and 0 < args.clients <= 256 and 0 < args.grace <= 60 and 0 < args.workers <= 8):
        parser.error("bounds: 0 < --seconds <= 600, 0 < --clients <= 256, 0 < --grace <= 60, 0 < --workers <= 8")
    return args


def prepare_versions(workdir: Path, houses: list[dict[str, Any]]) -> tuple[Version, Version]:
    """(baked, derived), both loaded and priced; refuses versions that price some house alike."""
    settings = Settings()
    baked_folder = latest_version_folder(settings.model_dir, settings.default_model)
    old = load_version(baked_folder, houses)
    new = load_version(derive_version(baked_folder, workdir / "artifacts", DERIVED_FACTOR), houses)
    if not distinguishable(old, new):
        raise SetupError(f"{old.version} and {new.version} price some house alike: answers would be ambiguous")
    return old, new


def run(args: argparse.Namespace, workdir: Path) -> int:
    """Set up, load, judge; every process started here is stopped before it returns or raises."""
    begun = time.monotonic()
    moto_port, port = free_port(), free_port()
    env = fake_aws_environment(f"http://{HOST}:{moto_port}")
    os.environ.clear()
    os.environ.update(env)   # this process's boto3 clients (publish) too: nothing leaves 127.0.0.1
    houses = load_houses()
    old, new = prepare_versions(workdir, houses)
    model = old.folder.parent.name
    moto_log, server_log = workdir / "moto.log", workdir / "server.log"
    with started([sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(moto_port)], env, moto_log) as moto:
        wait_until_listening(moto_port, moto, "moto", moto_log)
        registry = create_registry()
        env["MODEL_SIGNING_KEY_ARN"] = registry.key().key_arn   # the server's and `promote`'s trusted key
        publish(registry, old)
        publish(registry, new)
        server_env = server_environment(env, port, args.workers, workdir / "downloads", model)
        with started([sys.executable, "-m", "lambda_fn.api.serve"], server_env, server_log) as server:
            health = wait_until_healthy(f"http://{HOST}:{port}", server, server_log)
            if health["model"]["version"] != old.version:
                raise SetupError(f"the server started on {health['model']}, not {old.version}")
            print(f"load test: {model} on uvicorn ({args.workers} workers, {HOST}:{port}), {args.clients} keep-alive "
                  f"clients, {len(houses)} houses, as_of {AS_OF}, registry in moto ({HOST}:{moto_port})\n"
                  f"  serving {old.version}; promoting {new.version} at {args.seconds / 2:g} s "
                  f"(setup took {time.monotonic() - begun:.1f} s)", flush=True)
            promotion = Promotion(promote_command(model, new.version), at=args.seconds / 2)
            load = run_load(port, args.clients, args.seconds, args.grace, http_requests(port, houses),
                            {old.version: old, new.version: new}, promotion, env)
        lines, failures = summary(load, promotion, old, new, args.grace, server_log, args.workers)
    return report(lines, failures, time.monotonic() - begun)


def report(lines: list[str], failures: list[str], seconds: float) -> int:
    """Print the summary and the verdict; the exit status: 0 passed, 1 failed."""
    print("\n".join([*lines, f"total run time {seconds:.1f} s", *(f"FAILED: {f}" for f in failures)]))
    print(f"FAIL: {len(failures)} checks failed" if failures
          else "PASS: every answer came whole from one version, and the promoted one took over")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM stops this run as Ctrl-C does: through the cleanup of every process it started.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with tempfile.TemporaryDirectory(prefix="loadtest-") as workdir:
            return run(args, Path(workdir))
    except (SetupError, FileNotFoundError, ArtifactError, RegistryError, BotoCoreError, ClientError) as error:
        print(f"setup failed: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: every process this run started was stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
