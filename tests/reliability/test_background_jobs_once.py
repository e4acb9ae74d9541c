"""Every background job runs on every replica of its service at once (issue 18), and each effect still
happens once: the outbox's emails, the event reminders, the expiry sweeps releasing a hold, the balance
reminders and overdue notices, the schedule sweep's cancellation with its refund, and the change feeds
(heard by every gateway, not by one of them).

The suite's stack runs REPLICAS processes of booking and payments, all sweeping every second. A test
makes several effects due at one moment (moving a reminder, a hold's end or a balance's due date in the
database, as the clock would), so that the replicas race for them; the effect counters summed over the
replicas, the couples' mailboxes and the bookings' histories must then show each effect once."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import MakeTenant
from tests.reliability.conftest import REPLICAS
from tests.reliability.figures import Figures
from tests.reliability.shop import (
    Sandbox,
    Shop,
    a_free_day,
    booking_as_admin,
    count_settlement,
    couple_checkout,
    mails_to,
    onboard,
    open_shop,
    paid_booking,
    session_of,
    settlement,
    wait_for,
)
from tests.reliability.test_payment_schedules import quoted_due_now
from tools.stack.launcher import Stack

CATEGORY = "webhooks"
# Effects made due at one moment in each test: enough that both replicas' sweeps meet them.
AT_ONCE = 4
TERMS = {
    "depositKind": "percent",
    "depositBps": 3_000,
    "balanceDueDays": 30,
    "graceDays": 3,
    "reminderDays": 7,
    "overdueAction": "cancel_refund_deposit",
}


@pytest.fixture(scope="module")
def sandbox(stack: Stack) -> Iterator[Sandbox]:
    running = Sandbox(stack)
    yield running
    running.close()


def test_the_suite_runs_two_replicas_of_each_job_runner(stack: Stack) -> None:
    for part in ("booking", "payments"):
        names = stack.replicas_of(part)
        assert len(names) == REPLICAS, names
        assert all(stack.processes[n].alive() for n in names), names


def _counter(stack: Stack, name: str, metric: str) -> float:
    """One process's value of a counter (0 when it has not counted yet)."""
    text = httpx.get(stack.operator_urls()[name], timeout=5.0).text
    found = re.search(rf"^{re.escape(metric)} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def _counters(stack: Stack, part: str, metric: str) -> dict[str, float]:
    """A counter on each replica of `part`, by process name."""
    return {name: _counter(stack, name, metric) for name in stack.replicas_of(part)}


def _gained(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before.get(name, 0.0) for name in after}


async def _sql(stack: Stack, statement: str, *args: Any) -> str:
    conn = await asyncpg.connect(stack.admin_database_url)
    try:
        return str(await conn.execute(statement, *args))
    finally:
        await conn.close()


def _tags(stack: Stack, address: str) -> list[str]:
    return sorted(str(m["X-MAIS-Tag"]) for m in mails_to(stack, address))


def _history(api: httpx.Client, shop: Shop, booking_id: str) -> list[dict[str, Any]]:
    return list(booking_as_admin(api, shop, booking_id).get("history", []))


def test_the_outbox_and_the_event_reminders_send_each_email_once_with_every_replica_sweeping(
    stack: Stack, api: httpx.Client, make_tenant: MakeTenant, sandbox: Sandbox, figures: Figures
) -> None:
    shop = open_shop(api, make_tenant, "jobs")
    onboard(api, sandbox, shop)
    booked = [paid_booking(api, sandbox, shop) for _ in range(AT_ONCE)]
    # The outbox (on every booking replica) sends each confirmation once.
    wait_for(lambda: all(mails_to(stack, b["email"]) for b in booked), "the confirmations", timeout=30)
    before = _counters(stack, "booking", "mais_booking_reminders_enqueued_total")
    ids = [b["bookingId"] for b in booked]
    # The reminders fall due at one moment (as if the clock had reached them).
    changed = asyncio.run(
        _sql(
            stack,
            "UPDATE booking.bookings SET remind_at = clock_timestamp() - interval '1 second'"
            " WHERE id = ANY($1::text[]) AND reminder_enqueued_at IS NULL",
            ids,
        )
    )
    assert changed == f"UPDATE {AT_ONCE}", changed
    wait_for(
        lambda: all("booking.reminder" in _tags(stack, b["email"]) for b in booked),
        "every reminder email",
        timeout=30,
    )
    # Several more passes of every replica's sweep and dispatcher go by.
    time.sleep(3)
    gained = _gained(before, _counters(stack, "booking", "mais_booking_reminders_enqueued_total"))
    print(f"\nreminders enqueued by replica: {gained}")
    assert sum(gained.values()) == AT_ONCE, gained
    for b in booked:
        figures.request(CATEGORY, 200)
        assert _tags(stack, b["email"]) == ["booking.confirmation", "booking.reminder"], b["email"]


def test_an_expired_hold_is_released_once_and_its_session_closed_once_by_every_replica_sweeping(
    stack: Stack, api: httpx.Client, make_tenant: MakeTenant, sandbox: Sandbox, figures: Figures
) -> None:
    shop = open_shop(api, make_tenant, "expiry")
    onboard(api, sandbox, shop)
    held = []
    for _ in range(AT_ONCE):
        answer = couple_checkout(stack, shop, a_free_day())
        assert answer.status_code == 201, answer.text
        held.append(answer.json())
    ids = [h["bookingId"] for h in held]
    # Both clocks run out at one moment: booking's hold and payments' session (two sweeps on each of
    # two replicas race for every hold).
    asyncio.run(
        _sql(
            stack,
            "UPDATE payments.payments SET expires_at = clock_timestamp() - interval '1 second'"
            " WHERE booking_id = ANY($1::text[])",
            ids,
        )
    )
    asyncio.run(
        _sql(
            stack,
            "UPDATE booking.bookings SET hold_expires_at = clock_timestamp() - interval '1 second'"
            " WHERE id = ANY($1::text[]) AND status = 'HELD'",
            ids,
        )
    )
    wait_for(
        lambda: all(booking_as_admin(api, shop, i)["status"] == "RELEASED" for i in ids),
        "every hold to be released",
        timeout=30,
    )
    wait_for(
        lambda: all(sandbox.session(session_of(h["checkoutUrl"]))["status"] == "expired" for h in held),
        "every session to be closed at Stripe",
        timeout=30,
    )
    time.sleep(3)
    for hold in held:
        releases = [h for h in _history(api, shop, hold["bookingId"]) if h["to"] == "RELEASED"]
        figures.request(CATEGORY, 200, ok=len(releases) == 1)
        assert len(releases) == 1, releases
        closed = sandbox.events_about(session_of(hold["checkoutUrl"]), "checkout.session.expired")
        assert len(closed) == 1, closed
        # The date is free again, once.
        assert booking_as_admin(api, shop, hold["bookingId"])["status"] == "RELEASED"


def _deposit_shop(api: httpx.Client, make_tenant: MakeTenant, sandbox: Sandbox) -> Shop:
    shop = open_shop(api, make_tenant, "sweep")
    onboard(api, sandbox, shop)
    changed = api.patch(
        "/v1/tenant-admin/settings", json={"paymentPolicy": TERMS}, headers=shop.tenant.admin_headers()
    )
    assert changed.status_code == 200, changed.text
    # Each payments replica keeps a payable tenant's terms for a moment, each its own copy: the shop
    # opens once quotes in a row (round robin over both gateways and both replicas) all show them.
    day = a_free_day()
    wait_for(
        lambda: all(quoted_due_now(api, shop, day) == 3_000 for _ in range(4 * REPLICAS)),
        "the deposit terms to apply on every replica",
        timeout=30,
    )
    # And booking's replicas keep a tenant's settings (its terms among them) for up to
    # MAIS_TENANT_CACHE_SECONDS (5 s), each its own copy.
    time.sleep(6)
    return shop


def _move_due_dates(stack: Stack, ids: list[str], due: date) -> None:
    changed = asyncio.run(
        _sql(
            stack,
            "UPDATE payments.instalments SET due_date = $2 WHERE booking_id = ANY($1::text[]) AND seq = 2",
            ids,
            due,
        )
    )
    assert changed == f"UPDATE {len(ids)}", changed


def test_balance_reminders_overdue_notices_and_the_overdue_cancellation_happen_once_each(
    stack: Stack, api: httpx.Client, make_tenant: MakeTenant, sandbox: Sandbox, figures: Figures
) -> None:
    shop = _deposit_shop(api, make_tenant, sandbox)
    booked = [paid_booking(api, sandbox, shop) for _ in range(AT_ONCE)]
    assert [b["amountDueNowCents"] for b in booked] == [3_000] * AT_ONCE, booked
    ids = [b["bookingId"] for b in booked]
    today = datetime.now(UTC).date()
    # Due in three days: every payments replica's schedule sweep sees the reminders due at once.
    _move_due_dates(stack, ids, today + timedelta(days=3))
    wait_for(
        lambda: all("booking.balance_reminder" in _tags(stack, b["email"]) for b in booked),
        "every balance reminder",
        timeout=30,
    )
    # Five days late with three days of grace: the overdue notice, then the cancellation and refund.
    _move_due_dates(stack, ids, today - timedelta(days=5))
    wait_for(
        lambda: all(booking_as_admin(api, shop, i)["status"] == "CANCELLED" for i in ids),
        "every unpaid balance to cancel its booking",
        timeout=45,
    )
    wait_for(
        lambda: all("booking.refund" in _tags(stack, b["email"]) for b in booked),
        "every refund email",
        timeout=45,
    )
    time.sleep(3)
    for b in booked:
        tags = _tags(stack, b["email"])
        for tag in (
            "booking.confirmation",
            "booking.balance_reminder",
            "booking.balance_overdue",
            "booking.cancellation",
            "booking.refund",
        ):
            assert tags.count(tag) == 1, (b["email"], tag, tags)
        history = _history(api, shop, b["bookingId"])
        cancelled = [h for h in history if h["to"] == "CANCELLED" and h["from"] != "CANCELLED"]
        assert len(cancelled) == 1 and cancelled[0]["reason"] == "balance_unpaid", history
        refunds = [h for h in history if h["reason"].startswith("refunded")]
        assert len(refunds) == 1, history
        notices = [h["reason"] for h in history if h["actor"] == "system" and "notice" in h["reason"]]
        assert len(notices) == 1, notices
        settled = settlement(api, sandbox, shop, b["bookingId"], session_of(b["checkoutUrl"]))
        count_settlement(figures, settled)
        # The deposit comes back once: refunded what was charged, nothing more.
        assert settled.refunded == settled.charged == settled.stripe_refunded == 3_000, settled
        assert settled.duplicate_entries == 0, settled
        figures.request(CATEGORY, 200)


def _feed_heard(stack: Stack, gateway: str, feed: str) -> float:
    return _counter(stack, gateway, f'mais_gateway_change_feed_changes_total{{feed="{feed}"}}')


def test_every_gateway_hears_every_change_feed(
    stack: Stack, api: httpx.Client, make_tenant: MakeTenant, figures: Figures
) -> None:
    shop = open_shop(api, make_tenant, "feeds")
    gateways = stack.replicas_of("gateway")
    assert len(gateways) >= 2, gateways
    feeds = ("tenant", "catalog", "booking")
    before = {(g, f): _feed_heard(stack, g, f) for g in gateways for f in feeds}
    headers = shop.tenant.admin_headers()
    # A catalog change, a tenant change and a booking change.
    renamed = api.patch(
        f"/v1/tenant-admin/packages/{shop.package_id}",
        json={"title": f"Garden {uuid.uuid4().hex[:4]}"},
        headers=headers,
    )
    assert renamed.status_code == 200, renamed.text
    settings = api.patch("/v1/tenant-admin/settings", json={"name": "Feeds & Co"}, headers=headers)
    assert settings.status_code == 200, settings.text
    held = couple_checkout(stack, shop, a_free_day())
    assert held.status_code == 201, held.text

    def everyone_heard() -> bool:
        return all(_feed_heard(stack, g, f) > before[(g, f)] for g in gateways for f in feeds)

    wait_for(everyone_heard, "every gateway to hear every feed", timeout=15)
    figures.request(CATEGORY, 200)
