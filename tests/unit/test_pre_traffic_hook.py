"""The pre-traffic hook: it invokes the new version with the repository's events and always reports
to CodeDeploy. Lambda and CodeDeploy are botocore Stubbers (moto implements neither
PutLifecycleEventHookExecutionStatus nor the invocation of an image function without Docker)."""

from __future__ import annotations

import io
import json
import logging
import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from infra.constructs.pre_traffic_hook.runtime import handler as hook
from infra.constructs.pre_traffic_hook.runtime.checks import EVENT_FILES
from lambda_fn.api.asgi import LocalContext
from lambda_fn.api.handler import lambda_handler as service_handler
from tests.helpers import EVENTS_DIR, load_event

REGION = "us-west-2"
VERSION_ARN = f"arn:aws:lambda:{REGION}:111122223333:function:PriceFunction-abc:7"
ENVIRON = {"NEW_VERSION_ARN": VERSION_ARN, "EXPECTED_MODEL": "gbm", "INVOKE_TIMEOUT_SECONDS": "15"}
HOOK_EVENT = {"DeploymentId": "d-EXAMPLE123", "LifecycleEventHookExecutionId": "eyJleGFtcGxlIjoiaG9vayJ9"}
CREDENTIALS = {"region_name": REGION, "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
TIMED_OUT = {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 10.00 seconds"}


def client(service: str) -> Any:
    return boto3.client(service, **CREDENTIALS)


def service_answer(event_file: str) -> dict:
    """What the service's own handler answers to the event, in process: a version that works."""
    event = load_event(event_file.removesuffix(".json"))
    return service_handler(event, LocalContext(aws_request_id=str(uuid.uuid4())))


def proxy(status: int, body: dict) -> dict:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body),
            "isBase64Encoded": False}


class Harness:
    """A stubbed Lambda that answers the hook's invocations in order, and a stubbed CodeDeploy."""

    def __init__(self) -> None:
        self.lambda_ = client("lambda")
        self.codedeploy = client("codedeploy")
        self.invocations = Stubber(self.lambda_)
        self.reports = Stubber(self.codedeploy)
        self.timeouts: list[float] = []

    def answers(self, *payloads: dict, function_error: str | None = None) -> Harness:
        for event_file, payload in zip(EVENT_FILES, payloads, strict=False):
            data = json.dumps(payload).encode()
            response = {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(data), len(data))}
            if function_error:
                response["FunctionError"] = function_error
            # The version under test (never the alias), sent the packaged event as it is.
            sent = json.dumps(load_event(event_file.removesuffix(".json"))).encode()
            expected = {"FunctionName": VERSION_ARN, "InvocationType": "RequestResponse", "Payload": sent}
            self.invocations.add_response("invoke", response, expected)
        return self

    def expects_report(self, status: str) -> Harness:
        self.reports.add_response("put_lifecycle_event_hook_execution_status", {"lifecycleEventHookExecutionId":
                                  HOOK_EVENT["LifecycleEventHookExecutionId"]},
                                  {"deploymentId": HOOK_EVENT["DeploymentId"],
                                   "lifecycleEventHookExecutionId": HOOK_EVENT["LifecycleEventHookExecutionId"],
                                   "status": status})
        return self

    def lambda_client_for(self, timeout: float) -> Any:
        self.timeouts.append(timeout)
        return self.lambda_

    def run(self, environ: dict[str, str] = ENVIRON, **kwargs: Any) -> str:
        with self.invocations, self.reports:
            status = hook.run(HOOK_EVENT, environ=environ, codedeploy=self.codedeploy,
                              lambda_client_for=self.lambda_client_for, events_dir=EVENTS_DIR, **kwargs)
            self.reports.assert_no_pending_responses()
        return status


@pytest.fixture
def harness() -> Harness:
    return Harness()


@pytest.fixture(autouse=True)
def hook_logs(caplog):
    caplog.set_level(logging.INFO, logger=hook.__name__)
    return caplog


def test_a_version_that_answers_like_the_service_passes(harness, hook_logs):
    # Given the answers the service's own handler gives to the two packaged events
    harness.answers(*(service_answer(name) for name in EVENT_FILES)).expects_report("Succeeded")
    # When the hook runs, Then it reports Succeeded, having sent each event to the version under test
    # (the Stubber checks each Invoke's parameters)
    assert harness.run() == "Succeeded"
    harness.invocations.assert_no_pending_responses()
    assert harness.timeouts == [15.0]
    assert [line for line in hook_logs.messages if line.startswith("PASS")] == [
        f"PASS predict.json (prices a valid house) on {VERSION_ARN}",
        f"PASS bad_missing_field.json (refuses a house without sqft_living) on {VERSION_ARN}"]


def test_a_wrong_status_fails_the_deployment(harness, hook_logs):
    harness.answers(proxy(500, {"error": "internal_error", "message": "boom", "details": []}),
                    service_answer("bad_missing_field.json")).expects_report("Failed")
    assert harness.run() == "Failed"
    assert any(line.startswith("FAIL predict.json") and "expected status 200, got 500" in line
               for line in hook_logs.messages)


