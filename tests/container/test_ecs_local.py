"""The image run as the ECS task runs it (the task definition's entry point, command, user and
environment), over 127.0.0.1: health, one prediction, one batch, one bad input."""

from __future__ import annotations

import pytest

from scripts.container import cdk_templates, ecs_local
from scripts.container.loopback import request
from scripts.container.toolchain import run
from tests.helpers import event_body, invoke, load_event

pytestmark = pytest.mark.container


@pytest.fixture(scope="module")
def service(built_image, synthesized):
    with ecs_local.ecs_container(built_image.tag) as running:
        yield running


def test_health(service):
    status, headers, body = request(f"{service.url}/v1/health")

    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert body == invoke(load_event("health"))[1]


def test_one_prediction_equals_the_in_process_handler(service):
    status, _, body = request(f"{service.url}/v1/predict", "POST", event_body("predict"))

    assert status == 200
    assert body == invoke(load_event("predict"))[1]


def test_one_batch_equals_the_in_process_handler(service):
    status, _, body = request(f"{service.url}/v1/predict/batch", "POST", event_body("predict_batch"))

    assert status == 200
    assert len(body["predictions"]) == 5
    assert body == invoke(load_event("predict_batch"))[1]


def test_bad_input_gets_the_same_422_as_in_process(service):
    status, _, body = request(f"{service.url}/v1/predict", "POST", event_body("bad_missing_field"))

    assert status == 422
    assert body == invoke(load_event("bad_missing_field"))[1]


def test_the_server_runs_as_the_task_user_not_root(service, synthesized):
    task_user = cdk_templates.ecs_container(synthesized).user
    processes = run(["docker", "top", service.name, "-eo", "pid,uid,args"]).stdout.splitlines()[1:]
    server_uids = {line.split()[1] for line in processes if "python" in line}

    assert task_user and task_user != "0"
    assert server_uids == {task_user}, processes
