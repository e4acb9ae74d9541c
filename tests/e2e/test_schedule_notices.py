"""Schedule notices through the whole stack: the payments service's sweep (its background job, every
second in the test stack) finds an owed balance, booking emails the couple through the outbox, and a
balance left unpaid past its grace days cancels the booking for non-payment with everything refunded
(cancel_refund_deposit), each email once.

The tenant takes a 30 % deposit at checkout (its payment terms set through the API); the test moves the
balance's due date in payments' database to where the sweep has something to do today.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import asyncpg
import httpx

from tests.e2e.conftest import MakeTenant, mails_to
from tests.e2e.test_payment_schedules import shop_with_deposit
from tests.e2e.test_payments_flows import (
    Sandbox,
    a_free_day,
    booking_of,
    ledger,
    mail_to,
    sandbox,
    started,
    status_becomes,
    text_of,
    wait_until,
)
from tools.stack.launcher import Stack

TERMS = {
    "depositKind": "percent",
    "depositBps": 3000,
    "balanceDueDays": 30,
    "graceDays": 3,
    "reminderDays": 7,
    "overdueAction": "cancel_refund_deposit",
}
__all__ = ["sandbox"]


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
    shop = shop_with_deposit(http, stack, make_tenant, TERMS)
    couple = f"ana-{uuid.uuid4().hex[:8]}@example.com"
    answer = started(http, shop, a_free_day(), email_address=couple)
    assert answer["amountDueNowCents"] == 3_000
    booking_id = answer["bookingId"]
    sandbox.pay(answer["checkoutUrl"])
    status_becomes(http, shop, booking_id, "CONFIRMED")

    today = datetime.now(UTC).date()
    asyncio.run(_move_due_date(stack, booking_id, today + timedelta(days=3)))
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
    # Everything paid (the deposit) comes back.
    mail_to(stack, couple, "refund of 30.00 USD")
    books = wait_until(
        lambda: (b := ledger(http, sandbox, shop, booking_id))["totals"]["refundedCents"] == 3_000 and b,
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
