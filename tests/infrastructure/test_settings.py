"""Deploy-time settings from CDK context: cdk.json states the defaults, `-c` strings parse."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App

from infra import constants as c
from infra.settings import CONTEXT_KEYS, DeploymentSettings
from tests.infrastructure.conftest import cdk_json_context, synthesize


def test_cdk_json_states_exactly_the_built_in_defaults():
    context = cdk_json_context()
    assert set(CONTEXT_KEYS) <= set(context), "every setting is listed in cdk.json"
    assert DeploymentSettings.from_mapping({k: context[k] for k in CONTEXT_KEYS}) == DeploymentSettings()


def test_defaults_are_the_safe_ones():
    settings = DeploymentSettings()
    assert settings.provisioned_concurrency is False and settings.reserved_concurrency is None
    assert settings.allowed_cidrs == c.ALLOWED_CIDRS == ("203.0.113.0/24",)  # documentation range: nobody
    assert settings.memory_mb == c.LAMBDA_MEMORY_MB


def test_command_line_strings_parse():
    # Given values as `cdk synth -c key=value` delivers them (strings)
    settings = DeploymentSettings.from_context(App(context={
        "stage": "prod", "memoryMb": "1769", "reservedConcurrency": "20", "provisionedConcurrency": "true",
        "provisionedConcurrencyMax": "10", "allowedCidrs": "198.51.100.0/24, 192.0.2.7/32",
        "certificateArn": "none", "@aws-cdk/core:someFlag": True, "aws:cdk:version-reporting": False,
    }).node)
    assert (settings.stage, settings.memory_mb, settings.reserved_concurrency) == ("prod", 1769, 20)
    assert settings.provisioned_concurrency is True and settings.provisioned_concurrency_max == 10
    assert settings.allowed_cidrs == ("198.51.100.0/24", "192.0.2.7/32")
    assert settings.certificate_arn is None
    as_json = DeploymentSettings.from_mapping({"allowedCidrs": '["198.51.100.0/24"]'})
    assert as_json.allowed_cidrs == ("198.51.100.0/24",)


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
])
def test_invalid_settings_are_refused_at_synth(context, problem):
    with pytest.raises(ValueError, match=problem):
        DeploymentSettings.from_mapping(context)


def test_synth_with_an_account_needs_no_aws_lookup(tmp_path):
    # Given an account and a region in the context (a real deployment's settings)
    synthesized = synthesize(tmp_path, account="111122223333")
    # Then nothing is left for the CDK CLI to look up in AWS, and the subnets use real zones
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert "missing" not in manifest
    subnets = synthesized.template("Ecs").find_resources("AWS::EC2::Subnet")
    assert all("dummy" not in json.dumps(s["Properties"]["AvailabilityZone"]) for s in subnets.values())
