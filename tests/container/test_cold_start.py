"""Cold start and warm latency of the Lambda image through the Runtime Interface Emulator: the
figures ``make bench-container`` prints, here with few samples and checked for a correct answer."""

from __future__ import annotations

import json

import pytest

from scripts.container import bench
from tests.container.conftest import FIGURES
from tests.helpers import invoke, load_event

pytestmark = pytest.mark.container


def test_a_fresh_container_answers_a_real_prediction_and_stays_warm(built_image):
    result = bench.bench(built_image.tag, cold_runs=1, warm_requests=40)
    cold = result.cold[0]
    FIGURES["cold start (RIE, docker run -> first answer)"] = (
        f"{cold.to_first_answer_ms:.0f} ms (init {cold.init_ms} ms, first invoke {cold.first_invoke_ms} ms)")
    for label, latency in result.warm.items():
        FIGURES[f"warm {label}"] = f"p50 {latency.p50_ms} ms, p99 {latency.p99_ms} ms (n={latency.count})"

    assert result.first_answer["statusCode"] == 200
    assert json.loads(result.first_answer["body"]) == invoke(load_event("predict"))[1]
    assert cold.to_first_answer_ms > cold.docker_run_ms > 0
    assert set(result.warm) == {"predict (1 house)", "predict_batch (5 houses)"}
