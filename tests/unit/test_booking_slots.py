"""Time slots in the tenant's zone (services/booking/slots.py): the starts offered on ordinary days and
on daylight-saving days in Europe/Berlin and America/New_York, the instants they land on, buffers,
lead time and busy claims."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mais_runtime.errors import ValidationError
from services.booking.slots import (
    Busy,
    SlotTerms,
    TimeRange,
    check_slot_range,
    day_slots,
    offered,
    offered_slots,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
NIGHT = [TimeRange(time(0), time(6))]


def starts(day: date, zone: ZoneInfo, terms: SlotTerms, ranges: list[TimeRange] = NIGHT) -> list[str]:
    return [f"{s.local_time}{s.utc_offset}" for s in day_slots(day, ranges, terms, zone)]


def utc(day: date, zone: ZoneInfo, terms: SlotTerms) -> list[str]:
    return [s.starts_at.strftime("%H:%M") for s in day_slots(day, NIGHT, terms, zone)]


HOURLY = SlotTerms(duration_minutes=60, interval_minutes=60)


def test_an_ordinary_day_offers_every_interval_that_ends_by_closing() -> None:
    terms = SlotTerms(duration_minutes=90, interval_minutes=30)
    offered_starts = starts(date(2027, 6, 1), BERLIN, terms, [TimeRange(time(9), time(12))])
    assert offered_starts == ["09:00+02:00", "09:30+02:00", "10:00+02:00", "10:30+02:00"]


@pytest.mark.parametrize(
    ("zone", "day", "expected", "instants"),
    [
        # Berlin springs forward at 02:00 (+01:00) to 03:00 (+02:00): 02:00 never happens.
        (
            BERLIN,
            date(2027, 3, 28),
            ["00:00+01:00", "01:00+01:00", "03:00+02:00", "04:00+02:00", "05:00+02:00"],
            ["23:00", "00:00", "01:00", "02:00", "03:00"],
        ),
        # New York springs forward at 02:00 (-05:00) to 03:00 (-04:00).
        (
            NEW_YORK,
            date(2027, 3, 14),
            ["00:00-05:00", "01:00-05:00", "03:00-04:00", "04:00-04:00", "05:00-04:00"],
            ["05:00", "06:00", "07:00", "08:00", "09:00"],
        ),
    ],
)
def test_spring_forward_never_offers_a_start_that_does_not_exist(
    zone: ZoneInfo, day: date, expected: list[str], instants: list[str]
) -> None:
    assert starts(day, zone, HOURLY) == expected
    assert utc(day, zone, HOURLY) == instants


@pytest.mark.parametrize(
    ("zone", "day", "expected", "instants"),
    [
        # Berlin falls back at 03:00 (+02:00) to 02:00 (+01:00): 02:00 happens twice, offered once
        # (the first time); the night has seven hours, six whole-hour starts end by 06:00.
        (
            BERLIN,
            date(2027, 10, 31),
            ["00:00+02:00", "01:00+02:00", "02:00+02:00", "03:00+01:00", "04:00+01:00", "05:00+01:00"],
            ["22:00", "23:00", "00:00", "02:00", "03:00", "04:00"],
        ),
        # New York falls back at 02:00 (-04:00) to 01:00 (-05:00): 01:00 happens twice.
        (
            NEW_YORK,
            date(2027, 11, 7),
            ["00:00-04:00", "01:00-04:00", "02:00-05:00", "03:00-05:00", "04:00-05:00", "05:00-05:00"],
            ["04:00", "05:00", "07:00", "08:00", "09:00", "10:00"],
        ),
    ],
)
def test_fall_back_offers_an_ambiguous_start_once_at_its_first_instant(
    zone: ZoneInfo, day: date, expected: list[str], instants: list[str]
) -> None:
    assert starts(day, zone, HOURLY) == expected
    assert utc(day, zone, HOURLY) == instants


def test_a_slot_lasts_its_duration_in_elapsed_time_across_a_change() -> None:
    # 90 minutes from 01:30 on Berlin's spring-forward night end at 04:00 on the clock.
    terms = SlotTerms(duration_minutes=90, interval_minutes=30)
    slot = next(s for s in day_slots(date(2027, 3, 28), NIGHT, terms, BERLIN) if s.local_time == "01:30")
    assert slot.ends_at - slot.starts_at == timedelta(minutes=90)
    assert slot.ends_at.astimezone(BERLIN).strftime("%H:%M") == "04:00"


def test_a_range_closing_in_the_gap_closes_at_the_gaps_end() -> None:
    # Closing "02:30" on the spring-forward night: the clock goes from 02:00 to 03:00, so the range
    # ends at 03:00 (01:00 UTC); a 60-minute slot from 01:00 still fits, one from 01:30 does not.
    terms = SlotTerms(duration_minutes=60, interval_minutes=30)
    ranges = [TimeRange(time(0), time(2, 30))]
    assert starts(date(2027, 3, 28), BERLIN, terms, ranges) == ["00:00+01:00", "00:30+01:00", "01:00+01:00"]


def test_busy_claims_and_buffers_keep_slots_apart() -> None:
    terms = SlotTerms(
        duration_minutes=60, interval_minutes=30, buffer_before_minutes=15, buffer_after_minutes=15
    )
    day = date(2027, 6, 1)
    hours = [TimeRange(time(9), time(13))]
    # Someone's claim from 10:45 to 11:15 Berlin (08:45-09:15 UTC), their buffers included.
    busy = [Busy(datetime(2027, 6, 1, 8, 45, tzinfo=UTC), datetime(2027, 6, 1, 9, 15, tzinfo=UTC))]
    free = offered_slots(
        day, day, terms=terms, zone=BERLIN, hours_of=lambda _: hours, closed_days=(), busy=busy, now=LONG_AGO
    )
    # A 09:30 slot claims 09:15-10:45: touching the other claim is fine; 10:00 claims up to 11:15: not.
    assert [s.local_time for s in free] == ["09:00", "09:30", "11:30", "12:00"]


def test_lead_time_blackouts_and_the_hold_use_the_same_list() -> None:
    terms = SlotTerms(duration_minutes=60, interval_minutes=60, lead_time_minutes=120)
    day = date(2027, 6, 1)
    hours = [TimeRange(time(9), time(17))]
    now = datetime(2027, 6, 1, 8, 30, tzinfo=UTC)  # 10:30 in Berlin: nothing before 12:30
    free = offered_slots(
        day, day + timedelta(days=1), terms=terms, zone=BERLIN, hours_of=lambda _: hours,
        closed_days={day + timedelta(days=1)}, busy=[], now=now,
    )  # fmt: skip
    assert [s.local_time for s in free] == ["13:00", "14:00", "15:00", "16:00"]
    assert offered(datetime(2027, 6, 1, 11, 0, tzinfo=UTC), free) == free[0]
    assert offered(datetime(2027, 6, 1, 10, 0, tzinfo=UTC), free) is None


def test_bad_terms_and_ranges_are_refused_by_field() -> None:
    with pytest.raises(ValidationError) as refused:
        SlotTerms(duration_minutes=5, interval_minutes=1, buffer_after_minutes=-1).checked()
    assert {f.field for f in refused.value.fields} == {
        "slot.durationMinutes",
        "slot.intervalMinutes",
        "slot.bufferAfterMinutes",
    }
    with pytest.raises(ValidationError):
        TimeRange.parse("18:00", "09:00")
    with pytest.raises(ValidationError):
        TimeRange.parse("9:00", "17:00")
    assert TimeRange.parse("20:00", "24:00").text() == ("20:00", "24:00")
    with pytest.raises(ValidationError):
        offered_slots(
            date(2027, 1, 1), date(2027, 2, 1), terms=HOURLY, zone=BERLIN, hours_of=lambda _: NIGHT,
            closed_days=(), busy=[], now=LONG_AGO,
        )  # fmt: skip


@given(
    st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]),
    st.dates(min_value=date(2026, 1, 1), max_value=date(2030, 12, 31)),
    st.sampled_from([15, 30, 45, 60, 90]),
    st.sampled_from([5, 15, 30, 60]),
)
def test_every_offered_slot_starts_at_a_real_wall_time_once_and_fits_the_day(
    zone_name: str, day: date, duration: int, interval: int
) -> None:
    zone = ZoneInfo(zone_name)
    terms = SlotTerms(duration_minutes=duration, interval_minutes=interval)
    slots = day_slots(day, [TimeRange(time(0), None)], terms, zone)
    instants = [s.starts_at for s in slots]
    assert instants == sorted(set(instants))
    for slot in slots:
        local = slot.starts_at.astimezone(zone)
        assert local.date() == day
        assert local.strftime("%H:%M") == slot.local_time
        assert slot.ends_at - slot.starts_at == timedelta(minutes=duration)
        assert slot.ends_at <= datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)


@pytest.mark.parametrize(
    ("first", "last", "field_name"),
    [
        (date(2027, 7, 10), date(2027, 7, 1), "to"),
        (date(2027, 7, 1), date(2027, 8, 1), "to"),
        (date(1, 1, 1), date(1, 1, 2), "from"),
        (date(9999, 12, 31), date(9999, 12, 31), "from"),
        (date(9000, 12, 31), date(9001, 1, 1), "to"),
    ],
)
def test_a_slot_range_reversed_too_long_or_off_the_calendar_is_refused_before_any_read(
    first: date, last: date, field_name: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        check_slot_range(first, last)
    assert [v.field for v in refused.value.fields] == [field_name]


def test_a_month_of_slots_is_a_listable_range() -> None:
    check_slot_range(date(2027, 7, 1), date(2027, 7, 31))
