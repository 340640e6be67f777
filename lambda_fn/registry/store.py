"""Which model versions this process serves: the default model loads at the cold start, any other
when a request first names it, and none again per request.

Requests take a ``Predictor`` from the store and keep that reference until they answer, so
replacing a version (``ModelStore.replace``, the registry's hot swap) never changes the model
under a request in flight: the swap is one reference assignment, atomic in CPython.

A store may follow the S3 model registry (``updates``: ``lambda_fn.registry.sync``): the promoted
versions are swapped in before the first request, and later promotions by ``ModelStore.refresh()``.
The image's models serve until then, and whenever the registry fails.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol

from lambda_fn.core.predictor import Predictor
from lambda_fn.observability import logger
from lambda_fn.registry.artifacts import (
    LATEST_FILE,
    ArtifactError,
    latest_version_folder,
    load_predictor,
    read_metadata,
)


class UnknownModelError(LookupError):
    """A request named a model that is not served."""

    def __init__(self, requested: str, available: list[str]) -> None:
        super().__init__(f"no model named '{requested}'; available: {', '.join(available)}")
        self.requested = requested
        self.available = available


class ModelUpdates(Protocol):
    """A source of newer model versions (the registry); it swaps them in with ``store.replace``."""

    def refresh(self, store: ModelStore, *, force: bool = False, seconds_left: float | None = None) -> None: ...


class LocalVersion:
    """A version baked into the image: its metadata read at start, its model loaded on first use.
    Trusted as the image is (built by ``make train``, shipped by the image's deploy): its checksums
    are verified, and no signature is asked for; registry versions need one (``signing``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.metadata: dict[str, Any] = read_metadata(self.folder)
        self.name: str = self.metadata["name"]
        self.version: str = self.metadata["version"]
        self._predictor: Predictor | None = None
        self._failure: ArtifactError | None = None
        self._lock = threading.Lock()

    def load(self) -> Predictor:
        """Verified and smoke-tested once; concurrent first requests wait for the one load. A version
        that fails its checks fails the same way for every later request, without another attempt:
        its files are immutable, so another attempt could only fail again."""
        if self._predictor is None:
            with self._lock:
                if self._failure is not None:
                    raise self._failure
                if self._predictor is None:
                    try:
                        self._predictor = load_predictor(self.folder)
                    except ArtifactError as error:
                        self._failure = error
                        raise
                    logger.info("model loaded", extra={"model_name": self.name, "model_version": self.version})
        return self._predictor


Served = Predictor | LocalVersion


class ModelStore:
    def __init__(self, served: dict[str, Served], default: str, *, updates: ModelUpdates | None = None) -> None:
        if default not in served:
            raise ArtifactError(f"default model '{default}' is not among the models {sorted(served)}")
        self._served = dict(served)
        self.default = default
        self.updates = updates
        self._background: threading.Event | None = None  # set: the background thread must stop

    def names(self) -> list[str]:
        return sorted(self._served)

    def version_of(self, name: str) -> str:
        """The version serving ``name``, without loading it."""
        return self._served[name].version

    def metadata(self) -> list[dict[str, Any]]:
        """Every served version's metadata, by name, without loading any model."""
        served = self._served
        return [served[name].metadata for name in sorted(served)]

    def get(self, name: str | None = None) -> Predictor:
        """The predictor serving ``name`` (a model name or one of its exact versions), loaded if needed."""
        served = self._served  # one read: a concurrent replace() cannot mix two dicts
        wanted = self.default if name is None else name  # `?model=` (empty) names no model: refused
        entry = served.get(wanted) or next((e for e in served.values() if e.version == wanted), None)
        if entry is None:
            raise UnknownModelError(wanted, sorted(served))
        return entry.load() if isinstance(entry, LocalVersion) else entry

    def replace(self, predictor: Served) -> None:
        self._served = {**self._served, predictor.name: predictor}

    def refresh(self, *, force: bool = False, seconds_left: float | None = None) -> None:
        """Swap in newly promoted versions, if this process follows a model registry, spending at
        most about ``seconds_left``; never raises. A no-op once a background thread refreshes
        (unless forced): then requests never wait for a swap."""
        if self.updates is not None and (force or self._background is None):
            self.updates.refresh(self, force=force, seconds_left=seconds_left)

    def refresh_in_background(self, every_seconds: float | None = None) -> None:
        """Follow the registry from a daemon thread, every ``every_seconds`` (the updates' own
        interval by default, at least 1 s); request-path ``refresh()`` calls stop checking.
        For long-running servers; Lambda runs no code between invocations, so it never calls this."""
        if self.updates is None or self._background is not None:
            return
        interval = max(1.0, every_seconds or getattr(self.updates, "refresh_seconds", 30))
        stop = self._background = threading.Event()

        def follow() -> None:
            while not stop.wait(interval):
                self.updates.refresh(self)

        threading.Thread(target=follow, name="model-registry-refresh", daemon=True).start()

    def stop_background_refresh(self) -> None:
        if self._background is not None:
            self._background.set()


def local_version(model_dir: Path, name: str) -> LocalVersion:
    """The latest local version of ``name`` (baked into the image), not loaded yet."""
    return LocalVersion(latest_version_folder(model_dir, name))


def load_local_store(model_dir: Path, default: str) -> ModelStore:
    """Every model under ``model_dir``; the default one loaded, verified and smoke-tested."""
    names = sorted(p.parent.name for p in Path(model_dir).glob(f"*/{LATEST_FILE}"))
    if not names:
        raise ArtifactError(f"no trained models under {model_dir}: run `make train`")
    store = ModelStore({name: local_version(model_dir, name) for name in names}, default)
    store.get()
    logger.info("models found", extra={"models": {name: store.version_of(name) for name in names},
                                       "loaded": default})
    return store
