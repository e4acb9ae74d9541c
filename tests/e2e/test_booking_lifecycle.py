"""What a tenant admin and a couple see of a booking's life through the whole stack: past dates cannot be
blacked out, an expired hold is never shown as held and is released within a minute, and the business
hears about its bookings by email, speaking with its own name and reply address.

The business's emails need the tenant service's ListAdminUsers and Tenant.contact_email (the tenant
branch of issue 12); the rest needs only this branch."""

from __future__ import annotations

import asyncio
import email
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import policy as email_policy
from email.utils import parseaddr
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import MakeTenant, TenantHandle
from tests.e2e.test_booking_routes import Payments, error_of, today
from tests.e2e.test_payments_flows import (
    Sandbox,
    _couple_link,
    a_free_day,
    mail_to,
    make_shop,
    started,
    status_becomes,
    text_of,
    wait_until,
)
from tools.stack.launcher import Stack

# The expiry sweep runs every 20 seconds by default: "within a minute" with room for a loaded machine.
SWEEP_SECONDS = 60


@pytest.fixture(scope="module")
def payments(stack: Stack) -> Iterator[Payments]:
    owner = Payments(stack)
    yield owner
    owner.channel.close()


@pytest.fixture(scope="module")
def sandbox(stack: Stack) -> Iterator[Sandbox]:
    running = Sandbox(stack)
    yield running
    running.http.close()


@pytest.fixture
def tenant(make_tenant: MakeTenant) -> TenantHandle:
    return make_tenant("bl")


def age_hold(stack: Stack, booking_id: str) -> None:
    """The hold's time runs out (the database is the only clock the stack trusts)."""

    async def age() -> None:
        conn = await asyncpg.connect(stack.admin_database_url)
        try:
            await conn.execute(
                "UPDATE booking.bookings SET hold_expires_at = now() - interval '1 minute' WHERE id = $1",
                booking_id,
            )
        finally:
            await conn.close()

    asyncio.run(age())


# --- blackouts (defect 12) -----------------------------------------------------------------------


def test_a_past_date_cannot_be_blacked_out_and_nothing_is_stored(
    http: httpx.Client, make_tenant: MakeTenant
) -> None:
    # Fourteen hours ahead of UTC: the tenant's yesterday is often UTC's today.
    owner = make_tenant("bo", timezone="Pacific/Kiritimati")
    headers = owner.admin_headers()
    local_today = datetime.now(ZoneInfo("Pacific/Kiritimati")).date()
    refused = http.post(
        "/v1/tenant-admin/blackouts",
        json={"date": (local_today - timedelta(days=1)).isoformat()},
        headers=headers,
    )
    assert error_of(refused) == (400, "VALIDATION_ERROR", ["date"])
    assert http.get("/v1/tenant-admin/blackouts", headers=headers).json()["items"] == []
    made = http.post("/v1/tenant-admin/blackouts", json={"date": local_today.isoformat()}, headers=headers)
    assert made.status_code == 201, made.text


# --- expired holds (defect 7) --------------------------------------------------------------------


def test_an_expired_hold_is_never_listed_as_held_and_is_released_by_the_system_within_a_minute(
    http: httpx.Client, stack: Stack, tenant: TenantHandle, payments: Payments
) -> None:
    headers = tenant.admin_headers()
    day = today() + timedelta(days=200)
    held = payments.hold(tenant, day)
    age_hold(stack, held.id)

    detail = http.get(f"/v1/tenant-admin/bookings/{held.id}", headers=headers).json()
    assert detail["status"] == "RELEASED" and detail["holdExpiresAt"] is None
    only_held = http.get("/v1/tenant-admin/bookings", params={"status": "HELD"}, headers=headers).json()
    assert held.id not in [b["id"] for b in only_held["items"]]
    released = http.get("/v1/tenant-admin/bookings", params={"status": "RELEASED"}, headers=headers).json()
    assert held.id in [b["id"] for b in released["items"]]

    def swept() -> list[tuple[str, str, str, str]]:
        history = http.get(f"/v1/tenant-admin/bookings/{held.id}", headers=headers).json()["history"]
        return [
            (h["from"], h["to"], h["actor"], h["reason"]) for h in history if h["reason"] == "hold expired"
        ]

    assert wait_until(swept, "the expiry sweep", timeout=SWEEP_SECONDS) == [
        ("HELD", "RELEASED", "system", "hold expired")
    ]
    free = http.get("/v1/availability", params={"date": day.isoformat()}, headers=tenant.public_headers())
    assert free.json()["available"] is True


# --- the business hears about its bookings (defect 9) -------------------------------------------


def test_the_business_hears_of_a_new_booking_a_couples_cancellation_and_its_refund_once_each(
    http: httpx.Client, stack: Stack, sandbox: Sandbox, make_tenant: MakeTenant
) -> None:
    shop = make_shop(stack, make_tenant, percent=10)
    owner = shop.tenant
    name = owner.body["tenant"]["name"]
    couple = f"told-{uuid.uuid4().hex[:8]}@example.com"
    answer = started(http, shop, a_free_day(), email_address=couple)
    sandbox.pay(answer["checkoutUrl"])
    status_becomes(http, shop, answer["bookingId"], "CONFIRMED")

    for message in (mail_to(stack, couple, "confirmed"), mail_to(stack, owner.admin_email, "new booking")):
        assert parseaddr(str(message["From"]))[0] == name
        assert parseaddr(str(message["Reply-To"]))[1] == owner.admin_email
        assert message["Date"] is not None
    assert couple in text_of(mail_to(stack, owner.admin_email, "new booking"))

    cancelled = http.post(_couple_link(stack, couple), json={"reason": "We eloped"})
    assert cancelled.status_code == 200, cancelled.text
    told = mail_to(stack, owner.admin_email, "cancelled")
    assert "We eloped" in text_of(told)
    refunded = mail_to(stack, owner.admin_email, "refunded")
    assert parseaddr(str(refunded["From"]))[0] == name

    folder = stack.data_dir / "mail"
    mine = [p for p in folder.glob(f"admin-*{answer['bookingId']}*.eml")]
    assert sorted(p.name.split(answer["bookingId"])[0] for p in mine) == [
        "admin-cancellation-",
        "admin-new-booking-",
        "admin-refund-",
    ]
    assert all(p.stat().st_mode & 0o077 == 0 for p in mine)


def test_a_couples_confirmation_speaks_with_the_business_name_from_the_platforms_address(
    stack: Stack, tenant: TenantHandle, payments: Payments
) -> None:
    booked = payments.book(
        tenant, today() + timedelta(days=210), mail=f"n-{uuid.uuid4().hex[:6]}@example.com"
    )
    path = stack.data_dir / "mail" / f"confirmation-{booked.id}.eml"
    assert wait_until(path.exists, "the confirmation")
    message = email.message_from_bytes(path.read_bytes(), policy=email_policy.default)
    display, address = parseaddr(str(message["From"]))
    assert display == tenant.body["tenant"]["name"] and not address.endswith(".example")
