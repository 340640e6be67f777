"""The gbm recipe: features, the market index, neighbourhood columns and LightGBM members, fitted.

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

from lambda_fn.core.boosted import BoostedPrices, Member, house_attributes
from lambda_fn.core.features import DERIVED_FEATURES, HOUSE_COLUMNS, HOUSE_RATIOS, MARKET_MONTH, FeatureBuilder
from lambda_fn.core.market import month_label
from lambda_fn.core.neighbourhood import Neighbourhood, to_km
from model.data import sale_days

SPLIT_RANDOM_STATE = 42          # the client's split: train_test_split(random_state=42), 25% held out
ENCODER_FOLDS, ENCODER_SEED = 5, 0   # out-of-fold neighbourhood columns of the training houses
INDEX_NEIGHBOURS = 20   # a sale's month effect: how it compares with the 20 nearest other sales

# LightGBM settings shared by every member: Huber loss on log prices (alpha in log units: errors
# beyond about 30% count linearly, so a few odd sales do not pull the trees), 8 in 10 houses per
# tree. FIXED_PARAMS make a fit reproducible: one thread, deterministic, fixed seeds.
TREE_PARAMS: dict[str, Any] = {
    "objective": "huber",
    "alpha": 0.3,
    "learning_rate": 0.1,
    "num_leaves": 31,
    "min_data_in_leaf": 20,
    "feature_fraction_bynode": 0.5,
    "lambda_l2": 1.0,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "max_bin": 255,
}
ROUNDS = 150
FIXED_PARAMS: dict[str, Any] = {"num_threads": 1, "deterministic": True, "force_row_wise": True, "seed": 0,
                                "verbose": -1}
SCALE = 0.99   # the MAPE-optimal shrink of the geometric mean, chosen by CV (docs/model.md)
# House columns the neighbourhood's local regression takes beside size, grade, age and lot: a
# neighbour in worse condition or without the view sold for less than this house would.
REGRESSORS = ("condition", "view")

# The members, each a target and the neighbourhood columns it sees beside the house's features
# (``house_ratios``: whether it also sees HOUSE_RATIOS). Members that see a house differently err
# differently, and their blend errs less: only "relative" sees the plain 20-nearest mean, which
# the others' smoothed and local estimates would otherwise lean on (measured: docs/model.md).
MEMBER_VIEWS: dict[str, dict[str, Any]] = {
    "local": {"target": "log_price_per_sqft", "house_ratios": True,
              "columns": ["near5_price_per_sqft", "local_price_per_sqft", "local_slope_size", "local_slope_grade",
                          "distance5", "distance20"]},
    "relative": {"target": "log_price", "house_ratios": False,
                 "columns": ["near5_price", "near20_price"] + [
                     f"{kind}_{name}" for name in ("log_sqft", "grade", "eff_year", "log_lot")
                     for kind in ("near20", "relative")]},
    "smoothed": {"target": "log_price_per_sqft", "house_ratios": False,
                 "columns": ["near5_price_per_sqft", "weighted_price_per_sqft", "median20_price_per_sqft"]},
}
MEMBERS = ("local", "relative", "smoothed")


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


def inner_folds(rows: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return list(KFold(ENCODER_FOLDS, shuffle=True, random_state=ENCODER_SEED).split(np.arange(rows)))


def market_index(months: np.ndarray, lat: np.ndarray, long: np.ndarray, log_ppsf: np.ndarray) -> np.ndarray:
    """One log offset per month from the first to the last: each sale against the mean of its 20
    nearest other sales (out of fold) leaves mostly the house and the month; averaged per month,
    the month."""
    rows = (months - months.min()).astype(np.intp)
    points = to_km(lat, long)
    neighbours = np.empty(len(points))
    for fit_rows, encode_rows in inner_folds(len(points)):
        _, nearest = cKDTree(points[fit_rows]).query(points[encode_rows], k=INDEX_NEIGHBOURS)
        neighbours[encode_rows] = log_ppsf[fit_rows][nearest].mean(axis=1)
    count = np.bincount(rows)
    if (count == 0).any():
        raise ValueError("every month between the first and the last sale needs sales")
    index = np.bincount(rows, weights=log_ppsf - neighbours) / count
    return index - np.average(index, weights=count)


def neighbourhood(x: np.ndarray, features: Sequence[str], adjusted: np.ndarray, rows=slice(None),
                  regressors: Sequence[str] = REGRESSORS) -> Neighbourhood:
    """The neighbourhood of the training houses ``rows`` (their market-adjusted log price per sqft),
    its local regression also on ``regressors``."""
    column = {name: x[rows, features.index(name)] for name in ("lat", "long", "sqft_living", "grade", "sqft_lot",
                                                                "yr_built", "yr_renovated", *regressors)}
    return Neighbourhood(lat=column["lat"], long=column["long"], sqft_living=column["sqft_living"],
                         grade=column["grade"], eff_year=np.maximum(column["yr_built"], column["yr_renovated"]),
                         sqft_lot=column["sqft_lot"], log_price_per_sqft=adjusted[rows],
                         regressors={name: column[name] for name in regressors})


def out_of_fold_inputs(model: BoostedPrices, x: np.ndarray, adjusted: np.ndarray) -> np.ndarray:
    """``model.inputs`` for the training houses, each described from the other folds only, so that no
    house sees its own price (``model`` gives the columns and the local regressors; its own
    neighbourhood's prices are not used)."""
    inputs = np.empty((len(x), len(model.columns)))
    tree_columns = [i for i, name in enumerate(model.features) if name != MARKET_MONTH]
    inputs[:, :len(tree_columns)] = x[:, tree_columns]
    lat, long = x[:, model.features.index("lat")], x[:, model.features.index("long")]
    regressors = model.neighbourhood.regressors
    house = house_attributes(x, model.features, regressors)
    for fit_rows, encode_rows in inner_folds(len(x)):
        around = neighbourhood(x, model.features, adjusted, fit_rows, regressors)
        inputs[encode_rows, len(tree_columns):] = around.describe(lat[encode_rows], long[encode_rows],
                                                                  house[encode_rows])
    return inputs


def member_target(target: str, adjusted: np.ndarray, log_area: np.ndarray) -> np.ndarray:
    """A member's training target, from the market-adjusted log price per sqft."""
    if target == "log_price_per_sqft":
        return adjusted
    if target == "log_price":
        return adjusted + log_area
    raise ValueError(f"unknown target {target!r}")


def member_columns(view: Mapping[str, Any], features: Sequence[str]) -> tuple[str, ...]:
    house = [f for f in features if f != MARKET_MONTH and (view["house_ratios"] or f not in HOUSE_RATIOS)]
    return (*house, *view["columns"])


def fit_boosted(x: np.ndarray, y: np.ndarray, features: Sequence[str], *, params: Mapping[str, Any] | None = None,
                rounds: int = ROUNDS, members: Sequence[str] = MEMBERS, scale: float = SCALE,
                regressors: Sequence[str] = REGRESSORS) -> BoostedPrices:
    """``params`` override TREE_PARAMS and FIXED_PARAMS (a variant may set its own ``seed``)."""
    features = list(features)
    x = np.asarray(x, dtype=np.float64)
    log_area = np.log(x[:, features.index("sqft_living")])
    log_ppsf = np.log(np.asarray(y, dtype=np.float64)) - log_area
    months = x[:, features.index(MARKET_MONTH)]
    offsets = market_index(months, x[:, features.index("lat")], x[:, features.index("long")], log_ppsf)
    adjusted = log_ppsf - offsets[(months - months.min()).astype(np.intp)]
    served = {"features": features, "neighbourhood": neighbourhood(x, features, adjusted, regressors=regressors),
              "first_month": month_label(int(months.min())), "month_offsets": offsets, "scale": scale}
    # The members' columns, laid out as the served model lays them out (no boosters yet).
    layout = BoostedPrices(members=[Member(MEMBER_VIEWS[name]["target"], member_columns(MEMBER_VIEWS[name], features),
                                           booster=None) for name in members], **served)
    inputs = out_of_fold_inputs(layout, x, adjusted)
    trained = []
    for i, member in enumerate(layout.members):
        values = member_target(member.target, adjusted, log_area)
        data = lightgbm.Dataset(layout.member_inputs(inputs, i), values, params={"verbose": -1})
        booster = lightgbm.train({**TREE_PARAMS, **FIXED_PARAMS, **(params or {})}, data, num_boost_round=rounds)
        trained.append(Member(target=member.target, columns=member.columns, booster=booster))
    return BoostedPrices(members=trained, **served)


class GbmRecipe(RegressorMixin, BaseEstimator):
    """``fit_boosted`` as a scikit-learn estimator (clonable for cross-validation); ``model_`` is served."""

    def __init__(self, *, features: Sequence[str] = (), params: Mapping[str, Any] | None = None,
                 rounds: int = ROUNDS, members: Sequence[str] = MEMBERS, scale: float = SCALE,
                 regressors: Sequence[str] = REGRESSORS) -> None:
        self.features = features
        self.params = params
        self.rounds = rounds
        self.members = members
        self.scale = scale
        self.regressors = regressors

    def fit(self, x: np.ndarray, y: np.ndarray) -> GbmRecipe:
        self.model_ = fit_boosted(x, y, self.features, params=self.params, rounds=self.rounds, members=self.members,
                                  scale=self.scale, regressors=self.regressors)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.model_.predict(x)

    def hyperparameters(self) -> dict[str, Any]:
        """What metadata records, enough to rebuild this recipe (``make_estimator(**...)``)."""
        return {"params": {**TREE_PARAMS, **(self.params or {})}, "rounds": self.rounds,
                "members": list(self.members), "scale": self.scale, "regressors": list(self.regressors)}


def make_estimator(features: Sequence[str], *, params: Mapping[str, Any] | None = None, rounds: int = ROUNDS,
                   members: Sequence[str] = MEMBERS, scale: float = SCALE,
                   regressors: Sequence[str] = REGRESSORS) -> GbmRecipe:
    return GbmRecipe(features=list(features), params=dict(params or {}), rounds=rounds, members=tuple(members),
                     scale=scale, regressors=tuple(regressors))
