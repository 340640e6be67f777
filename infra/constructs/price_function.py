"""The price function: the service image on AWS Lambda, published as versions behind alias ``live``.

- ``function``: a container-image function running the image's default command (the
  Powertools handler), with X-Ray tracing, a log group with retention, and Powertools settings
  in its environment. Its role may write to that log group and send traces; nothing else
  unless a ``RuntimeDependency`` grants more.
- ``alias``: ``live``, pointing at the version published from the current configuration.
  Every change of image or settings publishes a new version; the canary deployment shifts
  the alias to it (see ``canary_deployment.py``). Old versions are retained for rollback.
- Provisioned concurrency on the alias, when switched on, has one owner (decision 017): with a
  minimum below the maximum, Application Auto Scaling (its scalable target sets the minimum,
  target tracking follows utilisation up to the maximum) and the alias declares none; with the
  two equal, the alias' own setting, and no scaling.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import constants as c
from infra.nag import acknowledge


class PriceFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.DockerImageCode,
        memory_mb: int,
        timeout: Duration = c.LAMBDA_TIMEOUT,
        log_level: str,
        default_model: str,
        reserved_concurrency: int | None = None,
        provisioned_concurrency: tuple[int, int] | None = None,
    ) -> None:
        """``provisioned_concurrency``: (min, max) of the alias' provisioned concurrency, or None for none;
        min == max is a fixed amount on the alias, min < max is scaled between them."""
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(self, "Logs", retention=c.LOG_RETENTION)
        # An explicit role instead of AWSLambdaBasicExecutionRole: write to this log group only.
        self.role = iam.Role(
            self, "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{c.SERVICE_NAME}: write its own logs and traces",
        )
        self.log_group.grant_write(self.role)
        acknowledge(self.role, "AwsSolutions-IAM5[Resource::*]",
                    "Only X-Ray's PutTraceSegments/PutTelemetryRecords, which support no resource-level permissions.")

        self.function = lambda_.DockerImageFunction(
            self, "Function",
            code=code,
            description="Sound Realty house price estimates (API Gateway REST proxy)",
            architecture=lambda_.Architecture.X86_64,
            memory_size=memory_mb,
            timeout=timeout,
            tracing=lambda_.Tracing.ACTIVE,
            role=self.role,
            log_group=self.log_group,
            reserved_concurrent_executions=reserved_concurrency,
            # Keep superseded versions: a manual rollback is one `aws lambda update-alias`.
            current_version_options=lambda_.VersionOptions(removal_policy=RemovalPolicy.RETAIN),
            environment={
                "POWERTOOLS_SERVICE_NAME": c.SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": c.METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": log_level,
                "DEFAULT_MODEL": default_model,
                "OMP_NUM_THREADS": c.OMP_NUM_THREADS,
            },
        )
        low, high = provisioned_concurrency or (0, 0)
        # Never both: CloudFormation would reset what Application Auto Scaling has set, and fail
        # once a scaling action has removed the alias' configuration (decision 017).
        scaled = low < high
        self.alias = lambda_.Alias(
            self, "Live",
            alias_name=c.ALIAS_NAME,
            version=self.function.current_version,
            provisioned_concurrent_executions=high if high and not scaled else None,
            description="What API Gateway invokes; CodeDeploy shifts it between versions",
        )
        self.scaling: lambda_.IScalableFunctionAttribute | None = None
        if scaled:
            # Registering the target (after the alias: its resource id refers to it) raises the
            # alias to the minimum at once: RegisterScalableTarget brings the capacity into the range.
            self.scaling = self.alias.add_auto_scaling(min_capacity=low, max_capacity=high)
            self.scaling.scale_on_utilization(utilization_target=c.PROVISIONED_UTILIZATION_TARGET)

    def add_environment(self, variables: Mapping[str, str]) -> None:
        for key, value in variables.items():
            self.function.add_environment(key, value)
