"""Deploy-time settings, read once from CDK context (``cdk.json`` defaults, ``-c key=value``).

Every key is optional; an absent key takes the default from ``infra.constants``, which
``cdk.json`` repeats so a reader sees the defaults in one file (a test keeps the two equal).
Values given with ``-c`` arrive as strings: "true"/"false", numbers, "none" for no value, and
comma-separated CIDRs are accepted.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any

from constructs import Node
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from infra import constants as c

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
}
_NONE = {"", "none", "null"}


class DeploymentSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: str = c.DEFAULT_STAGE
    region: str = c.DEFAULT_REGION
    account: str | None = None  # None: the account of the credentials `cdk deploy` runs with
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

    @classmethod
    def from_context(cls, node: Node) -> DeploymentSettings:
        # Plain camelCase keys are this app's; CDK's own have a prefix ("@aws-cdk/...", "aws:cdk:...").
        ours = {key: value for key, value in node.get_all_context().items() if re.fullmatch(r"[a-z][A-Za-z0-9]*", key)}
        return cls.from_mapping(ours)

    @classmethod
    def from_mapping(cls, context: Mapping[str, Any]) -> DeploymentSettings:
        for key in context:
            if key not in CONTEXT_KEYS:  # a mistyped `-c` key would otherwise be ignored silently
                close = difflib.get_close_matches(key, CONTEXT_KEYS, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]}?)" if close else f"; known: {', '.join(CONTEXT_KEYS)}"
                raise ValueError(f"unknown context key {key!r}{hint}")
        # null (cdk.json) keeps the default; "none" (-c key=none) asks for no value, which only
        # the optional settings (account, reservedConcurrency, certificateArn) accept.
        values = {
            CONTEXT_KEYS[key]: None if isinstance(value, str) and value.strip().lower() in _NONE else value
            for key, value in context.items() if value is not None
        }
        return cls(**values)

    @field_validator("stage")
    @classmethod
    def _stage_name(cls, value: str) -> str:
        # Part of stack names and the API Gateway stage: letters, digits, hyphens.
        if not re.fullmatch(r"[a-z][a-z0-9-]{0,19}", value):
            raise ValueError("stage must be 1-20 lowercase letters, digits or hyphens, starting with a letter")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("logLevel must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return value.upper()

    @field_validator("allowed_cidrs", mode="before")
    @classmethod
    def _cidr_list(cls, value: Any) -> Any:
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
        return self

