"""What moved a price: a model's exact log-scale attributions, grouped and turned into dollars.

A model that explains (``lambda_fn.core.boosted``) gives, per house, a baseline log price and one
log-scale share per input column, summing exactly to log(price) - baseline. Here the columns are
grouped into names an agent uses (``GROUPS``) and the log shares become dollars by the
logarithmic mean: a share ``s`` of the log change is worth ``s * (price - base) / log(price / base)``
dollars, for the unrounded price. That split is exact (the dollars sum to price - base), keeps
every share's sign, and stays finite when the price equals the baseline. Cents are then rounded
so that the baseline plus the contributions equals the price to the cent (``docs/explanations.md``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from lambda_fn.core.features import MARKET_MONTH

# Group -> patterns (full-match regular expressions) of the columns it holds, in display order.
# Every column of an explaining model must fall in exactly one group: a model with a column no
# group names is refused when loaded, so a new feature cannot vanish from explanations.
GROUPS: dict[str, tuple[str, ...]] = {
    "location": ("lat", "long", "zipcode", r"coord_axis_[mp]\d+"),
    "living area": ("sqft_living", "log_sqft_living", "sqft_above", "sqft_basement", "above_share",
                    "sqft_living15", "living_to_neighbours_living"),
    "rooms and floors": ("bedrooms", "bathrooms", "floors", "sqft_per_bedroom", "bathrooms_per_bedroom"),
    "quality and grade": ("grade",),
    "condition and age": ("condition", "yr_built", "yr_renovated", "eff_year", "years_to_renovation"),
    "lot": ("sqft_lot", "sqft_lot15", "living_to_lot", "lot_to_neighbours_lot"),
    "view and waterfront": ("view", "waterfront"),
    # What the nearest training sales sold for and how this house differs from them
    # (lambda_fn.core.neighbourhood's columns).
    "nearby sales": (r"near\d+_\w+", r"weighted_\w+", r"median\d+_\w+", r"local_\w+", r"distance\d+",
                     r"relative_\w+"),
    "market month": (MARKET_MONTH,),
    "neighbourhood demographics": (),   # the columns joined on the zipcode: given at load
}
DEMOGRAPHICS_GROUP = "neighbourhood demographics"


class UngroupedColumnError(ValueError):
    """A model column that no contribution group names."""


def column_groups(columns: Sequence[str], demographic_columns: Iterable[str]) -> list[str]:
    """The group of each column, in ``columns`` order."""
    demographic = set(demographic_columns)
    patterns = {group: [re.compile(p) for p in spec] for group, spec in GROUPS.items()}
    groups = []
    for column in columns:
        if column in demographic:
            groups.append(DEMOGRAPHICS_GROUP)
            continue
        found = [g for g, compiled in patterns.items() if any(p.fullmatch(column) for p in compiled)]
        if len(found) != 1:
            raise UngroupedColumnError(f"column {column!r} is in {len(found)} contribution groups, not one: "
                                       f"{found or 'none'}; name it in lambda_fn.core.contributions.GROUPS")
        groups.append(found[0])
    return groups


@dataclass(frozen=True)
class Contributions:
    """One house: ``baseline`` and ``usd`` (group -> dollars, in ``GROUPS`` order) in USD, rounded to
    the cent so that ``baseline + sum(usd.values()) == price`` to the cent."""

    baseline: float
    usd: dict[str, float]


class Grouping:
    """Sums a model's per-column log shares into ``GROUPS`` and turns them into dollars."""

    def __init__(self, columns: Sequence[str], demographic_columns: Iterable[str]) -> None:
        self.groups = list(GROUPS)
        position = {group: i for i, group in enumerate(self.groups)}
        membership = np.zeros((len(columns), len(self.groups)))
        for row, group in enumerate(column_groups(columns, demographic_columns)):
            membership[row, position[group]] = 1.0
        self._membership = membership

    def log_shares(self, per_column: np.ndarray) -> np.ndarray:
        """Houses x columns of log shares -> houses x groups."""
        return per_column @ self._membership

    def in_dollars(self, baseline_log: float, group_shares: np.ndarray, prices: Sequence[float]) -> list[Contributions]:
        """``group_shares``: houses x groups, summing per house to log(price) - baseline_log;
        ``prices``: the prices as served (rounded to the cent)."""
        base = math.exp(baseline_log)
        base_cents = round(base * 100)
        out = []
        for shares, price in zip(group_shares, prices, strict=True):
            change = float(shares.sum())
            # The logarithmic mean of the unrounded price, base * exp(change), and the base; its limit,
            # the base, when they meet. From the log change itself, not the price rounded to the cent:
            # a change near zero made of large opposite shares must not be multiplied by cents / ~0.
            per_log_unit = base * math.expm1(change) / change if change else base
            cents = _round_to_total(shares * per_log_unit * 100, round(price * 100) - base_cents)
            out.append(Contributions(baseline=base_cents / 100,
                                     usd={g: c / 100 for g, c in zip(self.groups, cents, strict=True)}))
        return out


def _round_to_total(values: np.ndarray, total: int) -> list[int]:
    """Whole numbers near ``values`` summing exactly to ``total``: the rounding residue (a few
    units at most) goes to the largest value, where it changes the least in relative terms."""
    rounded = [round(float(v)) for v in values]
    rounded[int(np.argmax(np.abs(values)))] += total - sum(rounded)
    return rounded
