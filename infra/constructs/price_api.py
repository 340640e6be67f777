"""The public front door of the serverless path: an API Gateway REST API proxying to the alias.

- One resource per route the function's app declares (``service_routes``), each a Lambda proxy
  integration to alias ``live``; every method requires an API key, except the page for agents and its
  assets (``public_routes``): a browser navigating to a page cannot send a header, so the page asks
  for the key and sends it with each of its calls to the API. A path with no route never
  reaches the function: API Gateway answers it with the service's 404 body (gateway responses,
  like a missing key's 403 and throttling's 429).
- The key sits on a usage plan with throttling (rate, burst) and a daily quota.
- The stage writes JSON access logs to its own log group, error-level execution logs (to the
  group API Gateway names ``API-Gateway-Execution-Logs_<api id>/<stage>``, created here so it
  has retention) and X-Ray traces. Request bodies are validated by the function (pydantic, with field-level
  errors); API Gateway validates the declared request parameters.
- Optionally, beyond the key: a resource policy admitting only the listed source networks, a WAF
  web ACL with a per-IP rate limit on the stage, and AWS_IAM (SigV4) authorization on every method.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
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
        public_routes: Collection[tuple[str, str]] | None = None,
        allowed_cidrs: Sequence[str] = (),
        waf_rate_limit: int | None = None,
        iam_auth: bool = False,
    ) -> None:
        """``allowed_cidrs``: source networks admitted by a resource policy (empty: any network);
        ``waf_rate_limit``: requests per 5 minutes per IP in a WAF web ACL (None: no web ACL);
        ``iam_auth``: every method needs a SigV4-signed caller, on top of the API key;
        ``routes`` and ``public_routes`` (served with neither key nor SigV4): the function's by default."""
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
            # The policy is part of the RestApi resource, which CDK hashes into the deployment's
            # logical id: changing it creates a new deployment, so the stage serves the new policy.
            policy=_source_ip_policy(allowed_cidrs, iam_auth) if allowed_cidrs else None,
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
        public_routes = frozenset(service_public_routes() if public_routes is None else public_routes)
        self.methods: list[apigw.Method] = []
        self.public_methods: list[apigw.Method] = []
        for (http_method, path), query in (service_routes() if routes is None else routes).items():
            public = (http_method, path) in public_routes
            method = self.api.root.resource_for_path(path).add_method(
                http_method, integration,
                api_key_required=not public,
                authorization_type=apigw.AuthorizationType.IAM if iam_auth and not public else None,
                # Optional parameters: API Gateway refuses none of them, but documents them (and the
                # function refuses any other, with a message naming the ones it takes).
                request_parameters={f"method.request.querystring.{name}": False for name in query} or None,
                request_validator=validator,
            )
            self.methods.append(method)
            if public:
                self.public_methods.append(method)

        # API Gateway answers some requests itself; answer them in the service's error format
        # ({"error", "message", "details"}) and, for a path with no route, with the same 404.
        # With IAM auth an unsigned request to a real route gets the same response type as an
        # unknown path, so it cannot claim "no route" then.
        no_token = (("UnsignedResponse", apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, "403", "forbidden",
                     "unsigned request (AWS SigV4 required) or no route $context.httpMethod $context.path")
                    if iam_auth else
                    ("NotFoundResponse", apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, "404", "not_found",
                     "no route $context.httpMethod $context.path; see /v1/swagger"))
        # A resource policy's or IAM's refusal, otherwise API Gateway's bare {"message": ...}.
        denied = (("AccessDeniedResponse", apigw.ResponseType.ACCESS_DENIED, "403", "forbidden",
                   "access denied: the caller's network or identity is not allowed"),
                  ) if allowed_cidrs or iam_auth else ()
        for response_id, response_type, status, error, message in (
            no_token,
            *denied,
            ("ForbiddenResponse", apigw.ResponseType.INVALID_API_KEY, "403", "forbidden",
             "missing or unknown API key (x-api-key header)"),
            ("ThrottledResponse", apigw.ResponseType.THROTTLED, "429", "throttled",
             "too many requests: slow down and retry"),
            ("QuotaExceededResponse", apigw.ResponseType.QUOTA_EXCEEDED, "429", "quota_exceeded",
             "the daily request quota of this key is used up"),
        ):
            self.api.add_gateway_response(
                response_id,
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
        self.web_acl = None if waf_rate_limit is None else self._add_web_acl(stage_name, waf_rate_limit)

        # Acknowledge only what is actually off in this configuration.
        network = "a source-IP resource policy" if allowed_cidrs else "no network restriction (apiAllowedCidrs empty)"
        page = "the agents' page and its assets are public by design"
        if not iam_auth:
            acknowledge(self.api, "AwsSolutions-APIG4",
                        f"Clients authenticate with an API key on a usage plan, with {network}; "
                        f"iamAuth adds SigV4 for AWS callers; {page}.")
        else:
            for method in self.public_methods:
                acknowledge(method, "AwsSolutions-APIG4",
                            "The agents' page and its assets: a browser navigating to a page sends neither key nor "
                            "signature; the page asks for the key for its API calls.")
        acknowledge(self.api, "AwsSolutions-COG4",
                    "No Cognito user pool: no end users; callers present an API key"
                    + (" and a SigV4 signature (AWS_IAM)" if iam_auth else "") + f"; {page}.")
        if self.web_acl is None:
            acknowledge(self.api.deployment_stage, "AwsSolutions-APIG3",
                        f"No WAF web ACL (wafRateLimit unset): API key, usage plan throttle and quota, {network}.")

    def _add_web_acl(self, stage_name: str, rate_limit: int) -> wafv2.CfnWebACL:
        """A regional web ACL on the stage: one per-IP rate rule, everything else allowed.

        No AWS managed common rule set: its SizeRestrictions_BODY rule blocks bodies over 8 KB,
        which a batch request exceeds, and each managed group adds a monthly charge."""
        def visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True)

        throttled = json.dumps({"error": "throttled", "message": "too many requests from this address: slow down "
                                "and retry", "details": []})
        web_acl = wafv2.CfnWebACL(
            self, "WebAcl",
            scope="REGIONAL",
            description=f"{c.SERVICE_NAME} {stage_name} per-IP rate limit",  # WAF allows no parentheses
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=visibility(f"{c.SERVICE_NAME}-{stage_name}"),
            # Blocked requests answer 429 in the service's error format, like the usage plan's.
            custom_response_bodies={"throttled": wafv2.CfnWebACL.CustomResponseBodyProperty(
                content_type="APPLICATION_JSON", content=throttled)},
            rules=[wafv2.CfnWebACL.RuleProperty(
                name="RateLimitPerIp",
                priority=0,
                action=wafv2.CfnWebACL.RuleActionProperty(block=wafv2.CfnWebACL.BlockActionProperty(
                    custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                        response_code=429, custom_response_body_key="throttled"))),
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        limit=rate_limit, aggregate_key_type="IP", evaluation_window_sec=300)),
                visibility_config=visibility(f"{c.SERVICE_NAME}-{stage_name}-rate-limit"),
            )],
        )
        wafv2.CfnWebACLAssociation(self, "WebAclAssociation",
                                   resource_arn=self.api.deployment_stage.stage_arn, web_acl_arn=web_acl.attr_arn)
        return web_acl

    @property
    def url(self) -> str:
        return self.api.url


