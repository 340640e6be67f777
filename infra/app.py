"""The CDK app: two ways of serving the same image, one stack each, settings from CDK context.

    PriceServiceServerless-<stage>  client -> API Gateway (API key) -> Lambda alias live -> image
    PriceServiceEcs-<stage>         client (allowed CIDRs) -> ALB -> Fargate tasks -> same image
    PriceServiceModels-<stage>      S3 model registry + SSM "active version" pointers, read by both

Run by the CDK CLI (``cdk.json``: ``.venv/bin/python -m infra.app``). Synth makes no AWS call,
builds no image and reads no git state; cdk-nag's AwsSolutionsChecks run on every synth.
"""

from __future__ import annotations

from aws_cdk import App, Environment, Stack, Tags
from aws_cdk import aws_iam as iam

from infra import constants as c
from infra.constructs.model_registry import ModelRegistry
from infra.nag import check
from infra.settings import DeploymentSettings
from infra.stacks.ecs_stack import EcsStack
from infra.stacks.serverless_stack import ServerlessStack


def build_app(app: App | None = None) -> App:
    app = app or App()
    settings = DeploymentSettings.from_context(app.node)
    env = Environment(account=settings.account, region=settings.region)
    models = Stack(app, f"{c.STACK_PREFIX}Models-{settings.stage}", env=env,
                   description="Sound Realty price service: model registry (S3 versions, SSM pointers)")
    # Only the deploy role writes to the registry; principals of this account that are allowed
    # sts:AssumeRole on it (the release pipeline or a data scientist) publish and promote.
    registry = ModelRegistry(models, "Models", model_names=c.MODEL_NAMES,
                             pointer_prefix=f"/{c.SERVICE_NAME}/{settings.stage}/models",
                             deploy_principal=iam.AccountRootPrincipal())
    ServerlessStack(app, f"{c.STACK_PREFIX}Serverless-{settings.stage}", settings=settings, env=env,
                    dependencies=[registry])
    EcsStack(app, f"{c.STACK_PREFIX}Ecs-{settings.stage}", settings=settings, env=env, dependencies=[registry])
    Tags.of(app).add("service", c.SERVICE_NAME)
    Tags.of(app).add("stage", settings.stage)
    check(app)
    return app


if __name__ == "__main__":
    build_app().synth()
