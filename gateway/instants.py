"""Instants on the REST surface: RFC 3339 with an offset in (a slot's start), and out with the
business's offset at that instant ("2027-03-28T03:00:00+02:00"), for slots and bookings alike."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from google.protobuf.timestamp_pb2 import Timestamp

from gateway.errors import ApiError
from mais_runtime.errors import FieldViolation
from mais_runtime.proto_time import timestamp

UTC_ZONE = ZoneInfo("UTC")
# RFC 3339's date-time, and only that: Python's fromisoformat alone takes more ("10Z", "+0100", a
# comma for the fraction, even a trailing NUL), none of which a client of ours ever sends.
RFC_3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def zone_of(name: str) -> ZoneInfo:
    """A tenant's zone by name (UTC when unset or unknown)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return UTC_ZONE


def local_time(stamp: Timestamp, zone: ZoneInfo) -> str | None:
    """An instant in RFC 3339 with `zone`'s offset at that instant; None when unset."""
    if not stamp.seconds and not stamp.nanos:
        return None
    moment: datetime = stamp.ToDatetime(tzinfo=UTC_ZONE)
    return moment.astimezone(zone).isoformat(timespec="seconds")


def instant(value: str | None, field_name: str) -> Timestamp | None:
    """An RFC 3339 timestamp with its offset ("2027-03-28T03:00:00+02:00" or "...Z") as a Timestamp;
    400 naming the field otherwise (a time without an offset names no instant)."""
    if value is None:
        return None
    moment = None
    if RFC_3339.fullmatch(value):
        try:
            moment = datetime.fromisoformat(value.upper())
        except ValueError:
            moment = None
    if moment is None or moment.tzinfo is None:
        problem = "must be an RFC 3339 date and time with its offset"
        raise ApiError("VALIDATION_ERROR", f"{field_name} {problem}", [FieldViolation(field_name, problem)])
    try:
        return timestamp(moment)
    except OverflowError:
        # The first or last hours of year 1 or 9999 with an offset that takes them out of range.
        problem = "is outside the range of dates"
        raise ApiError(
            "VALIDATION_ERROR", f"{field_name} {problem}", [FieldViolation(field_name, problem)]
        ) from None
