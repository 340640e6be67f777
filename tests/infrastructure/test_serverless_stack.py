"""The serverless path: API Gateway (API key) -> alias ``live`` -> container-image Lambda."""

from __future__ import annotations

import json

from aws_cdk.assertions import Template

from infra import constants as c
from infra.constructs.price_api import service_public_routes, service_routes
from tests.infrastructure.helpers import api_routes, only, price_function


def _alias_id(template: Template) -> str:
    return only(template, "AWS::Lambda::Alias")[0]


def test_function_runs_the_image_with_the_measured_size(serverless):
    # Given the default context, When synthesized, Then the function is the image, sized by constants.
    _, function = price_function(serverless)
    properties = function["Properties"]
    assert properties["PackageType"] == "Image"
    assert "ImageUri" in properties["Code"] and "Handler" not in properties and "Runtime" not in properties
    assert properties["Architectures"] == ["x86_64"]
    assert properties["MemorySize"] == c.LAMBDA_MEMORY_MB == 1769
    assert properties["Timeout"] == c.LAMBDA_TIMEOUT.to_seconds() == 10
    assert properties["TracingConfig"] == {"Mode": "Active"}
    assert "ReservedConcurrentExecutions" not in properties


def test_function_environment_carries_the_powertools_settings(serverless):
    serverless.has_resource_properties("AWS::Lambda::Function", {
        "Environment": {"Variables": {
            "POWERTOOLS_SERVICE_NAME": "price-service",
            "POWERTOOLS_METRICS_NAMESPACE": "SoundRealty",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "DEFAULT_MODEL": "gbm",
            "OMP_NUM_THREADS": "1",
        }},
    })


def test_function_logs_to_its_own_group_with_retention(serverless):
    _, function = price_function(serverless)
    group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    assert serverless.to_json()["Resources"][group]["Properties"]["RetentionInDays"] == 30


