"""Emails and calendars carry a time slot's exact times: the text in the business's zone, the
confirmation's .ics and the calendar feed as instants (parsed back with the `icalendar` package), on
ordinary days and on daylight-saving change days."""

from __future__ import annotations

import base64
import email
import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email import policy as email_policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import icalendar
import pytest

from gateway.ical import FeedEvent
from gateway.ical import calendar as feed_calendar
from mais_runtime.mail import Attachment, FileMailer, Mail, PostmarkMailer, build_message
from services.booking import emails
from services.booking.domain import AdminContact, Booking, Quote, Status
from services.booking.schedules import Instalment

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
TENANT = "6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab"
LINK = "http://x.test/booking/bk?token=t"


def booking(
    *,
    starts_at: datetime | None = None,
    minutes: int = 90,
    day: date = date(2027, 6, 12),
    zone: ZoneInfo = BERLIN,
) -> Booking:
    """A confirmed booking of a "Portrait session": a slot from `starts_at` when given, else a whole day."""
    now = datetime(2027, 1, 5, 9, 30, tzinfo=UTC)
    slot = starts_at is not None
    return Booking(
        id="bk_" + "s" * 26,
        tenant_id=TENANT,
        event_date=starts_at.astimezone(zone).date() if starts_at else day,
        status=Status.CONFIRMED,
        customer_id="cu_1",
        couple_name="Ana & Bo",
        email="ana@example.com",
        phone="",
        notes="",
        quote=Quote("pkg", 25000, "eur", {"lines": [{"kind": "package", "title": "Portrait session"}]}),
        payment_session_id="cs_1",
        hold_expires_at=None,
        amount_paid_cents=25000,
        amount_refunded_cents=0,
        cancel_reason="",
        created_at=now,
        updated_at=now,
        kind="SLOT" if slot else "DAY",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes) if starts_at else None,
        resource_id="0b5f6a54-9a5e-4d3c-8f7e-1c2d3e4f5a6b" if slot else "",
        buffer_before_minutes=15 if slot else 0,
        buffer_after_minutes=15 if slot else 0,
    )


def invitation_of(mail: Mail) -> icalendar.Calendar:
    """The .ics the mail carries, read back from its MIME form as a mail client would."""
    raw = bytes(build_message(mail, "MAIS <bookings@mais.local>"))
    parsed = email.message_from_bytes(raw, policy=email_policy.default)
    files = [part for part in parsed.walk() if part.get_content_disposition() == "attachment"]
    assert [(f.get_filename(), f.get_content_type()) for f in files] == [("booking.ics", "text/calendar")]
    assert files[0].get_param("method") == "PUBLISH"
    content = files[0].get_payload(decode=True)
    assert isinstance(content, bytes)
    return icalendar.Calendar.from_ical(content)


def only_event(document: icalendar.Calendar) -> Any:
    events = document.walk("VEVENT")
    assert len(events) == 1
    return events[0]


def test_a_slot_confirmation_says_the_day_and_times_in_the_business_zone() -> None:
    slot = booking(starts_at=datetime(2027, 6, 12, 12, 0, tzinfo=UTC))  # 14:00 in Berlin (CEST)
    mail = emails.confirmation(slot, "Rose & Oak", LINK, zone=BERLIN)
    when = "Saturday 12 June 2027, 14:00\u201315:30 (Europe/Berlin)"
    assert when in mail.text and when in mail.html
    # The subject has the start only, in ASCII, so a mail client reads it exactly as written.
    assert mail.subject == "Rose & Oak: your booking for Saturday 12 June 2027 at 14:00 is confirmed"
    parsed = email.message_from_bytes(
        bytes(build_message(mail, "MAIS <b@mais.local>")), policy=email_policy.default
    )
    assert str(parsed["Subject"]).strip() == mail.subject


def test_a_whole_day_reads_as_before() -> None:
    mail = emails.confirmation(booking(), "Rose & Oak", LINK, zone=BERLIN)
    assert "your booking for Saturday 12 June 2027 is confirmed" in mail.subject
    assert "(Europe/Berlin)" not in mail.text


