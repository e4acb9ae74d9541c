"""mais_runtime.feed_cache: a tenant's entry lives long only while the change feed is healthy, a change
drops it at once, and losing the feed (or finding it silent) drops everything kept long."""

from __future__ import annotations

import pytest

from mais_runtime.feed_cache import TenantFeedCache

TENANT = "00000000-0000-4000-8000-00000000000a"
OTHER = "00000000-0000-4000-8000-00000000000b"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Feed:
    """Stands in for ChangeSubscription.healthy."""

    def __init__(self) -> None:
        self.up = True

    def healthy(self) -> bool:
        return self.up


def _followed(clock: Clock) -> tuple[TenantFeedCache[str], Feed]:
    cache: TenantFeedCache[str] = TenantFeedCache(1.0, 30.0, 100, clock)
    feed = Feed()
    subscription = cache.follow("tenant", lambda: None)
    cache._healthy = feed.healthy  # what follow() wires to subscription.healthy
    assert subscription.name == "tenant"
    return cache, feed


def test_without_a_feed_an_entry_lives_the_short_time() -> None:
    clock = Clock()
    cache: TenantFeedCache[str] = TenantFeedCache(1.0, 30.0, 100, clock)
    cache.put(TENANT, "terms", cache.changes)
    clock.now += 0.9
    assert cache.get(TENANT) == "terms"
    clock.now += 0.2
    assert cache.get(TENANT) is None


def test_with_a_healthy_feed_an_entry_lives_until_its_tenant_changes() -> None:
    clock = Clock()
    cache, _ = _followed(clock)
    cache.put(TENANT, "terms", cache.changes)
    cache.put(OTHER, "other terms", cache.changes)
    clock.now += 20
    assert cache.get(TENANT) == "terms"
    cache.changed(TENANT)
    assert cache.get(TENANT) is None, "the change drops it at once"
    assert cache.get(OTHER) == "other terms", "another tenant's entry stays"
    clock.now += 11
    assert cache.get(OTHER) is None, "never past the long time"


def test_an_answer_whose_lookup_overlapped_a_change_is_kept_briefly() -> None:
    clock = Clock()
    cache, _ = _followed(clock)
    before = cache.changes
    cache.changed(TENANT)  # heard while the lookup was on its way
    cache.put(TENANT, "maybe stale", before)
    clock.now += 1.1
    assert cache.get(TENANT) is None


def test_a_feed_found_down_keeps_what_was_kept_long_the_short_time_at_most() -> None:
    clock = Clock()
    cache, feed = _followed(clock)
    cache.put(TENANT, "terms", cache.changes)
    clock.now += 10
    feed.up = False
    assert cache.get(TENANT) == "terms", "as if just learnt without the feed"
    clock.now += 1.1
    assert cache.get(TENANT) is None, "without the feed a change could go unheard: the short time"
    cache.put(TENANT, "terms", cache.changes)
    clock.now += 1.1
    assert cache.get(TENANT) is None, "learnt without the feed: the short time"


def test_lost_and_ready_shorten_everything_and_forget_all_drops_it() -> None:
    clock = Clock()
    cache, _ = _followed(clock)
    cache.put(TENANT, "terms", cache.changes)
    cache.put(OTHER, "other terms", cache.changes)
    cache.unsure()  # the subscription's on_lost and on_ready
    clock.now += 0.9
    assert cache.get(TENANT) == "terms"
    clock.now += 0.2
    assert cache.get(TENANT) is None and cache.get(OTHER) is None
    cache.put(TENANT, "terms", cache.changes)
    cache.forget_all()
    assert cache.get(TENANT) is None and len(cache) == 0


def test_bad_lifetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="short_seconds"):
        TenantFeedCache(5.0, 1.0, 10)
    with pytest.raises(ValueError, match="short_seconds"):
        TenantFeedCache(-1.0, 1.0, 10)


def test_no_cache_stays_no_cache_with_a_feed() -> None:
    clock = Clock()
    cache: TenantFeedCache[str] = TenantFeedCache(0.0, 0.0, 100, clock)
    cache.follow("tenant", lambda: None)
    cache._healthy = lambda: True
    cache.put(TENANT, "terms", cache.changes)
    assert cache.get(TENANT) is None
