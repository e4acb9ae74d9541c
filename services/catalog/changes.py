"""Keeps one catalog process's public cache true to the database, whichever replica wrote.

Every catalog write transaction notifies CHANGES_CHANNEL with its tenant id; PostgreSQL delivers the
notification at commit to every connection listening on the channel. Each process holds one
dedicated asyncpg connection that LISTENs (mais_runtime/change_feed.py's `PgListener`, as booking's
and tenant's feeds do) and drops the tenant's cache entries on each notification.

A notification can only be missed while the connection is down, so the cache answers only while the
feed is *live*: the connection is up and a ping over it was answered within the lease (shorter than
the 1 s freshness promise). A connection that dies silently therefore stops the cache within the
lease instead of leaving it to serve what it can no longer hear about; after a reconnect the whole
cache is dropped, since whatever changed meanwhile is unknown.

The same notifications feed the catalog's WatchChanges streams (`attach`, mais_runtime/change_feed.py),
each published after this process dropped the tenant's entries, so that a subscriber asking again
on hearing of a change is not answered from this replica's stale cache.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from mais_runtime.change_feed import ChangeFanout, PgListener
from services.catalog.cache import PublicCache
from services.catalog.metrics import INVALIDATIONS
from services.catalog.store import CHANGES_CHANNEL


class ChangeFeed:
    """See the module docstring; `run` is the process's background job."""

    def __init__(
        self,
        dsn: str,
        cache: PublicCache,
        *,
        ping_seconds: float,
        lease_seconds: float,
        connect_timeout_seconds: float,
        reconnect_max_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cache = cache
        self._fanout: ChangeFanout | None = None
        self._listener = PgListener(
            dsn,
            CHANGES_CHANNEL,
            on_change=self._changed,
            on_lost=self._lost,
            on_listening=self._listening,
            application_name="mais-catalog-changes",
            ping_seconds=ping_seconds,
            lease_seconds=lease_seconds,
            connect_timeout_seconds=connect_timeout_seconds,
            reconnect_max_seconds=reconnect_max_seconds,
            clock=clock,
        )

    def attach(self, fanout: ChangeFanout) -> None:
        """Also publishes every change to `fanout`, and ends its streams when the feed is lost."""
        self._fanout = fanout

    async def run(self, stop: asyncio.Event) -> None:
        """Listens until `stop`, reconnecting with a growing (bounded) delay after failures."""
        await self._listener.run(stop)

    def live(self) -> bool:
        """True while the cache may answer: listening, and the last ping is recent enough."""
        return self._listener.live()

    def _listening(self) -> None:
        self._cache.clear()
        INVALIDATIONS.labels("reset").inc()

    def _changed(self, tenant_id: str) -> None:
        self._cache.invalidate(tenant_id)
        INVALIDATIONS.labels("notification").inc()
        if self._fanout is not None:
            self._fanout.publish(tenant_id)

    def _lost(self) -> None:
        # The connection went down, or a notification could not be read: whatever changed meanwhile is
        # unknown.
        self._cache.clear()
        if self._fanout is not None:
            self._fanout.lost()
