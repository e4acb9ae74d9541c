"""A reschedule moves the balance with the event, through Envoy against the whole running platform
(issue 16): a business taking a 30 % deposit with the balance due 30 days before the event; a couple
pays the deposit; the business moves the day 10 days later; the balance is now due 10 days later,
and a retry of the move with its Idempotency-Key moves it no further."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import httpx

from tests.e2e.conftest import MakeTenant
from tests.e2e.test_catalog_routes import create, package_body
from tests.e2e.test_payments_flows import Sandbox
from tests.e2e.test_reschedule import a_day, booking_of, paid, reschedule, sandbox

__all__ = ["sandbox"]

DEPOSIT = {"depositKind": "percent", "depositBps": 3000, "balanceDueDays": 30}


def balance_due(booking: dict[str, Any]) -> date:
    (balance,) = [p for p in booking["schedule"]["instalments"] if p["kind"] == "BALANCE"]
    assert balance["status"] == "DUE", balance
    return date.fromisoformat(balance["dueDate"])


def test_a_deposit_booking_moved_ten_days_later_owes_its_balance_ten_days_later(
    http: httpx.Client, sandbox: Sandbox, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("dues")
    terms = http.patch(
        "/v1/tenant-admin/settings", json={"paymentPolicy": DEPOSIT}, headers=tenant.admin_headers()
    )
    assert terms.status_code == 200, terms.text
    package = create(http, tenant, "packages", package_body("garden"))
    day = a_day()
    couple = f"dues-{uuid.uuid4().hex[:8]}@example.com"
    booking_id = paid(http, sandbox, tenant, couple, packageId=package["id"], eventDate=day.isoformat())
    assert balance_due(booking_of(http, tenant, booking_id)) == day - timedelta(days=30)

    later = {"eventDate": (day + timedelta(days=10)).isoformat()}
    key = f"move-{uuid.uuid4().hex}"
    moved = reschedule(http, tenant, booking_id, later, key=key)
    assert moved.status_code == 200, moved.text
    again = reschedule(http, tenant, booking_id, later, key=key)
    assert again.status_code == 200, again.text

    booking = booking_of(http, tenant, booking_id)
    assert booking["eventDate"] == later["eventDate"]
    assert balance_due(booking) == day - timedelta(days=20)
    assert booking["schedule"]["nextDueDate"] == (day - timedelta(days=20)).isoformat()
