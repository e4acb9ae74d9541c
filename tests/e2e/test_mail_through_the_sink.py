"""The stack's booking emails travel as production's do: the booking service sends them with
PostmarkMailer over HTTP to the stack's Postmark-compatible sink, which writes them to `<data>/mail`.
With the sink down, a confirmation's email is not written, the outbox keeps its row with Postmark's
transport error and retries; with the sink back, the email arrives, once."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx

from tests.e2e.conftest import MakeTenant
from tests.e2e.test_payments_flows import (
    Sandbox,
    a_free_day,
    mail_to,
    make_shop,
    started,
    status_becomes,
    wait_until,
)
from tools.stack.launcher import Stack


def outbox_row(stack: Stack, key: str) -> tuple[str, int, str] | None:
    """(status, attempts, last error) of booking's outbox row for a dedupe key."""

    async def read() -> tuple[str, int, str] | None:
        conn = await asyncpg.connect(stack.admin_database_url, timeout=10)
        try:
            row = await conn.fetchrow(
                "SELECT status, attempts, coalesce(last_error, '') FROM booking.outbox WHERE dedupe_key = $1",
                key,
                timeout=10,
            )
        finally:
            await conn.close(timeout=5)
        return None if row is None else (str(row[0]), int(row[1]), str(row[2]))

    return asyncio.run(read())


def test_booking_emails_go_through_the_mail_sink(
    http: httpx.Client, stack: Stack, make_tenant: MakeTenant
) -> None:
    sink = stack.processes["mail-sink"]
    assert stack.processes["booking"].env["POSTMARK_API_URL"] == f"{stack.mail_sink_url}/email"
    shop = make_shop(stack, make_tenant, percent=10)
    sandbox = Sandbox(stack)
    try:
        # Through the sink while it runs.
        couple = f"sink-{uuid.uuid4().hex[:8]}@example.com"
        answer = started(http, shop, a_free_day(), email_address=couple)
        sandbox.pay(answer["checkoutUrl"])
        status_becomes(http, shop, answer["bookingId"], "CONFIRMED")
        mail_to(stack, couple, "confirmed")

        # With the sink stopped nothing is written; the outbox retries until it is back.
        sink.stop()
        try:
            later = f"sink-{uuid.uuid4().hex[:8]}@example.com"
            second = started(http, shop, a_free_day(), email_address=later)
            sandbox.pay(second["checkoutUrl"])
            status_becomes(http, shop, second["bookingId"], "CONFIRMED")
            key = f"confirmation:{second['bookingId']}"
            failed = wait_until(
                lambda: (row := outbox_row(stack, key)) and row[1] >= 1 and row,
                "a failed send to the stopped sink",
                timeout=30,
            )
            # The outbox keeps the error's kind (PostmarkMailer's MailError), never its text.
            assert failed[0] == "PENDING" and failed[2] == "MailError", failed
            assert not list((stack.data_dir / "mail").glob(f"*{second['bookingId']}*.eml"))
        finally:
            sink.start()
        mail_to(stack, later, "confirmed")
        assert wait_until(lambda: (row := outbox_row(stack, key)) and row[0] == "SENT" and row, "SENT")
        assert len(list((stack.data_dir / "mail").glob(f"confirmation-{second['bookingId']}.eml"))) == 1
    finally:
        sandbox.http.close()
