"""Market months: the day a price is asked for, as the month of the client's sales it is priced at.

Prices in King County moved during the client's data (May 2014 to May 2015). A model may learn
that movement only as "the day the price is asked for": training gives each sale the day it
sold, serving gives a request the day it names. Months count from May 2014 (month 0). A day
after a model's last month is priced at that last month, the latest market the data knows; a
day before its first month cannot be priced at all.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

import numpy as np

from lambda_fn.core.errors import AskedBeforeDataError

FIRST_YEAR, FIRST_MONTH = 2014, 5   # month 0: May 2014, the month of the client's first sales


def today() -> datetime.date:
    """Today in UTC (as API Gateway logs requests): the day a price is asked for when none is named."""
    return datetime.datetime.now(datetime.UTC).date()


def market_month(day: datetime.date) -> int:
    """Months since May 2014 (May 2014 is 0; may be negative or far past the data)."""
    return (day.year - FIRST_YEAR) * 12 + day.month - FIRST_MONTH


def market_months(days: datetime.date | Sequence[datetime.date], count: int) -> np.ndarray:
    """``count`` month numbers: one day for every house, or one day per house."""
    if isinstance(days, datetime.date):
        return np.full(count, market_month(days), dtype=np.float64)
    if len(days) != count:
        raise ValueError(f"{len(days)} days for {count} houses")
    return np.array([market_month(day) for day in days], dtype=np.float64)


def month_label(month: int) -> str:
    """``"2015-05"`` for month 12."""
    year, month_index = divmod(FIRST_MONTH - 1 + month, 12)
    return f"{FIRST_YEAR + year:04d}-{month_index + 1:02d}"


def month_number(label: str) -> int:
    """12 for ``"2015-05"``."""
    year, month = (int(part) for part in label.split("-"))
    return market_month(datetime.date(year, month, 1))


class MarketMonths:
    """The months a model learnt: which month of its data a day is priced at."""

    def __init__(self, first_month: str, last_month: str) -> None:
        self.first_month, self.last_month = first_month, last_month
        self.first, self.last = month_number(first_month), month_number(last_month)
        if self.last < self.first:
            raise ValueError(f"last month {last_month} is before first month {first_month}")

    def priced_month(self, day: datetime.date) -> str:
        """The month ``day`` is priced at; a day before the data raises ``AskedBeforeDataError``."""
        month = market_month(day)
        if month < self.first:
            raise AskedBeforeDataError(day, self.first_month)
        return month_label(min(month, self.last))

    def check(self, days: datetime.date | Sequence[datetime.date]) -> None:
        """Refuse a day (or, for training sales, any of one day per house) before the data."""
        self.priced_month(days if isinstance(days, datetime.date) else min(days))
