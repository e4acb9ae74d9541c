"""The payments schema on a real PostgreSQL, as the payments role: events stored once under concurrency,
row-level security for events whose tenant is not known yet, tenant isolation, the ledger's one row per
Stripe object, and the Idempotency-Key lock that serialises concurrent checkouts with one key."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from mais_runtime.db import Database, text
from services.payments.domain import EntryKind, EventStatus
from services.payments.expiry import ExpirySweep
from services.payments.store import Payment, PaymentsStore
from tests.integration.conftest import Cluster, service_database


@pytest.fixture
async def store(cluster: Cluster) -> AsyncIterator[PaymentsStore]:
    db: Database = await service_database(cluster, "payments")
    yield PaymentsStore(db)
    await db.close()


def _payload(event_id: str, tenant_id: str | None = None) -> bytes:
    metadata = {"tenant_id": tenant_id, "booking_id": "bk_1"} if tenant_id else {}
    return json.dumps(
        {"id": event_id, "type": "checkout.session.completed", "data": {"object": {"metadata": metadata}}}
    ).encode()


async def _record(store: PaymentsStore, event_id: str, tenant_id: str | None) -> None:
    await store.record_event(
        stripe_event_id=event_id,
        event_type="checkout.session.completed",
        tenant_id=tenant_id,
        booking_id="bk_1" if tenant_id else "",
        payload=_payload(event_id, tenant_id),
        stripe_created=1_700_000_000,
    )


def _payment(tenant_id: str, booking_id: str = "bk_1") -> Payment:
    return Payment(
        session_id=f"cs_test_{uuid.uuid4().hex}",
        tenant_id=tenant_id,
        booking_id=booking_id,
        amount_cents=10_000,
        currency="usd",
        commission_bps=1_000,
        fee_cents=1_000,
        destination_account="acct_1",
        status="OPEN",
        checkout_url="http://127.0.0.1/pay",
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )


async def test_an_event_delivered_concurrently_is_stored_once(
    store: PaymentsStore, new_tenant_id: str
) -> None:
    event_id = f"evt_{uuid.uuid4().hex}"
    rows = await asyncio.gather(
        *(
            store.record_event(
                stripe_event_id=event_id,
                event_type="checkout.session.completed",
                tenant_id=new_tenant_id,
                booking_id="bk_1",
                payload=_payload(event_id, new_tenant_id),
                stripe_created=1_700_000_000,
            )
            for _ in range(10)
        )
    )
    assert len({row.id for row in rows}) == 1
    assert all(row.status is EventStatus.RECEIVED and row.attempts == 0 for row in rows)
    async with store.tenant(new_tenant_id) as tx:
        listed = await tx.list_events(status=None, limit=100, after=None)
    assert [row.stripe_event_id for row in listed] == [event_id]


async def test_an_event_whose_tenant_is_unknown_is_seen_only_by_platform_transactions(
    store: PaymentsStore, new_tenant_id: str
) -> None:
    event_id = f"evt_{uuid.uuid4().hex}"
    await _record(store, event_id, None)
    async with store.tenant(new_tenant_id) as tx:
        assert await tx.event_by_stripe_id(event_id) is None
        assert event_id not in {
            e.stripe_event_id for e in await tx.list_events(status=None, limit=100, after=None)
        }
    async with store.platform() as tx:
        found = await tx.event_by_stripe_id(event_id)
        assert found is not None and found.tenant_id is None
        # Once resolved, the event becomes the tenant's, and only that tenant's.
        await tx.set_event_tenant(event_id, new_tenant_id, "bk_9")
    async with store.tenant(new_tenant_id) as tx:
        mine = await tx.event_by_stripe_id(event_id)
        assert mine is not None and mine.booking_id == "bk_9"
    async with store.tenant(str(uuid.uuid4())) as tx:
        assert await tx.event_by_stripe_id(event_id) is None


async def test_a_tenant_never_sees_another_tenants_events_payments_or_ledger(store: PaymentsStore) -> None:
    mine, theirs = str(uuid.uuid4()), str(uuid.uuid4())
    event_id = f"evt_{uuid.uuid4().hex}"
    await _record(store, event_id, theirs)
    payment = _payment(theirs, booking_id="bk_theirs")
    async with store.tenant(theirs) as tx:
        stored = await tx.insert_payment(payment)
        assert await tx.add_entry(stored, EntryKind.CHARGE, 10_000, f"ch_{uuid.uuid4().hex}")
    async with store.tenant(mine) as tx:
        assert await tx.event_by_stripe_id(event_id) is None
        assert await tx.payment_by_booking("bk_theirs") is None
        assert await tx.payment_by_session(payment.session_id) is None
        assert await tx.ledger("bk_theirs") == []
        assert (await tx.totals(payment.session_id)).charged == 0


async def test_a_tenant_transaction_cannot_write_rows_of_another_tenant(store: PaymentsStore) -> None:
    mine, theirs = str(uuid.uuid4()), str(uuid.uuid4())
    with pytest.raises(Exception, match="row-level security"):
        async with store.tenant(mine) as tx:
            await tx.insert_payment(_payment(theirs))


async def test_the_ledger_records_each_stripe_object_once(store: PaymentsStore, new_tenant_id: str) -> None:
    async with store.tenant(new_tenant_id) as tx:
        payment = await tx.insert_payment(_payment(new_tenant_id, booking_id=f"bk_{uuid.uuid4().hex[:8]}"))
    charge_id = f"ch_{uuid.uuid4().hex}"

    async def record() -> bool:
        async with store.tenant(new_tenant_id) as tx:
            return await tx.add_entry(payment, EntryKind.CHARGE, 10_000, charge_id)

    results = await asyncio.gather(*(record() for _ in range(8)))
    assert sorted(results) == [False] * 7 + [True]
    async with store.tenant(new_tenant_id) as tx:
        assert (await tx.totals(payment.session_id)).charged == 10_000
        assert len(await tx.ledger(payment.booking_id)) == 1


async def test_concurrent_checkouts_with_one_key_queue_behind_its_lock(
    store: PaymentsStore, new_tenant_id: str
) -> None:
    key = f"key-{uuid.uuid4().hex}"
    first_locked = asyncio.Event()
    seen_by_second: list[object] = []

    async def first() -> None:
        async with store.tenant(new_tenant_id) as tx:
            await tx.lock_idempotency_key(new_tenant_id, key)
            first_locked.set()
            # Work while holding the key (a checkout calls other services here).
            await asyncio.sleep(0.3)
            await tx.save_checkout_request(new_tenant_id, key, "hash-1", "bk_1", {"booking_id": "bk_1"})

    async def second() -> None:
        await first_locked.wait()
        async with store.tenant(new_tenant_id) as tx:
            await tx.lock_idempotency_key(new_tenant_id, key)
            seen_by_second.append(await tx.checkout_request(key))

    await asyncio.gather(first(), second())
    # Without the lock the second would have found nothing and started a second checkout.
    assert seen_by_second == [("hash-1", {"booking_id": "bk_1"})]


async def test_checkout_keys_are_tenant_scoped(store: PaymentsStore) -> None:
    one, two = str(uuid.uuid4()), str(uuid.uuid4())
    async with store.tenant(one) as tx:
        await tx.save_checkout_request(one, "same-key", "h1", "bk_1", {"booking_id": "bk_1"})
    async with store.tenant(two) as tx:
        assert await tx.checkout_request("same-key") is None
        await tx.save_checkout_request(two, "same-key", "h2", "bk_2", {"booking_id": "bk_2"})
    async with store.tenant(one) as tx:
        assert await tx.checkout_request("same-key") == ("h1", {"booking_id": "bk_1"})


async def test_a_failed_attempt_never_overwrites_a_settled_event(
    store: PaymentsStore, new_tenant_id: str
) -> None:
    event_id = f"evt_{uuid.uuid4().hex}"
    await _record(store, event_id, new_tenant_id)
    async with store.tenant(new_tenant_id) as tx:
        await tx.mark_event(event_id, EventStatus.PROCESSED)
    async with store.platform() as tx:
        await tx.mark_failed_unless_settled(event_id, "AioRpcError:UNAVAILABLE")
        row = await tx.event_by_stripe_id(event_id)
    assert (
        row is not None
        and row.status is EventStatus.PROCESSED
        and row.attempts == 1
        and row.last_error is None
    )


async def test_old_checkout_answers_are_forgotten(store: PaymentsStore, new_tenant_id: str) -> None:
    async with store.tenant(new_tenant_id) as tx:
        await tx.save_checkout_request(new_tenant_id, "old-key", "h", "bk_1", {"booking_id": "bk_1"})
    async with store.platform() as tx:
        await tx.delete_checkout_requests_before(datetime.now(UTC) + timedelta(seconds=1))
    async with store.tenant(new_tenant_id) as tx:
        assert await tx.checkout_request("old-key") is None


async def _slot(store: PaymentsStore, tenant_id: str, address: str, limit: int, window: int) -> float | None:
    async with store.tenant(tenant_id) as tx:
        return await tx.take_checkout_slot(tenant_id, address, limit=limit, window_seconds=window)


async def test_concurrent_checkouts_from_one_address_get_exactly_the_limit_of_slots(
    store: PaymentsStore, new_tenant_id: str
) -> None:
    answers = await asyncio.gather(*(_slot(store, new_tenant_id, "203.0.113.7", 10, 3600) for _ in range(25)))
    assert answers.count(None) == 10
    waits = [wait for wait in answers if wait is not None]
    assert len(waits) == 15
    assert all(3500 < wait <= 3600 for wait in waits), waits
    # Another address of the same tenant, and the same address for another tenant, are not held back.
    assert await _slot(store, new_tenant_id, "203.0.113.8", 10, 3600) is None
    assert await _slot(store, str(uuid.uuid4()), "203.0.113.7", 10, 3600) is None


async def test_a_slot_comes_back_once_its_checkout_leaves_the_window(
    store: PaymentsStore, new_tenant_id: str
) -> None:
    assert await _slot(store, new_tenant_id, "203.0.113.9", 1, 1) is None
    wait = await _slot(store, new_tenant_id, "203.0.113.9", 1, 1)
    assert wait is not None and 0 < wait <= 1
    await asyncio.sleep(1.1)
    assert await _slot(store, new_tenant_id, "203.0.113.9", 1, 1) is None
    async with store.tenant(new_tenant_id) as tx:
        rows = await tx.conn.execute("SELECT count(*) FROM checkout_attempts")
        # The expired attempt was removed on the way; only the new one is left.
        assert rows.scalar() == 1


class _CountingBookings:
    """Booking as the sweep sees it, counting releases (slow, so concurrent sweeps overlap)."""

    def __init__(self) -> None:
        self.released: list[str] = []

    async def release_hold(
        self, tenant_id: str, booking_id: str, reason: str, *, session_id: str = ""
    ) -> None:
        await asyncio.sleep(0.05)
        self.released.append(booking_id)


class _CountingStripe:
    def __init__(self) -> None:
        self.expired: list[str] = []

    async def expire_checkout_session(self, session_id: str) -> None:
        await asyncio.sleep(0.05)
        self.expired.append(session_id)


async def test_sweeps_on_several_replicas_at_once_close_each_lapsed_checkout_exactly_once(
    store: PaymentsStore, new_tenant_id: str
) -> None:
    lapsed = [
        replace(
            _payment(new_tenant_id, f"bk_lapsed_{n}"), expires_at=datetime.now(UTC) - timedelta(seconds=1)
        )
        for n in range(6)
    ]
    live = _payment(new_tenant_id, "bk_live")
    async with store.tenant(new_tenant_id) as tx:
        for payment in [*lapsed, live]:
            await tx.insert_payment(payment)
    bookings, stripe = _CountingBookings(), _CountingStripe()
    replicas = [ExpirySweep(store, bookings, stripe) for _ in range(4)]  # type: ignore[arg-type]
    closed = await asyncio.gather(*(r.one_pass() for r in replicas))
    closed += await asyncio.gather(*(r.one_pass() for r in replicas))

    mine = {p.booking_id for p in lapsed}
    assert sorted(b for b in bookings.released if b in mine) == sorted(mine)
    assert sorted(s for s in stripe.expired if s in {p.session_id for p in lapsed}) == sorted(
        p.session_id for p in lapsed
    )
    assert "bk_live" not in bookings.released
    async with store.tenant(new_tenant_id) as tx:
        states = {p.booking_id: (await tx.payment_by_booking(p.booking_id)).status for p in [*lapsed, live]}  # type: ignore[union-attr]
    assert states == {**dict.fromkeys(mine, "EXPIRED"), "bk_live": "OPEN"}


async def test_a_resumed_holds_new_session_replaces_the_old_one_which_stays_findable(
    store: PaymentsStore, new_tenant_id: str
) -> None:
    old, new = _payment(new_tenant_id, "bk_resumed"), _payment(new_tenant_id, "bk_resumed")
    async with store.tenant(new_tenant_id) as tx:
        await tx.insert_payment(old)
        await tx.supersede(old.session_id)
        await tx.insert_payment(new)
        live = await tx.payment_by_booking("bk_resumed")
        replaced = await tx.payment_by_session(old.session_id)
    assert live is not None and live.session_id == new.session_id
    assert replaced is not None and replaced.status == "REPLACED"


async def test_platform_totals_count_only_what_was_paid_to_a_tenants_account(
    store: PaymentsStore, new_tenant_id: str
) -> None:
    async with store.platform() as tx:
        before = dict((await tx.platform_totals())[0])
    destination = replace(_payment(new_tenant_id, "bk_dest"), currency="chf")
    platform_charge = replace(
        _payment(new_tenant_id, "bk_platform"), currency="chf", destination_account=None, fee_cents=0
    )
    async with store.tenant(new_tenant_id) as tx:
        for payment in (destination, platform_charge):
            stored = await tx.insert_payment(payment)
            await tx.add_entry(stored, EntryKind.CHARGE, 10_000, f"ch_{uuid.uuid4().hex}")
    async with store.platform() as tx:
        after = dict((await tx.platform_totals())[0])
    charged_before = before.get("chf", {}).get("charge", 0)
    assert after["chf"]["charge"] == charged_before + 10_000


async def test_platform_money_by_month_is_the_last_twelve_utc_months_oldest_first_every_one_present(
    store: PaymentsStore, new_tenant_id: str
) -> None:
    # A currency no other test uses, so other tests' lines do not move these figures.
    currency = "xpf"
    payment = replace(_payment(new_tenant_id, "bk_monthly"), currency=currency)
    old = replace(_payment(new_tenant_id, "bk_monthly_old"), currency=currency)
    too_old = replace(_payment(new_tenant_id, "bk_monthly_too_old"), currency=currency)
    async with store.tenant(new_tenant_id) as tx:
        stored = await tx.insert_payment(payment)
        await tx.add_entry(stored, EntryKind.CHARGE, 50_000, f"ch_{uuid.uuid4().hex}")
        await tx.add_entry(stored, EntryKind.APPLICATION_FEE, 5_000, f"fee_{uuid.uuid4().hex}")
        await tx.add_entry(stored, EntryKind.REFUND, 20_000, f"re_{uuid.uuid4().hex}")
        for earlier, months_back in ((old, 3), (too_old, 12)):
            stored_earlier = await tx.insert_payment(earlier)
            await tx.add_entry(
                stored_earlier, EntryKind.CHARGE, 7_000 + months_back, f"ch_{uuid.uuid4().hex}"
            )
            # The 15th of the month `months_back` before this one, whatever today is.
            await tx.conn.execute(
                text(
                    "UPDATE ledger_entries SET created_at = date_trunc('month', now() AT TIME ZONE 'UTC')"
                    " AT TIME ZONE 'UTC' - make_interval(months => :back) + interval '14 days'"
                    " WHERE booking_id = :booking"
                ),
                {"back": months_back, "booking": earlier.booking_id},
            )
    async with store.platform() as tx:
        rows = await tx.platform_sums_by_month(12)
    now = datetime.now(UTC)
    expected_months = [
        f"{(now.year * 12 + now.month - 1 - back) // 12}-{(now.month - 1 - back) % 12 + 1:02d}"
        for back in range(11, -1, -1)
    ]
    assert sorted({month for month, *_ in rows}) == expected_months
    assert [month for month, *_ in rows] == sorted(month for month, *_ in rows)
    mine = {(month, kind): cents for month, c, kind, cents in rows if c == currency}
    assert mine == {
        (expected_months[-1], "charge"): 50_000,
        (expected_months[-1], "application_fee"): 5_000,
        (expected_months[-1], "refund"): 20_000,
        (expected_months[-4], "charge"): 7_003,
    }
