"""The client's basic model, exactly as its recipe in ``shared/data/README.md`` describes.

Seven house features plus every demographic column (joined on zipcode, zipcode then dropped),
``train_test_split(random_state=42)`` with the default 25% test part, and
``make_pipeline(RobustScaler(), KNeighborsRegressor())`` with defaults. Kept literal on purpose:
tests compare the served model's prices with this function's, row for row.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sklearn import model_selection, neighbors, pipeline, preprocessing

SALES_COLUMN_SELECTION = [
    "price", "bedrooms", "bathrooms", "sqft_living", "sqft_lot", "floors",
    "sqft_above", "sqft_basement", "zipcode",
]


@dataclass(frozen=True)
class RecipeResult:
    model: pipeline.Pipeline
    features: list[str]
    x_train: pd.DataFrame
    x_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series


def train_basic_model(sales: pd.DataFrame, demographics: pd.DataFrame) -> RecipeResult:
    data = sales[SALES_COLUMN_SELECTION].merge(demographics, how="left", on="zipcode").drop(columns="zipcode")
    y = data.pop("price")
    x = data
    x_train, x_test, y_train, y_test = model_selection.train_test_split(x, y, random_state=42)
    model = pipeline.make_pipeline(preprocessing.RobustScaler(), neighbors.KNeighborsRegressor()).fit(x_train, y_train)
    return RecipeResult(model, list(x_train.columns), x_train, x_test, y_train, y_test)


def recipe_prices(model: pipeline.Pipeline, features: list[str], houses: pd.DataFrame,
                  demographics: pd.DataFrame) -> pd.Series:
    """Price houses the way the client's own scripts do: pandas join, then ``predict``."""
    joined = houses.merge(demographics, how="left", on="zipcode")
    return pd.Series(model.predict(joined[features]), index=houses.index)
