"""The calendar feed's iCalendar document (RFC 5545), written with mais_runtime.ical.

The document names nothing but the booking id, the date (and a time slot's start and end), the couple's
name and the package's title: a calendar app shares, syncs and caches it far outside the platform.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from mais_runtime.ical import CalendarEvent, document

PRODID = "-//MAIS//Bookings calendar//EN"


@dataclass(frozen=True)
class FeedEvent:
    """One confirmed booking as the feed shows it: a whole day, or a slot's instants."""

    booking_id: str
    event_date: date
    couple_name: str
    package_title: str
    starts_at: datetime | None = None
    ends_at: datetime | None = None


def calendar(name: str, events: Iterable[FeedEvent], stamp: datetime) -> str:
    """The VCALENDAR of the events: an all-day VEVENT for a whole day, a timed one (UTC) for a slot."""
    return document(
        PRODID,
        (
            CalendarEvent(
                uid=event.booking_id,
                day=event.event_date,
                summary=(
                    f"{event.couple_name} — {event.package_title}"
                    if event.package_title
                    else event.couple_name
                ),
                starts_at=event.starts_at,
                ends_at=event.ends_at,
            )
            for event in events
        ),
        stamp,
        name=name,
    )
