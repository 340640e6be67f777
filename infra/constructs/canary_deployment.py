"""Canary deployments of the function: CodeDeploy shifts alias traffic, alarms roll it back.

When a deployment publishes a new version, CloudFormation hands the alias update to CodeDeploy:
10% of the alias' traffic goes to the new version for 5 minutes, then all of it. If an alarm
fires meanwhile (a 5xx answer, counted by the function's ServerErrors metric; an invocation
error on the alias; p99 duration over the limit), CodeDeploy moves the alias back to the old
version and the stack update fails and rolls back. A client's bad input is a 4xx and fires none.

Before any traffic moves, the deployment group runs the pre-traffic hook, when given one
(``pre_traffic_hook/``): if the new version does not answer a valid and an invalid request as the
service must, the deployment fails without a single client request reaching it.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import constants as c
from infra.constructs.pre_traffic_hook.infrastructure import PreTrafficHook
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
        pre_traffic_hook: PreTrafficHook | None = None,
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
        if pre_traffic_hook is not None:
            # Grants the hook PutLifecycleEventHookExecutionStatus on this group, and CodeDeploy's
            # role the right to invoke the hook.
            self.deployment_group.add_pre_hook(pre_traffic_hook.function)
            hook_id = Stack.of(self).resolve(pre_traffic_hook.function.function_arn)["Fn::GetAtt"][0]
            acknowledge(self.deployment_group.role, f"AwsSolutions-IAM5[Resource::<{hook_id}.Arn>:*]",
                        "CDK's grant to invoke the pre-traffic hook covers its qualified ARNs too; the hook "
                        "function only.")
            # The alias update starts the deployment: by then the hook must point at the new
            # version and hold its permissions (CloudFormation orders nothing by the update policy).
            alias.node.add_dependency(pre_traffic_hook)
        acknowledge(self.deployment_group.role,
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AWSCodeDeployRoleForLambdaLimited]",
                    "AWS's narrowest policy for CodeDeploy Lambda deployments: update the alias, read its alarms, "
                    "invoke CodeDeployHook_* functions.")