def test_every_email_about_a_slot_names_its_times() -> None:
    slot = booking(starts_at=datetime(2027, 6, 12, 12, 0, tzinfo=UTC))
    when = "Saturday 12 June 2027, 14:00\u201315:30 (Europe/Berlin)"
    admins = [AdminContact("owner@rose.example")]
    for mail in (
        emails.cancellation(slot, "Rose & Oak", zone=BERLIN),
        emails.refund(slot, "Rose & Oak", 1000, "re_1", zone=BERLIN),
        emails.hold_lost_refund(slot, "Rose & Oak", 1000, "re_1", zone=BERLIN),
        emails.reminder(slot, "Rose & Oak", LINK, 7, zone=BERLIN),
        emails.admin_new_booking(slot, "Rose & Oak", admins, zone=BERLIN),
        emails.admin_couple_cancelled(slot, "Rose & Oak", admins, zone=BERLIN),
    ):
        assert when in mail.text, mail.tag


def test_a_slot_past_midnight_names_the_end_day_too() -> None:
    late = booking(starts_at=datetime(2027, 6, 12, 21, 0, tzinfo=UTC))  # 23:00 to 00:30 in Berlin
    assert emails.when_for_people(late, BERLIN) == (
        "Saturday 12 June 2027, 23:00 to Sunday 13 June 2027, 00:30 (Europe/Berlin)"
    )


def test_a_slot_across_berlins_spring_forward_lasts_its_ninety_minutes() -> None:
    # 28 March 2027: 02:00 CET jumps to 03:00 CEST. 01:00 CET (00:00Z) + 90 min = 03:30 CEST.
    slot = booking(starts_at=datetime(2027, 3, 28, 0, 0, tzinfo=UTC))
    assert emails.when_for_people(slot, BERLIN) == "Sunday 28 March 2027, 01:00\u201303:30 (Europe/Berlin)"
    event = only_event(invitation_of(emails.confirmation(slot, "Rose & Oak", LINK, zone=BERLIN)))
    assert event.decoded("DTSTART") == datetime(2027, 3, 28, 0, 0, tzinfo=UTC)
    assert event.decoded("DTEND") == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)


def test_new_yorks_repeated_hour_gives_two_slots_their_own_instants() -> None:
    # 7 November 2027: 01:00-02:00 happens twice (EDT, then EST); both read "01:30" on the clock.
    first = booking(starts_at=datetime(2027, 11, 7, 5, 30, tzinfo=UTC), minutes=60, zone=NEW_YORK)
    second = booking(starts_at=datetime(2027, 11, 7, 6, 30, tzinfo=UTC), minutes=60, zone=NEW_YORK)
    assert (
        emails.when_for_people(first, NEW_YORK)
        == "Sunday 7 November 2027, 01:30\u201301:30 (America/New_York)"
    )
    starts = [
        only_event(invitation_of(emails.confirmation(b, "Hudson", LINK, zone=NEW_YORK))).decoded("DTSTART")
        for b in (first, second)
    ]
    assert starts == [datetime(2027, 11, 7, 5, 30, tzinfo=UTC), datetime(2027, 11, 7, 6, 30, tzinfo=UTC)]


def test_the_confirmation_invitation_is_one_published_event_named_by_the_booking() -> None:
    slot = booking(starts_at=datetime(2027, 6, 12, 12, 0, tzinfo=UTC))
    document = invitation_of(emails.confirmation(slot, "Rose & Oak", LINK, zone=BERLIN))
    assert document["METHOD"] == "PUBLISH" and document["VERSION"] == "2.0"
    event = only_event(document)
    assert str(event["UID"]) == slot.id
    assert str(event["SUMMARY"]) == "Portrait session with Rose & Oak"
    # The couple's times, not the buffers the business keeps around them.
    assert event.decoded("DTSTART") == datetime(2027, 6, 12, 12, 0, tzinfo=UTC)
    assert event.decoded("DTEND") == datetime(2027, 6, 12, 13, 30, tzinfo=UTC)
    assert LINK in str(event["DESCRIPTION"])


def test_a_whole_day_invitation_is_an_all_day_event() -> None:
    event = only_event(invitation_of(emails.confirmation(booking(), "Rose & Oak", LINK, zone=BERLIN)))
    assert event.decoded("DTSTART") == date(2027, 6, 12)
    assert event.decoded("DTEND") == date(2027, 6, 13)
    assert "VALUE=DATE" in event.to_ical().decode()


