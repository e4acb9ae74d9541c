"""Reminders and the outbox with several replicas at once: concurrent reminder sweeps and two outbox
dispatchers against the same table (the real database, the real tenant service, the file sink)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from mais.tenant.v1 import tenant_service_pb2 as tenant_pb
from mais.tenant.v1 import tenant_service_pb2_grpc as tenant_grpc

from mais_runtime.channels import Channels
from mais_runtime.db import Database
from mais_runtime.mail import FileMailer, Mail
from mais_runtime.outbox import OutboxDispatcher
from services.booking import emails
from services.booking.clients import TenantDirectory
from services.booking.domain import CoupleDetails, Quote
from services.booking.store import BookingStore
from services.booking.use_cases import Bookings
from tests.integration.conftest import (
    FAST_ARGON2,
    INTERNAL_TOKEN,
    Cluster,
    RunningService,
    service_database,
    spawn_service,
)


@pytest.fixture(scope="module")
def tenant_service(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    service = spawn_service(
        cluster, "services.tenant", "tenant", tmp_path_factory.mktemp("tenant-for-reminders"), FAST_ARGON2
    )
    yield service
    service.stop()


@pytest.fixture(scope="module")
async def booking_db(cluster: Cluster) -> AsyncIterator[Database]:
    db = await service_database(cluster, "booking")
    yield db
    await db.close()


@pytest.fixture
async def channels() -> AsyncIterator[Channels]:
    owned = Channels(internal_token=INTERNAL_TOKEN, default_timeout=10)
    yield owned
    await owned.close()


def replica(booking_db: Database, channels: Channels, tenant_service: RunningService) -> Bookings:
    """One booking replica's use cases (each with its own tenant cache), on the shared database."""
    directory = TenantDirectory(
        tenant_grpc.TenantServiceStub(channels.get(tenant_service.address)),
        ttl_seconds=5,
    )
    return Bookings(
        BookingStore(booking_db), directory, link_key=b"reminder-test-key", public_url="http://public.test"
    )


class CountingMailer:
    """The file sink, counting every send it is asked for (the sink itself would hide a second one)."""

    def __init__(self, folder: Path) -> None:
        self.sink = FileMailer(folder, "MAIS <bookings@mais.local>")
        self.sent: Counter[str] = Counter()

    async def send(self, mail: Mail) -> None:
        self.sent[mail.message_id] += 1
        # A slow provider widens the window in which a second dispatcher could grab the same row.
        await asyncio.sleep(0.05)
        await self.sink.send(mail)


async def confirmed(
    bookings: Bookings, tenants: tenant_grpc.TenantServiceAsyncStub, days_ahead: int
) -> tuple[str, str]:
    """A new tenant (default policy) with one confirmed booking `days_ahead` from today."""
    slug = "rm-" + uuid.uuid4().hex[:12]
    created = await tenants.CreateTenant(
        tenant_pb.CreateTenantRequest(
            slug=slug, name="Reminder Studio", commission_bps=500, admin_email=f"o@{slug}.example.com"
        ),
        metadata=(("x-mais-internal", INTERNAL_TOKEN),),
        timeout=20,
    )
    tenant_id = created.tenant.id
    result = await bookings.hold(
        tenant_id,
        day=datetime.now(UTC).date() + timedelta(days=days_ahead),
        couple=CoupleDetails.checked(name="Ann & Bo", email=f"ann@{slug}.example.com", phone="", notes=""),
        quote=Quote.checked(package_id="pkg", total_cents=1000, currency="usd", document={}),
        request_id="",
    )
    held = result.booking
    await bookings.confirm(tenant_id, held.id, session_id=f"cs_{held.id}", amount_paid_cents=1000)
    return tenant_id, held.id


