"""Alarms that reach a person: every paging alarm notifies the topic, each required metric is
alarmed, the topic is encrypted and TLS-only, and the dashboard charts predictions per version."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Template

from infra import constants as c
from tests.infrastructure.helpers import only, price_function


def _paging_alarms(template: Template) -> dict[str, dict[str, Any]]:
    return {name: alarm["Properties"] for name, alarm in template.find_resources("AWS::CloudWatch::Alarm").items()
            if not name.startswith("CanaryDeployment")}


def _metrics(alarm: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(namespace, metric name, statistic) of every metric an alarm reads, plain or in metric math."""
    if "MetricName" in alarm:
        return [(alarm["Namespace"], alarm["MetricName"], alarm.get("ExtendedStatistic") or alarm["Statistic"])]
    return [(q["MetricStat"]["Metric"]["Namespace"], q["MetricStat"]["Metric"]["MetricName"], q["MetricStat"]["Stat"])
            for q in alarm["Metrics"] if "MetricStat" in q]


def _dimensions(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    if "MetricName" in alarm:
        return alarm.get("Dimensions", [])
    return next(q["MetricStat"]["Metric"].get("Dimensions", []) for q in alarm["Metrics"] if "MetricStat" in q)


def _topic_id(template: Template) -> str:
    return only(template, "AWS::SNS::Topic")[0]


def test_every_paging_alarm_notifies_the_topic_on_alarm_and_on_ok(serverless):
    topic = {"Ref": _topic_id(serverless)}
    alarms = _paging_alarms(serverless)
    assert alarms
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic], name
        assert alarm["TreatMissingData"] == "notBreaching", name


def test_the_canary_alarms_keep_their_behaviour_and_names(serverless):
    canary = {name: a["Properties"] for name, a in serverless.find_resources("AWS::CloudWatch::Alarm").items()
              if name.startswith("CanaryDeployment")}
    assert len(canary) == 3
    for alarm in canary.values():  # they roll a deployment back; they page no one
        assert not alarm.get("AlarmActions") and not alarm.get("OKActions") and "AlarmName" not in alarm


def test_each_required_metric_is_alarmed(serverless):
    alarmed = {metric for alarm in _paging_alarms(serverless).values() for metric in _metrics(alarm)}
    assert {
        ("AWS/ApiGateway", "5XXError", "Sum"),
        ("AWS/ApiGateway", "Latency", "p99"),
        ("AWS/ApiGateway", "4XXError", "Sum"),
        ("AWS/ApiGateway", "Count", "SampleCount"),
        (c.METRICS_NAMESPACE, "ThrottledRequests", "Sum"),
        ("AWS/Lambda", "Errors", "Sum"),
        ("AWS/Lambda", "Throttles", "Sum"),
        ("AWS/Lambda", "Duration", "p99"),
        (c.METRICS_NAMESPACE, "ServerErrors", "Sum"),
        (c.METRICS_NAMESPACE, "ModelSwapFailed", "Sum"),
    } <= alarmed


def test_the_4xx_alarm_is_a_share_of_requests(serverless):
    alarm = next(a for a in _paging_alarms(serverless).values() if "4XXError" in json.dumps(a))
    expression = next(q["Expression"] for q in alarm["Metrics"] if q.get("ReturnData", True) and "Expression" in q)
    assert "errors / requests" in expression and str(c.PAGE_API_4XX_MIN_REQUESTS) in expression
    assert alarm["Threshold"] == c.PAGE_API_4XX_RATE and alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_lambda_alarms_watch_the_alias_live(serverless):
    function_id, _ = price_function(serverless)
    on_alias = {"Name": "Resource", "Value": {"Fn::Join": ["", [{"Ref": function_id}, ":live"]]}}
    lambda_alarms = [a for a in _paging_alarms(serverless).values() if _metrics(a)[0][0] == "AWS/Lambda"]
    assert len(lambda_alarms) == 3
    for alarm in lambda_alarms:
        assert on_alias in _dimensions(alarm)


def test_a_refused_release_pages_per_model(serverless):
    swaps = {next(d["Value"] for d in _dimensions(a) if d["Name"] == "model_name")
             for a in _paging_alarms(serverless).values() if _metrics(a)[0][1] == "ModelSwapFailed"}
    assert swaps == set(c.MODEL_NAMES)


def test_throttled_requests_are_counted_from_the_access_log(serverless):
    _, access_log_filter = only(serverless, "AWS::Logs::MetricFilter")
    properties = access_log_filter["Properties"]
    assert properties["FilterPattern"] == '{ $.status = "429" }'
    assert properties["LogGroupName"]["Ref"].startswith("PriceApiAccessLogs")
    assert properties["MetricTransformations"][0]["MetricName"] == "ThrottledRequests"


def test_the_topic_is_encrypted_and_accepts_only_tls_and_this_stacks_alarms(default, serverless):
    _, topic = only(serverless, "AWS::SNS::Topic")
    key_id, key = only(serverless, "AWS::KMS::Key")
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert key["Properties"]["EnableKeyRotation"] is True
    key_grants = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
                  if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert key_grants and set(key_grants[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}

    _, policy = only(serverless, "AWS::SNS::TopicPolicy")
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    deny = next(s for s in statements if s["Effect"] == "Deny")
    assert deny["Principal"] == "*" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    publish = next(s for s in statements if s["Effect"] == "Allow")
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and publish["Action"] == "sns:Publish"
    # The grant names the alarms by prefix: a paging alarm named otherwise would never be delivered.
    stack_name = default.stack("Serverless").stack_name
    pattern = "".join(p for p in publish["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Join"][1] if isinstance(p, str))
    assert pattern.endswith(f":alarm:{stack_name}-*")
    for alarm in _paging_alarms(serverless).values():
        assert alarm["AlarmName"].startswith(f"{stack_name}-")


def test_no_email_means_a_topic_without_subscribers(serverless):
    serverless.resource_count_is("AWS::SNS::Subscription", 0)


def test_the_dashboard_charts_predictions_per_model_version(serverless):
    _, dashboard = only(serverless, "AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert "SEARCH(" in body and "Predictions" in body and "model_version" in body
    for metric in ("5XXError", "4XXError", "Latency", "ThrottledRequests", "Errors", "Throttles", "Duration",
                   "ServerErrors", "ModelSwapFailed"):
        assert metric in body, metric


def test_an_email_is_subscribed(scaled):
    for kind in ("Serverless", "Ecs"):
        scaled.template(kind).has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email"})


def test_the_ecs_stack_pages_on_load_balancer_5xx_and_unhealthy_tasks_only(ecs):
    alarms = _paging_alarms(ecs)
    alarmed = {_metrics(alarm)[0][1] for alarm in alarms.values()}
    # ServerErrors and ModelSwapFailed page from the serverless stack, once
    assert alarmed == {"HTTPCode_ELB_5XX_Count", "HTTPCode_Target_5XX_Count", "UnHealthyHostCount"}
    topic = {"Ref": _topic_id(ecs)}
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic]
