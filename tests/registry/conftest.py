"""The registry as the ModelRegistry construct deploys it, in moto: a versioned bucket, an
ECC_NIST_P256 signing key, and no SSM pointer yet (the first promote creates each one; until
then: the image's model). Registry versions are made from the
baked model with another neighbour count, so every version prices the example house differently
and a response's price proves which version produced it."""

from __future__ import annotations

import copy
import datetime
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambda_fn import settings
from lambda_fn.core.market import today
from lambda_fn.core.pickled import PickledEstimator
from lambda_fn.core.predictor import DEMOGRAPHICS_FILE, FEATURES_FILE, Predictor
from lambda_fn.registry import serving
from lambda_fn.registry.artifacts import (
    LATEST_FILE,
    METADATA_FILE,
    SIGNATURE_FILE,
    latest_version_folder,
    load_predictor,
    write_version,
)
from lambda_fn.registry.layout import Pointer
from lambda_fn.registry.signing import SigningKey
from model import registry as cli
from tests.helpers import event_body, fake_aws_credentials, invoke, json_lines, load_event

REGION = "us-west-2"
BUCKET = "price-service-models-test"
POINTER_PREFIX = "/price-service/test/models"
MODEL = "basic"


@dataclass(frozen=True)
class Versions:
    """Local artifacts for the registry tests: ``root/basic/<version>``, and each one's price."""

    root: Path
    baked: str
    v1: str
    v2: str
    prices: dict[str, float]  # version -> price of the house in events/predict.json


def _event_price(predictor: Predictor) -> float:
    """The price of the house in events/predict.json, asked today as the handler asks it."""
    return predictor.predict([event_body("predict")], today())[0]


def _derived_version(root: Path, version: str, n_neighbors: int) -> float:
    baked_folder = latest_version_folder(settings.DEFAULT_MODEL_DIR, MODEL)
    base = load_predictor(baked_folder)
    estimator = copy.deepcopy(base.model.estimator).set_params(kneighborsregressor__n_neighbors=n_neighbors)
    smoke_test = base.metadata["smoke_test"]
    houses = smoke_test["houses"]
    days = [datetime.date.fromisoformat(day) for day in smoke_test["asked_on"]]
    folder = root / MODEL / version
    metadata = {**base.metadata, "version": version, "description": f"test version, k={n_neighbors}"}
    files = {**PickledEstimator(estimator).files(),  # model.pkl, pickled as training pickles it
             FEATURES_FILE: (baked_folder / FEATURES_FILE).read_bytes(),
             DEMOGRAPHICS_FILE: (baked_folder / DEMOGRAPHICS_FILE).read_bytes()}
    # The smoke test records this version's own prices, as training records them.
    prices = Predictor.from_files(files, metadata).predict(houses, days)
    write_version(folder, files=files, metadata={**metadata, "smoke_test": {**smoke_test, "prices": prices}})
    return _event_price(load_predictor(folder))  # verified and smoke-tested, as the service loads it


@pytest.fixture(scope="session")
def versions(tmp_path_factory, trained_artifacts) -> Versions:
    root = tmp_path_factory.mktemp("artifacts")
    baked = load_predictor(latest_version_folder(trained_artifacts, MODEL))
    v1, v2 = "20990101T000007Z-test0007", "20990101T000009Z-test0009"
    prices = {baked.version: _event_price(baked),
              v1: _derived_version(root, v1, 7), v2: _derived_version(root, v2, 9)}
    (root / MODEL / LATEST_FILE).write_text(v2 + "\n")
    assert len(set(prices.values())) == 3, prices  # each version is recognisable by its price
    return Versions(root, baked.version, v1, v2, prices)


def edit_json(path: Path, change: Callable[[dict], Any]) -> None:
    content = json.loads(path.read_text())
    change(content)
    path.write_text(json.dumps(content))


def create_signing_key(kms: Any) -> str:
    """A key as the ModelRegistry construct creates it; its ARN."""
    return kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]


