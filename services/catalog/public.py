"""Public catalog reads (what the booking widget shows), answered from the per-tenant cache while
the change feed is live and from the database otherwise."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar, cast

from mais_runtime.errors import NotFound
from mais_runtime.paging import page_size
from services.catalog.cache import PublicCache
from services.catalog.domain import SLUG, Package, Segment, decode_cursor, encode_cursor
from services.catalog.metrics import CACHE_READS, DATABASE_READS
from services.catalog.store import CatalogStore

R = TypeVar("R")

# Renders a page of packages and its next page token (empty on the last page) as the caller's answer.
RenderPage = Callable[[list[Package], list[Segment], str], R]


class PublicCatalog:
    """Cached public reads. The cache stores rendered answers, so a warm read does no work but a
    dictionary lookup; `live` says whether cached answers may be trusted right now."""

    def __init__(self, store: CatalogStore, cache: PublicCache, live: Callable[[], bool]) -> None:
        self._store = store
        self._cache = cache
        self._live = live

    async def page(self, tenant_id: str, size: int, token: str, render: RenderPage[R]) -> R:
        """A page of the tenant's offered packages with their add-ons, rendered by `render`."""
        limit = page_size(size)
        after = decode_cursor(token)  # a forged token is refused before it can become a cache key

        async def load() -> R:
            async with self._store.reading(tenant_id) as tx:
                packages, position = await tx.offered_packages(limit, after)
                segments = await tx.offered_segments(
                    sorted({p.draft.segment_id for p in packages if p.draft.segment_id})
                )
            return render(packages, segments, encode_cursor(position) if position else "")

        return await self._through_cache(tenant_id, ("page", limit, token), load)

    async def package(self, tenant_id: str, slug: str, render: Callable[[Package], R]) -> R:
        """One offered package by slug with its add-ons, rendered by `render`; NotFound otherwise."""
        if not SLUG.match(slug):
            raise NotFound("package")

        async def load() -> R | None:
            async with self._store.reading(tenant_id) as tx:
                package = await tx.offered_package(slug)
            return None if package is None else render(package)

        # "No such package" is cached too: probing unknown slugs does not reach the database twice.
        answer: R | None = await self._through_cache(tenant_id, ("slug", slug), load)
        if answer is None:
            raise NotFound("package")
        return answer

    async def _through_cache(self, tenant_id: str, key: Hashable, load: Callable[[], Awaitable[Any]]) -> R:
        if self._live():
            hit = self._cache.get(tenant_id, key)
            if hit is not None:
                CACHE_READS.inc()
                return cast(R, hit.value)
        ticket = self._cache.ticket()
        value = await load()
        DATABASE_READS.inc()
        if self._live():
            self._cache.put(tenant_id, key, value, ticket)
        return cast(R, value)
