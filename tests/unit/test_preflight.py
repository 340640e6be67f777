"""``make preflight``: each check finds the problem it is there for, and says what to do.

AWS is moto (STS and the SSM bootstrap parameter); Docker and Node are fake subprocess results.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from scripts import preflight
from tests.helpers import fake_aws_credentials

REGION = "us-west-2"
ACCOUNT = "123456789012"  # moto's account
PARAMETER = "/cdk-bootstrap/hnb659fds/version"


@pytest.fixture(autouse=True)
def aws_base_image(monkeypatch) -> None:
    """The shell may name a stand-in base for local container runs; a deploy never does."""
    monkeypatch.delenv("LAMBDA_BASE_IMAGE", raising=False)


@pytest.fixture
def aws(monkeypatch) -> Iterator[None]:
    fake_aws_credentials(monkeypatch, REGION)
    with mock_aws():
        yield


@pytest.fixture
def no_credentials(monkeypatch, tmp_path) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


def bootstrapped(version: str) -> None:
    boto3.client("ssm", region_name=REGION).put_parameter(Name=PARAMETER, Value=version, Type="String")


def done(stdout: str = "", returncode: int = 0, stderr: str = "") -> subprocess.CompletedProcess:
    return subprocess.CompletedProcess([], returncode, stdout, stderr)


def runner(answers: dict[str, subprocess.CompletedProcess | Exception]):
    """A fake subprocess runner: the answer for the command's first two words, or an exception to raise."""
    calls: list[list[str]] = []

    def run(cmd: Sequence[str]) -> subprocess.CompletedProcess:
        calls.append(list(cmd))
        answer = answers[" ".join(cmd[:2])]
        if isinstance(answer, Exception):
            raise answer
        return answer

    run.calls = calls
    return run


OVERLAY2 = json.dumps([["Backing Filesystem", "extfs"], ["Supports d_type", "true"], ["Using metacopy", "false"],
                       ["Native Overlay Diff", "true"], ["userxattr", "false"]])
CONTAINERD = json.dumps([["driver-type", "io.containerd.snapshotter.v1"]])
HEALTHY = {"docker version": done("28.5.1\n"), "docker info": done(OVERLAY2 + "\n"),
           "node --version": done("v22.11.0\n")}


# ---- AWS: credentials, region, bootstrap --------------------------------------------------------

@pytest.mark.parametrize(("version", "ok"), [("21", True), ("6", True), ("5", False)])
def test_bootstrap_version_is_read_from_the_ssm_parameter(aws, version, ok):
    bootstrapped(version)

    result = preflight.check_bootstrap(boto3.Session(), ACCOUNT, REGION)

    assert result.ok is ok
    assert result.value == int(version)
    if not ok:
        assert f"npx cdk bootstrap aws://{ACCOUNT}/{REGION}" in result.message
        assert "older than 6" in result.message


def test_a_region_never_bootstrapped_says_how_to_bootstrap_it(aws):
    bootstrapped("21")  # in another region than the one checked

    result = preflight.check_bootstrap(boto3.Session(), ACCOUNT, "eu-west-1")

    assert result.ok is False
    assert "not bootstrapped" in result.message
    assert f"`npx cdk bootstrap aws://{ACCOUNT}/eu-west-1`" in result.message


def test_a_custom_qualifier_comes_from_the_context_and_reaches_the_command(aws, tmp_path):
    cdk_json = tmp_path / "cdk.json"
    cdk_json.write_text(json.dumps({"context": {preflight.QUALIFIER_CONTEXT: "sound1234"}}))
    boto3.client("ssm").put_parameter(Name="/cdk-bootstrap/sound1234/version", Value="3", Type="String")

    qualifier = preflight.bootstrap_qualifier({}, cdk_json)
    result = preflight.check_bootstrap(boto3.Session(), ACCOUNT, REGION, qualifier)

    assert qualifier == "sound1234"
    assert preflight.bootstrap_qualifier({preflight.QUALIFIER_CONTEXT: "other"}, cdk_json) == "other"
    assert preflight.bootstrap_qualifier({}, tmp_path / "absent.json") == "hnb659fds"
    assert result.ok is False
    assert "--qualifier sound1234" in result.message


