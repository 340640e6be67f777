"""The public front door of the serverless path: an API Gateway REST API proxying to the alias.

- One resource per route the function's app declares (``service_routes``), each a Lambda proxy
  integration to alias ``live``; every method requires an API key. A path with no route never
  reaches the function: API Gateway answers it with the service's 404 body (gateway responses,
  like a missing key's 403 and throttling's 429).
- The key sits on a usage plan with throttling (rate, burst) and a daily quota.
- The stage writes JSON access logs to its own log group, error-level execution logs (to the
  group API Gateway names ``API-Gateway-Execution-Logs_<api id>/<stage>``, created here so it
  has retention) and X-Ray traces. Request bodies are validated by the function (pydantic, with field-level
  errors); API Gateway validates the declared request parameters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import constants as c
from infra.nag import acknowledge

# One JSON line per request: who (key id, source IP), what, outcome, and where the time went.
# $context.error.messageString arrives already quoted, so it is the one value left unquoted.
_F = apigw.AccessLogField
_ACCESS_LOG_FORMAT = apigw.AccessLogFormat.custom(json.dumps({
    "requestId": _F.context_request_id(),
    "requestTime": _F.context_request_time(),
    "apiKeyId": _F.context_identity_api_key_id(),
    "ip": _F.context_identity_source_ip(),
    "httpMethod": _F.context_http_method(),
    "resourcePath": _F.context_resource_path(),
    "status": _F.context_status(),
    "responseLength": _F.context_response_length(),
    "responseLatencyMs": _F.context_response_latency(),
    "integrationLatencyMs": _F.context_integration_latency(),
    "error": _F.context_error_message_string(),
    "xrayTraceId": _F.context_xray_trace_id(),
}).replace(f'"{_F.context_error_message_string()}"', _F.context_error_message_string()))


class PriceApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: lambda_.IFunction,
        stage_name: str,
        throttle_rate_limit: float,
        throttle_burst_limit: int,
        quota_per_day: int,
        routes: Mapping[tuple[str, str], Sequence[str]] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = logs.LogGroup(self, "AccessLogs", retention=c.LOG_RETENTION)
        self.api = apigw.RestApi(
            self, "Api",
            rest_api_name=f"{c.SERVICE_NAME}-{stage_name}",
            description="Sound Realty house price estimates",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            api_key_source_type=apigw.ApiKeySourceType.HEADER,
            # Access and execution logs need API Gateway's account-level CloudWatch role.
            cloud_watch_role=True,
            deploy_options=apigw.StageOptions(
                stage_name=stage_name,
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # request bodies stay out of the logs
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=_ACCESS_LOG_FORMAT,
                # The stage ceiling; the usage plan below is the per-key limit.
                throttling_rate_limit=throttle_rate_limit,
                throttling_burst_limit=throttle_burst_limit,
            ),
            default_method_options=apigw.MethodOptions(api_key_required=True),
        )
        # The stack states the URL as its own output (ApiUrl); drop the construct's generated one.
        self.api.node.try_remove_child("Endpoint")
        # API Gateway writes execution logs to a group it creates itself, with no expiry, on the
        # first log line; created first under that exact name, it keeps the stack's retention.
        self.execution_logs = logs.LogGroup(
            self, "ExecutionLogs",
            log_group_name=f"API-Gateway-Execution-Logs_{self.api.rest_api_id}/{stage_name}",
            retention=c.LOG_RETENTION,
        )
        self.api.deployment_stage.node.add_dependency(self.execution_logs)

        integration = apigw.LambdaIntegration(handler, proxy=True, allow_test_invoke=False)
        validator = self.api.add_request_validator(
            "Parameters", validate_request_parameters=True, validate_request_body=False,
        )
        self.methods: list[apigw.Method] = []
        for (http_method, path), query in (service_routes() if routes is None else routes).items():
            self.methods.append(self.api.root.resource_for_path(path).add_method(
                http_method, integration,
                api_key_required=True,
                # Optional parameters: API Gateway refuses none of them, but documents them (and the
                # function refuses any other, with a message naming the ones it takes).
                request_parameters={f"method.request.querystring.{name}": False for name in query} or None,
                request_validator=validator,
            ))

        # API Gateway answers some requests itself; answer them in the service's error format
        # ({"error", "message", "details"}) and, for a path with no route, with the same 404.
        for response_type, status, error, message in (
            (apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, "404", "not_found",
             "no route $context.httpMethod $context.path; see /v1/swagger"),
            (apigw.ResponseType.INVALID_API_KEY, "403", "forbidden", "missing or unknown API key (x-api-key header)"),
            (apigw.ResponseType.THROTTLED, "429", "throttled", "too many requests: slow down and retry"),
            (apigw.ResponseType.QUOTA_EXCEEDED, "429", "quota_exceeded",
             "the daily request quota of this key is used up"),
        ):
            self.api.add_gateway_response(
                f"{error.title().replace('_', '')}Response",
                type=response_type,
                status_code=status,
                templates={"application/json": json.dumps({"error": error, "message": message, "details": []})},
            )

        self.api_key = apigw.ApiKey(self, "ClientKey", description=f"{c.SERVICE_NAME} client key ({stage_name})")
        self.usage_plan = self.api.add_usage_plan(
            "UsagePlan",
            name=f"{c.SERVICE_NAME}-{stage_name}",
            throttle=apigw.ThrottleSettings(rate_limit=throttle_rate_limit, burst_limit=throttle_burst_limit),
            quota=apigw.QuotaSettings(limit=quota_per_day, period=apigw.Period.DAY),
            api_stages=[apigw.UsagePlanPerApiStage(api=self.api, stage=self.api.deployment_stage)],
        )
        self.usage_plan.add_api_key(self.api_key)

        acknowledge(self.api, "AwsSolutions-APIG2",
                    "Bodies are validated by the function (pydantic, field-level 422 errors, the documented contract); "
                    "API Gateway validates the declared query parameters only.")
        acknowledge(self.api, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                              "AmazonAPIGatewayPushToCloudWatchLogs]",
                    "The AWS-documented policy for API Gateway's account-level logging role, which stage access and "
                    "execution logs require.")
        acknowledge(self.api, "AwsSolutions-APIG4",
                    "Clients authenticate with an API key on a usage plan (the issue's access model); "
                    "there are no end users to authorise.")
        acknowledge(self.api, "AwsSolutions-COG4",
                    "No Cognito user pool: the one client calls with an API key, not user tokens.")
        acknowledge(self.api.deployment_stage, "AwsSolutions-APIG3",
                    "No WAF web ACL: every method needs an API key and the usage plan throttles and caps each key; "
                    "a web ACL is a per-account cost decision left to the operator.")

    @property
    def url(self) -> str:
        return self.api.url


def service_routes() -> dict[tuple[str, str], tuple[str, ...]]:
    """(METHOD, path) -> query parameter names of every route the function answers, read from the app
    itself (its OpenAPI document), so the gateway and the function can never disagree."""
    from lambda_fn.api.handler import app
    from lambda_fn.api.routes import query_parameters

    return query_parameters(app)