def test_alias_live_points_at_a_published_version(serverless):
    _, alias = only(serverless, "AWS::Lambda::Alias")
    version_id, version = only(serverless, "AWS::Lambda::Version")
    assert alias["Properties"]["Name"] == "live"
    assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}
    # A superseded version stays, so the alias can be pointed back at it.
    assert (version["DeletionPolicy"], version["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_image_updates_shift_the_alias_by_canary_and_roll_back_on_alarms(serverless):
    _, alias = only(serverless, "AWS::Lambda::Alias")
    group_id, group = only(serverless, "AWS::CodeDeploy::DeploymentGroup")
    # The alias update is handed to this deployment group.
    assert alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]["DeploymentGroupName"] == {"Ref": group_id}
    assert group["Properties"]["DeploymentConfigName"] == "CodeDeployDefault.LambdaCanary10Percent5Minutes"
    rollback = group["Properties"]["AutoRollbackConfiguration"]
    assert rollback["Enabled"] is True
    assert {"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"} <= set(rollback["Events"])

    # The group watches exactly the canary's three alarms: 5xx answers of the service, and two on
    # the alias (not the function, not $LATEST). The alarms that page a person are test_alarms.py's.
    alarms = {name: alarm for name, alarm in serverless.find_resources("AWS::CloudWatch::Alarm").items()
              if name.startswith("CanaryDeployment")}
    assert group["Properties"]["AlarmConfiguration"]["Enabled"] is True
    assert sorted(a["Name"]["Ref"] for a in group["Properties"]["AlarmConfiguration"]["Alarms"]) == sorted(alarms)
    function_id, _ = price_function(serverless)
    on_alias = [{"Name": "FunctionName", "Value": {"Ref": function_id}},
                {"Name": "Resource", "Value": {"Fn::Join": ["", [{"Ref": function_id}, ":live"]]}}]
    by_metric = {alarm["Properties"]["MetricName"]: alarm["Properties"] for alarm in alarms.values()}
    assert set(by_metric) == {"ServerErrors", "Errors", "Duration"}
    assert by_metric["Errors"]["Dimensions"] == by_metric["Duration"]["Dimensions"] == on_alias

    # ServerErrors is what the function's error mapping emits for every 5xx it answers.
    server_errors = by_metric["ServerErrors"]
    assert (server_errors["Namespace"], server_errors["Dimensions"]) == (
        c.METRICS_NAMESPACE, [{"Name": "service", "Value": c.SERVICE_NAME}])
    assert (server_errors["Statistic"], server_errors["Threshold"], server_errors["ComparisonOperator"]) == (
        "Sum", 1, "GreaterThanOrEqualToThreshold")

    errors = by_metric["Errors"]
    assert (errors["Statistic"], errors["Threshold"], errors["ComparisonOperator"]) == (
        "Sum", 1, "GreaterThanOrEqualToThreshold")
    latency = by_metric["Duration"]
    assert (latency["ExtendedStatistic"], latency["Threshold"], latency["ComparisonOperator"]) == (
        "p99", c.ALARM_P99_LATENCY_MS, "GreaterThanThreshold")
    # A canary lasts 5 minutes: both alarms must be able to fire within it.
    for alarm in by_metric.values():
        assert alarm["Period"] * alarm.get("DatapointsToAlarm", alarm["EvaluationPeriods"]) <= 300
        assert alarm["TreatMissingData"] == "notBreaching"


def test_every_route_but_the_page_requires_an_api_key_and_all_proxy_to_the_alias(serverless):
    routes = api_routes(serverless)
    assert set(routes) == set(service_routes())
    alias_id = _alias_id(serverless)
    for (verb, path), method in routes.items():
        public = (verb, path) in service_public_routes()
        assert method["ApiKeyRequired"] is not public, f"{verb} {path}: API key required is {not public}"
        integration = method["Integration"]
        assert (integration["Type"], integration["IntegrationHttpMethod"]) == ("AWS_PROXY", "POST")
        assert {"Ref": alias_id} in integration["Uri"]["Fn::Join"][1], f"{verb} {path} skips alias live"


def test_the_page_for_agents_is_served_without_a_key_and_pricing_still_needs_one(serverless):
    # A browser navigating to the page cannot send a header; the page sends the key on its API calls.
    routes = api_routes(serverless)
    assert routes["GET", "/"]["ApiKeyRequired"] is False
    assert routes["GET", "/app/page.js"]["ApiKeyRequired"] is False
    assert routes["GET", "/app/page.js"]["RequestParameters"] == {"method.request.querystring.v": False}
    assert routes["POST", "/v1/predict"]["ApiKeyRequired"] is True
    assert routes["POST", "/v1/predict/explain"]["ApiKeyRequired"] is True
    assert routes["GET", "/v1/swagger"]["ApiKeyRequired"] is True


def test_each_route_declares_the_query_parameters_its_function_signature_declares(serverless):
    routes = api_routes(serverless)
    for (verb, path), query in service_routes().items():
        expected = {f"method.request.querystring.{name}": False for name in query} or None
        assert routes[verb, path].get("RequestParameters") == expected, f"{verb} {path}"
    assert routes["POST", "/v1/predict"]["RequestParameters"] == {"method.request.querystring.model": False,
                                                                   "method.request.querystring.as_of": False}
    assert routes["GET", "/v1/model"]["RequestParameters"] == {"method.request.querystring.model": False}
    assert routes["GET", "/v1/health"].get("RequestParameters") is None


def test_answers_api_gateway_gives_itself_use_the_service_error_format(serverless):
    responses = {r["Properties"]["ResponseType"]: r["Properties"]
                 for r in serverless.find_resources("AWS::ApiGateway::GatewayResponse").values()}
    assert {kind: r["StatusCode"] for kind, r in responses.items()} == {
        "MISSING_AUTHENTICATION_TOKEN": "404", "INVALID_API_KEY": "403", "THROTTLED": "429", "QUOTA_EXCEEDED": "429"}
    for response in responses.values():
        body = json.loads(response["ResponseTemplates"]["application/json"])
        assert set(body) == {"error", "message", "details"}
    assert json.loads(responses["MISSING_AUTHENTICATION_TOKEN"]["ResponseTemplates"]["application/json"])[
        "error"] == "not_found"  # as the function answers an unknown route locally


def test_api_gateway_may_invoke_only_the_alias(serverless):
    alias_id = _alias_id(serverless)
    permissions = serverless.find_resources("AWS::Lambda::Permission")
    assert len(permissions) == len(service_routes())  # one per method, no test-invoke extras
    for permission in permissions.values():
        assert permission["Properties"]["FunctionName"] == {"Ref": alias_id}
        assert permission["Properties"]["Principal"] == "apigateway.amazonaws.com"


def test_usage_plan_throttles_and_caps_the_client_key(serverless):
    plan_id, plan = only(serverless, "AWS::ApiGateway::UsagePlan")
    assert plan["Properties"]["Throttle"] == {"RateLimit": 50, "BurstLimit": 100}
    assert plan["Properties"]["Quota"] == {"Limit": 10_000, "Period": "DAY"}
    key_id, _ = only(serverless, "AWS::ApiGateway::ApiKey")
    serverless.has_resource_properties("AWS::ApiGateway::UsagePlanKey", {
        "KeyId": {"Ref": key_id}, "KeyType": "API_KEY", "UsagePlanId": {"Ref": plan_id},
    })
    stage_id, _ = only(serverless, "AWS::ApiGateway::Stage")
    assert plan["Properties"]["ApiStages"][0]["Stage"] == {"Ref": stage_id}


def test_stage_writes_access_logs_and_traces(serverless):
    _, stage = only(serverless, "AWS::ApiGateway::Stage")
    properties = stage["Properties"]
    assert properties["StageName"] == "dev"
    assert properties["TracingEnabled"] is True
    assert "$context.identity.apiKeyId" in properties["AccessLogSetting"]["Format"]
    assert len(properties["MethodSettings"]) == 1
    settings = properties["MethodSettings"][0]
    assert (settings["ResourcePath"], settings["HttpMethod"]) == ("/*", "*")
    assert settings["LoggingLevel"] == "ERROR" and settings["MetricsEnabled"] is True
    assert settings["DataTraceEnabled"] is False  # request bodies stay out of the logs
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (50, 100)


def test_outputs_name_the_url_and_the_key(serverless):
    outputs = serverless.to_json()["Outputs"]
    assert {"ApiUrl", "ApiKeyId", "FunctionName", "DeploymentGroupName", "PreTrafficHookLogGroup"} <= set(outputs)
    url = outputs["ApiUrl"]["Value"]["Fn::Join"][1]
    assert url[0] == "https://" and ".execute-api.us-west-2." in url and url[-1] == "/"


def test_provisioned_concurrency_is_off_by_default(serverless):
    serverless.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 0)
    _, alias = only(serverless, "AWS::Lambda::Alias")
    assert "ProvisionedConcurrencyConfig" not in alias["Properties"]


