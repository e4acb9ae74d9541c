"""Booking's side of payment schedules over the real store and PostgreSQL, through the servicer (the
proto translation included): a deposit confirms the booking, a later payment and each schedule notice
has its effect once per session or request id, even when the calls cross, and a booking cancelled
meanwhile records nothing (so payments refunds)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import asyncpg
import pytest
from mais.booking.v1 import booking_service_pb2 as pb
from mais.common.v1 import types_pb2

from mais_runtime.db import Database
from mais_runtime.errors import ValidationError
from services.booking.api import BookingServicer
from services.booking.domain import CoupleDetails, Policy, Quote, Status
from services.booking.hours import Hours
from services.booking.store import BookingStore
from services.booking.use_cases import Bookings
from tests.integration.booking_outbox import booking_outbox
from tests.integration.conftest import Cluster, service_database
from tests.integration.test_booking_store import FixedTenants, TenantsWithAdmins

DAY = date(2032, 6, 12)
TOTAL = 150000
DEPOSIT = 30000


@pytest.fixture(scope="module")
async def booking_db(cluster: Cluster) -> AsyncIterator[Database]:
    db = await service_database(cluster, "booking")
    yield db
    await db.close()


@pytest.fixture
def servicer(booking_db: Database) -> BookingServicer:
    bookings = Bookings(
        BookingStore(booking_db),
        FixedTenants(Policy(reminder_days=0, couple_cancel_days=1)),
        link_key=b"schedule-test-key",
        public_url="http://x.test",
    )
    return BookingServicer(bookings, Hours(bookings._store, bookings._tenants))


def instalment(
    seq: int, status: types_pb2.InstalmentStatus.ValueType = types_pb2.INSTALMENT_STATUS_DUE, **fields: Any
) -> types_pb2.Instalment:
    kind, amount, due = (
        (types_pb2.INSTALMENT_KIND_DEPOSIT, DEPOSIT, "2031-12-01")
        if seq == 1
        else (types_pb2.INSTALMENT_KIND_BALANCE, TOTAL - DEPOSIT, "2032-05-13")
    )
    return types_pb2.Instalment(
        seq=seq, kind=kind, amount_cents=amount, currency="usd", due_date=due, status=status, **fields
    )


DEPOSIT_PAID = instalment(
    1, types_pb2.INSTALMENT_STATUS_PAID, paid_cents=DEPOSIT, payment_session_id="cs_dep"
)


async def deposit_confirmed(servicer: BookingServicer, tenant: str, n: int = 0) -> str:
    """A booking of TOTAL held and confirmed on its deposit (the schedule's first instalment)."""
    bookings = servicer._bookings
    held = await bookings.hold(
        tenant,
        day=DAY.replace(day=1 + n),
        couple=CoupleDetails.checked(name="Ana & Bo", email=f"ana{n}@example.com", phone="", notes=""),
        quote=Quote.checked(
            package_id="pkg_1",
            total_cents=TOTAL,
            currency="usd",
            document={"packageId": "pkg_1", "totalCents": str(TOTAL), "currency": "usd", "lines": []},
        ),
        request_id="",
    )
    answer = await servicer.ConfirmBooking(
        pb.ConfirmBookingRequest(
            tenant_id=tenant,
            booking_id=held.booking.id,
            payment_session_id="cs_dep",
            amount_paid_cents=DEPOSIT,
            schedule=[DEPOSIT_PAID, instalment(2)],
        ),
        None,  # type: ignore[arg-type]
    )
    assert answer.outcome == pb.CONFIRM_OUTCOME_CONFIRMED
    assert answer.booking.amount_paid_cents == DEPOSIT
    return held.booking.id


async def mails(admin: asyncpg.Connection, booking_id: str) -> list[tuple[str, str]]:
    rows = await booking_outbox(admin, "dedupe_key LIKE '%' || $1 || '%'", booking_id)
    return [(r["tag"], r["subject"]) for r in rows]


async def history(admin: asyncpg.Connection, booking_id: str) -> list[str]:
    rows = await admin.fetch(
        "SELECT actor, reason FROM booking.booking_history WHERE booking_id = $1 ORDER BY id", booking_id
    )
    return [f"{r['actor']}: {r['reason']}" for r in rows]


def balance_paid(
    tenant: str, booking_id: str, session: str = "cs_bal", **fields: Any
) -> pb.RecordInstalmentPaymentRequest:
    return pb.RecordInstalmentPaymentRequest(
        tenant_id=tenant,
        booking_id=booking_id,
        payment_session_id=session,
        amount_cents=TOTAL - DEPOSIT,
        total_paid_cents=TOTAL,
        schedule=[
            DEPOSIT_PAID,
            instalment(
                2, types_pb2.INSTALMENT_STATUS_PAID, paid_cents=TOTAL - DEPOSIT, payment_session_id=session
            ),
        ],
        actor="payments",
        **fields,
    )


async def test_a_deposit_confirms_the_booking_and_its_confirmation_is_the_deposits_receipt(
    servicer: BookingServicer, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    booking_id = await deposit_confirmed(servicer, new_tenant_id)
    [(tag, subject)] = await mails(admin, booking_id)
    assert tag == "booking.confirmation"
    assert subject == "Studio: your deposit is received and Tuesday 1 June 2032 is booked"
    [row] = await booking_outbox(admin, "dedupe_key = $1", f"confirmation:{booking_id}")
    text = row["text_body"]
    assert "Balance: 1,200.00 USD, due Thursday 13 May 2032" in text
    assert f"http://x.test/booking/{booking_id}?token=" in text


async def test_a_deposit_that_is_not_the_first_instalment_does_not_confirm(
    servicer: BookingServicer, new_tenant_id: str
) -> None:
    held = await servicer._bookings.hold(
        new_tenant_id,
        day=DAY,
        couple=CoupleDetails.checked(name="Cy", email="cy@example.com", phone="", notes=""),
        quote=Quote.checked(package_id="p", total_cents=TOTAL, currency="usd", document={}),
        request_id="",
    )
    answer = await servicer.ConfirmBooking(
        pb.ConfirmBookingRequest(
            tenant_id=new_tenant_id,
            booking_id=held.booking.id,
            payment_session_id="cs_dep",
            amount_paid_cents=DEPOSIT - 1,
            schedule=[DEPOSIT_PAID, instalment(2)],
        ),
        None,  # type: ignore[arg-type]
    )
    assert answer.outcome == pb.CONFIRM_OUTCOME_HOLD_LOST
    with pytest.raises(ValidationError):
        await servicer.ConfirmBooking(
            pb.ConfirmBookingRequest(
                tenant_id=new_tenant_id,
                booking_id=held.booking.id,
                payment_session_id="cs_dep",
                amount_paid_cents=DEPOSIT,
                schedule=[DEPOSIT_PAID],  # does not add up to the total
            ),
            None,  # type: ignore[arg-type]
        )


async def test_a_balance_payment_reported_ten_times_at_once_is_recorded_and_receipted_once(
    servicer: BookingServicer, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    booking_id = await deposit_confirmed(servicer, new_tenant_id)
    answers = await asyncio.gather(
        *(servicer.RecordInstalmentPayment(balance_paid(new_tenant_id, booking_id), None) for _ in range(10))  # type: ignore[arg-type]
    )
    outcomes = sorted(a.outcome for a in answers)
    assert outcomes == [pb.RECORD_PAYMENT_OUTCOME_RECORDED] + [pb.RECORD_PAYMENT_OUTCOME_ALREADY_RECORDED] * 9
    assert {a.booking.amount_paid_cents for a in answers} <= {DEPOSIT, TOTAL}
    booking = await servicer._bookings.get(new_tenant_id, booking_id)
    assert booking.amount_paid_cents == TOTAL
    sent = await mails(admin, booking_id)
    assert [tag for tag, _ in sent] == ["booking.confirmation", "booking.balance_receipt"]
    assert sent[1][1] == "Studio: thank you, your payment of 1,200.00 USD is received"
    assert (await history(admin, booking_id))[-1] == "payments: balance of 1,200.00 USD paid (session cs_bal)"


async def test_an_offline_payment_is_keyed_by_its_request_and_names_who_marked_it(
    servicer: BookingServicer, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    booking_id = await deposit_confirmed(servicer, new_tenant_id)
    request = pb.RecordInstalmentPaymentRequest(
        tenant_id=new_tenant_id,
        booking_id=booking_id,
        amount_cents=TOTAL - DEPOSIT,
        total_paid_cents=TOTAL,
        schedule=[
            DEPOSIT_PAID,
            instalment(2, types_pb2.INSTALMENT_STATUS_PAID, paid_cents=TOTAL - DEPOSIT, paid_offline=True),
        ],
        actor="tenant_admin:u_1",
        note="bank transfer",
        request_id="req-offline-1",
    )
    first = await servicer.RecordInstalmentPayment(request, None)  # type: ignore[arg-type]
    again = await servicer.RecordInstalmentPayment(request, None)  # type: ignore[arg-type]
    assert (first.outcome, again.outcome) == (
        pb.RECORD_PAYMENT_OUTCOME_RECORDED,
        pb.RECORD_PAYMENT_OUTCOME_ALREADY_RECORDED,
    )
    assert (await history(admin, booking_id))[-1] == (
        "tenant_admin:u_1: balance of 1,200.00 USD paid (marked paid offline: bank transfer)"
    )


async def test_a_balance_paid_after_the_booking_was_cancelled_is_not_recorded(
    servicer: BookingServicer, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    booking_id = await deposit_confirmed(servicer, new_tenant_id)
    await servicer._bookings.cancel(new_tenant_id, booking_id, actor="tenant_admin:u_1", reason="moved away")
    answer = await servicer.RecordInstalmentPayment(balance_paid(new_tenant_id, booking_id), None)  # type: ignore[arg-type]
    assert answer.outcome == pb.RECORD_PAYMENT_OUTCOME_BOOKING_NOT_CONFIRMED
    booking = await servicer._bookings.get(new_tenant_id, booking_id)
    assert booking.status is Status.CANCELLED and booking.amount_paid_cents == DEPOSIT
    assert "booking.balance_receipt" not in [tag for tag, _ in await mails(admin, booking_id)]


def notice(
    tenant: str, booking_id: str, kind: pb.ScheduleNotice.ValueType, request_id: str, **fields: Any
) -> pb.NotifyScheduleRequest:
    return pb.NotifyScheduleRequest(
        tenant_id=tenant,
        booking_id=booking_id,
        notice=kind,
        instalment=instalment(2),
        schedule=[DEPOSIT_PAID, instalment(2)],
        request_id=request_id,
        **{"actor": "system", **fields},
    )


async def test_each_schedule_notice_has_its_effect_once_per_request_id(
    servicer: BookingServicer, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    booking_id = await deposit_confirmed(servicer, new_tenant_id)
    reminder = notice(new_tenant_id, booking_id, pb.SCHEDULE_NOTICE_REMINDER, f"{booking_id}:2:1:2032-05-13")
    answers = await asyncio.gather(*(servicer.NotifySchedule(reminder, None) for _ in range(8)))  # type: ignore[arg-type]
    assert sorted(a.done for a in answers) == [False] * 7 + [True]
    overdue = notice(
        new_tenant_id,
        booking_id,
        pb.SCHEDULE_NOTICE_OVERDUE,
        f"{booking_id}:2:3:2032-05-13",
        overdue_action=types_pb2.OVERDUE_ACTION_CANCEL_REFUND_DEPOSIT,
        action_date="2032-05-17",
    )
    waived = notice(
        new_tenant_id,
        booking_id,
        pb.SCHEDULE_NOTICE_WAIVED,
        "waive-1",
        actor="tenant_admin:u_1",
        note="a gift",
    )
    for request in (overdue, overdue, waived, waived):
        await servicer.NotifySchedule(request, None)  # type: ignore[arg-type]
    assert [tag for tag, _ in await mails(admin, booking_id)] == [
        "booking.confirmation",
        "booking.balance_reminder",
        "booking.balance_overdue",
    ]
    [row] = await booking_outbox(
        admin, "tag = 'booking.balance_overdue' AND dedupe_key LIKE $1", f"%{booking_id}%"
    )
    text = row["text_body"]
    assert "If it is still unpaid on Monday 17 May 2032, the booking will be cancelled and everything" in text
    assert (await history(admin, booking_id))[-3:] == [
        "system: reminder sent: balance of 1,200.00 USD due 2032-05-13",
        "system: overdue notice sent: balance of 1,200.00 USD was due 2032-05-13",
        "tenant_admin:u_1: balance of 1,200.00 USD waived: a gift",
    ]


async def test_no_notice_reaches_a_cancelled_booking_and_a_bad_notice_names_its_field(
    servicer: BookingServicer, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    booking_id = await deposit_confirmed(servicer, new_tenant_id)
    await servicer._bookings.cancel(new_tenant_id, booking_id, actor="system", reason="balance_unpaid")
    answer = await servicer.NotifySchedule(
        notice(new_tenant_id, booking_id, pb.SCHEDULE_NOTICE_REMINDER, "r-1"),
        None,  # type: ignore[arg-type]
    )
    assert not answer.done
    tags = [tag for tag, _ in await mails(admin, booking_id)]
    assert tags == ["booking.confirmation", "booking.cancellation"]
    [row] = await booking_outbox(admin, "dedupe_key = $1", f"cancellation:{booking_id}")
    cancellation = row["text_body"]
    assert "the balance was not paid by its due date" in cancellation
    with pytest.raises(ValidationError) as missing:
        await servicer.NotifySchedule(
            notice(new_tenant_id, booking_id, pb.SCHEDULE_NOTICE_REMINDER, ""),
            None,  # type: ignore[arg-type]
        )
    assert missing.value.fields[0].field == "request_id"


async def test_the_business_is_told_when_the_system_cancels_for_an_unpaid_balance(
    booking_db: Database, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    told = BookingServicer(
        Bookings(
            BookingStore(booking_db),
            TenantsWithAdmins(Policy(reminder_days=0)),
            link_key=b"schedule-test-key",
            public_url="http://x.test",
        ),
        Hours(BookingStore(booking_db), TenantsWithAdmins(Policy(reminder_days=0))),
    )
    booking_id = await deposit_confirmed(told, new_tenant_id, n=5)
    await told._bookings.cancel(new_tenant_id, booking_id, actor="system", reason="balance_unpaid")
    await told._bookings.cancel(new_tenant_id, booking_id, actor="system", reason="balance_unpaid")
    sent = await mails(admin, booking_id)
    assert [tag for tag, _ in sent].count("booking.admin_cancellation") == 1
    assert "Studio: Sunday 6 June 2032 cancelled, balance unpaid" in [subject for _, subject in sent]


async def test_the_business_hears_of_a_balance_paid_through_stripe_once(
    booking_db: Database, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    told = BookingServicer(
        Bookings(
            BookingStore(booking_db),
            TenantsWithAdmins(Policy(reminder_days=0)),
            link_key=b"schedule-test-key",
            public_url="http://x.test",
        ),
        Hours(BookingStore(booking_db), TenantsWithAdmins(Policy(reminder_days=0))),
    )
    booking_id = await deposit_confirmed(told, new_tenant_id, n=7)
    for _ in range(3):
        await told.RecordInstalmentPayment(balance_paid(new_tenant_id, booking_id), None)  # type: ignore[arg-type]
    sent = await mails(admin, booking_id)
    assert [s for t, s in sent if t == "booking.admin_balance_paid"] == [
        "Studio: Ana & Bo paid 1,200.00 USD for Tuesday 8 June 2032"
    ]


async def test_the_confirmation_sent_again_with_a_balance_owed_is_the_deposits_receipt_again(
    servicer: BookingServicer, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    booking_id = await deposit_confirmed(servicer, new_tenant_id)
    for request_id, schedule in (
        ("resend-1", [DEPOSIT_PAID, instalment(2)]),
        ("resend-1", [DEPOSIT_PAID, instalment(2)]),  # a retry: nothing more
        ("resend-2", [DEPOSIT_PAID, instalment(2, types_pb2.INSTALMENT_STATUS_WAIVED)]),
    ):
        await servicer.ResendConfirmation(
            pb.ResendConfirmationRequest(
                tenant_id=new_tenant_id, booking_id=booking_id, request_id=request_id, schedule=schedule
            ),
            None,  # type: ignore[arg-type]
        )
    rows = await booking_outbox(admin, "dedupe_key LIKE 'confirmation:' || $1 || '%'", booking_id)
    assert [r["subject"] for r in rows] == [
        "Studio: your deposit is received and Tuesday 1 June 2032 is booked",
        "Studio: your deposit is received and Tuesday 1 June 2032 is booked",
        "Studio: your booking for Tuesday 1 June 2032 is confirmed",
    ]
    assert "Balance: 1,200.00 USD, due Thursday 13 May 2032" in rows[1]["text_body"]
    assert "Balance" not in rows[2]["text_body"]

    # A schedule that is not this booking's is refused, naming the field, and sends nothing.
    with pytest.raises(ValidationError) as refused:
        await servicer.ResendConfirmation(
            pb.ResendConfirmationRequest(
                tenant_id=new_tenant_id, booking_id=booking_id, request_id="resend-3", schedule=[DEPOSIT_PAID]
            ),
            None,  # type: ignore[arg-type]
        )
    assert [f.field for f in refused.value.fields] == ["schedule"]
    assert len(await mails(admin, booking_id)) == 3
