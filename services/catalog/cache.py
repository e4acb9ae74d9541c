"""The per-tenant cache of public catalog answers, one per catalog process.

Every entry is keyed by (tenant id, query), so an answer cached for one tenant can only ever be
found again for that same tenant. Entries leave when the tenant's catalog changes (`invalidate`,
called for this process's own writes and for every change notification from the database), when
the change feed reconnects (`clear`: notifications may have been missed), after a safety TTL, or
when the cache is full (least recently used first).

A read that misses takes a `ticket()` before it queries the database and offers its answer with
that ticket: if the tenant was invalidated (or the cache cleared) in between, the answer may
predate the change and is not stored.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass(frozen=True)
class Hit:
    """A cached answer (which may be None: "no such package" is an answer too)."""

    value: object


class PublicCache:
    """See the module docstring. Not thread-safe: one per event loop."""

    def __init__(
        self, *, ttl_seconds: float, max_entries: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[tuple[str, Hashable], tuple[float, object]] = OrderedDict()
        self._keys: dict[str, set[Hashable]] = {}
        # Every invalidation and clear moves the counter; a ticket is the counter when a read began.
        self._counter = 0
        self._floor = 0
        self._invalidated: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def ticket(self) -> int:
        """Take before reading the database for a miss; pass to `put`."""
        return self._counter

    def get(self, tenant_id: str, key: Hashable) -> Hit | None:
        """The live entry of this tenant for `key`, if any."""
        entry = self._entries.get((tenant_id, key))
        if entry is None:
            return None
        expires, value = entry
        if expires <= self._clock():
            self._drop(tenant_id, key)
            return None
        self._entries.move_to_end((tenant_id, key))
        return Hit(value)

    def put(self, tenant_id: str, key: Hashable, value: object, ticket: int) -> bool:
        """Stores an answer read under `ticket`, unless the tenant changed since; True when stored."""
        if ticket < self._floor or self._invalidated.get(tenant_id, -1) > ticket:
            return False
        self._entries[(tenant_id, key)] = (self._clock() + self._ttl, value)
        self._entries.move_to_end((tenant_id, key))
        self._keys.setdefault(tenant_id, set()).add(key)
        while len(self._entries) > self._max:
            (old_tenant, old_key), _ = self._entries.popitem(last=False)
            self._forget_key(old_tenant, old_key)
        return True

    def invalidate(self, tenant_id: str) -> None:
        """Drops every entry of the tenant and refuses answers read before now."""
        self._counter += 1
        self._invalidated[tenant_id] = self._counter
        for key in self._keys.pop(tenant_id, set()):
            self._entries.pop((tenant_id, key), None)
        if len(self._invalidated) > self._max:
            # Only tickets older than the floor need the per-tenant marks; start afresh.
            self.clear()

    def clear(self) -> None:
        """Drops everything and refuses every answer read before now."""
        self._counter += 1
        self._floor = self._counter
        self._invalidated.clear()
        self._entries.clear()
        self._keys.clear()

    def _drop(self, tenant_id: str, key: Hashable) -> None:
        self._entries.pop((tenant_id, key), None)
        self._forget_key(tenant_id, key)

    def _forget_key(self, tenant_id: str, key: Hashable) -> None:
        keys = self._keys.get(tenant_id)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._keys[tenant_id]
