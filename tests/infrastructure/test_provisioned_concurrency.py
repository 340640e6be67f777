"""Provisioned concurrency on alias ``live`` has one owner: Application Auto Scaling when it scales
between a minimum and a maximum, the alias' own setting when the two are equal, never both."""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from infra import constants as c
from infra.constructs.price_function import PriceFunction
from tests.infrastructure.helpers import only

SCALABLE_TARGET = "AWS::ApplicationAutoScaling::ScalableTarget"


def synthesize(provisioned_concurrency: tuple[int, int] | None) -> Template:
    stack = Stack(App())
    repository = ecr.Repository.from_repository_name(stack, "Images", "price-service")
    PriceFunction(stack, "PriceFunction", code=lambda_.DockerImageCode.from_ecr(repository), memory_mb=1769,
                  log_level="INFO", default_model="gbm", provisioned_concurrency=provisioned_concurrency)
    return Template.from_stack(stack)


def test_a_range_is_owned_by_application_auto_scaling():
    # Given min 2 < max 8
    template = synthesize((2, 8))
    # Then the alias declares no provisioned concurrency of its own ...
    alias_id, alias = only(template, "AWS::Lambda::Alias")
    assert "ProvisionedConcurrencyConfig" not in alias["Properties"]
    # ... and the scalable target holds the range, registered after the alias it scales
    target_id, target = only(template, SCALABLE_TARGET)
    properties = target["Properties"]
    assert (properties["MinCapacity"], properties["MaxCapacity"]) == (2, 8)
    assert properties["ScalableDimension"] == "lambda:function:ProvisionedConcurrency"
    assert {"Ref": alias_id} in properties["ResourceId"]["Fn::Join"][1][1]["Fn::Select"][1]["Fn::Split"]
    template.has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {
        "ScalingTargetId": {"Ref": target_id},
        "TargetTrackingScalingPolicyConfiguration": {
            "PredefinedMetricSpecification": {"PredefinedMetricType": "LambdaProvisionedConcurrencyUtilization"},
            "TargetValue": c.PROVISIONED_UTILIZATION_TARGET,
        },
    })


@pytest.mark.parametrize("amount", [1, 5])
def test_a_fixed_amount_is_owned_by_the_alias(amount):
    template = synthesize((amount, amount))
    _, alias = only(template, "AWS::Lambda::Alias")
    assert alias["Properties"]["ProvisionedConcurrencyConfig"] == {"ProvisionedConcurrentExecutions": amount}
    template.resource_count_is(SCALABLE_TARGET, 0)
    template.resource_count_is("AWS::ApplicationAutoScaling::ScalingPolicy", 0)


def test_none_is_none():
    template = synthesize(None)
    _, alias = only(template, "AWS::Lambda::Alias")
    assert "ProvisionedConcurrencyConfig" not in alias["Properties"]
    template.resource_count_is(SCALABLE_TARGET, 0)
