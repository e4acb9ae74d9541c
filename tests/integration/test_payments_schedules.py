"""Payment schedules against the real Stripe sandbox, a real PostgreSQL and real tenant, catalog,
booking and payments processes: a checkout under deposit terms charges the deposit and writes both
instalments, the couple's balance checkout, the balance webhook's one effect however often and in
whatever order it comes, a balance paid twice (one kept, the other refunded) or after a cancellation
(refunded). Booking's own RecordInstalmentPayment records each balance payment once (its history and
amount paid are what the tests read).

Tenants here take a 25 % deposit with the balance 30 days before the event, set through the tenant
service as an admin would (UpdateTenant, mask payment_policy)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import grpc
import pytest
from mais.booking.v1 import booking_service_pb2 as booking_pb
from mais.common.v1 import types_pb2
from mais.payments.v1 import payments_service_pb2 as pb
from mais.tenant.v1 import tenant_service_pb2 as tenant_pb

from mais_runtime.payment_policy import PaymentPolicy
from tests.integration.test_payments_service import (
    Captured,
    Platform,
    Shop,
    _expire_now,
    _pay,
    _stripe_get,
    admin_db,
    booking_of,
    captured,
    checkout_request,
    clients,
    deliver,
    ledger,
    make_shop,
    paid,
    platform,
    reason,
    sandbox_url,
    session_of,
)
from tests.integration.test_payments_service import Clients as Clients

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning")

# Fixtures shared with the payments suite (imported so pytest finds them here).
__all__ = ["admin_db", "captured", "clients", "platform", "sandbox_url"]

DEPOSIT_TERMS = {"depositKind": "percent", "depositBps": 2500, "balanceDueDays": 30}


def day_in(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


_offsets = iter(range(60, 400, 3))


def a_far_day() -> str:
    """A date well outside the balance window (30 days), unused by the other tests here."""
    return day_in(next(_offsets))


async def deposit_shop(clients: Clients, platform: Platform, **options: Any) -> Shop:
    """A shop (make_shop) whose tenant takes DEPOSIT_TERMS."""
    shop = await make_shop(clients, platform, **options)
    await clients.tenant.UpdateTenant(
        tenant_pb.UpdateTenantRequest(
            tenant_id=shop.tenant_id,
            tenant=tenant_pb.Tenant(payment_policy=PaymentPolicy().with_json(DEPOSIT_TERMS).to_proto()),
            update_mask=["payment_policy"],
        )
    )
    return shop


async def booking_with_history(clients: Clients, shop: Shop, booking_id: str) -> Any:
    answer = await clients.booking.GetBooking(
        booking_pb.GetBookingRequest(tenant_id=shop.tenant_id, booking_id=booking_id, with_history=True)
    )
    return answer.booking


def balance_lines(booking: Any) -> list[str]:
    """The booking's history lines of balance payments."""
    return [h.reason for h in booking.history if h.reason.startswith("balance of ")]


async def schedule_of(clients: Clients, shop: Shop, booking_id: str) -> types_pb2.PaymentSchedule:
    answer: pb.GetScheduleResponse = await clients.payments.GetSchedule(
        pb.GetScheduleRequest(tenant_id=shop.tenant_id, booking_id=booking_id)
    )
    return answer.schedule


async def confirmed_with_deposit(
    clients: Clients, platform: Platform, captured: Captured, shop: Shop, day: str
) -> Any:
    answer = await clients.payments.StartCheckout(checkout_request(shop, day))
    await deliver(clients, await paid(clients, platform, captured, answer))
    return answer


async def pay_balance(clients: Clients, shop: Shop, booking_id: str) -> pb.PayInstalmentResponse:
    return await clients.payments.PayInstalment(  # type: ignore[no-any-return]
        pb.PayInstalmentRequest(
            tenant_id=shop.tenant_id,
            booking_id=booking_id,
            success_url="http://127.0.0.1:9/booking?paid=1",
            cancel_url="http://127.0.0.1:9/booking",
        )
    )


async def cancel_without_refund(clients: Clients, shop: Shop, booking_id: str) -> None:
    """The business cancels the booking and keeps what was paid."""
    await clients.payments.CancelAndRefund(
        pb.CancelAndRefundRequest(
            tenant_id=shop.tenant_id,
            booking_id=booking_id,
            reason="the couple called it off",
            refund=pb.RefundChoice(none=True),
            actor="tenant_admin:test",
            request_id=f"cancel-{uuid.uuid4()}",
        )
    )


