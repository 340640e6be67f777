"""Requests from several threads while the pointer moves: every answer comes from exactly one
whole model version (its price is the one the version it names gives), and none fails.

Each thread runs what one request runs, in the handler's order: the refresh middleware's
``store.refresh()``, then ``handler._price``'s single ``store.get()`` and ``predict`` on that
reference, for today (the day a request that names none asks for). The threads do not call
``lambda_handler`` itself: Powertools' resolver keeps the current request on the ``app`` object
(``current_event``, ``context``), so it serves one request at a time per process - as Lambda
and the HTTP server's workers use it (``lambda_fn.api.asgi``) - and threads sharing it fail inside Powertools
(``KeyError: '_route'``), with or without a swap.
"""

from __future__ import annotations

import threading
import time

from lambda_fn.core.market import today
from lambda_fn.registry import serving
from tests.helpers import event_body
from tests.registry.conftest import run_cli

THREADS = 6
MAX_REQUESTS_PER_THREAD = 2000
PHASE_TIMEOUT_SECONDS = 10


def _request(house: dict) -> tuple[str, float]:
    store = serving.get_model_store()
    store.refresh()               # the follow_model_registry middleware
    predictor = store.get()       # handler._price: one reference for the whole request
    [price] = predictor.predict([house], today())
    return predictor.version, price


def test_requests_during_swaps_are_each_answered_by_one_whole_version(registry_env, versions):
    for version in (versions.v1, versions.v2):
        run_cli("publish", "--artifacts", str(versions.root), "--version", version)
    serving.get_model_store()  # the cold start, before the threads
    house = event_body("predict")
    answers: list[tuple[str, float]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def client() -> None:
        try:
            for _ in range(MAX_REQUESTS_PER_THREAD):
                if stop.is_set():
                    return
                answers.append(_request(house))
        except BaseException as error:  # recorded, so the main thread's assertion shows it
            errors.append(error)

    threads = [threading.Thread(target=client, name=f"client-{i}") for i in range(THREADS)]
    for thread in threads:
        thread.start()
    # Each phase moves the pointer and waits until the new version answers, while the threads
    # keep sending; the swap happens inside whichever request notices the move first, and the
    # others go on answering with the model they hold.
    try:
        for version in (versions.v1, versions.v2, None, versions.v1):
            registry_env.set_pointer(version)
            wanted, deadline = version or versions.baked, time.monotonic() + PHASE_TIMEOUT_SECONDS
            while all(v != wanted for v, _ in answers[-THREADS:]) and time.monotonic() < deadline:
                time.sleep(0.01)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

    assert not errors, errors
    assert {version for version, _ in answers} == {versions.baked, versions.v1, versions.v2}
    mixed = [(version, price) for version, price in answers if versions.prices[version] != price]
    assert not mixed, mixed[:5]
    assert serving.get_model_store().get().version == versions.v1
