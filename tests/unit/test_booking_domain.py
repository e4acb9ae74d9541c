"""Booking rules as plain Python: availability, policy defaults, the confirmation decision, the couple's
cancellation window and validation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from mais_runtime.errors import PreconditionFailed, ValidationError
from services.booking import domain
from services.booking.domain import (
    Booking,
    ConfirmOutcome,
    CoupleDetails,
    Policy,
    Quote,
    Reason,
    Status,
    TenantCalendar,
)

TODAY = date(2030, 5, 10)


def booking(status: Status, session: str = "", expires: datetime | None = None) -> Booking:
    now = datetime(2030, 5, 10, 12, tzinfo=UTC)
    return Booking(
        id="bk_" + "a" * 26,
        tenant_id="00000000-0000-0000-0000-000000000001",
        event_date=date(2030, 9, 1),
        status=status,
        customer_id="cu_1",
        couple_name="Ann & Bo",
        email="ann@example.com",
        phone="",
        notes="",
        quote=Quote("pkg", 1000, "usd", {}),
        payment_session_id=session,
        hold_expires_at=expires,
        amount_paid_cents=0,
        amount_refunded_cents=0,
        cancel_reason="",
        created_at=now,
        updated_at=now,
    )


def test_past_dates_are_past_whatever_else_occupies_them() -> None:
    yesterday = TODAY - timedelta(days=1)
    [answer] = domain.availability(
        yesterday, yesterday, today=TODAY, policy=Policy(), taken={yesterday: Reason.BOOKED}
    )
    assert answer.reason is Reason.PAST and not answer.available


def test_dates_inside_the_minimum_notice_or_beyond_the_maximum_advance_are_out_of_range() -> None:
    policy = Policy(min_notice_days=3, max_advance_days=30)
    answers = domain.availability(TODAY, TODAY + timedelta(days=31), today=TODAY, policy=policy, taken={})
    reasons = {a.day: a.reason for a in answers}
    assert reasons[TODAY] is Reason.OUT_OF_RANGE
    assert reasons[TODAY + timedelta(days=2)] is Reason.OUT_OF_RANGE
    assert reasons[TODAY + timedelta(days=3)] is None
    assert reasons[TODAY + timedelta(days=30)] is None
    assert reasons[TODAY + timedelta(days=31)] is Reason.OUT_OF_RANGE


def test_what_occupies_a_date_says_more_than_the_notice_window() -> None:
    policy = Policy(min_notice_days=5)
    day = TODAY + timedelta(days=1)
    [answer] = domain.availability(day, day, today=TODAY, policy=policy, taken={day: Reason.HELD})
    assert answer.reason is Reason.HELD


def test_a_single_date_and_the_range_containing_it_always_agree() -> None:
    policy = Policy(min_notice_days=2, max_advance_days=20)
    taken = {
        TODAY + timedelta(days=4): Reason.BOOKED,
        TODAY + timedelta(days=5): Reason.HELD,
        TODAY + timedelta(days=6): Reason.BLACKOUT,
        TODAY - timedelta(days=1): Reason.BLACKOUT,
    }
    first, last = TODAY - timedelta(days=3), TODAY + timedelta(days=25)
    whole = domain.availability(first, last, today=TODAY, policy=policy, taken=taken)
    for answer in whole:
        [single] = domain.availability(answer.day, answer.day, today=TODAY, policy=policy, taken=taken)
        assert single == answer
    assert {a.reason for a in whole} == {None, *Reason}


def test_the_tenants_today_follows_its_time_zone() -> None:
    calendar = TenantCalendar("t", "Studio", "Pacific/Auckland", Policy())
    instant = datetime(2030, 5, 10, 13, 0, tzinfo=UTC)  # already 11 May in Auckland
    assert calendar.today(instant) == date(2030, 5, 11)
    assert TenantCalendar("t", "Studio", "Not/AZone", Policy()).today(instant) == date(2030, 5, 10)


def test_holds_last_at_least_thirty_minutes_and_at_most_a_day() -> None:
    policy = Policy.from_settings(
        min_notice_days=0, max_advance_days=0, hold_minutes=5, reminder_days=0, couple_cancel_days=0
    )
    assert (policy.hold_minutes, policy.reminder_days) == (31, 0)
    longer = Policy.from_settings(
        min_notice_days=1, max_advance_days=400, hold_minutes=45, reminder_days=3, couple_cancel_days=14
    )
    assert (longer.hold_minutes, longer.reminder_days, longer.couple_cancel_days) == (45, 3, 14)
    assert (
        Policy.from_settings(
            min_notice_days=0, max_advance_days=0, hold_minutes=100_000, reminder_days=0, couple_cancel_days=0
        ).hold_minutes
        == 24 * 60
    )


def test_confirming_with_the_same_session_again_is_already_confirmed() -> None:
    confirmed = booking(Status.CONFIRMED, "cs_1")
    assert (
        domain.decide_confirmation(
            confirmed, "cs_1", amount_paid_cents=1000, date_taken_by_other=False, blacked_out=False
        )
        is ConfirmOutcome.ALREADY_CONFIRMED
    )
    assert (
        domain.decide_confirmation(
            confirmed, "cs_2", amount_paid_cents=1000, date_taken_by_other=False, blacked_out=False
        )
        is ConfirmOutcome.HOLD_LOST
    )


@pytest.mark.parametrize("status", [Status.HELD, Status.RELEASED])
def test_a_payment_confirms_while_nobody_else_took_the_date(status: Status) -> None:
    held = booking(status, "cs_1", datetime(2000, 1, 1, tzinfo=UTC))
    assert (
        domain.decide_confirmation(
            held, "cs_1", amount_paid_cents=1000, date_taken_by_other=False, blacked_out=False
        )
        is ConfirmOutcome.CONFIRM
    )
    assert (
        domain.decide_confirmation(
            held, "cs_1", amount_paid_cents=1000, date_taken_by_other=True, blacked_out=False
        )
        is ConfirmOutcome.HOLD_LOST
    )
    assert (
        domain.decide_confirmation(
            held, "cs_1", amount_paid_cents=1000, date_taken_by_other=False, blacked_out=True
        )
        is ConfirmOutcome.HOLD_LOST
    )


def test_a_payment_for_a_cancelled_booking_is_refunded_as_lost() -> None:
    assert (
        domain.decide_confirmation(
            booking(Status.CANCELLED),
            "cs",
            amount_paid_cents=1000,
            date_taken_by_other=False,
            blacked_out=False,
        )
        is ConfirmOutcome.HOLD_LOST
    )


def test_a_retried_payment_of_a_booking_it_confirmed_and_the_tenant_cancelled_changes_nothing() -> None:
    # The tenant cancelled with no refund; Stripe retrying the event must not refund behind its back.
    cancelled = booking(Status.CANCELLED, "cs_1")
    decided = domain.decide_confirmation(
        cancelled, "cs_1", amount_paid_cents=1000, date_taken_by_other=False, blacked_out=False
    )
    assert decided is ConfirmOutcome.ALREADY_CONFIRMED


def test_a_payment_of_another_amount_than_the_quote_never_confirms() -> None:
    held = booking(Status.HELD, "cs_1")
    for paid in (999, 1001, 0):
        decided = domain.decide_confirmation(
            held, "cs_1", amount_paid_cents=paid, date_taken_by_other=False, blacked_out=False
        )
        assert decided is ConfirmOutcome.HOLD_LOST


def test_the_couple_may_cancel_only_inside_the_tenants_window() -> None:
    confirmed = booking(Status.CONFIRMED)  # event on 2030-09-01
    policy = Policy(couple_cancel_days=14)
    assert domain.check_cancel(confirmed, actor="couple", today=date(2030, 8, 18), policy=policy)
    with pytest.raises(PreconditionFailed):
        domain.check_cancel(confirmed, actor="couple", today=date(2030, 8, 19), policy=policy)
    with pytest.raises(PreconditionFailed):
        domain.check_cancel(confirmed, actor="couple", today=TODAY, policy=Policy(couple_cancel_days=0))
    # The tenant is not bound by the couple's window.
    assert domain.check_cancel(confirmed, actor="tenant_admin:u1", today=date(2030, 8, 31), policy=policy)
    assert not domain.check_cancel(booking(Status.CANCELLED), actor="couple", today=TODAY, policy=policy)


def test_the_couples_view_of_the_window_is_the_rule_their_cancellation_applies() -> None:
    policy = Policy(couple_cancel_days=14)  # event on 2030-09-01: the last day is 2030-08-18
    for today in (date(2030, 8, 17), date(2030, 8, 18), date(2030, 8, 19), date(2030, 9, 1)):
        seen = domain.couple_cancellation(booking(Status.CONFIRMED), today=today, policy=policy)
        assert seen.last_day == date(2030, 8, 18)
        try:
            allowed = domain.check_cancel(
                booking(Status.CONFIRMED), actor="couple", today=today, policy=policy
            )
        except PreconditionFailed:
            allowed = False
        assert seen.allowed_now is allowed is (today <= date(2030, 8, 18))
    # Only a confirmed booking can be cancelled, whatever the day.
    for status in (Status.HELD, Status.RELEASED, Status.CANCELLED):
        seen = domain.couple_cancellation(booking(status), today=date(2030, 8, 1), policy=policy)
        assert (seen.allowed_now, seen.last_day) == (False, date(2030, 8, 18))
    never = domain.couple_cancellation(
        booking(Status.CONFIRMED), today=date(2030, 1, 1), policy=Policy(couple_cancel_days=0)
    )
    assert (never.allowed_now, never.last_day) == (False, None)


def test_only_a_hold_can_be_released() -> None:
    assert domain.check_release(booking(Status.HELD))
    assert not domain.check_release(booking(Status.RELEASED))
    with pytest.raises(PreconditionFailed):
        domain.check_release(booking(Status.CONFIRMED))


def test_the_reminder_goes_out_in_the_morning_of_the_tenants_day() -> None:
    calendar = TenantCalendar("t", "Studio", "Europe/Paris", Policy(reminder_days=7))
    at = domain.reminder_time(date(2030, 9, 1), calendar, datetime(2030, 5, 1, tzinfo=UTC))
    assert at == datetime(2030, 8, 25, 7, 0, tzinfo=UTC)  # 09:00 in Paris, summer time
    assert domain.reminder_time(date(2030, 5, 3), calendar, datetime(2030, 5, 1, tzinfo=UTC)) is None
    no_reminders = TenantCalendar("t", "Studio", "UTC", Policy(reminder_days=0))
    assert domain.reminder_time(date(2030, 9, 1), no_reminders, datetime(2030, 5, 1, tzinfo=UTC)) is None


def test_refund_totals_never_go_down_nor_exceed_the_payment() -> None:
    assert domain.refund_total(1000, 600, 400) == 600
    assert domain.refund_total(1000, 600, 1000) == 1000
    with pytest.raises(ValidationError):
        domain.refund_total(1000, 0, 1001)


def test_couple_details_are_normalised_and_every_mistake_is_named() -> None:
    details = CoupleDetails.checked(name="  Ann ", email=" Ann@Example.COM ", phone="", notes="")
    assert (details.name, details.email) == ("Ann", "ann@example.com")
    with pytest.raises(ValidationError) as caught:
        CoupleDetails.checked(name="", email="not-an-email", phone="x" * 41, notes="")
    assert [f.field for f in caught.value.fields] == ["coupleName", "email", "phone"]
    with pytest.raises(ValidationError) as injected:
        CoupleDetails.checked(name="Ann\r\nBcc: x@evil.test", email="a@b.co", phone="", notes="")
    assert [f.field for f in injected.value.fields] == ["coupleName"]


@pytest.mark.parametrize("value", ["2030-02-30", "2030-2-1", "tomorrow", "20300201", ""])
def test_malformed_dates_are_validation_errors_naming_the_field(value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        domain.parse_date(value, "date")
    assert caught.value.fields[0].field == "date"


def test_ranges_are_at_most_366_days_and_in_order() -> None:
    assert domain.parse_range("2030-01-01", "2031-01-01") == (date(2030, 1, 1), date(2031, 1, 1))
    with pytest.raises(ValidationError):
        domain.parse_range("2030-01-01", "2031-01-02")
    with pytest.raises(ValidationError):
        domain.parse_range("2030-01-02", "2030-01-01")


def test_booking_ids_are_random_and_unguessable() -> None:
    ids = {domain.new_booking_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.startswith("bk_") and len(i) == 29 for i in ids)


@pytest.mark.parametrize("actor", ["couple", "system", "payments", "tenant_admin:usr_1", "platform_admin:42"])
def test_known_actors_are_accepted(actor: str) -> None:
    assert domain.parse_actor(actor) == actor


@pytest.mark.parametrize("actor", ["", "admin", "tenant_admin:", "couple\nx"])
def test_unknown_actors_are_refused(actor: str) -> None:
    with pytest.raises(ValidationError):
        domain.parse_actor(actor)
