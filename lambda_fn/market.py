"""Market months: the day a price is asked for, as the month of the client's sales it is priced at.

Prices in King County moved during the client's data (May 2014 to May 2015): spring sold dearer
than winter, and the year rose. A model may learn that movement only as "the day the price is
asked for" (issue 5): training gives each sale the day it sold, serving gives a request the day
it is asked (or ``?as_of=``). Months count from May 2014 (month 0). A day after the model's last
month is priced at that last month, the latest market the data knows; a day before its first
month cannot be priced at all.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from lambda_fn.errors import PredictionInputError

FIRST_YEAR, FIRST_MONTH = 2014, 5   # month 0: May 2014, the month of the client's first sales
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def today() -> datetime.date:
    """The day a price is asked for when the caller names none: today in UTC, as API Gateway logs it."""
    return datetime.datetime.now(datetime.UTC).date()


def iso_day(value: Any) -> Any:
    """Only ``YYYY-MM-DD`` names a day: pydantic alone would also read ``1412121600`` as a Unix time
    and ``2015-05-27T10:00Z`` as a day, which a client may not mean."""
    if isinstance(value, str) and not ISO_DAY.fullmatch(value):
        raise ValueError(f"expected a day as YYYY-MM-DD, e.g. 2015-05-27; got {value[:40]!r}")
    return value


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


class AskedBeforeDataError(PredictionInputError):
    def __init__(self, field: str, day: datetime.date, first_month: str) -> None:
        super().__init__(field, f"{day.isoformat()} is before {first_month}, the first month of the sales this "
                                "model learnt from; ask for a day in or after that month")


class MarketMonths:
    """The months a model learnt (``metadata["market"]``): which month a day is priced at."""

    def __init__(self, first_month: str, last_month: str) -> None:
        self.first_month, self.last_month = first_month, last_month
        self._first = _month_number(first_month)
        self._last = _month_number(last_month)

    def priced_month(self, day: datetime.date, *, field: str) -> str:
        """``field`` names the day in the error a day before the data raises."""
        month = market_month(day)
        if month < self._first:
            raise AskedBeforeDataError(field, day, self.first_month)
        return month_label(min(month, self._last))


def _month_number(label: str) -> int:
    year, month = (int(part) for part in label.split("-"))
    return market_month(datetime.date(year, month, 1))
