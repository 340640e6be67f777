"""Where the container tier's tools come from, and the Docker calls every script shares.

A user with registry access needs nothing extra: the base image is the AWS one (pulled by the
build), the build installs the pinned requirements from PyPI and SAM is ``sam`` on the PATH.

On a machine that reaches no image registry, the workplace's ``container-env.sh`` (``$CONTAINER_ENV``,
default ``../shared/tools/container-env.sh`` relative to the project root) supplies what is
missing, and only that: it starts Docker when none answers, builds the stand-in base image when
it is not present, downloads the pinned wheels into ``.wheels/`` for an offline build, installs the
SAM CLI, and its ``env`` names the defaults (base image, SAM wrapper, host-network builds).
Variables set in the environment win over those defaults: ``LAMBDA_BASE_IMAGE``, ``SAM_CLI``,
``DOCKER_BUILD_NETWORK``. Containers always use the host network and listen on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DEFAULT_IMAGE_TAG = "sound-realty-price-service:local"
PLATFORM = "linux/amd64"
# The function's requirements and, for bases without one, the Lambda runtime interface client.
REQUIREMENTS = (ROOT / "lambda_fn" / "requirements.txt", ROOT / "image" / "runtime-interface-client.txt")
WHEELS_DIR = ROOT / ".wheels"
# Every container this process starts carries this label (one value per process), so a cleanup
# finds its own strays and never another run's containers.
LABEL = f"sound-realty.container-tier={os.getpid()}-{uuid.uuid4().hex[:8]}"


def dockerfile_arg_default(name: str, dockerfile: Path = DOCKERFILE) -> str:
    """The default value of ``ARG <name>=<value>`` in a Dockerfile."""
    for line in dockerfile.read_text().splitlines():
        match = re.match(rf"\s*ARG\s+{re.escape(name)}=(\S+)", line, re.IGNORECASE)
        if match:
            return match.group(1).strip("\"'")
    raise ValueError(f"{dockerfile} has no ARG {name}=<default>")


@cache
def aws_base_image() -> str:
    """The AWS Lambda base image: the Dockerfile's ``ARG BASE_IMAGE`` default, read from there so that
    ``docker build .`` and these scripts never disagree. Only another base is passed as a build-arg."""
    return dockerfile_arg_default("BASE_IMAGE")


def log(message: str) -> None:
    print(f"[container] {message}", file=sys.stderr, flush=True)


def run(cmd: Sequence[str], *, check: bool = True, capture: bool = True, timeout: float | None = 600,
        env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run a command (never through a shell); on failure raise with its output, not a bare exit code."""
    result = subprocess.run(list(cmd), cwd=cwd, env=env, text=True, timeout=timeout,
                            stdout=subprocess.PIPE if capture else None, stderr=subprocess.PIPE if capture else None)
    if check and result.returncode != 0:
        output = ((result.stdout or "") + (result.stderr or ""))[-4000:]
        raise RuntimeError(f"{shlex.join(cmd)} exited {result.returncode}\n{output}")
    return result


def container_env_script() -> Path | None:
    """The workplace's container-env.sh, if this machine has one (none on a registry user's machine)."""
    path = Path(os.environ.get("CONTAINER_ENV", ROOT.parent / "shared" / "tools" / "container-env.sh"))
    if not path.is_absolute():
        path = ROOT / path
    return path if path.is_file() and os.access(path, os.X_OK) else None


@cache
def _tool_defaults() -> dict[str, str]:
    """``container-env.sh env`` as a dict ({} without the script)."""
    script = container_env_script()
    if script is None:
        return {}
    defaults = {}
    for line in run([str(script), "env"]).stdout.splitlines():
        if line.startswith("export ") and "=" in line:
            name, value = line.removeprefix("export ").split("=", 1)
            defaults[name] = shlex.split(value)[0] if value else ""
    return defaults


def _setting(name: str, default: str) -> str:
    return os.environ.get(name) or _tool_defaults().get(name) or default


@dataclass(frozen=True)
class Toolchain:
    base_image: str
    sam_cli: tuple[str, ...]
    build_network: str | None
    wheels: Path | None
    image_tag: str
    env: dict[str, str] = field(default_factory=dict)  # the environment for docker and sam

    @property
    def stand_in_base(self) -> bool:
        return self.base_image != aws_base_image()


