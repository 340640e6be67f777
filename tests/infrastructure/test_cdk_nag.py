"""cdk-nag AwsSolutionsChecks: wired into the app, nothing unacknowledged, every acknowledgement
reasoned, and the list of acknowledgements is the one reviewed here."""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3

from infra import constants as c
from infra.nag import acknowledge, check

# Construct path (below the stack) -> AwsSolutions rules acknowledged there. A new entry is a
# reviewed decision: add it here together with the acknowledgement and its reason.
REGISTRY_READS = {f"AwsSolutions-IAM5[Resource::PriceServiceModels-{{stage}}-ModelRegistryBucketArn/{name}/*]"
                  for name in c.MODEL_NAMES}
REVIEWED = {
    "Models": {
        "Models/AccessLogs/Bucket": {"AwsSolutions-S1"},
        "Models/DeployRole": {"AwsSolutions-IAM5[Resource::<ModelsBucket970C6ADA.Arn>/*]"},
    },
    "Serverless": {
        "PriceFunction/Role": {"AwsSolutions-IAM5[Resource::*]", *REGISTRY_READS},
        "CanaryDeployment/DeploymentGroup/ServiceRole": {
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSCodeDeployRoleForLambdaLimited]",
            "AwsSolutions-IAM5[Resource::<PreTrafficHookFunction1974E8B2.Arn>:*]"},
        "PreTrafficHook/Role": {"AwsSolutions-IAM5[Resource::<PriceFunction3EAF9747.Arn>:*]"},
        "PriceApi/Api": {
            "AwsSolutions-APIG2", "AwsSolutions-APIG4", "AwsSolutions-COG4",
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]"},
        "PriceApi/Api/DeploymentStage.{stage}": {"AwsSolutions-APIG3"},
    },
    "Ecs": {
        "LoadBalancerLogs/Bucket": {"AwsSolutions-S1"},
        "Web/Task": {"AwsSolutions-ECS2"},
        "Web/Task/ExecutionRole": {"AwsSolutions-IAM5[Resource::*]"},
        "Web/Task/TaskRole": REGISTRY_READS,
    },
}


def _acknowledgements(app: App) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for construct in app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == "aws:cdk:acknowledged-rules":
                for rule, reason in entry.data.items():
                    if "AwsSolutions-" in rule:
                        found.setdefault(construct.node.path, {})[rule.split("::", 1)[-1]] = reason
    return found


def test_acknowledgements_are_the_reviewed_ones_each_with_a_one_line_reason(with_ecs):
    # With every stack, so every acknowledgement.
    found = _acknowledgements(with_ecs.app)
    expected = {
        f"{stack.stack_name}/{path.format(stage=with_ecs.stage)}": {rule.format(stage=with_ecs.stage) for rule in rules}
        for kind, paths in REVIEWED.items()
        for stack in [with_ecs.stack(kind)]
        for path, rules in paths.items()
    }
    assert {path: set(rules) for path, rules in found.items()} == expected
    for path, rules in found.items():
        for rule, reason in rules.items():
            assert 20 <= len(reason) <= 200 and "\n" not in reason, f"{path} {rule}: {reason!r}"


def test_the_checks_fail_synthesis_on_an_unacknowledged_finding(tmp_path):
    # Given the app's checks and a bucket that allows plain HTTP
    app = App(outdir=str(tmp_path))
    s3.Bucket(Stack(app, "Probe"), "Open")
    check(app)
    # Then synthesis stops and names the rule
    with pytest.raises(Exception, match="AwsSolutions-S10"):
        app.synth()


def test_an_acknowledgement_needs_a_reason():
    with pytest.raises(ValueError, match="needs a reason"):
        acknowledge(Stack(), "AwsSolutions-S1", " ")
