"""The model registry construct in a bare stack: a private, versioned, TLS-only bucket that only
the deploy role can write, once per object, multipart uploads included; an ECDSA signing key
that only the deploy role can sign with; a deploy role only the configured publisher can assume;
one pointer ARN per model (the parameters themselves are left to the release CLI); read-and-
verify grants for the runtimes; cdk-nag and cfn-lint clean, whether the runtimes live in the
registry's stack or in their own."""

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
from lambda_fn.registry.signing import SIGNING_ALGORITHM
from lambda_fn.settings import Settings
from tests.infrastructure.helpers import as_list, policy_statements

ENV = Environment(region="us-west-2")
PREFIX = "/price-service/test/models"
PUBLISHER = "arn:aws:iam::111122223333:role/release-ci"
WRITES = ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:AbortMultipartUpload",
          "ssm:PutParameter", "ssm:DeleteParameter", "kms:Sign")


def _settings_env_names() -> set[str]:
    """The environment variables the service reads: each setting's alias, or its name upper-cased."""
    return {name.upper() if field.validation_alias is None else field.validation_alias
            for name, field in Settings.model_fields.items()}


def _registry(stack: Stack) -> ModelRegistry:
    return ModelRegistry(stack, "Models", model_names=["basic", "better"], pointer_prefix=PREFIX,
                         deploy_principal=iam.ArnPrincipal(PUBLISHER))


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
    assert set(writes["Action"]) == {"s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion",
                                     "s3:AbortMultipartUpload"}
    assert writes["Principal"] == {"AWS": "*"}
    assert writes["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": {"Fn::GetAtt": [_deploy_role(template),
                                                                                         "Arn"]}}}


def test_every_object_is_write_once_and_multipart_uploads_still_work(synthesized):
    template = synthesized["registry_template"]
    [overwrites] = [s for p in template.find_resources("AWS::S3::BucketPolicy").values()
                    for s in p["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == "NoOverwrites"]

    assert overwrites["Effect"] == "Deny" and overwrites["Principal"] == {"AWS": "*"}
    assert overwrites["Action"] == "s3:PutObject"
    # Denied: a PutObject or CompleteMultipartUpload (ObjectCreationOperation true, or a request
    # without the key) that lacks If-None-Match. Not denied: CreateMultipartUpload and UploadPart
    # (ObjectCreationOperation false), which S3 lets carry no conditional header.
    assert overwrites["Condition"] == {"Null": {"s3:if-none-match": "true"},
                                       "BoolIfExists": {"s3:ObjectCreationOperation": "true"}}
    bucket = template.to_json()["Resources"][_bucket_id(template)]["Properties"]
    assert {"Id": "AbortIncompleteUploads", "Status": "Enabled",
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}} in bucket["LifecycleConfiguration"]["Rules"]
    deploy = _role_statements(template.to_json(), _deploy_role(template))
    assert {"s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts",
            "s3:ListBucketMultipartUploads"} <= {a for s in deploy for a in as_list(s["Action"])}


def _deploy_role(template: Template) -> str:
    [role] = template.find_resources("AWS::IAM::Role", {"Properties": {"Description": Match.string_like_regexp(
        "Publishes model versions")}})
    return role


def _role_statements(template: dict, role: str) -> list[dict]:
    return [s for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"
            and {"Ref": role} in r["Properties"]["Roles"] for s in r["Properties"]["PolicyDocument"]["Statement"]]


def test_only_the_configured_publisher_may_assume_the_deploy_role(synthesized):
    template = synthesized["registry_template"]
    trust = template.to_json()["Resources"][_deploy_role(template)]["Properties"]["AssumeRolePolicyDocument"]

    assert trust["Statement"] == [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"AWS": PUBLISHER}}]


def _signing_key(template: Template) -> tuple[str, dict]:
    [(key_id, key)] = template.find_resources("AWS::KMS::Key").items()
    return key_id, key["Properties"]


def test_the_signing_key_is_an_ecdsa_p256_key_for_signing_only(synthesized):
    _, key = _signing_key(synthesized["registry_template"])

    assert (key["KeySpec"], key["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    assert SIGNING_ALGORITHM == "ECDSA_SHA_256"   # the one algorithm of an ECC_NIST_P256 key
    assert not key.get("EnableKeyRotation")   # KMS rotates no asymmetric key


def test_only_the_deploy_role_may_sign(synthesized):
    template = synthesized["registry_template"]
    key_id, key = _signing_key(template)
    statements = key["KeyPolicy"]["Statement"]
    deploy_role = _deploy_role(template)

    # The key policy: the account administers through IAM; nobody but the deploy role signs.
    [root, deny] = statements
    assert (root["Effect"], root["Action"], root["Principal"]["AWS"]["Fn::Join"][1][-1]) == ("Allow", "kms:*", ":root")
    assert (deny["Effect"], deny["Action"], deny["Principal"]) == ("Deny", "kms:Sign", {"AWS": "*"})
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": {"Fn::GetAtt": [deploy_role, "Arn"]}}}
    # The deploy role's own policy: sign and verify with this key.
    [signing] = [s for s in _role_statements(template.to_json(), deploy_role) if "kms:Sign" in as_list(s["Action"])]
    assert set(signing["Action"]) == {"kms:Sign", "kms:Verify", "kms:GetPublicKey", "kms:DescribeKey"}
    assert signing["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}


def test_runtimes_may_only_verify_with_the_signing_key(synthesized):
    key_id, _ = _signing_key(synthesized["registry_template"])
    statements = policy_statements(synthesized["runtime_template"].to_json())

    kms_statements = [s for s in statements if any(a.startswith("kms:") for a in as_list(s["Action"]))]
    assert [s["Action"] for s in kms_statements] == ["kms:Verify"]
    assert "Fn::ImportValue" in kms_statements[0]["Resource"]   # the key's ARN, exported by the registry's stack
    exported = synthesized["registry_template"].to_json()["Outputs"]
    assert any(o["Value"] == {"Fn::GetAtt": [key_id, "Arn"]} and "Export" in o for o in exported.values())


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
    assert actions == {"s3:GetObject", "s3:ListBucket", "ssm:GetParameter", "kms:Verify"}
    assert not actions & set(WRITES)
    [objects] = [s for s in statements if s["Action"] == "s3:GetObject"]
    suffixes = {part[-1] for part in (r["Fn::Join"][1] for r in as_list(objects["Resource"]))}
    assert suffixes == {"/basic/*", "/better/*"}  # the served models' prefixes, not the whole bucket


def test_only_the_deploy_role_may_publish_and_move_pointers(synthesized):
    template = synthesized["registry_template"].to_json()
    writers = [s for s in policy_statements(template) if set(as_list(s["Action"])) & set(WRITES)]

    assert {a for s in writers for a in as_list(s["Action"])} & set(WRITES) == {
        "s3:PutObject", "s3:AbortMultipartUpload", "ssm:PutParameter", "kms:Sign"}
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
    registry = synthesized["registry"]
    assert Stack.of(registry).resolve(environment["MODEL_SIGNING_KEY_ARN"]) == \
        Stack.of(registry).resolve(registry.signing_key.key_arn)
    key_id, _ = _signing_key(synthesized["registry_template"])
    outputs = synthesized["registry_template"].to_json()["Outputs"]
    assert [o["Value"] for name, o in outputs.items() if name.startswith("ModelsSigningKeyArn")] == [
        {"Fn::GetAtt": [key_id, "Arn"]}]   # MODEL_SIGNING_KEY_ARN for the release CLI


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
