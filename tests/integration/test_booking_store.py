"""The booking use cases over the real store and PostgreSQL (the tenant service is a fixed calendar):
holds under real concurrency, the lifecycle, blackouts, tenant isolation. Time is moved forward by
ageing rows with the administrator's connection."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from mais_runtime.db import Database, DatabaseError, text
from mais_runtime.errors import Conflict, DomainError, NotFound, PreconditionFailed
from services.booking.domain import (
    AdminContact,
    Booking,
    BookingFilter,
    ConfirmOutcome,
    CoupleDetails,
    Policy,
    Quote,
    Reason,
    Status,
    TenantCalendar,
)
from services.booking.store import BookingStore
from services.booking.use_cases import Bookings
from tests.integration.booking_outbox import booking_outbox
from tests.integration.conftest import Cluster, service_database

DAY = date(2031, 6, 14)


@pytest.fixture(scope="module")
async def booking_db(cluster: Cluster) -> AsyncIterator[Database]:
    db = await service_database(cluster, "booking")
    yield db
    await db.close()


class FixedTenants:
    """Every tenant has the same calendar: UTC, 30-minute holds, no reminders, room for many holds."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    async def calendar(self, tenant_id: str) -> TenantCalendar:
        return TenantCalendar(tenant_id, "Studio", "UTC", self.policy, contact_email="owner@studio.test")

    async def admins(self, tenant_id: str) -> tuple[AdminContact, ...]:
        return ()


ROOMY = Policy(reminder_days=0, max_live_holds_per_email=100, max_live_holds_per_address=100)


@pytest.fixture
def store(booking_db: Database) -> Bookings:
    return Bookings(
        BookingStore(booking_db), FixedTenants(ROOMY), link_key=b"store-test-key", public_url="http://x.test"
    )


async def taken(booking_db: Database, tenant: str, first: date, last: date) -> dict[date, Reason]:
    async with BookingStore(booking_db).tenant(tenant) as tx:
        return await tx.taken_dates(first, last)


def couple(n: int = 0, email: str = "") -> CoupleDetails:
    return CoupleDetails.checked(
        name=f"Couple {n}", email=email or f"couple{n}@example.com", phone="", notes=""
    )


QUOTE = Quote.checked(
    package_id="pkg_1",
    total_cents=250000,
    currency="usd",
    document={"packageId": "pkg_1", "totalCents": "250000", "currency": "usd", "lines": []},
)


async def hold(store: Bookings, tenant: str, day: date = DAY, n: int = 0, request_id: str = "") -> Booking:
    result = await store.hold(tenant, day=day, couple=couple(n), quote=QUOTE, request_id=request_id)
    return result.booking


async def confirm(
    store: Bookings, tenant: str, booking_id: str, session: str
) -> tuple[Booking, ConfirmOutcome]:
    return await store.confirm(tenant, booking_id, session_id=session, amount_paid_cents=250000)


async def expire(admin: asyncpg.Connection, booking_id: str) -> None:
    """The hold's time runs out."""
    await admin.execute(
        "UPDATE booking.bookings SET hold_expires_at = now() - interval '1 minute' WHERE id = $1", booking_id
    )


