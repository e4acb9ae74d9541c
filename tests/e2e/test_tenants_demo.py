"""The demo data `make run` prints: ensured idempotently, and every printed credential works."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx

from tests.e2e.conftest import PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD
from tools.stack.demo import ensure_demo
from tools.stack.launcher import Stack


def test_the_demo_is_ensured_once_and_its_printed_keys_and_credentials_work(
    stack: Stack, http: httpx.Client
) -> None:
    lines = ensure_demo(stack)
    assert ensure_demo(stack) == lines, "a second run must reuse the same demo data"
    text = "\n".join(lines)
    # The bootstrap admin comes from the environment: named, its password not printed.
    assert PLATFORM_ADMIN_EMAIL in text
    assert PLATFORM_ADMIN_PASSWORD not in text

    public_key = re.search(r"public key:\s+(pk_live_demo_[0-9a-f]{32})", text)
    admin = re.search(r"tenant admin:\s+(\S+) / (\S+)", text)
    assert public_key and admin
    # The dashboards, where both printed admins sign in.
    assert f"dashboard:       {stack.public_url}/admin/" in text
    assert http.get("/admin/").status_code == 200
    profile = http.get("/v1/tenant", headers={"X-Tenant-Key": public_key.group(1)})
    assert profile.status_code == 200
    assert profile.json()["slug"] == "demo"
    signin = http.post("/v1/auth/login", json={"email": admin.group(1), "password": admin.group(2)})
    assert signin.status_code == 200
    assert signin.json()["role"] == "tenant_admin"
    assert (stack.data_dir / "secrets" / "demo-tenant.json").stat().st_mode & 0o077 == 0
    # The demo tenant sells something at once, once: a second run added no copies.
    packages = http.get("/v1/packages", headers={"X-Tenant-Key": public_key.group(1)})
    assert packages.status_code == 200, packages.text
    items = packages.json()["items"]
    assert [p["slug"] for p in items] == ["elopement", "full-day"]
    assert all([a["slug"] for a in p["addOns"]] == ["flowers"] for p in items)
    # On the sandbox the demo tenant is onboarded at start, so a couple can check out at once.
    assert "stripe connect:  onboarded" in text
    day = (datetime.now(UTC).date() + timedelta(days=400)).isoformat()
    checkout = http.post(
        "/v1/bookings/checkout",
        json={
            "packageId": items[0]["id"],
            "eventDate": day,
            "coupleName": "Demo",
            "email": "demo@example.com",
        },
        headers={"X-Tenant-Key": public_key.group(1)},
    )
    assert checkout.status_code == 201, checkout.text
