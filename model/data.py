"""Reading the client's data.

The CSVs live outside the repository (``../shared/data`` beside the project root) and are never
committed; ``DATA_DIR`` points elsewhere. Zipcodes are read as strings, as the client's data
README asks, so ``"98001"`` never becomes a float.
"""

from __future__ import annotations

import datetime
import hashlib
import os
from pathlib import Path

import pandas as pd

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT.parent / "shared" / "data"

SALES_FILE = "kc_house_data.csv"
DEMOGRAPHICS_FILE = "zipcode_demographics.csv"
FUTURE_FILE = "future_unseen_examples.csv"


def data_dir() -> Path:
    """The folder holding the client's CSVs: ``$DATA_DIR`` or ``../shared/data``."""
    return Path(os.environ.get("DATA_DIR", DEFAULT_DATA_DIR)).resolve()


def _read(name: str) -> pd.DataFrame:
    path = data_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: set DATA_DIR to the folder with the client's CSVs")
    return pd.read_csv(path, dtype={"zipcode": str})


def load_sales() -> pd.DataFrame:
    return _read(SALES_FILE)


def load_demographics() -> pd.DataFrame:
    return _read(DEMOGRAPHICS_FILE)


def load_future_examples() -> pd.DataFrame:
    return _read(FUTURE_FILE)


def fingerprint(*names: str) -> dict[str, str]:
    """sha256 of each named data file, recorded in model metadata to tie a model to its data."""
    return {name: hashlib.sha256((data_dir() / name).read_bytes()).hexdigest() for name in names}


def sale_days(sales: pd.DataFrame) -> list[datetime.date]:
    """The day each sale closed (the data's ``date`` column, e.g. ``20141013T000000``)."""
    return [datetime.date(int(d[:4]), int(d[4:6]), int(d[6:8])) for d in sales["date"].astype(str)]
