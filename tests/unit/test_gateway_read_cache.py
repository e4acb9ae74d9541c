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
