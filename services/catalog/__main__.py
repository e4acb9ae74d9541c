"""python -m services.catalog: read config, wire, serve.

Environment (besides the common MAIS_* settings): MAIS_PUBLIC_CACHE_TTL_SECONDS,
MAIS_PUBLIC_CACHE_MAX_ENTRIES and the change feed's MAIS_CHANGE_FEED_* timings (the feed also serves
WatchChanges); see services/catalog/settings.py.
"""

from __future__ import annotations

from pathlib import Path

import grpc
from mais.booking.v1 import booking_service_pb2_grpc
from mais.catalog.v1 import catalog_service_pb2, catalog_service_pb2_grpc
from mais.tenant.v1 import tenant_service_pb2_grpc

from mais_runtime.change_feed import ChangeFanout
from mais_runtime.server import ServiceRuntime, main, run_service
from services.catalog.api import CatalogServicer
from services.catalog.cache import PublicCache
from services.catalog.changes import ChangeFeed
from services.catalog.clients import PackageBookings, TenantCurrencies
from services.catalog.metrics import FEED_LIVE, INVALIDATIONS
from services.catalog.public import PublicCatalog
from services.catalog.settings import CatalogSettings
from services.catalog.store import CatalogStore
from services.catalog.use_cases import CatalogAdmin


def register(server: grpc.aio.Server, runtime: ServiceRuntime) -> None:
    """The composition root: every object the servicer and the change feed need is built here."""
    settings = runtime.settings
    assert isinstance(settings, CatalogSettings)
    cache = PublicCache(
        ttl_seconds=settings.public_cache_ttl_seconds, max_entries=settings.public_cache_max_entries
    )
    feed = ChangeFeed(
        settings.session_database_url,  # LISTEN: never through a pooler
        cache,
        ping_seconds=settings.change_feed_ping_seconds,
        lease_seconds=settings.change_feed_lease_seconds,
        connect_timeout_seconds=settings.db_connect_timeout_seconds,
        reconnect_max_seconds=settings.change_feed_reconnect_max_seconds,
    )
    fanout = ChangeFanout(feed.live)
    feed.attach(fanout)
    FEED_LIVE.set_function(lambda: 1.0 if feed.live() else 0.0)

    def changed(tenant_id: str) -> None:
        cache.invalidate(tenant_id)
        INVALIDATIONS.labels("write").inc()

    store = CatalogStore(runtime.db)
    admin = CatalogAdmin(
        store,
        TenantCurrencies(
            tenant_service_pb2_grpc.TenantServiceStub(runtime.channels.get(settings.tenant_addr))
        ),
        PackageBookings(
            booking_service_pb2_grpc.BookingServiceStub(runtime.channels.get(settings.booking_addr))
        ),
        changed,
    )
    public = PublicCatalog(store, cache, feed.live)
    servicer = CatalogServicer(admin, public, changes=fanout)
    catalog_service_pb2_grpc.add_CatalogServiceServicer_to_server(servicer, server)
    runtime.background.append(feed.run)


async def serve() -> None:
    """Runs the catalog service until SIGTERM."""
    await run_service(
        name="catalog",
        settings=CatalogSettings(),
        services=[catalog_service_pb2.DESCRIPTOR.services_by_name["CatalogService"]],
        register=register,
        migrations=Path(__file__).parent / "migrations",
    )


if __name__ == "__main__":
    main(serve)
