"""``sam local start-api`` on the synthesized API + the example-submitting script over 127.0.0.1:
all 100 future houses priced by the image, identical to the in-process handler."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.container import sam_local
from scripts.container.loopback import request
from scripts.submit_examples import DEFAULT_DATA_DIR, read_houses
from tests.helpers import PROJECT_ROOT, invoke, load_event, with_body

pytestmark = pytest.mark.container


@pytest.fixture(scope="module")
def api_url(sam_build):
    with sam_local.start_api(sam_build) as url:
        yield url


def test_health_through_the_api(api_url, function_environment):
    status, _, body = request(f"{api_url}/v1/health")

    assert status == 200
    assert body == invoke(load_event("health"))[1]


def test_the_example_script_prices_all_100_future_houses_like_in_process(api_url, function_environment):
    houses = read_houses(Path(os.environ.get("DATA_DIR", DEFAULT_DATA_DIR)), None)
    run = subprocess.run([sys.executable, "scripts/submit_examples.py", "--url", api_url, "--json"],
                         cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    answers = json.loads(run.stdout)
    expected = [invoke(with_body(load_event("predict"), house))[1] for house in houses]

    assert len(houses) == len(answers) == 100
    assert [a["status"] for a in answers] == [200] * 100
    assert [round(a["price"], 2) for a in answers] == [round(e["price"], 2) for e in expected]
    assert [a["model"] for a in answers] == [e["model"] for e in expected]
