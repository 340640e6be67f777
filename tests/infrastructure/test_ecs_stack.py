"""The ECS alternative: allowed CIDRs -> ALB -> Fargate tasks running the same image."""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk.assertions import Match

from infra import constants as c
from tests.infrastructure.conftest import SCALED_CONTEXT
from tests.infrastructure.helpers import image_tag, only, price_function


def _stack_kinds(synthesized):
    return sorted(stack.stack_name.removeprefix(c.STACK_PREFIX).rsplit("-", 1)[0]
                  for stack in synthesized.assembly.stacks)


def test_the_ecs_stack_exists_only_when_asked_for(default, with_ecs):
    assert _stack_kinds(default) == ["Models", "Serverless"]  # config/dev.json as committed
    assert _stack_kinds(with_ecs) == ["Ecs", "Models", "Serverless"]  # -c ecs=true


def _container(template):
    _, task = only(template, "AWS::ECS::TaskDefinition")
    [container] = task["Properties"]["ContainerDefinitions"]
    return task["Properties"], container


def test_task_runs_the_http_server_as_a_non_root_user(ecs):
    task, container = _container(ecs)
    assert container["EntryPoint"] == ["python3", "-m", "lambda_fn.api.serve"]
    assert not container.get("Command")
    assert container["User"] == "1000"
    assert container["WorkingDirectory"] == "/var/task"
    environment = {pair["Name"]: pair["Value"] for pair in container["Environment"]}
    assert {"HOST": "0.0.0.0", "PORT": "8080", "PYTHONPATH": "/var/task"}.items() <= environment.items()
    assert int(environment["KEEP_ALIVE_SECONDS"]) > 60  # outlasts the ALB's idle timeout
    assert environment["POWERTOOLS_SERVICE_NAME"] == "price-service"
    assert container["PortMappings"] == [{"ContainerPort": 8080, "Name": "http", "Protocol": "tcp"}]
    assert task["RuntimePlatform"] == {"CpuArchitecture": "X86_64", "OperatingSystemFamily": "LINUX"}
    assert (task["Cpu"], task["Memory"]) == (str(c.TASK_CPU), str(c.TASK_MEMORY_MIB))


def test_container_logs_go_to_cloudwatch_with_retention(ecs):
    _, container = _container(ecs)
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    group = container["LogConfiguration"]["Options"]["awslogs-group"]["Ref"]
    assert ecs.to_json()["Resources"][group]["Properties"]["RetentionInDays"] == 30


def test_both_front_doors_run_the_same_image_asset(with_ecs, ecs):
    _, container = _container(ecs)
    _, function = price_function(with_ecs.template("Serverless"))
    tag = image_tag(container["Image"])
    assert tag == image_tag(function["Properties"]["Code"]["ImageUri"])
    # One Docker image in the assembly: `cdk deploy` builds and pushes it once for both stacks.
    manifests = sorted(Path(with_ecs.assembly.directory).glob("*.assets.json"))
    images = {}
    for manifest in manifests:
        images.update(json.loads(manifest.read_text()).get("dockerImages", {}))
    assert list(images) == [tag]
    assert images[tag]["source"]["platform"] == "linux/amd64"


def test_target_group_checks_health_on_the_health_route(ecs):
    ecs.has_resource_properties("AWS::ElasticLoadBalancingV2::TargetGroup", {
        "HealthCheckPath": c.HEALTH_CHECK_PATH,
        "Matcher": {"HttpCode": "200"},
        "Port": 80,
        "TargetType": "ip",
    })


