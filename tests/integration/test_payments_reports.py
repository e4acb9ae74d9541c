"""The payments reports on a real PostgreSQL, as the payments role: a tenant's totals per currency and per
month of its own time zone (GetTenantTotals), never another tenant's money, and the event inbox's health
across tenants (GetWebhookHealth)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mais.payments.v1 import payments_service_pb2 as pb

from mais_runtime.db import Database, text
from mais_runtime.errors import ValidationError
from services.payments.api import PaymentsServicer
from services.payments.domain import EntryKind
from services.payments.ledger import LedgerView
from services.payments.store import Payment, PaymentsStore
from tests.integration.conftest import Cluster, service_database


@pytest.fixture
async def store(cluster: Cluster) -> AsyncIterator[PaymentsStore]:
    db: Database = await service_database(cluster, "payments")
    yield PaymentsStore(db)
    await db.close()


def servicer(store: PaymentsStore) -> PaymentsServicer:
    # Only the ledger view answers these two RPCs.
    none: Any = None
    return PaymentsServicer(
        checkout=none, schedules=none, inbox=none, refunds=none, ledger=LedgerView(store), onboarding=none
    )


async def paid_booking(
    store: PaymentsStore,
    tenant_id: str,
    at: datetime,
    *,
    cents: int = 10_000,
    fee: int = 1_000,
    currency: str = "usd",
    refunds: tuple[tuple[datetime, int, int], ...] = (),
) -> str:
    """A booking charged at `at` (with the fee), then refunded (when, amount, fee refunded)."""
    booking_id = f"bk_{uuid.uuid4().hex[:12]}"
    payment = Payment(
        session_id=f"cs_test_{uuid.uuid4().hex}",
        tenant_id=tenant_id,
        booking_id=booking_id,
        amount_cents=cents,
        currency=currency,
        commission_bps=1_000,
        fee_cents=fee,
        destination_account="acct_1",
        status="PAID",
        checkout_url="http://127.0.0.1/pay",
        expires_at=at + timedelta(hours=1),
    )
    moves = [(at, EntryKind.CHARGE, cents), (at, EntryKind.APPLICATION_FEE, fee)]
    for when, amount, fee_back in refunds:
        moves += [(when, EntryKind.REFUND, amount), (when, EntryKind.APPLICATION_FEE_REFUND, fee_back)]
    async with store.tenant(tenant_id) as tx:
        await tx.insert_payment(payment)
        for when, kind, amount in moves:
            object_id = f"obj_{uuid.uuid4().hex}"
            await tx.add_entry(payment, kind, amount, object_id)
            await tx.conn.execute(
                text("UPDATE ledger_entries SET created_at = :at WHERE stripe_object_id = :o"),
                {"at": when, "o": object_id},
            )
    return booking_id


def totals(t: pb.TenantTotals) -> tuple[str, int, int, int, int, int]:
    return (t.currency, t.bookings, t.gross_cents, t.fee_cents, t.refunded_cents, t.net_cents)


async def test_a_tenants_totals_are_summed_per_currency_and_per_month_of_its_own_zone(
    store: PaymentsStore,
) -> None:
    ours, theirs = str(uuid.uuid4()), str(uuid.uuid4())
    # 2024-01-31 20:00 UTC is already 1 February in Auckland (UTC+13 in summer).
    await paid_booking(store, ours, datetime(2024, 1, 31, 20, tzinfo=UTC))
    await paid_booking(
        store,
        ours,
        datetime(2024, 1, 10, 12, tzinfo=UTC),
        cents=20_000,
        fee=2_000,
        refunds=((datetime(2024, 3, 5, 12, tzinfo=UTC), 5_000, 500),),
    )
    await paid_booking(store, ours, datetime(2024, 2, 2, 12, tzinfo=UTC), cents=9_000, fee=0, currency="eur")
    # Outside the period (before and after), and another tenant's in it.
    await paid_booking(store, ours, datetime(2023, 12, 31, 10, tzinfo=UTC))
    await paid_booking(store, ours, datetime(2024, 4, 1, 12, tzinfo=UTC))
    await paid_booking(store, theirs, datetime(2024, 2, 10, tzinfo=UTC), cents=77_700)

    answer = await servicer(store).GetTenantTotals(
        pb.GetTenantTotalsRequest(
            tenant_id=ours, from_date="2024-01-01", to_date="2024-03-31", timezone="Pacific/Auckland"
        ),
        None,  # type: ignore[arg-type]
    )

    assert [totals(t) for t in answer.totals] == [
        ("eur", 1, 9_000, 0, 0, 9_000),
        # 30,000 charged, 3,000 fee less 500 back, 5,000 refunded: 30,000 - 5,000 - 2,500 kept.
        ("usd", 2, 30_000, 2_500, 5_000, 22_500),
    ]
    assert [(m.month, *totals(m.totals)) for m in answer.months] == [
        ("2024-01", "usd", 1, 20_000, 2_000, 0, 18_000),
        ("2024-02", "eur", 1, 9_000, 0, 0, 9_000),
        ("2024-02", "usd", 1, 10_000, 1_000, 0, 9_000),
        ("2024-03", "usd", 0, 0, -500, 5_000, -4_500),
    ]


async def test_the_same_ledger_in_utc_puts_the_late_january_charge_in_january(store: PaymentsStore) -> None:
    ours = str(uuid.uuid4())
    await paid_booking(store, ours, datetime(2024, 1, 31, 20, tzinfo=UTC))
    answer = await servicer(store).GetTenantTotals(
        pb.GetTenantTotalsRequest(tenant_id=ours, from_date="2024-01-01", to_date="2024-01-31"),
        None,  # type: ignore[arg-type]
    )
    assert [m.month for m in answer.months] == ["2024-01"]
    assert [totals(t) for t in answer.totals] == [("usd", 1, 10_000, 1_000, 0, 9_000)]


@pytest.mark.parametrize(
    ("first", "last", "zone", "field"),
    [
        ("2024-1-01", "2024-02-01", "UTC", "fromDate"),
        ("2024-01-01", "", "UTC", "toDate"),
        ("2024-02-01", "2024-01-01", "UTC", "toDate"),
        ("2020-01-01", "2024-01-01", "UTC", "toDate"),
        ("2024-01-01", "2024-02-01", "Mars/Olympus", "timezone"),
    ],
)
async def test_a_period_that_is_not_one_names_its_field(
    store: PaymentsStore, first: str, last: str, zone: str, field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        await servicer(store).GetTenantTotals(
            pb.GetTenantTotalsRequest(
                tenant_id=str(uuid.uuid4()), from_date=first, to_date=last, timezone=zone
            ),
            None,  # type: ignore[arg-type]
        )
    assert [f.field for f in refused.value.fields] == [field]


async def _event(store: PaymentsStore, tenant_id: str | None, status: str, age: timedelta) -> None:
    event_id = f"evt_{uuid.uuid4().hex}"
    await store.record_event(
        stripe_event_id=event_id,
        event_type="checkout.session.completed",
        tenant_id=tenant_id,
        booking_id="bk_1" if tenant_id else "",
        payload=json.dumps({"id": event_id}).encode(),
        stripe_created=0,
    )
    async with store.platform() as tx:
        await tx.conn.execute(
            text(
                "UPDATE stripe_events SET status = :s, received_at = now() - CAST(:age AS interval)"
                " WHERE stripe_event_id = :e"
            ),
            {"s": status, "age": age, "e": event_id},
        )


async def test_webhook_health_counts_failures_dead_letters_and_the_oldest_unprocessed_event(
    store: PaymentsStore,
) -> None:
    rpc = servicer(store)
    before = await rpc.GetWebhookHealth(pb.GetWebhookHealthRequest(), None)  # type: ignore[arg-type]
    noisy, quiet = str(uuid.uuid4()), str(uuid.uuid4())
    for n in range(40):
        await _event(store, noisy, "FAILED", timedelta(days=4) if n < 3 else timedelta(minutes=n))
    await _event(store, quiet, "PROCESSED", timedelta(days=400))
    await _event(store, quiet, "RECEIVED", timedelta(days=300))
    await _event(store, None, "FAILED", timedelta(hours=1))

    after = await rpc.GetWebhookHealth(pb.GetWebhookHealthRequest(), None)  # type: ignore[arg-type]

    assert after.failed - before.failed == 41
    assert after.dead_letters - before.dead_letters == 3
    oldest = after.oldest_unprocessed_at.ToDatetime(tzinfo=UTC)
    assert abs(oldest - (datetime.now(UTC) - timedelta(days=300))) < timedelta(minutes=5)
    assert after.tenants[0].tenant_id == noisy and after.tenants[0].failed == 40
    assert quiet not in {t.tenant_id for t in after.tenants}
    assert len(after.tenants) <= 20
