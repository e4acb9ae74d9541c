"""The gateway's subscriptions to the services' change feeds (mais_runtime/change_feed.py).

One WatchChanges stream per service the public reads come from (tenant, catalog, booking), each
kept open with reconnect and backoff by a background task of the application's lifespan. Every
change drops or reloads the tenant's cached public answers (gateway/read_cache.py); a tenant
change also drops the tenant's cached API keys and booking-page slugs, so a revoked or rotated key
stops being answered at once rather than after the auth cache's TTL (which is why public keys'
answers may live longer while the tenant feed is healthy; they are all dropped when it is lost or
comes back). While any stream is down, or has just come back, the read cache falls back to its
short TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from mais.booking.v1 import booking_service_pb2
from mais.catalog.v1 import catalog_service_pb2
from mais.tenant.v1 import tenant_service_pb2
from prometheus_client import Counter, Gauge

from gateway.auth import AuthCaches
from gateway.clients import ServiceClients
from gateway.read_cache import PublicReadCache
from mais_runtime.change_feed import ChangeSubscription

log = logging.getLogger("mais.gateway.feeds")

FEED_HEALTHY = Gauge(
    "mais_gateway_change_feed_healthy", "1 while the service's change feed is open and heard from", ["feed"]
)
FEED_CHANGES = Counter("mais_gateway_change_feed_changes_total", "Tenant changes heard, by feed", ["feed"])
FEED_READY = Counter("mais_gateway_change_feed_ready_total", "Streams that became ready, by feed", ["feed"])


class GatewayFeeds:
    """See the module docstring."""

    def __init__(self, clients: ServiceClients, *, auth: AuthCaches) -> None:
        self._auth = auth
        self.cache = PublicReadCache(feeds_healthy=self.healthy)
        self.subscriptions = [
            ChangeSubscription(
                "tenant",
                lambda: clients.tenant.WatchChanges(tenant_service_pb2.WatchChangesRequest()),
                on_ready=self._ready("tenant", then=auth.shorten_keys),
                on_change=self._counted("tenant", self._tenant_changed),
                on_lost=self._tenant_lost,
            ),
            ChangeSubscription(
                "catalog",
                lambda: clients.catalog.WatchChanges(catalog_service_pb2.WatchChangesRequest()),
                on_ready=self._ready("catalog"),
                on_change=self._counted("catalog", self.cache.changed),
                on_lost=self.cache.reset,
            ),
            ChangeSubscription(
                "booking",
                lambda: clients.booking.WatchChanges(booking_service_pb2.WatchChangesRequest()),
                on_ready=self._ready("booking"),
                on_change=self._counted("booking", self.cache.changed),
                on_lost=self.cache.reset,
            ),
        ]
        # Public keys' answers live longer while this feed is healthy (auth.KEY_FEED_CACHE_SECONDS).
        auth.feed_healthy = self.subscriptions[0].healthy
        for subscription in self.subscriptions:
            FEED_HEALTHY.labels(subscription.name).set_function(_health_of(subscription))
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def healthy(self) -> bool:
        """Every stream is open and heard from within its lease."""
        return all(subscription.healthy() for subscription in self.subscriptions)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(s.run(self._stop)) for s in self.subscriptions]

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=2)

    def _ready(self, feed: str, then: Callable[[], None] | None = None) -> Callable[[], None]:
        counter = FEED_READY.labels(feed)

        def ready() -> None:
            counter.inc()
            self.cache.reset()
            if then is not None:
                then()

        return ready

    def _tenant_lost(self) -> None:
        """Changes are no longer heard: nothing learnt of the tenants' keys is kept longer than the
        auth cache's own lifetime."""
        self._auth.shorten_keys()
        self.cache.reset()

    @staticmethod
    def _counted(feed: str, then: Callable[[str], None]) -> Callable[[str], None]:
        counter = FEED_CHANGES.labels(feed)

        def changed(tenant_id: str) -> None:
            counter.inc()
            then(tenant_id)

        return changed

    def _tenant_changed(self, tenant_id: str) -> None:
        self._auth.forget_tenant(tenant_id)
        self.cache.changed(tenant_id)


def _health_of(subscription: ChangeSubscription) -> Callable[[], float]:
    return lambda: 1.0 if subscription.healthy() else 0.0
