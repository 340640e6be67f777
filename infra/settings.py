"""Deploy-time settings of one stage: ``config/<stage>.json``, then ``-c key=value`` on top.

The stage comes from ``-c stage=...`` (default ``dev``); its committed file
(``infra.stage_config``) holds the stage's settings, and a ``-c`` flag overrides one key for one
command. Every key is optional; an absent key takes the default from ``infra.constants``, which
``config/dev.json`` repeats so a reader sees the defaults in one file (a test keeps the two equal).
Values given with ``-c`` arrive as strings: "true"/"false", numbers, "none" for no value, and
comma-separated CIDRs are accepted.

``region`` and ``account`` are usually left out: the app then deploys where the AWS profile
points (``infra.app.target_environment``).
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from constructs import Node
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from infra import constants as c
from infra import stage_config

# Context key -> field name. Keys are flat (camelCase, like CDK's own) so `-c` can set each one.
CONTEXT_KEYS = {
    "stage": "stage",
    "region": "region",
    "account": "account",
    "memoryMb": "memory_mb",
    "logLevel": "log_level",
    "defaultModel": "default_model",
    "reservedConcurrency": "reserved_concurrency",
    "provisionedConcurrency": "provisioned_concurrency",
    "provisionedConcurrencyMin": "provisioned_concurrency_min",
    "provisionedConcurrencyMax": "provisioned_concurrency_max",
    "throttleRateLimit": "throttle_rate_limit",
    "throttleBurstLimit": "throttle_burst_limit",
    "quotaPerDay": "quota_per_day",
    "allowedCidrs": "allowed_cidrs",
    "ecsMinTasks": "ecs_min_tasks",
    "ecsMaxTasks": "ecs_max_tasks",
    "certificateArn": "certificate_arn",
    "ecs": "ecs",
    "alarmEmail": "alarm_email",
    "apiAllowedCidrs": "api_allowed_cidrs",
    "wafRateLimit": "waf_rate_limit",
    "iamAuth": "iam_auth",
    "modelPublisherArn": "model_publisher_arn",
}
_NONE = {"", "none", "null"}


class DeploymentSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: str = c.DEFAULT_STAGE
    region: str | None = None  # None: the AWS profile's region (CDK_DEFAULT_REGION)
    account: str | None = None  # None: the AWS profile's account (CDK_DEFAULT_ACCOUNT)
    memory_mb: int = Field(c.LAMBDA_MEMORY_MB, ge=128, le=10_240)
    log_level: str = c.LAMBDA_LOG_LEVEL
    default_model: str = c.DEFAULT_MODEL
    reserved_concurrency: int | None = Field(None, ge=1)  # None: draw from the account's pool
    provisioned_concurrency: bool = False
    provisioned_concurrency_min: int = Field(c.PROVISIONED_CONCURRENCY_MIN, ge=1)
    provisioned_concurrency_max: int = Field(c.PROVISIONED_CONCURRENCY_MAX, ge=1)
    throttle_rate_limit: float = Field(c.THROTTLE_RATE_LIMIT, gt=0)
    throttle_burst_limit: int = Field(c.THROTTLE_BURST_LIMIT, ge=1)
    quota_per_day: int = Field(c.QUOTA_PER_DAY, ge=1)
    allowed_cidrs: tuple[str, ...] = c.ALLOWED_CIDRS
    ecs_min_tasks: int = Field(c.ECS_MIN_TASKS, ge=1)
    ecs_max_tasks: int = Field(c.ECS_MAX_TASKS, ge=1)
    certificate_arn: str | None = None  # ACM certificate: the ALB listens on HTTPS 443 instead of HTTP 80
    ecs: bool = False  # the ECS stack (VPC, NAT gateway, load balancer: a standing cost) only when asked
    alarm_email: str | None = None  # subscribed to the alarm topic (SNS asks it to confirm); None: no one
    # The REST API's callers, beyond the API key: source networks (a resource policy; empty: any
    # network), a WAF rate limit per IP (requests per 5 minutes; WAF's floor is 10; None: no WAF)
    # and SigV4-signed callers only (AWS_IAM on every method).
    api_allowed_cidrs: tuple[str, ...] = ()
    waf_rate_limit: int | None = Field(None, ge=10, le=2_000_000_000)
    iam_auth: bool = False
    # The IAM role (the release pipeline's) that alone may assume the registry's deploy role, and so
    # publish, sign and promote models. None: the account root (anyone the account lets assume
    # it), accepted in dev only.
    model_publisher_arn: str | None = None

    @classmethod
    def from_context(cls, node: Node, config_dir: Path = stage_config.CONFIG_DIR) -> DeploymentSettings:
        """The stage's file, overridden key by key by the context (``-c``); raises ValueError naming the source."""
        # Plain camelCase keys are this app's; CDK's own have a prefix ("@aws-cdk/...", "aws:cdk:...").
        ours = {key: value for key, value in node.get_all_context().items() if re.fullmatch(r"[a-z][A-Za-z0-9]*", key)}
        cls._check_keys(ours)
        stage = str(ours.get("stage") or c.DEFAULT_STAGE)
        committed = stage_config.read(stage, config_dir)
        cls._check_keys(committed, f"config/{stage}.json")
        if "stage" in committed:
            raise ValueError(f"config/{stage}.json: drop 'stage', the file's name is the stage")
        given = {key: value for key, value in ours.items() if value is not None}  # null keeps the file's value
        return cls.from_mapping({**committed, **given, "stage": stage})

    @classmethod
    def from_mapping(cls, context: Mapping[str, Any]) -> DeploymentSettings:
        cls._check_keys(context)
        # null (in a config file) keeps the default; "none" (-c key=none) asks for no value, which
        # only the optional settings (region, account, reservedConcurrency, certificateArn, alarmEmail) accept.
        values = {
            CONTEXT_KEYS[key]: None if isinstance(value, str) and value.strip().lower() in _NONE else value
            for key, value in context.items() if value is not None
        }
        return cls(**values)

    @staticmethod
    def _check_keys(context: Mapping[str, Any], source: str = "the context (-c or cdk.json)") -> None:
        for key in context:
            if key not in CONTEXT_KEYS:  # a mistyped key would otherwise be ignored silently
                close = difflib.get_close_matches(key, CONTEXT_KEYS, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]}?)" if close else f"; known: {', '.join(CONTEXT_KEYS)}"
                raise ValueError(f"unknown key {key!r} in {source}{hint}")

    @field_validator("stage")
    @classmethod
    def _stage_name(cls, value: str) -> str:
        if not stage_config.STAGE_PATTERN.fullmatch(value):
            raise ValueError(stage_config.STAGE_RULE)
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", value):
            raise ValueError(f"region must be an AWS region name such as us-west-2, got {value!r}")
        return value

    @field_validator("account")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d{12}", value):
            raise ValueError("account must be a 12-digit AWS account id (a JSON string)")
        return value

    @field_validator("certificate_arn")
    @classmethod
    def _certificate(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[\w-]+", value):
            raise ValueError(f"certificateArn must be an ACM certificate ARN, got {value!r}")
        return value

    @field_validator("model_publisher_arn")
    @classmethod
    def _publisher(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}", value):
            raise ValueError(f"modelPublisherArn must be an IAM role ARN (arn:aws:iam::<account>:role/<name>), "
                             f"got {value!r}")
        return value

    @field_validator("alarm_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            raise ValueError(f"alarmEmail must be an email address, got {value!r}")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("logLevel must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return value.upper()

    @field_validator("allowed_cidrs", "api_allowed_cidrs", mode="before")
    @classmethod
    def _cidr_list(cls, value: Any) -> Any:
        if value is None:  # -c apiAllowedCidrs=none: no restriction
            return ()
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("allowed_cidrs")
    @classmethod
    def _cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("allowedCidrs must name at least one client network")
        networks = [ipaddress.ip_network(cidr, strict=True) for cidr in value]
        if any(network.prefixlen == 0 for network in networks):
            raise ValueError("allowedCidrs may not open the load balancer to the internet (/0): "
                             "the ECS path has no API key; list the client's networks")
        if any(network.version != 4 for network in networks):
            raise ValueError("allowedCidrs takes IPv4 ranges (the load balancer is IPv4-only)")
        return tuple(str(network) for network in networks)

    @field_validator("api_allowed_cidrs")
    @classmethod
    def _api_cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        networks = [ipaddress.ip_network(cidr, strict=True) for cidr in value]
        if any(network.prefixlen == 0 for network in networks):
            raise ValueError("apiAllowedCidrs may not hold /0: leave it empty ([]) for no network restriction")
        if any(network.version != 4 for network in networks):
            raise ValueError("apiAllowedCidrs takes IPv4 ranges (the regional endpoint is IPv4-only)")
        return tuple(str(network) for network in networks)

    @model_validator(mode="after")
    def _consistent(self) -> DeploymentSettings:
        if self.provisioned_concurrency_min > self.provisioned_concurrency_max:
            raise ValueError("provisionedConcurrencyMin must not exceed provisionedConcurrencyMax")
        if (self.provisioned_concurrency and self.reserved_concurrency is not None
                and self.provisioned_concurrency_max > self.reserved_concurrency):
            raise ValueError("provisionedConcurrencyMax must not exceed reservedConcurrency")
        if self.ecs_min_tasks > self.ecs_max_tasks:
            raise ValueError("ecsMinTasks must not exceed ecsMaxTasks")
        if self.throttle_burst_limit < self.throttle_rate_limit:
            raise ValueError("throttleBurstLimit must be at least throttleRateLimit")
        if self.ecs and self.stage != c.DEFAULT_STAGE:
            self._ready_for_clients()
        if self.model_publisher_arn is None and self.stage != c.DEFAULT_STAGE:
            # Outside dev, "whoever the account lets assume the deploy role" may not release models.
            raise ValueError(f"stage {self.stage!r} needs the role that publishes models: set modelPublisherArn "
                             f"to the release pipeline's IAM role ARN in config/{self.stage}.json, "
                             "or pass -c modelPublisherArn=...")
        return self

    def _ready_for_clients(self) -> None:
        # Outside dev, a load balancer nobody can reach, or one that serves plain HTTP to the
        # client, is a mistake that a deploy would only reveal later.
        def where(key: str, value: str) -> str:
            return f"set {key} to {value} in config/{self.stage}.json, or pass -c {key}=..."

        if set(self.allowed_cidrs) & set(c.ALLOWED_CIDRS):
            raise ValueError(f"stage {self.stage!r} with ecs on: allowedCidrs still holds the placeholder "
                             f"{', '.join(c.ALLOWED_CIDRS)} (a documentation range that reaches nobody); "
                             + where("allowedCidrs", "the client's networks"))
        if self.certificate_arn is None:
            raise ValueError(f"stage {self.stage!r} with ecs on needs HTTPS: "
                             + where("certificateArn", "an ACM certificate ARN of the stack's region"))

