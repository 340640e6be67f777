"""The year house fields are checked against follows the clock in UTC, across New Year and back."""

from __future__ import annotations

import calendar
import datetime
import time

import pytest
from pydantic import ValidationError

from lambda_fn.api import schemas
from tests.helpers import event_body


def test_this_year_is_the_current_year_in_utc():
    assert schemas.this_year() == datetime.datetime.now(datetime.UTC).year


@pytest.mark.parametrize("moments", [
    [(2030, 12, 31, 23, 59, 59), (2031, 1, 1, 0, 0, 0)],                        # New Year's first second
    [(2031, 1, 1, 0, 0, 0), (2030, 12, 31, 23, 59, 59)],                        # a clock stepped back over it
    [(2029, 6, 1, 0, 0, 0), (2029, 6, 1, 0, 0, 1), (2041, 3, 3, 12, 0, 0)],
])
def test_this_year_follows_the_clock_whichever_way_it_moves(monkeypatch, moments):
    for moment in moments:
        monkeypatch.setattr(time, "time", lambda moment=moment: float(calendar.timegm(moment)))

        assert schemas.this_year() == moment[0]


def test_a_house_built_next_year_is_accepted_and_the_year_after_refused(monkeypatch):
    monkeypatch.setattr(time, "time", lambda: float(calendar.timegm((2031, 1, 1, 0, 0, 0))))
    house = event_body("predict")

    assert schemas.House.model_validate({**house, "yr_built": 2032}).yr_built == 2032
    with pytest.raises(ValidationError, match="year 2033 is in the future"):
        schemas.House.model_validate({**house, "yr_built": 2033})