def test_a_deposit_receipt_carries_the_invitation_too() -> None:
    schedule = [
        Instalment(1, "DEPOSIT", 5000, "eur", date(2027, 1, 5), "PAID", paid_cents=5000),
        Instalment(2, "BALANCE", 20000, "eur", date(2027, 5, 1), "DUE"),
    ]
    slot = booking(starts_at=datetime(2027, 6, 12, 12, 0, tzinfo=UTC))
    mail = emails.confirmation(slot, "Rose & Oak", LINK, schedule=schedule, zone=BERLIN)
    assert "deposit" in mail.subject
    assert only_event(invitation_of(mail)).decoded("DTSTART") == datetime(2027, 6, 12, 12, 0, tzinfo=UTC)


def test_a_hostile_name_cannot_break_out_of_the_invitation() -> None:
    slot = booking(starts_at=datetime(2027, 6, 12, 12, 0, tzinfo=UTC))
    hostile = replace(
        slot, quote=replace(slot.quote, document={"lines": [{"kind": "package", "title": "X\r\nEND:VEVENT"}]})
    )
    document = invitation_of(emails.confirmation(hostile, "Studio;One,\nBEGIN:VALARM", LINK, zone=BERLIN))
    event = only_event(document)
    assert str(event["SUMMARY"]) == "X\nEND:VEVENT with Studio;One,\nBEGIN:VALARM"
    assert not event.walk("VALARM")


def test_the_feed_gives_slots_their_instants_and_days_their_dates() -> None:
    text = feed_calendar(
        "Rose & Oak",
        [
            FeedEvent("bk_day", date(2027, 3, 27), "Cleo", "Whole day"),
            FeedEvent(
                "bk_slot",
                date(2027, 3, 28),
                "Ana & Bo",
                "Portrait session",
                datetime(2027, 3, 28, 0, 0, tzinfo=UTC),
                datetime(2027, 3, 28, 1, 30, tzinfo=UTC),
            ),
        ],
        datetime(2027, 1, 5, tzinfo=UTC),
    )
    events = {str(e["UID"]): e for e in icalendar.Calendar.from_ical(text).walk("VEVENT")}
    assert events["bk_day"].decoded("DTSTART") == date(2027, 3, 27)
    assert events["bk_slot"].decoded("DTSTART") == datetime(2027, 3, 28, 0, 0, tzinfo=UTC)
    assert events["bk_slot"].decoded("DTEND") == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)


def test_an_attachment_survives_the_outbox_row() -> None:
    attachment = Attachment("booking.ics", "text/calendar; method=PUBLISH", b"BEGIN:VCALENDAR\r\n\xc3\xa9")
    assert Attachment.from_json(json.loads(json.dumps(attachment.as_json()))) == attachment


async def test_the_eml_sink_writes_the_attachment(tmp_path: Path) -> None:
    mail = emails.confirmation(
        booking(starts_at=datetime(2027, 6, 12, 12, 0, tzinfo=UTC)), "Rose & Oak", LINK, zone=BERLIN
    )
    await FileMailer(tmp_path, "MAIS <bookings@mais.local>").send(mail)
    (written,) = tmp_path.glob("*.eml")
    parsed = email.message_from_bytes(written.read_bytes(), policy=email_policy.default)
    (ics,) = [p for p in parsed.walk() if p.get_filename() == "booking.ics"]
    assert ics.get_payload(decode=True) == mail.attachments[0].content


async def test_postmark_is_sent_the_attachment_as_base64(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json={"ErrorCode": 0})

    real_client = httpx.AsyncClient
    monkeypatch.setattr(
        httpx, "AsyncClient", lambda **kwargs: real_client(transport=httpx.MockTransport(answer), **kwargs)
    )
    mail = emails.confirmation(booking(), "Rose & Oak", LINK, zone=BERLIN)
    await PostmarkMailer("token", "MAIS <bookings@mais.local>", "https://postmark.test/email", 5).send(mail)
    (sent,) = seen[0]["Attachments"]
    assert sent["Name"] == "booking.ics"
    assert sent["ContentType"].startswith("text/calendar")
    assert base64.b64decode(sent["Content"]) == mail.attachments[0].content
