"""The improved model's recipe: features, hyper-parameters, cross-validation and its 80% interval.

Same data and the same held-out quarter as the client's recipe (``train_test_split(random_state=42)``);
every choice below was tuned by 5-fold cross-validation on the training three quarters only.

Features: every column a client sends (``future_unseen_examples.csv``), the zipcode's
demographics, the coordinates along eight turned axes (``lambda_fn.features.DERIVED_FEATURES``)
and, inside the estimator, what the 5 and 20 nearest training homes sold for per square foot.
The sale date is not used: serving would have to feed it "the day the price is asked", which lies
years outside the 2014-15 sales a tree can learn from, so every request would get the last month's
level anyway; the service states that its prices are 2014-15 prices instead.

Its 80% interval comes from the cross-validation residuals: see ``model/interval.py``.

Tuning record: 5-fold CV of the training part, MAPE / R² (this recipe: ``python -m model.train
--model gbm`` prints 11.76% / 0.918; the basic model 18.06% / 0.736):

    HistGradientBoosting, log price, house columns + demographics         11.84% / 0.899
      + coordinates along turned axes                                     11.81% / 0.900
      + mean log price per sqft of the 10 and 50 nearest homes            11.75% / 0.904
      + half the features per split (max_features=0.5), 800 trees          11.68% / 0.908
    target log price per sqft instead (kept: same MAPE, RMSE -6%)          11.71% / 0.919
      absolute-error loss                                                  11.74% / 0.915
      learning rate 0.1, 400 trees / min_samples_leaf 40 / l2 2, mf 0.3   11.84 / 11.69 / 11.71%
      neighbours 3, 10, 30 instead of 5, 20; ratio features               11.7-11.8%
      neighbours' location premium (residuals of a location-free model)  11.86-12.10%
      comparable sales (neighbours by location, size, grade, age)         11.81-11.84%
      smoothing the residuals over neighbours after the fact              11.75-13.40%
      3 bagged models (3x the trees, 3x slower)                            11.66% / 0.920
    with the sale date as a feature (not servable, see above)              11.43% / 0.922

Nothing tried reached the issue's 11.0% MAPE target; the date, which serving cannot honestly
supply, is worth 0.3 points.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import train_test_split

from lambda_fn.features import DERIVED_FEATURES, HOUSE_COLUMNS, FeatureBuilder
from lambda_fn.neighbourhood import NeighbourhoodPriceEncoder
from lambda_fn.price_model import GradientBoostedPrices

SPLIT_RANDOM_STATE = 42          # the client's split: train_test_split(random_state=42), 25% held out

GBM_PARAMS = {
    "learning_rate": 0.05,
    "max_iter": 800,
    "max_leaf_nodes": 31,
    "min_samples_leaf": 20,
    "max_features": 0.5,
    "l2_regularization": 0.0,
    "early_stopping": False,
    "random_state": 0,
}
NEIGHBOURS = (5, 20)


def feature_names(demographics: pd.DataFrame) -> list[str]:
    return [*HOUSE_COLUMNS, *(c for c in demographics.columns if c != "zipcode"), *DERIVED_FEATURES]


def demographics_table(demographics: pd.DataFrame) -> dict[str, dict[str, float]]:
    """zipcode -> demographic values, the mapping ``FeatureBuilder`` joins from."""
    values = demographics.set_index("zipcode").astype(float)
    return {str(zipcode): row for zipcode, row in values.to_dict(orient="index").items()}


def feature_matrix(houses: pd.DataFrame, features: Sequence[str],
                   demographics: dict[str, dict[str, float]]) -> np.ndarray:
    """Training matrices go through the serving code's FeatureBuilder: what is trained is what is served."""
    return FeatureBuilder(features, demographics).matrix(houses[list(HOUSE_COLUMNS)].to_dict(orient="records"))


def make_estimator(features: Sequence[str]) -> GradientBoostedPrices:
    features = list(features)
    encoder = NeighbourhoodPriceEncoder(lat_column=features.index("lat"), long_column=features.index("long"),
                                        neighbours=NEIGHBOURS, n_folds=5, random_state=0)
    return GradientBoostedPrices(encoder=encoder, regressor=HistGradientBoostingRegressor(**GBM_PARAMS),
                                 sqft_living_column=features.index("sqft_living"))


def split(sales: pd.DataFrame) -> tuple[pd.Index, pd.Index]:
    """The client's split of the sales rows (the same rows as ``model.recipe``'s x_train / x_test)."""
    train, test = train_test_split(sales.index, random_state=SPLIT_RANDOM_STATE)
    return pd.Index(train), pd.Index(test)
