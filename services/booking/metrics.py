"""The booking service's Prometheus metrics (the outbox backlog gauge lives with the outbox)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HOLDS = Counter("mais_booking_holds_total", "Date holds asked for, by outcome", ["outcome"])
CONFLICTS = Counter(
    "mais_booking_conflicts_total", "Holds and blackouts refused because the date was taken", ["why"]
)
CONFIRMATIONS = Counter(
    "mais_booking_confirmations_total", "Payments applied to bookings, by outcome", ["outcome"]
)
LOCK_WAIT = Histogram(
    "mais_booking_lock_wait_seconds",
    "Time spent waiting for a date's advisory lock",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
REMINDERS = Counter("mais_booking_reminders_enqueued_total", "Event reminders put in the outbox")
HOLDS_EXPIRED = Counter("mais_booking_holds_expired_total", "Holds the expiry sweep released")
