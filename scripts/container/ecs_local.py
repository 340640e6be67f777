"""Run the service image the way the ECS task does (``make ecs-local``).

    python -m scripts.container.ecs_local [--port 8080] [--no-build]

Entry point, command, user, working directory, environment and CPU/memory come from the
synthesized ECS task definition, so this is the task's container, not a look-alike. Two things
differ because this is one machine without a task network: the container joins the host network
and the server listens on 127.0.0.1:PORT instead of 0.0.0.0:8080 (HOST and PORT are overridden).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
from collections.abc import Iterator
from dataclasses import dataclass

from scripts.container import cdk_templates, image
from scripts.container.loopback import HOST, free_port, request, wait_for
from scripts.container.toolchain import (
    LABEL,
    container_logs,
    detached_container,
    log,
    run,
    toolchain,
    unique_name,
)


@dataclass(frozen=True)
class EcsRun:
    docker_args: list[str]
    command: list[str]
    user: str | None


def ecs_run(container: cdk_templates.EcsContainer, port: int) -> EcsRun:
    """``docker run`` arguments (before the image) and command (after it) for the task's container."""
    if not container.entry_point:
        raise RuntimeError("the ECS container definition has no EntryPoint: the image's would start Lambda")
    env = {**container.environment, "HOST": HOST, "PORT": str(port)}
    args = ["--entrypoint", container.entry_point[0]]
    if container.user:
        args += ["--user", container.user]
    if container.working_directory:
        args += ["--workdir", container.working_directory]
    if container.cpu_units:
        args += ["--cpus", f"{container.cpu_units / 1024:g}"]
    if container.memory_mib:
        args += ["--memory", f"{container.memory_mib}m"]
    for name, value in sorted(env.items()):
        args += ["--env", f"{name}={value}"]
    return EcsRun(args, [*container.entry_point[1:], *container.command], container.user)


@dataclass(frozen=True)
class RunningService:
    name: str  # the container's name
    url: str  # http://127.0.0.1:PORT


@contextlib.contextmanager
def ecs_container(image_tag: str, *, port: int | None = None, startup_timeout: float = 90
                  ) -> Iterator[RunningService]:
    """The ECS-mode container, detached, once /v1/health answers; removed on exit, even after an error."""
    port = port or free_port()
    spec = ecs_run(cdk_templates.ecs_container(), port)
    name = unique_name("ecs")
    url = f"http://{HOST}:{port}"
    with detached_container(name, spec.docker_args, image_tag, spec.command):
        def running() -> bool:
            state = run(["docker", "inspect", "-f", "{{.State.Running}}", name], check=False).stdout.strip()
            return state == "true"

        try:
            wait_for(lambda: request(f"{url}/v1/health", timeout=5)[0] == 200, timeout=startup_timeout,
                     interval=0.2, alive=running, what=f"ECS-mode container {name}")
        except Exception as error:
            raise RuntimeError(f"{error}\n--- docker logs {name} ---\n{container_logs(name)}") from error
        yield RunningService(name, url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    parser.add_argument("--no-build", action="store_true", help="run the image as it is (make image built it)")
    args = parser.parse_args(argv)
    tools = toolchain()
    if not args.no_build:
        image.build(quiet=True)
    cdk_templates.synth(base_image=tools.base_image)
    container = cdk_templates.ecs_container()
    spec = ecs_run(container, args.port)
    name = unique_name("ecs")
    cmd = ["docker", "run", "--rm", "--name", name, "--label", LABEL, "--network", "host",
           *spec.docker_args, tools.image_tag, *spec.command]
    log(shlex.join(cmd))
    base = f"http://{HOST}:{args.port}"
    print(f"ECS task container '{container.name}' ({container.stack}) as user {spec.user} on {base} "
          f"(Ctrl-C stops it); try:\n  curl {base}/v1/health\n"
          f"  .venv/bin/python scripts/submit_examples.py --url {base}", flush=True)
    os.execvp(cmd[0], cmd)  # Ctrl-C reaches docker, which stops the server and removes the container


if __name__ == "__main__":
    raise SystemExit(main())
