"""The CDK app: two ways of serving the same image, one stack each, settings per stage.

    PriceServiceServerless-<stage>  client -> API Gateway (API key) -> Lambda alias live -> image
    PriceServiceEcs-<stage>         client (allowed CIDRs) -> ALB -> Fargate tasks -> same image
                                    (only with the setting ``ecs``)
    PriceServiceModels-<stage>      S3 model registry + SSM "active version" pointers, read by both

Run by the CDK CLI (``cdk.json``: ``.venv/bin/python -m infra.app``). Settings: ``config/<stage>.json``
and ``-c`` (``infra.settings``); account and region: ``target_environment``; the image's base:
``$LAMBDA_BASE_IMAGE`` when set (a stand-in for local runs; ``infra.constructs.service_image``).
Synth makes no AWS call, builds no image and reads no git state; cdk-nag's AwsSolutionsChecks run
on every synth.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from aws_cdk import App, Aspects, Environment, Stack, Tags
from aws_cdk import aws_iam as iam

from infra import constants as c
from infra.constructs.model_registry import ModelRegistry
from infra.function_logs import FunctionLogGroups
from infra.nag import check
from infra.settings import DeploymentSettings
from infra.stacks.ecs_stack import EcsStack
from infra.stacks.serverless_stack import ServerlessStack


def target_environment(settings: DeploymentSettings, environ: Mapping[str, str]) -> Environment:
    """Where the stacks go: the settings' account and region, else the AWS profile's (the CDK CLI
    exports them as CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION), else no account (synth without
    credentials) and ``FALLBACK_REGION``: the load balancer's log policy needs a concrete region."""
    return Environment(
        account=settings.account or environ.get("CDK_DEFAULT_ACCOUNT") or None,
        region=settings.region or environ.get("CDK_DEFAULT_REGION") or c.FALLBACK_REGION,
    )


def model_publisher(settings: DeploymentSettings) -> iam.IPrincipal:
    """Who may assume the registry's deploy role (the only writer and signer): the configured
    publisher; in dev without one, the account root, so anyone the account allows sts:AssumeRole on
    it (the settings refuse that outside dev)."""
    if settings.model_publisher_arn:
        return iam.ArnPrincipal(settings.model_publisher_arn)
    return iam.AccountRootPrincipal()


def build_app(app: App | None = None, environ: Mapping[str, str] = os.environ) -> App:
    app = app or App()
    settings = DeploymentSettings.from_context(app.node)
    env = target_environment(settings, environ)
    models = Stack(app, f"{c.STACK_PREFIX}Models-{settings.stage}", env=env,
                   description="Sound Realty price service: model registry (S3 versions, SSM pointers)")
    registry = ModelRegistry(models, "Models", model_names=c.MODEL_NAMES,
                             pointer_prefix=f"/{c.SERVICE_NAME}/{settings.stage}/models",
                             deploy_principal=model_publisher(settings))
    # Both stacks build the one image (same asset options, same hash); a stand-in base only for local runs.
    base_image = environ.get(c.BASE_IMAGE_ENV) or None
    ServerlessStack(app, f"{c.STACK_PREFIX}Serverless-{settings.stage}", settings=settings, env=env,
                    dependencies=[registry], alarm_email=settings.alarm_email, base_image=base_image)
    if settings.ecs:
        EcsStack(app, f"{c.STACK_PREFIX}Ecs-{settings.stage}", settings=settings, env=env, dependencies=[registry],
                 base_image=base_image)
    Aspects.of(app).add(FunctionLogGroups())
    Tags.of(app).add("service", c.SERVICE_NAME)
    Tags.of(app).add("stage", settings.stage)
    check(app)
    return app


def main() -> None:
    app = App()
    try:
        DeploymentSettings.from_context(app.node)
    except ValueError as error:  # a refused setting: its message says what to change, a traceback nothing more
        sys.exit(f"price service settings: {error}")
    build_app(app).synth()


if __name__ == "__main__":
    main()
