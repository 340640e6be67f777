"""The pre-traffic hook: CodeDeploy runs it before shifting traffic, it may do only its job, and
its package holds the handler and the repository's events."""

from __future__ import annotations

import json
import subprocess
import sys

from aws_cdk import aws_lambda as lambda_

from infra import constants as c
from infra.constructs.pre_traffic_hook.infrastructure import PACKAGE, HookPackage
from infra.constructs.pre_traffic_hook.runtime.checks import EVENT_FILES
from infra.constructs.pre_traffic_hook.runtime.handler import CONNECT_TIMEOUT_SECONDS
from tests.helpers import EVENTS_DIR
from tests.infrastructure.helpers import as_list, only, price_function

HOOK_LOGICAL_PREFIX = "PreTrafficHook"


def _hook(template) -> tuple[str, dict]:
    handler = f"{PACKAGE}.handler.lambda_handler"
    found = template.find_resources("AWS::Lambda::Function", {"Properties": {"Handler": handler}})
    assert len(found) == 1, sorted(found)
    return next(iter(found.items()))


def _statements_of(template, role_id: str) -> list[dict]:
    return [statement for policy in template.find_resources("AWS::IAM::Policy").values()
            if {"Ref": role_id} in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]]


def test_the_deployment_group_runs_the_hook_before_traffic_shifts(serverless):
    hook_id, _ = _hook(serverless)
    _, alias = only(serverless, "AWS::Lambda::Alias")
    assert alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]["BeforeAllowTrafficHook"] == {"Ref": hook_id}
    assert "AfterAllowTrafficHook" not in alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    # The alias update (which starts the deployment) waits for the hook's new configuration and policy.
    policy_id = next(key for key, policy in serverless.find_resources("AWS::IAM::Policy").items()
                     if key.startswith(HOOK_LOGICAL_PREFIX))
    assert {hook_id, policy_id} <= set(alias["DependsOn"])
    # CodeDeploy's role may invoke the hook.
    role_id = only(serverless, "AWS::CodeDeploy::DeploymentGroup")[1]["Properties"]["ServiceRoleArn"]["Fn::GetAtt"][0]
    invokes = [s for s in _statements_of(serverless, role_id) if s["Action"] == "lambda:InvokeFunction"]
    assert {"Fn::GetAtt": [hook_id, "Arn"]} in [r for s in invokes for r in as_list(s["Resource"])]


def test_the_hook_tests_the_version_the_alias_moves_to(serverless):
    _, hook = _hook(serverless)
    _, alias = only(serverless, "AWS::Lambda::Alias")
    _, function = price_function(serverless)
    variables = hook["Properties"]["Environment"]["Variables"]
    version_id = alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]
    assert variables["NEW_VERSION_ARN"] == {"Ref": version_id}  # a version's Ref is its qualified ARN
    assert variables["EXPECTED_MODEL"] == function["Properties"]["Environment"]["Variables"]["DEFAULT_MODEL"]
    invoke_timeout = float(variables["INVOKE_TIMEOUT_SECONDS"])
    assert invoke_timeout == function["Properties"]["Timeout"] + c.PRE_TRAFFIC_INVOKE_MARGIN.to_seconds()
    # Every case at its slowest still leaves a minute to report to CodeDeploy.
    worst = len(EVENT_FILES) * (CONNECT_TIMEOUT_SECONDS + invoke_timeout)
    assert hook["Properties"]["Timeout"] >= worst + 60


def test_the_hook_runs_on_the_latest_python_runtime_with_json_logs(serverless):
    _, hook = _hook(serverless)
    pythons = [getattr(lambda_.Runtime, name) for name in dir(lambda_.Runtime) if name.startswith("PYTHON_3_")]
    latest = max(pythons, key=lambda runtime: int(runtime.name.rsplit(".", 1)[1]))
    properties = hook["Properties"]
    assert properties["Runtime"] == latest.name
    assert properties["Handler"] == "pre_traffic_hook.handler.lambda_handler"
    assert properties["LoggingConfig"]["LogFormat"] == "JSON"
    assert properties["LoggingConfig"]["ApplicationLogLevel"] == "INFO"
    group = properties["LoggingConfig"]["LogGroup"]["Ref"]
    assert serverless.to_json()["Resources"][group]["Properties"]["RetentionInDays"] == 30
    # The stack names it, for the operator whose deployment failed before traffic.
    assert serverless.to_json()["Outputs"]["PreTrafficHookLogGroup"]["Value"] == {"Ref": group}


def test_the_hook_may_invoke_only_the_price_functions_versions_and_report_only_to_its_group(serverless):
    _, hook = _hook(serverless)
    role_id = hook["Properties"]["Role"]["Fn::GetAtt"][0]
    assert "ManagedPolicyArns" not in serverless.to_json()["Resources"][role_id]["Properties"]
    function_id, _ = price_function(serverless)
    group_id, _ = only(serverless, "AWS::CodeDeploy::DeploymentGroup")
    log_group = hook["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    by_action = {}
    for statement in _statements_of(serverless, role_id):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            by_action.setdefault(action, []).extend(as_list(statement["Resource"]))
    assert set(by_action) == {"logs:CreateLogStream", "logs:PutLogEvents", "lambda:InvokeFunction",
                              "codedeploy:PutLifecycleEventHookExecutionStatus"}
    assert by_action["logs:PutLogEvents"] == [{"Fn::GetAtt": [log_group, "Arn"]}]
    # Qualified ARNs only (function:<name>:<version>): neither $LATEST nor any other function.
    assert by_action["lambda:InvokeFunction"] == [{"Fn::Join": ["", [{"Fn::GetAtt": [function_id, "Arn"]}, ":*"]]}]
    [group_arn] = by_action["codedeploy:PutLifecycleEventHookExecutionStatus"]
    parts = group_arn["Fn::Join"][1]
    assert parts[0].startswith("arn:aws:codedeploy:") and ":deploymentgroup:" in parts
    assert parts[-1] == {"Ref": group_id}


def test_the_package_holds_the_handler_and_the_repositorys_events(tmp_path):
    assert HookPackage().try_bundle(str(tmp_path), image=None) is True
    package = tmp_path / PACKAGE
    assert sorted(p.name for p in (package / "events").iterdir()) == sorted(EVENT_FILES)
    for name in EVENT_FILES:
        assert (package / "events" / name).read_bytes() == (EVENTS_DIR / name).read_bytes()
    assert not list(package.rglob("__pycache__"))
    # The packaged handler imports from the package alone and finds its events there.
    probe = ("import json; import pre_traffic_hook.handler as h; "
             "print(json.dumps([h.__file__, *(str(h.EVENTS_DIR / case.event_file) for case in h.CASES)]))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                          check=True, env={"PYTHONPATH": str(tmp_path)})
    assert json.loads(done.stdout) == [str(package / "handler.py"),
                                       *(str(package / "events" / name) for name in EVENT_FILES)]
