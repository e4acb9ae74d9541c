"""The catalog service's Prometheus metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

PUBLIC_READS = Counter(
    "mais_catalog_public_reads_total",
    "Public catalog reads, by where the answer came from",
    ["source"],  # "cache" or "database"
)
# Bound once: the warm read path should cost a dictionary lookup, not a label lookup too.
CACHE_READS = PUBLIC_READS.labels("cache")
DATABASE_READS = PUBLIC_READS.labels("database")
INVALIDATIONS = Counter(
    "mais_catalog_cache_invalidations_total",
    "Tenant entries dropped from the public cache, by cause",
    ["cause"],  # "write" (this process), "notification" (any process), "reset" (feed reconnected)
)
FEED_LIVE = Gauge(
    "mais_catalog_change_feed_live",
    "1 while this process listens for catalog changes and may answer from its cache",
)
