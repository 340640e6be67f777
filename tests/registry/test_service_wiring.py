"""How the service meets the registry: off unless configured, the refresh middleware, the pointer
cache, the request that keeps its model through a swap, and the pointer's history rules."""

from __future__ import annotations

import datetime
import uuid

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from lambda_fn import settings
from lambda_fn.api.asgi import LocalContext
from lambda_fn.api.handler import follow_model_registry
from lambda_fn.registry import serving
from lambda_fn.registry.layout import HISTORY_LIMIT, Pointer, RegistryError, RegistryLocation
from tests.helpers import invoke, load_event
from tests.registry.conftest import MODEL, emitted_metrics, run_cli, served


def test_without_a_registry_bucket_only_the_image_models_serve(monkeypatch):
    monkeypatch.delenv("MODEL_REGISTRY_BUCKET", raising=False)

    store = serving.get_model_store()
    store.refresh()

    assert store.updates is None
    assert invoke(load_event("predict"))[0] == 200


def test_the_refresh_middleware_lets_the_store_follow_the_pointer_before_the_route(registry_env, versions):
    resolver = APIGatewayRestResolver()
    resolver.use(middlewares=[follow_model_registry])

    @resolver.get("/v1/health")
    def health() -> dict:
        return {"version": serving.get_model_store().get(MODEL).version}

    serving.get_model_store()
    run_cli("publish", "--artifacts", str(versions.root), "--version", versions.v1)
    registry_env.set_pointer(versions.v1)

    response = resolver.resolve(load_event("health"), LocalContext(aws_request_id=str(uuid.uuid4())))

    assert versions.v1 in response["body"]


def test_the_handler_runs_the_refresh_on_every_request(registry_env, versions):
    serving.get_model_store()
    run_cli("publish", "--artifacts", str(versions.root), "--version", versions.v1)
    registry_env.set_pointer(versions.v1)

    status, body = invoke(load_event("predict"))  # no explicit refresh: the middleware's

    assert (status, body["model"]["version"]) == (200, versions.v1)


def test_the_pointer_is_read_once_per_refresh_interval(registry_env, versions, monkeypatch):
    for name in serving.get_model_store().names():
        registry_env.set_pointer(None, name)  # every pointer exists (a missing one: next test)
    monkeypatch.setenv("MODEL_REFRESH_SECONDS", "30")
    settings.get_settings.cache_clear()
    serving.get_model_store.cache_clear()
    sync = serving.get_model_store().updates
    reads = []
    sync.ssm.meta.events.register("before-call.ssm.GetParameter", lambda **kwargs: reads.append(1))

    for _ in range(20):
        served()
    assert reads == []  # the cold start's read is cached for 30 s: requests cost a cache lookup

    sync.pointers.clear_cache()  # as if the 30 s had passed
    served()
    assert len(reads) == len(serving.get_model_store().names())  # ... then once per model's pointer


def test_without_a_pointer_yet_the_image_model_serves_and_nothing_fails(
        registry_env, versions, monkeypatch, log_lines, capsys):
    # Given a fresh deployment (no promote yet: the stack creates no pointer), read every 30 s
    assert registry_env.pointer() is None
    monkeypatch.setenv("MODEL_REFRESH_SECONDS", "30")
    settings.get_settings.cache_clear()
    serving.get_model_store.cache_clear()
    store = serving.get_model_store()
    sync = store.updates
    now = [sync.clock()]  # the cold start's clock: it cached "no pointer" until now + 30
    sync.clock = lambda: now[0]
    reads = []
    sync.ssm.meta.events.register("before-call.ssm.GetParameter", lambda **kwargs: reads.append(1))

    # Then the image's models serve, with no error log and no ModelSwapFailed
    for _ in range(5):
        assert served() == (versions.baked, versions.prices[versions.baked])
    assert not [line for line in log_lines() if line.get("level") == "ERROR"], log_lines()
    assert not emitted_metrics(capsys.readouterr().out, "ModelSwapFailed")
    assert reads == []  # "no pointer" is cached like a read value: requests cost no SSM call

    # And once the first promote creates the pointer, the next read after the interval follows it
    run_cli("publish", "--artifacts", str(versions.root), "--version", versions.v1)
    run_cli("promote", "--version", versions.v1)
    now[0] += 31
    assert served()[0] == versions.v1
    assert len(reads) == len(store.names())


def test_a_request_keeps_the_predictor_it_took_while_the_model_is_swapped(registry_env, versions):
    run_cli("publish", "--artifacts", str(versions.root), "--version", versions.v1)
    store = serving.get_model_store()
    in_flight = store.get(MODEL)
    registry_env.set_pointer(versions.v1)

    store.refresh()

    assert store.get(MODEL).version == versions.v1
    assert in_flight.version == versions.baked
    smoke_test = in_flight.metadata["smoke_test"]
    asked_on = datetime.date.fromisoformat(smoke_test["asked_on"][0])
    assert in_flight.predict([{**smoke_test["houses"][0]}], asked_on)  # still whole and working


def test_pointer_history_is_bounded_and_rolls_back_newest_first():
    pointer = Pointer()
    for i in range(HISTORY_LIMIT + 5):
        pointer = pointer.promoted(f"v{i}", at="now")

    assert len(pointer.previous) == HISTORY_LIMIT
    assert pointer.rolled_back(at="later").version == f"v{HISTORY_LIMIT + 3}"
    with pytest.raises(RegistryError, match="no previous version"):
        Pointer(version="v1").rolled_back(at="later")


@pytest.mark.parametrize("raw", ['{"version": "../x"}', '{"version": 3}', "v2", '{"previous": ["a/b"]}'])
def test_unsafe_or_malformed_pointers_are_refused(raw):
    with pytest.raises(RegistryError, match="not a valid pointer"):
        Pointer.parse(raw, source="/p/basic")


def test_layout_keys_and_pointer_names():
    location = RegistryLocation("bucket", "/price-service/dev/models/")

    assert location.key("basic", "20261126T051144Z-4b0cd425", "model.pkl") == \
        "basic/20261126T051144Z-4b0cd425/model.pkl"
    assert location.pointer_name("basic") == "/price-service/dev/models/basic"
    with pytest.raises(RegistryError):
        location.key("basic", "..", "model.pkl")