def test_deployments_roll_with_full_healthy_capacity_and_the_circuit_breaker(ecs):
    _, service = only(ecs, "AWS::ECS::Service")
    properties = service["Properties"]
    assert properties["DeploymentConfiguration"] == {
        "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True},
        "MaximumPercent": 200,
        "MinimumHealthyPercent": 100,
    }
    assert properties.get("DeploymentController", {"Type": "ECS"})["Type"] == "ECS"
    # Auto scaling owns the task count: a deploy must not reset it.
    assert "DesiredCount" not in properties
    assert properties["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"


def test_service_scales_on_cpu_and_on_requests_per_task(ecs):
    target_id, target = only(ecs, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert target["Properties"]["ScalableDimension"] == "ecs:service:DesiredCount"
    assert (target["Properties"]["MinCapacity"], target["Properties"]["MaxCapacity"]) == (2, 6)
    policies = ecs.find_resources("AWS::ApplicationAutoScaling::ScalingPolicy", {
        "Properties": {"ScalingTargetId": {"Ref": target_id}, "PolicyType": "TargetTrackingScaling"},
    })
    by_metric = {
        p["Properties"]["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"][
            "PredefinedMetricType"]: p["Properties"]["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]
        for p in policies.values()
    }
    assert by_metric == {"ECSServiceAverageCPUUtilization": 60, "ALBRequestCountPerTarget": 3000}


def _ingress_rules(template):
    rules = []
    for group_id, group in template.find_resources("AWS::EC2::SecurityGroup").items():
        rules += [(group_id, rule) for rule in group["Properties"].get("SecurityGroupIngress", [])]
    for rule in template.find_resources("AWS::EC2::SecurityGroupIngress").values():
        rules.append((rule["Properties"]["GroupId"]["Fn::GetAtt"][0], rule["Properties"]))
    return rules


def _load_balancer_group(template):
    _, balancer = only(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    [group] = balancer["Properties"]["SecurityGroups"]
    return group["Fn::GetAtt"][0]


def test_load_balancer_admits_only_the_allowed_cidrs(ecs):
    rules = _ingress_rules(ecs)
    assert all(rule.get("CidrIp") != "0.0.0.0/0" and "CidrIpv6" not in rule for _, rule in rules)
    balancer_group = _load_balancer_group(ecs)
    assert sorted((r["CidrIp"], r["FromPort"], r["ToPort"]) for g, r in rules if g == balancer_group) == [
        ("203.0.113.0/24", 80, 80)]
    # The tasks admit only the load balancer, on the container port.
    _, service = only(ecs, "AWS::ECS::Service")
    [task_group] = service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"]
    task_rules = [rule for group, rule in rules if group == task_group["Fn::GetAtt"][0]]
    assert len(task_rules) == 1
    assert task_rules[0]["SourceSecurityGroupId"] == {"Fn::GetAtt": [balancer_group, "GroupId"]}
    assert (task_rules[0]["FromPort"], task_rules[0]["ToPort"]) == (8080, 8080)


def test_https_listener_and_every_allowed_cidr_with_a_certificate(scaled):
    template = scaled.template("Ecs")
    balancer_group = _load_balancer_group(template)
    admitted = sorted((r["CidrIp"], r["FromPort"]) for g, r in _ingress_rules(template) if g == balancer_group)
    assert admitted == [("192.0.2.10/32", 80), ("192.0.2.10/32", 443), ("198.51.100.0/24", 80),
                        ("198.51.100.0/24", 443)]
    # Then the configured certificate serves HTTPS, and port 80 only redirects to it
    listeners = sorted((listener["Properties"] for listener in
                        template.find_resources("AWS::ElasticLoadBalancingV2::Listener").values()),
                       key=lambda listener: listener["Port"])
    assert [(listener["Port"], listener["Protocol"]) for listener in listeners] == [(80, "HTTP"), (443, "HTTPS")]
    assert listeners[1]["Certificates"] == [{"CertificateArn": SCALED_CONTEXT["certificateArn"]}]
    assert listeners[1]["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    assert listeners[0]["DefaultActions"] == [
        {"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}]
    assert template.to_json()["Outputs"]["ServiceUrl"]["Value"]["Fn::Join"][1][0] == "https://"


def test_image_pulls_reach_s3_through_a_gateway_endpoint_not_the_nat(ecs):
    _, endpoint = only(ecs, "AWS::EC2::VPCEndpoint")
    properties = endpoint["Properties"]
    assert properties["VpcEndpointType"] == "Gateway"
    assert properties["ServiceName"] == {"Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, ".s3"]]}
    # On the route tables that send the tasks' traffic to the NAT gateway, one per zone.
    via_nat = {route["Properties"]["RouteTableId"]["Ref"] for route in ecs.find_resources("AWS::EC2::Route").values()
               if "NatGatewayId" in route["Properties"]}
    assert len(via_nat) == c.MAX_AZS
    assert {table["Ref"] for table in properties["RouteTableIds"]} == via_nat


def test_load_balancer_writes_access_logs_to_a_private_tls_only_bucket(ecs):
    _, balancer = only(ecs, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    attributes = {a["Key"]: a["Value"] for a in balancer["Properties"]["LoadBalancerAttributes"]}
    bucket_id, bucket = only(ecs, "AWS::S3::Bucket")
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.bucket"] == {"Ref": bucket_id}
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert bucket["Properties"]["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    ecs.has_resource_properties("AWS::S3::BucketPolicy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}),
    ])}})


def test_cluster_has_container_insights_and_the_vpc_logs_rejected_flows(ecs):
    ecs.has_resource_properties("AWS::ECS::Cluster", {
        "ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}]})
    ecs.has_resource_properties("AWS::EC2::FlowLog", {"TrafficType": "REJECT", "ResourceType": "VPC"})


def test_outputs_name_the_service_url(ecs):
    outputs = ecs.to_json()["Outputs"]
    assert {"ServiceUrl", "ClusterName", "ServiceName"} <= set(outputs)
    assert outputs["ServiceUrl"]["Value"]["Fn::Join"][1][0] == "http://"