def _source_ip_policy(cidrs: Sequence[str], iam_auth: bool) -> iam.PolicyDocument:
    """Allow invoking, then deny any source outside ``cidrs`` (the AWS-documented source-IP pattern).

    ``execute-api:/*`` is API Gateway's shorthand for this API's own ARN: the policy is a property of
    the API, so it cannot reference the API's id. With IAM auth the allow names this account, not
    everyone: a resource policy allowing "*" would admit signed callers from any account."""
    principal = iam.AccountRootPrincipal() if iam_auth else iam.AnyPrincipal()
    return iam.PolicyDocument(statements=[
        iam.PolicyStatement(effect=iam.Effect.ALLOW, principals=[principal],
                            actions=["execute-api:Invoke"], resources=["execute-api:/*"]),
        iam.PolicyStatement(effect=iam.Effect.DENY, principals=[iam.AnyPrincipal()],
                            actions=["execute-api:Invoke"], resources=["execute-api:/*"],
                            conditions={"NotIpAddress": {"aws:SourceIp": list(cidrs)}}),
    ])


def service_public_routes() -> frozenset[tuple[str, str]]:
    """(METHOD, path) of the routes the function serves to anyone: the page for agents and its assets."""
    from lambda_fn.api.routes import PUBLIC_ROUTES

    return PUBLIC_ROUTES


def service_routes() -> dict[tuple[str, str], tuple[str, ...]]:
    """(METHOD, path) -> query parameter names of every route the function answers, read from the app
    itself (its OpenAPI document), so the gateway and the function can never disagree."""
    from lambda_fn.api.handler import app
    from lambda_fn.api.routes import query_parameters

    return query_parameters(app)
