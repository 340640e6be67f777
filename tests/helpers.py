"""Helpers for driving the Lambda handler in process with the real events in ``events/``."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

from lambda_fn.api.asgi import LocalContext
from lambda_fn.api.handler import lambda_handler

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EVENTS_DIR = PROJECT_ROOT / "events"


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of ``events/<name>.json``: the files `sam local invoke` and the README use."""
    return copy.deepcopy(json.loads((EVENTS_DIR / f"{name}.json").read_text()))


def event_body(name: str) -> Any:
    return json.loads(load_event(name)["body"])


def with_body(event: dict[str, Any], body: Any, **query: str) -> dict[str, Any]:
    event["body"] = body if body is None or isinstance(body, str) else json.dumps(body)
    if query:
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
    return event


def invoke(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = lambda_handler(event, LocalContext(aws_request_id=str(uuid.uuid4())))
    return response["statusCode"], json.loads(response["body"])


def json_lines(text: str) -> list[dict[str, Any]]:
    """The JSON documents (log lines, EMF metrics) in a stream of output."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def fake_aws_credentials(monkeypatch, region: str) -> None:
    """Credentials and a region for moto, and no profile that could reach a real account."""
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": region, "AWS_REGION": region}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
