"""The synthesized CDK templates, read the way SAM and the ECS-mode runner need them.

``synth()`` runs the CDK app exactly as ``cdk synth`` does (the ``app`` command of ``cdk.json``,
with its context) into ``.aws-sam/cdk.out``, a folder of its own so it never races ``make synth``.
Nothing here hard-codes a logical id: the Lambda function is the stack's one
``AWS::Lambda::Function`` with ``PackageType: Image``, and the ECS container is the one in the
``AWS::ECS::TaskDefinition``.

``sam_template()`` writes ``<Stack>.sam.template.json`` beside the synthesized template. The
function gets its image from the CDK asset (``DockerImageCode.from_ecr`` on the asset's
repository), which ``sam build`` cannot see, so the copy adds SAM's build metadata for that same
asset: its Dockerfile and build arguments, the repository root as context (the folder CDK stages
the asset from, with the same ``.dockerignore``; the staged copy leaves out ``.wheels/``, which
offline builds need) and ``BASE_IMAGE`` when the base is not the AWS image. Nothing else changes.
"""

from __future__ import annotations

import json
import os
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.container.toolchain import ROOT, aws_base_image, log, run

SYNTH_DIR = ROOT / ".aws-sam" / "cdk.out"
# What the CDK CLI adds to the context of every `cdk synth` (path and asset metadata are what
# SAM reads to recognise a CDK template).
CLI_CONTEXT = {"aws:cdk:enable-path-metadata": True, "aws:cdk:enable-asset-metadata": True,
               "aws:cdk:version-reporting": False}
# The local runners read both front doors (SAM the function, ecs_local the task), and the ECS
# stack is opt-in per stage: ask for it, in the dev stage (config/dev.json), as `-c ecs=true` would.
LOCAL_CONTEXT = {"stage": "dev", "ecs": True}


def synth(outdir: Path = SYNTH_DIR) -> Path:
    config = json.loads((ROOT / "cdk.json").read_text())
    context = {**CLI_CONTEXT, **config.get("context", {})}
    local_context = ROOT / "cdk.context.json"
    if local_context.is_file():
        context.update(json.loads(local_context.read_text()))
    context.update(LOCAL_CONTEXT)
    env = {**os.environ, "CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": json.dumps(context)}
    outdir.mkdir(parents=True, exist_ok=True)
    for stale in outdir.glob("*.template.json"):
        stale.unlink()
    started = time.monotonic()
    result = run(shlex.split(config["app"]), env=env, check=False, timeout=600)
    templates = sorted(outdir.glob("*.template.json"))
    if result.returncode != 0 or not templates:
        raise RuntimeError(f"CDK synth ({config['app']}) failed:\n{(result.stdout + result.stderr)[-4000:]}")
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


def image_function(outdir: Path = SYNTH_DIR) -> ImageFunction:
    """The app's one container-image Lambda function."""
    found = []
    for path in sorted(outdir.glob("*.template.json")):
        if path.name.endswith(".sam.template.json"):
            continue
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


def sam_template(base_image: str, outdir: Path = SYNTH_DIR) -> tuple[Path, str]:
    """Write the SAM-buildable copy of the serverless template; returns (its path, the function's id)."""
    function = image_function(outdir)
    source = docker_image_asset(function.stack, function.resource["Properties"]["Code"]["ImageUri"], outdir)
    build_args = dict(source.get("dockerBuildArgs") or {})
    if base_image != aws_base_image():
        build_args["BASE_IMAGE"] = base_image
    template = _load(function.template)
    resource = template["Resources"][function.logical_id]
    metadata = {key: value for key, value in (resource.get("Metadata") or {}).items()
                if not key.startswith("aws:asset:")}  # SAM would let these override the lines below
    metadata.update({
        "Dockerfile": source.get("dockerFile", "Dockerfile"),
        "DockerContext": str(ROOT),
        "DockerBuildArgs": build_args,
        "DockerTag": "sam-local",
    })
    resource["Metadata"] = metadata
    path = outdir / f"{function.stack}.sam.template.json"
    path.write_text(json.dumps(template, indent=1))
    return path, function.logical_id


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
        if path.name.endswith(".sam.template.json"):
            continue
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
