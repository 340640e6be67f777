"""Alarms that reach a person: an SNS topic (optionally an email subscription), the alarms that
notify it, and one dashboard of the same figures.

- ``topic``: encrypted with its own KMS key, TLS-only; CloudWatch may publish to it (and use the
  key) for this stack's alarms only. Every alarm here notifies it on ALARM and on OK.
- Alarms, each optional with its source: the REST API (5xx, p99 latency, 4xx share of requests,
  429s), the alias ``live`` (errors, throttles, p99 duration), the service's own metrics
  (ServerErrors, ModelSwapFailed per model) and an Application Load Balancer with its target
  group (5xx, unhealthy tasks). Names are ``<stack>-<id>``, so the email's subject says which.
- API Gateway publishes no 429 metric for REST APIs: a metric filter on the stage's JSON access
  log counts ``"status": "429"`` (throttling and the daily quota alike) as ``ThrottledRequests``.
  Under a flood of 429s API Gateway may skip some log lines
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/rest-api-monitor.html), so the
  count is a floor; 429s are also 4XXError, which the 4xx-share alarm watches.
- ``dashboard``: these figures plus ``Predictions`` per model version (a SEARCH expression, so a
  newly promoted version appears without a deploy) and the alarms' states.

The canary deployment keeps its own alarms (rollback within a deployment, no notification); the
model registry's SwapFailed alarms live in the models stack, which this stack depends on, so
they cannot name this topic: ModelSwapFailed is alarmed here again, routed to the topic.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra import constants as c
from infra.constructs.price_api import PriceApi
from lambda_fn.api.errors import SERVER_ERRORS_METRIC

THROTTLED_METRIC = "ThrottledRequests"
MODEL_SWAP_FAILED_METRIC = "ModelSwapFailed"
PREDICTIONS_METRIC = "Predictions"
_AT_LEAST = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
_ABOVE = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
_SUM = cloudwatch.Stats.SUM
_P99 = cloudwatch.Stats.p(99)


class ServiceAlarms(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        email: str | None = None,
        api: PriceApi | None = None,
        alias: lambda_.IFunction | None = None,
        model_names: Sequence[str] = c.MODEL_NAMES,
        service_metrics: bool = True,
        load_balancer: elbv2.IApplicationLoadBalancer | None = None,
        target_group: elbv2.IApplicationTargetGroup | None = None,
    ) -> None:
        """``email``: subscribed to the topic (it must confirm), None for a topic without subscribers.
        ``service_metrics``: alarm on ServerErrors and ModelSwapFailed and chart Predictions. Both
        runtimes publish these under the same dimensions, so only one stack should (else two pages)."""
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self._prefix = stack.stack_name
        self.alarms: list[cloudwatch.Alarm] = []
        self._widgets: list[cloudwatch.IWidget] = []
        self.topic = self._topic(stack, email)
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=self._prefix,
                                              default_interval=Duration.hours(3))
        if api is not None:
            self._api(api)
        if alias is not None:
            self._function(alias)
        if service_metrics:
            self._service(model_names)
        if load_balancer is not None and target_group is not None:
            self._load_balancer(load_balancer, target_group)
        # First row: every alarm's state at a glance.
        self.dashboard.add_widgets(cloudwatch.AlarmStatusWidget(
            title="Alarms", alarms=self.alarms, width=24,
            sort_by=cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
        ))
        for start in range(0, len(self._widgets), 3):  # three graphs a row
            self.dashboard.add_widgets(*self._widgets[start:start + 3])

    def _topic(self, stack: Stack, email: str | None) -> sns.Topic:
        # A key of its own: CloudWatch cannot publish to a topic under the AWS managed key
        # (alias/aws/sns), whose policy cannot grant it. It protects in-flight notifications only,
        # so nothing is left to decrypt once the stack is gone.
        key = kms.Key(self, "TopicKey", enable_key_rotation=True, removal_policy=RemovalPolicy.DESTROY,
                      pending_window=Duration.days(7),
                      description=f"{self._prefix}: encrypts the alarm topic")
        # https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html (AWS services publishing
        # to encrypted topics): the publishing service needs these two on the key.
        key.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchAlarmsPublish",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],  # in a key policy, "*" is this key
        ))
        topic = sns.Topic(self, "Topic", display_name=f"{c.SERVICE_NAME} alarms ({self._prefix})",
                          master_key=key, enforce_ssl=True)
        # The topic's policy replaces SNS's default one, so CloudWatch needs an explicit grant; it
        # is limited to this stack's alarms (their names start with the stack's name).
        # https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger
        alarms_arn = stack.format_arn(service="cloudwatch", resource="alarm", resource_name=f"{self._prefix}-*",
                                      arn_format=ArnFormat.COLON_RESOURCE_NAME)
        topic.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchAlarmsPublish",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={"ArnLike": {"aws:SourceArn": alarms_arn},
                        "StringEquals": {"aws:SourceAccount": stack.account}},
        ))
        if email is not None:
            topic.add_subscription(subscriptions.EmailSubscription(email))
        return topic

    def _graph(self, title: str, *metrics: cloudwatch.IMetric, right: Sequence[cloudwatch.IMetric] = ()) -> None:
        self._widgets.append(cloudwatch.GraphWidget(title=title, left=list(metrics), right=list(right),
                                                 width=8, height=6))

    def _alarm(self, construct_id: str, description: str, metric: cloudwatch.IMetric, threshold: float, *,
               operator: cloudwatch.ComparisonOperator = _AT_LEAST, periods: int = 1) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self, construct_id,
            alarm_name=f"{self._prefix}-{construct_id}",
            alarm_description=f"{c.SERVICE_NAME}: {description}",
            metric=metric,
            threshold=threshold,
            comparison_operator=operator,
            evaluation_periods=periods,
            # No data is no traffic (or no error counted): nothing to page about.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        action = actions.SnsAction(self.topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)  # the person learns it is over, too
        self.alarms.append(alarm)
        return alarm

    def _api(self, api: PriceApi) -> None:
        stage = api.api.deployment_stage
        period = c.PAGE_PERIOD
        requests = stage.metric_count(period=period, statistic=cloudwatch.Stats.SAMPLE_COUNT, label="requests")
        client_errors = stage.metric_client_error(period=period, statistic=_SUM, label="4xx")
        server_errors = stage.metric_server_error(period=period, statistic=_SUM, label="5xx")
        latency = stage.metric_latency(period=period, statistic=_P99, label="latency p99")
        # Without dimensions, like the service's own metrics: one stage per account and region.
        logs.MetricFilter(
            self, "ThrottledFilter",
            log_group=api.access_logs,
            filter_pattern=logs.FilterPattern.string_value("$.status", "=", "429"),
            metric_namespace=c.METRICS_NAMESPACE,
            metric_name=THROTTLED_METRIC,
            metric_value="1",
        )
        throttled = cloudwatch.Metric(namespace=c.METRICS_NAMESPACE, metric_name=THROTTLED_METRIC,
                                      period=period, statistic=_SUM, label="429")
        # Metric math keeps the share at 0 below the minimum of requests (and never divides by 0).
        rate = cloudwatch.MathExpression(
            expression=f"IF(requests >= {c.PAGE_API_4XX_MIN_REQUESTS}, errors / requests, 0)",
            using_metrics={"requests": requests, "errors": client_errors},
            period=period, label="4xx share",
        )
        self._alarm("Api5xx", f"{c.PAGE_API_5XX}+ 5xx answers from API Gateway in 5 minutes "
                    "(function errors, Lambda throttles or timeouts; see the stage's access log)",
                    server_errors, c.PAGE_API_5XX)
        self._alarm("ApiLatencyP99", f"API Gateway p99 latency over {c.PAGE_API_P99_LATENCY_MS} ms for 15 minutes",
                    latency, c.PAGE_API_P99_LATENCY_MS, operator=_ABOVE, periods=c.PAGE_LATENCY_PERIODS)
        self._alarm("Api4xxRate", f"over {c.PAGE_API_4XX_RATE:.0%} of requests refused with a 4xx in 5 minutes "
                    "(a broken client, key or contract; the access log's status shows which)",
                    rate, c.PAGE_API_4XX_RATE, operator=_ABOVE)
        self._alarm("ApiThrottled", f"{c.PAGE_API_THROTTLED}+ requests answered 429 in 5 minutes "
                    "(usage plan throttle or daily quota: the client is blocked)",
                    throttled, c.PAGE_API_THROTTLED)
        self._graph("API requests", requests, client_errors, server_errors, throttled)
        self._graph("API latency (ms)", latency, stage.metric_latency(period=period, statistic=cloudwatch.Stats.p(50),
                                                                       label="latency p50"))
        self._graph("API 4xx share", rate)

    def _function(self, alias: lambda_.IFunction) -> None:
        period = c.PAGE_PERIOD
        errors = alias.metric_errors(period=period, statistic=_SUM, label="errors")
        throttles = alias.metric_throttles(period=period, statistic=_SUM, label="throttles")
        duration = alias.metric_duration(period=period, statistic=_P99, label="duration p99")
        self._alarm("LambdaErrors", f"{c.PAGE_LAMBDA_ERRORS}+ unhandled errors on alias {c.ALIAS_NAME} in 5 minutes",
                    errors, c.PAGE_LAMBDA_ERRORS)
        self._alarm("LambdaThrottles", f"Lambda refused invocations of alias {c.ALIAS_NAME} for capacity "
                    "(reservedConcurrency or the account's pool is full)", throttles, c.PAGE_LAMBDA_THROTTLES)
        self._alarm("LambdaDurationP99", f"p99 duration on alias {c.ALIAS_NAME} over "
                    f"{c.PAGE_LAMBDA_P99_DURATION_MS} ms for 15 minutes",
                    duration, c.PAGE_LAMBDA_P99_DURATION_MS, operator=_ABOVE, periods=c.PAGE_LATENCY_PERIODS)
        self._graph("Lambda (alias live)", alias.metric_invocations(period=period, statistic=_SUM, label="invocations"),
                    errors, throttles)
        self._graph("Lambda duration (ms)", duration,
                    alias.metric_duration(period=period, statistic=cloudwatch.Stats.p(50), label="duration p50"))

    def _service(self, model_names: Sequence[str]) -> None:
        period = c.PAGE_PERIOD
        service = {"service": c.SERVICE_NAME}
        server_errors = cloudwatch.Metric(namespace=c.METRICS_NAMESPACE, metric_name=SERVER_ERRORS_METRIC,
                                          dimensions_map=service, period=period, statistic=_SUM, label="5xx answered")
        self._alarm("ServiceServerErrors", f"{c.PAGE_SERVER_ERRORS}+ requests answered 500 by the service in "
                    "5 minutes (a bug: its log has the traceback, 'unhandled error')",
                    server_errors, c.PAGE_SERVER_ERRORS)
        swaps = []
        for name in model_names:
            swap = cloudwatch.Metric(namespace=c.METRICS_NAMESPACE, metric_name=MODEL_SWAP_FAILED_METRIC,
                                     dimensions_map={**service, "model_name": name}, period=period,
                                     statistic=_SUM, label=f"swap failed: {name}")
            self._alarm(f"ModelSwapFailed-{name}", f"an environment refused the promoted version of model '{name}' "
                        "and serves its current one (logs: 'model swap failed')", swap, c.PAGE_MODEL_SWAP_FAILED)
            swaps.append(swap)
        # SEARCH: every model_version the service has reported, including ones promoted after this deploy.
        predictions = cloudwatch.MathExpression(
            expression=(f"SEARCH('{{{c.METRICS_NAMESPACE},model_version,service}} MetricName=\"{PREDICTIONS_METRIC}\" "
                        f"service=\"{c.SERVICE_NAME}\"', 'Sum', {int(period.to_seconds())})"),
            using_metrics={}, period=period, label="",
        )
        self._graph("Predictions per model version", predictions)
        self._graph("Service errors", server_errors, *swaps)

    def _load_balancer(self, load_balancer: elbv2.IApplicationLoadBalancer,
                       target_group: elbv2.IApplicationTargetGroup) -> None:
        period = c.PAGE_PERIOD
        elb_5xx = load_balancer.metrics.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT, period=period,
                                                      statistic=_SUM, label="5xx (load balancer)")
        target_5xx = target_group.metrics.http_code_target(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=period,
                                                           statistic=_SUM, label="5xx (tasks)")
        unhealthy = target_group.metrics.unhealthy_host_count(period=c.ALARM_PERIOD, statistic=cloudwatch.Stats.MINIMUM,
                                                             label="unhealthy tasks")
        self._alarm("Alb5xx", f"{c.PAGE_ALB_5XX}+ 5xx from the load balancer itself in 5 minutes "
                    "(502/503/504: no healthy task, or tasks reset or timed out)", elb_5xx, c.PAGE_ALB_5XX)
        self._alarm("AlbTarget5xx", f"{c.PAGE_ALB_5XX}+ 5xx answered by the tasks in 5 minutes", target_5xx,
                    c.PAGE_ALB_5XX)
        self._alarm("AlbUnhealthyHosts", f"a task unhealthy in every minute of {c.PAGE_UNHEALTHY_HOST_MINUTES} "
                    "(a crash loop, or a rollout that cannot pass GET /v1/health)",
                    unhealthy, 1, periods=c.PAGE_UNHEALTHY_HOST_MINUTES)
        self._graph("Load balancer", load_balancer.metrics.request_count(period=period, statistic=_SUM,
                                                                         label="requests"), elb_5xx, target_5xx)
        self._graph("Targets", target_group.metrics.target_response_time(period=period, statistic=_P99,
                                                                         label="response time p99 (s)"),
                    right=[unhealthy, target_group.metrics.healthy_host_count(period=c.ALARM_PERIOD,
                                                                              statistic=cloudwatch.Stats.MINIMUM,
                                                                              label="healthy tasks")])
