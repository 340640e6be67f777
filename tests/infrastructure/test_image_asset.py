"""The image asset: one build context, staged without local tooling, hashed on what the image holds;
the function and the task take it with the same options, so they share one hash; and the function
carries the build metadata the SAM CLI reads after ``cdk synth --no-staging``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Annotations, Match

from infra import constants as c
from infra.constructs.service_image import ServiceImage
from scripts.container.toolchain import aws_base_image
from tests.infrastructure.conftest import REPO_ROOT, synthesize
from tests.infrastructure.helpers import price_function

NEVER_IN_CONTEXT = {".git", ".venv", "node_modules", "cdk.out", "tests", "infra", ".wheels", "__pycache__"}
# What .dockerignore lets into the build context, besides .wheels/ (offline builds only).
CONTEXT_FOLDERS = ("lambda_fn", "model/artifacts", "image")
STAND_IN = "local/lambda-python:3.13"


def _staged_context(default) -> Path:
    manifest = json.loads(next(Path(default.assembly.directory).glob("*Serverless*.assets.json")).read_text())
    [image] = manifest["dockerImages"].values()
    return Path(default.assembly.directory) / image["source"]["directory"]


def files_under(root: Path, folders: tuple[str, ...] = ("",)) -> set[str]:
    found = set()
    for folder in folders:
        for path in (root / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                found.add(str(path.relative_to(root)))
    return found


def test_staged_build_context_holds_what_the_dockerfile_reads_and_no_tooling(default):
    staged = _staged_context(default)
    assert (staged / "Dockerfile").is_file()
    assert (staged / "lambda_fn" / "api" / "handler.py").is_file()
    assert any((staged / "model" / "artifacts").glob("*/LATEST")), "the trained model is part of the image"
    names = {part for path in staged.rglob("*") for part in path.relative_to(staged).parts}
    assert not names & NEVER_IN_CONTEXT


def test_cdk_deploy_stages_what_make_image_and_sam_build_send_from_the_repository_root(default):
    # `make image` and `sam build` (after `cdk synth --no-staging`) build from the repository root
    # through .dockerignore; `cdk deploy` builds the staged copy: the same files, .wheels/ aside.
    assert files_under(_staged_context(default)) == files_under(REPO_ROOT, CONTEXT_FOLDERS) | {"Dockerfile",
                                                                                             ".dockerignore"}


def test_synth_needs_no_lookups(default):
    # Missing context would mean a lookup (an AWS call) at synth time; the stacks need none.
    assert not json.loads((Path(default.assembly.directory) / "manifest.json").read_text()).get("missing")


def test_the_aws_base_image_is_the_dockerfiles_default():
    assert aws_base_image() == c.AWS_LAMBDA_BASE_IMAGE


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


def _front_doors(directory: Path, outdir: Path, base_image: str | None = None) -> tuple[Stack, str, str]:
    """A function and a task definition taking the image as the stacks do: (stack, function's asset
    hash, task's asset hash)."""
    stack = Stack(App(outdir=str(outdir)), "Images")
    image = ServiceImage(stack, "Image", directory=directory, base_image=base_image)
    function = lambda_.DockerImageFunction(stack, "Function", code=image.lambda_code)
    task = ecs.FargateTaskDefinition(stack, "Task")
    container = task.add_container("Web", image=image.container_image)
    return (stack, function.node.find_child("AssetImage").asset_hash,
            container.node.find_child("AssetImage").asset_hash)


def _hash(directory: Path, outdir: Path, base_image: str | None = None) -> str:
    _, function_hash, task_hash = _front_doors(directory, outdir, base_image)
    assert function_hash == task_hash, "the function and the task must run one image"
    return function_hash


def test_asset_hash_ignores_tooling_and_follows_the_code(context_dir, tmp_path):
    # Given a build context and its asset hash
    before = _hash(context_dir, tmp_path / "a")
    # When local tooling, caches, tests and downloaded wheels appear beside (and inside) it
    for junk in (".venv/lib/site.py", "node_modules/x/index.js", "cdk.out/manifest.json", "tests/test_x.py",
                 ".wheels/numpy-2.4.6-cp313-manylinux_2_28_x86_64.whl", "lambda_fn/__pycache__/handler.pyc",
                 "infra/app.py", "README.md"):
        (context_dir / junk).parent.mkdir(parents=True, exist_ok=True)
        (context_dir / junk).write_text("junk\n")
    # Then the hash (so the image, the Lambda version, the ECS deployment) stays the same
    assert _hash(context_dir, tmp_path / "b") == before
    # And a code change is a new image, for both
    (context_dir / "lambda_fn" / "handler.py").write_text("def lambda_handler(event, context): return 1\n")
    assert _hash(context_dir, tmp_path / "c") != before


def test_a_stand_in_base_is_a_build_argument_another_image_and_a_warning(context_dir, tmp_path):
    aws = _hash(context_dir, tmp_path / "aws")
    # Naming the AWS base changes nothing: no build argument, the same image.
    assert _hash(context_dir, tmp_path / "named", base_image=c.AWS_LAMBDA_BASE_IMAGE) == aws

    stack, function_hash, task_hash = _front_doors(context_dir, tmp_path / "stand-in", base_image=STAND_IN)

    assert function_hash == task_hash != aws
    Annotations.from_stack(stack).has_warning("*", Match.string_like_regexp(f"built on {STAND_IN}"))


def test_synth_warns_when_no_model_is_trained(context_dir, tmp_path):
    shutil.rmtree(context_dir / "model")
    stack, _, _ = _front_doors(context_dir, tmp_path / "out")
    Annotations.from_stack(stack).has_warning("*", Match.string_like_regexp("make artifacts"))


@pytest.fixture(scope="module")
def no_staging(tmp_path_factory):
    """The app as ``cdk synth --no-staging`` runs it (the CDK CLI adds the asset-metadata context),
    on a stand-in base as ``make sam-invoke`` does on a machine without the AWS image."""
    return synthesize(tmp_path_factory.mktemp("cdk-no-staging"), environ={c.BASE_IMAGE_ENV: STAND_IN},
                      **{"aws:cdk:enable-asset-metadata": True, "aws:cdk:disable-asset-staging": True})


def test_sam_reads_the_image_build_from_the_function_after_a_no_staging_synth(no_staging):
    _, function = price_function(no_staging.template("Serverless"))

    metadata = function["Metadata"]
    assert metadata["aws:asset:property"] == "Code.ImageUri"
    assert metadata["aws:asset:path"] == str(REPO_ROOT)  # the repository root itself, not a staged copy
    assert metadata["aws:asset:dockerfile-path"] == "Dockerfile"
    assert metadata["aws:asset:docker-build-args"] == {"BASE_IMAGE": STAND_IN}
    # The image is not staged (a bundled zip, such as the pre-traffic hook's, still is: it is built output).
    assert not [p for p in Path(no_staging.assembly.directory).glob("asset.*") if (p / "Dockerfile").exists()]


def test_the_aws_base_needs_no_build_argument(default):
    manifest = json.loads(next(Path(default.assembly.directory).glob("*Serverless*.assets.json")).read_text())
    [image] = manifest["dockerImages"].values()

    assert "dockerBuildArgs" not in image["source"]
    assert image["source"]["platform"] == "linux/amd64"
