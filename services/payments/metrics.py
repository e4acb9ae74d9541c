"""The payments service's Prometheus metrics."""

from __future__ import annotations

from prometheus_client import Counter

CHECKOUTS = Counter("mais_payments_checkouts_total", "Checkouts started, by outcome", ["outcome"])
WEBHOOK_ATTEMPTS = Counter(
    "mais_payments_webhook_attempts_total",
    "Processing attempts of Stripe events, by type and outcome",
    ["type", "outcome"],
)
HOLDS_LOST = Counter(
    "mais_payments_holds_lost_total", "Payments refunded in full because their hold was lost"
)
# Money is counted per currency: cents of two currencies never add up to anything.
CHARGED_CENTS = Counter(
    "mais_payments_charged_cents_total", "Cents charged to couples, by currency", ["currency"]
)
REFUNDED_CENTS = Counter(
    "mais_payments_refunded_cents_total", "Cents refunded through cancellations, by currency", ["currency"]
)
# Owed balances the schedule sweep moved on: "REMINDER", "DUE_TODAY", "OVERDUE" (notices sent) and
# "cancelled" (the booking cancelled for non-payment).
SCHEDULE_NOTICES = Counter(
    "mais_payments_schedule_notices_total", "Owed balances' notices sent and overdue actions taken", ["what"]
)
NOT_OWED_REFUNDS = Counter(
    "mais_payments_not_owed_refunds_total",
    "Payments refunded in full because nothing was owed for them (paid twice, or after a cancellation)",
)
