"""The gateway's micro-cache of the public calendar: an answer belongs to one tenant and one path and query,
lives at most its TTL, stays within its byte bound, keeps no failure, and a burst of misses asks the
service once."""

from __future__ import annotations

import asyncio

import pytest

from gateway.read_cache import TTL_SECONDS, PublicReadCache

A = "00000000-0000-4000-8000-00000000000a"
B = "00000000-0000-4000-8000-00000000000b"
PACKAGES = "/v1/packages?"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_ttl_keeps_every_answer_under_a_second_old() -> None:
    assert 0 < TTL_SECONDS <= 0.5


def test_an_answer_is_served_only_to_its_own_tenant() -> None:
    cache = PublicReadCache(clock=Clock())
    cache.put(A, PACKAGES, b"A's packages")
    assert cache.get(A, PACKAGES) == b"A's packages"
    assert cache.get(B, PACKAGES) is None


def test_an_answer_is_served_only_for_its_own_path_and_query() -> None:
    cache = PublicReadCache(clock=Clock())
    cache.put(A, "/v1/packages?limit=2", b"two")
    assert cache.get(A, "/v1/packages?limit=3") is None
    assert cache.get(A, "/v1/packages/garden?limit=2") is None
    assert cache.get(A, "/v1/packages?limit=2") == b"two"


def test_an_answer_expires_after_its_ttl() -> None:
    clock = Clock()
    cache = PublicReadCache(ttl_seconds=0.5, clock=clock)
    cache.put(A, PACKAGES, b"old price")
    clock.now += 0.49
    assert cache.get(A, PACKAGES) == b"old price"
    clock.now += 0.01
    assert cache.get(A, PACKAGES) is None
    assert len(cache) == 0


def test_the_oldest_answers_leave_when_over_the_byte_bound() -> None:
    cache = PublicReadCache(max_bytes=10, clock=Clock())
    cache.put(A, "/1", b"12345")
    cache.put(B, "/2", b"12345")
    cache.put(A, "/3", b"123")
    assert cache.get(A, "/1") is None
    assert cache.get(B, "/2") == b"12345"
    assert cache.get(A, "/3") == b"123"
    cache.put(A, "/big", b"x" * 11)
    assert cache.get(A, "/big") is None


async def test_a_burst_of_misses_asks_once_and_warm_reads_not_at_all() -> None:
    cache = PublicReadCache(clock=Clock())
    calls = 0
    release = asyncio.Event()

    async def load() -> bytes:
        nonlocal calls
        calls += 1
        await release.wait()
        return b"answer"

    burst = [asyncio.create_task(cache.answer(A, PACKAGES, load)) for _ in range(20)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*burst) == [b"answer"] * 20
    assert await cache.answer(A, PACKAGES, load) == b"answer"
    assert calls == 1
    assert await cache.answer(B, PACKAGES, load) == b"answer"
    assert calls == 2


async def test_a_failure_is_not_kept() -> None:
    cache = PublicReadCache(clock=Clock())

    async def failing() -> bytes:
        raise RuntimeError("catalog unavailable")

    async def working() -> bytes:
        return b"answer"

    with pytest.raises(RuntimeError):
        await cache.answer(A, PACKAGES, failing)
    assert cache.get(A, PACKAGES) is None
    assert await cache.answer(A, PACKAGES, working) == b"answer"


async def test_an_answer_near_its_end_is_served_while_one_background_load_replaces_it() -> None:
    clock = Clock()
    cache = PublicReadCache(clock=clock, ttl_seconds=0.5, refresh_ahead_seconds=0.2)
    cache.put(A, PACKAGES, b"old")
    loads = 0
    release = asyncio.Event()

    async def load() -> bytes:
        nonlocal loads
        loads += 1
        await release.wait()
        return b"new"

    clock.now += 0.2  # well inside its life: served, nothing reloaded
    assert await cache.answer(A, PACKAGES, load) == b"old"
    await asyncio.sleep(0)
    assert loads == 0
    clock.now += 0.15  # 0.15 s left: still served at once, and reloaded once in the background
    answers = [await asyncio.wait_for(cache.answer(A, PACKAGES, load), 0.1) for _ in range(5)]
    assert answers == [b"old"] * 5
    await asyncio.sleep(0)
    assert loads == 1
    release.set()
    for _ in range(5):
        await asyncio.sleep(0)
    assert loads == 1, "five requests near the end started one reload"
    assert cache.get(A, PACKAGES) == b"new"
    assert cache.get(B, PACKAGES) is None