async def test_reminders_are_enqueued_once_and_sent_once_even_with_two_dispatchers_running(
    booking_db: Database,
    channels: Channels,
    tenant_service: RunningService,
    cluster: Cluster,
    tmp_path: Path,
) -> None:
    replicas = [replica(booking_db, channels, tenant_service) for _ in range(2)]
    tenants = tenant_grpc.TenantServiceStub(channels.get(tenant_service.address))
    _, booking_id = await confirmed(replicas[0], tenants, days_ahead=30)  # default policy: 7 days before

    # Not due yet: the real clock enqueues nothing for this booking.
    await asyncio.gather(*(r.enqueue_due_reminders() for r in replicas))
    admin = await asyncpg.connect(cluster.admin_url)
    try:
        day = await admin.fetchval("SELECT event_date FROM booking.bookings WHERE id = $1", booking_id)
        key = f"reminder:{booking_id}:{day.isoformat()}"
        assert await admin.fetchval("SELECT count(*) FROM booking.outbox WHERE dedupe_key = $1", key) == 0

        # 24 days on, both replicas sweep at once, several times.
        later = datetime.now(UTC) + timedelta(days=24)
        await asyncio.gather(*(r.enqueue_due_reminders(now=later) for r in replicas * 3))
        assert await admin.fetchval("SELECT count(*) FROM booking.outbox WHERE dedupe_key = $1", key) == 1

        mailers = [CountingMailer(tmp_path / "mail"), CountingMailer(tmp_path / "mail")]
        dispatchers = [
            OutboxDispatcher(booking_db, m, poll_seconds=0.02, batch_size=5, renderer=emails.render)
            for m in mailers
        ]
        stop = asyncio.Event()
        running = [asyncio.create_task(d.run(stop)) for d in dispatchers]
        try:
            for _ in range(400):
                status = await admin.fetchval("SELECT status FROM booking.outbox WHERE dedupe_key = $1", key)
                if status == "SENT":
                    break
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await asyncio.gather(*running)
        row = await admin.fetchrow("SELECT status, attempts FROM booking.outbox WHERE dedupe_key = $1", key)
        assert (row["status"], row["attempts"]) == ("SENT", 1)
        assert sum(m.sent[key] for m in mailers) == 1
        # Nothing else was sent twice either, whatever else was waiting in the outbox.
        assert all(n == 1 for m in mailers for n in m.sent.values())
        assert not set(mailers[0].sent) & set(mailers[1].sent)
        files = list((tmp_path / "mail").glob(f"reminder-{booking_id}-{day.isoformat()}.eml"))
        assert len(files) == 1
        body = files[0].read_text()
        assert "coming up" in body and "http://public.test/booking/" in body
    finally:
        await admin.close()


async def test_a_cancelled_booking_gets_no_reminder(
    booking_db: Database, channels: Channels, tenant_service: RunningService, cluster: Cluster
) -> None:
    bookings = replica(booking_db, channels, tenant_service)
    tenants = tenant_grpc.TenantServiceStub(channels.get(tenant_service.address))
    tenant_id, booking_id = await confirmed(bookings, tenants, days_ahead=30)
    await bookings.cancel(tenant_id, booking_id, actor="system", reason="test")
    await bookings.enqueue_due_reminders(now=datetime.now(UTC) + timedelta(days=24))
    admin = await asyncpg.connect(cluster.admin_url)
    try:
        count = await admin.fetchval(
            "SELECT count(*) FROM booking.outbox WHERE dedupe_key LIKE $1", f"reminder:{booking_id}:%"
        )
    finally:
        await admin.close()
    assert count == 0


async def test_a_booking_moved_after_its_reminder_is_reminded_again_of_its_new_date_once(
    booking_db: Database, channels: Channels, tenant_service: RunningService, cluster: Cluster
) -> None:
    bookings = replica(booking_db, channels, tenant_service)
    tenants = tenant_grpc.TenantServiceStub(channels.get(tenant_service.address))
    tenant_id, booking_id = await confirmed(bookings, tenants, days_ahead=30)  # reminded 7 days before
    today = datetime.now(UTC)
    assert await bookings.enqueue_due_reminders(now=today + timedelta(days=24)) >= 1
    # Moved 30 days later once the first reminder went out; then moved into its own reminder window.
    later_day = today.date() + timedelta(days=60)
    await bookings.reschedule(
        tenant_id,
        booking_id,
        day=later_day,
        starts_at=None,
        actor="tenant_admin:u_1",
        reason="",
        request_id="m1",
    )
    admin = await asyncpg.connect(cluster.admin_url)

    async def reminders() -> list[str]:
        rows = await admin.fetch(
            "SELECT dedupe_key FROM booking.outbox WHERE dedupe_key LIKE $1 ORDER BY id",
            f"reminder:{booking_id}:%",
        )
        return [r["dedupe_key"] for r in rows]

    try:
        first = await reminders()
        assert len(first) == 1
        # Not again before the new date's moment, by any number of sweeps.
        for _ in range(3):
            await bookings.enqueue_due_reminders(now=today + timedelta(days=24))
        assert await reminders() == first
        # At the new moment: once more, for the new date, whatever the sweeps.
        for _ in range(3):
            await bookings.enqueue_due_reminders(now=today + timedelta(days=54))
        again = await reminders()
        assert again == [*first, f"reminder:{booking_id}:{later_day.isoformat()}"]
        # Then moved into its reminder window (2 days ahead): no third reminder; the move's email says it.
        soon = today.date() + timedelta(days=2)
        await bookings.reschedule(
            tenant_id,
            booking_id,
            day=soon,
            starts_at=None,
            actor="tenant_admin:u_1",
            reason="",
            request_id="m2",
        )
        await bookings.enqueue_due_reminders(now=today + timedelta(days=1))
        assert await reminders() == again
    finally:
        await admin.close()
