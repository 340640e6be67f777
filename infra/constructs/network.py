"""The network of the ECS path: a VPC over two Availability Zones, public subnets for the load
balancer, private subnets (egress through NAT) for the tasks, rejected flows logged.

An S3 gateway endpoint serves the tasks' S3 traffic: ECR keeps image layers in S3, so image
pulls (and model registry reads) skip the NAT gateway's per-GB charge. It has no hourly cost.
"""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import constants as c


class ServiceNetwork(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, max_azs: int = c.MAX_AZS,
                 nat_gateways: int = c.NAT_GATEWAYS) -> None:
        super().__init__(scope, construct_id)
        self.flow_logs = logs.LogGroup(self, "FlowLogs", retention=c.LOG_RETENTION)
        self.vpc = ec2.Vpc(
            self, "Vpc",
            max_azs=max_azs,
            nat_gateways=nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="tasks", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=24),
            ],
            flow_logs={"Rejected": ec2.FlowLogOptions(
                destination=ec2.FlowLogDestination.to_cloud_watch_logs(self.flow_logs),
                traffic_type=ec2.FlowLogTrafficType.REJECT,
            )},
        )
        # The default (full access) policy: layer buckets are AWS-owned and named per region, and
        # the registry bucket's own policy already limits who reads it.
        self.s3_endpoint = self.vpc.add_gateway_endpoint(
            "S3", service=ec2.GatewayVpcEndpointAwsService.S3,
            subnets=[ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)],
        )