def test_switched_on_provisioned_concurrency_tracks_utilisation(scaled):
    # Given provisionedConcurrency=true, min 2, max 8, reservedConcurrency 20 in the context
    template = scaled.template("Serverless")
    _, alias = only(template, "AWS::Lambda::Alias")
    # Application Auto Scaling alone sets it (test_provisioned_concurrency.py has both owners).
    assert "ProvisionedConcurrencyConfig" not in alias["Properties"]
    target_id, target = only(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert target["Properties"]["ScalableDimension"] == "lambda:function:ProvisionedConcurrency"
    assert (target["Properties"]["MinCapacity"], target["Properties"]["MaxCapacity"]) == (2, 8)
    assert target["Properties"]["ResourceId"]["Fn::Join"][1][-1] == ":live"
    template.has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {
        "PolicyType": "TargetTrackingScaling",
        "ScalingTargetId": {"Ref": target_id},
        "TargetTrackingScalingPolicyConfiguration": {
            "PredefinedMetricSpecification": {"PredefinedMetricType": "LambdaProvisionedConcurrencyUtilization"},
            "TargetValue": c.PROVISIONED_UTILIZATION_TARGET,
        },
    })
    template.has_resource_properties("AWS::Lambda::Function", {"ReservedConcurrentExecutions": 20, "MemorySize": 1769})


def test_context_sets_the_usage_plan_limits(scaled):
    _, plan = only(scaled.template("Serverless"), "AWS::ApiGateway::UsagePlan")
    assert plan["Properties"]["Throttle"] == {"RateLimit": 20, "BurstLimit": 40}
    assert plan["Properties"]["Quota"] == {"Limit": 5000, "Period": "DAY"}
