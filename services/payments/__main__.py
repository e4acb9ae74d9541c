"""python -m services.payments: read config, wire, serve."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import grpc
from mais.payments.v1 import payments_service_pb2, payments_service_pb2_grpc

from mais_runtime.background import every
from mais_runtime.server import ServiceRuntime, main, run_service
from services.payments.api import PaymentsServicer
from services.payments.checkout import Checkout, RateLimit, Urls
from services.payments.clients import Bookings, CatalogQuotes, Peers, TenantPayees
from services.payments.connect import ConnectOnboarding
from services.payments.expiry import ExpirySweep
from services.payments.inbox import StripeInbox
from services.payments.instalments import InstalmentChanges
from services.payments.ledger import LedgerView
from services.payments.refunds import Refunds
from services.payments.schedule_sweep import ScheduleSweep
from services.payments.schedules import Schedules
from services.payments.settings import PaymentsSettings
from services.payments.store import PaymentsStore, utc_now
from services.payments.stripe_adapter import StripeAdapter

log = logging.getLogger("mais.payments")

_PURGE_INTERVAL_SECONDS = 3600.0


def stripe_adapter(settings: PaymentsSettings) -> StripeAdapter:
    """The Stripe client this process uses (the sandbox when MAIS_STRIPE_API_BASE is set)."""
    return StripeAdapter(
        secret_key=settings.stripe_secret_key,
        webhook_secret=settings.stripe_webhook_secret,
        api_base=settings.stripe_api_base,
        timeout_seconds=settings.stripe_timeout_seconds,
        max_network_retries=settings.stripe_max_network_retries,
        webhook_tolerance_seconds=settings.webhook_tolerance_seconds,
    )


@dataclass(frozen=True)
class Wiring:
    """Everything the process runs: the servicer and its background passes."""

    servicer: PaymentsServicer
    payees: TenantPayees
    expiry: ExpirySweep
    store: PaymentsStore
    schedule: ScheduleSweep


def build(runtime: ServiceRuntime, settings: PaymentsSettings, stripe: StripeAdapter) -> Wiring:
    """The composition root: every object the process needs is built here."""
    store = PaymentsStore(runtime.db)
    peers = Peers.connect(runtime.channels, settings)
    payees = TenantPayees(peers.tenant)
    bookings = Bookings(peers.booking)
    quotes = CatalogQuotes(peers.catalog)
    public = settings.public_url.rstrip("/")
    refunds = Refunds(store, bookings, stripe)
    default_urls = Urls(
        success=f"{public}/checkout/success?session_id={{CHECKOUT_SESSION_ID}}",
        cancel=f"{public}/checkout/cancelled?booking_id={{BOOKING_ID}}",
    )
    checkout = Checkout(
        store,
        payees=payees,
        bookings=bookings,
        stripe=stripe,
        default_urls=default_urls,
        rate_limit=RateLimit(settings.checkout_rate_limit, settings.checkout_rate_window_seconds),
    )
    servicer = PaymentsServicer(
        checkout=checkout,
        schedules=Schedules(
            store,
            checkout=checkout,
            payees=payees,
            quotes=quotes,
            bookings=bookings,
            stripe=stripe,
            default_urls=default_urls,
        ),
        inbox=StripeInbox(store, payees=payees, bookings=bookings, stripe=stripe),
        refunds=refunds,
        ledger=LedgerView(store),
        instalments=InstalmentChanges(store, bookings),
        onboarding=ConnectOnboarding(
            payees,
            stripe,
            refresh_url=f"{public}/admin/stripe/refresh",
            return_url=f"{public}/admin/stripe/return",
        ),
    )
    return Wiring(
        servicer, payees, ExpirySweep(store, bookings, stripe), store, ScheduleSweep(store, bookings, refunds)
    )


async def serve() -> None:
    """Runs the payments service until SIGTERM."""
    settings = PaymentsSettings()
    if not settings.stripe_secret_key:
        raise SystemExit("STRIPE_SECRET_KEY is required (the stack gives the sandbox a sk_test_ key)")
    stripe = stripe_adapter(settings)

    def register(server: grpc.aio.Server, runtime: ServiceRuntime) -> None:
        wiring = build(runtime, settings, stripe)
        payments_service_pb2_grpc.add_PaymentsServiceServicer_to_server(wiring.servicer, server)
        runtime.background.append(wiring.payees.follow_changes().run)
        if settings.payments_role == "webhooks":
            log.info("serving as the webhook worker: no sweeps in this process")
            return
        runtime.background.append(
            every(settings.expiry_sweep_seconds, wiring.expiry.one_pass, name="closing lapsed checkouts")
        )
        runtime.background.append(
            every(settings.schedule_sweep_seconds, wiring.schedule.one_pass, name="sweeping owed balances")
        )

        async def purge_checkout_keys() -> None:
            """Forgets Idempotency-Key answers past their retention."""
            async with wiring.store.platform() as tx:
                cutoff = utc_now() - timedelta(hours=settings.checkout_key_retention_hours)
                await tx.delete_checkout_requests_before(cutoff)

        runtime.background.append(
            every(_PURGE_INTERVAL_SECONDS, purge_checkout_keys, name="purging old checkout keys")
        )

    try:
        await run_service(
            name="payments",  # the schema; the webhook worker shares it
            settings=settings,
            services=[payments_service_pb2.DESCRIPTOR.services_by_name["PaymentsService"]],
            register=register,
            migrations=Path(__file__).parent / "migrations",
        )
    finally:
        with contextlib.suppress(Exception):
            await stripe.close()


if __name__ == "__main__":
    main(serve)
