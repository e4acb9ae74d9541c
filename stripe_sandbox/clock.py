"""The sandbox's notion of "now", which tests may move forward.

Checkout sessions live at least 30 minutes, so a test cannot wait for one to expire. Instead it advances this
clock (``POST /_sandbox/clock/advance``) and the background expiry task, which reads the same clock, expires
the session the way Stripe would. Webhook signatures deliberately use the real wall clock (see
``signing.py``).
"""

from __future__ import annotations

import threading
import time


class Clock:
    """Wall-clock seconds plus an offset that only grows."""

    def __init__(self) -> None:
        self._offset = 0
        self._lock = threading.Lock()

    def now(self) -> int:
        """Current sandbox time in unix seconds."""
        with self._lock:
            return int(time.time()) + self._offset

    def advance(self, seconds: int) -> int:
        """Move the clock forward by ``seconds`` (never backwards) and return the new time."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += seconds
        return self.now()

    def restore(self, offset: int) -> None:
        """Set the offset kept from before a restart, so sessions expire on the same sandbox time."""
        if offset < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset = offset

    @property
    def offset(self) -> int:
        """How far the sandbox clock is ahead of the wall clock, in seconds."""
        with self._lock:
            return self._offset
