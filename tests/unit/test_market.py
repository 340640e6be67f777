"""Market months: which month of the 2014-15 data a day is priced at."""

from __future__ import annotations

import datetime

import pytest

from lambda_fn.core.market import AskedBeforeDataError, MarketMonths, market_month, market_months, month_label


def test_months_count_from_may_2014():
    assert market_month(datetime.date(2014, 5, 2)) == 0
    assert market_month(datetime.date(2014, 12, 31)) == 7
    assert market_month(datetime.date(2015, 5, 27)) == 12
    assert market_month(datetime.date(2014, 4, 30)) == -1
    assert [month_label(m) for m in (0, 7, 8, 12)] == ["2014-05", "2014-12", "2015-01", "2015-05"]


def test_one_day_for_every_house_or_one_per_house():
    assert market_months(datetime.date(2015, 1, 9), 3).tolist() == [8, 8, 8]
    assert market_months([datetime.date(2014, 5, 2), datetime.date(2015, 5, 1)], 2).tolist() == [0, 12]
    with pytest.raises(ValueError, match="2 days for 3 houses"):
        market_months([datetime.date(2014, 5, 2)] * 2, 3)


def test_days_after_the_data_are_priced_at_its_last_month():
    months = MarketMonths("2014-05", "2015-05")

    assert months.priced_month(datetime.date(2014, 10, 13)) == "2014-10"
    assert months.priced_month(datetime.date(2015, 5, 31)) == "2015-05"
    assert months.priced_month(datetime.date(2026, 11, 26)) == "2015-05"


def test_a_day_before_the_data_is_refused_naming_the_field_and_the_first_month():
    with pytest.raises(AskedBeforeDataError) as refused:
        MarketMonths("2014-05", "2015-05").priced_month(datetime.date(2014, 4, 30))

    assert refused.value.field == "asked_on" and refused.value.row is None
    assert "2014-04-30 is before 2014-05" in refused.value.problem


def test_training_days_are_checked_all_at_once_by_the_earliest():
    months = MarketMonths("2014-05", "2015-05")
    months.check([datetime.date(2015, 1, 2), datetime.date(2014, 5, 1)])

    with pytest.raises(AskedBeforeDataError, match="2014-04-30"):
        months.check([datetime.date(2015, 1, 2), datetime.date(2014, 4, 30)])
