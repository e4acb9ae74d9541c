"""The payments service's settings."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mais_runtime.settings import ServiceSettings

DEV_WEBHOOK_SECRET = "whsec_mais_dev_sandbox_secret"  # noqa: S105 - the sandbox's dev default


class PaymentsSettings(ServiceSettings):
    """Stripe keys and endpoints, and the bounds of every Stripe call."""

    # Real Stripe when this is a real key; the stack gives the sandbox a sk_test_ key.
    stripe_secret_key: str = Field(default="", validation_alias="STRIPE_SECRET_KEY")
    stripe_webhook_secret: str = Field(default=DEV_WEBHOOK_SECRET, validation_alias="STRIPE_WEBHOOK_SECRET")
    # The sandbox's base URL (MAIS_STRIPE_API_BASE); empty talks to api.stripe.com.
    stripe_api_base: str = ""
    # MAIS_PAYMENTS_ROLE. "all": every RPC and the background sweeps. "webhooks": a worker the
    # gateways send Stripe's webhooks to (MAIS_PAYMENTS_WEBHOOK_ADDR), so that checkouts queued in the
    # main process's event loop never delay a confirmation; same inbox, same exactly-once rules (the
    # event's row is written first and processed under its lock, whichever process receives it), and
    # no sweeps of its own.
    payments_role: Literal["all", "webhooks"] = "all"
    # Per HTTP request to Stripe; the SDK retries network failures this many times.
    stripe_timeout_seconds: float = 8.0
    stripe_max_network_retries: int = 2
    webhook_tolerance_seconds: int = 300
    # MAIS_PUBLIC_URL, the address couples see: where they land after Checkout, where Connect returns.
    public_url: str = "http://127.0.0.1:8080"
    # How long an Idempotency-Key's checkout answer is kept.
    checkout_key_retention_hours: int = 24
    # Checkouts one client address may start per tenant per window (MAIS_CHECKOUT_RATE_LIMIT; 0 turns
    # the limit off). Counted in this service's database, so every gateway replica shares the count.
    checkout_rate_limit: int = Field(default=20, ge=0)
    checkout_rate_window_seconds: int = Field(default=60, ge=1, le=86_400)
    # How often lapsed checkouts are closed (their session expired at Stripe, their hold released):
    # a hold is freed within this long of its expiry, on any number of replicas.
    expiry_sweep_seconds: float = Field(default=15.0, gt=0, le=300)
    # How often owed balances are swept for their notices and overdue actions (schedule_sweep.py).
    schedule_sweep_seconds: float = Field(default=60.0, gt=0, le=3600)
