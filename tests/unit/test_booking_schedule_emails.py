"""The payment schedule's emails as the couple reads them: what was paid, what is due when, the link
to pay, what happens when a balance stays unpaid; and the checks on what payments reports."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from mais_runtime.errors import ValidationError
from mais_runtime.payment_policy import OverdueAction
from services.booking import emails, schedules
from services.booking.domain import (
    AdminContact,
    Booking,
    ConfirmOutcome,
    Quote,
    Status,
    decide_confirmation,
)
from services.booking.schedules import Instalment, InstalmentPayment, Notice, ScheduleNotice

BOOKING = "bk_" + "s" * 26
LINK = "https://book.example/booking/bk_x?token=t0k"
EVENT = date(2027, 6, 12)
DEPOSIT_PAID = Instalment(1, "DEPOSIT", 30000, "usd", date(2026, 12, 1), "PAID", paid_cents=30000)
BALANCE_DUE = Instalment(2, "BALANCE", 120000, "usd", date(2027, 5, 13))
SCHEDULE = (DEPOSIT_PAID, BALANCE_DUE)


def booking(**changes: object) -> Booking:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    base = Booking(
        id=BOOKING,
        tenant_id="6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab",
        event_date=EVENT,
        status=Status.CONFIRMED,
        customer_id="cu_1",
        couple_name="Ana & Bo",
        email="ana@example.com",
        phone="",
        notes="",
        quote=Quote(
            "pkg_1",
            150000,
            "usd",
            {"lines": [{"title": "Full day", "priceCents": 150000}], "totalCents": 150000},
        ),
        payment_session_id="cs_deposit",
        hold_expires_at=None,
        amount_paid_cents=30000,
        amount_refunded_cents=0,
        cancel_reason="",
        created_at=now,
        updated_at=now,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_the_confirmation_of_a_deposit_is_its_receipt_with_the_balance_and_where_to_pay_it() -> None:
    mail = emails.confirmation(booking(), "Rose & Oak", LINK, schedule=SCHEDULE)
    assert mail.subject == "Rose & Oak: your deposit is received and Saturday 12 June 2027 is booked"
    assert "received your deposit of 300.00 USD and confirmed your booking for Saturday 12 June 2027" in (
        mail.text
    )
    assert "  Deposit: 300.00 USD, paid" in mail.text
    assert "  Balance: 1,200.00 USD, due Thursday 13 May 2027" in mail.text
    assert "Still to pay: 1,200.00 USD by Thursday 13 May 2027." in mail.text
    assert LINK in mail.text and LINK in mail.html
    assert mail.message_id == f"confirmation:{BOOKING}"


def test_a_booking_paid_in_full_keeps_the_plain_confirmation() -> None:
    full = (Instalment(1, "FULL", 150000, "usd", date(2026, 12, 1), "PAID", paid_cents=150000),)
    mail = emails.confirmation(booking(amount_paid_cents=150000), "Rose & Oak", LINK, schedule=full)
    assert mail.subject == "Rose & Oak: your booking for Saturday 12 June 2027 is confirmed"
    assert "Paid: 1,500.00 USD" in mail.text
    assert "Still to pay" not in mail.text


def test_the_reminder_says_what_is_due_when_and_links_to_pay() -> None:
    mail = emails.balance_reminder(
        booking(), "Rose & Oak", LINK, BALANCE_DUE, SCHEDULE, due_today=False, key="k1"
    )
    assert mail.subject == "Rose & Oak: your balance of 1,200.00 USD is due on Thursday 13 May 2027"
    assert "the balance of 1,200.00 USD is due on Thursday 13 May 2027." in mail.text
    assert LINK in mail.text and "Pay the balance" in mail.html
    today = emails.balance_reminder(
        booking(), "Rose & Oak", LINK, BALANCE_DUE, SCHEDULE, due_today=True, key="k2"
    )
    assert today.subject == "Rose & Oak: your balance of 1,200.00 USD is due today"
    assert today.tag == "booking.balance_due_today" and mail.tag == "booking.balance_reminder"


def test_the_overdue_notice_says_what_happens_after_grace_and_on_which_day() -> None:
    overdue = replace(BALANCE_DUE, status="OVERDUE")
    cancels = emails.balance_overdue(
        booking(),
        "Rose & Oak",
        LINK,
        overdue,
        SCHEDULE,
        consequence=schedules.overdue_consequence(OverdueAction.CANCEL_KEEP_DEPOSIT),
        action_date=date(2027, 5, 17),
        key="k",
    )
    assert cancels.subject == "Rose & Oak: your balance of 1,200.00 USD is overdue"
    assert "was due on Thursday 13 May 2027, and it has not been paid yet." in cancels.text
    assert (
        "If it is still unpaid on Monday 17 May 2027, the booking will be cancelled and the deposit kept."
        in cancels.text
    )
    reminds = emails.balance_overdue(
        booking(), "Rose & Oak", LINK, overdue, SCHEDULE, consequence="", action_date=None, key="k"
    )
    assert "Please pay it as soon as you can" in reminds.text
    assert "cancelled" not in reminds.text


def test_the_balance_receipt_says_the_booking_is_paid_in_full_or_what_is_left() -> None:
    paid = (DEPOSIT_PAID, replace(BALANCE_DUE, status="PAID", paid_cents=120000))
    mail = emails.balance_receipt(
        booking(amount_paid_cents=150000), "Rose & Oak", LINK, 120000, paid, offline=False, note="", key="k"
    )
    assert mail.subject == "Rose & Oak: thank you, your payment of 1,200.00 USD is received"
    assert "You have now paid in full." in mail.text
    offline = emails.balance_receipt(
        booking(amount_paid_cents=150000),
        "Rose & Oak",
        LINK,
        120000,
        paid,
        offline=True,
        note="Bank transfer <ref 42>",
        key="k",
    )
    assert "Rose & Oak has recorded your payment of 1,200.00 USD" in offline.text
    assert "Bank transfer &lt;ref 42&gt;" in offline.html and "<ref 42>" not in offline.html


def test_a_moved_due_date_is_told_with_the_new_date_and_the_businesss_note() -> None:
    moved = replace(BALANCE_DUE, due_date=date(2027, 6, 1))
    mail = emails.due_date_moved(
        booking(), "Rose & Oak", LINK, moved, (DEPOSIT_PAID, moved), note="As agreed on the phone", key="k"
    )
    assert mail.subject == "Rose & Oak: your balance of 1,200.00 USD is now due on Tuesday 1 June 2027"
    assert "Their note: As agreed on the phone" in mail.text


def test_a_cancellation_for_non_payment_says_so_in_plain_words() -> None:
    mail = emails.cancellation(booking(status=Status.CANCELLED, cancel_reason="balance_unpaid"), "Rose & Oak")
    assert "the balance was not paid by its due date" in mail.text
    assert "balance_unpaid" not in mail.text and "balance_unpaid" not in mail.html


def test_a_deposit_confirms_a_booking_only_when_it_is_the_schedules_first_instalment() -> None:
    held = booking(status=Status.HELD, amount_paid_cents=0)
    due = schedules.first_payment_cents(SCHEDULE, 150000)

    def decide(paid: int) -> ConfirmOutcome:
        return decide_confirmation(
            held,
            "cs_deposit",
            amount_paid_cents=paid,
            date_taken_by_other=False,
            blacked_out=False,
            amount_due_cents=due,
        )

    assert decide(30000) is ConfirmOutcome.CONFIRM
    assert decide(150000) is ConfirmOutcome.HOLD_LOST
    assert schedules.first_payment_cents((), 150000) == 150000


def test_a_schedule_that_does_not_add_up_to_the_total_is_refused() -> None:
    schedules.check_schedule(SCHEDULE, total_cents=150000, currency="usd")
    with pytest.raises(ValidationError):
        schedules.check_schedule(SCHEDULE, total_cents=150001, currency="usd")
    with pytest.raises(ValidationError):
        schedules.check_schedule((BALANCE_DUE, DEPOSIT_PAID), total_cents=150000, currency="usd")
    with pytest.raises(ValidationError):
        schedules.check_schedule(SCHEDULE, total_cents=150000, currency="eur")


def test_a_payment_report_is_keyed_by_its_session_or_its_request() -> None:
    online = InstalmentPayment(2, 120000, 150000, SCHEDULE, "payments", session_id="cs_bal")
    offline = InstalmentPayment(2, 120000, 150000, SCHEDULE, "tenant_admin:u1", request_id="req-1")
    assert online.effect_key == "paid:cs_bal" and offline.effect_key == "paid-offline:req-1"
    with pytest.raises(ValidationError):
        InstalmentPayment(2, 120000, 150000, SCHEDULE, "payments").checked()
    with pytest.raises(ValidationError):
        InstalmentPayment(2, 120000, 100, SCHEDULE, "payments", session_id="cs").checked()
    notice = ScheduleNotice(Notice.WAIVED, BALANCE_DUE, SCHEDULE, "tenant_admin:u1", "r", note="gift")
    assert schedules.notice_recorded(notice.kind, notice.instalment, note=notice.note) == (
        "balance of 1,200.00 USD waived: gift"
    )
    assert not Notice.WAIVED.emailed and Notice.OVERDUE.emailed


def test_the_business_hears_that_a_booking_was_cancelled_for_its_unpaid_balance() -> None:
    mail = emails.admin_cancelled_for_non_payment(
        booking(status=Status.CANCELLED, cancel_reason="balance_unpaid"),
        "Rose & Oak",
        (AdminContact("owner@rose.example"),),
    )
    assert mail.subject == "Rose & Oak: Saturday 12 June 2027 cancelled, balance unpaid"
    assert "was cancelled automatically: the balance was not paid" in mail.text
    assert "Paid before: 300.00 USD." in mail.text
    assert mail.to == "owner@rose.example"


def test_the_instalment_a_payment_paid_is_shown_paid_whatever_the_copy_said() -> None:
    sent = (replace(DEPOSIT_PAID, status="DUE", paid_cents=0), BALANCE_DUE)
    shown = schedules.with_paid(sent, 1)
    assert [(i.status, i.paid_cents) for i in shown] == [("PAID", 30000), ("DUE", 0)]
    full = (Instalment(1, "FULL", 150000, "usd", date(2026, 12, 1)),)
    mail = emails.confirmation(
        booking(amount_paid_cents=150000), "Rose & Oak", LINK, schedule=schedules.with_paid(full, 1)
    )
    assert "is confirmed" in mail.subject and "Still to pay" not in mail.text
