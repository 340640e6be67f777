"""The service image: the repository's ``Dockerfile`` as a CDK Docker image asset, for both front doors.

The Lambda function takes it with ``DockerImageCode.from_image_asset`` and the ECS task with
``ContainerImage.from_asset``, both with the same options (``asset_options``), so both get the
same asset hash: ``cdk deploy`` builds and pushes one image to the bootstrap ECR repository, tagged
with that hash, and the function and the task run the same digest. ``from_image_asset`` is what
the AWS SAM CLI reads: on the function it records the build (``aws:asset:path``,
``aws:asset:dockerfile-path``, ``aws:asset:docker-build-args``), so ``cdk synth --no-staging``
followed by ``sam build -t cdk.out/<stack>.template.json`` builds this same recipe
(docs/decisions/016-sam-reads-the-cdk-image-asset.md).

Synth builds nothing: it stages the build context (only what ``.dockerignore`` keeps, minus
``IMAGE_EXCLUDES``) into ``cdk.out`` (with ``--no-staging``, the asset points at the repository
root instead) and records how to build it.

The image is built for linux/amd64 (x86_64, like the function's architecture and the task's
runtime platform) on the AWS Lambda base image; ``base_image`` (``$LAMBDA_BASE_IMAGE``, read by
``infra.app``) builds it on another base, passed as the ``BASE_IMAGE`` build argument, for local
runs on machines that cannot pull the AWS one. Lambda accepts only single-platform image
manifests: deploy with ``BUILDX_NO_DEFAULT_ATTESTATIONS=1`` so BuildKit adds no provenance
attestation index (``make deploy`` sets it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Annotations, IgnoreMode
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import constants as c

REPO_ROOT = Path(__file__).resolve().parents[2]


class ServiceImage(Construct):
    """``lambda_code`` / ``container_image``: the one image asset, as each service takes it.

    Each property returns a new code/image object; the asset itself is created where the function
    or the task definition binds it (a child ``AssetImage`` of the function and of the container),
    and its hash depends only on the build context and ``asset_options``, never on that place.
    """

    def __init__(self, scope: Construct, construct_id: str, *, directory: Path = REPO_ROOT,
                 base_image: str | None = None) -> None:
        super().__init__(scope, construct_id)
        self.directory = directory
        build_args = {"BASE_IMAGE": base_image} if base_image and base_image != c.AWS_LAMBDA_BASE_IMAGE else None
        self.asset_options: dict[str, Any] = {
            "file": "Dockerfile",
            "platform": ecr_assets.Platform.LINUX_AMD64,
            "build_args": build_args,
            "ignore_mode": IgnoreMode.DOCKER,
            "exclude": list(c.IMAGE_EXCLUDES),
            "display_name": f"{c.SERVICE_NAME} image",
        }
        if build_args:
            Annotations.of(self).add_warning_v2(
                "price-service:stand-in-base-image",
                f"the image is built on {base_image} (${c.BASE_IMAGE_ENV}), not {c.AWS_LAMBDA_BASE_IMAGE}: "
                f"for local runs only; unset {c.BASE_IMAGE_ENV} before `cdk deploy`",
            )
        # The image copies model/artifacts/ as it is; synth works without it, a deploy would not.
        # ("<model>/LATEST" names each model's newest local version: lambda_fn/registry/artifacts.py.)
        if not any((directory / "model" / "artifacts").glob("*/LATEST")):
            Annotations.of(self).add_warning_v2(
                "price-service:no-trained-model",
                "model/artifacts/ holds no trained model: run `make artifacts` before `cdk deploy`, "
                "or the image will not start",
            )

    @property
    def lambda_code(self) -> lambda_.DockerImageCode:
        """The image with its default command (the Lambda handler)."""
        return lambda_.DockerImageCode.from_image_asset(str(self.directory), **self.asset_options)

    @property
    def container_image(self) -> ecs.ContainerImage:
        return ecs.ContainerImage.from_asset(str(self.directory), **self.asset_options)