def test_credentials_report_account_and_arn(aws):
    result = preflight.check_credentials(boto3.Session())

    assert result.ok is True
    assert result.value["Account"] == ACCOUNT
    assert f"account {ACCOUNT}" in result.message and "arn:aws:" in result.message


def test_credentials_of_another_account_than_the_stage_pins_are_a_problem(aws):
    result = preflight.check_credentials(boto3.Session(), SimpleNamespace(account="999999999999"))

    assert result.ok is False
    assert "999999999999" in result.message and ACCOUNT in result.message


def test_refused_credentials_name_the_error_and_the_fix():
    class Refusing:
        profile_name = "default"

        def client(self, *args, **kwargs):
            return SimpleNamespace(get_caller_identity=self.refuse)

        def refuse(self):
            raise ClientError({"Error": {"Code": "ExpiredToken", "Message": "expired"}}, "GetCallerIdentity")

    result = preflight.check_credentials(Refusing())

    assert result.ok is False
    assert "ExpiredToken" in result.message and "aws sso login" in result.message


def test_without_credentials_the_aws_checks_are_skipped_and_the_rest_still_run(no_credentials):
    run = runner(HEALTHY)

    results = {result.name: result for result in preflight.run_checks({}, boto3.Session, run)}

    assert results["credentials"].ok is False
    assert "aws configure" in results["credentials"].message
    assert results["bootstrap"].ok is None and "credentials" in results["bootstrap"].message
    assert results["region"].ok is True and REGION in results["region"].message
    assert [results[name].ok for name in ("docker", "base image", "node", "stage config")] == [True] * 4


def test_an_unknown_profile_is_a_credentials_problem(no_credentials):
    results = preflight.run_checks({}, lambda: boto3.Session(profile_name="nobody"), runner(HEALTHY))

    assert [(result.name, result.ok) for result in results][:3] == [
        ("credentials", False), ("region", None), ("bootstrap", None)]
    assert "nobody" in results[0].message


def test_region_comes_from_the_settings_then_aws_region_then_the_profile():
    session = SimpleNamespace(region_name="eu-central-1", profile_name="work")

    pinned = preflight.check_region(session, SimpleNamespace(region="ap-south-1"), {"AWS_REGION": "us-east-2"})
    from_env = preflight.check_region(session, None, {"AWS_REGION": "us-east-2"})
    from_profile = preflight.check_region(session, None, {})
    nowhere = preflight.check_region(SimpleNamespace(region_name=None, profile_name="work"), None, {})

    assert (pinned.value, from_env.value, from_profile.value) == ("ap-south-1", "us-east-2", "eu-central-1")
    assert "profile 'work'" in from_profile.message and "CDK_DEFAULT_REGION" in from_profile.message
    assert nowhere.ok is False and "aws configure set region" in nowhere.message


# ---- Docker, the base image and Node ----------------------------------------------------------------

def test_a_stand_in_base_image_is_a_problem_for_a_deploy():
    aws_base = preflight.aws_base_image()

    stand_in = preflight.check_base_image({"LAMBDA_BASE_IMAGE": "local/lambda-python:3.13"})

    assert stand_in.ok is False
    assert "unset LAMBDA_BASE_IMAGE" in stand_in.message and aws_base in stand_in.message
    assert preflight.check_base_image({}).ok is True
    assert preflight.check_base_image({"LAMBDA_BASE_IMAGE": aws_base}).ok is True


