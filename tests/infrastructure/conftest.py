"""Synthesizes the CDK app in-process (no CDK CLI, node only through jsii, no AWS, no Docker),
once per configuration per session, with the context of ``cdk.json`` (CDK's feature flags, as
``cdk synth`` uses them) plus per-configuration ``-c`` overrides on top of ``config/<stage>.json``.
No AWS profile: the environment variables the CDK CLI would set are empty unless a test passes them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from aws_cdk import App, cx_api
from aws_cdk.assertions import Template

from infra import constants as c
from infra.app import build_app

REPO_ROOT = Path(__file__).resolve().parents[2]

# A deployment with everything optional switched on: the ECS stack, provisioned concurrency with
# a reserved ceiling, HTTPS on the load balancer, two client ranges, an alarm email, another stage
# (with the model publisher every stage beyond dev needs).
SCALED_CONTEXT = {
    "stage": "prod",
    "ecs": "true",
    "provisionedConcurrency": "true",
    "provisionedConcurrencyMin": "2",
    "provisionedConcurrencyMax": "8",
    "reservedConcurrency": "20",
    "memoryMb": "1769",
    "allowedCidrs": "198.51.100.0/24,192.0.2.10/32",
    "certificateArn": "arn:aws:acm:us-west-2:111122223333:certificate/0b1c2d3e-1111-2222-3333-444455556666",
    "throttleRateLimit": "20",
    "throttleBurstLimit": "40",
    "quotaPerDay": "5000",
    "alarmEmail": "oncall@example.com",
    "modelPublisherArn": "arn:aws:iam::111122223333:role/price-service-release",
}


def cdk_json_context() -> dict:
    return json.loads((REPO_ROOT / "cdk.json").read_text())["context"]


@dataclass
class Synthesized:
    app: App
    assembly: cx_api.CloudAssembly
    stage: str

    def template(self, kind: str) -> Template:
        return Template.from_json(self.stack(kind).template)

    def stack(self, kind: str) -> cx_api.CloudFormationStackArtifact:
        return self.assembly.get_stack_by_name(f"{c.STACK_PREFIX}{kind}-{self.stage}")

    @property
    def templates(self) -> dict[str, dict]:
        return {stack.stack_name: stack.template for stack in self.assembly.stacks}


def synthesize(outdir: Path, environ: dict[str, str] | None = None, **overrides: str) -> Synthesized:
    """``environ``: what the CDK CLI would export from an AWS profile (CDK_DEFAULT_REGION, ...)."""
    context = {**cdk_json_context(), **overrides}
    app = build_app(App(context=context, outdir=str(outdir)), environ=environ or {})
    return Synthesized(app=app, assembly=app.synth(), stage=context.get("stage", c.DEFAULT_STAGE))


@pytest.fixture(scope="session")
def default(tmp_path_factory) -> Synthesized:
    """config/dev.json as committed: no ECS stack."""
    return synthesize(tmp_path_factory.mktemp("cdk-default"))


@pytest.fixture(scope="session")
def with_ecs(tmp_path_factory) -> Synthesized:
    """config/dev.json with ``-c ecs=true``: all three stacks, the ECS one with its defaults."""
    return synthesize(tmp_path_factory.mktemp("cdk-with-ecs"), ecs="true")


@pytest.fixture(scope="session")
def scaled(tmp_path_factory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk-scaled"), **SCALED_CONTEXT)


@pytest.fixture(scope="session")
def serverless(default) -> Template:
    return default.template("Serverless")


@pytest.fixture(scope="session")
def ecs(with_ecs) -> Template:
    return with_ecs.template("Ecs")
