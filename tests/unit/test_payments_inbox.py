"""The Stripe inbox with in-memory peers (tests/unit/payments_fakes.py): a paid session confirms its
booking and records the money once; a payment for a lost or replaced hold goes back in full; an expired
session frees its hold unless a resumed hold replaced it. The real path (signatures, row locks,
concurrent deliveries) is in tests/integration and tests/e2e."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from services.payments.domain import (
    BookingStatus,
    EntryKind,
    EventStatus,
    Payee,
    PaymentStatus,
)
from services.payments.inbox import StripeInbox
from tests.unit.payments_fakes import (
    CheckoutWorld,
)


class World(CheckoutWorld):
    def __init__(self) -> None:
        super().__init__(Payee(1_000, "acct_t", onboarded=True))
        self.inbox = StripeInbox(
            self.store,  # type: ignore[arg-type]
            payees=self.payees,  # type: ignore[arg-type]
            bookings=self.bookings,  # type: ignore[arg-type]
            stripe=self.stripe,  # type: ignore[arg-type]
        )

    async def held(self, email: str = "ana@example.com") -> Any:
        return await self.start(email, add_on_ids=(), ip="")

    def ledger(self, kind: EntryKind) -> list[int]:
        return [amount for _, k, amount, _ in self.store.ledger if k is kind]


def _session(answer: Any) -> str:
    return str(answer.checkout_url.rsplit("/", 1)[-1])


async def test_a_paid_session_confirms_its_booking_and_records_charge_and_fee_once() -> None:
    world = World()
    answer = await world.held()
    body = world.stripe.pay(_session(answer))
    rows = [await world.inbox.receive(body, "sig") for _ in range(3)]
    assert {r.status for r in rows} == {EventStatus.PROCESSED}
    assert world.bookings.bookings[answer.booking_id].status is BookingStatus.CONFIRMED
    assert (world.ledger(EntryKind.CHARGE), world.ledger(EntryKind.APPLICATION_FEE)) == ([10_000], [1_000])
    assert world.store.payments[_session(answer)].status == PaymentStatus.PAID
    assert world.bookings.confirmations == [_session(answer)]


async def test_a_payment_for_a_hold_cancelled_meanwhile_goes_back_in_full_and_the_couple_is_told() -> None:
    world = World()
    answer = await world.held()
    world.bookings.bookings[answer.booking_id].status = BookingStatus.CANCELLED
    await world.inbox.receive(world.stripe.pay(_session(answer)), "sig")
    assert world.stripe.refunds == [(f"pi_{_session(answer)}", 10_000)]
    assert world.store.payments[_session(answer)].status == PaymentStatus.HOLD_LOST
    assert world.bookings.told_hold_lost == [answer.booking_id]


async def test_a_payment_that_reached_a_replaced_session_goes_back_and_the_resumed_hold_lives_on() -> None:
    world = World()
    first = await world.held()
    # The couple comes back late: a new session for the same hold, the old one expired at Stripe ...
    world.clock.now += timedelta(minutes=28)
    again = await world.held()
    assert _session(again) != _session(first)
    # ... but a payment slipped into the old one just before (the fake lets it, Stripe's race would).
    world.stripe.sessions[_session(first)]["status"] = "open"
    result = await world.inbox.receive(world.stripe.pay(_session(first)), "sig")
    assert result.status is EventStatus.PROCESSED
    assert world.stripe.refunds == [(f"pi_{_session(first)}", 10_000)]
    booking = world.bookings.bookings[first.booking_id]
    assert (booking.status, booking.session_id) == (BookingStatus.HELD, _session(again))
    assert world.bookings.told_hold_lost == []
    # Its late expiry event does not release the live hold either.
    await world.inbox.receive(world.stripe.expired_event(_session(first)), "sig")
    assert world.bookings.released == []
    assert world.store.payments[_session(again)].status == PaymentStatus.OPEN


async def test_an_expired_session_marks_its_payment_and_frees_its_hold() -> None:
    world = World()
    answer = await world.held()
    await world.stripe.expire_checkout_session(_session(answer))
    row = await world.inbox.receive(world.stripe.expired_event(_session(answer)), "sig")
    assert row.status is EventStatus.PROCESSED
    assert world.store.payments[_session(answer)].status == PaymentStatus.EXPIRED
    assert world.bookings.released == [(answer.booking_id, "checkout_expired")]
