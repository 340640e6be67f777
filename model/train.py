"""Train model versions and write them as immutable, verified version folders.

    python -m model.train                 # every model, a new version each
    python -m model.train --model gbm     # only the improved model
    python -m model.train --if-missing    # only models without a loadable latest version

Models: ``basic`` (the client's recipe, ``model/recipe.py``) and ``gbm`` (LightGBM members with
an 80% interval, ``model/gbm.py``). Both record held-out, training-part and 5-fold CV metrics.

Each version is reloaded from disk through the serving code (``lambda_fn.registry``) and must
price the held-out houses exactly as the in-memory model did, or the version is deleted and
training fails.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lambda_fn.core.comparables import COLUMNS as COMPARABLE_COLUMNS
from lambda_fn.core.comparables import SaleRecords
from lambda_fn.core.features import HOUSE_COLUMNS, FeatureBuilder
from lambda_fn.core.intervals import PriceIntervals
from lambda_fn.core.market import month_label, month_number
from lambda_fn.core.pickled import PickledEstimator
from lambda_fn.core.predictor import DEMOGRAPHICS_FILE, FEATURES_FILE, SALES_FILE, PriceModel, parse_demographics
from lambda_fn.registry.artifacts import (
    LATEST_FILE,
    ArtifactError,
    latest_version_folder,
    load_predictor,
    read_metadata,
    write_version,
)
from model import cv, data, gbm, interval, recipe
from model.metrics import price_metrics

DEFAULT_ARTIFACT_ROOT = data.PROJECT_ROOT / "model" / "artifacts"
DATA_PERIOD = "King County sales, May 2014 to May 2015"
SPLIT = "train_test_split(random_state=42, test_size=0.25)"
SMOKE_TEST_HOUSES = 5


@dataclass
class TrainedModel:
    name: str
    description: str
    model_format: str
    model: PriceModel                # what is served: its files() are written
    features: list[str]
    test_houses: pd.DataFrame        # held-out houses as clients send them
    test_prices: pd.Series
    test_predictions: np.ndarray     # the in-memory model's prices for test_houses
    test_asked_on: list[datetime.date]   # the day each held-out house sold
    extra_metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # "train", "cv"
    interval: dict[str, Any] | None = None   # model/interval.py's calibrate(), plus held-out checks
    extra_metadata: dict[str, Any] = field(default_factory=dict)
    extra_files: dict[str, bytes] = field(default_factory=dict)   # beside the model's own, e.g. SALES_FILE


def train_basic(sales: pd.DataFrame, demographics: pd.DataFrame) -> TrainedModel:
    result = recipe.train_basic_model(sales, demographics)
    served = PickledEstimator(result.model)   # the serving thread policy: one native thread per call
    predictions = served.predict(result.x_test)
    train_predictions = served.predict(result.x_train)
    cv_prices = cv.cv_predictions(result.model, result.x_train.to_numpy(), result.y_train.to_numpy())
    return TrainedModel(
        name="basic",
        description="The client's model: RobustScaler + KNeighborsRegressor(k=5) on 7 house features "
                    "and 26 zipcode demographics",
        model_format="sklearn-pickle",
        model=served,
        features=result.features,
        test_houses=sales.loc[result.x_test.index, list(HOUSE_COLUMNS)],
        test_prices=result.y_test,
        test_predictions=predictions,
        test_asked_on=data.sale_days(sales.loc[result.x_test.index]),
        extra_metrics={"train": price_metrics(result.y_train, train_predictions),
                       "cv": price_metrics(result.y_train, cv_prices)},
        extra_metadata={"split": SPLIT},
    )


def train_gbm(sales: pd.DataFrame, demographics: pd.DataFrame) -> TrainedModel:
    features = gbm.feature_names(demographics)
    x = gbm.feature_matrix(sales, features, gbm.demographics_table(demographics))
    y = sales["price"].to_numpy(dtype=float)
    train_rows, test_rows = gbm.split(sales)
    train_at, test_at = sales.index.get_indexer(train_rows), sales.index.get_indexer(test_rows)
    estimator = gbm.make_estimator(features)
    fitted, cv_prices = cv.fit_with_cv_predictions(estimator, x[train_at], y[train_at])
    predictions = cv.predict(fitted, x[test_at])
    calibrated = interval.calibrate(y[train_at], cv_prices)
    served = [round(float(p), 2) for p in predictions]
    low, high = np.array(PriceIntervals(calibrated)(served)).T
    calibrated |= {"held_out_coverage": interval.coverage(y[test_at], low, high),
                   "held_out_median_width_usd": float(np.median(high - low))}
    members = ", ".join(f"{m.target} ({view})" for m, view in zip(fitted.model_.members, fitted.members, strict=True))
    return TrainedModel(
        name="gbm",
        description=f"A blend of {len(fitted.members)} LightGBM models ({members}; {fitted.rounds} trees each) on "
                    "market-adjusted prices, from every house column, the zipcode demographics, turned coordinates "
                    "and what the nearest training homes sold for and how this one differs from them, priced at "
                    "the market month asked for; 80% split-conformal interval",
        model_format="lightgbm-blend",
        model=fitted.model_,
        features=features,
        test_houses=sales.loc[test_rows, list(HOUSE_COLUMNS)],
        test_prices=sales.loc[test_rows, "price"],
        test_predictions=predictions,
        test_asked_on=data.sale_days(sales.loc[test_rows]),
        extra_metrics={"train": price_metrics(y[train_at], cv.predict(fitted, x[train_at])),
                       "cv": price_metrics(y[train_at], cv_prices)},
        interval=calibrated,
        extra_metadata={"split": SPLIT, "hyperparameters": fitted.hyperparameters(),
                        "market": market_metadata(fitted.model_), "explains": True},
        extra_files={SALES_FILE: sale_records(sales.loc[train_rows]).to_csv()},
    )


def sale_records(sales: pd.DataFrame) -> SaleRecords:
    """The training sales an explanation draws its comparables from: the rows the model learnt."""
    return SaleRecords({**{name: sales[name].to_numpy() for name in COMPARABLE_COLUMNS
                           if name not in ("sale_date", "sale_price")},
                        "sale_date": [day.isoformat() for day in data.sale_days(sales)],
                        "sale_price": sales["price"].to_numpy(dtype=float)})


def market_metadata(model: Any) -> dict[str, Any]:
    """The months a model learnt and its market index (how each month's prices sat against the
    average month, in percent), for ``lambda_fn.core.market.MarketMonths`` and the reports."""
    first = month_number(model.first_month)
    labels = [month_label(first + i) for i in range(len(model.month_offsets))]
    return {"first_month": labels[0], "last_month": labels[-1],
            "index_pct": {label: round(float(np.expm1(v)) * 100, 3)
                          for label, v in zip(labels, model.month_offsets, strict=True)},
            "asked_after_last_month": "priced at the last month"}


TRAINERS: dict[str, Callable[[pd.DataFrame, pd.DataFrame], TrainedModel]] = {"basic": train_basic,
                                                                              "gbm": train_gbm}


def _smoke_test(trained: TrainedModel) -> dict[str, Any]:
    prices = [round(float(p), 2) for p in trained.test_predictions[:SMOKE_TEST_HOUSES]]
    recorded: dict[str, Any] = {
        "houses": json.loads(trained.test_houses.head(SMOKE_TEST_HOUSES).to_json(orient="records")),
        "asked_on": [day.isoformat() for day in trained.test_asked_on[:SMOKE_TEST_HOUSES]],
        "prices": prices,
    }
    if trained.interval:
        recorded["intervals"] = [list(bounds) for bounds in PriceIntervals(trained.interval)(prices)]
    return recorded


def zipcode_areas(sales: pd.DataFrame) -> dict[str, list[float]]:
    """The box around every sold home of each zipcode (see lambda_fn/core/locations.py)."""
    boxes = sales.groupby("zipcode").agg(lat_min=("lat", "min"), lat_max=("lat", "max"),
                                         long_min=("long", "min"), long_max=("long", "max"))
    return {str(zipcode): [float(v) for v in row] for zipcode, row in boxes.iterrows()}


def version_files(trained: TrainedModel, demographics_csv: bytes) -> dict[str, bytes]:
    return {FEATURES_FILE: json.dumps(trained.features).encode(), DEMOGRAPHICS_FILE: demographics_csv,
            **trained.model.files(), **trained.extra_files}


def new_version_id(now: datetime.datetime, files: dict[str, bytes]) -> str:
    """UTC time plus the first 8 hex digits of a digest over every file: names say when and what."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return f"{now:%Y%m%dT%H%M%SZ}-{digest.hexdigest()[:8]}"


