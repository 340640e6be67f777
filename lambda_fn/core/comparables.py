"""Comparable sales: the training sales most like a house, near it and similar in size, grade and age.

A version that explains carries its training sales as ``sales.csv`` (``SaleRecords.to_csv``). For
a house, the ``CANDIDATES`` nearest sales are scored by a weighted distance over location, log
living area, grade and year built (``SIMILARITY_SCALES``: one unit of each counts alike), and the
lowest scores win. The house's own sale never comes back as its comparable: a sale at the same
spot (within ``SAME_SPOT_KM``) with identical attributes is the house itself.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from lambda_fn.core.neighbourhood import to_km

COLUMNS = ("zipcode", "lat", "long", "bedrooms", "bathrooms", "sqft_living", "grade", "yr_built", "sale_date",
           "sale_price")
WHOLE_NUMBERS = ("zipcode", "bedrooms", "sqft_living", "grade", "yr_built")
# Attributes that must all match for a sale at the same spot to be the house itself.
IDENTITY = ("zipcode", "bedrooms", "bathrooms", "sqft_living", "grade", "yr_built")
CANDIDATES = 100
SAME_SPOT_KM = 0.001
# What one unit of difference is, per attribute: 1 km apart weighs as much as a 25% difference in
# log living area (about 28% in square feet), one grade, or 20 years of age.
SIMILARITY_SCALES = {"km": 1.0, "log_sqft_living": 0.25, "grade": 1.0, "yr_built": 20.0}


@dataclass(frozen=True)
class Comparable:
    """One training sale, as an agent reads it: ``sale_date`` as YYYY-MM-DD, ``distance_km`` from the house."""

    zipcode: int
    lat: float
    long: float
    bedrooms: int
    bathrooms: float
    sqft_living: int
    grade: int
    yr_built: int
    sale_date: str
    sale_price: float
    distance_km: float


class SaleRecords:
    """The training sales of a version, by column (``COLUMNS``)."""

    def __init__(self, columns: Mapping[str, Sequence[Any]]) -> None:
        missing = [c for c in COLUMNS if c not in columns]
        if missing or len({len(columns[c]) for c in COLUMNS}) != 1:
            raise ValueError(f"sale records need the columns {', '.join(COLUMNS)}, all of one length; "
                             f"missing {missing}")
        self.columns = {c: np.asarray(columns[c], dtype=object if c == "sale_date" else np.float64) for c in COLUMNS}
        if len(self.columns["lat"]) < CANDIDATES:
            raise ValueError(f"sale records need at least {CANDIDATES} sales")
        self._points = to_km(self.columns["lat"], self.columns["long"])
        self._tree = cKDTree(self._points)
        self._log_sqft = np.log(self.columns["sqft_living"])

    def __len__(self) -> int:
        return len(self._points)

    def most_like(self, house: Mapping[str, Any], count: int) -> list[Comparable]:
        """The ``count`` sales most like ``house`` (a validated house: its columns as clients send them),
        most alike first."""
        point = to_km([house["lat"]], [house["long"]])[0]
        distance, nearest = self._tree.query(point, k=CANDIDATES)
        c = self.columns
        scales = SIMILARITY_SCALES
        score = ((distance / scales["km"]) ** 2
                 + ((self._log_sqft[nearest] - np.log(house["sqft_living"])) / scales["log_sqft_living"]) ** 2
                 + ((c["grade"][nearest] - house["grade"]) / scales["grade"]) ** 2
                 + ((c["yr_built"][nearest] - house["yr_built"]) / scales["yr_built"]) ** 2)
        itself = (distance < SAME_SPOT_KM) & np.logical_and.reduce(
            [c[name][nearest] == float(house[name]) for name in IDENTITY])
        score[itself] = np.inf
        chosen = np.argsort(score, kind="stable")[:count]
        return [self._comparable(int(nearest[i]), float(distance[i])) for i in chosen if np.isfinite(score[i])]

    def _comparable(self, row: int, distance_km: float) -> Comparable:
        values = {name: self.columns[name][row] for name in COLUMNS}
        for name in WHOLE_NUMBERS:
            values[name] = int(values[name])
        for name in ("lat", "long", "bathrooms", "sale_price"):
            values[name] = float(values[name])
        return Comparable(**values, distance_km=round(distance_km, 3))

    def to_csv(self) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in zip(*(self.columns[c] for c in COLUMNS), strict=True):
            writer.writerow(_plain(value) for value in row)
        return out.getvalue().encode()

    @classmethod
    def from_csv(cls, data: bytes) -> SaleRecords:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
        if not rows or tuple(rows[0]) != COLUMNS:
            raise ValueError(f"sales.csv must start with the header {','.join(COLUMNS)}")
        return cls({name: column for name, column in zip(COLUMNS, zip(*rows[1:], strict=True), strict=True)})


def _plain(value: Any) -> Any:
    # 98118.0 -> 98118, so the file reads as the client's CSV does.
    return int(value) if isinstance(value, float) and value.is_integer() else value
