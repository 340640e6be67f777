"""Least privilege: no wildcard actions; "*" resources only where AWS allows nothing narrower."""

from __future__ import annotations

import pytest

from tests.infrastructure.helpers import as_list, policy_statements

# Actions without resource-level permissions: "*" is the only resource they accept.
RESOURCE_WILDCARD_ONLY = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "ecr:GetAuthorizationToken"}

# AWS managed policies any role may carry, and why (each also acknowledged for cdk-nag).
MANAGED_POLICIES = {
    "AWSCodeDeployRoleForLambdaLimited",      # CodeDeploy shifting the alias
    "AmazonAPIGatewayPushToCloudWatchLogs",   # API Gateway's account-level logging role
    "AWSLambdaBasicExecutionRole",            # CDK's own provider that empties the default security group
}


@pytest.fixture(params=["with_ecs", "scaled"])
def templates(request) -> dict[str, dict]:
    return request.getfixturevalue(request.param).templates


def test_no_statement_allows_wildcard_actions(templates):
    for stack, template in templates.items():
        for statement in policy_statements(template):
            for action in as_list(statement["Action"]):
                assert "*" not in action, f"{stack}: {action} in {statement}"


def test_wildcard_resources_only_for_actions_without_resource_level_permissions(templates):
    for stack, template in templates.items():
        for statement in policy_statements(template):
            if "*" in as_list(statement.get("Resource", [])):
                assert set(as_list(statement["Action"])) <= RESOURCE_WILDCARD_ONLY, f"{stack}: {statement}"
                assert statement["Effect"] == "Allow" and "NotAction" not in statement


def test_each_function_role_writes_only_its_own_log_group(serverless):
    # The price function and the pre-traffic hook: each role's logs: statements name its function's group.
    template = serverless.to_json()
    functions = serverless.find_resources("AWS::Lambda::Function")
    assert len(functions) == 2
    for function in functions.values():
        role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
        log_group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        policies = [r["Properties"]["PolicyDocument"]["Statement"] for r in template["Resources"].values()
                    if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"]["Roles"]]
        logs = [s for statements in policies for s in statements
                if any(a.startswith("logs:") for a in as_list(s["Action"]))]
        assert logs and all(s["Resource"] == {"Fn::GetAtt": [log_group, "Arn"]} for s in logs), role_id


def test_only_known_aws_managed_policies(templates):
    for stack, template in templates.items():
        roles = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
        for arn in (arn for role in roles for arn in role["Properties"].get("ManagedPolicyArns", [])):
            text = arn["Fn::Sub"] if "Fn::Sub" in arn else "".join(p for p in arn["Fn::Join"][1] if isinstance(p, str))
            assert text.rsplit("/", 1)[1] in MANAGED_POLICIES, f"{stack}: {text}"
