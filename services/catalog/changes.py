"""Keeps one catalog process's public cache true to the database, whichever replica wrote.

Every catalog write transaction notifies CHANGES_CHANNEL with its tenant id; PostgreSQL delivers the
notification at commit to every connection listening on the channel. Each process holds one
dedicated asyncpg connection that LISTENs and drops the tenant's cache entries on each
notification.

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
import contextlib
import logging
import time
import uuid
from collections.abc import Callable

import asyncpg

from mais_runtime.background import wait_or_stop
from mais_runtime.change_feed import ChangeFanout
from services.catalog.cache import PublicCache
from services.catalog.metrics import INVALIDATIONS
from services.catalog.store import CHANGES_CHANNEL

log = logging.getLogger("mais.catalog.changes")


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
        self._dsn = dsn
        self._cache = cache
        self._ping = ping_seconds
        self._lease = lease_seconds
        self._connect_timeout = connect_timeout_seconds
        self._reconnect_max = reconnect_max_seconds
        self._clock = clock
        self._live_until = 0.0
        self._fanout: ChangeFanout | None = None

    def attach(self, fanout: ChangeFanout) -> None:
        """Also publishes every change to `fanout`, and ends its streams when the feed is lost."""
        self._fanout = fanout

    def live(self) -> bool:
        """True while the cache may answer: listening, and the last ping is recent enough."""
        return self._live_until > self._clock()

    async def run(self, stop: asyncio.Event) -> None:
        """Listens until `stop`, reconnecting with a growing (bounded) delay after failures.

        Not a `mais_runtime.background.every` job: one pass is a connection held open for as long
        as it lives (LISTEN, with its own pings), and a lost one is retried with backoff, not on a
        fixed interval; only the stop-aware wait is shared."""
        delay = 0.1
        while not stop.is_set():
            try:
                await self._listen(stop)
                delay = 0.1
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("catalog change feed lost (%s); reconnecting", type(error).__name__)
            self._down()
            await wait_or_stop(stop, delay)
            delay = min(delay * 2, self._reconnect_max)

    async def _listen(self, stop: asyncio.Event) -> None:
        conn = await asyncpg.connect(
            self._dsn,
            timeout=self._connect_timeout,
            server_settings={"application_name": "mais-catalog-changes"},
        )
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        try:
            await conn.add_listener(CHANGES_CHANNEL, self._on_notification)
            # From here on every commit reaches us; what was cached before may be stale.
            self._cache.clear()
            INVALIDATIONS.labels("reset").inc()
            log.info("listening for catalog changes")
            while not stop.is_set() and not lost.is_set():
                sent = self._clock()
                await asyncio.wait_for(conn.fetchval("SELECT 1"), timeout=self._lease)
                self._live_until = sent + self._lease
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_first(stop, lost), timeout=self._ping)
        finally:
            self._down()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), timeout=1.0)
            if not conn.is_closed():
                conn.terminate()

    def _on_notification(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            tenant_id = str(uuid.UUID(payload))
        except ValueError:
            # Not ours to interpret: drop everything rather than risk a stale answer.
            log.warning("unexpected catalog change payload; clearing the cache")
            self._cache.clear()
            INVALIDATIONS.labels("reset").inc()
            if self._fanout is not None:
                self._fanout.lost()
            return
        self._cache.invalidate(tenant_id)
        INVALIDATIONS.labels("notification").inc()
        if self._fanout is not None:
            self._fanout.publish(tenant_id)

    def _down(self) -> None:
        self._live_until = 0.0
        self._cache.clear()
        if self._fanout is not None:
            self._fanout.lost()


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
