"""Schedule notices through the whole stack: the payments service's sweep (its background job, every
second in the test stack) finds an owed balance, booking emails the couple through the outbox, and a
balance left unpaid past its grace days cancels the booking for non-payment with everything refunded
(cancel_refund_deposit), each email once.

Until checkout writes deposit schedules itself (issue 15, "core"), the test gives a paid booking its
schedule in payments' database: the checkout's payment becomes a deposit of 30.00 and a balance of
70.00 is added, which adds up to the booking's total as booking checks.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import MakeTenant, mails_to
from tests.e2e.test_payments_flows import (
    Sandbox,
    a_free_day,
    booking_of,
    ledger,
    mail_to,
    make_shop,
    started,
    status_becomes,
    text_of,
    wait_until,
)
from tools.stack.launcher import Stack

DEPOSIT = 3_000


@pytest.fixture(scope="module")
def sandbox(stack: Stack) -> Iterator[Sandbox]:
    running = Sandbox(stack)
    yield running
    running.http.close()


async def _give_schedule(stack: Stack, tenant_id: str, booking_id: str, total: int, due: date) -> None:
    conn = await asyncpg.connect(stack.admin_database_url)
    try:
        await conn.execute(
            "INSERT INTO payments.instalments (tenant_id, booking_id, seq, kind, amount_cents, currency,"
            " due_date, timezone, status, paid_cents, notice_stage)"
            " VALUES ($1, $2, 1, 'DEPOSIT', $3, 'usd', CURRENT_DATE, 'UTC', 'PAID', $3, 4)"
            " ON CONFLICT (tenant_id, booking_id, seq) DO UPDATE SET kind = 'DEPOSIT', amount_cents = $3,"
            " status = 'PAID', paid_cents = $3",
            uuid.UUID(tenant_id),
            booking_id,
            DEPOSIT,
        )
        await conn.execute(
            "INSERT INTO payments.instalments (tenant_id, booking_id, seq, kind, amount_cents, currency,"
            " due_date, timezone, grace_days, reminder_days, overdue_action)"
            " VALUES ($1, $2, 2, 'BALANCE', $3, 'usd', $4, 'UTC', 3, 7, 'cancel_refund_deposit')",
            uuid.UUID(tenant_id),
            booking_id,
            total - DEPOSIT,
            due,
        )
    finally:
        await conn.close()


async def _move_due_date(stack: Stack, booking_id: str, due: date) -> None:
    conn = await asyncpg.connect(stack.admin_database_url)
    try:
        await conn.execute(
            "UPDATE payments.instalments SET due_date = $2 WHERE booking_id = $1 AND seq = 2", booking_id, due
        )
    finally:
        await conn.close()


def test_an_unpaid_balance_is_reminded_then_overdue_then_cancelled_and_refunded_each_once(
    http: httpx.Client, stack: Stack, sandbox: Sandbox, make_tenant: MakeTenant
) -> None:
    shop = make_shop(stack, make_tenant)
    couple = f"ana-{uuid.uuid4().hex[:8]}@example.com"
    answer = started(http, shop, a_free_day(), email_address=couple)
    booking_id = answer["bookingId"]
    sandbox.pay(answer["checkoutUrl"])
    status_becomes(http, shop, booking_id, "CONFIRMED")

    today = datetime.now(UTC).date()
    asyncio.run(
        _give_schedule(stack, shop.tenant.id, booking_id, shop.total_cents, today + timedelta(days=3))
    )
    reminder = text_of(mail_to(stack, couple, "is due on"))
    assert "the balance of 70.00 USD is due on" in reminder
    assert re.search(rf"http\S+/booking/{booking_id}\?token=\S+", reminder)
    assert "Deposit: 30.00 USD, paid" in reminder

    # Five days late with three days of grace: the overdue notice first, then the cancellation.
    asyncio.run(_move_due_date(stack, booking_id, today - timedelta(days=5)))
    overdue = text_of(mail_to(stack, couple, "is overdue"))
    assert "everything you paid refunded" in overdue
    cancelled = status_becomes(http, shop, booking_id, "CANCELLED")
    assert cancelled["cancelReason"] == "balance_unpaid"
    cancellation = text_of(mail_to(stack, couple, "was cancelled"))
    assert "the balance was not paid by its due date" in cancellation
    mail_to(stack, couple, "refund of 100.00 USD")
    books = wait_until(
        lambda: (
            (b := ledger(http, sandbox, shop, booking_id))["totals"]["refundedCents"] == shop.total_cents
            and b
        ),
        "the full refund in the ledger",
    )
    assert books["totals"]["netPaidCents"] == 0

    # More sweeps go by: nothing is sent twice.
    time.sleep(3)
    subjects = [str(m["Subject"]) for m in mails_to(stack, couple)]
    for part in ("is due on", "is overdue", "was cancelled", "refund of"):
        assert sum(part in s for s in subjects) == 1, (part, subjects)
    history = booking_of(http, shop, booking_id).get("history", [])
    said = [(h["actor"], h["to"], h["reason"]) for h in history]
    assert ("system", "CANCELLED", "balance_unpaid") in said, said
    reasons = [h["reason"] for h in history if h["actor"] == "system"]
    assert "reminder sent: balance of 70.00 USD due " + (today + timedelta(days=3)).isoformat() in reasons
    assert "overdue notice sent: balance of 70.00 USD was due " + (today - timedelta(days=5)).isoformat() in (
        reasons
    )
