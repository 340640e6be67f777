"""Canary deployments of the function: CodeDeploy shifts alias traffic, alarms roll it back.

When a deployment publishes a new version, CloudFormation hands the alias update to CodeDeploy:
10% of the alias' traffic goes to the new version for 5 minutes, then all of it. If an alarm
fires meanwhile (a 5xx answer, counted by the function's ServerErrors metric; an invocation
error on the alias; p99 duration over the limit), CodeDeploy moves the alias back to the old
version and the stack update fails and rolls back. A client's bad input is a 4xx and fires none.
"""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import constants as c
from infra.nag import acknowledge
from lambda_fn.api.errors import SERVER_ERRORS_METRIC

CANARY_10_PERCENT_5_MINUTES = codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_5_MINUTES


class CanaryDeployment(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alias: lambda_.Alias,
        deployment_config: codedeploy.ILambdaDeploymentConfig = CANARY_10_PERCENT_5_MINUTES,
    ) -> None:
        super().__init__(scope, construct_id)
        self.errors_alarm = cloudwatch.Alarm(
            self, "Errors",
            alarm_description=f"{c.SERVICE_NAME}: unhandled errors on alias {c.ALIAS_NAME} (rolls back a deployment)",
            metric=alias.metric_errors(period=c.ALARM_PERIOD, statistic=cloudwatch.Stats.SUM),
            threshold=c.ALARM_ERRORS_THRESHOLD,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.server_errors_alarm = cloudwatch.Alarm(
            self, "ServerErrors",
            alarm_description=f"{c.SERVICE_NAME}: 5xx answers (rolls back a deployment)",
            metric=cloudwatch.Metric(namespace=c.METRICS_NAMESPACE, metric_name=SERVER_ERRORS_METRIC,
                                     dimensions_map={"service": c.SERVICE_NAME}, period=c.ALARM_PERIOD,
                                     statistic=cloudwatch.Stats.SUM),
            threshold=c.ALARM_ERRORS_THRESHOLD,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.latency_alarm = cloudwatch.Alarm(
            self, "LatencyP99",
            alarm_description=(f"{c.SERVICE_NAME}: p99 duration on alias {c.ALIAS_NAME} over "
                               f"{c.ALARM_P99_LATENCY_MS} ms (rolls back a deployment)"),
            metric=alias.metric_duration(period=c.ALARM_PERIOD, statistic=cloudwatch.Stats.p(99)),
            threshold=c.ALARM_P99_LATENCY_MS,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=c.ALARM_LATENCY_EVALUATION_PERIODS,
            datapoints_to_alarm=c.ALARM_LATENCY_DATAPOINTS,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.deployment_group = codedeploy.LambdaDeploymentGroup(
            self, "DeploymentGroup",
            alias=alias,
            deployment_config=deployment_config,
            alarms=[self.server_errors_alarm, self.errors_alarm, self.latency_alarm],
            auto_rollback=codedeploy.AutoRollbackConfig(
                failed_deployment=True, stopped_deployment=True, deployment_in_alarm=True,
            ),
        )
        acknowledge(self.deployment_group.role,
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AWSCodeDeployRoleForLambdaLimited]",
                    "AWS's narrowest policy for CodeDeploy Lambda deployments: update the alias, read its alarms, "
                    "invoke CodeDeployHook_* functions.")
