"""Which models this process serves, loaded once per process (the cold start), never per request.

``get_model_store()`` loads the latest local version of every model under ``MODEL_DIR`` the
first time it is called. Requests take a ``Predictor`` from the store and keep that reference
until they answer, so replacing a model (``ModelStore.replace``) never changes the model under
a request in flight: the swap is one reference assignment, atomic in CPython.

With ``MODEL_REGISTRY_BUCKET`` set, the store also follows the S3 model registry
(``lambda_fn.registry_sync``): at cold start it swaps in the promoted versions before the first
request, and ``ModelStore.refresh()`` (called at the start of each request) swaps in later
promotions. The image's models are what it serves until then, and whenever the registry fails.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Protocol

from lambda_fn.artifacts import LATEST_FILE, ArtifactError, latest_version_folder, load_artifact
from lambda_fn.errors import UnknownModelError
from lambda_fn.observability import logger
from lambda_fn.predictor import Predictor
from lambda_fn.settings import get_settings


class ModelUpdates(Protocol):
    """A source of newer model versions (the registry); it swaps them in with ``store.replace``."""

    def refresh(self, store: ModelStore, *, force: bool = False) -> None: ...


class ModelStore:
    def __init__(self, predictors: dict[str, Predictor], default: str, *,
                 updates: ModelUpdates | None = None) -> None:
        if default not in predictors:
            raise ArtifactError(f"default model '{default}' is not among the loaded models {sorted(predictors)}")
        self._predictors = dict(predictors)
        self.default = default
        self.updates = updates

    def names(self) -> list[str]:
        return sorted(self._predictors)

    def predictors(self) -> list[Predictor]:
        return [self._predictors[name] for name in self.names()]

    def get(self, name: str | None = None) -> Predictor:
        """The predictor serving ``name`` (a model name or one of its exact versions)."""
        predictors = self._predictors  # one read: a concurrent replace() cannot mix two dicts
        wanted = self.default if name is None else name  # `?model=` (empty) names no model: refused
        if wanted in predictors:
            return predictors[wanted]
        for predictor in predictors.values():
            if predictor.version == wanted:
                return predictor
        raise UnknownModelError(wanted, sorted(predictors))

    def replace(self, predictor: Predictor) -> None:
        self._predictors = {**self._predictors, predictor.name: predictor}

    def refresh(self, *, force: bool = False) -> None:
        """Swap in newly promoted versions, if this process follows a model registry; never raises."""
        if self.updates is not None:
            self.updates.refresh(self, force=force)


def load_local_predictor(model_dir: Path, name: str) -> Predictor:
    """The latest local version of ``name`` (baked into the image), verified and smoke-tested."""
    predictor = Predictor(load_artifact(latest_version_folder(model_dir, name)))
    predictor.smoke_test()
    return predictor


def load_local_store(model_dir: Path, default: str) -> ModelStore:
    names = sorted(p.parent.name for p in Path(model_dir).glob(f"*/{LATEST_FILE}"))
    if not names:
        raise ArtifactError(f"no trained models under {model_dir}: run `make train`")
    predictors = {name: load_local_predictor(model_dir, name) for name in names}
    logger.info("models loaded", extra={"models": {p.name: p.version for p in predictors.values()}})
    return ModelStore(predictors, default)


@cache
def get_model_store() -> ModelStore:
    settings = get_settings()
    store = load_local_store(settings.model_dir, settings.default_model)
    if settings.registry_enabled:
        from lambda_fn.registry_sync import follow_registry  # boto3 is imported only when used

        follow_registry(store, settings)
    return store