def save(trained: TrainedModel, root: Path, demographics_csv: bytes, *,
         zipcode_areas: dict[str, list[float]]) -> Path:
    now = datetime.datetime.now(datetime.UTC)
    files = version_files(trained, demographics_csv)
    version = new_version_id(now, files)
    metadata = {
        "name": trained.name,
        "version": version,
        "format": trained.model_format,
        "description": trained.description,
        "created_at": now.isoformat(timespec="seconds"),
        "data_period": DATA_PERIOD,
        "training_data": data.fingerprint(data.SALES_FILE, data.DEMOGRAPHICS_FILE),
        "required_fields": FeatureBuilder(trained.features,
                                          parse_demographics(demographics_csv.decode())).required_fields,
        "metrics": {"held_out": price_metrics(trained.test_prices, trained.test_predictions),
                    **trained.extra_metrics},
        # Loaders re-price these held-out houses and refuse the model unless every price matches.
        "smoke_test": _smoke_test(trained),
        **({"interval": trained.interval} if trained.interval else {}),
        "zipcode_areas": zipcode_areas,
        **trained.extra_metadata,
    }
    folder = root / trained.name / version
    write_version(folder, files=files, metadata=metadata)
    try:
        check_reload(folder, trained)
    except Exception:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    (root / trained.name / LATEST_FILE).write_text(version + "\n")
    return folder


