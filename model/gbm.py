"""The gbm recipe: features, the market index, neighbourhood prices and LightGBM members, fitted.

Same data and held-out quarter as the client's recipe (``train_test_split(random_state=42)``);
every choice was tuned by 5-fold cross-validation on the training three quarters only
(``docs/model.md`` keeps the record, each row with the command that reruns it).

``fit_boosted`` returns the serving model itself (``lambda_fn.core.boosted.BoostedPrices``), so
what cross-validation scores is what is saved and served. ``GbmRecipe`` wraps it as a
scikit-learn estimator so that the shared CV code can clone and refit it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import lightgbm
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import KFold, train_test_split

from lambda_fn.core.boosted import BoostedPrices, Member
from lambda_fn.core.features import DERIVED_FEATURES, HOUSE_COLUMNS, MARKET_MONTH, FeatureBuilder
from lambda_fn.core.market import month_label
from lambda_fn.core.neighbourhood import NeighbourPrices, nearest_means, to_km
from model.data import sale_days

SPLIT_RANDOM_STATE = 42          # the client's split: train_test_split(random_state=42), 25% held out
ENCODER_FOLDS, ENCODER_SEED = 5, 0   # out-of-fold neighbour prices of the training houses
INDEX_NEIGHBOURS = 20   # a sale's month effect: how it compares with the 20 nearest other sales

# LightGBM settings shared by every member; one thread and deterministic, so a fit is reproducible.
TREE_PARAMS: dict[str, Any] = {
    "learning_rate": 0.1,
    "num_leaves": 31,
    "min_data_in_leaf": 20,
    "feature_fraction_bynode": 0.5,
    "lambda_l2": 1.0,
    "max_bin": 255,
}
ROUNDS = 400
FIXED_PARAMS: dict[str, Any] = {"num_threads": 1, "deterministic": True, "force_row_wise": True, "seed": 0,
                                "verbose": -1}
# (target, LightGBM objective): see lambda_fn/core/boosted.py for the targets.
MEMBERS: tuple[tuple[str, str], ...] = (("log_price_per_sqft", "l2"), ("log_price", "l2"),
                                        ("price_per_sqft", "l1"), ("log_price", "l1"))
NEIGHBOURS = (5, 20)


def feature_names(demographics: pd.DataFrame) -> list[str]:
    return [*HOUSE_COLUMNS, *(c for c in demographics.columns if c != "zipcode"), *DERIVED_FEATURES, MARKET_MONTH]


def demographics_table(demographics: pd.DataFrame) -> dict[str, dict[str, float]]:
    """zipcode -> demographic values, the mapping ``FeatureBuilder`` joins from."""
    values = demographics.set_index("zipcode").astype(float)
    return {str(zipcode): row for zipcode, row in values.to_dict(orient="index").items()}


def feature_matrix(sales: pd.DataFrame, features: Sequence[str],
                   demographics: dict[str, dict[str, float]]) -> np.ndarray:
    """Training matrices go through the serving code's FeatureBuilder: what is trained is what is served.
    Each sale is priced as asked for on the day it sold."""
    houses = sales[list(HOUSE_COLUMNS)].to_dict(orient="records")
    return FeatureBuilder(features, demographics).matrix(houses, asked_on=sale_days(sales))


def split(sales: pd.DataFrame) -> tuple[pd.Index, pd.Index]:
    """The client's split of the sales rows (the same rows as ``model.recipe``'s x_train / x_test)."""
    train, test = train_test_split(sales.index, random_state=SPLIT_RANDOM_STATE)
    return pd.Index(train), pd.Index(test)


def out_of_fold_neighbours(lat: np.ndarray, long: np.ndarray, targets: np.ndarray,
                           neighbours: Sequence[int]) -> np.ndarray:
    """``nearest_means`` for every training house from the other folds only: no house sees its own price."""
    points = to_km(lat, long)
    encoded = np.empty((len(points), len(neighbours) * targets.shape[1]))
    for fit_rows, encode_rows in KFold(ENCODER_FOLDS, shuffle=True, random_state=ENCODER_SEED).split(points):
        encoded[encode_rows] = nearest_means(cKDTree(points[fit_rows]), targets[fit_rows], points[encode_rows],
                                             neighbours)
    return encoded


def market_index(months: np.ndarray, lat: np.ndarray, long: np.ndarray, log_ppsf: np.ndarray) -> np.ndarray:
    """One log offset per month from the first to the last: each sale against its 20 nearest other
    sales (out of fold) leaves mostly the house and the month; averaged per month, the month."""
    rows = (months - months.min()).astype(np.intp)
    neighbours = out_of_fold_neighbours(lat, long, log_ppsf[:, None], (INDEX_NEIGHBOURS,))[:, 0]
    count = np.bincount(rows)
    if (count == 0).any():
        raise ValueError("every month between the first and the last sale needs sales")
    index = np.bincount(rows, weights=log_ppsf - neighbours) / count
    return index - np.average(index, weights=count)


def member_target(target: str, adjusted: np.ndarray, log_area: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(training target, sample weights) for a member, from the market-adjusted log price per sqft."""
    if target == "log_price_per_sqft":
        return adjusted, None
    if target == "log_price":
        return adjusted + log_area, None
    if target == "price_per_sqft":   # |y - p| / y == |ppsf - q| / ppsf: absolute error weighted 1/ppsf
        per_sqft = np.exp(adjusted)
        weights = 1.0 / per_sqft
        return per_sqft, weights / weights.mean()
    raise ValueError(f"unknown target {target!r}")


