"""Deploy-time settings: config/<stage>.json per stage, `-c` on top, the AWS profile's account and
region, and the checks that refuse a stage not ready for clients."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App

from infra import constants as c
from infra import stage_config
from infra.app import build_app, target_environment
from infra.settings import CONTEXT_KEYS, DeploymentSettings
from tests.infrastructure.conftest import SCALED_CONTEXT, cdk_json_context, synthesize

# Where the stacks go is the profile's business (or -c): no committed file names them.
PER_COMMAND_KEYS = {"stage", "region", "account"}
REAL_CIDRS = "198.51.100.0/24"
CERTIFICATE = SCALED_CONTEXT["certificateArn"]
PUBLISHER = SCALED_CONTEXT["modelPublisherArn"]


def _from_files(tmp_path, files: dict[str, dict], **context) -> DeploymentSettings:
    for stage, values in files.items():
        (tmp_path / f"{stage}.json").write_text(json.dumps(values))
    return DeploymentSettings.from_context(App(context=context).node, config_dir=tmp_path)


def test_cdk_json_holds_no_settings():
    # A setting in cdk.json would override every stage's file, like a -c flag on every command.
    assert not set(CONTEXT_KEYS) & set(cdk_json_context())


def test_dev_file_states_exactly_the_built_in_defaults():
    dev = stage_config.read("dev")
    assert set(dev) == set(CONTEXT_KEYS) - PER_COMMAND_KEYS, "config/dev.json lists every setting"
    assert DeploymentSettings.from_mapping(dev) == DeploymentSettings()


@pytest.mark.parametrize("stage", stage_config.stages())
def test_every_committed_stage_is_valid_and_leaves_ecs_off(stage):
    # Beyond dev, given the one setting only the stage's owner knows (test_a_stage_beyond_dev_...).
    publisher = {} if stage == c.DEFAULT_STAGE else {"modelPublisherArn": PUBLISHER}
    settings = DeploymentSettings.from_context(App(context={"stage": stage, **publisher}).node)
    assert settings.stage == stage
    assert settings.ecs is False
    assert settings.region is None and settings.account is None
    assert {"dev", "prod"} <= set(stage_config.stages())


def test_defaults_are_the_safe_ones():
    settings = DeploymentSettings()
    assert settings.stage == "dev" and settings.ecs is False
    assert settings.provisioned_concurrency is False and settings.reserved_concurrency is None
    assert settings.allowed_cidrs == c.ALLOWED_CIDRS == ("203.0.113.0/24",)  # documentation range: nobody
    assert settings.memory_mb == c.LAMBDA_MEMORY_MB


def test_command_line_strings_parse():
    # Given values as `cdk synth -c key=value` delivers them (strings)
    settings = DeploymentSettings.from_context(App(context={
        "stage": "prod", "memoryMb": "1769", "reservedConcurrency": "20", "provisionedConcurrency": "true",
        "provisionedConcurrencyMax": "10", "allowedCidrs": "198.51.100.0/24, 192.0.2.7/32",
        "certificateArn": "none", "ecs": "false", "region": "eu-west-1", "modelPublisherArn": PUBLISHER,
        "@aws-cdk/core:someFlag": True, "aws:cdk:version-reporting": False,
    }).node)
    assert (settings.stage, settings.memory_mb, settings.reserved_concurrency) == ("prod", 1769, 20)
    assert settings.provisioned_concurrency is True and settings.provisioned_concurrency_max == 10
    assert settings.allowed_cidrs == ("198.51.100.0/24", "192.0.2.7/32")
    assert settings.certificate_arn is None and settings.ecs is False and settings.region == "eu-west-1"
    as_json = DeploymentSettings.from_mapping({"allowedCidrs": '["198.51.100.0/24"]'})
    assert as_json.allowed_cidrs == ("198.51.100.0/24",)


def test_the_command_line_overrides_the_stage_file_key_by_key(tmp_path):
    # Given a stage file and one -c flag for a key it sets
    settings = _from_files(tmp_path, {"qa": {"memoryMb": 2048, "quotaPerDay": 500, "reservedConcurrency": 30,
                                             "modelPublisherArn": PUBLISHER}},
                           stage="qa", quotaPerDay="900", reservedConcurrency="none")
    # Then the flag wins for its key, the file for the others, the built-in default for the rest
    assert (settings.quota_per_day, settings.memory_mb) == (900, 2048)
    assert settings.reserved_concurrency is None  # "none" clears what the file set
    assert settings.throttle_rate_limit == c.THROTTLE_RATE_LIMIT


def test_the_stage_is_dev_unless_named(tmp_path):
    assert _from_files(tmp_path, {"dev": {"memoryMb": 3008}}).memory_mb == 3008


@pytest.mark.parametrize(("files", "context", "problem"), [
    ({}, {"stage": "qa"}, r"no settings for stage 'qa': create config/qa.json"),
    ({"qa": {"memoryMB": 2048}}, {"stage": "qa"},
     r"unknown key 'memoryMB' in config/qa.json \(did you mean memoryMb\?\)"),
    ({"qa": {"stage": "prod"}}, {"stage": "qa"}, r"config/qa.json: drop 'stage'"),
    ({"qa": ["memoryMb"]}, {"stage": "qa"}, r"one JSON object"),
    ({}, {"stage": "../dev"}, r"stage must be"),
    ({"qa": {}}, {"stage": "qa", "memoryMB": "2048"}, r"unknown key 'memoryMB' in the context \(-c or cdk.json\)"),
])
def test_stage_files_are_checked(tmp_path, files, context, problem):
    with pytest.raises(ValueError, match=problem):
        _from_files(tmp_path, files, **context)


@pytest.mark.parametrize(("context", "problem"), [
    ({"memoryMB": "2048"}, "did you mean memoryMb"),
    ({"allowedCidrs": "0.0.0.0/0"}, "internet"),
    ({"allowedCidrs": "198.51.100.1/24"}, "host bits"),
    ({"allowedCidrs": ""}, "allowed_cidrs"),
    ({"allowedCidrs": []}, "at least one"),
    ({"memoryMb": "none"}, "memory_mb"),
    ({"provisionedConcurrencyMin": "6", "provisionedConcurrencyMax": "5"}, "must not exceed"),
    ({"provisionedConcurrency": "true", "reservedConcurrency": "3"}, "reservedConcurrency"),
    ({"ecsMinTasks": "7"}, "ecsMinTasks"),
    ({"stage": "Prod_1"}, "stage"),
    ({"memoryMb": "64"}, "greater than or equal"),
    ({"region": "us-west"}, "AWS region name"),
    ({"account": "1234"}, "12-digit"),
    ({"certificateArn": "my-cert"}, "ACM certificate ARN"),
    ({"ecs": "maybe"}, "ecs"),
    ({"alarmEmail": "oncall"}, "email address"),
])
def test_invalid_settings_are_refused_at_synth(context, problem):
    with pytest.raises(ValueError, match=problem):
        DeploymentSettings.from_mapping(context)


@pytest.mark.parametrize(("context", "problem"), [
    # The placeholder range, alone or beside a real one: the file still says "nobody yet".
    ({"certificateArn": CERTIFICATE},
     r"allowedCidrs still holds the placeholder 203.0.113.0/24 .*set allowedCidrs to the client's networks "
     r"in config/prod.json, or pass -c allowedCidrs=\.\.\."),
    ({"allowedCidrs": f"{REAL_CIDRS},203.0.113.0/24", "certificateArn": CERTIFICATE}, r"placeholder"),
    ({"allowedCidrs": REAL_CIDRS},
     r"needs HTTPS: set certificateArn to an ACM certificate ARN .* in config/prod.json, "
     r"or pass -c certificateArn=\.\.\."),
])
def test_a_stage_beyond_dev_with_ecs_needs_real_clients_and_a_certificate(context, problem):
    with pytest.raises(ValueError, match=problem):
        DeploymentSettings.from_mapping({"stage": "prod", "ecs": "true", **context})


@pytest.mark.parametrize("context", [
    {"stage": "dev", "ecs": "true"},  # dev may try the ECS path with the placeholders
    {"stage": "prod", "ecs": "false", "modelPublisherArn": PUBLISHER},  # the placeholders are the load
    # balancer's, and there is none
    {"stage": "prod", "ecs": "true", "allowedCidrs": REAL_CIDRS, "certificateArn": CERTIFICATE,
     "modelPublisherArn": PUBLISHER},
])
def test_placeholders_pass_where_nobody_is_served_by_them(context):
    DeploymentSettings.from_mapping(context)


def test_a_stage_beyond_dev_needs_the_model_publisher(tmp_path):
    # The committed prod file names none: only the team knows its release pipeline's role.
    with pytest.raises(ValueError, match=r"stage 'prod' needs the role that publishes models: set modelPublisherArn "
                                         r".* in config/prod.json, or pass -c modelPublisherArn=\.\.\."):
        DeploymentSettings.from_context(App(context={"stage": "prod"}).node)
    with pytest.raises(ValueError, match="modelPublisherArn"):
        DeploymentSettings.from_mapping({"stage": "prod", "modelPublisherArn": "none"})
    assert DeploymentSettings.from_mapping({"stage": "dev"}).model_publisher_arn is None   # dev: the account root


@pytest.mark.parametrize("arn", ["release-ci", "arn:aws:iam::1234:role/ci", "arn:aws:iam::111122223333:user/alice",
                                 "arn:aws:sts::111122223333:assumed-role/ci/session", "arn:aws:iam::111122223333:root"])
def test_the_model_publisher_must_be_an_iam_role(arn):
    with pytest.raises(ValueError, match="modelPublisherArn must be an IAM role ARN"):
        DeploymentSettings.from_mapping({"modelPublisherArn": arn})


def test_only_the_model_publisher_may_assume_the_registrys_deploy_role(scaled, default):
    def trusted(synthesized) -> list:
        models = synthesized.template("Models").to_json()["Resources"]
        [role] = [r for r in models.values() if r["Type"] == "AWS::IAM::Role"
                  and r["Properties"].get("Description", "").startswith("Publishes model versions")]
        return [s["Principal"]["AWS"] for s in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]]

    assert trusted(scaled) == [PUBLISHER]   # -c modelPublisherArn=... (or the stage's file)
    [root] = trusted(default)   # dev without one: the account root
    assert root["Fn::Join"][1][-1] == ":root"


def test_the_alarm_email_setting_subscribes_to_the_alarm_topic(scaled):
    scaled.template("Serverless").has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": SCALED_CONTEXT["alarmEmail"]})


def test_synth_refuses_prod_ecs_with_the_committed_placeholders(tmp_path):
    with pytest.raises(ValueError, match=r"config/prod.json"):
        build_app(App(context={**cdk_json_context(), "stage": "prod", "ecs": "true"}, outdir=str(tmp_path)),
                  environ={})


@pytest.mark.parametrize(("context", "environ", "expected"), [
    ({}, {}, (None, c.FALLBACK_REGION)),  # no profile, no credentials: synth still works
    ({}, {"CDK_DEFAULT_ACCOUNT": "111122223333", "CDK_DEFAULT_REGION": "eu-central-1"},
     ("111122223333", "eu-central-1")),  # the profile's, as the CDK CLI exports them
    ({"region": "us-east-2", "account": "444455556666"},
     {"CDK_DEFAULT_ACCOUNT": "111122223333", "CDK_DEFAULT_REGION": "eu-central-1"},
     ("444455556666", "us-east-2")),  # -c (or the stage's file) wins over the profile
])
def test_account_and_region_come_from_the_profile_unless_set(context, environ, expected):
    settings = DeploymentSettings.from_context(App(context=context).node)
    env = target_environment(settings, environ)
    assert (env.account, env.region) == expected


def test_synth_without_a_profile_uses_the_fallback_region(default):
    assert {(s.environment.account, s.environment.region) for s in default.assembly.stacks} == {
        ("unknown-account", "us-west-2")}


def test_synth_with_the_profiles_account_needs_no_aws_lookup(tmp_path):
    # Given an account and a region from the AWS profile (a real deployment's environment)
    profile = {"CDK_DEFAULT_ACCOUNT": "111122223333", "CDK_DEFAULT_REGION": "eu-central-1"}
    synthesized = synthesize(tmp_path, environ=profile, ecs="true")
    # Then every stack targets them, nothing is left for the CDK CLI to look up in AWS, and the
    # subnets use real zones
    assert {(s.environment.account, s.environment.region) for s in synthesized.assembly.stacks} == {
        ("111122223333", "eu-central-1")}
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert "missing" not in manifest
    subnets = synthesized.template("Ecs").find_resources("AWS::EC2::Subnet")
    assert all("dummy" not in json.dumps(s["Properties"]["AvailabilityZone"]) for s in subnets.values())
