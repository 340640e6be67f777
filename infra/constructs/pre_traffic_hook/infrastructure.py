"""The pre-traffic hook: a function CodeDeploy runs before it shifts any traffic to a new version.

``function`` (plain Python runtime, code in ``runtime/``) invokes the version under test with the
repository's own API Gateway events and reports Succeeded or Failed to CodeDeploy
(``runtime/handler.py`` says what it checks). The canary deployment registers it as the
deployment group's pre-hook. Its role may invoke the price function's versions (qualified ARNs
only, never ``$LATEST``) and write its own log group; the deployment group grants it
``PutLifecycleEventHookExecutionStatus`` on that group only.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, Duration, ILocalBundling, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import constants as c
from infra.constructs.pre_traffic_hook.runtime.checks import EVENT_FILES
from infra.nag import acknowledge

RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
EVENTS_DIR = Path(__file__).resolve().parents[3] / "events"
PACKAGE = "pre_traffic_hook"  # the runtime's package name inside the asset
RUNTIME = lambda_.Runtime.PYTHON_3_14


@jsii.implements(ILocalBundling)
class HookPackage:
    """Copies the runtime's modules and the events its cases send into one package.

    The events live once, in ``events/`` (tests, ``sam local invoke`` and the docs use them); the
    asset carries a copy. Only ``*.py`` and the named events are copied, so the asset's hash - and
    so a new hook version - follows what the hook runs, not caches."""

    def try_bundle(self, output_dir: str, *, image: object, **_options: object) -> bool:
        package = Path(output_dir) / PACKAGE
        (package / "events").mkdir(parents=True, exist_ok=True)
        for module in sorted(RUNTIME_DIR.glob("*.py")):
            shutil.copyfile(module, package / module.name)
        for name in EVENT_FILES:
            shutil.copyfile(EVENTS_DIR / name, package / "events" / name)
        return True


def hook_code() -> lambda_.Code:
    return lambda_.Code.from_asset(
        str(RUNTIME_DIR),
        # The output's hash: the events come from outside RUNTIME_DIR, a source hash would miss them.
        asset_hash_type=AssetHashType.OUTPUT,
        # Bundling is always local (file copies); the image is required by the API and never pulled.
        bundling=BundlingOptions(image=RUNTIME.bundling_image, local=HookPackage()),
    )


class PreTrafficHook(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        target: lambda_.IFunction,
        version: lambda_.IVersion,
        expected_model: str,
        target_timeout: Duration = c.LAMBDA_TIMEOUT,
    ) -> None:
        """``target``/``version``: the price function and the version the next deployment shifts to;
        ``expected_model``: its DEFAULT_MODEL; ``target_timeout``: its timeout."""
        super().__init__(scope, construct_id)
        invoke_timeout = target_timeout.to_seconds() + c.PRE_TRAFFIC_INVOKE_MARGIN.to_seconds()
        self.log_group = logs.LogGroup(self, "Logs", retention=c.LOG_RETENTION)
        self.role = iam.Role(
            self, "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{c.SERVICE_NAME}: pre-traffic hook, invokes new versions and reports to CodeDeploy",
        )
        self.log_group.grant_write(self.role)
        # Any version of this one function, so the policy stays the same from deploy to deploy: a
        # policy naming each new version would race IAM's propagation at the moment the hook runs.
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["lambda:InvokeFunction"], resources=[f"{target.function_arn}:*"]))
        target_id = Stack.of(self).resolve(target.function_arn)["Fn::GetAtt"][0]
        acknowledge(self.role, f"AwsSolutions-IAM5[Resource::<{target_id}.Arn>:*]",
                    "lambda:InvokeFunction on the qualified ARNs (versions) of the price function only: the "
                    "hook tests the version each deployment shifts to.")
        self.function = lambda_.Function(
            self, "Function",
            description=f"{c.SERVICE_NAME}: CodeDeploy pre-traffic hook (checks a new version before traffic)",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=f"{PACKAGE}.handler.lambda_handler",
            code=hook_code(),
            memory_size=c.PRE_TRAFFIC_HOOK_MEMORY_MB,
            timeout=c.PRE_TRAFFIC_HOOK_TIMEOUT,
            role=self.role,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            environment={
                "NEW_VERSION_ARN": version.function_arn,
                "EXPECTED_MODEL": expected_model,
                "INVOKE_TIMEOUT_SECONDS": f"{invoke_timeout:g}",
            },
        )
