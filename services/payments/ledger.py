"""Reading a booking's payment ledger (tenant admins)."""

from __future__ import annotations

from mais_runtime.errors import NotFound
from services.payments.domain import LedgerEntry, LedgerTotals
from services.payments.store import Payment, PaymentsStore


class LedgerView:
    """A booking's ledger with totals that reconcile."""

    def __init__(self, store: PaymentsStore) -> None:
        self._store = store

    async def of(self, tenant_id: str, booking_id: str) -> tuple[Payment, list[LedgerEntry], LedgerTotals]:
        """The booking's payment, its entries and their totals; NOT_FOUND when it has no payment
        (also for another tenant's booking)."""
        async with self._store.tenant(tenant_id) as tx:
            payment = await tx.payment_by_booking(booking_id)
            if payment is None:
                raise NotFound("ledger")
            entries = await tx.ledger(booking_id)
        return payment, entries, LedgerTotals.of((e.kind, e.amount_cents) for e in entries)
