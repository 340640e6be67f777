"""Following the model registry while serving: the service half of safe hot swaps.

Layout and pointer format: ``lambda_fn.registry.layout``. Contract:

- ``RegistrySync.refresh(store)`` runs once at cold start (``get_model_store``), then:
  in Lambda, which runs no code between invocations, at the start of every request (a
  middleware of the API), bounded by the request's remaining time (``seconds_left``); in the
  HTTP server (local, ECS), from a background thread, so no request waits for a swap. A check
  costs a lock attempt and a cache lookup, because the pointer parameters are read through
  Powertools parameters with ``max_age=MODEL_REFRESH_SECONDS``.
- When a pointer names a version other than the one served, the version's metadata is downloaded
  to MODEL_DOWNLOAD_DIR with its signature, which must verify with the key MODEL_SIGNING_KEY_ARN
  names (one kms:Verify, within the request's time like every call) before anything is parsed;
  then its files are downloaded and verified (name and version, checksums, library versions),
  loaded and smoke-tested, and only then swapped in with ``ModelStore.replace``: one reference assignment;
  requests that already hold the old predictor finish with it. ``version: null`` (or the
  image's own version) reloads the model baked into the image, with no download. So does a
  pointer parameter that does not exist (nothing promoted yet): not a failure, and the answer is
  kept for MODEL_REFRESH_SECONDS like a read one, so SSM is not asked on every request.
- Any failure (pointer malformed or unreadable; S3 or KMS unreachable; the version unsigned,
  signed by another key or changed since; no signing key configured; a file missing; a
  checksum, library version or smoke test wrong) keeps the served model, logs an error naming
  the model, both versions and the reason, emits ``ModelSwapFailed`` (dimension ``model_name``),
  and pauses checks for MODEL_REFRESH_SECONDS: a broken release costs one attempt per interval
  per environment, not one per request, and the metric keeps firing while the pointer is wrong.
- One thread refreshes at a time; the others keep answering with the current model, unblocked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from lambda_fn.core.predictor import Predictor
from lambda_fn.observability import logger, metrics
from lambda_fn.registry.artifacts import ArtifactError
from lambda_fn.registry.layout import (
    Pointer,
    RegistryError,
    RegistryLocation,
    TimeBudget,
    aws_client,
    describe_version,
    fetch_predictor,
    is_parameter_not_found,
)
from lambda_fn.registry.signing import SigningKey
from lambda_fn.registry.store import local_version
from lambda_fn.settings import Settings

if TYPE_CHECKING:
    from lambda_fn.registry.store import ModelStore

# Reasons that are news, not bugs: printed without a traceback.
EXPECTED_FAILURES = (RegistryError, ArtifactError)
# What a request still needs after a swap inside it: price and answer.
ANSWER_MARGIN_SECONDS = 1.0


class RegistrySync:
    def __init__(self, *, location: RegistryLocation, model_dir: Path, baked_versions: Mapping[str, str],
                 refresh_seconds: int, download_dir: Path, ssm: Any, s3: Any, signing_key: SigningKey | None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``signing_key``: the only key whose signatures are accepted; None refuses every registry
        version (the image's models keep serving)."""
        from aws_lambda_powertools.utilities.parameters import SSMProvider

        self.location = location
        self.refresh_seconds = refresh_seconds
        self._model_dir = Path(model_dir)
        self._baked = dict(baked_versions)  # model name -> version baked into the image
        self._download_dir = Path(download_dir)
        self.s3 = s3
        self.ssm = ssm
        self.signing_key = signing_key
        self.pointers = SSMProvider(boto3_client=ssm)
        self.clock = clock
        self._lock = threading.Lock()
        self._paused_until = float("-inf")
        self._absent_until: dict[str, float] = {}  # pointer name -> when to ask SSM again

    @classmethod
    def from_settings(cls, settings: Settings, baked_versions: Mapping[str, str]) -> RegistrySync:
        return cls(location=RegistryLocation(settings.registry_bucket or "", settings.pointer_prefix),
                   model_dir=settings.model_dir, baked_versions=baked_versions,
                   refresh_seconds=settings.refresh_seconds, download_dir=settings.download_dir,
                   ssm=aws_client("ssm"), s3=aws_client("s3"),
                   signing_key=SigningKey(aws_client("kms"), settings.signing_key_arn)
                   if settings.signing_key_arn else None)

    def refresh(self, store: ModelStore, *, force: bool = False, seconds_left: float | None = None) -> None:
        """Swap in every model whose pointer moved; never raises, never blocks on another refresh.
        ``seconds_left`` (a Lambda request's remaining time) bounds the swap: a network call starts
        only if, at its worst, it ends ``ANSWER_MARGIN_SECONDS`` before that time runs out."""
        if not force and self.clock() < self._paused_until:
            return
        budget = None if seconds_left is None else TimeBudget(
            self.clock() + seconds_left - ANSWER_MARGIN_SECONDS, self.clock)
        if not self._lock.acquire(blocking=False):
            return
        try:
            healthy = all([self._follow(store, name, budget) for name in self._baked])
        except Exception:  # a bug here must cost a log line, never a request
            logger.exception("model registry refresh failed: still serving the current models")
            healthy = False
        finally:
            self._lock.release()
        if not healthy:
            self._paused_until = self.clock() + self.refresh_seconds

    def _follow(self, store: ModelStore, name: str, budget: TimeBudget | None) -> bool:
        wanted: str | None = None
        served = store.version_of(name)
        if budget is not None and not budget.allows_a_call():
            return True   # too little time to even ask: a later request checks, nothing failed
        try:
            wanted = self._wanted_version(name)
            if (wanted or self._baked[name]) == served:
                return True
            predictor = self._load(name, wanted, budget)
            store.replace(predictor)
        except Exception as error:  # a release must never break serving: keep the current model
            self._report_failure(name, wanted, served, error)
            return False
        logger.info("model swapped", extra={"model_name": name, "from_version": served,
                                            "to_version": predictor.version})
        _count("ModelSwapped", name)
        return True

    def _wanted_version(self, name: str) -> str | None:
        parameter = self.location.pointer_name(name)
        if self.clock() < self._absent_until.get(parameter, float("-inf")):
            return None
        try:
            raw = self.pointers.get(parameter, max_age=self.refresh_seconds)
        except Exception as error:  # Powertools' GetParameterError carries the SDK's message
            if is_parameter_not_found(error):  # nothing promoted yet: the image's model
                self._absent_until[parameter] = self.clock() + self.refresh_seconds
                return None
            raise RegistryError(f"could not read pointer {parameter}: {error}") from error
        self._absent_until.pop(parameter, None)
        return Pointer.parse(raw, source=parameter).version

    def _load(self, name: str, version: str | None, budget: TimeBudget | None) -> Predictor:
        if version is None or version == self._baked[name]:
            return local_version(self._model_dir, name).load()   # the image's own: trusted as the image is
        if self.signing_key is None:
            raise RegistryError("MODEL_SIGNING_KEY_ARN is not set: no registry version can be verified, "
                                "so none is served")
        return fetch_predictor(self.s3, self.location, name, version, self._download_dir,
                               signing_key=self.signing_key, budget=budget)

    def _report_failure(self, name: str, wanted: str | None, served: str, error: Exception) -> None:
        logger.error("model swap failed: still serving the current model",
                     extra={"model_name": name, "wanted_version": describe_version(wanted),
                            "served_version": served, "reason": f"{type(error).__name__}: {error}",
                            "retry_in_seconds": self.refresh_seconds},
                     exc_info=not isinstance(error, EXPECTED_FAILURES))
        _count("ModelSwapFailed", name)


def _count(metric: str, model_name: str) -> None:
    # Emitted at once with its own dimensions, apart from the request's metrics (which carry the
    # serving model_version): an alarm on ModelSwapFailed needs only the model name.
    with single_metric(name=metric, unit=MetricUnit.Count, value=1, namespace=metrics.namespace,
                       default_dimensions={"service": metrics.service, "model_name": model_name}):
        pass  # printed as EMF when the block closes


def follow_registry(store: ModelStore, settings: Settings) -> None:
    """Attach the registry to a freshly loaded store and swap in the promoted versions before the
    first request; if the registry cannot even be set up, the image's models keep serving."""
    try:
        sync = RegistrySync.from_settings(settings, {name: store.version_of(name) for name in store.names()})
    except Exception as error:
        logger.exception("model registry unusable: serving the image's models",
                         extra={"bucket": settings.registry_bucket, "reason": str(error)})
        for name in store.names():
            _count("ModelSwapFailed", name)
        return
    store.updates = sync
    store.refresh(force=True)
