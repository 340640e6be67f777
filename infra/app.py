"""The CDK app: two ways of serving the same image, one stack each, settings from CDK context.

    PriceServiceServerless-<stage>  client -> API Gateway (API key) -> Lambda alias live -> image
    PriceServiceEcs-<stage>         client (allowed CIDRs) -> ALB -> Fargate tasks -> same image

Run by the CDK CLI (``cdk.json``: ``.venv/bin/python -m infra.app``). Synth makes no AWS call,
builds no image and reads no git state; cdk-nag's AwsSolutionsChecks run on every synth.
"""

from __future__ import annotations

from aws_cdk import App, Environment, Tags

from infra import constants as c
from infra.nag import check
from infra.settings import DeploymentSettings
from infra.stacks.ecs_stack import EcsStack
from infra.stacks.serverless_stack import ServerlessStack


def build_app(app: App | None = None) -> App:
    app = app or App()
    settings = DeploymentSettings.from_context(app.node)
    env = Environment(account=settings.account, region=settings.region)
    ServerlessStack(app, f"{c.STACK_PREFIX}Serverless-{settings.stage}", settings=settings, env=env)
    EcsStack(app, f"{c.STACK_PREFIX}Ecs-{settings.stage}", settings=settings, env=env)
    Tags.of(app).add("service", c.SERVICE_NAME)
    Tags.of(app).add("stage", settings.stage)
    check(app)
    return app


if __name__ == "__main__":
    build_app().synth()
