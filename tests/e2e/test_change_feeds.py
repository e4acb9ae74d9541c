"""The gateways' change feeds (gateway/feeds.py) in the real stack: both gateways hear catalog, booking
and tenant; an admin's package change and a couple's hold are seen on both within 1 s; a revoked key
stops being answered at once; when booking restarts the gateways fall back to the short TTL, still
answer, and subscribe again."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import MakeTenant, TenantHandle, eventually
from tools.stack.launcher import Stack

FEEDS = ("tenant", "catalog", "booking")
PROMISE_SECONDS = 1.0


def metrics(url: str) -> dict[str, float]:
    """The gateway's change-feed series, as {"name{labels}": value}."""
    text = httpx.get(url, timeout=5).text
    found = {}
    for line in text.splitlines():
        if line.startswith("mais_gateway_change_feed_"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


def gateway_metrics(stack: Stack) -> list[str]:
    urls = stack.operator_urls()
    return [url for name, url in sorted(urls.items()) if name.startswith("gateway")]


def healthy(url: str, feeds: tuple[str, ...] = FEEDS) -> bool:
    found = metrics(url)
    return all(found.get(f'mais_gateway_change_feed_healthy{{feed="{feed}"}}') == 1.0 for feed in feeds)


def heard(url: str, feed: str) -> float:
    return metrics(url).get(f'mais_gateway_change_feed_changes_total{{feed="{feed}"}}', 0.0)


@pytest.fixture
def shop(make_tenant: MakeTenant, http: httpx.Client) -> tuple[TenantHandle, dict[str, Any]]:
    tenant = make_tenant("feed")
    created = http.post(
        "/v1/tenant-admin/packages",
        json={"slug": "garden", "title": "Garden", "priceCents": 150000, "active": True},
        headers=tenant.admin_headers(),
    )
    assert created.status_code == 201, created.text
    return tenant, created.json()


@pytest.fixture
def feeds_up(stack: Stack) -> Iterator[list[str]]:
    urls = gateway_metrics(stack)
    assert len(urls) == 2
    assert eventually(lambda: all(healthy(url) for url in urls), 20), [metrics(u) for u in urls]
    yield urls


def see_on_every_gateway(gateways: list[httpx.Client], check: Any, what: str) -> None:
    started = time.monotonic()
    pending = set(range(len(gateways)))
    while pending and time.monotonic() - started < PROMISE_SECONDS:
        for n in sorted(pending):
            if check(gateways[n]):
                pending.discard(n)
        time.sleep(0.02)
    assert not pending, f"gateways {sorted(pending)} did not show {what} within {PROMISE_SECONDS} s"


def test_a_package_change_and_a_hold_are_seen_on_both_gateways_within_a_second(
    http: httpx.Client,
    gateways: list[httpx.Client],
    feeds_up: list[str],
    shop: tuple[TenantHandle, dict[str, Any]],
) -> None:
    tenant, package = shop
    headers = tenant.public_headers()
    day = (datetime.now(UTC) + timedelta(days=100)).date()
    window = {"from": (day - timedelta(days=3)).isoformat(), "to": (day + timedelta(days=3)).isoformat()}

    def price(gateway: httpx.Client) -> int:
        return int(gateway.get("/v1/packages/garden", headers=headers).json()["priceCents"])

    def taken(gateway: httpx.Client) -> bool:
        answer = gateway.get("/v1/availability/calendar", params=window, headers=headers).json()
        return day.isoformat() in {item["date"] for item in answer["unavailable"]}

    for gateway in gateways:  # cached on both, and used (so that a change reloads them)
        for _ in range(3):
            assert price(gateway) == 150000
            assert not taken(gateway)
    time.sleep(1.0)  # past the short TTL: what is served now is the long-lived, feed-kept answer
    for gateway in gateways:
        assert price(gateway) == 150000
    catalog_heard = [heard(url, "catalog") for url in feeds_up]

    changed = http.patch(
        f"/v1/tenant-admin/packages/{package['id']}",
        json={"priceCents": 180000},
        headers=tenant.admin_headers(),
    )
    assert changed.status_code == 200, changed.text
    see_on_every_gateway(gateways, lambda g: price(g) == 180000, "the new price")
    assert all(heard(url, "catalog") > before for url, before in zip(feeds_up, catalog_heard, strict=True))

    booking_heard = [heard(url, "booking") for url in feeds_up]
    held = http.post(
        "/v1/bookings/checkout",
        json={
            "packageId": package["id"],
            "eventDate": day.isoformat(),
            "coupleName": "Ada & Bo",
            "email": f"couple-{uuid.uuid4().hex[:8]}@example.com",
        },
        headers=headers,
    )
    assert held.status_code in (200, 201), held.text
    see_on_every_gateway(gateways, taken, "the held date as taken")
    assert all(heard(url, "booking") > before for url, before in zip(feeds_up, booking_heard, strict=True))


def test_a_revoked_key_stops_being_answered_on_both_gateways_within_a_second(
    http: httpx.Client,
    gateways: list[httpx.Client],
    feeds_up: list[str],
    shop: tuple[TenantHandle, dict[str, Any]],
) -> None:
    tenant, _ = shop
    for gateway in gateways:
        assert gateway.get("/v1/packages", headers=tenant.public_headers()).status_code == 200
    rotated = http.post(
        "/v1/tenant-admin/api-keys/rotate", json={"graceSeconds": 0}, headers=tenant.admin_headers()
    )
    assert rotated.status_code == 200, rotated.text
    see_on_every_gateway(
        gateways,
        lambda g: g.get("/v1/packages", headers=tenant.public_headers()).status_code == 401,
        "the old key refused",
    )
    new_key = {"X-Tenant-Key": rotated.json()["publicKey"]}
    for gateway in gateways:
        assert gateway.get("/v1/packages", headers=new_key).status_code == 200


def test_when_booking_restarts_the_gateways_fall_back_still_answer_and_subscribe_again(
    http: httpx.Client,
    stack: Stack,
    gateways: list[httpx.Client],
    feeds_up: list[str],
    shop: tuple[TenantHandle, dict[str, Any]],
) -> None:
    tenant, package = shop
    headers = tenant.public_headers()
    ready_before = [
        metrics(url).get('mais_gateway_change_feed_ready_total{feed="booking"}', 0.0) for url in feeds_up
    ]
    stack.kill("booking")
    try:
        assert eventually(lambda: not any(healthy(url, ("booking",)) for url in feeds_up), 10)
        # The other feeds stay up; reads that need no booking are answered, and are fresh within the
        # short TTL (the feeds are not all healthy).
        assert all(healthy(url, ("tenant", "catalog")) for url in feeds_up)
        changed = http.patch(
            f"/v1/tenant-admin/packages/{package['id']}",
            json={"priceCents": 175000},
            headers=tenant.admin_headers(),
        )
        assert changed.status_code == 200, changed.text
        see_on_every_gateway(
            gateways,
            lambda g: g.get("/v1/packages/garden", headers=headers).json()["priceCents"] == 175000,
            "the new price while booking is down",
        )
    finally:
        stack.start_process("booking")
    assert eventually(lambda: all(healthy(url) for url in feeds_up), 30), [metrics(u) for u in feeds_up]
    ready_after = [
        metrics(url).get('mais_gateway_change_feed_ready_total{feed="booking"}', 0.0) for url in feeds_up
    ]
    assert all(after > before for after, before in zip(ready_after, ready_before, strict=True))
    # And the calendar is served again, kept by the feed.
    day = (datetime.now(UTC) + timedelta(days=120)).date()
    window = {"from": day.isoformat(), "to": (day + timedelta(days=2)).isoformat()}
    for gateway in gateways:
        answer = eventually(
            lambda gateway=gateway: gateway.get("/v1/availability/calendar", params=window, headers=headers),
            10,
        )
        assert answer.status_code == 200, answer.text


def test_the_feed_metrics_name_every_feed(stack: Stack, feeds_up: list[str]) -> None:
    for url in feeds_up:
        names = {re.sub(r"\{.*", "", name) for name in metrics(url)}
        assert "mais_gateway_change_feed_healthy" in names
