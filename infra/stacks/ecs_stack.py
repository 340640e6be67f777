"""The ECS alternative: allowed CIDRs -> Application Load Balancer -> Fargate tasks -> same image.

Composes: the network, the service image (same asset as the serverless stack), the access-log
bucket, the load-balanced Fargate service with its scaling, and alarms on the load balancer.
Outputs: ``ServiceUrl`` (``http(s)://<load balancer DNS>``; append ``/v1/...``; with a certificate,
clients call the certificate's domain, a CNAME to this name), ``ClusterName``,
``ServiceName``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnOutput, Fn, Stack
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from infra import constants as c
from infra.constructs.access_log_bucket import AccessLogBucket
from infra.constructs.alarms import ServiceAlarms
from infra.constructs.fargate_service import PriceFargateService
from infra.constructs.network import ServiceNetwork
from infra.constructs.runtime_dependency import RuntimeDependency
from infra.constructs.service_image import ServiceImage
from infra.settings import DeploymentSettings


class EcsStack(Stack):
    @property
    def availability_zones(self) -> list[str]:
        # Resolved by CloudFormation (Fn::GetAZs) even when the context names an account and a
        # region: otherwise CDK would ask AWS for the zones at synth, which needs credentials.
        return [Fn.select(index, Fn.get_azs()) for index in range(c.MAX_AZS)]

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: DeploymentSettings,
        vpc: ec2.IVpc | None = None,
        dependencies: Sequence[RuntimeDependency] = (),
        base_image: str | None = None,
        **kwargs: Any,
    ) -> None:
        """``vpc``: run in an existing VPC (public and private-with-egress subnets) instead of a new one.
        ``base_image``: build the image on this base instead of the AWS Lambda one (local runs only)."""
        super().__init__(scope, construct_id, description="Sound Realty price service: ALB + ECS Fargate", **kwargs)
        self.vpc = vpc or ServiceNetwork(self, "Network").vpc
        self.image = ServiceImage(self, "Image", base_image=base_image)
        self.access_logs = AccessLogBucket(self, "LoadBalancerLogs")
        self.web = PriceFargateService(
            self, "Web",
            vpc=self.vpc,
            image=self.image.container_image,
            allowed_cidrs=settings.allowed_cidrs,
            min_tasks=settings.ecs_min_tasks,
            max_tasks=settings.ecs_max_tasks,
            log_level=settings.log_level,
            default_model=settings.default_model,
            access_logs=self.access_logs.bucket,
            certificate_arn=settings.certificate_arn,
        )
        for dependency in dependencies:
            self.web.add_environment(dependency.bind(self.web.task_definition.task_role))
        # The load balancer's own figures only: the service's metrics (ServerErrors,
        # ModelSwapFailed) carry the same dimensions from both runtimes and page from the
        # serverless stack, once.
        self.alarms = ServiceAlarms(self, "Alarms", email=settings.alarm_email,
                                    load_balancer=self.web.load_balancer,
                                    target_group=self.web.service.target_group, service_metrics=False)
        CfnOutput(self, "ServiceUrl", value=self.web.url, description="Base URL of the service (append /v1/...)")
        CfnOutput(self, "ClusterName", value=self.web.cluster.cluster_name)
        CfnOutput(self, "ServiceName", value=self.web.service.service.service_name)
