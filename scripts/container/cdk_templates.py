"""The CDK app synthesized the way the AWS SAM CLI reads it, and the templates read back.

``synth()`` runs ``cdk synth --no-staging`` through the pinned CDK CLI (``npx --no-install cdk``,
``package.json``) into ``.aws-sam/cdk.out``, a folder of its own so it never races ``make synth``,
with the stage ``dev`` and the ECS stack on (the local runners read both front doors). With
``--no-staging`` the image asset points at the repository root, and the function's metadata
(``aws:asset:path``, ``aws:asset:dockerfile-path``, ``aws:asset:docker-build-args``) tell
``sam build`` how to build it: the template is used exactly as synthesized, never rewritten.
The base image reaches the asset as ``$LAMBDA_BASE_IMAGE`` (``infra.constructs.service_image``).

Nothing here hard-codes a logical id: the Lambda function is the stack's one
``AWS::Lambda::Function`` with ``PackageType: Image``, and the ECS container is the one in the
``AWS::ECS::TaskDefinition``.
"""

from __future__ import annotations

import json
import os
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.container.toolchain import ROOT, log, run

SYNTH_DIR = ROOT / ".aws-sam" / "cdk.out"
CDK = ("npx", "--no-install", "cdk")  # the CLI package.json pins (`npm ci` installs it)
# The local runners read both front doors (SAM the function, ecs_local the task), and the ECS
# stack is opt-in per stage: ask for it, in the dev stage (config/dev.json), as `-c ecs=true` would.
LOCAL_CONTEXT = {"stage": "dev", "ecs": "true"}
BASE_IMAGE_ENV = "LAMBDA_BASE_IMAGE"  # infra.constants.BASE_IMAGE_ENV


def synth_command(outdir: Path = SYNTH_DIR) -> list[str]:
    context = [arg for key, value in LOCAL_CONTEXT.items() for arg in ("-c", f"{key}={value}")]
    return [*CDK, "synth", "--no-staging", "--quiet", "--output", str(outdir), *context]


def synth(outdir: Path = SYNTH_DIR, *, base_image: str | None = None) -> Path:
    """``cdk synth --no-staging`` of every stack; ``base_image`` builds the image on that base."""
    env = dict(os.environ)
    if base_image:
        env[BASE_IMAGE_ENV] = base_image
    outdir.mkdir(parents=True, exist_ok=True)
    for stale in outdir.glob("*.template.json"):
        stale.unlink()
    cmd = synth_command(outdir)
    log(f"{BASE_IMAGE_ENV}={base_image} {shlex.join(cmd)}" if base_image else shlex.join(cmd))
    started = time.monotonic()
    try:
        result = run(cmd, env=env, check=False, timeout=600)
    except FileNotFoundError as error:
        raise RuntimeError("`npx` not found: install Node.js (package.json's engines), then `npm ci`") from error
    templates = sorted(outdir.glob("*.template.json"))
    if result.returncode != 0 or not templates:
        raise RuntimeError(f"{shlex.join(cmd)} failed (`npm ci` installs the pinned CDK CLI):\n"
                           f"{(result.stdout + result.stderr)[-4000:]}")
    log(f"synthesized {', '.join(t.name for t in templates)} in {time.monotonic() - started:.1f} s")
    return outdir


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {key: value for key, value in template.get("Resources", {}).items() if value.get("Type") == resource_type}


@dataclass(frozen=True)
class ImageFunction:
    stack: str
    template: Path
    logical_id: str
    resource: dict[str, Any]

    @property
    def environment(self) -> dict[str, str]:
        variables = self.resource["Properties"].get("Environment", {}).get("Variables", {})
        return {key: value for key, value in variables.items() if isinstance(value, str)}

    @property
    def image_build(self) -> dict[str, Any]:
        """What ``sam build`` reads from the function's metadata: build context, Dockerfile, build args."""
        metadata = self.resource.get("Metadata") or {}
        return {"context": metadata.get("aws:asset:path"), "dockerfile": metadata.get("aws:asset:dockerfile-path"),
                "build_args": metadata.get("aws:asset:docker-build-args") or {}}


def image_function(outdir: Path = SYNTH_DIR) -> ImageFunction:
    """The app's one container-image Lambda function."""
    found = []
    for path in sorted(outdir.glob("*.template.json")):
        for logical_id, resource in _resources(_load(path), "AWS::Lambda::Function").items():
            if resource.get("Properties", {}).get("PackageType") == "Image":
                found.append(ImageFunction(path.name.removesuffix(".template.json"), path, logical_id, resource))
    if len(found) != 1:
        raise RuntimeError(f"expected one image-based Lambda function in {outdir}, found "
                           f"{[(f.stack, f.logical_id) for f in found]}")
    return found[0]


def docker_image_asset(stack: str, image_reference: Any, outdir: Path = SYNTH_DIR) -> dict[str, Any]:
    """The asset manifest entry (source: directory, dockerFile, buildArgs, platform) behind an image URI."""
    reference = json.dumps(image_reference)
    assets = _load(outdir / f"{stack}.assets.json").get("dockerImages", {})
    matches = [entry["source"] for asset_hash, entry in assets.items() if asset_hash in reference]
    if len(matches) != 1:
        raise RuntimeError(f"{stack}: cannot tell which image asset {reference} uses ({len(matches)} match)")
    return matches[0]


@dataclass(frozen=True)
class EcsContainer:
    stack: str
    name: str
    entry_point: list[str]
    command: list[str]
    user: str | None
    working_directory: str | None
    environment: dict[str, str]
    container_port: int
    cpu_units: int | None  # the task's size: 1024 units = 1 vCPU
    memory_mib: int | None


def ecs_container(outdir: Path = SYNTH_DIR) -> EcsContainer:
    """The container definition of the app's ECS task (the service image with the HTTP server command)."""
    found = []
    for path in sorted(outdir.glob("*.template.json")):
        for task in _resources(_load(path), "AWS::ECS::TaskDefinition").values():
            for container in task["Properties"].get("ContainerDefinitions", []):
                found.append((path.name.removesuffix(".template.json"), task["Properties"], container))
    if len(found) != 1:
        raise RuntimeError(f"expected one ECS container definition in {outdir}, found {len(found)}")
    stack, task, container = found[0]
    ports = container.get("PortMappings") or [{}]
    return EcsContainer(
        stack=stack,
        name=container["Name"],
        entry_point=list(container.get("EntryPoint") or []),
        command=list(container.get("Command") or []),
        user=container.get("User"),
        working_directory=container.get("WorkingDirectory"),
        environment={item["Name"]: item["Value"] for item in container.get("Environment", [])
                     if isinstance(item.get("Value"), str)},
        container_port=int(ports[0].get("ContainerPort", 8080)),
        cpu_units=int(task["Cpu"]) if str(task.get("Cpu", "")).isdigit() else None,
        memory_mib=int(task["Memory"]) if str(task.get("Memory", "")).isdigit() else None,
    )
