"""The shared outbox: enqueued in the caller's transaction, sent once across dispatchers, retried."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from mais_runtime.db import Database, text
from mais_runtime.mail import FileMailer, Mail, MailError
from mais_runtime.migrations import apply_migrations
from mais_runtime.outbox import OutboxDispatcher, enqueue
from tests.integration.conftest import Cluster


@pytest.fixture
async def outbox_db(cluster: Cluster, tmp_path: Path) -> AsyncIterator[Database]:
    """The outbox table as the migration runner's helper creates it, in a scratch schema of its own."""
    admin = await asyncpg.connect(cluster.admin_url)
    try:
        await admin.execute("CREATE SCHEMA IF NOT EXISTS outbox_test AUTHORIZATION mais_payments")
    finally:
        await admin.close()
    db = Database(cluster.role_urls["payments"], schema="outbox_test", application_name="outbox-test")
    async with db.platform_transaction() as conn:
        await conn.execute(text("DROP TABLE IF EXISTS outbox"))
    (tmp_path / "001_outbox.sql").write_text("SELECT mais_create_outbox();")
    await apply_migrations(db, tmp_path)
    yield db
    async with db.platform_transaction() as conn:
        await conn.execute(text("DROP TABLE IF EXISTS outbox"))
        await conn.execute(text("DELETE FROM schema_migrations WHERE version = '001_outbox'"))
    await db.close()


class FlakyMailer:
    """Fails the first `failures` sends, then delivers into a list."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.delivered: list[str] = []

    async def send(self, mail: Mail) -> None:
        if self.failures:
            self.failures -= 1
            raise MailError("provider down")
        self.delivered.append(mail.message_id)


def _mail(n: int) -> Mail:
    return Mail(f"test:{n}", f"c{n}@example.com", f"Subject {n}", "text", "<p>html</p>", "test")


async def test_a_rolled_back_transaction_enqueues_nothing(outbox_db: Database) -> None:
    tenant = str(uuid.uuid4())
    with pytest.raises(RuntimeError):
        async with outbox_db.tenant_transaction(tenant) as conn:
            await enqueue(conn, tenant_id=tenant, dedupe_key="rolled-back", mail=_mail(0))
            raise RuntimeError("the use case failed")
    assert await OutboxDispatcher(outbox_db, FlakyMailer(0)).backlog() == 0


async def test_two_dispatchers_send_each_message_exactly_once(outbox_db: Database, tmp_path: Path) -> None:
    tenant = str(uuid.uuid4())
    async with outbox_db.tenant_transaction(tenant) as conn:
        for n in range(40):
            assert await enqueue(conn, tenant_id=tenant, dedupe_key=f"k{n}", mail=_mail(n))
        assert not await enqueue(conn, tenant_id=tenant, dedupe_key="k0", mail=_mail(0))
    sinks = [FlakyMailer(0), FlakyMailer(0)]
    dispatchers = [OutboxDispatcher(outbox_db, sink, batch_size=5) for sink in sinks]
    for _ in range(20):
        await asyncio.gather(*(d.dispatch_once() for d in dispatchers))
    delivered = sinks[0].delivered + sinks[1].delivered
    assert sorted(delivered) == sorted(f"k{n}" for n in range(40))
    assert sinks[0].delivered and sinks[1].delivered, "both dispatchers should have taken part"


async def test_a_failed_send_is_retried_after_backoff_and_then_sent(outbox_db: Database) -> None:
    async with outbox_db.platform_transaction() as conn:
        await enqueue(conn, tenant_id=None, dedupe_key="retry-me", mail=_mail(1))
    mailer = FlakyMailer(1)
    dispatcher = OutboxDispatcher(outbox_db, mailer, base_backoff_seconds=0.2)
    assert await dispatcher.dispatch_once() == 0
    assert await dispatcher.dispatch_once() == 0  # not due yet
    await asyncio.sleep(0.3)
    assert await dispatcher.dispatch_once() == 1
    assert mailer.delivered == ["retry-me"]
    async with outbox_db.platform_transaction() as conn:
        row = (await conn.execute(text("SELECT status, attempts, last_error FROM outbox"))).one()
    assert tuple(row) == ("SENT", 2, "MailError")


async def test_the_file_sink_behind_the_dispatcher_writes_each_message_once(
    outbox_db: Database, tmp_path: Path
) -> None:
    tenant = str(uuid.uuid4())
    async with outbox_db.tenant_transaction(tenant) as conn:
        await enqueue(conn, tenant_id=tenant, dedupe_key="file:1", mail=_mail(1))
    await OutboxDispatcher(outbox_db, FileMailer(tmp_path, "MAIS <a@b.c>")).dispatch_once()
    assert [p.name for p in tmp_path.glob("*.eml")] == ["file-1.eml"]
