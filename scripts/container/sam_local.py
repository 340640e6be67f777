"""``sam build`` and ``sam local`` on the synthesized CDK template (``make sam-invoke``, ``make sam-api``).

    python -m scripts.container.sam_local invoke [EVENT.json ...]   every events/*.json by default
    python -m scripts.container.sam_local api [--port 3000]         sam local start-api, containers kept warm

The documented AWS CDK + SAM path, with no template rewriting (``cdk_templates``):

    cdk synth --no-staging -o .aws-sam/cdk.out -c stage=dev -c ecs=true
    sam build <FunctionLogicalId> -t .aws-sam/cdk.out/<Stack>.template.json
    sam local invoke <FunctionLogicalId> -t .aws-sam/cdk.out/<Stack>.template.json -e events/predict.json
    sam local start-api -t .aws-sam/cdk.out/<Stack>.template.json

``sam build`` builds the function's image from the metadata CDK writes on it (the repository root,
its Dockerfile and build arguments) and tags it ``<logical id, lower case>:latest``; ``sam local``
runs that image. SAM runs through ``$SAM_CLI`` with ``--docker-network host --container-host
127.0.0.1 --skip-pull-image``; a response counts only when its text is there (SAM can exit 0 when
the container never answered).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.container import cdk_templates
from scripts.container.loopback import HOST, free_port, request, wait_for
from scripts.container.toolchain import ROOT, ensure_sam, log, remove_container, run, toolchain

BUILD_DIR = ROOT / ".aws-sam" / "build"
EVENTS_DIR = ROOT / "events"
LOCAL_FLAGS = ("--docker-network", "host", "--container-host", HOST, "--skip-pull-image")
# A function's container starts on its first request and then stays warm. EAGER would start one for
# every function in the stack at once, the pre-traffic hook's too, whose zip runtime SAM runs on an
# emulation image it pulls from a registry; the API never routes to the hook.
WARM_CONTAINERS = "LAZY"


@dataclass(frozen=True)
class SamBuild:
    template: Path  # the synthesized CDK template, as cdk wrote it
    function_id: str
    image: str  # the image sam build tagged
    environment: dict[str, str]  # the function's environment in the template


def build(*, synthesize: bool = True) -> SamBuild:
    """``cdk synth --no-staging`` (unless done already), then ``sam build`` of the image function."""
    tools = toolchain()
    ensure_sam()
    if synthesize:
        cdk_templates.synth(base_image=tools.base_image)
    function = cdk_templates.image_function()
    cmd = [*tools.sam_cli, "build", function.logical_id, "--template", str(function.template),
           "--build-dir", str(BUILD_DIR)]
    log(shlex.join(cmd))
    started = time.monotonic()
    run(cmd, env=tools.env, timeout=1200)
    image = f"{function.logical_id.lower()}:latest"
    log(f"sam build {function.logical_id} ({function.stack}) -> {image} in {time.monotonic() - started:.1f} s")
    return SamBuild(function.template, function.logical_id, image, function.environment)


@dataclass(frozen=True)
class Invocation:
    event: Path
    response: dict[str, Any] | None  # the function's answer (proxy response or error); None: no answer
    seconds: float
    returncode: int
    log: str

    @property
    def status(self) -> int | None:
        return self.response.get("statusCode") if self.response else None

    @property
    def body(self) -> Any:
        return json.loads(self.response["body"]) if self.response and "body" in self.response else None


def _last_json_object(text: str) -> dict[str, Any] | None:
    for line in reversed(text.strip().splitlines()):
        with contextlib.suppress(ValueError):
            value = json.loads(line)
            if isinstance(value, dict):  # a proxy response, or the runtime's errorMessage/errorType
                return value
    return None


def _started_containers(sam_log: str) -> list[str]:
    """The containers SAM says it created: it logs ``SAM_CONTAINER_ID: <id>`` right after creating
    one and before starting it (SAM's labels are the same for every invoke, so they cannot tell
    two concurrent invocations apart)."""
    return [line.partition("SAM_CONTAINER_ID:")[2].strip() for line in sam_log.splitlines()
            if "SAM_CONTAINER_ID:" in line]


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL SAM's process group while SAM still runs, so nothing in it creates a container after
    the cleanup (a wrapper or a bundled binary may run SAM as a child of the process we started)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def invoke_command(sam: SamBuild, event: Path) -> list[str]:
    return [*toolchain().sam_cli, "local", "invoke", sam.function_id, "--template", str(sam.template),
            "--event", str(event), *LOCAL_FLAGS]


def invoke(sam: SamBuild, event: Path, *, timeout: float = 300) -> Invocation:
    """``sam local invoke`` of the function with one event file: a fresh container, removed after,
    also when SAM is stopped for taking longer than ``timeout`` seconds or by Ctrl-C."""
    tools = toolchain()
    cmd = invoke_command(sam, event)
    started = time.monotonic()
    # Output goes to files, not pipes: what SAM logged before it was killed is still readable, and
    # no leftover process holding a pipe open can block the read. Its own session, so that
    # _kill_group reaches everything it started (and Ctrl-C reaches it only through _kill_group).
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as stdout, \
            tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as stderr:
        process = subprocess.Popen(cmd, cwd=ROOT, env=tools.env, stdout=stdout, stderr=stderr,
                                   start_new_session=True)
        note = ""
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            note = f"\nsam local invoke stopped after {timeout:g} s"
        finally:
            _kill_group(process)
            seconds = time.monotonic() - started
            stdout.seek(0)
            stderr.seek(0)
            output, sam_log = stdout.read(), stderr.read()
            for container in _started_containers(sam_log):  # SAM removes its container; make sure of it
                remove_container(container)
    return Invocation(event, _last_json_object(output), seconds, process.returncode, sam_log[-3000:] + note)


def invoke_all(sam: SamBuild, events: list[Path], *, workers: int = 2) -> list[Invocation]:
    """Invoke each event (in order of the list). The first runs alone, since SAM builds its emulation
    image on first use; the rest run ``workers`` at a time (each is a separate container)."""
    if not events:
        return []
    log(shlex.join(invoke_command(sam, events[0])) + (f" (and {len(events) - 1} more events)" if events[1:] else ""))
    first = invoke(sam, events[0])
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return [first, *pool.map(lambda event: invoke(sam, event), events[1:])]


def _containers_of(image: str) -> set[str]:
    listed = run(["docker", "ps", "-aq", "--no-trunc", "--filter", f"ancestor={image}"], check=False).stdout
    return set(listed.split())


@contextlib.contextmanager
def start_api(sam: SamBuild, port: int | None = None, *, startup_timeout: float = 120) -> Iterator[str]:
    """``sam local start-api`` on 127.0.0.1, its container kept warm; stopped and cleaned up on exit."""
    tools = toolchain()
    port = port or free_port()
    rapid_image = f"{sam.image.split(':')[0]}:rapid-x86_64"
    before = _containers_of(rapid_image)
    log_path = ROOT / ".aws-sam" / f"start-api-{port}.log"
    url = f"http://{HOST}:{port}"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [*tools.sam_cli, "local", "start-api", "--template", str(sam.template), "--host", HOST,
             "--port", str(port), "--warm-containers", WARM_CONTAINERS, *LOCAL_FLAGS],
            cwd=ROOT, env=tools.env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            try:
                wait_for(lambda: request(f"{url}/v1/health", timeout=30)[0] == 200, timeout=startup_timeout,
                         interval=0.5, alive=lambda: process.poll() is None, what="sam local start-api")
            except Exception as error:
                log_text = log_path.read_text()[-3000:]
                raise RuntimeError(f"{error}\n--- sam local start-api log ---\n{log_text}") from error
            yield url
        finally:
            _stop(process)
            for container in _containers_of(rapid_image) - before:
                remove_container(container)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM (SAM then removes its containers; SIGINT may be ignored in a background job), then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, 45), (signal.SIGKILL, 15)):
        if process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=wait)


def _summary(invocation: Invocation) -> str:
    name = invocation.event.name
    if invocation.response is None:
        return f"{name:<28} NO ANSWER (sam exit {invocation.returncode})\n{invocation.log}"
    if invocation.status is None:
        error = invocation.response
        return f"{name:<28} FUNCTION ERROR {error.get('errorType')}: {error.get('errorMessage')}"
    body = json.dumps(invocation.body)
    shown = body if len(body) <= 200 else body[:200] + "..."
    return f"{name:<28} {invocation.status}  {invocation.seconds:4.1f} s  {shown}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    invoke_parser = commands.add_parser("invoke", help="sam local invoke with each event")
    invoke_parser.add_argument("events", nargs="*", type=Path, help="event files (default: events/*.json)")
    api_parser = commands.add_parser("api", help="sam local start-api in the foreground (Ctrl-C stops it)")
    api_parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    args = parser.parse_args(argv)

    sam = build()
    if args.command == "invoke":
        events = args.events or sorted(EVENTS_DIR.glob("*.json"))
        invocations = invoke_all(sam, events)
        for invocation in invocations:
            print(_summary(invocation), flush=True)
        answered = sum(invocation.status is not None for invocation in invocations)
        print(f"{answered} of {len(events)} events answered by {sam.function_id} (image {sam.image})")
        return 0 if answered == len(events) else 1
    tools = toolchain()
    cmd = [*tools.sam_cli, "local", "start-api", "--template", str(sam.template), "--host", HOST,
           "--port", str(args.port), "--warm-containers", WARM_CONTAINERS, *LOCAL_FLAGS]
    print(f"serving {sam.function_id} on http://{HOST}:{args.port} (Ctrl-C stops it); try:\n"
          f"  .venv/bin/python scripts/submit_examples.py --url http://{HOST}:{args.port}", flush=True)
    sys.stdout.flush()
    os.execvpe(cmd[0], cmd, tools.env)  # SAM gets Ctrl-C itself and removes its containers


if __name__ == "__main__":
    raise SystemExit(main())
