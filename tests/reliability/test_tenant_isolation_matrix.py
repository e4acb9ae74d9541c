"""Tenants are isolated, route by route. The routes come from the gateway's own OpenAPI, so a new route
is in the matrix the day it is added (and fails here until the matrix knows what object it takes).

- Every route that takes an id: tenant B's credentials on tenant A's object answer 404 NOT_FOUND (never
  403, never data), and afterwards A's objects are exactly as they were.
- Public keys never reach admin routes; a tenant admin never reaches platform routes; a platform admin
  acts on no tenant's behalf on tenant-admin routes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import MakeTenant, TenantHandle
from tests.reliability.figures import Figures
from tests.reliability.shop import (
    Sandbox,
    Shop,
    a_free_day,
    assert_error,
    couple_link,
    envelope_problem,
    open_shop,
    paid_booking,
    wait_for,
)
from tools.stack.launcher import Stack

CATEGORY = "isolation"

# What another tenant would try to change, per route (a body that would pass validation).
BODIES = {
    ("PATCH", "/v1/tenant-admin/segments/{segment_id}"): {"name": "hijacked"},
    ("PATCH", "/v1/tenant-admin/packages/{package_id}"): {"title": "hijacked", "priceCents": 1},
    ("PATCH", "/v1/tenant-admin/add-ons/{add_on_id}"): {"title": "hijacked", "priceCents": 1},
    ("POST", "/v1/tenant-admin/bookings/{booking_id}/cancel"): {"refund": "full", "reason": "hijacked"},
    ("POST", "/v1/tenant-admin/bookings/{booking_id}/reschedule"): {"eventDate": "2030-01-01"},
    ("PUT", "/v1/tenant-admin/secrets/{name}"): {"value": "hijacked"},
    ("PATCH", "/v1/admin/tenants/{tenant_id}"): {"active": False},
    ("POST", "/v1/admin/tenants"): {
        "slug": "never",
        "name": "x",
        "commissionPercent": 1,
        "adminEmail": "a@x.ex",
    },
    ("PATCH", "/v1/tenant-admin/settings"): {"name": "hijacked"},
    ("POST", "/v1/tenant-admin/packages"): {"slug": "never", "title": "x", "priceCents": 1},
    ("POST", "/v1/tenant-admin/add-ons"): {"slug": "never", "title": "x", "priceCents": 1, "packageIds": []},
    ("POST", "/v1/tenant-admin/segments"): {"slug": "never", "name": "x"},
    ("POST", "/v1/tenant-admin/blackouts"): {"date": "2030-01-01"},
    ("POST", "/v1/tenant-admin/bookings/{booking_id}/instalments/{seq}/waive"): {"note": "hijacked"},
    ("POST", "/v1/tenant-admin/bookings/{booking_id}/instalments/{seq}/mark-paid"): {"note": "hijacked"},
    ("PATCH", "/v1/tenant-admin/bookings/{booking_id}/instalments/{seq}"): {"dueDate": "2030-01-01"},
    ("PATCH", "/v1/tenant-admin/resources/{resource_id}"): {"name": "hijacked", "active": False},
    ("PUT", "/v1/tenant-admin/resources/{resource_id}/hours"): {"weekly": []},
}


@dataclass
class Victim:
    """Tenant A with one of everything, and tenant B, the attacker."""

    a: Shop
    b: Shop
    ids: dict[str, str]
    b_booking: str
    a_token: str
    b_token: str
    couple_emails: tuple[str, str]


@pytest.fixture(scope="module")
def victim(stack: Stack, api: httpx.Client, make_tenant: MakeTenant) -> Iterator[Victim]:
    a, b = open_shop(api, make_tenant, "iso-a"), open_shop(api, make_tenant, "iso-b")
    admin = a.tenant.admin_headers()
    segment = api.post(
        "/v1/tenant-admin/segments", json={"slug": "weddings", "name": "Weddings"}, headers=admin
    )
    assert segment.status_code == 201, segment.text
    blackout = api.post("/v1/tenant-admin/blackouts", json={"date": a_free_day()}, headers=admin)
    assert blackout.status_code == 201, blackout.text
    resource = api.post("/v1/tenant-admin/resources", json={"name": "Ana"}, headers=admin)
    assert resource.status_code == 201, resource.text
    hours = {"weekly": [{"weekday": 6, "ranges": [{"opens": "10:00", "closes": "18:00"}]}]}
    set_hours = api.put(
        f"/v1/tenant-admin/resources/{resource.json()['id']}/hours", json=hours, headers=admin
    )
    assert set_hours.status_code == 200, set_hours.text
    slot_package = api.post(
        "/v1/tenant-admin/packages",
        json={
            "slug": "portrait-hour",
            "title": "Portrait hour",
            "priceCents": 9_000,
            "active": True,
            "kind": "SLOT",
            "slot": {"durationMinutes": 60, "resourceId": resource.json()["id"]},
        },
        headers=admin,
    )
    assert slot_package.status_code == 201, slot_package.text
    secret = api.put("/v1/tenant-admin/secrets/a-only", json={"value": "s3cret"}, headers=admin)
    assert secret.status_code == 200, secret.text
    sandbox = Sandbox(stack)
    try:
        a_paid = paid_booking(api, sandbox, a)
        b_paid = paid_booking(api, sandbox, b)
    finally:
        sandbox.close()
    events = wait_for(
        lambda: api.get("/v1/tenant-admin/payments/events", headers=admin).json()["items"], "A's events"
    )
    a_booking, a_token = couple_link(stack, a_paid["email"])
    b_booking, b_token = couple_link(stack, b_paid["email"])
    assert a_booking == a_paid["bookingId"]
    ids = {
        "segment_id": segment.json()["id"],
        "package_id": a.package_id,
        "add_on_id": a.add_on_ids[0],
        "blackout_id": blackout.json()["id"],
        "resource_id": resource.json()["id"],
        "slot_package_id": slot_package.json()["id"],
        "booking_id": a_booking,
        # The booking's first instalment (its whole price, paid at checkout).
        "seq": "1",
        "event_id": events[0]["id"],
        "name": "a-only",
        "slug": a.package_slug,
        "tenant_id": a.tenant.id,
        "user_id": api.get("/v1/auth/me", headers=admin).json()["userId"],
    }
    yield Victim(a, b, ids, b_booking, a_token, b_token, (a_paid["email"], b_paid["email"]))


def _operations(api: httpx.Client) -> list[tuple[str, str]]:
    spec = api.get("/openapi.json").json()
    return [(method.upper(), path) for path, item in spec["paths"].items() for method in item]


def _snapshot(api: httpx.Client, shop: Shop, ids: dict[str, str]) -> dict[str, Any]:
    """Everything of A's that B's requests could have touched, as A's admin reads it."""
    admin = shop.tenant.admin_headers()
    reads = {
        "segment": f"/v1/tenant-admin/segments/{ids['segment_id']}",
        "package": f"/v1/tenant-admin/packages/{ids['package_id']}",
        "add_on": f"/v1/tenant-admin/add-ons/{ids['add_on_id']}",
        "blackouts": "/v1/tenant-admin/blackouts",
        "booking": f"/v1/tenant-admin/bookings/{ids['booking_id']}",
        "ledger": f"/v1/tenant-admin/bookings/{ids['booking_id']}/ledger",
        "events": "/v1/tenant-admin/payments/events",
        "secret": f"/v1/tenant-admin/secrets/{ids['name']}",
        "settings": "/v1/tenant-admin/settings",
        "packages": "/v1/tenant-admin/packages",
        "users": "/v1/tenant-admin/users",
        "resources": "/v1/tenant-admin/resources",
        "hours": f"/v1/tenant-admin/resources/{ids['resource_id']}/hours",
    }
    state = {}
    for key, path in reads.items():
        answer = api.get(path, headers=admin)
        assert answer.status_code == 200, f"{path}: {answer.text}"
        state[key] = answer.json()
    state["public"] = api.get("/v1/tenant", headers=shop.tenant.public_headers()).json()
    return state


