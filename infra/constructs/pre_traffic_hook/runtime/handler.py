"""CodeDeploy's BeforeAllowTraffic hook: the new version answers real requests before it takes any traffic.

CodeDeploy invokes this function with ``DeploymentId`` and ``LifecycleEventHookExecutionId``
before it shifts alias ``live``. The function invokes the new version directly (its qualified
ARN) with each case of ``checks.CASES``, and reports ``Succeeded`` to CodeDeploy only when every
answer passes its check. Anything else - a wrong answer, an invocation error or timeout, or this
function failing on its own - is reported ``Failed``, and CodeDeploy stops the deployment and
rolls it back. Each case logs one line (PASS or FAIL with the reasons).

Environment: ``NEW_VERSION_ARN`` (the version under test), ``EXPECTED_MODEL`` (the function's
``DEFAULT_MODEL``), ``INVOKE_TIMEOUT_SECONDS`` (one invocation's limit: the function's timeout
and a margin).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .checks import CASES, Case, Expected, parse_answer

EVENTS_DIR = Path(__file__).resolve().parent / "events"
SUCCEEDED, FAILED = "Succeeded", "Failed"
CONNECT_TIMEOUT_SECONDS = 5
# Reporting must get through: CodeDeploy otherwise waits an hour for a status before it gives up.
REPORT_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 5})
ALREADY_REPORTED = "LifecycleEventAlreadyCompletedException"

logger = logging.getLogger(__name__)  # Lambda's JSON log format at INFO (the function's LoggingConfig)


@dataclass(frozen=True)
class HookSettings:
    version_arn: str
    expected: Expected
    invoke_timeout: float

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> HookSettings:
        """ValueError naming the variable that is missing or wrong."""
        missing = [name for name in ("NEW_VERSION_ARN", "EXPECTED_MODEL", "INVOKE_TIMEOUT_SECONDS")
                   if not environ.get(name)]
        if missing:
            raise ValueError(f"the hook's environment lacks {', '.join(missing)}")
        if environ["NEW_VERSION_ARN"].count(":") != 7:
            raise ValueError(f"NEW_VERSION_ARN {environ['NEW_VERSION_ARN']!r} is not a qualified function ARN")
        return cls(version_arn=environ["NEW_VERSION_ARN"], expected=Expected(model=environ["EXPECTED_MODEL"]),
                   invoke_timeout=float(environ["INVOKE_TIMEOUT_SECONDS"]))


def lambda_client(read_timeout: float) -> Any:
    """A Lambda client that waits ``read_timeout`` for one answer and never retries: a retried
    Invoke would run the request twice, and a slow answer is itself a failed check."""
    config = Config(connect_timeout=CONNECT_TIMEOUT_SECONDS, read_timeout=read_timeout,
                    retries={"total_max_attempts": 1})
    return boto3.client("lambda", config=config)


def lambda_handler(event: Mapping[str, Any], context: Any) -> str:
    return run(event, environ=os.environ, codedeploy=boto3.client("codedeploy", config=REPORT_CONFIG))


def run(event: Mapping[str, Any], *, environ: Mapping[str, str], codedeploy: Any,
        lambda_client_for: Callable[[float], Any] = lambda_client, events_dir: Path = EVENTS_DIR) -> str:
    """Checks the new version and reports the outcome to CodeDeploy, whatever happens; returns the status.

    Raises only when the event is not CodeDeploy's (nothing to report to) or the report fails."""
    try:
        deployment_id, execution_id = event["DeploymentId"], event["LifecycleEventHookExecutionId"]
    except (KeyError, TypeError):
        raise ValueError(f"not a CodeDeploy lifecycle hook event: {event!r}") from None
    try:
        problems = _verify(environ, lambda_client_for, events_dir)
    except Exception:  # whatever broke here, CodeDeploy must hear Failed rather than wait for an hour
        logger.exception("FAIL the pre-traffic hook itself failed before it could finish its checks")
        problems = ["the hook itself failed (traceback above)"]
    status = FAILED if problems else SUCCEEDED
    log = logger.error if problems else logger.info
    log("deployment %s: %s%s", deployment_id, status, f": {'; '.join(problems)}" if problems else "",
        extra={"deployment_id": deployment_id, "status": status})
    _report(codedeploy, deployment_id, execution_id, status)
    return status


def _verify(environ: Mapping[str, str], lambda_client_for: Callable[[float], Any], events_dir: Path) -> list[str]:
    settings = HookSettings.from_environ(environ)
    client = lambda_client_for(settings.invoke_timeout)
    problems = []
    for case in CASES:
        event = json.loads((events_dir / case.event_file).read_text())
        found = _try(case, event, client, settings)
        if found:
            logger.error("FAIL %s (%s) on %s: %s", case.event_file, case.what, settings.version_arn,
                         "; ".join(found), extra={"case": case.event_file, "problems": found})
            problems += [f"{case.event_file}: {problem}" for problem in found]
        else:
            logger.info("PASS %s (%s) on %s", case.event_file, case.what, settings.version_arn,
                        extra={"case": case.event_file})
    return problems


def _try(case: Case, event: Any, client: Any, settings: HookSettings) -> list[str]:
    try:
        response = client.invoke(FunctionName=settings.version_arn, InvocationType="RequestResponse",
                                 Payload=json.dumps(event).encode())
    except (BotoCoreError, ClientError) as error:  # a read timeout is a BotoCoreError
        return [f"could not invoke the new version: {error}"]
    payload = response["Payload"].read().decode("utf-8", errors="replace")
    if response.get("FunctionError"):
        # Lambda's own failures (a timeout, an init error, an out-of-memory kill) and unhandled exceptions.
        return [f"the invocation failed ({response['FunctionError']}): {_error_text(payload)}"]
    try:
        answer = parse_answer(payload)
    except ValueError as error:
        return [str(error)]
    return case.check(answer, settings.expected)


def _error_text(payload: str) -> str:
    try:
        error = json.loads(payload)
    except ValueError:
        return payload[:300]
    if isinstance(error, dict):
        return f"{error.get('errorType', 'error')}: {error.get('errorMessage', payload[:300])}"
    return payload[:300]


def _report(codedeploy: Any, deployment_id: str, execution_id: str, status: str) -> None:
    try:
        codedeploy.put_lifecycle_event_hook_execution_status(
            deploymentId=deployment_id, lifecycleEventHookExecutionId=execution_id, status=status)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == ALREADY_REPORTED:
            # A second invocation of this hook for the same event (a retry): the first status stands.
            logger.warning("deployment %s: a status was already reported; %s not sent", deployment_id, status)
            return
        logger.exception("deployment %s: could not report %s to CodeDeploy", deployment_id, status)
        raise
    logger.info("deployment %s: reported %s to CodeDeploy", deployment_id, status)
