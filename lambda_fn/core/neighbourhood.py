"""What nearby training homes sold for, and how this house differs from them: the neighbourhood
columns of the gbm model.

One KD-tree query per house finds its 40 nearest training sales (straight-line km on a flat
projection of King County). From them, on both scales the members learn (log price per square
foot and log price, market-adjusted):

- ``near{5,20}_{scale}``: mean of the 5 and 20 nearest;
- ``weighted_{scale}``: Gaussian-weighted mean of the 20 nearest, bandwidth the 5th distance
  (at least 50 m);
- ``median20_{scale}``: median of the 20 nearest;
- ``local_{scale}``, ``local_slope_{size,grade}``: a local ridge regression of the 40 nearest's
  log price on their size, grade, age and lot, and on any ``regressors`` the model was trained
  with (condition and view), centred on this house (its intercept is this house's price as its
  neighbourhood prices such a house); Gaussian weights, bandwidth the median distance;

and, scale-free: ``distance{5,20}`` (log km to the 5th and 20th), ``near20_{attribute}`` and
``relative_{attribute}`` for log size, grade, effective year and log lot (the neighbours' mean,
and this house minus it).

Training encodes its own houses out of fold (``model/gbm.py``), so no house sees its own price;
serving describes a request against every training house.

The nearest are found by ``pykdtree`` (one OpenMP thread), or, for versions saved before it, by
scipy's ``cKDTree``: both give the same distances to the bit, but order houses at equal distances
differently, so a version keeps the search it was trained with (``SEARCHES``; decision 023).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

KM_PER_DEGREE_LATITUDE = 111.2
KM_PER_DEGREE_LONGITUDE = KM_PER_DEGREE_LATITUDE * float(np.cos(np.radians(47.5)))  # at King County
MEANS = (5, 20)
NEAREST = 20              # weighted mean, median, relative attributes
LOCAL = 40                # local regression
MIN_BANDWIDTH_KM = 0.05
# Attributes a neighbourhood compares: name -> the scale that makes one unit comparable in the regression.
ATTRIBUTES = {"log_sqft": 0.4, "grade": 1.2, "eff_year": 30.0, "log_lot": 0.9}
# House columns the local regression may also take, as clients send them, with their scales. A
# model names the ones it uses (``regressors``); models saved before they existed use none.
REGRESSOR_SCALES = {"condition": 0.7, "view": 1.0}
RIDGE = 0.1               # on the slopes only; the intercept is free
SCALES = ("price_per_sqft", "price")   # log price per square foot and log price, market-adjusted
STORED = ("lat", "long", "sqft_living", "grade", "eff_year", "sqft_lot", "log_price_per_sqft")   # and regressors


_KM_PER_DEGREE = np.array([KM_PER_DEGREE_LATITUDE, KM_PER_DEGREE_LONGITUDE])
# The nearest-neighbour search a version was trained with; versions that name none used scipy.
SEARCHES = ("pykdtree", "scipy")
SEARCH = "pykdtree"           # what new versions use: it imports in 1 ms, scipy.spatial adds about 0.2 s
SAVED_WITHOUT_SEARCH = "scipy"


def kd_tree(points: np.ndarray, search: str) -> Any:
    """A KD-tree over ``points`` whose ``query(points, k=...)`` answers (distances, indices), nearest first."""
    if search == "pykdtree":
        # pykdtree's OpenMP runtime (its own copy) starts one thread per core unless told otherwise
        # when it loads; queries are per house, so one thread prices the same and does not fight
        # the server's other processes for the cores. An explicit OMP_NUM_THREADS is respected.
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        from pykdtree.kdtree import KDTree

        return KDTree(points)
    if search == "scipy":
        from scipy.spatial import cKDTree

        return cKDTree(points)
    raise ValueError(f"unknown nearest-neighbour search {search!r}; known: {', '.join(SEARCHES)}")


def to_km(lat: np.ndarray, long: np.ndarray) -> np.ndarray:
    """Houses x (north, east) in km."""
    return np.array((lat, long), dtype=np.float64).T * _KM_PER_DEGREE


def attributes(sqft_living: np.ndarray, grade: np.ndarray, eff_year: np.ndarray, sqft_lot: np.ndarray,
               *regressors: np.ndarray) -> np.ndarray:
    """Houses x ATTRIBUTES (log size, grade, effective year, log lot), then any ``regressors`` as given."""
    columns = (np.log(np.asarray(sqft_living, dtype=np.float64)), grade, eff_year,
               np.log(np.asarray(sqft_lot, dtype=np.float64)), *regressors)
    out = np.empty((len(columns[0]), len(columns)))
    for j, column in enumerate(columns):   # one assignment a column: fewer numpy calls than column_stack
        out[:, j] = column
    return out


def column_names() -> list[str]:
    """Every column ``Neighbourhood.describe`` returns, in its order."""
    return list(COLUMNS)


COLUMNS = (*(f"near{k}_{scale}" for scale in SCALES for k in MEANS),
           *(f"weighted_{scale}" for scale in SCALES), *(f"median{NEAREST}_{scale}" for scale in SCALES),
           *(f"local_{scale}" for scale in SCALES), "local_slope_size", "local_slope_grade",
           *(f"distance{k}" for k in MEANS),
           *(f"{kind}_{name}" for name in ATTRIBUTES for kind in (f"near{NEAREST}", "relative")))


def _gaussian(distances: np.ndarray, bandwidth: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * (distances / np.maximum(bandwidth, MIN_BANDWIDTH_KM)) ** 2)


class Neighbourhood:
    """The training sales' locations, attributes and market-adjusted log price per square foot."""

    def __init__(self, *, lat: Sequence[float], long: Sequence[float], sqft_living: Sequence[float],
                 grade: Sequence[float], eff_year: Sequence[float], sqft_lot: Sequence[float],
                 log_price_per_sqft: Sequence[float], regressors: Mapping[str, Sequence[float]] | None = None,
                 search: str = SEARCH) -> None:
        """``regressors``: name (a ``REGRESSOR_SCALES`` key) -> each training house's value, for the local
        regression; ``describe`` then takes the house's own values after its ``attributes``.
        ``search``: one of ``SEARCHES``."""
        regressors = dict(regressors or {})
        unknown = sorted(set(regressors) - set(REGRESSOR_SCALES))
        if unknown:
            raise ValueError(f"unknown local regressors {unknown}; known: {', '.join(REGRESSOR_SCALES)}")
        self.regressors = tuple(regressors)
        self.stored = {"lat": np.asarray(lat, dtype=np.float64), "long": np.asarray(long, dtype=np.float64),
                       "sqft_living": np.asarray(sqft_living, dtype=np.float64),
                       "grade": np.asarray(grade, dtype=np.float64), "eff_year": np.asarray(eff_year, dtype=np.float64),
                       "sqft_lot": np.asarray(sqft_lot, dtype=np.float64),
                       "log_price_per_sqft": np.asarray(log_price_per_sqft, dtype=np.float64),
                       **{name: np.asarray(values, dtype=np.float64) for name, values in regressors.items()}}
        if len({len(v) for v in self.stored.values()}) != 1 or len(self.stored["lat"]) < LOCAL:
            raise ValueError(f"a neighbourhood needs at least {LOCAL} training houses, each with {', '.join(STORED)}")
        s = self.stored
        own = attributes(s["sqft_living"], s["grade"], s["eff_year"], s["sqft_lot"],
                         *(s[name] for name in self.regressors))
        # One row per value a description reads: the two price scales, the attributes, the regressors.
        self._values = np.vstack([s["log_price_per_sqft"], s["log_price_per_sqft"] + own[:, 0], own.T])
        self._scales = np.array([*ATTRIBUTES.values(), *(REGRESSOR_SCALES[name] for name in self.regressors)])
        self._ridge = np.diag([0.0] + [RIDGE] * len(self._scales))
        self.search = search
        self._tree = kd_tree(to_km(s["lat"], s["long"]), search)

    def __len__(self) -> int:
        return len(self.stored["lat"])

    # Pickled only between training's worker processes; pykdtree's tree cannot be, so it is rebuilt.
    def __getstate__(self) -> dict[str, Any]:
        return {name: value for name, value in self.__dict__.items() if name != "_tree"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._tree = kd_tree(to_km(self.stored["lat"], self.stored["long"]), self.search)

    def describe(self, lat: np.ndarray, long: np.ndarray, own: np.ndarray) -> np.ndarray:
        """The ``column_names()`` columns for houses at ``lat``/``long`` whose ``attributes(...)`` are
        ``own``, followed by their ``regressors`` (houses x (ATTRIBUTES + regressors)).

        Written as a few whole-array steps rather than one numpy call per column: for one house,
        numpy's per-call overhead is most of the cost. The arrays' memory layouts are part of the
        arithmetic: matmul picks its BLAS path by them, and writing the same values in another layout
        moved columns in their last bits, so a rewrite must be compared bit for bit with this one."""
        count = len(lat)
        # A 2-D query with an integer k answers houses x LOCAL, nearest first.
        distance, nearest = self._tree.query(to_km(lat, long), k=LOCAL)
        # houses x (the 2 price scales, the 4 attributes, the regressors) x the 40 nearest, nearest first
        values = self._values[:, nearest].transpose(1, 0, 2)
        compared = 2 + len(ATTRIBUTES)
        running = values[:, :compared, :NEAREST].cumsum(axis=2)
        near20 = running[:, :, NEAREST - 1] / NEAREST
        near = distance[:, :NEAREST]
        weights = _gaussian(near, near[:, 4:5])
        ordered = np.sort(values[:, :2, :NEAREST], axis=2)
        local = self._local_regression(distance, values[:, 1, :], values[:, 2:, :], own)   # intercept: log price
        out = np.empty((count, len(COLUMNS)))
        out[:, 0:4:2] = running[:, :2, MEANS[0] - 1] / MEANS[0]
        out[:, 1:4:2] = near20[:, :2]
        out[:, 4:6] = (values[:, :2, :NEAREST] * weights[:, None, :]).sum(axis=2) / weights.sum(axis=1)[:, None]
        out[:, 6:8] = (ordered[:, :, NEAREST // 2 - 1] + ordered[:, :, NEAREST // 2]) / 2
        out[:, 8] = local[:, 0] - own[:, 0]
        out[:, 9:12] = local[:, :3]
        out[:, 12:14] = np.log(distance[:, MEANS[0] - 1:MEANS[1]:MEANS[1] - MEANS[0]] + 0.01)
        out[:, 14::2] = near20[:, 2:]
        out[:, 15::2] = own[:, :len(ATTRIBUTES)] - near20[:, 2:]
        return out

    def _local_regression(self, distance: np.ndarray, log_price: np.ndarray, neighbours: np.ndarray,
                          own: np.ndarray) -> np.ndarray:
        """Weighted ridge fit per house: intercept, then one slope per attribute and regressor.
        ``neighbours``: houses x (ATTRIBUTES, then regressors) x neighbours."""
        centred = (neighbours - own[:, :, None]) / self._scales[None, :, None]   # houses x regressors x k
        design = np.concatenate([np.ones((len(distance), 1, LOCAL)), centred], axis=1)
        bandwidth = (distance[:, LOCAL // 2 - 1] + distance[:, LOCAL // 2]) / 2   # the median: distances come sorted
        weights = _gaussian(distance, bandwidth[:, None])
        weights /= weights.sum(axis=1, keepdims=True)
        weighted = design * weights[:, None, :]
        gram = weighted @ design.transpose(0, 2, 1) + self._ridge
        moment = weighted @ log_price[:, :, None]
        return np.linalg.solve(gram, moment)[:, :, 0]

    def to_json(self) -> dict[str, Any]:
        return {**{name: values.tolist() for name, values in self.stored.items()}, "regressors": list(self.regressors),
                "search": self.search}

    @classmethod
    def from_json(cls, spec: Mapping[str, Any]) -> Neighbourhood:
        return cls(**{name: spec[name] for name in STORED},
                   regressors={name: spec[name] for name in spec.get("regressors", ())},
                   search=spec.get("search", SAVED_WITHOUT_SEARCH))
