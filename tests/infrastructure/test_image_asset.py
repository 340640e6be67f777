"""The image asset: one build context, staged without local tooling, hashed on what the image holds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Annotations, Match

from infra.constructs.service_image import ServiceImage
from tests.infrastructure.conftest import REPO_ROOT

NEVER_IN_CONTEXT = {".git", ".venv", "node_modules", "cdk.out", "tests", "infra", ".wheels", "__pycache__"}


def _staged_context(default) -> Path:
    manifest = json.loads(next(Path(default.assembly.directory).glob("*Serverless*.assets.json")).read_text())
    [image] = manifest["dockerImages"].values()
    return Path(default.assembly.directory) / image["source"]["directory"]


def test_staged_build_context_holds_what_the_dockerfile_reads_and_no_tooling(default):
    staged = _staged_context(default)
    assert (staged / "Dockerfile").is_file()
    assert (staged / "lambda_fn" / "api" / "handler.py").is_file()
    assert any((staged / "model" / "artifacts").glob("*/LATEST")), "the trained model is part of the image"
    names = {part for path in staged.rglob("*") for part in path.relative_to(staged).parts}
    assert not names & NEVER_IN_CONTEXT


def test_synth_needs_no_lookups(default):
    # Missing context would mean a lookup (an AWS call) at synth time; the stacks need none.
    assert not json.loads((Path(default.assembly.directory) / "manifest.json").read_text()).get("missing")


@pytest.fixture
def context_dir(tmp_path) -> Path:
    """A build context like the repository's: its Dockerfile and .dockerignore, a function, a model."""
    root = tmp_path / "context"
    root.mkdir()
    shutil.copy(REPO_ROOT / "Dockerfile", root / "Dockerfile")
    shutil.copy(REPO_ROOT / ".dockerignore", root / ".dockerignore")
    (root / "lambda_fn").mkdir()
    (root / "lambda_fn" / "handler.py").write_text("def lambda_handler(event, context): ...\n")
    (root / "model" / "artifacts" / "basic").mkdir(parents=True)
    (root / "model" / "artifacts" / "basic" / "LATEST").write_text("v1\n")
    return root


def _image(directory: Path, outdir: Path) -> ServiceImage:
    return ServiceImage(Stack(App(outdir=str(outdir)), "Images"), "Image", directory=directory)


def test_asset_hash_ignores_tooling_and_follows_the_code(context_dir, tmp_path):
    # Given a build context and its asset hash
    before = _image(context_dir, tmp_path / "a").asset.asset_hash
    # When local tooling, caches, tests and downloaded wheels appear beside (and inside) it
    for junk in (".venv/lib/site.py", "node_modules/x/index.js", "cdk.out/manifest.json", "tests/test_x.py",
                 ".wheels/numpy-2.4.6-cp313-manylinux_2_28_x86_64.whl", "lambda_fn/__pycache__/handler.pyc",
                 "infra/app.py", "README.md"):
        (context_dir / junk).parent.mkdir(parents=True, exist_ok=True)
        (context_dir / junk).write_text("junk\n")
    # Then the hash (so the image, the Lambda version, the ECS deployment) stays the same
    assert _image(context_dir, tmp_path / "b").asset.asset_hash == before
    # And a code change is a new image
    (context_dir / "lambda_fn" / "handler.py").write_text("def lambda_handler(event, context): return 1\n")
    assert _image(context_dir, tmp_path / "c").asset.asset_hash != before


def test_synth_warns_when_no_model_is_trained(context_dir, tmp_path):
    shutil.rmtree(context_dir / "model")
    image = _image(context_dir, tmp_path / "out")
    Annotations.from_stack(image.node.scope).has_warning("*", Match.string_like_regexp("make artifacts"))
