"""iCalendar (RFC 5545) written by hand: the few lines the calendar feed and a confirmation's invitation
need, escaped and folded as the RFC says.

A whole day is an all-day event (DTSTART;VALUE=DATE, DTEND the day after, exclusive); a time slot has
its two instants in UTC (the "Z" form), which every calendar app shows in its reader's own zone and
which needs no VTIMEZONE, so a change of a zone's rules can never move a booked hour.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta


@dataclass(frozen=True)
class CalendarEvent:
    """One VEVENT: a whole `day`, or the instants [starts_at, ends_at) when both are given."""

    uid: str
    day: date
    summary: str
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    description: str = ""


def escape_text(value: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and newlines escaped; other control
    characters dropped."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = "".join(c for c in value if c == "\n" or (ord(c) >= 0x20 and ord(c) != 0x7F))
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def fold(line: str) -> str:
    """One content line folded at 75 octets (RFC 5545 3.1), never inside a UTF-8 character, CRLF-ended."""
    data = line.encode("utf-8")
    parts: list[bytes] = []
    limit = 75
    while len(data) > limit:
        cut = limit
        while cut > 0 and (data[cut] & 0xC0) == 0x80:
            cut -= 1
        parts.append(data[:cut])
        data = data[cut:]
        limit = 74  # continuation lines start with a space
    parts.append(data)
    return "\r\n ".join(p.decode("utf-8") for p in parts) + "\r\n"


def utc_stamp(moment: datetime) -> str:
    """A DATE-TIME in UTC form: 20270612T120000Z."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def event_lines(event: CalendarEvent, stamp: datetime) -> list[str]:
    """The VEVENT's content lines (unfolded)."""
    if event.starts_at is not None and event.ends_at is not None:
        when = [f"DTSTART:{utc_stamp(event.starts_at)}", f"DTEND:{utc_stamp(event.ends_at)}"]
    else:
        when = [
            f"DTSTART;VALUE=DATE:{event.day:%Y%m%d}",
            f"DTEND;VALUE=DATE:{event.day + timedelta(days=1):%Y%m%d}",
        ]
    return [
        "BEGIN:VEVENT",
        f"UID:{escape_text(event.uid)}",
        f"DTSTAMP:{utc_stamp(stamp)}",
        *when,
        f"SUMMARY:{escape_text(event.summary)}",
        *([f"DESCRIPTION:{escape_text(event.description)}"] if event.description else []),
        "TRANSP:OPAQUE",
        "END:VEVENT",
    ]


def document(prodid: str, events: Iterable[CalendarEvent], stamp: datetime, *, name: str = "") -> str:
    """A VCALENDAR (METHOD:PUBLISH) of the events, folded, CRLF line ends."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{prodid}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        *([f"X-WR-CALNAME:{escape_text(name)}"] if name else []),
    ]
    for event in events:
        lines += event_lines(event, stamp)
    lines.append("END:VCALENDAR")
    return "".join(fold(line) for line in lines)