def test_a_wrong_body_fails_the_deployment(harness, hook_logs):
    priced = json.loads(service_answer("predict.json")["body"])
    harness.answers(proxy(200, {**priced, "model": {"name": "basic", "version": "v1"}}),
                    service_answer("bad_missing_field.json")).expects_report("Failed")
    assert harness.run() == "Failed"
    assert any("priced by model 'basic', expected 'gbm'" in line for line in hook_logs.messages)


def test_an_invalid_request_answered_200_fails_the_deployment(harness, hook_logs):
    harness.answers(service_answer("predict.json"), service_answer("predict.json")).expects_report("Failed")
    assert harness.run() == "Failed"
    assert any(line.startswith("FAIL bad_missing_field.json") and "answered 200" in line
               for line in hook_logs.messages)


def test_a_function_error_fails_the_deployment(harness, hook_logs):
    # The version timed out (Lambda answers the Invoke with FunctionError and the error as payload)
    harness.answers(TIMED_OUT, TIMED_OUT, function_error="Unhandled").expects_report("Failed")
    assert harness.run() == "Failed"
    assert any("the invocation failed (Unhandled): Sandbox.Timedout: Task timed out after 10.00 seconds" in line
               for line in hook_logs.messages)


def test_an_invoke_refused_by_lambda_fails_the_deployment(harness, hook_logs):
    for _ in EVENT_FILES:
        harness.invocations.add_client_error("invoke", "AccessDeniedException", "not authorized", 403)
    harness.expects_report("Failed")
    assert harness.run() == "Failed"
    assert any("could not invoke the new version" in line and "AccessDeniedException" in line
               for line in hook_logs.messages)


def test_an_answer_slower_than_the_limit_fails_the_deployment(harness, hook_logs, monkeypatch):
    # A real client whose read times out as a socket would (no Stubber: it answers before the send).
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    real = hook.lambda_client(15.0)
    assert (real.meta.config.read_timeout, real.meta.config.retries["total_max_attempts"]) == (15.0, 1)
    sends = []

    def time_out(request, **_):
        sends.append(request.url)
        raise ReadTimeoutError(endpoint_url=request.url)

    real.meta.events.register("before-send.lambda.Invoke", time_out)
    harness.expects_report("Failed")
    with harness.reports:
        status = hook.run(HOOK_EVENT, environ=ENVIRON, codedeploy=harness.codedeploy,
                          lambda_client_for=lambda timeout: real, events_dir=EVENTS_DIR)
    assert status == "Failed"
    assert len(sends) == len(EVENT_FILES)  # one attempt each: a retried Invoke would run the request twice
    assert any("Read timeout on endpoint URL" in line for line in hook_logs.messages)


@pytest.mark.parametrize("environ", [
    {},
    {**ENVIRON, "NEW_VERSION_ARN": "arn:aws:lambda:us-west-2:111122223333:function:PriceFunction-abc"},
    {**ENVIRON, "INVOKE_TIMEOUT_SECONDS": "soon"},
])
def test_a_hook_that_crashes_still_reports_failed(harness, hook_logs, environ):
    harness.expects_report("Failed")
    assert harness.run(environ) == "Failed"
    assert any(line.startswith("FAIL the pre-traffic hook itself failed") for line in hook_logs.messages)


def test_a_hook_without_its_events_still_reports_failed(harness, tmp_path):
    harness.expects_report("Failed")
    with harness.invocations, harness.reports:
        status = hook.run(HOOK_EVENT, environ=ENVIRON, codedeploy=harness.codedeploy,
                          lambda_client_for=harness.lambda_client_for, events_dir=tmp_path)
    assert status == "Failed"


def test_a_report_already_made_by_an_earlier_attempt_is_not_an_error(harness, hook_logs):
    harness.answers(*(service_answer(name) for name in EVENT_FILES))
    harness.reports.add_client_error("put_lifecycle_event_hook_execution_status",
                                     "LifecycleEventAlreadyCompletedException", "already completed")
    assert harness.run() == "Succeeded"
    assert any("a status was already reported" in line for line in hook_logs.messages)


def test_a_report_that_cannot_be_made_raises(harness):
    # Then the invocation fails visibly (the hook's log and Errors metric); a retry would report again.
    harness.answers(*(service_answer(name) for name in EVENT_FILES))
    harness.reports.add_client_error("put_lifecycle_event_hook_execution_status", "ThrottlingException", "slow down")
    with pytest.raises(Exception, match="ThrottlingException"):
        harness.run()


def test_an_event_that_is_not_codedeploys_is_refused(harness):
    with pytest.raises(ValueError, match="not a CodeDeploy lifecycle hook event"):
        hook.run({"hello": "world"}, environ=ENVIRON, codedeploy=harness.codedeploy)
