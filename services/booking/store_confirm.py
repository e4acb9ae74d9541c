"""The queries of a payment's confirmation (and a hold's release), each folding what used to be two or
three round trips into one: the webhook path runs them for every booking.

- `lock_date_of`: the booking's date read and its (tenant, date) lock taken in one statement, the same
  lock key `BookingTx.lock_date` takes, so every occupying change still queues on one lock per date.
- `confirm_checks`: whether the date is blacked out and whether the hold's time ran out, read together.
- `mark_confirmed`: CONFIRMED, and the booking as it now is (RETURNING), instead of a second read.
"""

from __future__ import annotations

import time
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from mais_runtime.db import AsyncConnection, text
from mais_runtime.errors import NotFound
from services.booking.metrics import LOCK_WAIT

if TYPE_CHECKING:
    from services.booking.domain import Booking

# hashtextextended over "<tenant id>:<YYYY-MM-DD>", the key `lock_date` hashes (ISO dates both ways).
_LOCK_DATE_OF = text(
    "SELECT event_date, pg_advisory_xact_lock("
    "hashtextextended(:prefix || to_char(event_date, 'YYYY-MM-DD'), 0))::text AS locked"
    " FROM bookings WHERE id = :id"
)
_MARK_CONFIRMED = (
    "UPDATE bookings SET status = 'CONFIRMED', payment_session_id = :session,"
    " amount_paid_cents = :paid, remind_at = :remind_at, updated_at = clock_timestamp() WHERE id = :id"
)
_CONFIRM_CHECKS = text(
    "SELECT EXISTS (SELECT 1 FROM blackouts WHERE tenant_id = CAST(:tenant AS uuid) AND date = :day)"
    " AS blacked_out,"
    " COALESCE((SELECT hold_expires_at <= clock_timestamp() FROM bookings WHERE id = :id), false) AS expired"
)


class ConfirmQueries:
    """Mixed into BookingTx."""

    conn: AsyncConnection
    tenant_id: str

    async def lock_date_of(self, booking_id: str) -> date:
        """The booking's event date, its lock held until commit; NotFound for no such booking."""
        started = time.perf_counter()
        row = (
            await self.conn.execute(_LOCK_DATE_OF, {"prefix": f"{self.tenant_id}:", "id": booking_id})
        ).first()
        LOCK_WAIT.observe(time.perf_counter() - started)
        if row is None:
            raise NotFound("booking")
        day: date = row.event_date
        return day

    async def confirm_checks(self, day: date, booking_id: str) -> tuple[bool, bool]:
        """(the date is blacked out, the booking's hold has run out by the database's clock)."""
        row = (
            await self.conn.execute(_CONFIRM_CHECKS, {"tenant": self.tenant_id, "day": day, "id": booking_id})
        ).one()
        return bool(row.blacked_out), bool(row.expired)

    async def mark_confirmed(
        self, booking_id: str, *, session_id: str, amount_paid_cents: int, remind_at: datetime | None
    ) -> Booking:
        """CONFIRMED, paid, with its reminder time; the booking as it now is."""
        from services.booking.store import _COLUMNS, _booking

        row: Any = (
            (
                await self.conn.execute(
                    text(_MARK_CONFIRMED + " RETURNING " + _COLUMNS),
                    {
                        "session": session_id,
                        "paid": amount_paid_cents,
                        "remind_at": remind_at,
                        "id": booking_id,
                    },
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound("booking")
        return _booking(row)