def test_the_edge_may_keep_an_answer_only_as_long_as_this_cache_still_does() -> None:
    clock = Clock()
    cache = PublicReadCache(clock=clock, ttl_seconds=0.5)
    assert cache.remaining_ms(A, PACKAGES) == 0
    cache.put(A, PACKAGES, b"A's packages")
    assert cache.remaining_ms(A, PACKAGES) == 500
    assert cache.remaining_ms(B, PACKAGES) == 0
    clock.now += 0.3
    assert cache.remaining_ms(A, PACKAGES) == 200
    clock.now += 0.3
    assert cache.remaining_ms(A, PACKAGES) == 0


# --- with the change feeds (gateway/feeds.py) ---------------------------------------------------


class Feeds:
    def __init__(self) -> None:
        self.ok = True

    def __call__(self) -> bool:
        return self.ok


class Loader:
    """A service answer that counts its loads and may be held back."""

    def __init__(self, body: bytes = b"v1") -> None:
        self.body = body
        self.loads = 0
        self.gate: asyncio.Event | None = None

    async def __call__(self) -> bytes:
        self.loads += 1
        if self.gate is not None:
            await self.gate.wait()
        return self.body


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def fed_cache(clock: Clock, feeds: Feeds) -> PublicReadCache:
    return PublicReadCache(
        clock=clock, feeds_healthy=feeds, ttl_seconds=0.5, fed_ttl_seconds=5.0, settle_seconds=0.5
    )


async def test_while_the_feeds_are_healthy_an_answer_lives_until_its_tenant_changes_capped() -> None:
    clock, feeds, load = Clock(), Feeds(), Loader()
    cache = fed_cache(clock, feeds)
    assert await cache.answer(A, PACKAGES, load) == b"v1"
    clock.now += 3.0  # far past the 0.5 s TTL: still the cached answer, nothing asked again
    assert await cache.answer(A, PACKAGES, load) == b"v1"
    assert load.loads == 1
    clock.now += 2.0  # past the cap: gone
    assert cache.get(A, PACKAGES) is None


async def test_a_change_reloads_a_used_answer_in_the_background_and_drops_an_unused_one() -> None:
    clock, feeds = Clock(), Feeds()
    cache = fed_cache(clock, feeds)
    used, unused = Loader(b"packages v1"), Loader(b"calendar v1")
    await cache.answer(A, PACKAGES, used)
    await cache.answer(A, "/v1/availability/calendar?", unused)
    await cache.answer(B, PACKAGES, Loader(b"other tenant"))
    clock.now += 1.0
    assert await cache.answer(A, PACKAGES, used) == b"packages v1"  # used since its load
    used.body, used.gate = b"packages v2", asyncio.Event()
    cache.changed(A)
    # The old answer is still served while the one reload runs: nobody waits.
    assert await asyncio.wait_for(cache.answer(A, PACKAGES, used), 0.1) == b"packages v1"
    await settle()
    assert used.loads == 2
    used.gate.set()
    await settle()
    assert cache.get(A, PACKAGES) == b"packages v2"
    assert cache.get(A, "/v1/availability/calendar?") is None  # not used since: dropped, not reloaded
    assert unused.loads == 1
    assert cache.get(B, PACKAGES) == b"other tenant"  # another tenant's answers are untouched


async def test_an_answer_loaded_across_a_change_or_just_after_lives_the_short_ttl() -> None:
    clock, feeds = Clock(), Feeds()
    cache = fed_cache(clock, feeds)
    load = Loader(b"read before the change")
    load.gate = asyncio.Event()
    pending = asyncio.create_task(cache.answer(A, PACKAGES, load))
    await settle()
    cache.changed(A)  # committed while the load was in flight
    load.gate.set()
    assert await pending == b"read before the change"
    clock.now += 0.5
    assert cache.get(A, PACKAGES) is None, "an answer that may predate the change outlived the TTL"
    # Loaded 0.5 s after the change: long-lived again.
    assert await cache.answer(A, PACKAGES, Loader(b"after")) == b"after"
    clock.now += 2.0
    assert cache.get(A, PACKAGES) == b"after"


async def test_while_a_feed_is_down_or_just_back_answers_live_the_short_ttl() -> None:
    clock, feeds = Clock(), Feeds()
    cache = fed_cache(clock, feeds)
    await cache.answer(A, PACKAGES, Loader(b"fed"))
    clock.now += 1.0
    feeds.ok = False  # lost: the long-lived answer is now past the short TTL
    assert cache.get(A, PACKAGES) is None
    await cache.answer(A, PACKAGES, Loader(b"unfed"))
    feeds.ok = True
    clock.now += 0.6
    assert cache.get(A, PACKAGES) is None, "loaded while a feed was down, so it lives the short TTL"
    await cache.answer(A, PACKAGES, Loader(b"fed again"))
    cache.reset()  # a feed came back: what changed meanwhile is unknown
    clock.now += 0.6
    assert cache.get(A, PACKAGES) is None
