"""When a swap may run. In Lambda, inside a request and bounded by its remaining time: a network
call starts only if at its worst it ends a margin before the function's timeout. In the HTTP
server, in a background thread: requests never run a swap."""

from __future__ import annotations

import threading
import time

from lambda_fn.registry import serving
from lambda_fn.registry.layout import WORST_CALL_SECONDS
from lambda_fn.registry.sync import ANSWER_MARGIN_SECONDS
from tests.registry.conftest import run_cli, served


def _publish_and_point(aws, versions, version):
    run_cli("publish", "--artifacts", str(versions.root), "--version", version)
    aws.set_pointer(version)


def test_a_request_with_too_little_time_left_does_not_start_a_swap(registry_env, versions, log_lines):
    store = serving.get_model_store()
    _publish_and_point(registry_env, versions, versions.v1)

    store.refresh(seconds_left=ANSWER_MARGIN_SECONDS + WORST_CALL_SECONDS - 0.1)

    assert store.version_of("basic") == versions.baked
    assert not [line for line in log_lines() if "swap failed" in line.get("message", "")]  # skipped, not failed
    store.refresh(seconds_left=30)
    assert store.version_of("basic") == versions.v1


def test_a_swap_that_runs_out_of_request_time_stops_and_keeps_the_served_model(registry_env, versions, log_lines):
    store = serving.get_model_store()
    sync = store.updates
    _publish_and_point(registry_env, versions, versions.v1)
    start = time.monotonic()   # past every pause the cold start set
    now = [start]
    sync.clock = lambda: now[0]
    download = sync.s3.download_file

    def slow_download(*args, **kwargs):   # each file takes 3 s of the request's clock
        now[0] += 3
        return download(*args, **kwargs)

    sync.s3.download_file = slow_download

    store.refresh(seconds_left=10)

    assert store.version_of("basic") == versions.baked
    [failure] = [line for line in log_lines() if "swap failed" in line.get("message", "")]
    assert "no time left in this request" in failure["reason"]
    assert now[0] - start <= 10 - ANSWER_MARGIN_SECONDS   # stopped before the time ran out


def test_in_the_http_server_requests_never_swap_and_the_background_thread_does(registry_env, versions):
    store = serving.get_model_store()
    calls: list[str] = []
    refresh = store.updates.refresh

    def recording_refresh(target, **kwargs):
        calls.append(threading.current_thread().name)
        refresh(target, **kwargs)

    store.updates.refresh = recording_refresh
    store.refresh_in_background(every_seconds=1)
    try:
        _publish_and_point(registry_env, versions, versions.v1)
        assert served()[0] == versions.baked   # the request did not swap
        assert calls == []
        deadline = time.monotonic() + 10
        while store.version_of("basic") != versions.v1 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        store.stop_background_refresh()

    assert store.version_of("basic") == versions.v1
    assert set(calls) == {"model-registry-refresh"}
    assert served() == (versions.v1, versions.prices[versions.v1])
