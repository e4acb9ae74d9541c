"""The services' small in-process cache: entries live their lifetime, the oldest leave past the bound."""

from __future__ import annotations

from mais_runtime.ttl_cache import TtlCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_lives_its_lifetime_and_no_longer() -> None:
    clock = Clock()
    cache: TtlCache[str, int] = TtlCache(1.0, 10, clock)
    cache.put("a", 1)
    clock.now += 0.99
    assert cache.get("a") == 1
    clock.now += 0.01
    assert cache.get("a") is None
    assert len(cache) == 0


def test_past_the_bound_the_least_recently_stored_leave_first() -> None:
    cache: TtlCache[str, int] = TtlCache(60.0, 2, Clock())
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("a", 3)  # stored again: now the newest
    cache.put("c", 4)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (3, None, 4)


def test_an_entry_is_expiring_only_in_its_last_moments() -> None:
    clock = Clock()
    cache: TtlCache[str, int] = TtlCache(2.0, 10, clock)
    assert not cache.expiring("a", 0.5)
    cache.put("a", 1)
    assert not cache.expiring("a", 0.5)
    clock.now += 1.6
    assert cache.expiring("a", 0.5)


def test_discard_where_forgets_only_the_doomed_values() -> None:
    cache: TtlCache[str, str] = TtlCache(10.0, 10)
    for key, value in (("k1", "tenant-a"), ("k2", "tenant-b"), ("k3", "tenant-a")):
        cache.put(key, value)
    assert cache.discard_where(lambda value: value == "tenant-a") == 2
    assert (cache.get("k1"), cache.get("k2"), cache.get("k3")) == (None, "tenant-b", None)
