"""What ``make deploy`` needs, checked in seconds before it builds anything (``make preflight``).

    python -m scripts.preflight [--stage dev] [--profile NAME] [-c key=value ...]

One line per check: OK, PROBLEM (with what to do) or SKIPPED (the AWS checks, when the credentials
do not work). Exit code 1 when any check finds a problem. The checks:

- credentials: STS GetCallerIdentity answers (account and ARN);
- region: where the stacks go (the stage's ``region`` setting, else the profile's, as ``cdk deploy``
  resolves it into CDK_DEFAULT_REGION);
- bootstrap: the CDK bootstrap stack's version parameter in that account and region;
- docker: the CLI, a daemon that answers, and not the containerd image store;
- base image: no ``$LAMBDA_BASE_IMAGE`` other than the Dockerfile's AWS Lambda base (the CDK app
  builds the image on that variable's base, a stand-in meant for local runs only);
- node: the version ``package.json`` asks for (the CDK CLI runs on it);
- stage config: ``config/<stage>.json`` with the ``-c`` flags, validated as ``infra.app`` does;
- concurrency, only when the stage reserves or provisions Lambda concurrency: the account's
  concurrency quota leaves room for it with 100 executions unreserved, as Lambda insists.

Takes the same ``CDK_ARGS`` as the deploy (``-c``/``--context``, ``--profile``); other CDK options
are ignored. Every probe is injectable (a subprocess runner, a boto3 session factory) for the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    ProfileNotFound,
    SSOError,
    TokenRetrievalError,
)

from scripts.container.toolchain import aws_base_image

ROOT = Path(__file__).resolve().parent.parent
BASE_IMAGE_ENV = "LAMBDA_BASE_IMAGE"  # infra.constants.BASE_IMAGE_ENV
CDK_JSON = ROOT / "cdk.json"
PACKAGE_JSON = ROOT / "package.json"
# The CDK's defaults: the qualifier every `cdk bootstrap` uses unless told otherwise, and the
# oldest bootstrap stack the DefaultStackSynthesizer's templates accept.
QUALIFIER_CONTEXT = "@aws-cdk/core:bootstrapQualifier"
DEFAULT_QUALIFIER = "hnb659fds"
MIN_BOOTSTRAP_VERSION = 6
# Fail fast: a preflight that hangs on a dead network is worse than none.
AWS_CONFIG = Config(connect_timeout=3, read_timeout=5, retries={"total_max_attempts": 1})
CONTAINERD_STORE = "io.containerd.snapshotter.v1"
CREDENTIALS_FIX = ("run `aws configure` (access keys), `aws sso login --profile NAME` (IAM Identity Center), "
                   "or export AWS_PROFILE=NAME of a working profile")

Runner = Callable[[Sequence[str]], subprocess.CompletedProcess]
SessionFactory = Callable[[], boto3.Session]


@dataclass(frozen=True)
class Result:
    name: str
    ok: bool | None  # None: skipped, because a check it depends on failed
    message: str
    value: Any = None  # what later checks use: the identity, the region, the settings

    @property
    def status(self) -> str:
        return {True: "OK", False: "PROBLEM", None: "SKIPPED"}[self.ok]

    def line(self) -> str:
        return f"{self.status:<8} {self.name:<13} {self.message}"


def run_command(cmd: Sequence[str]) -> subprocess.CompletedProcess:
    """Runs a probe; FileNotFoundError when the program is missing, TimeoutExpired when it hangs."""
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=20, check=False)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


# ---- AWS -------------------------------------------------------------------------------------------

def check_credentials(session: boto3.Session, settings: Any = None) -> Result:
    name = "credentials"
    try:
        identity = session.client("sts", config=AWS_CONFIG).get_caller_identity()
    except NoCredentialsError:
        return Result(name, False, f"no AWS credentials found: {CREDENTIALS_FIX}")
    except (SSOError, TokenRetrievalError) as error:
        return Result(name, False, f"the SSO session has expired or never started ({error}): "
                                   f"run `aws sso login --profile {session.profile_name}`")
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        return Result(name, False, f"STS refused the credentials ({code}): {CREDENTIALS_FIX}")
    except BotoCoreError as error:  # no network, proxy, a broken profile: say what botocore said
        return Result(name, False, f"STS did not answer ({error}): check the network, then {CREDENTIALS_FIX}")
    account, arn = identity["Account"], identity["Arn"]
    pinned = getattr(settings, "account", None)
    if pinned and pinned != account:
        # The stacks' environment would name one account while the credentials reach another.
        return Result(name, False, f"the stage's settings pin account {pinned}, the credentials are for {account} "
                                   f"({arn}): use a profile of account {pinned}", identity)
    return Result(name, True, f"account {account}, {arn}", identity)


def check_region(session: boto3.Session, settings: Any = None, environ: Mapping[str, str] = os.environ) -> Result:
    name = "region"
    pinned = getattr(settings, "region", None)
    if pinned:
        return Result(name, True, f"{pinned} (the stage's region setting): the stacks deploy there", pinned)
    # The CDK CLI (AWS SDK for JavaScript) reads AWS_REGION first; botocore only AWS_DEFAULT_REGION.
    if environ.get("AWS_REGION"):
        region, source = environ["AWS_REGION"], "AWS_REGION"
    else:
        region = session.region_name
        source = ("AWS_DEFAULT_REGION" if environ.get("AWS_DEFAULT_REGION")
                  else f"profile {session.profile_name!r}")
    if not region:
        return Result(name, False, f"no region in {source}: `aws configure set region us-west-2` "
                                   "(or the region you want), or export AWS_REGION=...")
    return Result(name, True, f"{region} (from {source}): the stacks deploy there "
                              "(cdk passes it to the app as CDK_DEFAULT_REGION)", region)


def bootstrap_qualifier(context: Mapping[str, Any], cdk_json: Path = CDK_JSON) -> str:
    """The qualifier ``cdk deploy`` looks for: ``-c`` first, then cdk.json, then the CDK's default."""
    committed = json.loads(cdk_json.read_text()).get("context", {}) if cdk_json.is_file() else {}
    return str(context.get(QUALIFIER_CONTEXT) or committed.get(QUALIFIER_CONTEXT) or DEFAULT_QUALIFIER)


