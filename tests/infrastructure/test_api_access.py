"""Access to the REST API beyond the API key: source networks (resource policy), a WAF rate limit
per IP, and IAM (SigV4) authorization, each off by default and each switched on by one setting."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template

from infra.constructs.price_api import service_public_routes
from infra.settings import DeploymentSettings
from tests.infrastructure.conftest import synthesize
from tests.infrastructure.helpers import api_routes, only

CIDRS = ("198.51.100.0/24", "192.0.2.10/32")
ALL_ON = {"apiAllowedCidrs": ",".join(CIDRS), "wafRateLimit": "500", "iamAuth": "true"}


@pytest.fixture(scope="module")
def all_on(tmp_path_factory):
    # Synthesis itself runs cdk-nag: it fails on any unacknowledged finding.
    return synthesize(tmp_path_factory.mktemp("cdk-api-access"), **ALL_ON)


@pytest.fixture(scope="module")
def locked(all_on) -> Template:
    return all_on.template("Serverless")


def _policy(template: Template) -> dict | None:
    return only(template, "AWS::ApiGateway::RestApi")[1]["Properties"].get("Policy")


def test_by_default_no_resource_policy_no_web_acl_and_no_iam_auth(serverless):
    assert _policy(serverless) is None
    serverless.resource_count_is("AWS::WAFv2::WebACL", 0)
    serverless.resource_count_is("AWS::WAFv2::WebACLAssociation", 0)
    assert {method.get("AuthorizationType") for method in api_routes(serverless).values()} == {"NONE"}


def test_the_resource_policy_denies_every_source_outside_the_cidrs(locked):
    statements = _policy(locked)["Statement"]
    deny = [s for s in statements if s["Effect"] == "Deny"]
    assert deny == [{
        "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "execute-api:Invoke", "Resource": "execute-api:/*",
        "Condition": {"NotIpAddress": {"aws:SourceIp": list(CIDRS)}},
    }]
    allow = [s for s in statements if s["Effect"] == "Allow"]
    assert [(s["Action"], s["Resource"]) for s in allow] == [("execute-api:Invoke", "execute-api:/*")]


def test_with_iam_auth_the_policy_allows_this_account_not_everyone(locked, tmp_path):
    # A resource policy allowing "*" would admit SigV4 callers of any account.
    (allow,) = [s for s in _policy(locked)["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] != {"AWS": "*"} and ":root" in str(allow["Principal"])
    # Without IAM auth the key is the credential, so any caller from the networks may invoke.
    open_to_networks = synthesize(tmp_path, apiAllowedCidrs=CIDRS[0]).template("Serverless")
    (allow,) = [s for s in _policy(open_to_networks)["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"AWS": "*"}


def test_a_policy_change_makes_a_new_deployment_so_the_stage_serves_it(serverless, locked):
    # API Gateway applies a changed resource policy only on a redeployment of the stage.
    assert only(serverless, "AWS::ApiGateway::Deployment")[0] != only(locked, "AWS::ApiGateway::Deployment")[0]


def test_the_web_acl_rate_limits_each_ip_and_sits_on_the_stage(locked):
    acl_id, acl = only(locked, "AWS::WAFv2::WebACL")
    properties = acl["Properties"]
    assert properties["Scope"] == "REGIONAL" and properties["DefaultAction"] == {"Allow": {}}
    assert properties["VisibilityConfig"]["CloudWatchMetricsEnabled"] is True
    assert properties["VisibilityConfig"]["SampledRequestsEnabled"] is True
    (rule,) = properties["Rules"]
    rate = rule["Statement"]["RateBasedStatement"]
    assert rate == {"Limit": 500, "AggregateKeyType": "IP", "EvaluationWindowSec": 300}
    assert rule["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429
    assert rule["VisibilityConfig"]["SampledRequestsEnabled"] is True
    stage_id = only(locked, "AWS::ApiGateway::Stage")[0]
    locked.has_resource_properties("AWS::WAFv2::WebACLAssociation", {
        "WebACLArn": {"Fn::GetAtt": [acl_id, "Arn"]},
        "ResourceArn": {"Fn::Join": ["", Match.array_with([{"Ref": stage_id}])]},
    })


def test_iam_auth_puts_aws_iam_on_every_method_but_the_page_and_keeps_the_api_key(locked):
    public = service_public_routes()
    routes = api_routes(locked)
    methods = [m for route, m in routes.items() if route not in public]
    assert methods and all(m["AuthorizationType"] == "AWS_IAM" and m["ApiKeyRequired"] is True for m in methods)
    # A browser navigating to the page sends neither a key nor a SigV4 signature.
    assert all(routes[route]["AuthorizationType"] == "NONE" and routes[route]["ApiKeyRequired"] is False
               for route in public)


def test_acknowledgements_follow_what_is_on(all_on, default):
    def rules(app) -> set[str]:
        # Keys carry a plugin prefix ("...::AwsSolutions-APIG3"), as test_cdk_nag reads them.
        return {rule.split("::", 1)[-1] for construct in app.node.find_all() for entry in construct.node.metadata
                if entry.type == "aws:cdk:acknowledged-rules" and "PriceApi" in construct.node.path
                for rule in entry.data}

    def methods_without_sigv4(app) -> set[str]:
        return {construct.node.path for construct in app.node.find_all() if "PriceApi" in construct.node.path
                for entry in construct.node.metadata if entry.type == "aws:cdk:acknowledged-rules"
                and any(rule.endswith("AwsSolutions-APIG4") for rule in entry.data)}

    assert {"AwsSolutions-APIG3", "AwsSolutions-APIG4", "AwsSolutions-COG4"} <= rules(default.app)
    on = rules(all_on.app)
    assert "AwsSolutions-APIG3" not in on
    # With SigV4 on, only the page's methods go without authorization, each acknowledged on its own.
    assert {path.rsplit("/Api/", 1)[1] for path in methods_without_sigv4(all_on.app)} == {
        "Default/GET", "Default/app/page.js/GET", "Default/app/page.css/GET"}
    assert "AwsSolutions-COG4" in on  # cdk-nag asks for Cognito whatever the authorization type


@pytest.mark.parametrize(("values", "message"), [
    ({"apiAllowedCidrs": "0.0.0.0/0"}, "/0"),
    ({"apiAllowedCidrs": "2001:db8::/32"}, "IPv4"),
    ({"apiAllowedCidrs": "198.51.100.1/24"}, "host bits"),
    ({"wafRateLimit": "9"}, "greater than or equal to 10"),
])
def test_bad_access_settings_are_refused(values, message):
    with pytest.raises(ValueError, match=message):
        DeploymentSettings.from_mapping(values)


def test_access_settings_parse_from_the_command_line():
    settings = DeploymentSettings.from_mapping({"apiAllowedCidrs": "198.51.100.0/24, 192.0.2.10/32",
                                                "wafRateLimit": "100", "iamAuth": "true"})
    assert settings.api_allowed_cidrs == CIDRS and settings.waf_rate_limit == 100 and settings.iam_auth is True
    cleared = DeploymentSettings.from_mapping({"apiAllowedCidrs": "none", "wafRateLimit": "none"})
    assert cleared.api_allowed_cidrs == () and cleared.waf_rate_limit is None
