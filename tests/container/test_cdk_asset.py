"""SAM builds the function's image from the repository root; CDK stages the same files as the asset."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.container import cdk_templates
from scripts.container.toolchain import ROOT

pytestmark = pytest.mark.container

# What .dockerignore lets into the build context, besides .wheels/ (offline builds only).
CONTEXT_FOLDERS = ("lambda_fn", "model/artifacts", "image")


def files_under(root: Path, folders: tuple[str, ...] = ("",)) -> set[str]:
    found = set()
    for folder in folders:
        for path in (root / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                found.add(str(path.relative_to(root)))
    return found


def test_the_cdk_asset_stages_what_sam_builds_from_the_repository_root(synthesized):
    function = cdk_templates.image_function(synthesized)
    source = cdk_templates.docker_image_asset(function.stack, function.resource["Properties"]["Code"]["ImageUri"],
                                              synthesized)
    staged = synthesized / source["directory"]

    assert source.get("platform") == "linux/amd64"
    assert files_under(staged) == files_under(ROOT, CONTEXT_FOLDERS) | {"Dockerfile", ".dockerignore"}