def check_reload(folder: Path, trained: TrainedModel) -> None:
    """The version, loaded as the service loads it, must price the held-out houses identically."""
    predictor = load_predictor(folder)   # also runs the smoke test, as a cold start does
    served = np.array(predictor.predict(trained.test_houses.to_dict(orient="records"), trained.test_asked_on))
    expected = np.round(trained.test_predictions.astype(float), 2)
    mismatches = int((served != expected).sum())
    if mismatches:
        raise ArtifactError(f"{trained.name}: reloaded version disagrees with the trained model on "
                            f"{mismatches} of {len(expected)} held-out houses; version discarded")


def has_usable_latest(root: Path, name: str) -> bool:
    try:  # usable = what a cold start accepts: checksums, libraries, loading, smoke test
        load_predictor(latest_version_folder(root, name))
    except ArtifactError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_ARTIFACT_ROOT, help="artifact root folder")
    parser.add_argument("--model", choices=sorted(TRAINERS), action="append", help="train only these")
    parser.add_argument("--if-missing", action="store_true", help="skip models with a usable latest version")
    args = parser.parse_args(argv)

    names = args.model or list(TRAINERS)
    if args.if_missing:
        names = [n for n in names if not has_usable_latest(args.out, n)]
    if not names:
        print(f"all models present under {args.out}")
        return 0
    sales, demographics = data.load_sales(), data.load_demographics()
    demographics_csv = (data.data_dir() / data.DEMOGRAPHICS_FILE).read_bytes()
    areas = zipcode_areas(sales)
    for name in names:
        trained = TRAINERS[name](sales, demographics)
        folder = save(trained, args.out, demographics_csv, zipcode_areas=areas)
        metadata = read_metadata(folder)
        print(f"{name}: {folder}")
        for part in ("cv", "held_out"):
            m = metadata["metrics"][part]
            print(f"  {part:8s} MAE ${m['mae']:,.0f}  RMSE ${m['rmse']:,.0f}  R2 {m['r2']:.3f}  MAPE {m['mape']:.2%}  "
                  f"median APE {m['median_ape']:.2%}  within 10% {m['within_10pct']:.1%}  "
                  f"within 20% {m['within_20pct']:.1%}")
        if "interval" in metadata:
            i = metadata["interval"]
            print(f"  80% interval: CV coverage {i['cv_coverage']:.1%}, held-out coverage "
                  f"{i['held_out_coverage']:.1%}, held-out median width ${i['held_out_median_width_usd']:,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
