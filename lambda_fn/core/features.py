"""Turning validated houses into a model's feature matrix, without pandas.

Every feature name in a model's ``model_features.json`` is one of the house's own columns (as
clients send them), a demographic column joined on the zipcode, a derived feature computed
here from the house's own columns (``DERIVED_FEATURES``), or ``market_month``: the month of the
day the price is asked for (``lambda_fn/core/market.py``), which the caller passes as ``asked_on``.
The matrix is built column by column in training order with numpy: tests prove it prices
exactly as a pandas join and pandas column arithmetic do, and it is several times faster per
request. Training builds its matrices through
this same class, so a derived feature cannot be computed one way in training and another in serving.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from lambda_fn.core.errors import UnknownZipcodeError
from lambda_fn.core.market import market_months

# The columns of future_unseen_examples.csv, in that file's order: what a client sends.
HOUSE_COLUMNS = (
    "bedrooms", "bathrooms", "sqft_living", "sqft_lot", "floors", "waterfront", "view", "condition",
    "grade", "sqft_above", "yr_built", "sqft_basement", "yr_renovated", "zipcode", "lat", "long",
    "sqft_living15", "sqft_lot15",
)


def _coordinate_axis(degrees: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    # Position along an axis turned ``degrees`` from north: lets trees split on diagonal lines
    # (shorelines, highways) that latitude and longitude alone cut into staircases.
    cos, sin = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return lambda lat, long: lat * cos + long * sin


# name -> degrees. A FeatureBuilder computes all of them in one broadcast step (the same products
# and sums as ``_coordinate_axis``, so the same bits): eight numpy steps each would cost more than
# the arithmetic for one house.
COORDINATE_AXES = {f"coord_axis_{'m' if degrees < 0 else 'p'}{abs(degrees)}": degrees
                   for degrees in (15, 30, 45, 60, -15, -30, -45, -60)}
# name -> (house columns it is computed from, function of those columns as float64 arrays)
DERIVED_FEATURES: dict[str, tuple[tuple[str, ...], Callable[..., np.ndarray]]] = {
    name: (("lat", "long"), _coordinate_axis(degrees)) for name, degrees in COORDINATE_AXES.items()
}
# Quotients of two house columns: name -> (numerator, denominator, whether the denominator counts as
# at least 1: a house listed with 0 bedrooms has one room to sleep in). A FeatureBuilder computes all
# of them in one division, as for the axes.
QUOTIENTS = {
    "living_to_lot": ("sqft_living", "sqft_lot", False),
    "living_to_neighbours_living": ("sqft_living", "sqft_living15", False),
    "lot_to_neighbours_lot": ("sqft_lot", "sqft_lot15", False),
    "above_share": ("sqft_above", "sqft_living", False),
    "sqft_per_bedroom": ("sqft_living", "bedrooms", True),
    "bathrooms_per_bedroom": ("bathrooms", "bedrooms", True),
}


def _quotient(at_least_one: bool) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    return (lambda top, bottom: top / np.maximum(bottom, 1)) if at_least_one else np.divide


# How the house is put together, in ratios trees cannot form from the raw columns.
HOUSE_RATIOS: dict[str, tuple[tuple[str, ...], Callable[..., np.ndarray]]] = {
    "eff_year": (("yr_built", "yr_renovated"), np.maximum),   # the year it was built or last renovated
    "years_to_renovation": (("yr_built", "yr_renovated"), lambda built, renovated:
                            np.where(renovated > 0, renovated - built, 0.0)),
    "log_sqft_living": (("sqft_living",), np.log),
    **{name: ((top, bottom), _quotient(at_least_one)) for name, (top, bottom, at_least_one) in QUOTIENTS.items()},
}
DERIVED_FEATURES |= HOUSE_RATIOS

MARKET_MONTH = "market_month"   # not a house column: the month the price is asked for


class FeatureBuilder:
    def __init__(self, features: Sequence[str], demographics: Mapping[str, Mapping[str, float]]) -> None:
        some_zipcode = next(iter(demographics.values()), {})
        unknown = [f for f in features if f not in HOUSE_COLUMNS and f not in some_zipcode
                   and f not in DERIVED_FEATURES and f != MARKET_MONTH]
        if unknown:
            raise ValueError(f"features neither sent by clients, demographic nor derived: {unknown}")
        self.features = list(features)
        derived = [(i, *DERIVED_FEATURES[f]) for i, f in enumerate(features) if f in DERIVED_FEATURES]
        axes = [(i, math.radians(COORDINATE_AXES[f])) for i, f in enumerate(features) if f in COORDINATE_AXES]
        self._axis_positions = np.array([i for i, _ in axes], dtype=np.intp)
        self._axis_cos = np.array([math.cos(radians) for _, radians in axes])
        self._axis_sin = np.array([math.sin(radians) for _, radians in axes])
        # Every house column read, once per house, into one matrix (the fast path for one house and
        # for a thousand); features copy their column from it, derived ones compute from it.
        derived_inputs = {column for _, inputs, _ in derived for column in inputs}
        self._read = [c for c in HOUSE_COLUMNS if c in features or c in derived_inputs]
        read_at = {name: i for i, name in enumerate(self._read)}
        copied = [(i, read_at[f]) for i, f in enumerate(features) if f in HOUSE_COLUMNS]
        self._copy_to = np.array([i for i, _ in copied], dtype=np.intp)
        self._copy_from = np.array([j for _, j in copied], dtype=np.intp)
        self._derived = [(i, [read_at[name] for name in inputs], compute) for i, inputs, compute in derived
                         if features[i] not in COORDINATE_AXES and features[i] not in QUOTIENTS]
        quotients = [(i, *QUOTIENTS[f]) for i, f in enumerate(features) if f in QUOTIENTS]
        self._quotient_positions = np.array([i for i, *_ in quotients], dtype=np.intp)
        self._numerators = np.array([read_at[top] for _, top, _, _ in quotients], dtype=np.intp)
        self._denominators = np.array([read_at[bottom] for _, _, bottom, _ in quotients], dtype=np.intp)
        # Each denominator's floor: 1 where it counts as at least 1, else -inf (np.maximum leaves it as is).
        self._denominator_floors = np.array([1.0 if at_least_one else -np.inf for *_, at_least_one in quotients])
        self._lat_long = (read_at["lat"], read_at["long"]) if axes else None
        self._market_position = features.index(MARKET_MONTH) if MARKET_MONTH in features else None
        demographic_positions = [i for i, f in enumerate(features)
                                 if f not in HOUSE_COLUMNS and f not in DERIVED_FEATURES and f != MARKET_MONTH]
        self._demographic_positions = np.array(demographic_positions, dtype=np.intp)
        self.zipcodes = sorted(demographics)
        self._zipcode_row = {int(z): row for row, z in enumerate(self.zipcodes)}
        self._demographic_table = np.array(
            [[demographics[z][features[i]] for i in demographic_positions] for z in self.zipcodes],
            dtype=np.float64).reshape(len(self.zipcodes), len(demographic_positions))
        needs_zipcode = bool(demographic_positions) or "zipcode" in features
        self.required_fields = sorted(set(self._read) | ({"zipcode"} if needs_zipcode else set()))

    @property
    def uses_market_month(self) -> bool:
        return self._market_position is not None

    def matrix(self, houses: Sequence[Mapping[str, Any]],
               asked_on: datetime.date | Sequence[datetime.date] | None = None) -> np.ndarray:
        """Feature rows in training order. ``asked_on``: the day the price is asked for, one for
        every house or one per house (a training sale's day); required when the model uses the
        market month, ignored otherwise. An unserved zipcode raises ``UnknownZipcodeError``."""
        x = np.empty((len(houses), len(self.features)), dtype=np.float64)
        if self._market_position is not None:
            if asked_on is None:
                raise ValueError("this model prices at the month the price is asked for: pass asked_on")
            x[:, self._market_position] = market_months(asked_on, len(houses))
        read = np.array([[house[name] for name in self._read] for house in houses], dtype=np.float64)
        read = read.reshape(len(houses), len(self._read))
        x[:, self._copy_to] = read[:, self._copy_from]
        if self._lat_long is not None:
            lat, long = (read[:, j:j + 1] for j in self._lat_long)
            x[:, self._axis_positions] = lat * self._axis_cos + long * self._axis_sin
        if len(self._quotient_positions):
            bottoms = np.maximum(read[:, self._denominators], self._denominator_floors)
            x[:, self._quotient_positions] = read[:, self._numerators] / bottoms
        for position, inputs, compute in self._derived:
            x[:, position] = compute(*(read[:, j] for j in inputs))
        if len(self._demographic_positions):
            x[:, self._demographic_positions] = self._demographic_table[self._rows(houses)]
        return x

    def _rows(self, houses: Sequence[Mapping[str, Any]]) -> list[int]:
        rows = []
        for index, house in enumerate(houses):
            zipcode = int(house["zipcode"])
            row = self._zipcode_row.get(zipcode)
            if row is None:
                raise UnknownZipcodeError(zipcode, len(self.zipcodes), row=index)
            rows.append(row)
        return rows
