"""A small bounded in-process cache whose entries live a fixed time: what a process keeps of another
service's answers (a tenant's settings, a key's tenant) so that a burst of requests does not ask each time."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Entries live `ttl_seconds`; past `max_entries` the least recently stored leave first. Not
    thread-safe: one per event loop."""

    def __init__(
        self, ttl_seconds: float, max_entries: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The live value of `key`, if any."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            return None
        return entry[1]

    def expiring(self, key: K, within: float) -> bool:
        """Whether `key`'s entry runs out within `within` seconds (time to refresh it)."""
        entry = self._entries.get(key)
        return entry is not None and entry[0] - self._clock() < within

    def put(self, key: K, value: V, ttl_seconds: float | None = None) -> None:
        """Keeps `value` for the cache's lifetime (or `ttl_seconds`, for this entry alone)."""
        self._entries[key] = (self._clock() + (self._ttl if ttl_seconds is None else ttl_seconds), value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def discard_where(self, doomed: Callable[[V], bool]) -> int:
        """Forgets every entry whose value is `doomed` (a change feed said so); how many."""
        keys = [key for key, (_, value) in self._entries.items() if doomed(value)]
        for key in keys:
            del self._entries[key]
        return len(keys)

    def shorten(self, ttl_seconds: float) -> None:
        """No entry lives longer than `ttl_seconds` from now (what made its longer life safe is gone)."""
        latest = self._clock() + ttl_seconds
        for key, (expires, value) in self._entries.items():
            if expires > latest:
                self._entries[key] = (latest, value)

    def discard(self, key: K) -> None:
        """Forgets `key` at once (the caller learnt its value is wrong)."""
        self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)
