"""The one model store a process serves from, built on first use from the settings.

The image's models under ``MODEL_DIR`` (the default one loaded at once); with
``MODEL_REGISTRY_BUCKET`` set, the store also follows the S3 model registry, and the promoted
versions are swapped in before the first request.
"""

from __future__ import annotations

import gc
from functools import cache

from lambda_fn.registry.store import ModelStore, load_local_store
from lambda_fn.settings import get_settings


@cache
def get_model_store() -> ModelStore:
    settings = get_settings()
    store = load_local_store(settings.model_dir, settings.default_model)
    if settings.registry_enabled:
        from lambda_fn.registry.sync import follow_registry  # boto3 is imported only when used

        follow_registry(store, settings)
    # What the process imported and loaded so far lives as long as it does: out of every later
    # collection, a full one walks only what requests made, not some 100,000 objects of modules and
    # models each time (docs/serving.md). Versions swapped in later are collected as usual.
    gc.freeze()
    return store
