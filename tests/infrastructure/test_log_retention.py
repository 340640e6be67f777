"""Every log group of every stack expires: the ones the app declares, the ones its Lambda
functions (CDK's custom resource providers included) write to, and API Gateway's execution logs."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Aspects, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import custom_resources as cr
from aws_cdk.aws_logs import RetentionDays

from infra import constants as c
from infra.function_logs import FunctionLogGroups
from tests.infrastructure.helpers import only

RETENTION_DAYS = 30  # c.LOG_RETENTION, as CloudFormation states it


@pytest.fixture(params=["default", "with_ecs", "scaled"])
def templates(request) -> dict[str, dict]:
    return request.getfixturevalue(request.param).templates


def _resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {key: r for key, r in template["Resources"].items() if r["Type"] == resource_type}


def _functions_without_expiring_logs(template: dict[str, Any]) -> list[str]:
    """Functions whose LoggingConfig does not name a log group of this template with a retention."""
    groups = _resources(template, "AWS::Logs::LogGroup")
    missing = []
    for function_id, function in _resources(template, "AWS::Lambda::Function").items():
        ref = function["Properties"].get("LoggingConfig", {}).get("LogGroup", {})
        group = groups.get(ref.get("Ref")) if isinstance(ref, dict) else None
        if group is None or "RetentionInDays" not in group["Properties"]:
            missing.append(function_id)
    return missing


def test_every_log_group_has_a_retention(templates):
    assert c.LOG_RETENTION == RetentionDays.ONE_MONTH
    for stack, template in templates.items():
        for group_id, group in _resources(template, "AWS::Logs::LogGroup").items():
            assert group["Properties"].get("RetentionInDays") == RETENTION_DAYS, f"{stack}: {group_id}"


def test_every_function_logs_to_a_group_with_a_retention(templates):
    for stack, template in templates.items():
        assert not _functions_without_expiring_logs(template), stack
        # Through its log group, not CDK's logRetention: that custom resource's own function
        # would log without expiry.
        assert not _resources(template, "Custom::LogRetention"), stack


def test_the_ecs_stack_has_cdks_own_provider_function_and_it_expires(ecs):
    # The VPC's default security group lock-down runs a provider function CDK creates itself.
    template = ecs.to_json()
    providers = [key for key in _resources(template, "AWS::Lambda::Function") if "CustomResourceProvider" in key]
    assert providers and not _functions_without_expiring_logs(template)


def test_api_gateway_execution_logs_expire(serverless, default):
    template = serverless.to_json()
    api_id, _ = only(serverless, "AWS::ApiGateway::RestApi")
    named = {key: group for key, group in _resources(template, "AWS::Logs::LogGroup").items()
             if "LogGroupName" in group["Properties"]}
    [(group_id, group)] = named.items()
    # The name API Gateway writes to: API-Gateway-Execution-Logs_<rest api id>/<stage>
    assert group["Properties"]["LogGroupName"] == {
        "Fn::Join": ["", ["API-Gateway-Execution-Logs_", {"Ref": api_id}, f"/{default.stage}"]]}
    assert group["Properties"]["RetentionInDays"] == RETENTION_DAYS
    # It exists before the stage can log anything.
    _, stage = only(serverless, "AWS::ApiGateway::Stage")
    assert group_id in stage["DependsOn"]
    assert stage["Properties"]["MethodSettings"][0]["LoggingLevel"] == "ERROR"


def test_the_aspect_gives_any_function_without_a_log_group_one_that_expires(tmp_path):
    # Given functions the app does not configure: a plain one, AwsCustomResource's provider,
    # and the VPC's default security group lock-down (a CfnResource-based provider)
    app = App(outdir=str(tmp_path), context={"@aws-cdk/aws-ec2:restrictDefaultSecurityGroup": True})
    stack = Stack(app, "Probe")
    lambda_.Function(stack, "Plain", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler",
                     code=lambda_.Code.from_inline("def handler(event, context): pass"))
    cr.AwsCustomResource(stack, "SdkCall", on_create=cr.AwsSdkCall(
        service="SSM", action="getParameter", parameters={"Name": "/probe"},
        physical_resource_id=cr.PhysicalResourceId.of("probe")),
        policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=cr.AwsCustomResourcePolicy.ANY_RESOURCE))
    ec2.Vpc(stack, "Vpc", max_azs=1, nat_gateways=0)
    # When the aspect runs
    Aspects.of(app).add(FunctionLogGroups())
    template = app.synth().get_stack_by_name("Probe").template
    # Then each function has a group of its own with the app's retention
    assert len(_resources(template, "AWS::Lambda::Function")) == 3
    assert not _functions_without_expiring_logs(template)
    groups = _resources(template, "AWS::Logs::LogGroup").values()
    assert [g["Properties"]["RetentionInDays"] for g in groups] == [RETENTION_DAYS] * 3
