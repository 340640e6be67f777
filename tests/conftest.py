"""Shared fixtures: the trained artifacts the service serves, and a clean model store per test
(settings and models are cached per process, as in Lambda, so each test starts cold)."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lambda_fn import settings
from lambda_fn.observability import logger
from lambda_fn.registry import serving as model_store
from tests.helpers import json_lines


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


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict]]]:
    """What the service's JSON logger writes (its own handler holds the real stdout, not capsys)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    yield lambda: json_lines(stream.getvalue())
    logging.getLogger(logger.name).removeHandler(handler)
