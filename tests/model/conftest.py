"""Every model trained once per test session into a temporary artifact root, kept in memory too,
so tests can compare what training produced with what the service loads back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from model import data, train


@dataclass(frozen=True)
class Trained:
    model: train.TrainedModel
    folder: Path


@pytest.fixture(scope="session")
def sales() -> pd.DataFrame:
    return data.load_sales()


@pytest.fixture(scope="session")
def demographics() -> pd.DataFrame:
    return data.load_demographics()


@pytest.fixture(scope="session")
def trained_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="session")
def trained(sales, demographics, trained_root) -> dict[str, Trained]:
    """name -> the in-memory trained model and its saved (already reload-checked) version folder."""
    demographics_csv = (data.data_dir() / data.DEMOGRAPHICS_FILE).read_bytes()
    models = {}
    for name, trainer in train.TRAINERS.items():
        model = trainer(sales, demographics)
        folder = train.save(model, trained_root, demographics_csv, zipcode_areas=train.zipcode_areas(sales))
        models[name] = Trained(model, folder)
    return models
