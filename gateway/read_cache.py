"""A per-gateway micro-cache of public read answers (the widget's calendar of unavailable dates).

Every entry is keyed by (tenant id, path and query), so an answer rendered for one tenant can only
ever be served again to a request already resolved to that same tenant (the public key is checked
first, on every request, exactly as without the cache). Entries live at most `ttl` seconds (0.5 s)
and are never invalidated, so an answer may miss a hold, booking or blackout of the last half second;
the single-date check and the hold at checkout always ask the booking service, which alone decides
(see docs/adr/0009-gateway-micro-cache-of-the-public-calendar.md). Only successful answers are kept,
as the exact bytes sent; a miss that others are already loading waits for that load instead of
asking the service again.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

# Short enough that a couple browsing the calendar sees a date taken within about a second.
TTL_SECONDS = 0.5
# Rendered answers are kept whole; the bound is on their bytes, not their count.
MAX_BYTES = 32 * 2**20
STATE_ATTRIBUTE = "public_read_cache"

Key = tuple[str, str]


class PublicReadCache:
    """See the module docstring. Not thread-safe: one per event loop (one per gateway process)."""

    def __init__(
        self,
        *,
        ttl_seconds: float = TTL_SECONDS,
        max_bytes: int = MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[Key, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0
        self._loading: dict[Key, asyncio.Future[bytes]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, tenant_id: str, target: str) -> bytes | None:
        """The live answer of this tenant for `target` (path and query), if any."""
        key = (tenant_id, target)
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, body = entry
        if expires <= self._clock():
            self._drop(key)
            return None
        return body

    def put(self, tenant_id: str, target: str, body: bytes) -> None:
        """Keeps `body` for `ttl` seconds; the oldest entries leave when over the byte bound."""
        key = (tenant_id, target)
        self._drop(key)
        if len(body) > self._max_bytes:
            return
        self._entries[key] = (self._clock() + self._ttl, body)
        self._bytes += len(body)
        while self._bytes > self._max_bytes:
            _, (_, old) = self._entries.popitem(last=False)
            self._bytes -= len(old)

    async def answer(self, tenant_id: str, target: str, load: Callable[[], Awaitable[bytes]]) -> bytes:
        """The cached answer, or `load()`'s (shared with every request that misses meanwhile)."""
        body = self.get(tenant_id, target)
        if body is not None:
            return body
        key = (tenant_id, target)
        pending = self._loading.get(key)
        if pending is not None:
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not pending.cancelled() or (task is not None and task.cancelling()):
                    raise
                # The request that was loading went away (its client hung up): load ourselves.
                return await load()
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            body = await load()
        except Exception as error:
            future.set_exception(error)
            future.exception()  # retrieved: nobody may be waiting, and that is fine
            raise
        except BaseException:
            future.cancel()
            raise
        finally:
            del self._loading[key]
        future.set_result(body)
        self.put(tenant_id, target, body)
        return body

    def _drop(self, key: Key) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry[1])


def _cache_of(request: Request) -> PublicReadCache:
    state = request.app.state
    cache = getattr(state, STATE_ATTRIBUTE, None)
    if cache is None:
        cache = PublicReadCache()
        setattr(state, STATE_ATTRIBUTE, cache)
    return cache


async def cached_public_read(
    request: Request, tenant_id: str, render: Callable[[], Awaitable[bytes]]
) -> Response:
    """The JSON answer of a public read for `tenant_id`, from the micro-cache when fresh. `render` asks
    the service and returns the answer's bytes; call this only after the tenant was resolved."""
    query = request.scope.get("query_string", b"").decode("latin-1")
    target = f"{request.url.path}?{query}"
    body = await _cache_of(request).answer(tenant_id, target, render)
    return Response(body, media_type="application/json")
