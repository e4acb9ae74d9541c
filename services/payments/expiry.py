"""Lapsed checkouts: once a hold's time is up, its Checkout Session is closed at Stripe (no late
payment can start), the payment is marked EXPIRED, and booking releases the hold (recorded in the
booking's history, the date free again).

Stripe's own `checkout.session.expired` event does the same when it comes; this sweep does not wait
for it. It is safe on every replica: each pass takes the lapsed rows `FOR UPDATE SKIP LOCKED`, so a row
is handled by one transaction at a time, and every step is idempotent (expiring a closed session,
releasing a released hold), so a pass that dies halfway is finished by the next one with one effect.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from services.payments.clients import Bookings
from services.payments.domain import PaymentStatus
from services.payments.metrics import CHECKOUTS
from services.payments.store import PaymentsStore, utc_now
from services.payments.stripe_adapter import SessionAlreadyPaid, StripeAdapter

log = logging.getLogger("mais.payments.expiry")

# Payments handled per pass: a pass stays short (Stripe calls inside a transaction), the next pass
# takes the rest.
BATCH = 50


class ExpirySweep:
    """Closes lapsed checkouts; `one_pass` is the background job's pass."""

    def __init__(
        self,
        store: PaymentsStore,
        bookings: Bookings,
        stripe: StripeAdapter,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._store = store
        self._bookings = bookings
        self._stripe = stripe
        self._now = clock

    async def one_pass(self) -> int:
        """Closes up to BATCH lapsed checkouts; answers how many."""
        async with self._store.platform() as tx:
            await tx.wait_for_peers()
            lapsed = await tx.lapsed_open_payments(self._now(), BATCH)
            closed = 0
            for payment in lapsed:
                try:
                    # One savepoint each: a payment that fails now (Stripe or booking down) stays OPEN
                    # for the next pass and holds up none of the others.
                    async with tx.conn.begin_nested():
                        # The order keeps the promise: first nobody can pay, then the date is freed.
                        await self._stripe.expire_checkout_session(payment.session_id)
                        await tx.set_payment_status(payment.session_id, PaymentStatus.EXPIRED)
                        if payment.instalment_seq > 1:
                            # A balance session: the booking stands and the instalment stays owed.
                            await tx.forget_instalment_session(
                                payment.booking_id, payment.instalment_seq, payment.session_id
                            )
                        else:
                            await self._bookings.release_hold(
                                payment.tenant_id,
                                payment.booking_id,
                                "hold_expired",
                                session_id=payment.session_id,
                            )
                            await tx.cancel_schedule_of_session(payment.booking_id, payment.session_id)
                except SessionAlreadyPaid:
                    # Paid at the last moment: the webhook confirms it; the hold is not ours to free.
                    continue
                except Exception:
                    log.warning("closing a lapsed checkout failed; next pass retries", exc_info=True)
                    continue
                closed += 1
                CHECKOUTS.labels("expired").inc()
        if closed:
            log.info("closed %d lapsed checkouts", closed)
        return closed