def check_bootstrap(session: boto3.Session, account: str, region: str, qualifier: str = DEFAULT_QUALIFIER) -> Result:
    name = "bootstrap"
    parameter = f"/cdk-bootstrap/{qualifier}/version"
    qualifier_flag = "" if qualifier == DEFAULT_QUALIFIER else f" --qualifier {qualifier}"
    fix = f"run `npx cdk bootstrap aws://{account}/{region}{qualifier_flag}`"
    try:
        value = session.client("ssm", region_name=region, config=AWS_CONFIG).get_parameter(Name=parameter)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        if code == "ParameterNotFound":
            return Result(name, False, f"{account}/{region} is not bootstrapped (no {parameter}): {fix}")
        return Result(name, False, f"cannot read {parameter} in {region} ({code}): the deploying role needs "
                                   "ssm:GetParameter on it, as `cdk deploy` does")
    except BotoCoreError as error:
        return Result(name, False, f"SSM in {region} did not answer ({error})")
    text = value["Parameter"]["Value"]
    if not text.isdigit():
        return Result(name, False, f"{parameter} holds {text!r}, not a version number: {fix}")
    version = int(text)
    if version < MIN_BOOTSTRAP_VERSION:
        return Result(name, False, f"bootstrap version {version} in {account}/{region} is older than "
                                   f"{MIN_BOOTSTRAP_VERSION}, which the CDK's templates require: {fix}", version)
    return Result(name, True, f"version {version} in {account}/{region} (qualifier {qualifier})", version)


# ---- Lambda concurrency ---------------------------------------------------------------------------

# Lambda refuses a reservation or provisioned concurrency that leaves fewer unreserved executions
# than this for the account's other functions; L-B99A9384 is the "Concurrent executions" quota.
MIN_UNRESERVED = 100
CONCURRENCY_QUOTA_CODE = "L-B99A9384"


