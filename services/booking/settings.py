"""The booking service's settings (environment, prefix MAIS_)."""

from __future__ import annotations

from mais_runtime.settings import ServiceSettings


class BookingSettings(ServiceSettings):
    """Everything the booking process reads from its environment."""

    # Signs the couple's links (MAIS_BOOKING_LINK_KEY); the stack generates one per installation.
    booking_link_key: str = "mais-dev-booking-link-key"
    # Where the couple's links point: MAIS_PUBLIC_URL, the address couples see (a proxy in front).
    public_url: str = "http://127.0.0.1:8080"
    # How long a tenant's calendar and policy are reused before asking the tenant service again.
    tenant_cache_seconds: float = 5.0
    # How often the reminder sweep looks for due reminders, and how many it takes per pass.
    reminder_sweep_seconds: float = 30.0
    reminder_batch_size: int = 100
    # How often expired holds are released (HELD past expiry -> RELEASED); the issue asks for a minute.
    hold_expiry_sweep_seconds: float = 20.0
    # The outbox dispatcher's pacing.
    outbox_poll_seconds: float = 0.5
    outbox_max_attempts: int = 8
