"""The booking service's background sweeps, built on the shared `every` loop: due event reminders
into the outbox, and expired holds released. Every replica runs both; each effect happens once."""

from __future__ import annotations

from mais_runtime.background import Job, every
from services.booking.use_cases import Bookings


def reminder_sweep(bookings: Bookings, *, interval_seconds: float, batch_size: int) -> Job:
    """Every `interval_seconds`, enqueues the reminders that fell due (each once; the outbox sends)."""
    return every(
        interval_seconds,
        lambda: bookings.enqueue_due_reminders(limit=batch_size),
        name="reminder sweep",
    )


def expiry_sweep(bookings: Bookings, *, interval_seconds: float) -> Job:
    """Every `interval_seconds`, releases the holds whose time ran out (a hold is released within
    `interval_seconds` of its expiry, plus one pass)."""
    return every(interval_seconds, bookings.release_expired_holds, name="hold expiry sweep")