def concurrency_demand(settings: Any) -> tuple[int, str]:
    """What the stage takes out of the account's unreserved pool, and the setting that asks for it."""
    if settings.reserved_concurrency is not None:  # provisioned concurrency lives inside the reservation
        return settings.reserved_concurrency, "reservedConcurrency"
    if settings.provisioned_concurrency:  # auto scaling may reach the maximum
        return settings.provisioned_concurrency_max, "provisionedConcurrencyMax"
    return 0, ""


def held_by_stage(cloudformation: Any, lambda_client: Any, stack_name: str) -> int:
    """What the deployed stage's function already holds (0 before its first deploy): its reservation,
    else the provisioned concurrency of its versions and aliases. Both count as reserved already."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if "does not exist" in error.response.get("Error", {}).get("Message", ""):
            return 0
        raise
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}
    function = outputs.get("FunctionName")
    if not function:
        return 0
    reserved = lambda_client.get_function_concurrency(FunctionName=function).get("ReservedConcurrentExecutions")
    if reserved is not None:
        return reserved
    pages = lambda_client.get_paginator("list_provisioned_concurrency_configs").paginate(FunctionName=function)
    return sum(config.get("RequestedProvisionedConcurrentExecutions", 0)
               for page in pages for config in page.get("ProvisionedConcurrencyConfigs", []))


def check_concurrency(lambda_client: Any, cloudformation: Any, settings: Any, stack_name: str) -> Result:
    name = "concurrency"
    demand, setting = concurrency_demand(settings)
    try:
        limits = lambda_client.get_account_settings()["AccountLimit"]
        held = held_by_stage(cloudformation, lambda_client, stack_name)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        return Result(name, False, f"cannot read the account's Lambda concurrency ({code}): it needs lambda:"
                                   "GetAccountSettings, GetFunctionConcurrency, ListProvisionedConcurrencyConfigs "
                                   "and cloudformation:DescribeStacks")
    except BotoCoreError as error:
        return Result(name, False, f"Lambda did not answer ({error})")
    limit, unreserved = limits["ConcurrentExecutions"], limits["UnreservedConcurrentExecutions"]
    room = unreserved + held - MIN_UNRESERVED
    facts = (f"{setting} {demand}; the account's limit is {limit}, {unreserved} unreserved now"
             + (f" plus {held} this stage's function holds" if held else ""))
    if demand > room:
        return Result(name, False, f"{facts}: the deploy would leave fewer than {MIN_UNRESERVED} unreserved, which "
                                   f"Lambda refuses. Lower {setting}, or raise the quota: aws service-quotas "
                                   f"request-service-quota-increase --service-code lambda --quota-code "
                                   f"{CONCURRENCY_QUOTA_CODE} --desired-value {limit + demand - room}", demand)
    return Result(name, True, f"{facts}: {room - demand + MIN_UNRESERVED} stay unreserved "
                              f"(Lambda keeps at least {MIN_UNRESERVED})", demand)


# ---- local tools ----------------------------------------------------------------------------------

def containerd_image_store(driver_status: str, info: str = "") -> bool:
    """Docker's documented probe: ``docker info -f '{{ .DriverStatus }}'`` lists
    ``driver-type io.containerd.snapshotter.v1`` when the containerd image store is on."""
    try:
        pairs = json.loads(driver_status)
    except ValueError:
        pairs = None
    if isinstance(pairs, list):
        return any(isinstance(pair, list) and pair == ["driver-type", CONTAINERD_STORE] for pair in pairs)
    return CONTAINERD_STORE in f"{driver_status}\n{info}"


def check_docker(run: Runner = run_command) -> Result:
    name = "docker"
    try:
        version = run(["docker", "version", "--format", "{{.Server.Version}}"])
    except FileNotFoundError:
        return Result(name, False, "no `docker` on PATH: install Docker (Engine or Desktop); "
                                   "cdk deploy builds the function's image locally")
    except subprocess.TimeoutExpired:
        return Result(name, False, "`docker version` hung: restart Docker")
    if version.returncode != 0 or not version.stdout.strip():
        return Result(name, False, "the Docker daemon does not answer: start Docker (Docker Desktop, or "
                                   f"`sudo systemctl start docker`); docker said: {_last_line(version.stderr)}")
    server = version.stdout.strip()
    try:
        status = run(["docker", "info", "--format", "{{json .DriverStatus}}"])
        driver_status = status.stdout.strip()
        # Another shape than the JSON pairs: read the plain `docker info` for the driver type too.
        info = "" if driver_status.startswith("[") else run(["docker", "info"]).stdout
    except (FileNotFoundError, subprocess.TimeoutExpired):
        status = None
    if status is None or status.returncode != 0:
        why = _last_line(status.stderr) if status is not None else "no answer"
        return Result(name, False, f"Docker {server} answered `docker version` but not `docker info` ({why}): "
                                   "restart Docker")
    if containerd_image_store(driver_status, info):
        return Result(name, False, f"Docker {server} uses the containerd image store (driver-type {CONTAINERD_STORE}): "
                                   "it pushes an image index, which Lambda refuses. Turn it off: Docker Desktop: "
                                   "Settings > General, untick 'Use containerd for pulling and storing images'; "
                                   'Docker Engine: {"features": {"containerd-snapshotter": false}} in '
                                   "/etc/docker/daemon.json, then `sudo systemctl restart docker` "
                                   "(check: docker info -f '{{ .DriverStatus }}')")
    return Result(name, True, f"Docker {server}, daemon answering, classic image store", server)


def check_base_image(environ: Mapping[str, str] = os.environ) -> Result:
    name = "base image"
    aws = aws_base_image()
    given = environ.get(BASE_IMAGE_ENV)
    if given and given != aws:
        return Result(name, False, f"{BASE_IMAGE_ENV}={given}: the deploy would build the image on that base, "
                                   f"not on {aws}; `unset {BASE_IMAGE_ENV}` (a stand-in base is for local runs "
                                   "on machines that cannot pull the AWS image)", given)
    return Result(name, True, f"{aws} (the Dockerfile's AWS Lambda base)", aws)


def required_node_major(package_json: Path = PACKAGE_JSON) -> int:
    """The major version of package.json's ``engines.node`` (``>=22``)."""
    wanted = json.loads(package_json.read_text()).get("engines", {}).get("node", "")
    found = re.search(r"(\d+)", wanted)
    if not found:
        raise ValueError(f"{package_json.name}: engines.node {wanted!r} names no version")
    return int(found.group(1))