def balance_delivery(platform: Platform, captured: Captured, checkout_url: str) -> tuple[bytes, str]:
    session_id = session_of(checkout_url)
    _pay(platform.sandbox_url, session_id)
    return captured.wait_for("checkout.session.completed", session_id)


async def test_a_deposit_checkout_charges_the_deposit_writes_both_instalments_and_confirms_on_it(
    clients: Clients, platform: Platform, captured: tuple[Captured, str], admin_db: asyncpg.Connection
) -> None:
    shop = await deposit_shop(clients, platform, commission_bps=1_000, price=9_000, extra=1_001)
    day = a_far_day()
    quoted = await clients.payments.QuoteSchedule(
        pb.QuoteScheduleRequest(
            tenant_id=shop.tenant_id, package_id=shop.package_id, add_on_ids=[shop.add_on_id], event_date=day
        )
    )
    # 25 % of 100.01 is 25.0025: the deposit rounds down, the balance carries the rest.
    assert [(i.kind, i.amount_cents) for i in quoted.instalments] == [
        (types_pb2.INSTALMENT_KIND_DEPOSIT, 2_500),
        (types_pb2.INSTALMENT_KIND_BALANCE, 7_501),
    ]
    assert (
        quoted.instalments[1].due_date
        == (datetime.fromisoformat(day) - timedelta(days=30)).date().isoformat()
    )
    assert quoted.policy.deposit_bps == 2_500

    answer = await clients.payments.StartCheckout(checkout_request(shop, day))
    assert (answer.total_cents, answer.amount_due_now_cents) == (10_001, 2_500)
    assert [(i.seq, i.amount_cents, i.due_date) for i in answer.schedule.instalments] == [
        (i.seq, i.amount_cents, i.due_date) for i in quoted.instalments
    ]
    session = _stripe_get(platform.sandbox_url, f"/v1/checkout/sessions/{session_of(answer.checkout_url)}")
    assert session["amount_total"] == 2_500
    rows = await admin_db.fetch(
        "SELECT seq, kind, amount_cents, status FROM payments.instalments WHERE booking_id = $1 ORDER BY seq",
        answer.booking_id,
    )
    assert [tuple(r) for r in rows] == [(1, "DEPOSIT", 2_500, "DUE"), (2, "BALANCE", 7_501, "DUE")]

    await deliver(clients, await paid(clients, platform, captured[0], answer))
    booking = await booking_of(clients, shop, answer.booking_id)
    assert (booking.status, booking.amount_paid_cents) == (booking_pb.BOOKING_STATUS_CONFIRMED, 2_500)
    schedule = await schedule_of(clients, shop, answer.booking_id)
    assert [i.status for i in schedule.instalments] == [
        types_pb2.INSTALMENT_STATUS_PAID,
        types_pb2.INSTALMENT_STATUS_DUE,
    ]
    assert (schedule.paid_cents, schedule.outstanding_cents, schedule.instalments[0].fee_cents) == (
        2_500,
        7_501,
        250,
    )
    books = await ledger(clients, shop, answer.booking_id)
    assert (books.charged_cents, books.fee_cents) == (2_500, 250)


async def test_inside_the_balance_window_the_couple_pays_in_full_at_checkout(
    clients: Clients, platform: Platform, captured: tuple[Captured, str]
) -> None:
    shop = await deposit_shop(clients, platform)
    answer = await clients.payments.StartCheckout(checkout_request(shop, day_in(20)))
    assert answer.amount_due_now_cents == answer.total_cents == 10_000
    assert [i.kind for i in answer.schedule.instalments] == [types_pb2.INSTALMENT_KIND_FULL]
    await deliver(clients, await paid(clients, platform, captured[0], answer))
    with pytest.raises(grpc.aio.AioRpcError) as nothing:
        await pay_balance(clients, shop, answer.booking_id)
    assert reason(nothing.value) == "NOTHING_DUE"


async def test_a_held_booking_has_no_balance_to_pay_yet(clients: Clients, platform: Platform) -> None:
    shop = await deposit_shop(clients, platform)
    answer = await clients.payments.StartCheckout(checkout_request(shop, a_far_day()))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await pay_balance(clients, shop, answer.booking_id)
    assert (refused.value.code(), reason(refused.value)) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "FAILED_PRECONDITION",
    )


