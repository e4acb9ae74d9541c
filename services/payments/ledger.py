"""Reading the payment ledger: one booking's (tenant admins) and every tenant's totals (platform admins)."""

from __future__ import annotations

from mais_runtime.errors import NotFound
from services.payments.domain import EntryKind, LedgerEntry, LedgerTotals
from services.payments.store import Payment, PaymentsStore


class LedgerView:
    """A booking's ledger with totals that reconcile."""

    def __init__(self, store: PaymentsStore) -> None:
        self._store = store

    async def platform_totals(self) -> tuple[list[tuple[str, LedgerTotals]], int]:
        """Every tenant's ledger totals per currency, and how many Stripe events are FAILED."""
        async with self._store.platform() as tx:
            sums, failed = await tx.platform_totals()
        totals = [
            (currency, LedgerTotals.of((EntryKind(kind), cents) for kind, cents in by_kind.items()))
            for currency, by_kind in sums
        ]
        return totals, failed

    async def of(self, tenant_id: str, booking_id: str) -> tuple[Payment, list[LedgerEntry], LedgerTotals]:
        """The booking's payment, its entries and their totals; NOT_FOUND when it has no payment
        (also for another tenant's booking)."""
        async with self._store.tenant(tenant_id) as tx:
            payment = await tx.payment_by_booking(booking_id)
            if payment is None:
                raise NotFound("ledger")
            entries = await tx.ledger(booking_id)
        return payment, entries, LedgerTotals.of((e.kind, e.amount_cents) for e in entries)
