"""The S3 model registry: a bucket of immutable model versions and, per model name, an SSM
parameter naming the active version. Layout and pointer format: ``lambda_fn/registry/layout.py``;
release procedure: README "Releasing a new model".

- ``bucket``: versioned, S3-managed encryption, TLS only, all public access blocked, ACLs off,
  server access logs to ``access_logs`` (its own bucket). Its policy denies writing or deleting
  objects to every principal but ``deploy_role``, administrators included: nobody else can
  replace a published version, whatever their IAM policies allow. Every object is write-once:
  a request that creates one (PutObject, CompleteMultipartUpload) must carry ``If-None-Match: *``;
  the parts of a multipart upload (CreateMultipartUpload, UploadPart), which S3 lets carry no
  conditional header, are exempt through ``s3:ObjectCreationOperation``, and parts left by an
  upload that never completed are removed after a day.
- ``signing_key``: an asymmetric KMS key (ECC_NIST_P256, SIGN_VERIFY) that signs each version's
  ``metadata.json`` (``lambda_fn/registry/signing.py``). Its key policy denies ``kms:Sign`` to
  every principal but ``deploy_role``, administrators included, whatever IAM policies or grants
  say; the account administers it and grants its use through IAM. ``deploy_role`` may sign and
  verify; runtimes may only ``kms:Verify``. Asymmetric keys do not
  rotate automatically (docs/decisions/018-signed-model-versions.md says how to replace it).
- ``pointer_arns``: per model name, the ARN of its String parameter ``<pointer_prefix>/<name>``.
  The stack does not create the parameters (a deploy would write its own value over a released
  one): the first ``promote`` creates each pointer, and until then a missing pointer means "serve
  the image's model", for the service and the CLI alike. The grants name exactly these ARNs.
- ``deploy_role``: assumable by ``deploy_principal`` only (the CI role that releases models; the
  app passes the account root only in dev without one: then anyone the account lets assume it);
  the only writer and the only signer. It reads, uploads (no delete: versions are immutable;
  multipart uploads and their abort), signs, creates and moves the pointers.
- ``swap_failed_alarms``: per model name, an alarm on the service's ``ModelSwapFailed`` metric
  (a promoted version some environment refused: it keeps serving its current model). Left for
  the stack to route to a topic, or to add to the canary's alarms (an image that cannot load the
  promoted model then rolls back).
- ``bind(grantee)`` (the ``RuntimeDependency`` contract the stacks use) grants least-privilege
  read to the Lambda function's role or the ECS task role and returns the environment that
  tells the service where to look and which key to trust: ``s3:GetObject`` under the served
  names' prefixes, ``s3:ListBucket`` (so a missing file reads as 404, not 403),
  ``ssm:GetParameter`` on the pointers' ARNs (so a pointer not created yet reads as
  ParameterNotFound) and ``kms:Verify`` with the signing key. No write and no signing of any kind.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from aws_cdk import CfnOutput, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra import constants as c
from infra.constructs.access_log_bucket import AccessLogBucket
from infra.nag import acknowledge

DEFAULT_REFRESH_SECONDS = 30  # MODEL_REFRESH_SECONDS: every environment follows a release within ~30 s
ACCESS_LOG_EXPIRY = Duration.days(365)
INCOMPLETE_UPLOAD_EXPIRY = Duration.days(1)  # a publish takes seconds; parts a day old belong to a failed one
OBJECT_WRITES = ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:AbortMultipartUpload")
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class ModelRegistry(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model_names: Sequence[str],
        pointer_prefix: str,
        deploy_principal: iam.IPrincipal,
        refresh_seconds: int = DEFAULT_REFRESH_SECONDS,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        # Log delivery through the log bucket's policy (ACLs stay disabled), whatever the app's flags.
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        if not model_names or not all(_SAFE_NAME.fullmatch(n) for n in model_names):
            raise ValueError(f"model_names must be non-empty S3/SSM-safe names, got {list(model_names)}")
        if not re.fullmatch(r"(/[A-Za-z0-9_.-]+)+", pointer_prefix):
            raise ValueError(f"pointer_prefix must be an SSM path like /price-service/dev/models: {pointer_prefix!r}")
        self.model_names = tuple(model_names)
        self.pointer_prefix = pointer_prefix
        self.refresh_seconds = refresh_seconds

        self.access_logs = AccessLogBucket(self, "AccessLogs", expiry=ACCESS_LOG_EXPIRY)
        self.bucket = s3.Bucket(
            self, "Bucket",
            versioned=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs.bucket,
            server_access_logs_prefix="model-registry/",
            lifecycle_rules=[s3.LifecycleRule(id="AbortIncompleteUploads",
                                              abort_incomplete_multipart_upload_after=INCOMPLETE_UPLOAD_EXPIRY)],
            removal_policy=removal_policy,
        )
        # Not CloudFormation resources: the release CLI creates and moves them (see the docstring).
        self.pointer_arns = {
            name: Stack.of(self).format_arn(service="ssm", resource="parameter",
                                            resource_name=f"{pointer_prefix}/{name}".lstrip("/"))
            for name in self.model_names
        }
        self.deploy_role = iam.Role(
            self, "DeployRole",
            assumed_by=deploy_principal,
            description="Publishes model versions to the registry and moves its pointers (python -m model.registry)",
            max_session_duration=Duration.hours(1),
        )
        self.signing_key = self._signing_key(removal_policy)
        self._grant_deploy(self.deploy_role)
        self.bucket.add_to_resource_policy(iam.PolicyStatement(
            sid="OnlyTheDeployRoleWrites",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=list(OBJECT_WRITES),
            resources=[self.bucket.arn_for_objects("*")],
            conditions={"ArnNotEquals": {"aws:PrincipalArn": self.deploy_role.role_arn}},
        ))
        # Versions are write-once for the deploy role too: S3 refuses a put that could overwrite.
        # s3:PutObject also authorises CreateMultipartUpload and UploadPart, which accept no
        # conditional header: s3:ObjectCreationOperation is false for those alone, so the rule
        # applies to the requests that create the object (absent key: the rule applies too).
        self.bucket.add_to_resource_policy(iam.PolicyStatement(
            sid="NoOverwrites",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["s3:PutObject"],
            resources=[self.bucket.arn_for_objects("*")],
            conditions={"Null": {"s3:if-none-match": "true"}, "BoolIfExists": {"s3:ObjectCreationOperation": "true"}},
        ))

        self.swap_failed_alarms = {
            name: cloudwatch.Alarm(
                self, f"SwapFailed-{name}",
                alarm_description=f"{c.SERVICE_NAME}: an environment refused the promoted version of model "
                                  f"'{name}' and serves its current one (logs: 'model swap failed')",
                metric=cloudwatch.Metric(namespace=c.METRICS_NAMESPACE, metric_name="ModelSwapFailed",
                                         dimensions_map={"service": c.SERVICE_NAME, "model_name": name},
                                         statistic=cloudwatch.Stats.SUM, period=Duration.minutes(5)),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            for name in self.model_names
        }

        CfnOutput(self, "BucketName", value=self.bucket.bucket_name,
                  description="MODEL_REGISTRY_BUCKET for python -m model.registry")
        CfnOutput(self, "PointerPrefix", value=pointer_prefix,
                  description="MODEL_POINTER_PREFIX for python -m model.registry")
        CfnOutput(self, "DeployRoleArn", value=self.deploy_role.role_arn,
                  description="Assume this role to publish, promote or roll back models")
        CfnOutput(self, "SigningKeyArn", value=self.signing_key.key_arn,
                  description="MODEL_SIGNING_KEY_ARN for python -m model.registry")

    def _signing_key(self, removal_policy: RemovalPolicy) -> kms.Key:
        key = kms.Key(
            self, "SigningKey",
            key_spec=c.MODEL_SIGNING_KEY_SPEC,
            key_usage=kms.KeyUsage.SIGN_VERIFY,
            description="Signs model versions' metadata.json (python -m model.registry publish); "
                        "the service serves only versions it verifies",
            removal_policy=removal_policy,   # deleting it would leave every published version unverifiable
        )
        # The account manages the key and grants its use through IAM (CDK's default statement; the
        # deploy role's own policy allows signing): naming a role created in the same deployment
        # as a key-policy principal can fail on IAM's propagation delay, a condition value cannot.
        # Only the deploy role signs: this explicit deny outweighs any IAM policy or grant.
        key.add_to_resource_policy(iam.PolicyStatement(
            sid="OnlyTheDeployRoleSigns",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["kms:Sign"],
            resources=["*"],
            conditions={"ArnNotEquals": {"aws:PrincipalArn": self.deploy_role.role_arn}},
        ))
        return key

    @property
    def environment(self) -> dict[str, str]:
        """What the service reads (lambda_fn/settings.py) to find the registry and the key it trusts."""
        return {
            "MODEL_REGISTRY_BUCKET": self.bucket.bucket_name,
            "MODEL_POINTER_PREFIX": self.pointer_prefix,
            "MODEL_REFRESH_SECONDS": str(self.refresh_seconds),
            "MODEL_SIGNING_KEY_ARN": self.signing_key.key_arn,
        }

    def bind(self, grantee: iam.IGrantable) -> Mapping[str, str]:
        """Grant ``grantee`` read access; return the environment that locates the registry."""
        self.grant_read(grantee)
        return self.environment

    def grant_read(self, grantee: iam.IGrantable) -> None:
        """Read the served models' versions and their pointers, verify signatures; nothing else, and no write."""
        objects = [self._objects_arn(grantee, f"{name}/*") for name in self.model_names]
        self._add(grantee, ["s3:GetObject"], [arn for arn, _ in objects])
        self._add(grantee, ["s3:ListBucket"], [self.bucket.bucket_arn])
        self._add(grantee, ["ssm:GetParameter"], list(self.pointer_arns.values()))
        self._add(grantee, ["kms:Verify"], [self.signing_key.key_arn])
        self._acknowledge(grantee, [finding for _, finding in objects],
                          "Reads model versions under <name>/<version>/: versions are published after deployment, "
                          "so only the model name is known.")

    def _grant_deploy(self, role: iam.Role) -> None:
        arn, finding = self._objects_arn(role, "*")
        self._add(role, ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                  [arn])
        self._add(role, ["s3:ListBucket", "s3:ListBucketMultipartUploads"], [self.bucket.bucket_arn])
        self._add(role, ["ssm:GetParameter", "ssm:GetParameterHistory", "ssm:PutParameter"],
                  list(self.pointer_arns.values()))
        self._add(role, ["kms:Sign", "kms:Verify", "kms:GetPublicKey", "kms:DescribeKey"], [self.signing_key.key_arn])
        self._acknowledge(role, [finding], "Publishes new model versions, whose keys <name>/<version>/... do not exist "
                                           "at deployment; the bucket policy keeps them write-once.")

    def _objects_arn(self, grantee: iam.IGrantable, pattern: str) -> tuple[str, str]:
        """The ARN of ``pattern`` objects as ``grantee``'s stack refers to it, and cdk-nag's name for it.

        Another stack reads the bucket ARN through an export whose name is set here (CDK's own
        export names carry a hash), so the acknowledgement can name the finding exactly."""
        registry_stack = Stack.of(self)
        grantee_stack = Stack.of(grantee.grant_principal) if isinstance(grantee.grant_principal, Construct) \
            else registry_stack
        if grantee_stack is registry_stack:
            logical_id = registry_stack.resolve(self.bucket.bucket_arn)["Fn::GetAtt"][0]
            return self.bucket.arn_for_objects(pattern), f"<{logical_id}.Arn>/{pattern}"
        export_name = f"{registry_stack.stack_name}-ModelRegistryBucketArn"
        if not self.node.try_find_child("BucketArnExport"):
            CfnOutput(self, "BucketArnExport", value=self.bucket.bucket_arn, export_name=export_name)
        grantee_stack.add_stack_dependency(registry_stack, reason="reads the model registry")
        return Fn.join("", [Fn.import_value(export_name), f"/{pattern}"]), f"{export_name}/{pattern}"

    @staticmethod
    def _add(grantee: iam.IGrantable, actions: list[str], resources: list[str]) -> None:
        iam.Grant.add_to_principal(grantee=grantee, actions=actions, resource_arns=resources)

    @staticmethod
    def _acknowledge(grantee: iam.IGrantable, findings: Sequence[str], reason: str) -> None:
        principal = grantee.grant_principal
        if isinstance(principal, Construct):  # an imported role's policies are not in this app
            for finding in findings:
                acknowledge(principal, f"AwsSolutions-IAM5[Resource::{finding}]", reason)
