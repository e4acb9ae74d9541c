"""Public reads answered by Envoy itself (deploy/kubernetes/base/envoy/edge_cache.lua, ADR 0026), through the
real Envoy in front of both real gateways: never one tenant's answer to another, never one origin's CORS
answer to another, nothing kept without a tenant key, every answer with its own request id, the gateway's
edge header never shown, a revoked key refused within about a second of the gateways refusing it, and an
admin's change served by every Envoy worker within the 1 s freshness promise."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import MakeTenant, TenantHandle, eventually
from tools.stack.launcher import Stack

EDGE_HEADER = "x-mais-edge-ttl-ms"
FRESHNESS_PROMISE_SECONDS = 1.0
# What the edge may add to the gateways' own refusal of a key: its entry never outlives the gateway's
# (at most 0.5 s) and is served stale at most 0.2 s more while one refill runs.
EDGE_DELAY_SECONDS = 1.0


def _package(http: httpx.Client, tenant: TenantHandle, slug: str, price: int) -> dict[str, Any]:
    answer = http.post(
        "/v1/tenant-admin/packages",
        json={"slug": slug, "title": f"Package {slug}", "priceCents": price},
        headers=tenant.admin_headers(),
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _fresh_get(stack: Stack, path: str, headers: dict[str, str]) -> httpx.Response:
    """One request on a new connection, so that successive calls land on either Envoy worker."""
    with httpx.Client(base_url=stack.url, timeout=10.0) as client:
        return client.get(path, headers=headers)


@pytest.fixture(scope="module")
def tenants(make_tenant: MakeTenant, stack: Stack) -> list[tuple[TenantHandle, int]]:
    """Six tenants, each with one package of its own slug and price."""
    made = []
    with httpx.Client(base_url=stack.url, timeout=10.0) as http:
        for n in range(6):
            tenant = make_tenant("edge", onboarded=False)
            price = 100_000 + n * 1_111
            _package(http, tenant, f"edge-{n}", price)
            made.append((tenant, price))
    return made


def test_interleaved_keys_of_six_tenants_at_64_connections_each_get_their_own_tenants_answer(
    stack: Stack, tenants: list[tuple[TenantHandle, int]]
) -> None:
    plan = []
    for round_, n in itertools.product(range(60), range(len(tenants))):
        # Another tenant's slug asked with this tenant's key: never that tenant's package.
        other = (n + 1 + round_ % (len(tenants) - 1)) % len(tenants)
        plan += [
            ("list", n, "/v1/packages"),
            ("profile", n, "/v1/tenant"),
            ("own", n, f"/v1/packages/edge-{n}"),
            ("foreign", n, f"/v1/packages/edge-{other}"),
        ]

    async def run() -> list[tuple[str, int, httpx.Response]]:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(base_url=stack.url, timeout=20.0, limits=limits) as client:
            gate = asyncio.Semaphore(64)

            async def one(kind: str, n: int, path: str) -> tuple[str, int, httpx.Response]:
                async with gate:
                    headers = {"X-Tenant-Key": tenants[n][0].public_key}
                    return kind, n, await client.get(path, headers=headers)

            return await asyncio.gather(*(one(*step) for step in plan))

    answers = asyncio.run(run())
    assert len(answers) == len(plan) == 1440
    for kind, n, answer in answers:
        tenant, price = tenants[n]
        assert EDGE_HEADER not in answer.headers
        if kind == "list":
            assert answer.status_code == 200, answer.text
            assert [(p["slug"], p["priceCents"]) for p in answer.json()["items"]] == [(f"edge-{n}", price)]
        elif kind == "profile":
            assert answer.status_code == 200, answer.text
            profile = answer.json()
            assert (profile["slug"], profile["name"]) == (tenant.slug, f"Tenant {tenant.slug}")
        elif kind == "own":
            assert answer.status_code == 200, answer.text
            assert (answer.json()["slug"], answer.json()["priceCents"]) == (f"edge-{n}", price)
        else:
            assert answer.status_code == 404, answer.text
    # Every answer carries its own request's id, hits included.
    ids = [answer.headers["x-request-id"] for _, _, answer in answers]
    assert len(set(ids)) == len(ids)
    # The edge answered many of them itself (the test would prove nothing otherwise; cold misses and the
    # refused foreign slugs go to the gateways).
    states = [answer.headers.get("x-cache") for _, _, answer in answers]
    assert states.count("hit") >= 100, {s: states.count(s) for s in set(states)}
    hit = next(answer for _, _, answer in answers if answer.headers.get("x-cache") == "hit")
    # A hit keeps the gateway's own headers (security headers, no-store).
    assert hit.headers["cache-control"] == "no-store"
    assert hit.headers["x-content-type-options"] == "nosniff"
    assert hit.headers["content-type"].startswith("application/json")


def test_the_gateway_marks_what_the_edge_may_keep_and_envoy_never_shows_it(
    stack: Stack, gateways: list[httpx.Client], tenants: list[tuple[TenantHandle, int]]
) -> None:
    tenant = tenants[0][0]
    for path in ("/v1/packages", "/v1/tenant", "/v1/packages/edge-0"):
        direct = gateways[0].get(path, headers=tenant.public_headers())
        assert direct.status_code == 200
        assert 0 < int(direct.headers[EDGE_HEADER]) <= 500
        through = _fresh_get(stack, path, tenant.public_headers())
        assert through.status_code == 200 and EDGE_HEADER not in through.headers
    # Refusals and admin reads are never marked.
    refused = gateways[0].get("/v1/packages/nothing-here", headers=tenant.public_headers())
    assert refused.status_code == 404 and EDGE_HEADER not in refused.headers
    admin = gateways[0].get("/v1/tenant-admin/packages", headers=tenant.admin_headers())
    assert admin.status_code == 200 and EDGE_HEADER not in admin.headers


def test_a_request_without_a_tenant_key_is_never_answered_from_the_edge(stack: Stack) -> None:
    for _ in range(20):
        answer = _fresh_get(stack, "/v1/packages", {})
        assert answer.status_code == 401 and answer.json()["error"] == "TENANT_KEY_REQUIRED"
        assert "x-cache" not in answer.headers


def test_one_origins_cors_answer_is_never_served_to_another_origin(
    stack: Stack, make_tenant: MakeTenant
) -> None:
    first, second = make_tenant("edge-cors", onboarded=False), make_tenant("edge-cors", onboarded=False)
    a, b = "https://a.edge.example", "https://b.edge.example"
    for tenant, origin in ((first, a), (second, b)):
        changed = httpx.patch(
            f"{stack.url}/v1/tenant-admin/settings",
            json={"allowedOrigins": [origin]},
            headers=tenant.admin_headers(),
            timeout=10.0,
        )
        assert changed.status_code == 200, changed.text

    def known(tenant: TenantHandle, origin: str) -> bool:
        headers = {**tenant.public_headers(), "Origin": origin}
        return all(_fresh_get(stack, "/v1/packages", headers).status_code == 200 for _ in range(4))

    assert eventually(lambda: known(first, a) and known(second, b), 10.0), "the origins were never known"
    # (key, origin sent, status expected, Access-Control-Allow-Origin expected)
    cases = [
        (first, a, 200, a),
        (first, b, 403, None),  # b is the second tenant's origin, and was answered to it meanwhile
        (first, None, 200, None),
        (second, b, 200, b),
        (second, a, 403, None),
        (second, None, 200, None),
    ]

    async def run() -> list[tuple[tuple[Any, ...], httpx.Response]]:
        async with httpx.AsyncClient(base_url=stack.url, timeout=20.0) as client:
            gate = asyncio.Semaphore(32)

            async def one(case: tuple[Any, ...]) -> tuple[tuple[Any, ...], httpx.Response]:
                tenant, origin = case[0], case[1]
                headers = {**tenant.public_headers(), **({"Origin": origin} if origin else {})}
                async with gate:
                    return case, await client.get("/v1/packages", headers=headers)

            return await asyncio.gather(*(one(case) for case in cases * 50))

    answers = asyncio.run(run())
    for (_, origin, status, allowed), answer in answers:
        assert answer.status_code == status, (origin, answer.text)
        assert answer.headers.get("access-control-allow-origin") == allowed, origin
        if status == 403:
            assert answer.json()["error"] == "ORIGIN_NOT_ALLOWED"
    assert any(answer.headers.get("x-cache") == "hit" for _, answer in answers)


def test_a_revoked_key_stops_being_answered_at_the_edge_within_a_second_of_the_gateways(
    stack: Stack, gateways: list[httpx.Client], make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("edge-revoke", onboarded=False)
    for _ in range(10):  # the edge's workers and both gateways know the key now
        assert _fresh_get(stack, "/v1/packages", tenant.public_headers()).status_code == 200
    rotated = httpx.post(
        f"{stack.url}/v1/tenant-admin/api-keys/rotate",
        json={"graceSeconds": 0},
        headers=tenant.admin_headers(),
        timeout=10.0,
    )
    assert rotated.status_code == 200, rotated.text
    # The last moment (a request's start) each still accepted the key; polled until the edge has
    # refused it for 1.5 s on end.
    started = time.monotonic()
    gateway_accepted = edge_accepted = started
    while time.monotonic() - started < 10.0:
        for gateway in gateways:
            sent = time.monotonic()
            if gateway.get("/v1/packages", headers=tenant.public_headers()).status_code != 401:
                gateway_accepted = sent
        sent = time.monotonic()
        if _fresh_get(stack, "/v1/packages", tenant.public_headers()).status_code != 401:
            edge_accepted = sent
        if time.monotonic() - max(edge_accepted, gateway_accepted) > 1.5:
            break
        time.sleep(0.02)
    assert time.monotonic() - edge_accepted > 1.5, "the revoked key kept working"
    assert edge_accepted - gateway_accepted <= EDGE_DELAY_SECONDS
    # ... and stays refused on every worker, while the new key is answered.
    assert all(
        _fresh_get(stack, "/v1/packages", tenant.public_headers()).status_code == 401 for _ in range(10)
    )
    new_key = {"X-Tenant-Key": rotated.json()["publicKey"]}
    assert eventually(lambda: _fresh_get(stack, "/v1/packages", new_key).status_code == 200, 5.0)


def test_an_admins_price_change_is_served_by_every_envoy_worker_within_one_second(
    stack: Stack, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("edge-fresh", onboarded=False)
    with httpx.Client(base_url=stack.url, timeout=10.0) as http:
        package = _package(http, tenant, "garden", 150_000)
        for _ in range(10):  # warm the edge on both workers, and both gateways
            one = _fresh_get(stack, "/v1/packages/garden", tenant.public_headers())
            assert one.json()["priceCents"] == 150_000
        changed = http.patch(
            f"/v1/tenant-admin/packages/{package['id']}",
            json={"priceCents": 180_000},
            headers=tenant.admin_headers(),
        )
        assert changed.status_code == 200, changed.text
    committed = time.monotonic()

    def prices() -> set[int]:
        found = set()
        for _ in range(4):
            one = _fresh_get(stack, "/v1/packages/garden", tenant.public_headers())
            found.add(one.json()["priceCents"])
            listed = _fresh_get(stack, "/v1/packages", tenant.public_headers()).json()["items"]
            found.update(p["priceCents"] for p in listed)
        return found

    # The promise: every request made 1 s after the commit sees the new price, whichever worker and
    # gateway answers it.
    time.sleep(max(0.0, committed + FRESHNESS_PROMISE_SECONDS - time.monotonic()))
    seen = prices() | prices()
    assert seen == {180_000}, f"still {seen} after 1 s"
