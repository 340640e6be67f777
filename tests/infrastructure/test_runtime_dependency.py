"""A later capability (the model registry of another issue) composes in through ``dependencies``:
both runtimes get its grant and its environment, and nothing else changes."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import App, Environment, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template

from infra.constructs.runtime_dependency import RuntimeDependency
from infra.settings import DeploymentSettings
from infra.stacks.ecs_stack import EcsStack
from infra.stacks.serverless_stack import ServerlessStack


class FakeRegistry:
    """Stands in for a registry construct: a bucket the runtimes may read."""

    def __init__(self, bucket: s3.IBucket) -> None:
        self.bucket = bucket

    def bind(self, grantee: iam.IGrantable) -> Mapping[str, str]:
        self.bucket.grant_read(grantee)
        return {"MODEL_BUCKET": self.bucket.bucket_name}


def test_a_dependency_is_granted_and_located_in_both_runtimes(tmp_path):
    # Given a registry in its own stack, passed to both stacks
    app = App(outdir=str(tmp_path))
    env = Environment(region="us-west-2")
    registry = FakeRegistry(s3.Bucket(Stack(app, "Registry", env=env), "Models"))
    assert isinstance(registry, RuntimeDependency)
    settings = DeploymentSettings()
    serverless = ServerlessStack(app, "Serverless", settings=settings, dependencies=[registry], env=env)
    ecs = EcsStack(app, "Ecs", settings=settings, dependencies=[registry], env=env)

    # Then the function and the task read the bucket, and are told where it is
    serverless_template = Template.from_stack(serverless)
    serverless_template.has_resource_properties("AWS::Lambda::Function", {
        "Environment": {"Variables": Match.object_like({"MODEL_BUCKET": Match.any_value()})}})
    ecs_template = Template.from_stack(ecs)
    ecs_template.has_resource_properties("AWS::ECS::TaskDefinition", {"ContainerDefinitions": [Match.object_like({
        "Environment": Match.array_with([{"Name": "MODEL_BUCKET", "Value": Match.any_value()}])})]})
    for template in (serverless_template, ecs_template):
        template.has_resource_properties("AWS::IAM::Policy", {"PolicyDocument": {"Statement": Match.array_with([
            Match.object_like({"Action": Match.array_with(["s3:GetObject*"])})])}})
