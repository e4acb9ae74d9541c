"""Background jobs that repeat until the process stops: one loop instead of one per job.

A pass that fails is logged and tried again at the next interval (the database may be restarting);
the stop event ends the wait at once, so a draining process never sleeps through its grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger("mais.background")

Job = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleeps `seconds`, or less when `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def every(seconds: float, one_pass: Callable[[], Awaitable[object]], *, name: str) -> Job:
    """A job that runs `one_pass` every `seconds` until stopped. A pass that raises is logged under
    `name` and the next one runs on time; a pass's own result is ignored."""

    async def job(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await one_pass()
            except Exception:
                log.warning("%s failed; will retry", name, exc_info=True)
            await wait_or_stop(stop, seconds)

    return job
