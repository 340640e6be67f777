"""The model registry construct in a bare stack: a private, versioned, TLS-only bucket that only
the deploy role can write; one pointer ARN per model (the parameters themselves are left to the
release CLI); read-only grants for the runtimes; cdk-nag and
cfn-lint clean, whether the runtimes live in the registry's stack or in their own."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template
from cfnlint.api import lint

from infra.constructs.model_registry import ModelRegistry
from infra.constructs.runtime_dependency import RuntimeDependency
from infra.nag import check
from lambda_fn.observability import metrics
from lambda_fn.settings import Settings
from tests.infrastructure.helpers import as_list, policy_statements

ENV = Environment(region="us-west-2")
PREFIX = "/price-service/test/models"
WRITES = ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "ssm:PutParameter", "ssm:DeleteParameter")


def _settings_env_names() -> set[str]:
    """The environment variables the service reads: each setting's alias, or its name upper-cased."""
    return {name.upper() if field.validation_alias is None else field.validation_alias
            for name, field in Settings.model_fields.items()}


def _registry(stack: Stack) -> ModelRegistry:
    return ModelRegistry(stack, "Models", model_names=["basic", "better"], pointer_prefix=PREFIX,
                         deploy_principal=iam.ArnPrincipal("arn:aws:iam::111122223333:role/release-ci"))


def _runtime_role(stack: Stack) -> iam.Role:
    return iam.Role(stack, "TaskRole", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"))


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory):
    """The registry in its own stack, read by a runtime role in another (how the app wires it)."""
    app = App(outdir=str(tmp_path_factory.mktemp("registry")))
    registry_stack, runtime_stack = Stack(app, "Registry", env=ENV), Stack(app, "Runtime", env=ENV)
    registry = _registry(registry_stack)
    environment = registry.bind(_runtime_role(runtime_stack))
    check(app)  # cdk-nag: synthesis fails on any unacknowledged finding
    assembly = app.synth()
    return {"registry": registry, "environment": environment, "assembly": assembly,
            "registry_template": Template.from_json(assembly.get_stack_by_name("Registry").template),
            "runtime_template": Template.from_json(assembly.get_stack_by_name("Runtime").template)}


def _bucket_id(template: Template) -> str:
    buckets = template.find_resources("AWS::S3::Bucket", {"Properties": {"VersioningConfiguration": Match.any_value()}})
    assert len(buckets) == 1, buckets
    return next(iter(buckets))


def test_the_bucket_is_versioned_encrypted_private_and_logged(synthesized):
    template = synthesized["registry_template"]
    bucket = template.to_json()["Resources"][_bucket_id(template)]["Properties"]

    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert bucket["LoggingConfiguration"]["DestinationBucketName"]["Ref"] != _bucket_id(template)


def test_the_bucket_refuses_plain_http_and_writes_by_anyone_but_the_deploy_role(synthesized):
    template = synthesized["registry_template"]
    bucket_id = _bucket_id(template)
    [policy] = [p["Properties"]["PolicyDocument"]["Statement"]
                for p in template.find_resources("AWS::S3::BucketPolicy").values()
                if p["Properties"]["Bucket"] == {"Ref": bucket_id}]
    denials = [s for s in policy if s["Effect"] == "Deny"]

    tls = [s for s in denials if s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}]
    assert tls and tls[0]["Action"] == "s3:*" and tls[0]["Principal"] == {"AWS": "*"}
    [writes] = [s for s in denials if s.get("Sid") == "OnlyTheDeployRoleWrites"]
    assert set(writes["Action"]) == {"s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"}
    assert writes["Principal"] == {"AWS": "*"}
    [deploy_role] = template.find_resources("AWS::IAM::Role", {"Properties": {"AssumeRolePolicyDocument": {
        "Statement": [Match.object_like({"Principal": {"AWS": "arn:aws:iam::111122223333:role/release-ci"}})]}}})
    assert writes["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": {"Fn::GetAtt": [deploy_role, "Arn"]}}}
    [overwrites] = [s for s in denials if s.get("Sid") == "NoOverwrites"]
    assert overwrites["Action"] == "s3:PutObject" and overwrites["Principal"] == {"AWS": "*"}
    assert overwrites["Condition"] == {"Null": {"s3:if-none-match": "true"}}  # only If-None-Match puts


def test_no_pointer_parameter_is_created_by_cloudformation(synthesized):
    # A deploy must never write a pointer: the release CLI alone creates and moves them.
    for template in (synthesized["registry_template"], synthesized["runtime_template"]):
        template.resource_count_is("AWS::SSM::Parameter", 0)


def _pointer_arn(name: str) -> dict:
    return {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":ssm:us-west-2:", {"Ref": "AWS::AccountId"},
                              f":parameter{PREFIX}/{name}"]]}


def _ssm_resources(template: dict, action: str) -> list:
    return [r for s in policy_statements(template) if action in as_list(s["Action"]) for r in as_list(s["Resource"])]


