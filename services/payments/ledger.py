"""Reading the payment ledger: one booking's (tenant admins) and every tenant's totals (platform admins)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mais_runtime.errors import FieldViolation, NotFound, ValidationError
from services.payments.domain import EntryKind, LedgerEntry, LedgerTotals
from services.payments.domain.instalments import Instalment
from services.payments.store import Payment, PaymentsStore, utc_now
from services.payments.store_refunds import Outstanding

# A period of the tenant's totals: two years and a day at most (the overview asks for twelve months).
MAX_PERIOD_DAYS = 731
# Stripe retries a failed webhook delivery for up to three days; a FAILED event older than that waits
# only for a replay (a dead letter).
STRIPE_RETRY_SECONDS = 3 * 24 * 3600
TOP_TENANTS = 20
# The platform admin's money over time: the last year, month by month.
STATS_MONTHS = 12


@dataclass(frozen=True)
class PeriodTotals:
    """One currency's money over a period (or a month of it) and how many bookings were charged."""

    currency: str
    bookings: int
    ledger: LedgerTotals


@dataclass(frozen=True)
class TenantTotals:
    """The period's totals per currency and the months' ((YYYY-MM, totals), oldest first); and, whatever
    the period, what the tenant's confirmed bookings still owe per currency and the overdue instalments
    (the longest overdue first, at most 20)."""

    totals: list[PeriodTotals]
    months: list[tuple[str, PeriodTotals]]
    outstanding: list[Outstanding]
    overdue: list[Instalment]


@dataclass(frozen=True)
class PlatformTotals:
    """Every tenant's money per currency, and per month ((YYYY-MM, per currency), oldest first)."""

    totals: list[tuple[str, LedgerTotals, Outstanding | None]]
    by_month: list[tuple[str, list[tuple[str, LedgerTotals]]]]
    failed_events: int


@dataclass(frozen=True)
class WebhookHealth:
    """The event inbox across tenants."""

    failed: int
    dead_letters: int
    oldest_unprocessed_at: datetime | None
    tenants: list[tuple[str, int]]


def check_period(first: str, last: str, timezone: str) -> tuple[date, date, str]:
    """The period's days and zone, or VALIDATION_ERROR naming fromDate, toDate or timezone."""
    problems = []
    days: list[date | None] = []
    for name, value in (("fromDate", first), ("toDate", last)):
        try:
            days.append(date.fromisoformat(value) if len(value) == 10 else None)
        except ValueError:
            days.append(None)
        if days[-1] is None:
            problems.append(FieldViolation(name, "must be a date, YYYY-MM-DD"))
    zone = timezone or "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(FieldViolation("timezone", "is not a known time zone"))
    start, end = days
    if start and end and not 0 <= (end - start).days < MAX_PERIOD_DAYS:
        problems.append(FieldViolation("toDate", f"must be from fromDate to {MAX_PERIOD_DAYS} days after"))
    if problems or start is None or end is None:
        raise ValidationError("the period is not valid", problems)
    return start, end, zone


class LedgerView:
    """A booking's ledger with totals that reconcile."""

    def __init__(self, store: PaymentsStore, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._store = store
        self._clock = clock

    async def platform_totals(self) -> PlatformTotals:
        """Every tenant's ledger totals per currency with what confirmed bookings still owe in it,
        overall and per month of the last STATS_MONTHS, and how many Stripe events are FAILED."""
        async with self._store.platform() as tx:
            sums, failed = await tx.platform_totals()
            monthly = await tx.platform_sums_by_month(STATS_MONTHS)
            owed = {o.currency: o for o in await tx.outstanding(self._clock())}
        totals = [
            (
                currency,
                LedgerTotals.of((EntryKind(kind), cents) for kind, cents in by_kind.items()),
                owed.pop(currency, None),
            )
            for currency, by_kind in sums
        ]
        months: dict[str, dict[str, list[tuple[EntryKind, int]]]] = {}
        for month, currency, kind, cents in monthly:
            per_currency = months.setdefault(month, {})
            if currency is not None and kind is not None:
                per_currency.setdefault(currency, []).append((EntryKind(kind), cents))
        by_month = [
            (month, [(currency, LedgerTotals.of(entries)) for currency, entries in per_currency.items()])
            for month, per_currency in months.items()
        ]
        # A currency with balances owed and nothing charged yet to a Connect account still shows.
        totals += [(currency, LedgerTotals(), o) for currency, o in sorted(owed.items())]
        return PlatformTotals(totals, by_month, failed)

    async def tenant_totals(self, tenant_id: str, first: str, last: str, timezone: str) -> TenantTotals:
        """The tenant's ledger from `first` to `last` (days of `timezone`) per currency and per month."""
        start, end, zone = check_period(first, last, timezone)
        async with self._store.tenant(tenant_id) as tx:
            sums = await tx.tenant_sums(start, end, zone)
            outstanding = await tx.outstanding(self._clock())
            overdue = await tx.overdue_instalments(self._clock())
        groups: dict[tuple[str | None, str], list[tuple[EntryKind, int]]] = {}
        bookings: dict[tuple[str | None, str], int] = {}
        for month, currency, kind, cents, charged in sums:
            key = (month, currency)
            groups.setdefault(key, []).append((EntryKind(kind), cents))
            if kind == EntryKind.CHARGE.value:
                bookings[key] = charged
        made = {
            key: PeriodTotals(key[1], bookings.get(key, 0), LedgerTotals.of(entries))
            for key, entries in groups.items()
        }
        return TenantTotals(
            totals=[t for (month, _), t in sorted(made.items(), key=_order) if month is None],
            months=[(month, t) for (month, _), t in sorted(made.items(), key=_order) if month is not None],
            outstanding=outstanding,
            overdue=overdue,
        )

    async def webhook_health(self) -> WebhookHealth:
        """Failed events, dead letters, the oldest unprocessed event and the top tenants by failures."""
        async with self._store.platform() as tx:
            failed, dead, oldest, tenants = await tx.webhook_health(
                dead_after_seconds=STRIPE_RETRY_SECONDS, top=TOP_TENANTS
            )
        return WebhookHealth(failed, dead, oldest, tenants)

    async def of(self, tenant_id: str, booking_id: str) -> tuple[Payment, list[LedgerEntry], LedgerTotals]:
        """The booking's payment, its entries and their totals; NOT_FOUND when it has no payment
        (also for another tenant's booking)."""
        async with self._store.tenant(tenant_id) as tx:
            payment = await tx.payment_by_booking(booking_id)
            if payment is None:
                raise NotFound("ledger")
            entries = await tx.ledger(booking_id)
        return payment, entries, LedgerTotals.of((e.kind, e.amount_cents) for e in entries)


def _order(item: tuple[tuple[str | None, str], PeriodTotals]) -> tuple[str, str]:
    (month, currency), _ = item
    return (month or "", currency)
