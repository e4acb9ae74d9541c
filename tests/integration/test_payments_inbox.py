"""The Stripe event inbox on a real PostgreSQL and the real Stripe sandbox, where the races of the
reliability suite need a deterministic form. Booking is a fake (its RPCs are tested in the booking
suites); the payments are real sessions paid at the sandbox, their events the sandbox's own."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from services.payments.domain import InstalmentRecorded, PaymentStatus
from services.payments.inbox import StripeInbox
from tests.integration.test_payments_refunds import (  # noqa: F401 - the fixtures
    BALANCE,
    World,
    a_booking,
    balance_session,
    open_balance,
    world,
)
from tests.integration.test_payments_service import (  # noqa: F401 - the sandbox's fixtures
    Captured,
    _intent_of,
    _pay,
    adapter,
    captured,
    sandbox_url,
)


@dataclass
class Recording:
    """Booking as the inbox tells it about a later instalment: every recorded session, once each."""

    recorded: list[tuple[str, int]] = field(default_factory=list)

    async def record_instalment_payment(
        self,
        tenant_id: str,
        booking_id: str,
        *,
        session_id: str,
        amount_cents: int,
        total_paid_cents: int,
        schedule: Iterable[Any],
        actor: str = "payments",
        note: str = "",
        request_id: str = "",
    ) -> InstalmentRecorded:
        self.recorded.append((session_id, amount_cents))
        return InstalmentRecorded.RECORDED


async def test_a_balance_paid_through_a_session_never_recorded_while_ours_is_open_is_kept_at_once(
    world: World,  # noqa: F811
    new_tenant_id: str,
    captured: tuple[Captured, str],  # noqa: F811
) -> None:
    """Two sessions for one balance: ours, recorded OPEN by the balance checkout, and one we never
    recorded (made elsewhere, or the checkout died before writing it). Theirs is paid first: its
    event is processed at its first delivery (it used to fail on the one-open-payment-per-instalment
    index for as long as ours stayed open), the balance PAID by it; ours, paid next, is refunded in
    full as NOT_OWED, and booking heard of one balance payment only."""
    booking = await a_booking(world, new_tenant_id, parts=(3_000, BALANCE), paid=1)
    ours = await open_balance(world, new_tenant_id, booking)
    theirs, _ = await balance_session(world, new_tenant_id, booking)
    recording = Recording()
    inbox = StripeInbox(world.store, payees=None, bookings=recording, stripe=world.stripe)  # type: ignore[arg-type]

    _pay(world.sandbox, theirs)
    stored = await inbox.receive(*captured[0].wait_for("checkout.session.completed", theirs))
    assert stored.status.value == "PROCESSED"
    async with world.store.tenant(new_tenant_id) as tx:
        kept = await tx.payment_by_session(theirs)
        balance = await tx.instalment(booking, 2)
        still_open = await tx.payment_by_session(ours)
    assert kept is not None and kept.status == PaymentStatus.PAID
    assert balance is not None and (balance.status.value, balance.session_id) == ("PAID", theirs)
    assert still_open is not None and still_open.status == PaymentStatus.OPEN

    _pay(world.sandbox, ours)
    again = await inbox.receive(*captured[0].wait_for("checkout.session.completed", ours))
    assert again.status.value == "PROCESSED"
    async with world.store.tenant(new_tenant_id) as tx:
        refunded = await tx.payment_by_session(ours)
        totals = await tx.totals(ours)
    assert refunded is not None and refunded.status == PaymentStatus.NOT_OWED
    assert (totals.charged, totals.refunded) == (BALANCE, BALANCE)
    refunds = await world.stripe.refunds(_intent_of(world.sandbox, ours))
    assert sum(r.amount_cents for r in refunds) == BALANCE
    assert recording.recorded == [(theirs, BALANCE)]
    # The booking's own totals leave out the payment nothing was owed for (charged and refunded apart
    # from it): they are what booking is told as its refunded total when a cancellation refunds later.
    async with world.store.tenant(new_tenant_id) as tx:
        whole = await tx.booking_totals(booking)
    assert (whole.charged, whole.refunded) == (3_000 + BALANCE, 0)