def test_the_shells_stand_in_base_stops_the_deploy(aws, capsys, monkeypatch):
    bootstrapped("21")
    monkeypatch.setenv("LAMBDA_BASE_IMAGE", "local/lambda-python:3.13")

    code = preflight.main([], run=runner(HEALTHY))

    assert code == 1
    assert capsys.readouterr().out.splitlines()[-1] == "preflight: fix base image before `make deploy`"


def test_docker_missing():
    result = preflight.check_docker(runner({"docker version": FileNotFoundError("docker")}))

    assert result.ok is False
    assert "no `docker` on PATH" in result.message


def test_docker_daemon_down():
    down = done(returncode=1, stderr="Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
                                     "Is the docker daemon running?\n")

    result = preflight.check_docker(runner({"docker version": down}))

    assert result.ok is False
    assert "does not answer" in result.message and "Cannot connect to the Docker daemon" in result.message


def test_docker_with_the_containerd_image_store_is_a_problem_that_says_how_to_turn_it_off():
    result = preflight.check_docker(runner({"docker version": done("29.0.1\n"), "docker info": done(CONTAINERD)}))

    assert result.ok is False
    assert "containerd image store" in result.message
    assert '"containerd-snapshotter": false' in result.message
    assert "Use containerd for pulling and storing images" in result.message


def test_docker_with_the_classic_image_store_is_fine():
    run = runner(HEALTHY)

    result = preflight.check_docker(run)

    assert result.ok is True
    assert "28.5.1" in result.message
    assert ["docker", "info", "--format", "{{json .DriverStatus}}"] in run.calls


def test_docker_info_that_fails_is_a_problem():
    broken = done(returncode=1, stderr="permission denied while trying to connect\n")

    result = preflight.check_docker(runner({"docker version": done("28.5.1\n"), "docker info": broken}))

    assert result.ok is False and "permission denied" in result.message


def test_the_containerd_store_is_also_found_in_plain_docker_info():
    plain = "Server:\n Storage Driver: overlayfs\n  driver-type: io.containerd.snapshotter.v1\n"

    assert preflight.containerd_image_store("null", plain) is True
    assert preflight.containerd_image_store(OVERLAY2) is False
    assert preflight.containerd_image_store(CONTAINERD) is True


@pytest.mark.parametrize(("answer", "ok"), [
    (done("v20.20.2\n"), False), (done("v22.11.0\n"), True), (done("v24.1.0\n"), True),
    (FileNotFoundError("node"), False), (done("", returncode=127, stderr="node: not found"), False)])
def test_node_must_be_at_least_what_package_json_asks(answer, ok):
    result = preflight.check_node(runner({"node --version": answer}), required=22)

    assert result.ok is ok
    if not ok:
        assert "install Node.js 22 or newer" in result.message


def test_the_required_node_version_is_package_jsons():
    assert preflight.required_node_major() == 22


# ---- the stage's settings -----------------------------------------------------------------------

def test_a_refused_stage_config_reports_the_refusal():
    result = preflight.check_stage_config({"stage": "prod", "ecs": "true"})

    assert result.ok is False
    assert result.message.startswith("stage 'prod' refused: ")
    assert "allowedCidrs" in result.message and "203.0.113.0/24" in result.message
    assert "\n" not in result.message and "errors.pydantic.dev" not in result.message


def test_a_mistyped_key_and_a_missing_stage_are_refused():
    mistyped = preflight.check_stage_config({"memoryMB": "2048"})
    missing = preflight.check_stage_config({"stage": "qa"})

    assert mistyped.ok is False and "did you mean memoryMb" in mistyped.message
    assert missing.ok is False and "config/qa.json" in missing.message


def test_the_dev_config_is_accepted():
    result = preflight.check_stage_config({})

    assert result.ok is True
    assert result.value.stage == "dev"


# ---- the command ------------------------------------------------------------------------------------

