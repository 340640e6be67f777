"""Whatever goes wrong with a release, the service keeps answering with the model it serves,
and says why: an error log naming the model, both versions and the reason, and the
ModelSwapFailed metric. Broken versions are uploaded directly (``promote`` would refuse them),
signed with the registry's key: a signature proves who released a version, not that it works.
Versions that are unsigned or wrongly signed: test_signatures.py."""

from __future__ import annotations

import pickle
import shutil
from collections.abc import Callable

import pytest
from botocore.exceptions import EndpointConnectionError

from lambda_fn import settings
from lambda_fn.registry import serving
from lambda_fn.registry.artifacts import sha256_bytes
from tests.registry.conftest import MODEL, POINTER_PREFIX, assert_still_serving, edit_json, run_cli, served


def _corrupt_pickle(folder):
    # Bytes that pass the checksum (metadata updated to match) but are no pickle of a model.
    (folder / "model.pkl").write_bytes(pickle.dumps("not a model")[:-3])
    checksum = sha256_bytes((folder / "model.pkl").read_bytes())
    edit_json(folder / "metadata.json", lambda m: m["files"].update({"model.pkl": checksum}))


def _tamper_features(folder):
    (folder / "model_features.json").write_text('["bedrooms"]')


def _old_scikit_learn(folder):
    edit_json(folder / "metadata.json", lambda m: m["library_versions"].update({"scikit-learn": "1.3.1"}))


def _wrong_smoke_prices(folder):
    edit_json(folder / "metadata.json", lambda m: m["smoke_test"]["prices"].__setitem__(0, 1.0))


def _mislabelled(folder):
    edit_json(folder / "metadata.json", lambda m: m.update(version="20990101T000000Z-other"))


BREAKAGES = {
    "corrupted pickle": (_corrupt_pickle, (), r"could not be loaded: UnpicklingError"),
    # A file changed after its (intact, signed) metadata: the checksums catch it.
    "checksum mismatch": (_tamper_features, (), r"checksum mismatch for .*model_features\.json"),
    "wrong scikit-learn version": (_old_scikit_learn, (), r"built with scikit-learn 1\.3\.1"),
    "missing file": (lambda folder: None, ("demographics.csv",), r"could not download .*demographics\.csv: 404"),
    "smoke test fails": (_wrong_smoke_prices, (), r"failed its smoke test"),
    "mislabelled version": (_mislabelled, (), r"refusing a mislabelled version"),
}


@pytest.mark.parametrize("breakage", BREAKAGES, ids=list(BREAKAGES))
def test_a_broken_version_is_never_served(serving_v1, versions, tmp_path, log_lines, capsys, breakage):
    change, skip, reason = BREAKAGES[breakage]
    broken = tmp_path / "20990101T000011Z-broken"
    shutil.copytree(versions.root / MODEL / versions.v2, broken)
    edit_json(broken / "metadata.json", lambda m: m.update(version=broken.name))
    change(broken)
    serving_v1.set_pointer(serving_v1.upload(broken, skip=skip))

    failures = assert_still_serving(versions, versions.v1, log_lines, capsys, reason)

    assert failures[0]["wanted_version"] == broken.name


def _unreachable(client) -> tuple[list[str], Callable[[], None]]:
    """Make every call of ``client`` fail as if the endpoint were down; returns the calls tried
    and a function that brings the endpoint back."""
    tried = []

    def fail(model, **kwargs):
        tried.append(model.name)
        raise EndpointConnectionError(endpoint_url=f"https://{client.meta.service_model.endpoint_prefix}.test")

    client.meta.events.register("before-call", fail, unique_id="unreachable")
    return tried, lambda: client.meta.events.unregister("before-call", unique_id="unreachable")


@pytest.mark.parametrize(("service", "reason"), [
    ("s3", r"could not download .*Could not connect to the endpoint URL"),
    ("ssm", r"could not read pointer .*Could not connect to the endpoint URL"),
    ("kms", r"could not verify the signature of .* with KMS: .*Could not connect to the endpoint URL"),
])
def test_an_unreachable_registry_keeps_the_current_model_until_it_is_back(
        serving_v1, versions, log_lines, capsys, service, reason):
    sync = serving.get_model_store().updates
    _, restore = _unreachable(sync.signing_key.kms if service == "kms" else getattr(sync, service))
    serving_v1.set_pointer(versions.v2)

    assert_still_serving(versions, versions.v1, log_lines, capsys, reason)

    restore()
    assert served() == (versions.v2, versions.prices[versions.v2])


def test_a_malformed_pointer_keeps_the_current_model(serving_v1, versions, log_lines, capsys):
    serving_v1.ssm.put_parameter(Name=f"{POINTER_PREFIX}/{MODEL}", Value="v2 please", Type="String", Overwrite=True)

    assert_still_serving(versions, versions.v1, log_lines, capsys, r"is not a valid pointer")


def test_the_image_model_serves_when_the_registry_is_unreachable_at_cold_start(
        registry_env, versions, monkeypatch, log_lines, capsys):
    run_cli("publish", "--artifacts", str(versions.root), "--version", versions.v1)
    run_cli("promote", "--version", versions.v1)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("MODEL_REFRESH_SECONDS", "30")  # one attempt: the cold start's
    settings.get_settings.cache_clear()
    serving.get_model_store.cache_clear()

    assert_still_serving(versions, versions.baked, log_lines, capsys, r"could not read pointer")


def test_after_a_failure_the_next_attempt_waits_for_the_refresh_interval(serving_v1, versions):
    sync = serving.get_model_store().updates
    now = [1000.0]
    sync.clock = lambda: now[0]
    sync.refresh_seconds = 30
    tried, restore = _unreachable(sync.s3)
    serving_v1.set_pointer(versions.v2)

    for _ in range(5):
        assert served()[0] == versions.v1
    restore()
    now[0] += 29
    assert served()[0] == versions.v1  # still paused after the failure
    now[0] += 2

    assert served()[0] == versions.v2
    assert len(tried) == 1  # one download attempt in 30 s, not one per request
