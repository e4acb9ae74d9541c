"""A per-gateway micro-cache of public read answers (packages, and the widget's calendar).

Every entry is keyed by (tenant id, path and query), so an answer rendered for one tenant can only
ever be served again to a request already resolved to that same tenant (the public key is checked
first, on every request, exactly as without the cache). Entries live at most `ttl` seconds (0.5 s)
and are never invalidated, so an answer may miss a price change, hold, booking or blackout of the
last half second: inside the catalog's 1 s freshness promise; the single-date check and the hold at
checkout always ask the booking service, which alone decides (see
docs/adr/0009-gateway-micro-cache-of-public-reads.md). Only successful answers are kept, as the exact
bytes sent; a miss that others are already loading waits for that load instead of asking the service
again, and an answer still in use near its end is reloaded in the background while it keeps being
served.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

# Short enough that a couple browsing the calendar sees a date taken within about a second.
TTL_SECONDS = 0.5
# An answer still asked for this close to its end is reloaded in the background while it is served:
# its data is then at most TTL_SECONDS old when served, and no request waits for the reload.
REFRESH_AHEAD_SECONDS = 0.2
# Rendered answers are kept whole; the bound is on their bytes, not their count.
MAX_BYTES = 32 * 2**20
STATE_ATTRIBUTE = "public_read_cache"
# The edge (Envoy, deploy/edge_cache.lua) may keep an answer that carries this header for that many
# milliseconds: at most EDGE_TTL_MS, and never past this cache's own entry, so that the edge adds no age
# to what the gateway would serve (docs/adr/0026-public-reads-answered-at-the-edge.md).
EDGE_TTL_HEADER = "x-mais-edge-ttl-ms"
EDGE_TTL_MS = 500

Key = tuple[str, str]


class PublicReadCache:
    """See the module docstring. Not thread-safe: one per event loop (one per gateway process)."""

    def __init__(
        self,
        *,
        ttl_seconds: float = TTL_SECONDS,
        max_bytes: int = MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
        refresh_ahead_seconds: float = REFRESH_AHEAD_SECONDS,
    ) -> None:
        self._ttl = ttl_seconds
        self._max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[Key, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0
        self._loading: dict[Key, asyncio.Future[bytes]] = {}
        self._refresh_ahead = refresh_ahead_seconds
        # Background reloads, referenced until done.
        self._refreshing: set[asyncio.Task[None]] = set()

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

    def remaining_ms(self, tenant_id: str, target: str) -> int:
        """How many more milliseconds this tenant's answer for `target` stays live here (0 if none)."""
        entry = self._entries.get((tenant_id, target))
        return 0 if entry is None else max(0, int((entry[0] - self._clock()) * 1000))

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
        """The cached answer, or `load()`'s (shared with every request that misses meanwhile). An
        answer in the last `refresh_ahead` seconds of its life is still served while one background
        `load()` replaces it, so a busy answer is reloaded without any request waiting for it."""
        body = self.get(tenant_id, target)
        key = (tenant_id, target)
        if body is not None:
            if key not in self._loading and self._expires_within(key, self._refresh_ahead):
                self._refresh(key, load)
            return body
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
        return await self._load(key, self._start(key), load)

    def _start(self, key: Key) -> asyncio.Future[bytes]:
        """Registers the one load of `key` that others may wait for (at once, before any await, so a
        second request can never start a second load)."""
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        return future

    async def _load(
        self, key: Key, future: asyncio.Future[bytes], load: Callable[[], Awaitable[bytes]]
    ) -> bytes:
        """Runs `load()` for the registered `future` of `key`, settles it and keeps the answer."""
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
            if self._loading.get(key) is future:
                del self._loading[key]
        future.set_result(body)
        self.put(key[0], key[1], body)
        return body

    def _refresh(self, key: Key, load: Callable[[], Awaitable[bytes]]) -> None:
        future = self._start(key)

        async def refresh() -> None:
            # A failed refresh keeps nothing: the entry runs out and the next request loads itself.
            with contextlib.suppress(Exception):
                await self._load(key, future, load)

        def done(task: asyncio.Task[None]) -> None:
            self._refreshing.discard(task)
            if not future.done():  # cancelled before it ran (shutdown): release any waiter
                future.cancel()
                if self._loading.get(key) is future:
                    del self._loading[key]

        task = asyncio.get_running_loop().create_task(refresh())
        self._refreshing.add(task)
        task.add_done_callback(done)

    def _expires_within(self, key: Key, seconds: float) -> bool:
        entry = self._entries.get(key)
        return entry is not None and entry[0] - self._clock() < seconds

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
    cache = _cache_of(request)
    body = await cache.answer(tenant_id, target, render)
    edge_ms = min(EDGE_TTL_MS, cache.remaining_ms(tenant_id, target))
    headers = {EDGE_TTL_HEADER: str(edge_ms)} if edge_ms > 0 else None
    return Response(body, media_type="application/json", headers=headers)