def _url(path: str, ids: dict[str, str]) -> str:
    url = path
    for name, value in ids.items():
        url = url.replace("{" + name + "}", value)
    assert "{" not in url, f"the isolation matrix has no object for a parameter of {path}: add one"
    return url


def _send(
    http: httpx.Client,
    figures: Figures,
    method: str,
    url: str,
    path: str,
    headers: dict[str, str],
    expected: int,
) -> httpx.Response:
    body = BODIES.get((method, path))
    answer = http.request(method, url, json=body, headers=headers)
    ok = answer.status_code == expected and envelope_problem(answer) is None
    figures.request(CATEGORY, answer.status_code, ok=ok)
    return answer


def test_another_tenants_admin_gets_404_on_every_route_that_takes_an_id_and_changes_nothing(
    api: httpx.Client, http: httpx.Client, victim: Victim, figures: Figures
) -> None:
    before = _snapshot(api, victim.a, victim.ids)
    tried = []
    # B writing a secret named like A's writes B's own: last, after B's reads of that name.
    secret_write = ("PUT", "/v1/tenant-admin/secrets/{name}")
    operations = sorted(_operations(api), key=lambda op: op == secret_write)
    for method, path in operations:
        if "{" not in path or not path.startswith("/v1/tenant-admin/"):
            continue
        url = _url(path, victim.ids)
        expected = 200 if (method, path) == secret_write else 404
        answer = _send(http, figures, method, url, path, victim.b.tenant.admin_headers(), expected)
        if (method, path) == secret_write:
            assert answer.status_code == 200, answer.text
            continue
        assert_error(answer, 404, "NOT_FOUND")
        tried.append(f"{method} {path}")
    assert len(tried) >= 15, tried
    assert _snapshot(api, victim.a, victim.ids) == before


