"""Resources and their opening hours as plain values, with the checks a tenant admin's input passes.

A resource is what a time-slot service occupies (a person, a room). Its weekly hours are wall-clock
ranges of the tenant's zone per ISO weekday; an exception replaces one date's ranges (none: closed).
The slot arithmetic over them is services/booking/slots.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from mais_runtime.errors import Conflict, FieldViolation, ValidationError
from services.booking.slots import TimeRange

MAX_NAME = 100
MAX_REASON = 200
# A tenant's resources, and ranges per day: small numbers a dashboard shows on one page.
MAX_RESOURCES = 50
MAX_RANGES_PER_DAY = 6
# Exceptions are read and replaced at most this many days at once.
MAX_EXCEPTION_DAYS = 366
DEFAULT_RESOURCE_NAME = "Main"


@dataclass(frozen=True)
class Resource:
    """A person or a room a time-slot service occupies."""

    id: str
    name: str
    is_default: bool = False
    active: bool = True
    version: int = 1


@dataclass(frozen=True)
class HoursException:
    """A date with its own ranges (empty: closed all day)."""

    day: date
    ranges: tuple[TimeRange, ...]
    reason: str = ""


@dataclass(frozen=True)
class OpeningHours:
    """A resource's weekly hours (weekday 1-7 → ranges; a missing weekday is closed) and the
    exceptions of a span of dates."""

    resource_id: str
    weekly: Mapping[int, tuple[TimeRange, ...]]
    exceptions: tuple[HoursException, ...]

    def ranges_on(self, day: date) -> tuple[TimeRange, ...]:
        """The day's ranges: its exception's when it has one, else its weekday's."""
        for exception in self.exceptions:
            if exception.day == day:
                return exception.ranges
        return self.weekly.get(day.isoweekday(), ())


def new_resource_id() -> str:
    """A resource's id: a random UUID, the spelling catalog's slot terms carry (mais_runtime.slot_terms)."""
    return str(uuid4())


def resource_id_or_none(value: str) -> str | None:
    """`value` as a canonical resource id, or None when it cannot be one."""
    try:
        return str(UUID(value))
    except ValueError:
        return None


def checked_name(name: str, field_name: str = "name") -> str:
    """A resource's name, trimmed: 1-100 characters."""
    value = name.strip()
    if not 1 <= len(value) <= MAX_NAME:
        raise ValidationError.of(field_name, f"must be 1 to {MAX_NAME} characters")
    return value


def checked_ranges(ranges: Sequence[tuple[str, str]], field_name: str) -> tuple[TimeRange, ...]:
    """A day's ranges from ("HH:MM", "HH:MM") pairs: each well formed, at most MAX_RANGES_PER_DAY,
    in order and not overlapping (touching is fine: 09:00-12:00 and 12:00-15:00)."""
    if len(ranges) > MAX_RANGES_PER_DAY:
        raise ValidationError.of(field_name, f"at most {MAX_RANGES_PER_DAY} ranges a day")
    parsed = [TimeRange.parse(o, c, f"{field_name}[{i}]") for i, (o, c) in enumerate(ranges)]
    ordered = sorted(parsed, key=lambda r: r.opens)
    for earlier, later in pairwise(ordered):
        if earlier.closes is None or later.opens < earlier.closes:
            index = parsed.index(later)
            raise ValidationError.of(f"{field_name}[{index}]", "overlaps another range of the day")
    return tuple(ordered)


def checked_weekly(days: Sequence[tuple[int, Sequence[tuple[str, str]]]]) -> dict[int, tuple[TimeRange, ...]]:
    """Weekly hours from (weekday, ranges): weekdays 1-7, each at most once."""
    weekly: dict[int, tuple[TimeRange, ...]] = {}
    for i, (weekday, ranges) in enumerate(days):
        if not 1 <= weekday <= 7:
            raise ValidationError.of(f"weekly[{i}].weekday", "must be 1 (Monday) to 7 (Sunday)")
        if weekday in weekly:
            raise ValidationError.of(f"weekly[{i}].weekday", "appears twice")
        weekly[weekday] = checked_ranges(ranges, f"weekly[{i}].ranges")
    return weekly


def checked_exceptions(
    items: Sequence[tuple[date, Sequence[tuple[str, str]], str]], first: date, last: date
) -> tuple[HoursException, ...]:
    """Exceptions from (date, ranges, reason): each inside [first, last], each date once."""
    seen: set[date] = set()
    out: list[HoursException] = []
    for i, (day, ranges, reason) in enumerate(items):
        if not first <= day <= last:
            raise ValidationError.of(f"exceptions[{i}].date", "must be between from and to")
        if day in seen:
            raise ValidationError.of(f"exceptions[{i}].date", "appears twice")
        if len(reason) > MAX_REASON:
            raise ValidationError.of(f"exceptions[{i}].reason", f"must be at most {MAX_REASON} characters")
        seen.add(day)
        out.append(HoursException(day, checked_ranges(ranges, f"exceptions[{i}].ranges"), reason.strip()))
    return tuple(sorted(out, key=lambda e: e.day))


def exception_span(first: date | None, last: date | None, today: date) -> tuple[date, date]:
    """The dates whose exceptions are read or replaced: from `first` (today when not given) to `last`
    (a year on when not given), at most MAX_EXCEPTION_DAYS."""
    start = first or today
    end = last or start + timedelta(days=MAX_EXCEPTION_DAYS - 1)
    if end < start:
        raise ValidationError.of("to", "must not be before from")
    if (end - start).days + 1 > MAX_EXCEPTION_DAYS:
        raise ValidationError.of("to", f"at most {MAX_EXCEPTION_DAYS} days from from")
    return start, end


def ranges_text(ranges: Sequence[TimeRange]) -> list[dict[str, str]]:
    """Ranges as stored in hours_exceptions.ranges (jsonb)."""
    return [dict(zip(("opens", "closes"), r.text(), strict=True)) for r in ranges]


def whole_day(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """A whole-day booking's claim on a resource: from the day's first instant to the next day's,
    in the tenant's zone (23 or 25 hours on a change day)."""
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


class VersionConflict(Conflict):
    """The resource changed since the version the caller read."""

    def __init__(self, current: int) -> None:
        super().__init__(
            f"the resource was changed by someone else (now version {current}); read it again",
            reason="VERSION_CONFLICT",
            metadata={"current_version": str(current)},
        )


class ResourceInUse(Conflict):
    """A resource bookings were made on stays (their history names it); deactivate it instead."""

    def __init__(self) -> None:
        super().__init__("bookings were made on this resource; deactivate it instead", reason="IN_USE")


class NameTaken(Conflict):
    """Another resource of the tenant has the name."""

    def __init__(self) -> None:
        super().__init__("the tenant already has a resource with this name", reason="NAME_TAKEN")
        self.fields.append(FieldViolation("name", "is taken"))
