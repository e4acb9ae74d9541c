"""Time slots: which start times a time-slot service offers, in the tenant's zone, DST-correct.

One code path decides availability for the list (ListSlots) and for the hold (`offered`): both call
`offered_slots`. The rules (issue 16, DESIGN.md "Time-slot services"):

- Opening hours are wall-clock ranges of the tenant's zone per weekday; a date exception replaces its
  weekday's ranges (none: closed). A blackout closes the whole day.
- Start times step every `interval` minutes from each range's opening, in wall-clock time. A wall time
  that does not exist that day (spring forward: 02:30 in Europe/Berlin on the last Sunday of March) is
  never offered. An ambiguous one (fall back: 02:30 on the last Sunday of October happens twice) is
  offered once, at its first instant (fold 0).
- A slot is the service's duration in elapsed time from its start (90 minutes is 90 minutes, across a
  DST change too); it must end, buffers aside, no later than the range's closing instant, and its start
  must be at least `lead` from now.
- A slot is free when [start - buffer before, end + buffer after) overlaps no busy interval of its
  resource (other bookings' claims, which include their own buffers, and whole-day bookings).

The terms themselves (their bounds, proto and JSON) are catalog's as much as booking's: they live in
mais_runtime/slot_terms.py, one definition for both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from mais_runtime.errors import ValidationError
from mais_runtime.slot_terms import SlotTerms

# ListSlots answers at most this many days at once.
MAX_SLOT_DAYS = 31
# The calendar the slot list may be asked about: its readers look a day or two either side (buffers,
# slots past midnight), which Python's dates cannot do at year 1 or 9999; every such day is past or
# beyond any advance window anyway.
FIRST_LISTABLE = date(1900, 1, 1)
LAST_LISTABLE = date(9000, 12, 31)
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")


@dataclass(frozen=True)
class TimeRange:
    """Opening to closing, wall-clock times of the tenant's zone; `closes` may be 24:00 (midnight
    after the day), stored as None."""

    opens: time
    closes: time | None

    @classmethod
    def parse(cls, opens: str, closes: str, field_name: str = "ranges") -> TimeRange:
        """From "HH:MM" strings; ValidationError naming `field_name` when malformed or empty."""
        if not _HHMM.match(opens) or opens == "24:00":
            raise ValidationError.of(f"{field_name}.opens", "must be a time as HH:MM")
        if not _HHMM.match(closes):
            raise ValidationError.of(f"{field_name}.closes", "must be a time as HH:MM (24:00 for midnight)")
        start = time.fromisoformat(opens)
        end = None if closes == "24:00" else time.fromisoformat(closes)
        if end is not None and end <= start:
            raise ValidationError.of(f"{field_name}.closes", "must be after opens")
        return cls(start, end)

    def text(self) -> tuple[str, str]:
        """Back to "HH:MM" strings."""
        return self.opens.strftime("%H:%M"), "24:00" if self.closes is None else self.closes.strftime("%H:%M")


@dataclass(frozen=True)
class Slot:
    """One bookable start: its instants (UTC) and the start in the tenant's calendar."""

    starts_at: datetime
    ends_at: datetime
    local_date: date
    local_time: str
    utc_offset: str

    def claim(self, terms: SlotTerms) -> tuple[datetime, datetime]:
        """The stretch of the resource's time the slot takes, buffers included: [start, end)."""
        return self.starts_at - terms.before, self.ends_at + terms.after


def _instant(day: date, wall: time, zone: ZoneInfo) -> datetime | None:
    """The first instant `wall` happens on `day` in `zone`, or None when it does not happen (a
    spring-forward gap)."""
    local = datetime.combine(day, wall, tzinfo=zone)
    utc = local.astimezone(UTC)
    back = utc.astimezone(zone)
    if (back.date(), back.time().replace(tzinfo=None)) != (day, wall):
        return None  # the wall time was skipped
    return utc  # fold 0: the first of an ambiguous wall time


def _closing_instant(day: date, closes: time | None, zone: ZoneInfo) -> datetime:
    """When a range closes: midnight after the day for 24:00; a closing wall time in a gap closes at
    the gap's end (the first instant after it); an ambiguous one at its second instant (the range
    lasts until the clock shows it the last time)."""
    if closes is None:
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    wall = datetime.combine(day, closes)
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if _instant(day, closes, zone) is not None:
        return second  # an existing wall time; for an ambiguous one, its last instant
    # In a gap: the first instant whose wall time is past the closing time, i.e. the gap's end. The
    # two readings of the missing wall time bracket it; a minute's steps find it.
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    low, high = min(first, second), max(first, second)
    moment = low
    while moment < high and moment.astimezone(zone).replace(tzinfo=None) < wall:
        moment += timedelta(minutes=1)
    return moment