def test_another_tenants_public_key_finds_none_of_its_packages_or_dates(
    http: httpx.Client, victim: Victim, figures: Figures
) -> None:
    b_public = victim.b.tenant.public_headers()
    answer = _send(http, figures, "GET", f"/v1/packages/{victim.ids['slug']}", "", b_public, 404)
    assert_error(answer, 404, "NOT_FOUND")
    listed = _send(http, figures, "GET", "/v1/packages", "", b_public, 200)
    assert victim.a.package_id not in listed.text
    # A's booked and blacked-out dates are free in B's calendar.
    a_booking = http.get(
        f"/v1/tenant-admin/bookings/{victim.ids['booking_id']}", headers=victim.a.tenant.admin_headers()
    ).json()
    available = _send(
        http, figures, "GET", f"/v1/availability?date={a_booking['eventDate']}", "", b_public, 200
    )
    assert available.json()["available"] is True


def _next_saturday() -> str:
    today = datetime.now(UTC).date()
    return (today + timedelta(days=(5 - today.weekday()) % 7 + 7)).isoformat()


def test_another_tenants_public_key_lists_no_slots_of_its_time_slot_service(
    http: httpx.Client, victim: Victim, figures: Figures
) -> None:
    package_id, resource_id = victim.ids["slot_package_id"], victim.ids["resource_id"]
    saturday = _next_saturday()
    query = f"packageId={package_id}&from={saturday}&to={saturday}"
    # A's own key lists A's Saturday (10:00 to 18:00), so the refusal below is B's, not an empty shop.
    own = _send(
        http, figures, "GET", f"/v1/availability/slots?{query}", "", victim.a.tenant.public_headers(), 200
    )
    assert own.status_code == 200 and own.json()["slots"], own.text
    # B asks while A's answer sits in the micro-cache (twice: Envoy may pick either gateway).
    for _ in range(2):
        answer = _send(
            http, figures, "GET", f"/v1/availability/slots?{query}", "", victim.b.tenant.public_headers(), 404
        )
        assert_error(answer, 404, "NOT_FOUND")
        assert resource_id not in answer.text and victim.a.tenant.id not in answer.text
        assert "startsAt" not in answer.text


def test_a_couples_link_opens_only_its_own_booking(
    http: httpx.Client, victim: Victim, figures: Figures
) -> None:
    a_booking = victim.ids["booking_id"]
    own = _send(http, figures, "GET", f"/v1/bookings/{a_booking}?token={victim.a_token}", "", {}, 200)
    assert own.status_code == 200 and own.json()["id"] == a_booking
    for url in (
        f"/v1/bookings/{a_booking}?token={victim.b_token}",
        f"/v1/bookings/{victim.b_booking}?token={victim.a_token}",
        f"/v1/bookings/{a_booking}",
        f"/v1/bookings/{a_booking}?token={victim.a_token[:-2]}xx",
    ):
        answer = _send(http, figures, "GET", url, "", {}, 404)
        assert_error(answer, 404, "NOT_FOUND")
        assert victim.a.tenant.id not in answer.text and "@" not in answer.text


