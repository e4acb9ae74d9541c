"""The reminder sweep: a background job that puts due event reminders in the outbox."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from services.booking.use_cases import Bookings

log = logging.getLogger("mais.booking.reminders")


class ReminderSweep:
    """Every `interval` seconds, enqueues the reminders that fell due (each once; the outbox sends)."""

    def __init__(self, bookings: Bookings, *, interval_seconds: float, batch_size: int) -> None:
        self._bookings = bookings
        self._interval = interval_seconds
        self._batch = batch_size

    async def run(self, stop: asyncio.Event) -> None:
        """Sweeps until `stop` is set; a failed pass is logged and tried again next time."""
        while not stop.is_set():
            try:
                enqueued = await self._bookings.enqueue_due_reminders(limit=self._batch)
                if enqueued:
                    log.info("enqueued %d reminders", enqueued)
            except Exception:
                log.warning("reminder sweep failed; will retry", exc_info=True)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval)