def test_cdk_args_are_parsed_as_cdk_takes_them():
    context, profile = preflight.parse_args(
        ["-c", "stage=prod", "--context", "ecs=true", "-c", "allowedCidrs=10.0.0.0/8,10.1.0.0/16",
         "--hotswap", "--profile", "work"])

    assert context == {"stage": "prod", "ecs": "true", "allowedCidrs": "10.0.0.0/8,10.1.0.0/16"}
    assert profile == "work"
    assert preflight.parse_args(["--stage", "prod"]) == ({"stage": "prod"}, None)
    with pytest.raises(SystemExit):
        preflight.parse_args(["-c", "ecs"])
    with pytest.raises(SystemExit):
        preflight.parse_args(["--stage", "prod", "-c", "stage=dev"])


def test_all_fine_exits_zero_with_one_line_per_check(aws, capsys):
    bootstrapped("21")

    code = preflight.main([], run=runner(HEALTHY))

    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert [line.split()[0] for line in lines[:7]] == ["OK"] * 7
    assert [line.split()[1] for line in lines[:7]] == ["credentials", "region", "bootstrap", "docker", "base", "node",
                                                      "stage"]
    assert lines[7] == "preflight: ready for `make deploy`"


def test_any_problem_exits_non_zero_and_names_it(aws, capsys):
    bootstrapped("21")

    code = preflight.main(["-c", "stage=prod", "-c", "ecs=true"],
                          run=runner({**HEALTHY, "node --version": done("v20.20.2\n")}))

    out = capsys.readouterr().out
    assert code == 1
    assert "PROBLEM  node" in out and "PROBLEM  stage config" in out and "OK       bootstrap" in out
    assert out.splitlines()[-1] == "preflight: fix node, stage config before `make deploy`"


def test_the_module_runs_as_make_preflight_runs_it(tmp_path):
    # No credentials and no network: it must fail fast with a problem, not hang or crash.
    root = Path(preflight.__file__).resolve().parent.parent
    env = {"PATH": "/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED": "true", "HOME": str(tmp_path),
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}

    done_ = subprocess.run([sys.executable, "-m", "scripts.preflight", "--stage", "dev"], cwd=root,
                           env=env, capture_output=True, text=True, timeout=120)

    assert done_.returncode == 1, done_.stderr[-2000:]
    assert "PROBLEM  credentials" in done_.stdout and "SKIPPED  bootstrap" in done_.stdout


# ---- Lambda concurrency (botocore Stubbers: moto has no GetAccountSettings) ------------------------

STACK = "PriceServiceServerless-dev"


def concurrency_settings(reserved: int | None = None, provisioned: bool = True, maximum: int = 5) -> SimpleNamespace:
    return SimpleNamespace(reserved_concurrency=reserved, provisioned_concurrency=provisioned,
                           provisioned_concurrency_max=maximum, stage="dev")


