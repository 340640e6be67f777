"""The service image: one linux/amd64 image that Lambda starts with the handler, carrying the
trained model (not a new training) and only the function's pinned runtime requirements."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from lambda_fn.settings import DEFAULT_MODEL_DIR
from scripts.container import image
from scripts.container.toolchain import LABEL, ROOT, remove_container, run, unique_name

pytestmark = pytest.mark.container

# Project folders that are not the function: none of them may be in the image.
NOT_RUNTIME = {"tests", "infra", "events", "scripts", "image", "reports"}

INSPECT_TASK_ROOT = """
import hashlib, importlib.metadata as md, json, os, sys
root = "/var/task"
files = {}
for folder, _, names in os.walk(os.path.join(root, "model", "artifacts")):
    for name in names:
        path = os.path.join(folder, name)
        files[os.path.relpath(path, root)] = hashlib.sha256(open(path, "rb").read()).hexdigest()
versions = {d.metadata["Name"].lower().replace("_", "-"): d.version for d in md.distributions(path=[root])}
print(json.dumps({"top": sorted(os.listdir(root)), "model": sorted(os.listdir(os.path.join(root, "model"))),
                  "artifacts": files, "versions": versions}))
"""


def python_in_image(tag: str, code: str) -> str:
    name = unique_name("inspect")
    try:
        return run(["docker", "run", "--rm", "--name", name, "--label", LABEL, "--network", "host",
                    "--entrypoint", "python3", tag, "-c", code], timeout=120).stdout
    finally:
        remove_container(name)


@pytest.fixture(scope="module")
def task_root(built_image: image.ImageInfo) -> dict:
    return json.loads(python_in_image(built_image.tag, INSPECT_TASK_ROOT))


def pins(path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;#]+)", line.strip())
        if match:
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def test_image_is_one_linux_amd64_image_and_its_size_is_recorded(built_image):
    recorded = json.loads(image.REPORT.read_text())

    assert built_image.platform == "linux/amd64"
    assert built_image.builder in {"classic", "buildx (no attestations)"}
    assert recorded["id"] == built_image.id
    assert 100e6 < recorded["size_bytes"] < 2e9, recorded["size_bytes"]


def test_lambda_starts_the_handler_with_one_openmp_thread(built_image):
    assert built_image.entrypoint == ["/lambda-entrypoint.sh"]
    assert built_image.cmd == ["lambda_fn.api.handler.lambda_handler"]
    assert built_image.env["OMP_NUM_THREADS"] == "1"


def test_image_carries_the_latest_trained_artifacts_byte_for_byte(task_root):
    latest = [DEFAULT_MODEL_DIR / model.name / (model / "LATEST").read_text().strip()
              for model in DEFAULT_MODEL_DIR.iterdir() if (model / "LATEST").is_file()]
    served = [*latest, *(folder.parent / "LATEST" for folder in latest)]
    on_host = {str(path.relative_to(ROOT)): hashlib.sha256(path.read_bytes()).hexdigest()
               for item in served for path in ([item] if item.is_file() else item.rglob("*")) if path.is_file()}

    assert len(latest) == 2  # basic and gbm
    assert task_root["artifacts"] == on_host  # older local versions stay out
    assert task_root["model"] == ["artifacts"]  # the model, not the code that trains it


def test_image_installs_the_function_requirements_pins_and_no_dev_tools(task_root):
    runtime = pins(ROOT / "lambda_fn" / "requirements.txt")
    dev_only = (set(pins(ROOT / "requirements.txt")) | set(pins(ROOT / "model" / "requirements.txt"))) - set(runtime)
    installed = task_root["versions"]

    assert {name: installed.get(name) for name in runtime} == runtime
    assert dev_only & set(installed) == set()
    assert NOT_RUNTIME & set(task_root["top"]) == set()


def test_runtime_interface_client_is_added_only_where_the_base_has_none(built_image, tools):
    entrypoint = python_in_image(built_image.tag, "print(open('/lambda-entrypoint.sh').read(), end='')")
    ours = (ROOT / "image" / "lambda-entrypoint.sh").read_text()

    if tools.stand_in_base:
        client = python_in_image(built_image.tag, "import sys; sys.path.insert(0, '/var/runtime'); "
                                                  "import importlib.metadata as m; print(m.version('awslambdaric'))")
        assert entrypoint == ours
        assert client.strip() == pins(ROOT / "image" / "runtime-interface-client.txt")["awslambdaric"]
    else:
        assert entrypoint != ours  # the AWS base image keeps its own runtime


def test_botocore_keeps_the_api_models_of_the_listed_services_only(built_image):
    listed = [line.strip() for line in (ROOT / "image" / "botocore-services.txt").read_text().splitlines()
              if line.strip()[:1] not in ("", "#")]
    code = ("import json, boto3, botocore.exceptions as e\n"
            "def made(name):\n"
            "    try:\n"
            "        boto3.client(name, region_name='us-west-2', aws_access_key_id='x', aws_secret_access_key='x')\n"
            "    except e.UnknownServiceError:\n"
            "        return False\n"
            "    return True\n"
            f"print(json.dumps({{name: made(name) for name in {[*listed, 'dynamodb', 'lambda']!r}}}))\n")

    clients = json.loads(python_in_image(built_image.tag, code))

    assert clients == {**dict.fromkeys(listed, True), "dynamodb": False, "lambda": False}
