"""python -m services.payments: read config, wire, serve."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
from mais.payments.v1 import payments_service_pb2, payments_service_pb2_grpc

from mais_runtime.server import ServiceRuntime, main, run_service
from services.payments.api import PaymentsServicer
from services.payments.checkout import Checkout, RateLimit, Urls
from services.payments.clients import Peers
from services.payments.connect import ConnectOnboarding
from services.payments.inbox import StripeInbox
from services.payments.ledger import LedgerView
from services.payments.refunds import Refunds
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


def build_servicer(
    runtime: ServiceRuntime, settings: PaymentsSettings, stripe: StripeAdapter
) -> PaymentsServicer:
    """The composition root: every object the servicer needs is built here."""
    store = PaymentsStore(runtime.db)
    peers = Peers.connect(runtime.channels, settings)
    public = settings.public_url.rstrip("/")
    return PaymentsServicer(
        checkout=Checkout(
            store,
            peers,
            stripe,
            Urls(
                success=f"{public}/checkout/success?session_id={{CHECKOUT_SESSION_ID}}",
                cancel=f"{public}/checkout/cancelled?booking_id={{BOOKING_ID}}",
            ),
            rate_limit=RateLimit(settings.checkout_rate_limit, settings.checkout_rate_window_seconds),
        ),
        inbox=StripeInbox(store, peers, stripe),
        refunds=Refunds(store, peers, stripe),
        ledger=LedgerView(store),
        onboarding=ConnectOnboarding(
            peers,
            stripe,
            refresh_url=f"{public}/admin/stripe/refresh",
            return_url=f"{public}/admin/stripe/return",
        ),
    )


async def serve() -> None:
    """Runs the payments service until SIGTERM."""
    settings = PaymentsSettings()
    if not settings.stripe_secret_key:
        raise SystemExit("STRIPE_SECRET_KEY is required (the stack gives the sandbox a sk_test_ key)")
    stripe = stripe_adapter(settings)

    def register(server: grpc.aio.Server, runtime: ServiceRuntime) -> None:
        payments_service_pb2_grpc.add_PaymentsServiceServicer_to_server(
            build_servicer(runtime, settings, stripe), server
        )
        runtime.background.append(_purge_checkout_keys(PaymentsStore(runtime.db), settings, stripe))

    await run_service(
        name="payments",
        settings=settings,
        services=[payments_service_pb2.DESCRIPTOR.services_by_name["PaymentsService"]],
        register=register,
        migrations=Path(__file__).parent / "migrations",
    )


def _purge_checkout_keys(
    store: PaymentsStore, settings: PaymentsSettings, stripe: StripeAdapter
) -> Callable[[asyncio.Event], Coroutine[Any, Any, None]]:
    """A background job: forgets Idempotency-Key answers past their retention; closes the Stripe
    client when the service stops."""

    async def job(stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    async with store.platform() as tx:
                        cutoff = utc_now() - timedelta(hours=settings.checkout_key_retention_hours)
                        await tx.delete_checkout_requests_before(cutoff)
                except Exception:  # the next round tries again; the database may be restarting
                    log.warning("purging old checkout keys failed", exc_info=True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=_PURGE_INTERVAL_SECONDS)
        finally:
            with contextlib.suppress(Exception):
                await stripe.close()

    return job


if __name__ == "__main__":
    main(serve)