async def test_the_balance_webhook_delivered_twenty_times_out_of_order_has_one_effect(
    clients: Clients, platform: Platform, captured: tuple[Captured, str]
) -> None:
    shop = await deposit_shop(clients, platform)
    answer = await clients.payments.StartCheckout(checkout_request(shop, a_far_day()))
    deposit = await paid(clients, platform, captured[0], answer)
    await deliver(clients, deposit)
    # Five clicks at once, then one more while it is open: one session, never a second one.
    clicks = await asyncio.gather(*(pay_balance(clients, shop, answer.booking_id) for _ in range(5)))
    first = clicks[0]
    again = await pay_balance(clients, shop, answer.booking_id)
    assert {c.checkout_url for c in clicks} == {again.checkout_url}
    assert (first.instalment.seq, first.instalment.amount_cents) == (2, 7_500)
    balance = balance_delivery(platform, captured[0], first.checkout_url)
    # The balance's event twenty times at once, the deposit's mixed in, in no particular order.
    deliveries = [balance] * 20 + [deposit] * 5
    results = await asyncio.gather(*(deliver(clients, d) for d in reversed(deliveries)))
    assert {r.status for r in results} == {pb.EVENT_STATUS_PROCESSED}
    schedule = await schedule_of(clients, shop, answer.booking_id)
    assert [i.status for i in schedule.instalments] == [types_pb2.INSTALMENT_STATUS_PAID] * 2
    assert (schedule.paid_cents, schedule.outstanding_cents, schedule.next_due_date) == (10_000, 0, "")
    books = await ledger(clients, shop, answer.booking_id)
    assert sorted(e.kind for e in books.entries) == ["application_fee"] * 2 + ["charge"] * 2
    assert (books.charged_cents, books.fee_cents, books.refunded_cents) == (10_000, 1_000, 0)
    # Booking recorded the balance once, with the running total, however often it was told.
    booking = await booking_with_history(clients, shop, answer.booking_id)
    assert booking.amount_paid_cents == 10_000
    assert balance_lines(booking) == [f"balance of 75.00 USD paid (session {session_of(first.checkout_url)})"]
    with pytest.raises(grpc.aio.AioRpcError) as nothing:
        await pay_balance(clients, shop, answer.booking_id)
    assert reason(nothing.value) == "NOTHING_DUE"


async def test_a_balance_paid_by_two_sessions_keeps_one_payment_and_refunds_the_other_in_full(
    clients: Clients, platform: Platform, captured: tuple[Captured, str], admin_db: asyncpg.Connection
) -> None:
    shop = await deposit_shop(clients, platform)
    answer = await confirmed_with_deposit(clients, platform, captured[0], shop, a_far_day())
    one = await pay_balance(clients, shop, answer.booking_id)
    # The first session lapses in our records while Stripe still has it open (the race a sweep and a
    # slow Stripe make): the couple gets a second session, and then both get paid.
    await admin_db.execute(
        "UPDATE payments.payments SET status = 'EXPIRED' WHERE session_id = $1", session_of(one.checkout_url)
    )
    two = await pay_balance(clients, shop, answer.booking_id)
    assert two.checkout_url != one.checkout_url
    paid_one = balance_delivery(platform, captured[0], one.checkout_url)
    paid_two = balance_delivery(platform, captured[0], two.checkout_url)
    results = await asyncio.gather(deliver(clients, paid_one), deliver(clients, paid_two))
    assert {r.status for r in results} == {pb.EVENT_STATUS_PROCESSED}
    books = await ledger(clients, shop, answer.booking_id)
    # Deposit 2,500 + two balances of 7,500 charged; one balance back in full, its fee too.
    assert (books.charged_cents, books.refunded_cents) == (17_500, 7_500)
    assert (books.fee_cents, books.fee_refunded_cents) == (1_750, 750)
    statuses = await admin_db.fetch(
        "SELECT status, session_id FROM payments.payments WHERE booking_id = $1 AND instalment_seq = 2",
        answer.booking_id,
    )
    assert sorted(r["status"] for r in statuses) == ["NOT_OWED", "PAID"]
    schedule = await schedule_of(clients, shop, answer.booking_id)
    assert (schedule.paid_cents, schedule.outstanding_cents) == (10_000, 0)
    # Booking heard of the kept payment only.
    kept = next(r["session_id"] for r in statuses if r["status"] == "PAID")
    booking = await booking_with_history(clients, shop, answer.booking_id)
    assert booking.amount_paid_cents == 10_000
    assert balance_lines(booking) == [f"balance of 75.00 USD paid (session {kept})"]


