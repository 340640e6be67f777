"""One recipe for the image: ``make image``, ``sam build`` on the ``cdk synth --no-staging`` template
and ``cdk deploy``'s asset build use the same Dockerfile, context, build arguments and platform,
and both stacks name the one asset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.container import cdk_templates, image
from scripts.container.toolchain import PLATFORM, ROOT, run

pytestmark = pytest.mark.container


def _make_image_recipe(tools) -> dict:
    """Dockerfile, context and build arguments of ``make image``'s ``docker build``."""
    cmd, _, _ = image.build_command(tools, "recipe:check")
    build_args = dict(cmd[i + 1].split("=", 1) for i, arg in enumerate(cmd) if arg == "--build-arg")
    return {"context": str(ROOT / cmd[-1]), "dockerfile": cmd[cmd.index("--file") + 1],
            "build_args": build_args, "platform": cmd[cmd.index("--platform") + 1]}


def test_sam_builds_what_make_image_builds_from_the_unchanged_template(synthesized, tools):
    function = cdk_templates.image_function(synthesized)
    asset = cdk_templates.docker_image_asset(function.stack, function.resource["Properties"]["Code"]["ImageUri"],
                                             synthesized)

    # What sam build reads from the function (cdk synth --no-staging: the repository root itself)
    assert {**function.image_build, "platform": asset.get("platform")} == _make_image_recipe(tools)
    assert asset["platform"] == PLATFORM
    # and the template on disk is the one cdk wrote: nothing beside it, no SAM keys added to it.
    assert not list(synthesized.glob("*.sam.template.json"))
    assert not {"Dockerfile", "DockerContext", "DockerBuildArgs", "DockerTag"} & set(function.resource["Metadata"])


def test_both_stacks_name_one_image_asset(synthesized):
    function = cdk_templates.image_function(synthesized)
    [ecs_stack] = [path for path in synthesized.glob("*.template.json") if "Ecs" in path.name]
    images = {}
    for manifest in synthesized.glob("*.assets.json"):
        images.update(json.loads(manifest.read_text()).get("dockerImages", {}))

    [asset_hash] = images
    assert asset_hash in json.dumps(function.resource["Properties"]["Code"]["ImageUri"])
    assert asset_hash in json.dumps([task["Properties"]["ContainerDefinitions"][0]["Image"]
                                     for task in json.loads(ecs_stack.read_text())["Resources"].values()
                                     if task["Type"] == "AWS::ECS::TaskDefinition"])
    assert Path(images[asset_hash]["source"]["directory"]) == ROOT  # not staged: SAM builds the source


def test_sam_build_and_make_image_make_the_same_image(built_image, sam_build):
    if built_image.builder != "classic":
        pytest.skip("buildx and SAM's classic build share no layer cache; the recipe test above still holds")
    sam_image = json.loads(run(["docker", "image", "inspect", sam_build.image]).stdout)[0]
    # The classic builder reuses a cached step only for the same instruction, files and arguments:
    # one image id means every step of SAM's build was make image's.
    assert sam_image["Id"] == built_image.id
