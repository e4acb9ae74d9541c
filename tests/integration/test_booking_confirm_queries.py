"""The folded queries of a payment's confirmation (services/booking/store_confirm.py) on a real
PostgreSQL: the date's lock taken with the date's read is the very lock every occupying change takes,
held until commit; the booking comes back from its CONFIRMED update as a fresh read would show it."""

from __future__ import annotations

import pytest

from mais_runtime.db import Database, text
from mais_runtime.errors import NotFound
from services.booking.domain import Status
from services.booking.store import BookingStore
from services.booking.use_cases import Bookings
from tests.integration.test_booking_store import DAY, booking_db, hold, store  # noqa: F401 - fixtures


async def _date_lock_free(db: Database, tenant: str, key_day: str) -> bool:
    async with BookingStore(db).tenant(tenant) as other:
        return bool(
            await other.conn.scalar(
                text("SELECT pg_try_advisory_xact_lock(hashtextextended(:k, 0))"),
                {"k": f"{tenant}:{key_day}"},
            )
        )


async def test_the_date_read_with_its_lock_holds_the_lock_every_occupying_change_takes(
    booking_db: Database,  # noqa: F811
    store: Bookings,  # noqa: F811
    new_tenant_id: str,
) -> None:
    booking = await hold(store, new_tenant_id, DAY)
    async with BookingStore(booking_db).tenant(new_tenant_id) as tx:
        assert await tx.lock_date_of(booking.id) == DAY
        # The hold's key (BookingTx.lock_date): taken, so a hold of that date would queue here.
        assert not await _date_lock_free(booking_db, new_tenant_id, DAY.isoformat())
        # Another date of the tenant stays free.
        assert await _date_lock_free(booking_db, new_tenant_id, "2099-01-01")
    assert await _date_lock_free(booking_db, new_tenant_id, DAY.isoformat())
    async with BookingStore(booking_db).tenant(new_tenant_id) as tx:
        with pytest.raises(NotFound):
            await tx.lock_date_of("bk_missing")


async def test_the_confirmed_update_answers_the_booking_as_a_fresh_read_shows_it(
    booking_db: Database,  # noqa: F811
    store: Bookings,  # noqa: F811
    new_tenant_id: str,
) -> None:
    booking = await hold(store, new_tenant_id, DAY)
    async with BookingStore(booking_db).tenant(new_tenant_id) as tx:
        assert await tx.confirm_checks(DAY, booking.id) == (False, False)
        answered = await tx.mark_confirmed(
            booking.id, session_id="cs_fold", amount_paid_cents=250000, remind_at=None
        )
        read = await tx.booking(booking.id)
    assert answered == read
    assert (answered.status, answered.payment_session_id, answered.amount_paid_cents) == (
        Status.CONFIRMED,
        "cs_fold",
        250000,
    )