def test_lists_of_one_tenant_never_show_another_tenants_objects(
    api: httpx.Client, http: httpx.Client, victim: Victim, figures: Figures
) -> None:
    a_ids = {v for k, v in victim.ids.items() if k not in ("name", "slug", "seq")}
    today = datetime.now(UTC).date()
    # Lists that need a query: the widest one they allow, over the days the victim's bookings are on.
    wide = f"?from={today - timedelta(days=1)}&to={today + timedelta(days=364)}"
    queries = {"/v1/tenant-admin/exports/bookings.csv": wide}
    for method, path in _operations(api):
        if method != "GET" or "{" in path or not path.startswith("/v1/tenant-admin/"):
            continue
        url = path + queries.get(path, "")
        answer = _send(http, figures, method, url, path, victim.b.tenant.admin_headers(), 200)
        assert answer.status_code == 200, f"{path}: {answer.text}"
        leaked = [i for i in a_ids if i in answer.text]
        assert not leaked, f"{path} shows tenant A's {leaked}"


def test_public_keys_never_reach_admin_routes(
    api: httpx.Client, http: httpx.Client, victim: Victim, figures: Figures
) -> None:
    tenant = victim.a.tenant
    attempts = [
        {"X-Tenant-Key": tenant.public_key},
        {"Authorization": f"Bearer {tenant.public_key}"},
        {"X-Tenant-Key": tenant.public_key, "Authorization": "Bearer"},
    ]
    count = 0
    for method, path in _operations(api):
        if not path.startswith(("/v1/tenant-admin/", "/v1/admin/", "/v1/auth/me")):
            continue
        url = _url(path, victim.ids)
        for headers in attempts:
            answer = _send(http, figures, method, url, path, headers, 401)
            assert_error(answer, 401, "UNAUTHENTICATED")
            count += 1
        # The secret key speaks for its tenant on tenant-admin routes (ADR 0013), never on the platform's.
        if path.startswith("/v1/admin/"):
            answer = _send(
                http, figures, method, url, path, {"Authorization": f"Bearer {tenant.secret_key}"}, 403
            )
            assert_error(answer, 403, "FORBIDDEN")
    assert count >= 3 * 25
    assert _snapshot(api, victim.a, victim.ids)["settings"]["name"] != "hijacked"


def test_a_tenant_admin_never_reaches_platform_routes(
    api: httpx.Client, http: httpx.Client, victim: Victim, figures: Figures
) -> None:
    before = http.get("/v1/tenant-admin/settings", headers=victim.a.tenant.admin_headers()).json()
    platform = [(m, p) for m, p in _operations(api) if p.startswith("/v1/admin/")]
    assert len(platform) >= 6
    for method, path in platform:
        # Its own tenant's id included: being a tenant's admin grants nothing on the platform routes.
        answer = _send(
            http, figures, method, _url(path, victim.ids), path, victim.a.tenant.admin_headers(), 403
        )
        assert_error(answer, 403, "FORBIDDEN")
    after = http.get("/v1/tenant-admin/settings", headers=victim.a.tenant.admin_headers()).json()
    assert after == before


def test_a_platform_admin_acts_for_no_tenant_on_tenant_admin_routes(
    api: httpx.Client, http: httpx.Client, victim: Victim, figures: Figures, platform_token: str
) -> None:
    headers = {"Authorization": f"Bearer {platform_token}"}
    for method, path in _operations(api):
        if not path.startswith("/v1/tenant-admin/"):
            continue
        answer = _send(http, figures, method, _url(path, victim.ids), path, headers, 403)
        assert_error(answer, 403, "FORBIDDEN")


def test_an_inactive_tenants_public_key_is_refused(
    http: httpx.Client, make_tenant: MakeTenant, platform_token: str, figures: Figures
) -> None:
    tenant: TenantHandle = make_tenant("iso-off")
    off = http.delete(f"/v1/admin/tenants/{tenant.id}", headers={"Authorization": f"Bearer {platform_token}"})
    assert off.status_code == 200, off.text

    def refused() -> httpx.Response | None:
        answer = http.get("/v1/tenant", headers=tenant.public_headers())
        return answer if answer.status_code == 403 else None

    answer = wait_for(refused, "the deactivation to reach every gateway", timeout=10)
    figures.request(CATEGORY, answer.status_code)
    assert_error(answer, 403, "TENANT_INACTIVE")


def test_logs_and_traces_never_carry_a_couples_email(stack: Stack, victim: Victim) -> None:
    # Every request above ran through every process; what they wrote must not hold customer data.
    files = [*(stack.data_dir / "logs").glob("*.log"), *(stack.data_dir / "traces").glob("*")]
    assert files
    for path in files:
        text = path.read_text(errors="replace")
        for address in victim.couple_emails:
            assert address not in text, f"{path.name} holds a couple's email address"
