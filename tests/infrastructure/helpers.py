"""Small readers of synthesized templates, for assertions the Template API does not express."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template


def only(template: Template, resource_type: str) -> tuple[str, dict[str, Any]]:
    """The one resource of ``resource_type``: (logical id, resource)."""
    found = template.find_resources(resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.items()))


def price_function(template: Template) -> tuple[str, dict[str, Any]]:
    """The price function, the stack's one image function (the pre-traffic hook is a zip): (logical id, resource)."""
    found = template.find_resources("AWS::Lambda::Function", {"Properties": {"PackageType": "Image"}})
    assert len(found) == 1, f"expected one image function, found {sorted(found)}"
    return next(iter(found.items()))


def api_routes(template: Template) -> dict[tuple[str, str], dict[str, Any]]:
    """Every API Gateway method, keyed by (HTTP method, full path); the API's root resource is ``/``."""
    resources = template.find_resources("AWS::ApiGateway::Resource")

    def path_of(ref: Any) -> str:
        if not (isinstance(ref, dict) and ref.get("Ref") in resources):
            return ""  # the API's root resource
        properties = resources[ref["Ref"]]["Properties"]
        return f"{path_of(properties['ParentId'])}/{properties['PathPart']}"

    return {
        (method["Properties"]["HttpMethod"], path_of(method["Properties"]["ResourceId"]) or "/"): method["Properties"]
        for method in template.find_resources("AWS::ApiGateway::Method").values()
    }


def image_tag(image: Any) -> str:
    """The tag of an ECR image URI as synthesized (a Fn::Sub string or a Fn::Join list)."""
    if isinstance(image, dict) and "Fn::Sub" in image:
        text = image["Fn::Sub"]
    elif isinstance(image, dict) and "Fn::Join" in image:
        text = "".join(part for part in image["Fn::Join"][1] if isinstance(part, str))
    else:
        text = str(image)
    return text.rsplit(":", 1)[1]


def policy_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    """Every IAM statement a template grants: policies, and roles' inline policies."""
    statements = []
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            statements += properties["PolicyDocument"]["Statement"]
        elif resource["Type"] == "AWS::IAM::Role":
            for policy in properties.get("Policies", []):
                statements += policy["PolicyDocument"]["Statement"]
    return statements


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
