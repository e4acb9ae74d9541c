"""The gateway's public-key cache refreshes a busy key in the background shortly before its entry runs
out: requests keep being answered from the entry, one lookup runs per key, and what the tenant service
says next (a deactivation) replaces the entry. A key missing from the cache is looked up once for
every request carrying it at that moment (the checkout route's burst of contenders too)."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest
from mais.tenant.v1 import tenant_service_pb2 as tenant_pb

import gateway.auth as auth
from gateway.auth import (
    AUTH_CACHE_SECONDS,
    KEY_REFRESH_AHEAD_SECONDS,
    AuthCaches,
    TenantContext,
    public_tenant,
)
from gateway.errors import ApiError

KEY = "pk_live_bella_" + "0" * 32
TENANT = "00000000-0000-4000-8000-00000000000a"


class TenantService:
    """Stands in for the tenant service's ResolvePublicKey: counts calls; `release` holds them."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.release.set()

        # The slug's newest working key: KEY while it is the live key, another once KEY is in grace.
        self.live_key = KEY

    async def ResolvePublicKey(self, request: Any) -> Any:
        self.calls += 1
        await self.release.wait()
        return SimpleNamespace(tenant=tenant_pb.Tenant(id=TENANT, slug="bella", active=True))

    async def ResolveTenantSlug(self, request: Any) -> Any:
        assert request.slug == "bella"
        return SimpleNamespace(
            tenant=tenant_pb.Tenant(id=TENANT, slug="bella", active=True), public_key=self.live_key
        )


def _request(caches: AuthCaches, service: TenantService) -> Any:
    state = SimpleNamespace(auth_caches=caches, clients=SimpleNamespace(tenant=service))
    return SimpleNamespace(
        headers={"x-tenant-key": KEY}, app=SimpleNamespace(state=state), state=SimpleNamespace()
    )


def _age_entry(caches: AuthCaches, seconds_left: float) -> None:
    _, value = caches.keys._entries[KEY]
    caches.keys._entries[KEY] = (time.monotonic() + seconds_left, value)


async def test_a_key_near_the_end_of_its_entry_is_refreshed_once_in_the_background() -> None:
    caches, service = AuthCaches.create(), TenantService()
    request = _request(caches, service)
    first = await public_tenant(request)
    assert isinstance(first, TenantContext) and service.calls == 1
    assert await public_tenant(request) == first and service.calls == 1  # a fresh entry answers

    _age_entry(caches, KEY_REFRESH_AHEAD_SECONDS / 2)
    service.release.clear()  # the refresh is slow: requests must not wait for it
    answers = [await asyncio.wait_for(public_tenant(request), 0.5) for _ in range(20)]
    assert all(a.tenant_id == TENANT for a in answers)
    await asyncio.sleep(0)
    assert service.calls == 2, "one refresh for twenty requests"
    service.release.set()
    await asyncio.gather(*caches.refreshing)
    assert not caches.keys.expiring(KEY, KEY_REFRESH_AHEAD_SECONDS), "the entry was renewed"


async def test_a_refresh_carries_a_deactivation_into_the_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    caches, service = AuthCaches.create(), TenantService()
    request = _request(caches, service)
    await public_tenant(request)
    _age_entry(caches, KEY_REFRESH_AHEAD_SECONDS / 2)

    async def deactivated(request: Any, key: str) -> ApiError:
        # What _resolve_key makes of the tenant service's TENANT_INACTIVE.
        return ApiError("TENANT_INACTIVE", "this business is not accepting bookings")

    monkeypatch.setattr(auth, "_resolve_key", deactivated)
    await public_tenant(request)  # still answered from the entry; starts the refresh
    await asyncio.gather(*caches.refreshing)
    with pytest.raises(ApiError) as refused:
        await public_tenant(request)
    assert refused.value.code == "TENANT_INACTIVE"


async def test_concurrent_requests_with_an_uncached_key_share_one_lookup() -> None:
    caches, service = AuthCaches.create(), TenantService()
    service.release.clear()
    request = _request(caches, service)
    waiting = [asyncio.ensure_future(public_tenant(request)) for _ in range(50)]
    await asyncio.sleep(0.01)
    assert service.calls == 1, "one lookup for fifty requests"
    service.release.set()
    answers = await asyncio.gather(*waiting)
    assert {a.tenant_id for a in answers} == {TENANT}
    assert service.calls == 1 and caches.key_lookups == {}