def check_node(run: Runner = run_command, required: int | None = None) -> Result:
    name = "node"
    required = required if required is not None else required_node_major()
    fix = f"install Node.js {required} or newer (nodejs.org, or `nvm install {required}`)"
    try:
        done = run(["node", "--version"])
    except FileNotFoundError:
        return Result(name, False, f"no `node` on PATH: {fix}; the CDK CLI runs on it")
    except subprocess.TimeoutExpired:
        return Result(name, False, f"`node --version` hung: {fix}")
    found = re.fullmatch(r"v?(\d+)(\.\d+)*", done.stdout.strip())
    if done.returncode != 0 or not found:
        return Result(name, False, f"`node --version` said {_last_line(done.stdout + done.stderr)!r}: {fix}")
    if int(found.group(1)) < required:
        return Result(name, False, f"Node.js {done.stdout.strip()} is older than package.json's >={required}: {fix}")
    return Result(name, True, f"Node.js {done.stdout.strip()} (package.json asks >={required})", done.stdout.strip())


# ---- the stage's settings -------------------------------------------------------------------------

def _refusal(error: ValueError) -> str:
    from pydantic import ValidationError

    if isinstance(error, ValidationError):  # pydantic's text spans lines and links; keep the reasons
        reasons = []
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"])
            reason = str(item["msg"]).removeprefix("Value error, ")
            reasons.append(f"{where}: {reason}" if where else reason)
        return "; ".join(reasons)
    return str(error)