@dataclass
class Aws:
    s3: Any
    ssm: Any
    kms: Any
    key_arn: str  # the registry's signing key

    @property
    def signing_key(self) -> SigningKey:
        return SigningKey(self.kms, self.key_arn)

    def pointer(self, name: str = MODEL) -> Pointer | None:
        """The pointer's value, or None while it does not exist (nothing promoted yet)."""
        try:
            found = self.ssm.get_parameter(Name=f"{POINTER_PREFIX}/{name}")["Parameter"]
        except self.ssm.exceptions.ParameterNotFound:
            return None
        return Pointer.parse(found["Value"], source="test")

    def set_pointer(self, version: str | None, name: str = MODEL) -> None:
        """Move the pointer directly, as someone bypassing `promote` could."""
        self.ssm.put_parameter(Name=f"{POINTER_PREFIX}/{name}", Value=Pointer(version=version).to_json(),
                               Type="String", Overwrite=True)

    def upload(self, folder: Path, *, skip: tuple[str, ...] = (), signed_by: SigningKey | None = None) -> str:
        """Upload a version folder directly (no checks), as a tampered or broken release would be,
        with its metadata.json signed by ``signed_by`` (default: the registry's key, as a release of
        a broken model would be), unless ``skip`` names the signature."""
        files = {path.name: path.read_bytes() for path in sorted(folder.iterdir())}
        files[SIGNATURE_FILE] = (signed_by or self.signing_key).sign(files[METADATA_FILE])
        for name, body in files.items():
            if name not in skip:
                self.s3.put_object(Bucket=BUCKET, Key=f"{MODEL}/{folder.name}/{name}", Body=body)
        return folder.name


@pytest.fixture
def aws(monkeypatch) -> Iterator[Aws]:
    """Fake credentials, a moto account, and the resources the CDK construct creates."""
    fake_aws_credentials(monkeypatch, REGION)
    with mock_aws():
        s3, ssm, kms = boto3.client("s3"), boto3.client("ssm"), boto3.client("kms")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield Aws(s3, ssm, kms, create_signing_key(kms))  # no pointer parameters: the stack does not create them


@pytest.fixture
def registry_env(aws, monkeypatch, tmp_path) -> Aws:
    """The service's registry settings, set before anything reads them (settings are cached)."""
    monkeypatch.setenv("MODEL_REGISTRY_BUCKET", BUCKET)
    monkeypatch.setenv("MODEL_POINTER_PREFIX", POINTER_PREFIX)
    monkeypatch.setenv("MODEL_SIGNING_KEY_ARN", aws.key_arn)  # the service's and the CLI's trusted key
    monkeypatch.setenv("MODEL_REFRESH_SECONDS", "0")  # read the pointer on every request
    monkeypatch.setenv("MODEL_DOWNLOAD_DIR", str(tmp_path / "downloads"))
    monkeypatch.setenv("DEFAULT_MODEL", MODEL)
    settings.get_settings.cache_clear()
    serving.get_model_store.cache_clear()
    return aws


def run_cli(*args: str) -> int:
    return cli.main(["--bucket", BUCKET, "--pointer-prefix", POINTER_PREFIX, *args])


def serve(event: str = "predict") -> tuple[int, dict[str, Any]]:
    """Answer an event as the deployed handler does: its refresh middleware, then the route."""
    return invoke(load_event(event))


def served(event: str = "predict") -> tuple[str, float]:
    """(version, price) of one answered request; fails unless it was answered with 200."""
    status, body = serve(event)
    assert status == 200, body
    return body["model"]["version"], body["price"]


def emitted_metrics(stdout: str, name: str) -> list[dict]:
    """EMF documents carrying metric ``name`` (single_metric prints them at once)."""
    return [line for line in json_lines(stdout) if "_aws" in line and name in line]


@pytest.fixture
def serving_v1(registry_env, versions):
    """The registry's v1 promoted and served, v2 published but not promoted."""
    run_cli("publish", "--artifacts", str(versions.root), "--version", versions.v1)
    run_cli("publish", "--artifacts", str(versions.root), "--version", versions.v2)
    registry_env.set_pointer(versions.v1)  # `promote` itself is tested in test_release_flow
    assert served()[0] == versions.v1
    return registry_env


def assert_still_serving(versions, version, log_lines, capsys, reason) -> list[dict]:
    """Requests keep getting `version`'s answers; a swap failure matching `reason` was logged and counted."""
    for _ in range(3):  # and the requests after it: no retry storm, no error answers
        assert served() == (version, versions.prices[version])
    failures = [line for line in log_lines() if line.get("message", "").startswith("model swap failed")]
    assert failures, log_lines()
    assert failures[0]["level"] == "ERROR"
    assert failures[0]["model_name"] == MODEL and failures[0]["served_version"] == version
    assert re.search(reason, failures[0]["reason"]), failures[0]["reason"]
    emf = emitted_metrics(capsys.readouterr().out, "ModelSwapFailed")
    assert emf and emf[0]["model_name"] == MODEL
    assert emf[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "SoundRealty"
    return failures
