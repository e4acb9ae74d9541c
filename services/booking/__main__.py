"""python -m services.booking: read config, wire, serve."""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

import grpc
from mais.booking.v1 import booking_service_pb2, booking_service_pb2_grpc
from mais.catalog.v1 import catalog_service_pb2_grpc
from mais.tenant.v1 import tenant_service_pb2_grpc

from mais_runtime.change_feed import ChangeHub
from mais_runtime.mail import Mailer, MailSettings, mailer_from_settings
from mais_runtime.outbox import OutboxDispatcher
from mais_runtime.server import ServiceRuntime, main, run_service
from services.booking import emails
from services.booking.api import BookingServicer
from services.booking.clients import CatalogQuotes, TenantDirectory
from services.booking.hours import Hours
from services.booking.settings import BookingSettings
from services.booking.store import BookingStore
from services.booking.sweeps import expiry_sweep, reminder_sweep
from services.booking.use_cases import Bookings

CHANGES_CHANNEL = "mais_booking_changes"
# How long a tenant's calendar is kept while the tenant service's change feed is healthy.
TENANT_FEED_CACHE_SECONDS = 30.0


def register(server: grpc.aio.Server, runtime: ServiceRuntime, mailer: Mailer | None = None) -> None:
    """The composition root: every object the servicer and the background jobs need is built here
    (the mailer given by `serve`, which closes it at the end)."""
    settings = runtime.settings
    assert isinstance(settings, BookingSettings)
    tenants = TenantDirectory(
        tenant_service_pb2_grpc.TenantServiceStub(runtime.channels.get(settings.tenant_addr)),
        ttl_seconds=settings.tenant_cache_seconds,
        feed_seconds=TENANT_FEED_CACHE_SECONDS,
    )
    runtime.background.append(tenants.follow_changes().run)
    bookings = Bookings(
        BookingStore(runtime.db),
        tenants,
        link_key=settings.booking_link_key.encode(),
        public_url=settings.public_url,
    )
    hours = Hours(BookingStore(runtime.db), tenants)
    # Holds, bookings, blackouts, hours, resources and occupancy notify at commit (migration 008).
    changes = ChangeHub(
        settings.session_database_url,  # LISTEN: never through a pooler
        CHANGES_CHANNEL,
        application_name="mais-booking-changes",
        connect_timeout_seconds=settings.db_connect_timeout_seconds,
    )
    runtime.background.append(changes.run)
    quotes = CatalogQuotes(
        catalog_service_pb2_grpc.CatalogServiceStub(runtime.channels.get(settings.catalog_addr))
    )
    booking_service_pb2_grpc.add_BookingServiceServicer_to_server(
        BookingServicer(bookings, hours, quotes, changes=changes.fanout), server
    )
    dispatcher = OutboxDispatcher(
        runtime.db,
        mailer or mailer_from_settings(MailSettings(mais_data_dir=settings.data_dir)),
        poll_seconds=settings.outbox_poll_seconds,
        max_attempts=settings.outbox_max_attempts,
        renderer=emails.render,
    )
    runtime.background.extend(
        [
            dispatcher.run,
            reminder_sweep(
                bookings,
                interval_seconds=settings.reminder_sweep_seconds,
                batch_size=settings.reminder_batch_size,
            ),
            expiry_sweep(bookings, interval_seconds=settings.hold_expiry_sweep_seconds),
        ]
    )


async def serve() -> None:
    """Runs the booking service until SIGTERM."""
    settings = BookingSettings()
    mailer = mailer_from_settings(MailSettings(mais_data_dir=settings.data_dir))
    try:
        await run_service(
            name="booking",
            settings=settings,
            services=[booking_service_pb2.DESCRIPTOR.services_by_name["BookingService"]],
            register=functools.partial(register, mailer=mailer),
            migrations=Path(__file__).parent / "migrations",
        )
    finally:
        with contextlib.suppress(Exception):
            await mailer.close()


if __name__ == "__main__":
    main(serve)
