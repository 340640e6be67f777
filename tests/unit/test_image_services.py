"""The image keeps botocore's API model of every AWS service the function calls (the Dockerfile
deletes the others, listed in image/botocore-services.txt)."""

from __future__ import annotations

import ast

from tests.helpers import PROJECT_ROOT

SERVICES_FILE = PROJECT_ROOT / "image" / "botocore-services.txt"
CLIENT_FACTORIES = {"aws_client", "client"}   # lambda_fn.registry.layout.aws_client, boto3.client


def kept_services() -> set[str]:
    return {line.strip() for line in SERVICES_FILE.read_text().splitlines() if line.strip()[:1] not in ("", "#")}


def services_called(source: str) -> set[str]:
    """The service names passed as literals to a client factory in ``source``."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if name in CLIENT_FACTORIES and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
    return found


def test_every_service_the_function_calls_keeps_its_api_model_in_the_image():
    called = set().union(*(services_called(path.read_text()) for path in (PROJECT_ROOT / "lambda_fn").rglob("*.py")))

    assert called >= {"s3", "ssm", "kms"}   # the registry's sync: the scan finds what it must
    assert called <= kept_services()


def test_the_scan_finds_both_ways_of_making_a_client():
    assert services_called('aws_client("s3")\nboto3.client("dynamodb", region_name="x")\nclient = f(1)\n') == {
        "s3", "dynamodb"}