def stubbed(service: str) -> tuple[object, Stubber]:
    client = boto3.client(service, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    return client, Stubber(client)


def concurrency(settings, *, limit: int, unreserved: int, function_reserved: int | None = None,
                provisioned: Sequence[int] = (), deployed: bool = False) -> preflight.Result:
    lambda_client, lambda_stub = stubbed("lambda")
    cloudformation, cloudformation_stub = stubbed("cloudformation")
    lambda_stub.add_response("get_account_settings", {"AccountLimit": {
        "ConcurrentExecutions": limit, "UnreservedConcurrentExecutions": unreserved}})
    if not deployed:
        missing = f"Stack with id {STACK} does not exist"
        cloudformation_stub.add_client_error("describe_stacks", "ValidationError", missing,
                                             expected_params={"StackName": STACK})
    else:
        cloudformation_stub.add_response("describe_stacks", {"Stacks": [{
            "StackName": STACK, "CreationTime": "2026-11-01T00:00:00Z", "StackStatus": "UPDATE_COMPLETE",
            "Outputs": [{"OutputKey": "FunctionName", "OutputValue": "PriceFunction-abc"}]}]}, {"StackName": STACK})
        answer = {} if function_reserved is None else {"ReservedConcurrentExecutions": function_reserved}
        lambda_stub.add_response("get_function_concurrency", answer, {"FunctionName": "PriceFunction-abc"})
        if function_reserved is None:
            lambda_stub.add_response("list_provisioned_concurrency_configs", {"ProvisionedConcurrencyConfigs": [
                {"FunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:PriceFunction-abc:live",
                 "RequestedProvisionedConcurrentExecutions": amount} for amount in provisioned]},
                {"FunctionName": "PriceFunction-abc"})
    with lambda_stub, cloudformation_stub:
        result = preflight.check_concurrency(lambda_client, cloudformation, settings, STACK)
        lambda_stub.assert_no_pending_responses()
        cloudformation_stub.assert_no_pending_responses()
    return result


def test_the_demand_is_the_reservation_else_the_provisioned_maximum():
    assert preflight.concurrency_demand(concurrency_settings(reserved=20, maximum=8)) == (20, "reservedConcurrency")
    assert preflight.concurrency_demand(concurrency_settings(maximum=8)) == (8, "provisionedConcurrencyMax")
    assert preflight.concurrency_demand(concurrency_settings(provisioned=False)) == (0, "")


def test_a_first_deploy_with_room_is_fine():
    result = concurrency(concurrency_settings(maximum=5), limit=1000, unreserved=1000)

    assert result.ok is True
    assert result.message == ("provisionedConcurrencyMax 5; the account's limit is 1000, 1000 unreserved now: "
                              "995 stay unreserved (Lambda keeps at least 100)")


def test_a_new_accounts_quota_is_a_problem_that_says_what_to_ask_for():
    # New accounts start with 10 concurrent executions: nothing can be provisioned until the quota grows.
    result = concurrency(concurrency_settings(maximum=5), limit=10, unreserved=10)

    assert result.ok is False
    assert "would leave fewer than 100 unreserved" in result.message
    # 105: then 105 - 5 = 100 stay unreserved.
    assert result.message.endswith("--service-code lambda --quota-code L-B99A9384 --desired-value 105")


def test_what_the_deployed_stage_holds_already_counts_as_its_own():
    # 110 unreserved, 20 of the reserved ones this stage's: asking for 20 again leaves 110.
    result = concurrency(concurrency_settings(reserved=20), limit=1000, unreserved=110, deployed=True,
                         function_reserved=20)
    assert result.ok is True and "plus 20 this stage's function holds: 110 stay unreserved" in result.message

    # Provisioned concurrency without a reservation, on the alias: the same.
    result = concurrency(concurrency_settings(maximum=8), limit=1000, unreserved=104, deployed=True, provisioned=[6])
    assert result.ok is True and "plus 6 this stage's function holds: 102 stay unreserved" in result.message

    result = concurrency(concurrency_settings(maximum=8), limit=1000, unreserved=101, deployed=True, provisioned=[6])
    assert result.ok is False and "--desired-value 1001" in result.message


def test_unreadable_account_settings_name_the_permissions():
    lambda_client, lambda_stub = stubbed("lambda")
    cloudformation, _ = stubbed("cloudformation")
    lambda_stub.add_client_error("get_account_settings", "AccessDeniedException", "no", 403)
    with lambda_stub:
        result = preflight.check_concurrency(lambda_client, cloudformation, concurrency_settings(), STACK)

    assert result.ok is False
    assert result.message.startswith("cannot read the account's Lambda concurrency (AccessDeniedException)")


def test_the_concurrency_check_runs_only_when_the_stage_reserves_or_provisions(no_credentials):
    run = runner(HEALTHY)
    plain = [result.name for result in preflight.run_checks({}, boto3.Session, run)]
    provisioned = {result.name: result for result in
                   preflight.run_checks({"provisionedConcurrency": "true"}, boto3.Session, run)}

    assert "concurrency" not in plain
    assert provisioned["concurrency"].ok is None  # no credentials: skipped with the other AWS checks
