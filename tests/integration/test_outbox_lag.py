"""The outbox-lag metric: the age of the oldest message still waiting, read from the real table."""

from __future__ import annotations

import uuid

from prometheus_client import REGISTRY

from mais_runtime.db import Database, text
from mais_runtime.outbox import OutboxDispatcher, enqueue
from tests.integration.test_platform_outbox import FlakyMailer, _mail, outbox_db  # noqa: F401 - the fixture

LAG = "mais_outbox_oldest_pending_age_seconds"


async def test_outbox_lag_is_the_age_of_the_oldest_pending_message_and_zero_once_sent(
    outbox_db: Database,  # noqa: F811 - the imported fixture
) -> None:
    tenant = str(uuid.uuid4())
    async with outbox_db.tenant_transaction(tenant) as conn:
        for n in range(2):
            await enqueue(conn, tenant_id=tenant, dedupe_key=f"lag{n}", mail=_mail(n))
    async with outbox_db.platform_transaction() as conn:
        # One message waits since 15 minutes, the other since 2 (a provider that has been down a while).
        await conn.execute(
            text(
                "UPDATE outbox SET created_at = now() - make_interval(mins => CASE dedupe_key"
                " WHEN 'lag0' THEN 15 ELSE 2 END)"
            )
        )
    dispatcher = OutboxDispatcher(outbox_db, FlakyMailer(0))
    assert await dispatcher.backlog() == 2
    lag = REGISTRY.get_sample_value(LAG)
    assert lag is not None and 15 * 60 <= lag < 16 * 60

    assert await dispatcher.dispatch_once() == 2
    assert await dispatcher.backlog() == 0
    assert REGISTRY.get_sample_value(LAG) == 0
