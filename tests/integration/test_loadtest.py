"""`make loadtest`, shortened: the real server under keep-alive load follows a registry promotion
with no failed request and no answer mixing two versions; and the run's checks catch what they
are for (a wrong or mixed answer, a missing swap, a worker left on the old version)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from scripts import loadtest
from tests.helpers import PROJECT_ROOT

OLD, NEW = "v-old", "v-new"
VERSIONS = {OLD: loadtest.Version(OLD, Path("old"), [(100.0, (90.0, 110.0))]),
            NEW: loadtest.Version(NEW, Path("new"), [(90.0, (81.0, 99.0))])}


def answer(version: str, price: float, low: float, high: float) -> bytes:
    return json.dumps({"price": price, "interval": {"low": low, "high": high, "coverage": 0.8},
                       "model": {"name": "gbm", "version": version}}).encode()


def test_a_short_load_run_passes_and_shows_the_swap():
    run = subprocess.run([sys.executable, "-m", "scripts.loadtest", "--seconds", "6"], cwd=PROJECT_ROOT,
                         capture_output=True, text=True, timeout=150)

    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert "PASS" in run.stdout and "errors: 0 " in run.stdout
    assert "wrong answers (mixed or unknown version): 0" in run.stdout
    counts = re.search(r"answers per version: (\S+) (\d+), (\S+) (\d+)", run.stdout)
    assert counts and int(counts[2]) > 0 and int(counts[4]) > 0, run.stdout   # both versions answered
    assert re.search(r"workers that logged the swap: (\d+) of \1;", run.stdout), run.stdout


def test_an_answer_is_right_only_whole_from_one_known_version():
    assert loadtest.judge(200, answer(NEW, 90.0, 81.0, 99.0), 0, VERSIONS) == (NEW, None)
    assert loadtest.judge(200, answer(NEW, 100.0, 90.0, 110.0), 0, VERSIONS)[1]   # new label, old price
    assert loadtest.judge(200, answer(OLD, 100.0, 81.0, 99.0), 0, VERSIONS)[1]    # old price, new range
    assert loadtest.judge(200, answer("v-other", 90.0, 81.0, 99.0), 0, VERSIONS)[1]
    assert loadtest.judge(503, b'{"error": "busy"}', 0, VERSIONS) == (None, 'HTTP 503: {"error": "busy"}')


def _load(*answers: tuple[float, str]) -> loadtest.Load:
    load = loadtest.Load(deadline=20.0)
    load.answers = [loadtest.Answer(sent, 0.01, 0, 200, version) for sent, version in answers]
    return load


def _promotion() -> loadtest.Promotion:
    return loadtest.Promotion(["promote"], at=5.0, started=5.0, finished=8.0, returncode=0)


def test_the_takeover_checks():
    def failures(*answers):
        return loadtest.swap_failures(_load(*answers), _promotion(), OLD, NEW, grace=5.0)

    assert failures((1.0, OLD), (8.5, OLD), (9.0, NEW), (14.0, NEW)) == []
    assert failures((1.0, OLD), (14.0, OLD)) == ["no answer of the promoted version: no swap"]
    assert "before the promotion started" in failures((4.0, NEW), (14.0, NEW))[0]
    assert "after the promotion" in failures((9.0, NEW), (14.0, OLD))[0]          # a worker left behind
    assert "not checked" in failures((9.0, NEW), (12.0, NEW))[0]                  # load ended too soon
    failed = loadtest.Promotion(["promote"], at=5.0, started=5.0, finished=6.0, returncode=1, output="error: no")
    assert "promotion failed" in loadtest.swap_failures(_load((9.0, NEW)), failed, OLD, NEW, 5.0)[0]


def test_swaps_are_counted_also_when_two_workers_records_share_a_line(tmp_path):
    swapped = {"level": "INFO", "message": "model swapped", "to_version": NEW}
    failed = {"level": "ERROR", "message": "model swap failed", "reason": "boom"}
    metric = '{"_aws": {"Timestamp": 1}, "Predictions": [1.0], "model_'   # cut by another worker's write
    log = tmp_path / "server.log"
    log.write_text(f"INFO: Started server process\n{json.dumps(swapped)}\n{metric}{json.dumps(swapped)}\n"
                   f'{json.dumps(failed)}{{"message": "other"}}\n')

    count, failures = loadtest.swap_log_lines(log, NEW)

    assert count == 2
    assert [json.loads(f)["reason"] for f in failures] == ["boom"]
