"""Every Lambda function of the app logs to a log group with retention, CDK's own ones included.

Our functions name their log group (``PriceFunction``). Functions that constructs create for
themselves - the providers behind custom resources (the VPC's default security group lock-down,
``AwsCustomResource``, ``BucketDeployment``, ...) - do not, and Lambda would create
``/aws/lambda/<name>`` on first use with no expiry. ``FunctionLogGroups``, an aspect, gives each
such function a log group with ``retention`` through its ``LoggingConfig`` (the ``logGroup`` way,
not ``logRetention``: that one is itself a custom resource whose function logs without expiry).

The function's role must be allowed to write to the new group: CDK gives functions without a
role of their own AWSLambdaBasicExecutionRole, which is.
"""

from __future__ import annotations

import jsii
from aws_cdk import CfnResource, IAspect
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import IConstruct

from infra import constants as c

FUNCTION_TYPE = "AWS::Lambda::Function"


@jsii.implements(IAspect)
class FunctionLogGroups:
    def __init__(self, retention: logs.RetentionDays = c.LOG_RETENTION) -> None:
        self.retention = retention

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, CfnResource) or node.cfn_resource_type != FUNCTION_TYPE:
            return
        # A CfnFunction states its LoggingConfig; a plain CfnResource of this type (a custom
        # resource provider's handler) never sets one.
        if isinstance(node, lambda_.CfnFunction) and node.logging_config is not None:
            return
        scope = node.node.scope
        log_id = f"{node.node.id}Logs"
        if scope is None or scope.node.try_find_child(log_id) is not None:
            return  # visited already
        group = logs.LogGroup(scope, log_id, retention=self.retention)
        node.add_property_override("LoggingConfig.LogGroup", group.log_group_name)