async def test_a_failed_shared_lookup_lets_each_waiter_ask_for_itself() -> None:
    caches = AuthCaches.create()

    class Flaky(TenantService):
        async def ResolvePublicKey(self, request: Any) -> Any:
            self.calls += 1
            if self.calls == 1:
                await self.release.wait()
                raise RuntimeError("the tenant service is restarting")
            return await super().ResolvePublicKey(request)

    service = Flaky()
    service.release.clear()
    request = _request(caches, service)
    first = asyncio.ensure_future(public_tenant(request))
    await asyncio.sleep(0)
    others = [asyncio.ensure_future(public_tenant(request)) for _ in range(3)]
    await asyncio.sleep(0.01)
    service.release.set()
    with pytest.raises(RuntimeError):
        await first
    answers = await asyncio.gather(*others)
    assert {a.tenant_id for a in answers} == {TENANT}
    assert caches.key_lookups == {}


def _seconds_left(caches: AuthCaches) -> float:
    return caches.keys._entries[KEY][0] - time.monotonic()


async def test_a_key_lives_longer_while_the_tenant_feed_is_healthy_and_a_change_drops_it() -> None:
    healthy = [True]
    caches, service = AuthCaches.create(), TenantService()
    caches.feed_healthy = lambda: healthy[0]
    request = _request(caches, service)
    await public_tenant(request)
    assert _seconds_left(caches) > AUTH_CACHE_SECONDS + 1, "kept for the feed's lifetime"
    await public_tenant(request)
    assert service.calls == 1
    caches.forget_tenant(TENANT)  # the feed heard the tenant (or one of its keys) change
    await public_tenant(request)
    assert service.calls == 2, "asked again at once after the change"

    healthy[0] = False  # the feed went silent: the long-lived entry keeps the short lifetime at most
    await public_tenant(request)
    assert service.calls == 2, "still answered (a restarting tenant service is not asked at once)"
    assert _seconds_left(caches) <= AUTH_CACHE_SECONDS, "as if learnt without the feed"


async def test_a_lost_feed_shortens_every_key_to_the_short_lifetime() -> None:
    caches, service = AuthCaches.create(), TenantService()
    caches.feed_healthy = lambda: True
    await public_tenant(_request(caches, service))
    assert _seconds_left(caches) > AUTH_CACHE_SECONDS + 1
    caches.shorten_keys()  # what the tenant feed's loss (or its READY after one) does
    assert 0 < _seconds_left(caches) <= AUTH_CACHE_SECONDS


async def test_a_change_heard_during_the_lookup_keeps_the_answer_briefly() -> None:
    caches, service = AuthCaches.create(), TenantService()
    caches.feed_healthy = lambda: True
    service.release.clear()
    request = _request(caches, service)
    pending = asyncio.ensure_future(public_tenant(request))
    await asyncio.sleep(0.01)
    caches.forget_tenant(TENANT)  # the change may have come after the tenant service read the key
    service.release.set()
    await pending
    assert _seconds_left(caches) <= AUTH_CACHE_SECONDS


async def test_a_key_in_its_grace_period_keeps_the_short_lifetime() -> None:
    caches, service = AuthCaches.create(), TenantService()
    caches.feed_healthy = lambda: True
    service.live_key = "pk_live_bella_" + "1" * 32  # KEY was rotated: it stops at a time, not a change
    await public_tenant(_request(caches, service))
    assert _seconds_left(caches) <= AUTH_CACHE_SECONDS


async def test_without_a_feed_and_for_refusals_the_short_lifetime_stays() -> None:
    caches, service = AuthCaches.create(), TenantService()
    await public_tenant(_request(caches, service))
    assert _seconds_left(caches) <= AUTH_CACHE_SECONDS
    caches.feed_healthy = lambda: True
    caches.remember_key(KEY, ApiError("INVALID_TENANT_KEY", "unknown public key"), caches.changes)
    assert _seconds_left(caches) <= AUTH_CACHE_SECONDS, "a refusal is asked about again soon"
