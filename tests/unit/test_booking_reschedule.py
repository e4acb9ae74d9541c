"""Rescheduling's rules without I/O: which target a booking of each kind takes, who may move it when,
what history says, and the couple's "your booking moved" email (issue 16)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from mais_runtime.errors import PreconditionFailed, ValidationError
from services.booking import domain, emails, moves
from services.booking.domain import Booking, Policy, RescheduleTarget, Status
from tests.unit.test_booking_domain import booking

BERLIN = ZoneInfo("Europe/Berlin")


def slot_booking(start: datetime) -> Booking:
    return replace(
        booking(Status.CONFIRMED),
        kind="SLOT",
        event_date=start.astimezone(BERLIN).date(),
        starts_at=start,
        ends_at=start + timedelta(minutes=90),
        resource_id="3f0c4e8e-1111-4222-8333-444455556666",
        buffer_before_minutes=15,
        quote=replace(
            booking(Status.CONFIRMED).quote,
            document={"slot": {"durationMinutes": 90, "bufferBeforeMinutes": 15, "intervalMinutes": "30"}},
        ),
    )


def test_a_whole_day_moves_by_date_and_a_slot_by_its_start_naming_the_field_otherwise() -> None:
    day = booking(Status.CONFIRMED)
    slot = slot_booking(datetime(2030, 6, 12, 12, tzinfo=UTC))
    assert RescheduleTarget.checked(day, day=date(2030, 9, 8), starts_at=None).day == date(2030, 9, 8)
    with pytest.raises(ValidationError) as caught:
        RescheduleTarget.checked(day, day=None, starts_at=datetime(2030, 9, 8, tzinfo=UTC))
    assert caught.value.fields[0].field == "startsAt"
    with pytest.raises(ValidationError) as caught:
        RescheduleTarget.checked(slot, day=date(2030, 6, 13), starts_at=None)
    assert caught.value.fields[0].field == "eventDate"
    target = RescheduleTarget.checked(slot, day=None, starts_at=datetime(2030, 6, 12, 14, tzinfo=BERLIN))
    assert target.is_where(slot)


def test_only_a_confirmed_booking_moves_and_the_couple_only_inside_their_cancellation_window() -> None:
    confirmed = booking(Status.CONFIRMED)  # 1 September 2030
    policy = Policy(couple_cancel_days=14)
    domain.check_reschedule(confirmed, actor="couple", today=date(2030, 8, 18), policy=policy)
    with pytest.raises(PreconditionFailed) as caught:
        domain.check_reschedule(confirmed, actor="couple", today=date(2030, 8, 19), policy=policy)
    assert caught.value.reason == "CANCELLATION_WINDOW_CLOSED"
    # The business may move it whenever; nobody moves a hold.
    domain.check_reschedule(confirmed, actor="tenant_admin:u_1", today=date(2030, 8, 31), policy=policy)
    with pytest.raises(PreconditionFailed):
        domain.check_reschedule(
            booking(Status.HELD), actor="tenant_admin:u_1", today=date(2030, 8, 1), policy=policy
        )


def test_a_slot_keeps_its_quoted_terms_on_its_resource() -> None:
    slot = slot_booking(datetime(2030, 6, 12, 12, tzinfo=UTC))
    terms = moves.slot_terms_of(slot)
    assert (terms.duration_minutes, terms.buffer_before_minutes, terms.interval_minutes) == (90, 15, 30)
    assert terms.resource_id == slot.resource_id


def test_the_moved_email_says_where_it_was_and_where_it_is_now_in_the_business_zone() -> None:
    before = slot_booking(datetime(2030, 6, 12, 12, tzinfo=UTC))
    after = replace(
        before,
        starts_at=datetime(2030, 6, 15, 7, tzinfo=UTC),
        ends_at=datetime(2030, 6, 15, 8, 30, tzinfo=UTC),
        couple_name="Ann <& Bo>",
    )
    mail = emails.booking_moved(
        before, after, "Rose & Oak", "https://x.example/booking/1?token=t", zone=BERLIN, key="moved:1:r"
    )
    assert "Was: Wednesday 12 June 2030, 14:00\u201315:30 (Europe/Berlin)" in mail.text
    assert "Now: Saturday 15 June 2030, 09:00\u201310:30 (Europe/Berlin)" in mail.text
    assert "Ann &lt;&amp; Bo&gt;" in mail.html and "Ann <& Bo>" not in mail.html
    assert mail.message_id == "moved:1:r"
    assert moves.place_of(after, BERLIN) == "2030-06-15T09:00+02:00"
    assert domain.rescheduled("a", "b", "") == "rescheduled from a to b"