def ensure_docker() -> None:
    if run(["docker", "info"], check=False, timeout=60).returncode == 0:
        return
    script = container_env_script()
    if script is None:
        raise RuntimeError("no Docker daemon answers `docker info`: start Docker first")
    log(f"no Docker daemon answers: {script} docker")
    run([str(script), "docker"], capture=False)


def image_exists(reference: str) -> bool:
    return run(["docker", "image", "inspect", reference], check=False, timeout=60).returncode == 0


def ensure_base_image(reference: str) -> None:
    """Build the stand-in base when it is missing. The AWS image is never shadowed by a local build:
    the image build pulls it (and fails clearly where no registry is reachable)."""
    if image_exists(reference) or reference == aws_base_image():
        return
    script = container_env_script()
    if script is None:
        return  # a tag of the user's own: docker build pulls it or says why not
    log(f"base image {reference} is missing: {script} base-image (about a minute, once per machine)")
    run([str(script), "base-image", reference], capture=False, timeout=900)


def ensure_wheels() -> Path | None:
    """Download the pinned cp313 manylinux wheels into .wheels/ (again only when a pin changed)."""
    script = container_env_script()
    if script is None:
        return WHEELS_DIR if any(WHEELS_DIR.glob("*.whl")) else None
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in REQUIREMENTS)).hexdigest()
    stamp = WHEELS_DIR / ".requirements.sha256"
    if stamp.is_file() and stamp.read_text().strip() == digest:
        return WHEELS_DIR
    shutil.rmtree(WHEELS_DIR, ignore_errors=True)  # a changed pin: drop the old versions
    for requirements in REQUIREMENTS:
        run([str(script), "wheels", str(requirements), str(WHEELS_DIR)], capture=False, timeout=600)
    stamp.write_text(digest + "\n")
    return WHEELS_DIR


@cache
def toolchain() -> Toolchain:
    """Resolve the settings and make sure Docker, the base image and the wheels are there."""
    ensure_docker()
    base_image = _setting("LAMBDA_BASE_IMAGE", aws_base_image())
    ensure_base_image(base_image)
    network = _setting("DOCKER_BUILD_NETWORK", "") or None
    env = {**os.environ, "SAM_CLI_TELEMETRY": _setting("SAM_CLI_TELEMETRY", "0")}
    return Toolchain(
        base_image=base_image,
        sam_cli=tuple(shlex.split(_setting("SAM_CLI", "sam"))),
        build_network=network,
        wheels=ensure_wheels(),
        image_tag=os.environ.get("IMAGE") or DEFAULT_IMAGE_TAG,
        env=env,
    )


@cache
def ensure_sam() -> str:
    """The SAM CLI answers (the workplace's wrapper installs it on first use); returns its version."""
    tools = toolchain()
    if shutil.which(tools.sam_cli[0]) is None and not Path(tools.sam_cli[0]).is_file():
        raise RuntimeError(f"SAM CLI '{tools.sam_cli[0]}' not found: install aws-sam-cli or set SAM_CLI")
    version = run([*tools.sam_cli, "--version"], env=tools.env, timeout=900).stdout.strip()
    log(version)
    return version


def sam_package_dir() -> Path | None:
    """samcli's package folder inside the SAM CLI's own Python (for the bundled RIE binary)."""
    candidates = [Path(os.environ.get("SAM_VENV", Path.home() / ".cache" / "sam-cli-venv"))]
    executable = shutil.which(toolchain().sam_cli[0])
    if executable:
        candidates.append(Path(executable).resolve().parent.parent)
    for venv in candidates:
        for package in sorted(venv.glob("lib/python3*/site-packages/samcli")):
            return package
    return None


def unique_name(purpose: str) -> str:
    return f"price-{purpose}-{uuid.uuid4().hex[:10]}"


def remove_container(name: str) -> None:
    run(["docker", "rm", "-f", name], check=False, timeout=120)


@contextlib.contextmanager
def detached_container(name: str, docker_args: Sequence[str], image: str, command: Sequence[str] = ()
                       ) -> Iterator[str]:
    """``docker run -d`` on the host network; the container is removed on exit, even after an error."""
    cmd = ["docker", "run", "-d", "--name", name, "--label", LABEL, "--network", "host",
           *docker_args, image, *command]
    try:
        run(cmd, timeout=120)
        yield name
    finally:
        remove_container(name)


def container_logs(name: str, tail: int = 60) -> str:
    result = run(["docker", "logs", "--tail", str(tail), name], check=False, timeout=60)
    return (result.stdout or "") + (result.stderr or "")
