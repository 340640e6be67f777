"""Shared fixtures: the trained artifacts the service serves, and a clean model store per test
(settings and models are cached per process, as in Lambda, so each test starts cold)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambda_fn import model_store, settings


@pytest.fixture(scope="session", autouse=True)
def trained_artifacts() -> Path:
    """`make test` trains missing models first; running pytest directly does the same here."""
    from model import train

    root = settings.DEFAULT_MODEL_DIR
    train.main(["--out", str(root), "--if-missing"])
    return root


@pytest.fixture(autouse=True)
def fresh_store():
    settings.get_settings.cache_clear()
    model_store.get_model_store.cache_clear()
    yield
    settings.get_settings.cache_clear()
    model_store.get_model_store.cache_clear()