async def deadlocks(admin: asyncpg.Connection) -> int:
    return int(
        await admin.fetchval("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
    )


def unavailable_why(error: BaseException) -> str:
    assert isinstance(error, DomainError), repr(error)
    assert error.reason == "DATE_UNAVAILABLE", error
    return error.metadata["why"]


async def test_fifty_couples_holding_one_date_at_once_leave_exactly_one_hold(
    store: Bookings, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    before = await deadlocks(admin)
    results = await asyncio.gather(
        *(hold(store, new_tenant_id, DAY, n) for n in range(50)), return_exceptions=True
    )
    held = [r for r in results if isinstance(r, Booking)]
    refused = [r for r in results if not isinstance(r, Booking)]
    assert len(held) == 1 and held[0].status is Status.HELD
    assert len(refused) == 49
    assert {unavailable_why(e) for e in refused} == {"held"}
    assert await deadlocks(admin) == before
    live = await admin.fetchval(
        "SELECT count(*) FROM booking.bookings WHERE tenant_id = $1 AND event_date = $2"
        " AND status IN ('HELD', 'CONFIRMED')",
        uuid.UUID(new_tenant_id),
        DAY,
    )
    assert live == 1


async def test_fifty_holds_on_fifty_dates_all_succeed(
    store: Bookings, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    before = await deadlocks(admin)
    results = await asyncio.gather(
        *(hold(store, new_tenant_id, DAY + timedelta(days=n), n) for n in range(50)), return_exceptions=True
    )
    assert all(isinstance(r, Booking) and r.status is Status.HELD for r in results), results
    assert len({r.event_date for r in results if isinstance(r, Booking)}) == 50
    assert await deadlocks(admin) == before


async def test_the_same_date_is_independent_between_tenants(store: Bookings) -> None:
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    assert (await hold(store, first)).status is Status.HELD
    assert (await hold(store, second)).status is Status.HELD


async def test_second_couple_cannot_hold_a_booked_date(store: Bookings, new_tenant_id: str) -> None:
    booking = await hold(store, new_tenant_id)
    await confirm(store, new_tenant_id, booking.id, "cs_1")
    with pytest.raises(Conflict) as caught:
        await hold(store, new_tenant_id, n=2)
    assert unavailable_why(caught.value) == "booked"


async def test_an_expired_hold_gives_its_date_to_the_next_couple_and_is_recorded_as_released(
    store: Bookings, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    first = await hold(store, new_tenant_id, n=1)
    await expire(admin, first.id)
    second = await hold(store, new_tenant_id, n=2)
    assert second.status is Status.HELD and second.id != first.id
    old = await store.get(new_tenant_id, first.id, with_history=True)
    assert old.status is Status.RELEASED
    assert [(h.from_status, h.to_status, h.actor) for h in old.history] == [
        ("", "HELD", "couple"),
        ("HELD", "RELEASED", "system"),
    ]


async def test_a_cancelled_booking_frees_its_date_at_once(
    store: Bookings, booking_db: Database, new_tenant_id: str
) -> None:
    booking = await hold(store, new_tenant_id)
    await confirm(store, new_tenant_id, booking.id, "cs_cancel")
    cancelled = await store.cancel(
        new_tenant_id,
        booking.id,
        actor="tenant_admin:u1",
        reason="couple changed plans",
    )
    assert cancelled.status is Status.CANCELLED and cancelled.cancel_reason == "couple changed plans"
    assert (await hold(store, new_tenant_id, n=3)).status is Status.HELD
    assert await taken(booking_db, new_tenant_id, DAY, DAY) == {DAY: "held"}


async def test_cancelling_twice_changes_nothing_more(store: Bookings, new_tenant_id: str) -> None:
    booking = await hold(store, new_tenant_id)
    await confirm(store, new_tenant_id, booking.id, "cs_twice")
    for _ in range(2):
        await store.cancel(
            new_tenant_id,
            booking.id,
            actor="system",
            reason="",
        )
    history = (await store.get(new_tenant_id, booking.id, with_history=True)).history
    assert [h.to_status for h in history] == ["HELD", "CONFIRMED", "CANCELLED"]


async def test_a_hold_cannot_be_cancelled_only_released(store: Bookings, new_tenant_id: str) -> None:
    booking = await hold(store, new_tenant_id)
    with pytest.raises(PreconditionFailed):
        await store.cancel(
            new_tenant_id,
            booking.id,
            actor="system",
            reason="",
        )
    released = await store.release(new_tenant_id, booking.id, reason="checkout expired")
    again = await store.release(new_tenant_id, booking.id, reason="checkout expired")
    assert released.status is again.status is Status.RELEASED
    assert (await hold(store, new_tenant_id, n=4)).status is Status.HELD


async def test_the_same_request_id_returns_the_same_hold(store: Bookings, new_tenant_id: str) -> None:
    results = await asyncio.gather(*(hold(store, new_tenant_id, request_id="req-1") for _ in range(5)))
    assert len({b.id for b in results}) == 1


async def test_a_request_id_reused_for_another_date_is_refused(store: Bookings, new_tenant_id: str) -> None:
    await hold(store, new_tenant_id, request_id="req-2")
    with pytest.raises(Conflict) as caught:
        await hold(store, new_tenant_id, DAY + timedelta(days=1), request_id="req-2")
    assert caught.value.reason == "IDEMPOTENCY_KEY_REUSED"


async def test_confirming_twice_with_the_same_session_returns_the_same_booking_and_one_email(
    store: Bookings, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    booking = await hold(store, new_tenant_id)
    first, outcome1 = await confirm(store, new_tenant_id, booking.id, "cs_same")
    second, outcome2 = await confirm(store, new_tenant_id, booking.id, "cs_same")
    assert (outcome1, outcome2) == (ConfirmOutcome.CONFIRM, ConfirmOutcome.ALREADY_CONFIRMED)
    assert first == second and second.status is Status.CONFIRMED and second.amount_paid_cents == 250000
    mails = await admin.fetchval(
        "SELECT count(*) FROM booking.outbox WHERE dedupe_key = $1", f"confirmation:{booking.id}"
    )
    assert mails == 1


async def test_a_hold_lost_to_another_couple_cannot_be_confirmed(
    store: Bookings, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    first = await hold(store, new_tenant_id, n=1)
    await store.attach_payment_session(new_tenant_id, first.id, "cs_late")
    await expire(admin, first.id)
    second = await hold(store, new_tenant_id, n=2)
    lost, outcome = await confirm(store, new_tenant_id, first.id, "cs_late")
    assert outcome is ConfirmOutcome.HOLD_LOST and lost.status is Status.RELEASED
    assert (await store.get(new_tenant_id, second.id)).status is Status.HELD


async def test_an_expired_hold_whose_date_is_still_free_is_confirmed(
    store: Bookings, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    booking = await hold(store, new_tenant_id)
    await expire(admin, booking.id)
    confirmed, outcome = await confirm(store, new_tenant_id, booking.id, "cs_free")
    assert outcome is ConfirmOutcome.CONFIRM and confirmed.status is Status.CONFIRMED
    history = (await store.get(new_tenant_id, booking.id, with_history=True)).history
    assert "still free" in history[-1].reason


async def test_a_released_hold_whose_date_is_still_free_is_confirmed_when_paid(
    store: Bookings, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    first = await hold(store, new_tenant_id, n=1)
    await expire(admin, first.id)
    # Another couple's attempt released the expired hold, then that couple gave up too (and expired).
    second = await hold(store, new_tenant_id, n=2)
    await store.release(new_tenant_id, second.id, reason="abandoned")
    confirmed, outcome = await confirm(store, new_tenant_id, first.id, "cs_back")
    assert outcome is ConfirmOutcome.CONFIRM and confirmed.status is Status.CONFIRMED


async def test_a_hold_on_a_date_blacked_out_meanwhile_is_lost(
    store: Bookings, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    booking = await hold(store, new_tenant_id)
    await expire(admin, booking.id)
    await store.create_blackout(new_tenant_id, DAY, "venue closed")
    _, outcome = await confirm(store, new_tenant_id, booking.id, "cs_black")
    assert outcome is ConfirmOutcome.HOLD_LOST


async def test_another_payment_session_cannot_confirm_a_hold(store: Bookings, new_tenant_id: str) -> None:
    booking = await hold(store, new_tenant_id)
    await store.attach_payment_session(new_tenant_id, booking.id, "cs_owner")
    _, outcome = await confirm(store, new_tenant_id, booking.id, "cs_stranger")
    assert outcome is ConfirmOutcome.HOLD_LOST
    assert (await store.get(new_tenant_id, booking.id)).status is Status.HELD


async def test_a_blackout_on_a_held_date_is_refused_naming_why(store: Bookings, new_tenant_id: str) -> None:
    await hold(store, new_tenant_id)
    with pytest.raises(Conflict) as caught:
        await store.create_blackout(new_tenant_id, DAY, "")
    assert unavailable_why(caught.value) == "held"


async def test_a_duplicate_blackout_is_a_conflict_and_a_blacked_out_date_cannot_be_held(
    store: Bookings, new_tenant_id: str
) -> None:
    blackout = await store.create_blackout(new_tenant_id, DAY, "holiday")
    with pytest.raises(Conflict) as caught:
        await store.create_blackout(new_tenant_id, DAY, "again")
    assert caught.value.reason == "CONFLICT"
    with pytest.raises(Conflict) as refused:
        await hold(store, new_tenant_id)
    assert unavailable_why(refused.value) == "blackout"
    await store.delete_blackout(new_tenant_id, blackout.id)
    assert (await hold(store, new_tenant_id)).status is Status.HELD
    with pytest.raises(NotFound):
        await store.delete_blackout(new_tenant_id, blackout.id)


async def test_another_tenant_sees_nothing_of_a_booking_or_blackout(
    store: Bookings, booking_db: Database, new_tenant_id: str
) -> None:
    other = str(uuid.uuid4())
    booking = await hold(store, new_tenant_id)
    blackout = await store.create_blackout(new_tenant_id, DAY + timedelta(days=1), "")
    with pytest.raises(NotFound):
        await store.get(other, booking.id)
    with pytest.raises(NotFound):
        await store.release(other, booking.id, reason="")
    with pytest.raises(NotFound):
        await store.delete_blackout(other, blackout.id)
    page, _ = await store.list_bookings(other, filters=BookingFilter(), limit=50, cursor="")
    assert page == []
    assert await taken(booking_db, other, DAY, DAY + timedelta(days=1)) == {}
    assert (await store.get(new_tenant_id, booking.id)).status is Status.HELD


async def test_customers_are_one_per_normalised_email(
    store: Bookings, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    for n, email in enumerate(["Ann@Example.com ", "ann@example.com", " ANN@EXAMPLE.COM"]):
        await store.hold(
            new_tenant_id,
            day=DAY + timedelta(days=n),
            couple=couple(n, email),
            quote=QUOTE,
            request_id="",
        )
    rows = await admin.fetch(
        "SELECT email, name FROM booking.customers WHERE tenant_id = $1", uuid.UUID(new_tenant_id)
    )
    assert [(r["email"], r["name"]) for r in rows] == [("ann@example.com", "Couple 2")]


async def test_the_database_refuses_a_second_live_booking_for_a_date_even_without_the_lock(
    store: Bookings, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    booking = await hold(store, new_tenant_id)
    with pytest.raises(asyncpg.UniqueViolationError):
        await admin.execute(
            "INSERT INTO booking.bookings (id, tenant_id, customer_id, event_date, status, couple_name,"
            " email, package_id, quote, total_cents, currency)"
            " SELECT 'bk_x' || id, tenant_id, customer_id, event_date, 'CONFIRMED', couple_name, email,"
            " package_id, quote, total_cents, currency FROM booking.bookings WHERE id = $1",
            booking.id,
        )


async def test_bookings_list_pages_through_every_booking_once_with_filters(
    store: Bookings, new_tenant_id: str
) -> None:
    made = [await hold(store, new_tenant_id, DAY + timedelta(days=n), n) for n in range(7)]
    await confirm(store, new_tenant_id, made[3].id, "cs_list")
    seen: list[str] = []
    cursor = ""
    while True:
        page, after = await store.list_bookings(
            new_tenant_id, filters=BookingFilter(), limit=3, cursor=cursor
        )
        seen += [b.id for b in page]
        if not after:
            break
        cursor = after
    assert seen == [b.id for b in made]
    confirmed, _ = await store.list_bookings(
        new_tenant_id, filters=BookingFilter(status=Status.CONFIRMED), limit=50, cursor=""
    )
    assert [b.id for b in confirmed] == [made[3].id]
    ranged, _ = await store.list_bookings(
        new_tenant_id,
        filters=BookingFilter(from_date=DAY + timedelta(days=2), to_date=DAY + timedelta(days=4)),
        limit=50,
        cursor="",
    )
    assert [b.id for b in ranged] == [b.id for b in made[2:5]]
    by_email, _ = await store.list_bookings(
        new_tenant_id, filters=BookingFilter(customer_email="couple5@example.com"), limit=50, cursor=""
    )
    assert [b.id for b in by_email] == [made[5].id]


async def test_row_level_security_hides_rows_from_a_query_that_forgets_its_tenant_filter(
    booking_db: Database, store: Bookings, new_tenant_id: str
) -> None:
    await hold(store, new_tenant_id)
    other = str(uuid.uuid4())
    async with booking_db.tenant_transaction(other) as conn:
        assert (await conn.execute(text("SELECT count(*) FROM bookings"))).scalar() == 0
    with pytest.raises(DatabaseError, match="row-level security"):
        async with booking_db.tenant_transaction(other) as conn:
            # Writing a row for another tenant is refused by the policy's WITH CHECK.
            await conn.execute(
                text(
                    "INSERT INTO blackouts (id, tenant_id, date) VALUES ('bo_forged', CAST(:t AS uuid), :d)"
                ),
                {"t": new_tenant_id, "d": DAY},
            )


# --- the expiry sweep, on every replica at once ------------------------------------------------


async def test_four_sweepers_racing_release_each_expired_hold_exactly_once(
    cluster: Cluster, store: Bookings, admin: asyncpg.Connection
) -> None:
    tenants = [str(uuid.uuid4()) for _ in range(3)]
    made = [await hold(store, tenant, DAY + timedelta(days=n), n) for tenant in tenants for n in range(20)]
    await admin.execute(
        "UPDATE booking.bookings SET hold_expires_at = now() - interval '1 minute' WHERE id = ANY($1)",
        [b.id for b in made],
    )
    replicas = [await service_database(cluster, "booking") for _ in range(4)]
    try:
        sweepers = [
            Bookings(BookingStore(db), FixedTenants(ROOMY), link_key=b"k", public_url="http://x.test")
            for db in replicas
        ]
        counts = await asyncio.gather(*(s.release_expired_holds() for s in sweepers))
    finally:
        for db in replicas:
            await db.close()
    rows = await admin.fetch(
        "SELECT b.id, b.status, count(h.id) FILTER (WHERE h.reason = 'hold expired') AS sweeps"
        " FROM booking.bookings b LEFT JOIN booking.booking_history h ON h.booking_id = b.id"
        " WHERE b.id = ANY($1) GROUP BY b.id, b.status",
        [b.id for b in made],
    )
    assert {(r["status"], r["sweeps"]) for r in rows} == {("RELEASED", 1)}
    assert len(rows) == 60
    # Every release was done by exactly one sweeper (the sum also counts other tests' leftovers).
    assert sum(counts) >= 60
    history = await admin.fetch(
        "SELECT actor, from_status, to_status FROM booking.booking_history"
        " WHERE booking_id = ANY($1) AND reason = 'hold expired'",
        [b.id for b in made],
    )
    assert {(h["actor"], h["from_status"], h["to_status"]) for h in history} == {
        ("system", "HELD", "RELEASED")
    }


async def test_a_payment_racing_the_sweep_confirms_the_still_free_date_once(
    store: Bookings, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    made = [await hold(store, new_tenant_id, DAY + timedelta(days=n), n) for n in range(10)]
    for booking in made:
        await expire(admin, booking.id)
    results = await asyncio.gather(
        store.release_expired_holds(),
        *(confirm(store, new_tenant_id, b.id, f"cs_race_{b.id}") for b in made),
        store.release_expired_holds(),
    )
    outcomes = [outcome for _, outcome in results[1:-1]]  # type: ignore[misc]
    assert set(outcomes) == {ConfirmOutcome.CONFIRM}
    for booking in made:
        seen = await store.get(new_tenant_id, booking.id, with_history=True)
        assert seen.status is Status.CONFIRMED
        assert [h.reason for h in seen.history].count("hold expired") <= 1


async def test_an_expired_hold_reads_and_filters_as_released_before_the_sweep_runs(
    store: Bookings, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    expired = await hold(store, new_tenant_id, n=1)
    live = await hold(store, new_tenant_id, DAY + timedelta(days=1), n=2)
    await expire(admin, expired.id)
    assert await admin.fetchval("SELECT status FROM booking.bookings WHERE id = $1", expired.id) == "HELD"
    assert (await store.get(new_tenant_id, expired.id)).status is Status.RELEASED
    page, _ = await store.list_bookings(new_tenant_id, filters=BookingFilter(), limit=50, cursor="")
    assert [(b.id, b.status) for b in page] == [(expired.id, Status.RELEASED), (live.id, Status.HELD)]
    held, _ = await store.list_bookings(
        new_tenant_id, filters=BookingFilter(status=Status.HELD), limit=50, cursor=""
    )
    assert [b.id for b in held] == [live.id]
    released, _ = await store.list_bookings(
        new_tenant_id, filters=BookingFilter(status=Status.RELEASED), limit=50, cursor=""
    )
    assert [b.id for b in released] == [expired.id]


# --- the business hears about its bookings ------------------------------------------------------


class TenantsWithAdmins(FixedTenants):
    async def admins(self, tenant_id: str) -> tuple[AdminContact, ...]:
        return (AdminContact("owner@studio.test"), AdminContact("planner@studio.test"))


@pytest.fixture
def told(booking_db: Database) -> Bookings:
    return Bookings(
        BookingStore(booking_db),
        TenantsWithAdmins(Policy(reminder_days=0, couple_cancel_days=1)),
        link_key=b"store-test-key",
        public_url="http://x.test",
    )


async def outbox(admin: asyncpg.Connection, booking_id: str) -> list[dict[str, str]]:
    return await booking_outbox(admin, "dedupe_key LIKE '%' || $1 || '%'", booking_id)


async def test_a_new_booking_tells_the_couple_and_every_admin_once_speaking_for_the_business(
    told: Bookings, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    booking = await hold(told, new_tenant_id)
    for _ in range(2):
        await confirm(told, new_tenant_id, booking.id, "cs_told")
    mails = await outbox(admin, booking.id)
    assert [m["dedupe_key"] for m in mails] == [
        f"confirmation:{booking.id}",
        f"admin-new-booking:{booking.id}",
    ]
    assert mails[1]["to_address"] == "owner@studio.test, planner@studio.test"
    assert "new booking" in mails[1]["subject"]
    assert {(m["from_name"], m["reply_to"]) for m in mails} == {("Studio", "owner@studio.test")}


async def test_a_couples_cancellation_tells_the_admins_and_a_tenant_admins_does_not(
    told: Bookings, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    mine = await hold(told, new_tenant_id, n=1)
    theirs = await hold(told, new_tenant_id, DAY + timedelta(days=1), n=2)
    for booking in (mine, theirs):
        await confirm(told, new_tenant_id, booking.id, f"cs_{booking.id}")
    for _ in range(2):
        await told.cancel(new_tenant_id, mine.id, actor="couple", reason="we eloped")
    await told.cancel(new_tenant_id, theirs.id, actor="tenant_admin:u1", reason="")
    assert [m["dedupe_key"] for m in await outbox(admin, mine.id)][-2:] == [
        f"cancellation:{mine.id}",
        f"admin-cancellation:{mine.id}",
    ]
    assert f"admin-cancellation:{theirs.id}" not in [m["dedupe_key"] for m in await outbox(admin, theirs.id)]


async def test_each_refund_tells_the_admins_once(
    told: Bookings, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    booking = await hold(told, new_tenant_id)
    await confirm(told, new_tenant_id, booking.id, "cs_refund")
    for _ in range(2):
        await told.record_refund(
            new_tenant_id, booking.id, total_refunded_cents=1000, refund_cents=1000, refund_id="re_1"
        )
    lost = await hold(told, new_tenant_id, DAY + timedelta(days=1), n=3)
    for _ in range(2):
        await told.notify_hold_lost_refund(new_tenant_id, lost.id, refund_cents=250000, refund_id="re_2")
    keys = [m["dedupe_key"] for m in await outbox(admin, booking.id) + await outbox(admin, lost.id)]
    assert keys.count(f"admin-refund:{booking.id}:re_1") == 1
    assert keys.count(f"admin-hold-lost:{lost.id}:re_2") == 1


async def test_bookings_by_month_are_the_last_twelve_utc_months_by_creation_and_state_now(
    store: Bookings, admin: asyncpg.Connection, new_tenant_id: str
) -> None:
    before_totals, before = await store.count_all()
    await hold(store, new_tenant_id, DAY + timedelta(days=40), 1)
    lapsed = await hold(store, new_tenant_id, DAY + timedelta(days=41), 2)
    await expire(admin, lapsed.id)
    sold = await hold(store, new_tenant_id, DAY + timedelta(days=42), 3)
    await confirm(store, new_tenant_id, sold.id, f"cs_{uuid.uuid4().hex}")
    earlier = await hold(store, new_tenant_id, DAY + timedelta(days=43), 4)
    await confirm(store, new_tenant_id, earlier.id, f"cs_{uuid.uuid4().hex}")
    too_old = await hold(store, new_tenant_id, DAY + timedelta(days=44), 5)
    for booking, back in ((earlier, 2), (too_old, 12)):
        await admin.execute(
            "UPDATE booking.bookings SET created_at = date_trunc('month', now() AT TIME ZONE 'UTC')"
            " AT TIME ZONE 'UTC' - make_interval(months => $2) + interval '3 days' WHERE id = $1",
            booking.id,
            back,
        )
    after_totals, after = await store.count_all()

    assert [m for m, _ in after] == sorted(m for m, _ in after) and len(after) == 12
    assert after[-1][0] == datetime.now(UTC).strftime("%Y-%m")
    moved = {
        (month, state): counts[state] - dict(before)[month][state]
        for month, counts in after
        for state in counts
        if counts[state] != dict(before)[month][state]
    }
    this, two_back = after[-1][0], after[-3][0]
    assert moved == {
        (this, "held"): 1,
        (this, "released"): 1,
        (this, "confirmed"): 1,
        (two_back, "confirmed"): 1,
    }
    # The hold made "a year ago" still holds: it is in the totals, not in the months.
    assert after_totals["live_holds"] - before_totals["live_holds"] == 2
