"""The public cache and the cached public reads, with an in-memory store: entries belong to one
tenant, writes and reconnects evict, an answer read before a change is never stored after it, and
warm reads do not reach the store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from mais_runtime.errors import NotFound
from services.catalog.cache import PublicCache
from services.catalog.domain import Package, PackageDraft, Position, Stamp
from services.catalog.public import PublicCatalog

A = "00000000-0000-4000-8000-00000000000a"
B = "00000000-0000-4000-8000-00000000000b"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cache(clock: Clock | None = None, max_entries: int = 100) -> PublicCache:
    return PublicCache(ttl_seconds=30, max_entries=max_entries, clock=clock or Clock())


def test_an_entry_answers_only_for_its_own_tenant() -> None:
    c = cache()
    assert c.put(A, ("slug", "garden"), "A's garden", c.ticket())
    hit = c.get(A, ("slug", "garden"))
    assert hit is not None and hit.value == "A's garden"
    assert c.get(B, ("slug", "garden")) is None


def test_invalidating_a_tenant_drops_its_entries_and_no_one_elses() -> None:
    c = cache()
    c.put(A, "page", "A", c.ticket())
    c.put(B, "page", "B", c.ticket())
    c.invalidate(A)
    assert c.get(A, "page") is None
    hit = c.get(B, "page")
    assert hit is not None and hit.value == "B"


def test_an_answer_read_before_an_invalidation_is_not_stored_after_it() -> None:
    c = cache()
    ticket = c.ticket()  # a read starts, queries the database...
    c.invalidate(A)  # ...a write commits and its notification arrives...
    assert not c.put(A, "page", "old price", ticket)  # ...the old answer must not be kept
    assert c.get(A, "page") is None
    # Another tenant's change does not spoil this tenant's answer.
    ticket = c.ticket()
    c.invalidate(B)
    assert c.put(A, "page", "fresh", ticket)


def test_clearing_refuses_every_answer_read_before_it() -> None:
    c = cache()
    ticket = c.ticket()
    c.put(A, "page", "A", ticket)
    c.clear()
    assert c.get(A, "page") is None
    assert not c.put(B, "page", "B", ticket)
    assert c.put(B, "page", "B", c.ticket())


def test_entries_expire_after_the_safety_ttl() -> None:
    clock = Clock()
    c = cache(clock)
    c.put(A, "page", "A", c.ticket())
    clock.now += 29.9
    assert c.get(A, "page") is not None
    clock.now += 0.2
    assert c.get(A, "page") is None


def test_the_least_recently_used_entry_leaves_when_the_cache_is_full() -> None:
    c = cache(max_entries=2)
    c.put(A, "one", 1, c.ticket())
    c.put(A, "two", 2, c.ticket())
    assert c.get(A, "one") is not None  # "two" is now the least recently used
    c.put(B, "three", 3, c.ticket())
    assert len(c) == 2
    assert c.get(A, "two") is None
    assert c.get(A, "one") is not None and c.get(B, "three") is not None


# --- the cached reads ----------------------------------------------------------------------------


def make_package(tenant: str, slug: str, price: int) -> Package:
    stamp = Stamp(f"{tenant[-1]}-{slug}", 1, datetime(2030, 1, 1, tzinfo=UTC))
    return Package(stamp, PackageDraft(slug=slug, title=slug, price_cents=price, currency="usd"))


class MemoryStore:
    """Counts every transaction: a read that reaches it "touched the database"."""

    def __init__(self) -> None:
        self.packages: dict[str, list[Package]] = {A: [], B: []}
        self.transactions = 0
        self.gate: asyncio.Event | None = None

    @asynccontextmanager
    async def reading(self, tenant_id: str) -> AsyncIterator[Any]:
        self.transactions += 1
        if self.gate is not None:
            await self.gate.wait()
        yield _Reads(list(self.packages[tenant_id]))


class _Reads:
    def __init__(self, packages: list[Package]) -> None:
        self._packages = packages

    async def offered_packages(self, limit: int, after: Position | None) -> tuple[list[Package], None]:
        return self._packages[:limit], None

    async def offered_segments(self, segment_ids: list[str]) -> list[Any]:
        return []

    async def offered_package(self, slug: str) -> Package | None:
        return next((p for p in self._packages if p.draft.slug == slug), None)


def prices(packages: list[Package], segments: list[Any], token: str) -> list[int]:
    return [p.draft.price_cents for p in packages]


def catalog(store: MemoryStore, live: list[bool] | None = None) -> tuple[PublicCatalog, PublicCache]:
    c = cache()
    flag = live if live is not None else [True]
    return PublicCatalog(store, c, lambda: flag[0]), c  # type: ignore[arg-type]


async def test_warm_reads_do_not_reach_the_store() -> None:
    store = MemoryStore()
    store.packages[A] = [make_package(A, "garden", 100)]
    public, _ = catalog(store)
    assert await public.page(A, 0, "", prices) == [100]
    assert await public.package(A, "garden", lambda p: p.draft.price_cents) == 100
    before = store.transactions
    for _ in range(20):
        assert await public.page(A, 0, "", prices) == [100]
        assert await public.package(A, "garden", lambda p: p.draft.price_cents) == 100
    assert store.transactions == before


async def test_two_tenants_with_the_same_slug_get_their_own_answers_from_the_cache() -> None:
    store = MemoryStore()
    store.packages[A] = [make_package(A, "garden", 100)]
    store.packages[B] = [make_package(B, "garden", 900)]
    public, _ = catalog(store)
    for _ in range(2):  # cold, then warm
        assert await public.package(A, "garden", lambda p: p.draft.price_cents) == 100
        assert await public.package(B, "garden", lambda p: p.draft.price_cents) == 900


async def test_an_unknown_slug_is_not_found_and_a_malformed_one_never_reaches_the_store() -> None:
    store = MemoryStore()
    public, _ = catalog(store)
    for _ in range(2):
        with pytest.raises(NotFound):
            await public.package(A, "nothing-here", lambda p: p)
    assert store.transactions == 1
    with pytest.raises(NotFound):
        await public.package(A, "../Admin", lambda p: p)
    assert store.transactions == 1


async def test_after_an_invalidation_the_next_read_sees_the_new_price() -> None:
    store = MemoryStore()
    store.packages[A] = [make_package(A, "garden", 100)]
    public, c = catalog(store)
    assert await public.page(A, 0, "", prices) == [100]
    store.packages[A] = [make_package(A, "garden", 120)]
    c.invalidate(A)
    assert await public.page(A, 0, "", prices) == [120]


async def test_a_read_racing_a_write_does_not_leave_the_old_price_in_the_cache() -> None:
    store = MemoryStore()
    store.packages[A] = [make_package(A, "garden", 100)]
    public, c = catalog(store)
    store.gate = asyncio.Event()
    slow_read = asyncio.create_task(public.page(A, 0, "", prices))
    await asyncio.sleep(0)  # the read is now inside the store, holding the old price
    store.packages[A] = [make_package(A, "garden", 120)]
    c.invalidate(A)  # the write's notification
    store.gate.set()
    await slow_read
    store.gate = None
    assert await public.page(A, 0, "", prices) == [120]


async def test_while_the_change_feed_is_down_every_read_goes_to_the_store() -> None:
    store = MemoryStore()
    store.packages[A] = [make_package(A, "garden", 100)]
    live = [True]
    public, _ = catalog(store, live)
    await public.page(A, 0, "", prices)
    live[0] = False
    before = store.transactions
    await public.page(A, 0, "", prices)
    await public.page(A, 0, "", prices)
    assert store.transactions == before + 2