async def test_a_balance_paid_after_the_booking_was_cancelled_is_refunded_in_full(
    clients: Clients, platform: Platform, captured: tuple[Captured, str]
) -> None:
    shop = await deposit_shop(clients, platform)
    answer = await confirmed_with_deposit(clients, platform, captured[0], shop, a_far_day())
    balance = await pay_balance(clients, shop, answer.booking_id)
    # Paid at Stripe; its event arrives only after the business cancelled.
    late = balance_delivery(platform, captured[0], balance.checkout_url)
    await cancel_without_refund(clients, shop, answer.booking_id)
    result = await deliver(clients, late)
    assert result.status == pb.EVENT_STATUS_PROCESSED
    books = await ledger(clients, shop, answer.booking_id)
    assert (books.charged_cents, books.refunded_cents, books.fee_cents, books.fee_refunded_cents) == (
        10_000,
        7_500,
        1_000,
        750,
    )
    # Booking answered that it is no longer confirmed: nothing recorded there, the money went back.
    booking = await booking_with_history(clients, shop, answer.booking_id)
    assert (booking.status, booking.amount_paid_cents) == (booking_pb.BOOKING_STATUS_CANCELLED, 2_500)
    assert balance_lines(booking) == []


async def test_cancelling_closes_the_balance_page_a_couple_still_has_open(
    clients: Clients, platform: Platform, captured: tuple[Captured, str], admin_db: asyncpg.Connection
) -> None:
    shop = await deposit_shop(clients, platform)
    answer = await confirmed_with_deposit(clients, platform, captured[0], shop, a_far_day())
    balance = await pay_balance(clients, shop, answer.booking_id)
    session_id = session_of(balance.checkout_url)
    await cancel_without_refund(clients, shop, answer.booking_id)
    assert _stripe_get(platform.sandbox_url, f"/v1/checkout/sessions/{session_id}")["status"] == "expired"
    status = await admin_db.fetchval("SELECT status FROM payments.payments WHERE session_id = $1", session_id)
    assert status == "EXPIRED"
    # Stripe's expiry event changes nothing more: the schedule stays cancelled, nothing is owed.
    await deliver(clients, captured[0].wait_for("checkout.session.expired", session_id))
    schedule = await schedule_of(clients, shop, answer.booking_id)
    assert [i.status for i in schedule.instalments] == [
        types_pb2.INSTALMENT_STATUS_PAID,
        types_pb2.INSTALMENT_STATUS_CANCELLED,
    ]
    books = await ledger(clients, shop, answer.booking_id)
    assert (books.charged_cents, books.refunded_cents) == (2_500, 0)


async def test_an_expired_checkout_cancels_the_schedule_it_started_and_a_new_hold_plans_afresh(
    clients: Clients, platform: Platform, captured: tuple[Captured, str]
) -> None:
    shop = await deposit_shop(clients, platform)
    day = a_far_day()
    answer = await clients.payments.StartCheckout(checkout_request(shop, day))
    session_id = session_of(answer.checkout_url)
    _expire_now(platform.sandbox_url, session_id)
    await deliver(clients, captured[0].wait_for("checkout.session.expired", session_id))
    schedule = await schedule_of(clients, shop, answer.booking_id)
    assert [i.status for i in schedule.instalments] == [types_pb2.INSTALMENT_STATUS_CANCELLED] * 2
    assert (schedule.outstanding_cents, schedule.next_due_date) == (0, "")
    again = await clients.payments.StartCheckout(checkout_request(shop, day, n=1))
    fresh = await schedule_of(clients, shop, again.booking_id)
    assert [i.status for i in fresh.instalments] == [types_pb2.INSTALMENT_STATUS_DUE] * 2


async def test_a_deposit_for_a_lost_hold_goes_back_and_its_schedule_is_cancelled(
    clients: Clients, platform: Platform, captured: tuple[Captured, str], admin_db: asyncpg.Connection
) -> None:
    shop = await deposit_shop(clients, platform)
    day = a_far_day()
    late = await clients.payments.StartCheckout(checkout_request(shop, day, n=1))
    await admin_db.execute(
        "UPDATE booking.bookings SET hold_expires_at = now() - interval '1 minute' WHERE id = $1",
        late.booking_id,
    )
    second = await confirmed_with_deposit(clients, platform, captured[0], shop, day)
    await deliver(clients, await paid(clients, platform, captured[0], late))
    books = await ledger(clients, shop, late.booking_id)
    assert (books.charged_cents, books.refunded_cents, books.fee_cents, books.fee_refunded_cents) == (
        2_500,
        2_500,
        250,
        250,
    )
    lost = await schedule_of(clients, shop, late.booking_id)
    assert [i.status for i in lost.instalments] == [types_pb2.INSTALMENT_STATUS_CANCELLED] * 2
    kept = await schedule_of(clients, shop, second.booking_id)
    assert [i.status for i in kept.instalments] == [
        types_pb2.INSTALMENT_STATUS_PAID,
        types_pb2.INSTALMENT_STATUS_DUE,
    ]
