"""Time slots under pressure, through the public API of the suite's stack (Envoy, two gateways, the
real database): couples racing for overlapping starts of one resource get one hold between them, and
for disjoint starts one each; booking SIGKILLed while slot holds are in flight leaves no claim without
a live booking and no live slot booking without its claim (checked in SQL, where the truth is)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import MakeTenant
from tests.reliability.conftest import Size
from tests.reliability.figures import Figures
from tests.reliability.shop import Shop, a_free_day, checkout_burst, envelope_problem, open_shop
from tools.stack.launcher import Stack

CATEGORY = "contention"
EVERY_DAY = {
    "weekly": [{"weekday": d, "ranges": [{"opens": "08:00", "closes": "20:00"}]} for d in range(1, 8)]
}


def slot_shop(api: httpx.Client, make_tenant: MakeTenant, prefix: str) -> Shop:
    """A payable tenant selling an hour-long service on its default resource (a start every quarter
    hour, 08:00 to 20:00 every day), as its admin sets it up through the API."""
    shop = open_shop(api, make_tenant, prefix, add_ons=0)
    headers = shop.tenant.admin_headers()
    resources = api.get("/v1/tenant-admin/resources", headers=headers)
    assert resources.status_code == 200, resources.text
    [default] = [r for r in resources.json()["items"] if r["isDefault"]]
    hours = api.put(f"/v1/tenant-admin/resources/{default['id']}/hours", json=EVERY_DAY, headers=headers)
    assert hours.status_code == 200, hours.text
    package = api.post(
        "/v1/tenant-admin/packages",
        json={
            "slug": "portrait",
            "title": "Portrait hour",
            "priceCents": 9_000,
            "active": True,
            "kind": "SLOT",
            "slot": {"durationMinutes": 60, "intervalMinutes": 15},
        },
        headers=headers,
    )
    assert package.status_code == 201, package.text
    shop.package_id = package.json()["id"]
    shop.extra["resource_id"] = default["id"]
    return shop


def starts_on(api: httpx.Client, shop: Shop, day: str) -> list[str]:
    """The starts the couples' list offers on `day` (RFC 3339 with the business's offset)."""
    answer = api.get(
        "/v1/availability/slots",
        params={"packageId": shop.package_id, "from": day, "to": day},
        headers=shop.tenant.public_headers(),
    )
    assert answer.status_code == 200, answer.text
    return [s["startsAt"] for s in answer.json()["slots"]]


def slot_body(shop: Shop, starts_at: str) -> dict[str, Any]:
    body = shop.checkout_body("", startsAt=starts_at)
    del body["eventDate"]
    return body


def tally(
    figures: Figures, answers: list[httpx.Response], *, outage: bool = False
) -> Counter[tuple[int, str]]:
    seen: Counter[tuple[int, str]] = Counter()
    for answer in answers:
        problem = envelope_problem(answer)
        expected = answer.status_code == 201 or (answer.status_code == 409 and problem is None)
        figures.request(CATEGORY, answer.status_code, ok=expected or outage, outage=outage)
        code = answer.json().get("error", "") if answer.status_code >= 400 and problem is None else ""
        seen[(answer.status_code, code)] += 1
    return seen


async def _fetch(stack: Stack, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(stack.admin_database_url)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


def sql(stack: Stack, query: str, *args: Any) -> list[asyncpg.Record]:
    """Rows of `query` as the database's administrator (no row-level security in the way)."""
    return asyncio.run(_fetch(stack, query, *args))


def claims_of(stack: Stack, shop: Shop) -> list[asyncpg.Record]:
    """The tenant's claims on its resources, with their bookings' states."""
    return sql(
        stack,
        "SELECT o.booking_id, o.resource_id, lower(o.during) AS lo, upper(o.during) AS hi, b.status, b.kind"
        " FROM booking.occupancy o JOIN booking.bookings b ON b.id = o.booking_id"
        " WHERE o.tenant_id = $1::uuid ORDER BY lo",
        shop.tenant.id,
    )


def unclaimed_live_slots(stack: Stack, shop: Shop) -> list[asyncpg.Record]:
    return sql(
        stack,
        "SELECT b.id FROM booking.bookings b WHERE b.tenant_id = $1::uuid AND b.kind = 'SLOT'"
        " AND b.status IN ('HELD', 'CONFIRMED')"
        " AND NOT EXISTS (SELECT 1 FROM booking.occupancy o WHERE o.booking_id = b.id)",
        shop.tenant.id,
    )


