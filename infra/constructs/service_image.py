"""The service image: the repository's ``Dockerfile`` as a CDK Docker image asset.

Both stacks create this construct with the same (fixed) options, so both get the same asset
hash: ``cdk deploy`` builds and pushes one image to the bootstrap ECR repository, tagged with
that hash, and the Lambda function and the ECS task run the same digest. Synth builds nothing:
it stages the build context (only what ``.dockerignore`` keeps, minus ``IMAGE_EXCLUDES``) into
``cdk.out`` and records how to build it.

The image is built for linux/amd64 (x86_64, like the function's architecture and the task's
runtime platform). Lambda accepts only single-platform image manifests: deploy with
``BUILDX_NO_DEFAULT_ATTESTATIONS=1`` so BuildKit adds no provenance attestation index
(``make deploy`` sets it).
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Annotations, IgnoreMode
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import constants as c

REPO_ROOT = Path(__file__).resolve().parents[2]


class ServiceImage(Construct):
    """``asset``: the DockerImageAsset; ``lambda_code`` / ``container_image``: it, as each service takes it."""

    def __init__(self, scope: Construct, construct_id: str, *, directory: Path = REPO_ROOT) -> None:
        super().__init__(scope, construct_id)
        self.asset = ecr_assets.DockerImageAsset(
            self, "Asset",
            directory=str(directory),
            file="Dockerfile",
            platform=ecr_assets.Platform.LINUX_AMD64,
            ignore_mode=IgnoreMode.DOCKER,
            exclude=list(c.IMAGE_EXCLUDES),
            display_name=f"{c.SERVICE_NAME} image",
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
        return lambda_.DockerImageCode.from_ecr(self.asset.repository, tag_or_digest=self.asset.image_tag)

    @property
    def container_image(self) -> ecs.ContainerImage:
        return ecs.ContainerImage.from_docker_image_asset(self.asset)