def _offset_text(moment: datetime, zone: ZoneInfo) -> str:
    offset = moment.astimezone(zone).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def day_slots(day: date, ranges: Sequence[TimeRange], terms: SlotTerms, zone: ZoneInfo) -> list[Slot]:
    """Every start the day's opening hours allow, before availability and lead time, in time order
    and each instant once."""
    step = timedelta(minutes=terms.interval_minutes)
    found: dict[datetime, Slot] = {}
    for opening in ranges:
        closes_at = _closing_instant(day, opening.closes, zone)
        wall = datetime.combine(day, opening.opens)
        end_of_day = datetime.combine(day + timedelta(days=1), time(0))
        last_wall = end_of_day if opening.closes is None else datetime.combine(day, opening.closes)
        while wall < last_wall:
            start = _instant(day, wall.time(), zone)
            if start is not None and start + terms.duration <= closes_at and start not in found:
                local = start.astimezone(zone)
                found[start] = Slot(
                    starts_at=start,
                    ends_at=start + terms.duration,
                    local_date=day,
                    local_time=local.strftime("%H:%M"),
                    utc_offset=_offset_text(start, zone),
                )
            wall += step
    return [found[k] for k in sorted(found)]


@dataclass(frozen=True)
class Busy:
    """A claim on the resource: [starts_at, ends_at)."""

    starts_at: datetime
    ends_at: datetime


def _overlaps(start: datetime, end: datetime, busy: Iterable[Busy]) -> bool:
    return any(start < b.ends_at and b.starts_at < end for b in busy)


HoursOf = Callable[[date], Sequence[TimeRange]]


def check_slot_range(first: date, last: date) -> None:
    """The span a slot list may cover (at most MAX_SLOT_DAYS days, in order, inside the listable
    calendar), or ValidationError naming `from` or `to`: checked before anything is read, so an
    absurd span costs nothing."""
    for value, name in ((first, "from"), (last, "to")):
        if not FIRST_LISTABLE <= value <= LAST_LISTABLE:
            raise ValidationError.of(
                name, f"must be between {FIRST_LISTABLE.isoformat()} and {LAST_LISTABLE.isoformat()}"
            )
    _check_span(first, last)


def _check_span(first: date, last: date) -> None:
    if last < first:
        raise ValidationError.of("to", "must not be before from")
    if (last - first).days + 1 > MAX_SLOT_DAYS:
        raise ValidationError.of("to", f"at most {MAX_SLOT_DAYS} days from from")


def offered_slots(
    first: date,
    last: date,
    *,
    terms: SlotTerms,
    zone: ZoneInfo,
    hours_of: HoursOf,
    closed_days: Iterable[date],
    busy: Sequence[Busy],
    now: datetime,
) -> list[Slot]:
    """The bookable starts between `first` and `last` (both included, the tenant's calendar):
    `hours_of(day)` gives the day's ranges (its exception's, or its weekday's), `closed_days` are
    blackouts (and the tenant's days outside its notice/advance window), `busy` the resource's claims.
    The same function decides a hold: a start is bookable iff it is in this list (a hold's day far
    off the calendar is simply not offered: the listable bounds are the list's, check_slot_range)."""
    _check_span(first, last)
    closed = set(closed_days)
    earliest = now + timedelta(minutes=terms.lead_time_minutes)
    slots: list[Slot] = []
    day = first
    while day <= last:
        if day not in closed:
            for slot in day_slots(day, hours_of(day), terms, zone):
                if slot.starts_at < earliest:
                    continue
                claim_start, claim_end = slot.claim(terms)
                if not _overlaps(claim_start, claim_end, busy):
                    slots.append(slot)
        day += timedelta(days=1)
    return slots


def offered(start: datetime, slots: Sequence[Slot]) -> Slot | None:
    """The offered slot that starts at `start` (any zone), or None: a hold is refused unless the
    list would have offered it."""
    moment = start.astimezone(UTC)
    return next((slot for slot in slots if slot.starts_at == moment), None)
