"""The catalog service's settings (environment, prefix MAIS_)."""

from __future__ import annotations

from mais_runtime.settings import ServiceSettings


class CatalogSettings(ServiceSettings):
    """Everything the catalog process reads from its environment."""

    # The public cache: a safety TTL (changes normally evict entries at once) and a size bound.
    public_cache_ttl_seconds: float = 30.0
    public_cache_max_entries: int = 20_000
    # The change feed pings its connection this often; the cache answers only within
    # `change_feed_lease_seconds` of the last good ping, so a connection that dies silently stops
    # the cache well within the 1 s freshness promise.
    change_feed_ping_seconds: float = 0.25
    change_feed_lease_seconds: float = 0.75
    change_feed_reconnect_max_seconds: float = 2.0
