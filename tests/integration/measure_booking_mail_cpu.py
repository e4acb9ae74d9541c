"""A measurement, not a test (no assertion on speed; `make test` does not collect it): booking's CPU per
confirmation in the use case over a real PostgreSQL, with its two emails rendered in the transaction
(as before migration 009) and queued as templates, alternated; and the dispatcher's CPU per message.
Run alone: `.venv/bin/python -m pytest -q -s tests/integration/measure_booking_mail_cpu.py`."""

from __future__ import annotations

import time
from datetime import timedelta

import asyncpg
import pytest

from mais_runtime.db import Database
from mais_runtime.outbox import OutboxDispatcher
from services.booking import emails
from services.booking.use_cases import Bookings
from tests.integration.test_booking_queued_outbox import Recording
from tests.integration.test_booking_store import DAY, booking_db, confirm, hold, told

__all__ = ["booking_db", "told"]
N = 150
ROUNDS = 3


async def test_measure(
    told: Bookings,
    booking_db: Database,
    admin: asyncpg.Connection,
    new_tenant_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rendered_now = lambda template, *a, **k: template(*a, **k)  # noqa: E731
    queued = emails.later
    offset = 0
    lines = []
    for round_ in range(ROUNDS):
        for mode, later in (("rendered in tx", rendered_now), ("queued", queued)):
            monkeypatch.setattr(emails, "later", later)
            held = [
                await hold(told, new_tenant_id, DAY + timedelta(days=offset + i), n=offset + i)
                for i in range(N)
            ]
            offset += N
            cpu, wall = time.process_time(), time.perf_counter()
            for b in held:
                await confirm(told, new_tenant_id, b.id, f"cs_{b.id}")
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            size = await admin.fetchval(
                "SELECT avg(pg_column_size(o.*)) FROM booking.outbox o WHERE dedupe_key = ANY($1::text[])",
                [f"confirmation:{b.id}" for b in held],
            )
            mailer = Recording()
            d = OutboxDispatcher(booking_db, mailer, renderer=emails.render, batch_size=50)
            dcpu = time.process_time()
            while await d.dispatch_once():
                pass
            dcpu = time.process_time() - dcpu
            sent = len(mailer.sent)
            per_confirmation = f"{cpu / N * 1000:.2f} ms CPU ({wall / N * 1000:.2f} ms wall)"
            per_message = f"{dcpu / max(sent, 1) * 1000:.2f} ms CPU per message ({sent} sent)"
            lines.append(
                f"round {round_} {mode:15s}: confirm {per_confirmation} per confirmation;"
                f" confirmation row {float(size):.0f} B; dispatcher {per_message}"
            )
    print("\n" + "\n".join(lines))
