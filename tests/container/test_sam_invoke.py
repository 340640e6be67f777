"""``sam local invoke`` of the synthesized function with every event in events/: the image answers
exactly what the in-process handler answers (status, headers, body; prices to the cent)."""

from __future__ import annotations

import json
import uuid

import pytest

from lambda_fn.api.asgi import LocalContext
from lambda_fn.api.handler import lambda_handler
from lambda_fn.registry.artifacts import latest_version_folder
from lambda_fn.settings import DEFAULT_MODEL_DIR, Settings
from tests.container.conftest import comparable, event_files

pytestmark = pytest.mark.container


def in_process(event_file) -> dict:
    return lambda_handler(json.loads(event_file.read_text()), LocalContext(aws_request_id=str(uuid.uuid4())))


@pytest.mark.parametrize("event_file", event_files(), ids=lambda path: path.stem)
def test_sam_local_invoke_answers_like_the_in_process_handler(event_file, sam_invocations, function_environment):
    invocation = sam_invocations[event_file.name]
    assert invocation.response is not None, f"no answer (sam exit {invocation.returncode}):\n{invocation.log}"

    expected = in_process(event_file)

    assert invocation.status == expected["statusCode"]
    assert comparable(invocation.response) == comparable(expected)


def test_the_image_serves_the_model_version_trained_here(sam_invocations):
    health = sam_invocations["health.json"]

    assert health.status == 200, health.log
    default_model = health.body["model"]["name"]
    assert default_model == Settings().default_model
    assert health.body["model"]["version"] == latest_version_folder(DEFAULT_MODEL_DIR, default_model).name
