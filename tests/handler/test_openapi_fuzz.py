"""Property-based fuzzing of every route in the service's own OpenAPI document (schemathesis).

Requests generated from the document (valid, invalid, boundary values, wrong content types) go
in process through the ASGI front door: HTTP -> API Gateway event -> ``lambda_handler``. For
every route this proves that no answer is a 5xx, and that each answer's status code, content type
and body are ones the document declares for that route. The real requests in ``events/`` are
checked the same way, so every route's success answer is held to the document as well.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from schemathesis import checks
from schemathesis.config import SchemathesisConfig

from lambda_fn.api.asgi import application
from lambda_fn.api.handler import app
from tests.helpers import EVENTS_DIR, load_event

# The same requests on every run (a fixed seed, no example database), so a failure reproduces and
# a pass always means the same thing. 25 generated requests per route, on top of the document's
# examples and schemathesis's boundary and content-type probes, keep the file to seconds.
# too_slow: a health check on generation time, which a busy machine can fail on its own.
CONFIG = SchemathesisConfig.from_dict({
    "seed": 20150527,
    "suppress-health-check": ["too_slow"],
    "generation": {"max-examples": 25, "database": "none"},
})
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]

# The document the app publishes (Swagger UI serves this one), not a copy that could drift from it.
schema = schemathesis.openapi.from_dict(json.loads(app.get_openapi_json_schema()), config=CONFIG)
schema.app = application   # schemathesis then calls the ASGI app in process, never over a socket


@schema.parametrize()
def test_every_answer_is_one_the_document_declares(case):
    case.call_and_validate(checks=CHECKS)


# Generated houses rarely pass the cross-field checks and generated bodies never fit the minimal
# route, so the success answers are checked here with the requests `sam local invoke` uses.
SUCCESS_EVENTS = sorted(path.stem for path in EVENTS_DIR.glob("*.json") if not path.stem.startswith("bad_"))


@pytest.mark.parametrize("name", SUCCESS_EVENTS)
def test_success_answers_match_the_document(name):
    event = load_event(name)
    body = {"body": json.loads(event["body"])} if event.get("body") else {}
    case = schema[event["path"]][event["httpMethod"]].Case(query=event.get("queryStringParameters"), **body)

    response = case.call_and_validate(checks=CHECKS)

    assert response.status_code == 200
