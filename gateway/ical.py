"""The calendar feed's iCalendar document (RFC 5545), written here: a handful of lines, folded and
escaped as the RFC says.

The document names nothing but the booking id, the date, the couple's name and the package's title: a
calendar app shares, syncs and caches it far outside the platform.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

PRODID = "-//MAIS//Bookings calendar//EN"


@dataclass(frozen=True)
class FeedEvent:
    """One confirmed booking as the feed shows it."""

    booking_id: str
    event_date: date
    couple_name: str
    package_title: str


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


def calendar(name: str, events: Iterable[FeedEvent], stamp: datetime) -> str:
    """The VCALENDAR of the events: one all-day VEVENT each."""
    dtstamp = stamp.strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(name)}",
    ]
    for event in events:
        summary = f"{event.couple_name} — {event.package_title}" if event.package_title else event.couple_name
        lines += [
            "BEGIN:VEVENT",
            f"UID:{escape_text(event.booking_id)}",
            f"DTSTAMP:{dtstamp}",
            f"DTSTART;VALUE=DATE:{event.event_date:%Y%m%d}",
            f"SUMMARY:{escape_text(summary)}",
            "TRANSP:OPAQUE",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) for line in lines)
