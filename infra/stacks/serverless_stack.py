"""The serverless path: API Gateway (REST, API key) -> alias ``live`` -> container-image Lambda.

Composes: the service image, the function with its alias (and optional provisioned
concurrency), the pre-traffic hook that tries each new version, the canary deployment that
then moves the alias, the API in front of it, and the alarms that notify a person (with their
dashboard).
Outputs: ``ApiUrl`` (the stage URL, ending in ``/<stage>/``), ``ApiKeyId`` (read its value with
``aws apigateway get-api-key --include-value``), ``FunctionName``, ``DeploymentGroupName``,
``PreTrafficHookLogGroup``, ``AlarmTopicArn``, ``DashboardName``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.constructs.alarms import ServiceAlarms
from infra.constructs.canary_deployment import CanaryDeployment
from infra.constructs.pre_traffic_hook.infrastructure import PreTrafficHook
from infra.constructs.price_api import PriceApi
from infra.constructs.price_function import PriceFunction
from infra.constructs.runtime_dependency import RuntimeDependency
from infra.constructs.service_image import ServiceImage
from infra.settings import DeploymentSettings


class ServerlessStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: DeploymentSettings,
        dependencies: Sequence[RuntimeDependency] = (),
        alarm_email: str | None = None,
        base_image: str | None = None,
        **kwargs: Any,
    ) -> None:
        """``alarm_email``: subscribed to the alarm topic; None leaves the topic without subscribers.
        ``base_image``: build the image on this base instead of the AWS Lambda one (local runs only)."""
        super().__init__(scope, construct_id, description="Sound Realty price service: API Gateway + Lambda", **kwargs)
        self.image = ServiceImage(self, "Image", base_image=base_image)
        provisioned = ((settings.provisioned_concurrency_min, settings.provisioned_concurrency_max)
                       if settings.provisioned_concurrency else None)
        self.price_function = PriceFunction(
            self, "PriceFunction",
            code=self.image.lambda_code,
            memory_mb=settings.memory_mb,
            log_level=settings.log_level,
            default_model=settings.default_model,
            reserved_concurrency=settings.reserved_concurrency,
            provisioned_concurrency=provisioned,
        )
        for dependency in dependencies:
            self.price_function.add_environment(dependency.bind(self.price_function.function))
        self.pre_traffic_hook = PreTrafficHook(
            self, "PreTrafficHook",
            target=self.price_function.function,
            version=self.price_function.function.current_version,
            expected_model=settings.default_model,
        )
        self.deployment = CanaryDeployment(self, "CanaryDeployment", alias=self.price_function.alias,
                                           pre_traffic_hook=self.pre_traffic_hook)
        self.api = PriceApi(
            self, "PriceApi",
            handler=self.price_function.alias,
            stage_name=settings.stage,
            throttle_rate_limit=settings.throttle_rate_limit,
            throttle_burst_limit=settings.throttle_burst_limit,
            quota_per_day=settings.quota_per_day,
            allowed_cidrs=settings.api_allowed_cidrs,
            waf_rate_limit=settings.waf_rate_limit,
            iam_auth=settings.iam_auth,
        )
        self.alarms = ServiceAlarms(self, "Alarms", email=alarm_email, api=self.api,
                                    alias=self.price_function.alias)
        CfnOutput(self, "ApiUrl", value=self.api.url, description="Base URL of the API (append v1/...)")
        CfnOutput(self, "ApiKeyId", value=self.api.api_key.key_id,
                  description="aws apigateway get-api-key --api-key <id> --include-value --query value --output text")
        CfnOutput(self, "FunctionName", value=self.price_function.function.function_name)
        CfnOutput(self, "DeploymentGroupName", value=self.deployment.deployment_group.deployment_group_name)
        CfnOutput(self, "PreTrafficHookLogGroup", value=self.pre_traffic_hook.log_group.log_group_name,
                  description="Why a deployment failed before traffic: aws logs tail <name> --since 1h")
        CfnOutput(self, "AlarmTopicArn", value=self.alarms.topic.topic_arn,
                  description="Alarm notifications: aws sns subscribe --topic-arn <arn> --protocol email ...")
        CfnOutput(self, "DashboardName", value=self.alarms.dashboard.dashboard_name)