def neighbour_scale(target: str) -> str:
    """The neighbourhood prices a member sees: whole prices for log-price members, per sqft otherwise."""
    return "log_price" if target == "log_price" else "log_price_per_sqft"


def fit_boosted(x: np.ndarray, y: np.ndarray, features: Sequence[str], *, params: Mapping[str, Any] | None = None,
                rounds: int = ROUNDS, members: Sequence[tuple[str, str]] = MEMBERS,
                neighbours: Sequence[int] = NEIGHBOURS) -> BoostedPrices:
    features = list(features)
    x = np.asarray(x, dtype=np.float64)
    lat, long = x[:, features.index("lat")], x[:, features.index("long")]
    log_area = np.log(x[:, features.index("sqft_living")])
    log_ppsf = np.log(np.asarray(y, dtype=np.float64)) - log_area
    months = x[:, features.index(MARKET_MONTH)]
    offsets = market_index(months, lat, long, log_ppsf)
    adjusted = log_ppsf - offsets[(months - months.min()).astype(np.intp)]
    scales = {"log_price_per_sqft": adjusted, "log_price": adjusted + log_area}
    encoded = out_of_fold_neighbours(lat, long, np.column_stack(list(scales.values())), neighbours)
    per_scale = len(neighbours)
    oof = {name: encoded[:, i * per_scale:(i + 1) * per_scale] for i, name in enumerate(scales)}
    tree_x = x[:, [i for i, name in enumerate(features) if name != MARKET_MONTH]]
    fitted = []
    for target, objective in members:
        values, weights = member_target(target, adjusted, log_area)
        scale = neighbour_scale(target)
        data = lightgbm.Dataset(np.hstack([tree_x, oof[scale]]), values, weight=weights, params={"verbose": -1})
        booster = lightgbm.train({**TREE_PARAMS, **(params or {}), **FIXED_PARAMS, "objective": objective}, data,
                                 num_boost_round=rounds)
        fitted.append(Member(target=target, neighbour_target=scale, booster=booster))
    return BoostedPrices(features=features, members=fitted,
                         neighbours=NeighbourPrices(lat=lat, long=long, targets=scales, neighbours=neighbours),
                         first_month=month_label(int(months.min())), month_offsets=offsets)


class GbmRecipe(RegressorMixin, BaseEstimator):
    """``fit_boosted`` as a scikit-learn estimator (clonable for cross-validation); ``model_`` is served."""

    def __init__(self, *, features: Sequence[str] = (), params: Mapping[str, Any] | None = None,
                 rounds: int = ROUNDS, members: Sequence[tuple[str, str]] = MEMBERS,
                 neighbours: Sequence[int] = NEIGHBOURS) -> None:
        self.features = features
        self.params = params
        self.rounds = rounds
        self.members = members
        self.neighbours = neighbours

    def fit(self, x: np.ndarray, y: np.ndarray) -> GbmRecipe:
        self.model_ = fit_boosted(x, y, self.features, params=self.params, rounds=self.rounds, members=self.members,
                                  neighbours=self.neighbours)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.model_.predict(x)

    def hyperparameters(self) -> dict[str, Any]:
        """What metadata records, enough to rebuild this recipe (``make_estimator(**...)``)."""
        return {"params": {**TREE_PARAMS, **(self.params or {})}, "rounds": self.rounds,
                "members": [list(m) for m in self.members], "neighbours": list(self.neighbours)}


def make_estimator(features: Sequence[str], *, params: Mapping[str, Any] | None = None, rounds: int = ROUNDS,
                   members: Sequence[Sequence[str]] = MEMBERS, neighbours: Sequence[int] = NEIGHBOURS) -> GbmRecipe:
    return GbmRecipe(features=list(features), params=dict(params or {}), rounds=rounds,
                     members=tuple(tuple(m) for m in members), neighbours=tuple(neighbours))
