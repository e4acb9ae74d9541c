"""Resources' names and opening hours as a tenant admin enters them: each bad value names its field,
ranges of a day may touch but not overlap, exceptions stay inside the span they replace, and a
whole-day claim lasts the day's real length in the tenant's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from mais_runtime.errors import ValidationError
from services.booking.opening_hours import (
    OpeningHours,
    checked_exceptions,
    checked_name,
    checked_ranges,
    checked_weekly,
    exception_span,
    resource_id_or_none,
    whole_day,
)
from services.booking.slots import TimeRange


def field_of(error: pytest.ExceptionInfo[ValidationError]) -> str:
    [violation] = error.value.fields
    return violation.field


def test_ranges_come_back_in_order_and_may_touch() -> None:
    ranges = checked_ranges([("14:00", "24:00"), ("09:00", "14:00")], "weekly[0].ranges")
    assert [r.text() for r in ranges] == [("09:00", "14:00"), ("14:00", "24:00")]


@pytest.mark.parametrize(
    ("ranges", "field"),
    [
        ([("09:00", "12:00"), ("11:59", "13:00")], "r[1]"),
        ([("18:00", "24:00"), ("09:00", "19:00")], "r[0]"),
        ([("9:00", "12:00")], "r[0].opens"),
        ([("09:00", "25:00")], "r[0].closes"),
        ([("12:00", "12:00")], "r[0].closes"),
        ([("00:00", "01:00")] * 7, "r"),
    ],
)
def test_a_bad_range_names_itself(ranges: list[tuple[str, str]], field: str) -> None:
    with pytest.raises(ValidationError) as error:
        checked_ranges(ranges, "r")
    assert field_of(error) == field


def test_a_weekday_appears_once_and_exists() -> None:
    with pytest.raises(ValidationError) as twice:
        checked_weekly([(1, []), (1, [])])
    assert field_of(twice) == "weekly[1].weekday"
    with pytest.raises(ValidationError) as zero:
        checked_weekly([(0, [])])
    assert field_of(zero) == "weekly[0].weekday"


def test_exceptions_stay_inside_their_span_once_each() -> None:
    first, last = date(2027, 6, 1), date(2027, 6, 30)
    found = checked_exceptions(
        [(date(2027, 6, 9), [], " Fair "), (date(2027, 6, 2), [("10:00", "12:00")], "")], first, last
    )
    assert [(e.day, e.reason) for e in found] == [(date(2027, 6, 2), ""), (date(2027, 6, 9), "Fair")]
    with pytest.raises(ValidationError) as outside:
        checked_exceptions([(date(2027, 7, 1), [], "")], first, last)
    assert field_of(outside) == "exceptions[0].date"
    with pytest.raises(ValidationError) as again:
        checked_exceptions([(date(2027, 6, 3), [], ""), (date(2027, 6, 3), [], "")], first, last)
    assert field_of(again) == "exceptions[1].date"


def test_an_exception_replaces_its_weekdays_hours() -> None:
    hours = OpeningHours(
        "r",
        {7: (TimeRange(time(9), time(12)),)},
        checked_exceptions([(date(2027, 6, 6), [], "closed")], date(2027, 6, 1), date(2027, 6, 30)),
    )
    assert hours.ranges_on(date(2027, 6, 6)) == ()
    assert hours.ranges_on(date(2027, 6, 13)) == (TimeRange(time(9), time(12)),)
    assert hours.ranges_on(date(2027, 6, 14)) == ()


def test_the_exception_span_defaults_to_a_year_and_is_bounded() -> None:
    today = date(2027, 1, 1)
    # 366 days, both ends included: the first of January to the first of January.
    assert exception_span(None, None, today) == (today, date(2028, 1, 1))
    with pytest.raises(ValidationError) as long:
        exception_span(date(2027, 1, 1), date(2028, 1, 2), today)
    assert field_of(long) == "to"


def test_names_are_trimmed_and_bounded() -> None:
    assert checked_name("  Ana ") == "Ana"
    for bad in ("", "   ", "x" * 101):
        with pytest.raises(ValidationError):
            checked_name(bad)


def test_resource_ids_are_canonical_uuids() -> None:
    assert (
        resource_id_or_none("0B3649B1-C68D-4FCC-ABEF-B3ECC2849430") == "0b3649b1-c68d-4fcc-abef-b3ecc2849430"
    )
    assert resource_id_or_none("rs_x") is None


def test_a_whole_day_lasts_the_days_real_length() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start, end = whole_day(date(2027, 3, 28), berlin)
    assert (start, end) == (datetime(2027, 3, 27, 23, tzinfo=UTC), datetime(2027, 3, 28, 22, tzinfo=UTC))
    start, end = whole_day(date(2027, 10, 31), berlin)
    assert (end - start).total_seconds() == 25 * 3600