def test_couples_racing_for_overlapping_starts_of_one_resource_get_one_hold(
    stack: Stack, api: httpx.Client, make_tenant: MakeTenant, figures: Figures, size: Size
) -> None:
    shop = slot_shop(api, make_tenant, "slotrace")
    day = a_free_day()
    offered = starts_on(api, shop, day)
    # 10:00, 10:15, 10:30 and 10:45: each hour overlaps every other one.
    overlapping = [s for s in offered if s[11:16] in ("10:00", "10:15", "10:30", "10:45")]
    assert len(overlapping) == 4, offered
    requests = [(shop, slot_body(shop, s)) for s in overlapping for _ in range(size.buyers_per_date)]
    answers = asyncio.run(checkout_burst(stack, requests))
    seen = tally(figures, answers)
    assert seen == Counter({(201, ""): 1, (409, "DATE_UNAVAILABLE"): len(requests) - 1}), seen
    [claim] = claims_of(stack, shop)
    winner = next(a.json()["bookingId"] for a in answers if a.status_code == 201)
    assert (claim["booking_id"], claim["status"], claim["kind"]) == (winner, "HELD", "SLOT")
    # The list agrees: none of the four starts is offered any more, and the first start after the
    # winner's hour is (whichever of the four won: 10:15's hour keeps 11:00 taken, 10:00's does not).
    now_offered = starts_on(api, shop, day)
    assert not set(overlapping) & set(now_offered)
    after = [s for s in now_offered if datetime.fromisoformat(s) >= claim["hi"]]
    assert after and datetime.fromisoformat(after[0]) - claim["hi"] < timedelta(minutes=15), (
        claim,
        now_offered,
    )


def test_couples_for_disjoint_starts_each_get_theirs(
    stack: Stack, api: httpx.Client, make_tenant: MakeTenant, figures: Figures, size: Size
) -> None:
    shop = slot_shop(api, make_tenant, "slotapart")
    day = a_free_day()
    hours = [s for s in starts_on(api, shop, day) if s[14:16] == "00"][:4]  # 08:00, 09:00, 10:00, 11:00
    requests = [(shop, slot_body(shop, s)) for s in hours for _ in range(size.buyers_per_date)]
    answers = asyncio.run(checkout_burst(stack, requests))
    tally(figures, answers)
    won = Counter(
        body["startsAt"] for (_, body), a in zip(requests, answers, strict=True) if a.status_code == 201
    )
    assert won == Counter({s: 1 for s in hours}), won
    assert len(claims_of(stack, shop)) == 4


@pytest.mark.disruptive
def test_killing_booking_while_slot_holds_are_in_flight_leaves_claims_and_bookings_in_step(
    stack: Stack, api: httpx.Client, make_tenant: MakeTenant, figures: Figures
) -> None:
    shop = slot_shop(api, make_tenant, "slotcrash")
    days = [a_free_day() for _ in range(3)]
    starts = [s for day in days for s in starts_on(api, shop, day) if s[14:16] == "00"]  # 12 a day
    requests = [(shop, slot_body(shop, s)) for s in starts]
    killed = threading.Event()

    claims_at_kill: list[int] = []

    def crash_and_restart() -> None:
        # Inside the burst, once the first hold has committed: some holds done, some inside their
        # transaction, some not begun.
        deadline = time.monotonic() + 20
        while not claims_of(stack, shop) and time.monotonic() < deadline:
            time.sleep(0.01)
        # Every booking replica dies at once: a whole service lost mid-transaction (one replica of
        # each part dying is test_replicas_die_in_turn.py's).
        booking = stack.replicas_of("booking")
        try:
            for name in booking:
                stack.kill(name)
            killed.set()
            claims_at_kill.append(len(claims_of(stack, shop)))
            time.sleep(1.0)
        finally:
            for name in booking:
                stack.start_process(name)

    crasher = threading.Thread(target=crash_and_restart)
    crasher.start()
    try:
        answers = asyncio.run(checkout_burst(stack, requests))
    finally:
        crasher.join()
    assert killed.is_set() and claims_at_kill[0] >= 1
    # The crash cut some holds off: it happened while they were in flight, not after the burst.
    assert any(a.status_code >= 500 for a in answers), [a.status_code for a in answers]
    for answer in answers:
        # A 5xx (or a 409 for a start whose hold committed before the answer was lost) is what a crash
        # may answer; every answer still has the envelope.
        assert envelope_problem(answer) is None, answer.text
    tally(figures, [a for a in answers if a.status_code < 500])
    tally(figures, [a for a in answers if a.status_code >= 500], outage=True)
    # Back for every gateway and service replica (each reconnects on its own backoff), not only for the one
    # gateway an /health/ready through Envoy happens to reach.
    stack.wait_ready(30)

    claims = claims_of(stack, shop)
    assert all(c["status"] in ("HELD", "CONFIRMED") for c in claims), claims
    assert not unclaimed_live_slots(stack, shop)
    held = {a.json()["bookingId"] for a in answers if a.status_code == 201}
    assert held <= {c["booking_id"] for c in claims}
    # Afterwards every start is either held (with its one claim) or can be held now.
    claimed_at = {c["lo"] for c in claims}
    retry = [(shop, slot_body(shop, s)) for s in starts]
    again = asyncio.run(checkout_burst(stack, retry))
    tally(figures, again)
    assert all(a.status_code in (201, 409) for a in again), [a.text for a in again if a.status_code >= 500]
    assert sum(a.status_code == 201 for a in again) == len(starts) - len(claimed_at)
    assert len(claims_of(stack, shop)) == len(starts)
    assert not unclaimed_live_slots(stack, shop)
