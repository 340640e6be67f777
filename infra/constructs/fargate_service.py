"""The ECS alternative: the service image on Fargate behind an Application Load Balancer.

- The task runs the image with the HTTP server (uvicorn, ASGI adapter to the same handler;
  ``lambda_fn.api.serve``) as a non-root user, listening on 0.0.0.0:8080; logs go to CloudWatch.
- The load balancer accepts connections only from ``allowed_cidrs`` (HTTP 80, or HTTPS 443
  with HTTP redirected when a certificate is given), checks ``/v1/health`` and writes access
  logs to S3. Tasks sit in private subnets and accept traffic only from the load balancer.
- Deployments roll: new tasks start and turn healthy before old ones stop (100% minimum
  healthy, 200% maximum); the deployment circuit breaker stops a deployment whose tasks keep
  failing and rolls back to the last working task definition.
- Auto scaling between ``min_tasks`` and ``max_tasks`` on average CPU and on requests per task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_ecs_patterns as ecs_patterns
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra import constants as c
from infra.nag import acknowledge


class PriceFargateService(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        image: ecs.ContainerImage,
        allowed_cidrs: Sequence[str],
        min_tasks: int,
        max_tasks: int,
        log_level: str,
        default_model: str,
        access_logs: s3.IBucket,
        certificate_arn: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.cluster = ecs.Cluster(self, "Cluster", vpc=vpc, container_insights_v2=ecs.ContainerInsights.ENABLED)
        self.log_group = logs.LogGroup(self, "Logs", retention=c.LOG_RETENTION)
        self.task_definition = ecs.FargateTaskDefinition(
            self, "Task",
            cpu=c.TASK_CPU,
            memory_limit_mib=c.TASK_MEMORY_MIB,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.X86_64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        self.container = self.task_definition.add_container(
            "Web",
            image=image,
            entry_point=list(c.SERVER_ENTRY_POINT),
            command=[],
            working_directory=c.IMAGE_WORKDIR,
            user=c.CONTAINER_USER,
            environment=self._environment(log_level=log_level, default_model=default_model),
            port_mappings=[ecs.PortMapping(container_port=c.CONTAINER_PORT, name="http")],
            logging=ecs.LogDrivers.aws_logs(stream_prefix=c.SERVICE_NAME, log_group=self.log_group),
            # The server's graceful shutdown takes up to 30 s; stop after it, not at the same moment.
            stop_timeout=Duration.seconds(35),
        )
        acknowledge(self.task_definition.obtain_execution_role(), "AwsSolutions-IAM5[Resource::*]",
                    "Only ecr:GetAuthorizationToken, which supports no resource-level permissions; image pulls are "
                    "limited to the asset repository.")
        acknowledge(self.task_definition, "AwsSolutions-ECS2",
                    "The environment holds only non-secret settings (port, worker count, log level, model name); "
                    "there are no secrets to inject.")

        https = certificate_arn is not None
        self.scheme = "https" if https else "http"
        listener_ports = (443, 80) if https else (80,)
        self.load_balancer_security_group = ec2.SecurityGroup(
            self, "LoadBalancerSecurityGroup",
            vpc=vpc,
            description=f"{c.SERVICE_NAME} load balancer: clients from the allowed CIDRs only",
            allow_all_outbound=False,  # the target group adds egress to the tasks' port
        )
        for cidr in allowed_cidrs:
            for port in listener_ports:
                self.load_balancer_security_group.add_ingress_rule(
                    ec2.Peer.ipv4(cidr), ec2.Port.tcp(port), f"allowed client range, port {port}",
                )
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self, "LoadBalancer",
            vpc=vpc,
            internet_facing=True,
            security_group=self.load_balancer_security_group,
            drop_invalid_header_fields=True,
        )
        self.load_balancer.log_access_logs(access_logs, prefix="alb")

        self.service = ecs_patterns.ApplicationLoadBalancedFargateService(
            self, "Service",
            cluster=self.cluster,
            task_definition=self.task_definition,
            load_balancer=self.load_balancer,
            open_listener=False,
            public_load_balancer=True,
            task_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            assign_public_ip=False,
            min_healthy_percent=100,
            max_healthy_percent=200,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            health_check_grace_period=c.HEALTH_CHECK_GRACE,
            protocol=elbv2.ApplicationProtocol.HTTPS if https else elbv2.ApplicationProtocol.HTTP,
            certificate=acm.Certificate.from_certificate_arn(self, "Certificate", certificate_arn) if https else None,
            redirect_http=https,
            ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS if https else None,
        )
        # The stack states the URL as its own output; drop the pattern's generated ones.
        for generated in ("LoadBalancerDNS", "ServiceURL"):
            self.service.node.try_remove_child(generated)

        self.service.target_group.configure_health_check(
            path=c.HEALTH_CHECK_PATH,
            healthy_http_codes="200",
            interval=c.HEALTH_CHECK_INTERVAL,
            timeout=Duration.seconds(5),
            healthy_threshold_count=2,
            unhealthy_threshold_count=3,
        )
        self.service.target_group.set_attribute(
            "deregistration_delay.timeout_seconds", str(int(c.DEREGISTRATION_DELAY.to_seconds())),
        )

        self.scaling = self.service.service.auto_scale_task_count(min_capacity=min_tasks, max_capacity=max_tasks)
        self.scaling.scale_on_cpu_utilization(
            "Cpu",
            target_utilization_percent=c.ECS_CPU_TARGET_PERCENT,
            scale_in_cooldown=c.SCALE_IN_COOLDOWN,
            scale_out_cooldown=c.SCALE_OUT_COOLDOWN,
        )
        self.scaling.scale_on_request_count(
            "Requests",
            requests_per_target=c.ECS_REQUESTS_PER_TARGET_PER_MINUTE,
            target_group=self.service.target_group,
            scale_in_cooldown=c.SCALE_IN_COOLDOWN,
            scale_out_cooldown=c.SCALE_OUT_COOLDOWN,
        )

    @staticmethod
    def _environment(*, log_level: str, default_model: str) -> dict[str, str]:
        return {
            "HOST": "0.0.0.0",  # inside the task's own network namespace; the security group guards it
            "PORT": str(c.CONTAINER_PORT),
            "WEB_CONCURRENCY": c.WEB_CONCURRENCY,
            "KEEP_ALIVE_SECONDS": c.SERVER_KEEP_ALIVE_SECONDS,
            "PYTHONPATH": c.IMAGE_WORKDIR,
            "POWERTOOLS_SERVICE_NAME": c.SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": c.METRICS_NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": log_level,
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon beside the task
            "DEFAULT_MODEL": default_model,
            "OMP_NUM_THREADS": c.OMP_NUM_THREADS,
        }

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.load_balancer.load_balancer_dns_name}"

    def add_environment(self, variables: Mapping[str, str]) -> None:
        for key, value in variables.items():
            self.container.add_environment(key, value)