def test_one_pointer_arn_per_model(synthesized):
    arns = synthesized["registry"].pointer_arns
    stack = Stack.of(synthesized["registry"])

    assert set(arns) == {"basic", "better"}
    assert {name: stack.resolve(arn) for name, arn in arns.items()} == {n: _pointer_arn(n) for n in arns}


def test_pointer_grants_name_exactly_the_pointer_arns(synthesized):
    expected = [_pointer_arn("basic"), _pointer_arn("better")]
    runtime = synthesized["runtime_template"].to_json()
    registry = synthesized["registry_template"].to_json()

    assert _ssm_resources(runtime, "ssm:GetParameter") == expected
    for action in ("ssm:GetParameter", "ssm:GetParameterHistory", "ssm:PutParameter"):
        assert _ssm_resources(registry, action) == expected, action
    ssm_statements = [s for t in (runtime, registry) for s in policy_statements(t)
                      if any(a.startswith("ssm:") for a in as_list(s["Action"]))]
    assert "*" not in json.dumps([s["Resource"] for s in ssm_statements])  # no wildcard, no other parameter


def test_a_refused_release_raises_an_alarm_per_model(synthesized):
    alarms = synthesized["registry_template"].find_resources("AWS::CloudWatch::Alarm")

    by_model = {next(d["Value"] for d in a["Properties"]["Dimensions"] if d["Name"] == "model_name"): a["Properties"]
                for a in alarms.values()}
    assert set(by_model) == {"basic", "better"}
    for properties in by_model.values():
        assert (properties["Namespace"], properties["MetricName"]) == (metrics.namespace, "ModelSwapFailed")
        assert {"Name": "service", "Value": metrics.service} in properties["Dimensions"]
        assert properties["Threshold"] == 1 and properties["TreatMissingData"] == "notBreaching"


def test_runtimes_may_read_versions_and_pointers_and_write_nothing(synthesized):
    statements = policy_statements(synthesized["runtime_template"].to_json())

    actions = {action for s in statements for action in as_list(s["Action"])}
    assert actions == {"s3:GetObject", "s3:ListBucket", "ssm:GetParameter"}
    assert not actions & set(WRITES)
    [objects] = [s for s in statements if s["Action"] == "s3:GetObject"]
    suffixes = {part[-1] for part in (r["Fn::Join"][1] for r in as_list(objects["Resource"]))}
    assert suffixes == {"/basic/*", "/better/*"}  # the served models' prefixes, not the whole bucket


def test_only_the_deploy_role_may_publish_and_move_pointers(synthesized):
    template = synthesized["registry_template"].to_json()
    writers = [s for s in policy_statements(template) if set(as_list(s["Action"])) & set(WRITES)]

    assert {a for s in writers for a in as_list(s["Action"])} & set(WRITES) == {"s3:PutObject", "ssm:PutParameter"}
    policies = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"]
    roles_with_writes = {role["Ref"] for p in policies for role in p["Properties"]["Roles"]
                         if set(WRITES) & {a for s in p["Properties"]["PolicyDocument"]["Statement"]
                                           for a in as_list(s["Action"])}}
    assert len(roles_with_writes) == 1
    assert template["Resources"][roles_with_writes.pop()]["Properties"]["MaxSessionDuration"] == 3600


def test_bind_locates_the_registry_with_the_variables_the_service_reads(synthesized):
    environment = synthesized["environment"]

    assert isinstance(synthesized["registry"], RuntimeDependency)
    assert set(environment) <= _settings_env_names()
    assert environment["MODEL_POINTER_PREFIX"] == PREFIX
    assert 1 <= int(environment["MODEL_REFRESH_SECONDS"]) <= 60


def test_grants_in_the_registry_stack_are_also_nag_clean(tmp_path):
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Together", env=ENV)
    _registry(stack).grant_read(_runtime_role(stack))
    check(app)

    app.synth()  # raises on any unacknowledged cdk-nag finding


def test_every_acknowledgement_has_a_one_line_reason(synthesized):
    app = synthesized["registry"].node.root
    for construct in app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == "aws:cdk:acknowledged-rules":
                for rule, reason in entry.data.items():
                    assert 20 <= len(reason) <= 200 and "\n" not in reason, (construct.node.path, rule)


def test_templates_lint_clean(synthesized):
    for stack in synthesized["assembly"].stacks:
        matches = lint(json.dumps(stack.template), regions=[ENV.region])
        assert not [m for m in matches if m.rule.id[0] in "EFW" and m.rule.id != "W3005"], stack.stack_name


@pytest.mark.parametrize(("names", "prefix"), [([], PREFIX), (["a/b"], PREFIX), (["basic"], "models"),
                                               (["basic"], "/models/")])
def test_props_are_checked(names, prefix):
    with pytest.raises(ValueError):
        ModelRegistry(Stack(), "Models", model_names=names, pointer_prefix=prefix,
                      deploy_principal=iam.AccountRootPrincipal())
