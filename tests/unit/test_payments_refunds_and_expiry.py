"""Cancellation with refund, and the sweep of lapsed checkouts, with in-memory peers
(tests/unit/payments_fakes.py). The real paths are in tests/e2e/test_payments_flows.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from mais.payments.v1 import payments_service_pb2 as pb

from mais_runtime.errors import ValidationError
from services.payments.api import PaymentsServicer
from services.payments.domain import (
    BookingStatus,
    EntryKind,
    Payee,
    PaymentStatus,
    RefundChoice,
)
from services.payments.expiry import ExpirySweep
from services.payments.refunds import Refunds
from tests.unit.payments_fakes import (
    TENANT,
    CheckoutWorld,
    paid,
)


class World(CheckoutWorld):
    def __init__(self) -> None:
        super().__init__(Payee(1_000, "acct_t", onboarded=True))
        self.refunds = Refunds(self.store, self.bookings, self.stripe)  # type: ignore[arg-type]
        self.sweep = ExpirySweep(self.store, self.bookings, self.stripe, clock=self.clock)  # type: ignore[arg-type]

    async def held(self, day: int = 7) -> Any:
        return await self.start(f"c{day}@example.com", day=day, add_on_ids=(), ip="")

    async def confirmed(self) -> Any:
        answer = await self.held()
        (session_id,) = [s for s, p in self.store.payments.items() if p.booking_id == answer.booking_id]
        payment = paid(self.store.payments[session_id])
        self.store.payments[session_id] = payment
        self.store.ledger += [
            (session_id, EntryKind.CHARGE, payment.amount_cents, None),
            (session_id, EntryKind.APPLICATION_FEE, payment.fee_cents, None),
        ]
        self.bookings.bookings[answer.booking_id].status = BookingStatus.CONFIRMED
        return answer


# --- a forgotten field keeps nobody's money ----------------------------------------------------


@pytest.mark.parametrize("refund", [None, pb.RefundChoice()], ids=["refund-absent", "refund-empty"])
async def test_cancelling_without_a_refund_choice_is_refused_naming_refund_and_changes_nothing(
    refund: pb.RefundChoice | None,
) -> None:
    world = World()
    answer = await world.confirmed()
    servicer = PaymentsServicer(
        checkout=world.checkout,
        schedules=None,  # type: ignore[arg-type]
        inbox=None,  # type: ignore[arg-type]
        refunds=world.refunds,
        ledger=None,  # type: ignore[arg-type]
        onboarding=None,  # type: ignore[arg-type]
    )
    with pytest.raises(ValidationError) as refused:
        await servicer.CancelAndRefund(
            pb.CancelAndRefundRequest(tenant_id=TENANT, booking_id=answer.booking_id, refund=refund),
            None,  # type: ignore[arg-type]
        )
    assert [f.field for f in refused.value.fields] == ["refund"]
    assert world.bookings.bookings[answer.booking_id].status is BookingStatus.CONFIRMED
    assert world.stripe.refunds == [] and world.bookings.cancelled == []


async def test_a_cancellation_without_a_request_id_repeated_refunds_once_and_answers_the_booking() -> None:
    world = World()
    answer = await world.confirmed()
    outcomes = [
        await world.refunds.cancel_and_refund(
            TENANT, answer.booking_id, reason="", choice=RefundChoice.full(), actor="tenant_admin:u1"
        )
        for _ in range(2)
    ]
    assert len(world.stripe.refunds) == 1
    assert [o.refunded_cents for o in outcomes] == [10_000, 10_000]
    assert all(o.booking.status is BookingStatus.CANCELLED for o in outcomes)
    assert outcomes[0].booking.booking_id == answer.booking_id


async def test_an_explicit_no_refund_cancels_and_moves_no_money() -> None:
    world = World()
    answer = await world.confirmed()
    outcome = await world.refunds.cancel_and_refund(
        TENANT, answer.booking_id, reason="", choice=RefundChoice.none(), actor="tenant_admin:u1"
    )
    assert (outcome.booking.status, outcome.refunded_cents, world.stripe.refunds) == (
        BookingStatus.CANCELLED,
        0,
        [],
    )


# --- expired holds are released ----------------------------------------------------------------


async def test_a_lapsed_checkout_is_closed_at_stripe_marked_and_its_hold_released_once() -> None:
    world = World()
    lapsing = await world.held(day=7)
    world.clock.now += timedelta(minutes=20)
    fresh = await world.held(day=8)
    world.clock.now += timedelta(minutes=12)

    assert await world.sweep.one_pass() == 1
    assert await world.sweep.one_pass() == 0

    def session(answer: Any) -> str:
        return str(answer.checkout_url.rsplit("/", 1)[-1])

    assert world.stripe.sessions[session(lapsing)]["status"] == "expired"
    assert world.store.payments[session(lapsing)].status == PaymentStatus.EXPIRED
    assert world.bookings.released == [(lapsing.booking_id, "hold_expired")]
    assert world.stripe.sessions[session(fresh)]["status"] == "open"
    assert world.store.payments[session(fresh)].status == PaymentStatus.OPEN


async def test_a_checkout_paid_at_its_last_moment_is_left_to_its_webhook_and_its_hold_kept() -> None:
    world = World()
    paid = await world.held(day=9)
    session_id = paid.checkout_url.rsplit("/", 1)[-1]
    world.stripe.sessions[session_id]["status"] = "complete"
    world.clock.now += timedelta(minutes=32)
    assert await world.sweep.one_pass() == 0
    assert world.store.payments[session_id].status == PaymentStatus.OPEN
    assert world.bookings.released == []


async def test_a_lapsed_checkout_that_fails_now_is_retried_and_holds_up_no_other() -> None:
    world = World()
    first, second = await world.held(day=7), await world.held(day=8)
    world.clock.now += timedelta(minutes=40)
    release = world.bookings.release_hold

    async def booking_down_for(booking_id: str) -> Any:
        async def release_or_fail(tenant_id: str, bid: str, reason: str, *, session_id: str = "") -> None:
            if bid == booking_id:
                raise RuntimeError("booking unavailable")
            await release(tenant_id, bid, reason, session_id=session_id)

        return release_or_fail

    world.bookings.release_hold = await booking_down_for(first.booking_id)  # type: ignore[method-assign]
    assert await world.sweep.one_pass() == 1
    assert world.bookings.released == [(second.booking_id, "hold_expired")]
    world.bookings.release_hold = release  # type: ignore[method-assign]
    assert await world.sweep.one_pass() == 1
    assert sorted(world.bookings.released) == sorted(
        [(first.booking_id, "hold_expired"), (second.booking_id, "hold_expired")]
    )
    assert {p.status for p in world.store.payments.values()} == {PaymentStatus.EXPIRED}