def check_stage_config(context: Mapping[str, Any], cdk_json: Path = CDK_JSON) -> Result:
    """The settings as ``infra.app.main`` reads them (cdk.json's context, then ``-c``), without a synth."""
    # Imported here: the CDK's jsii runtime starts on import, and the other checks do not need it.
    from aws_cdk import App

    from infra.settings import DeploymentSettings

    committed = json.loads(cdk_json.read_text()).get("context", {}) if cdk_json.is_file() else {}
    stage = context.get("stage") or "dev"
    try:
        settings = DeploymentSettings.from_context(App(context={**committed, **context}).node)
    except ValueError as error:
        return Result("stage config", False, f"stage {stage!r} refused: {_refusal(error)}")
    extras = ", ".join(part for part in ("ecs on" if settings.ecs else "no ECS stack",
                                         f"region {settings.region}" if settings.region else "",
                                         f"account {settings.account}" if settings.account else "") if part)
    return Result("stage config", True, f"config/{settings.stage}.json with the -c flags is valid ({extras})",
                  settings)


# ---- all of them ----------------------------------------------------------------------------------

def run_checks(context: Mapping[str, Any], session_factory: SessionFactory = boto3.Session,
               run: Runner = run_command, environ: Mapping[str, str] = os.environ) -> list[Result]:
    """Every check, in the order a reader fixes them; the settings are read first as the AWS checks use them."""
    stage = check_stage_config(context)
    settings = stage.value
    skipped = "skipped: needs working AWS credentials"
    try:
        session = session_factory()
    except ProfileNotFound as error:
        credentials = Result("credentials", False, f"{error}: `aws configure list-profiles` shows the names; "
                                                   f"{CREDENTIALS_FIX}")
        results = [credentials, Result("region", None, "skipped: no AWS profile"), Result("bootstrap", None, skipped)]
    else:
        credentials = check_credentials(session, settings)
        region = check_region(session, settings, environ)
        if credentials.value and region.ok:
            bootstrap = check_bootstrap(session, credentials.value["Account"], region.value,
                                        bootstrap_qualifier(context))
        else:
            bootstrap = Result("bootstrap", None, skipped if not credentials.value else "skipped: no region")
        results = [credentials, region, bootstrap]
        if settings is not None and concurrency_demand(settings)[0]:
            results.append(_concurrency(session, settings, region, credentials))
    return [*results, check_docker(run), check_base_image(environ), check_node(run), stage]


def _concurrency(session: boto3.Session, settings: Any, region: Result, credentials: Result) -> Result:
    if not (credentials.value and region.ok):
        return Result("concurrency", None, "skipped: needs working AWS credentials and a region")
    from infra.constants import STACK_PREFIX  # with the settings' own imports (the CDK), already loaded

    clients = [session.client(service, region_name=region.value, config=AWS_CONFIG)
               for service in ("lambda", "cloudformation")]
    return check_concurrency(*clients, settings, f"{STACK_PREFIX}Serverless-{settings.stage}")


def parse_args(argv: Sequence[str] | None = None) -> tuple[dict[str, str], str | None]:
    """The context (``-c key=value``, ``--context key=value``, ``--stage``) and ``--profile``; other
    CDK options in CDK_ARGS are left to cdk."""
    parser = argparse.ArgumentParser(prog="python -m scripts.preflight", description=__doc__.splitlines()[0])
    parser.add_argument("--stage", help="the stage (same as -c stage=...)")
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE",
                        help="context, as cdk takes it")
    parser.add_argument("--profile", help="the AWS profile, as cdk takes it (default: AWS_PROFILE)")
    args, _cdk_only = parser.parse_known_args(argv)
    context: dict[str, str] = {}
    for item in args.context:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"context must be key=value, got {item!r}")
        context[key] = value
    if args.stage:
        if context.get("stage", args.stage) != args.stage:
            parser.error(f"--stage {args.stage} and -c stage={context['stage']} disagree")
        context["stage"] = args.stage
    return context, args.profile


def main(argv: Sequence[str] | None = None, session_factory: SessionFactory | None = None,
         run: Runner = run_command) -> int:
    context, profile = parse_args(argv)
    results = run_checks(context, session_factory or (lambda: boto3.Session(profile_name=profile)), run)
    for result in results:
        print(result.line(), flush=True)
    problems = [result.name for result in results if result.ok is False]
    if problems:
        print(f"preflight: fix {', '.join(problems)} before `make deploy`")
        return 1
    print("preflight: ready for `make deploy`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
