"""A per-gateway micro-cache of public read answers (packages, the tenant, the calendar, slots).

Every entry is keyed by (tenant id, path and query), so an answer rendered for one tenant can only
ever be served again to a request already resolved to that same tenant (the public key is checked
first, on every request, exactly as without the cache). Only successful answers are kept, as the
exact bytes sent; a miss that others are already loading waits for that load instead of asking the
service again, and an answer still in use near its end is reloaded in the background while it keeps
being served.

How long an answer lives depends on the change feeds (gateway/feeds.py, mais_runtime/change_feed.py):
- While every feed is healthy, an answer lives until its tenant's change arrives, capped at
  `fed_ttl` (a few seconds: what time alone changes, such as notice windows, lead times and a hold
  running out, is seen within the cap). On a change, an entry used since it was loaded is reloaded in
  the background and served meanwhile (for `ttl` at most); one unused since is dropped.
- While any feed is down (or a feed has just come back: what changed meanwhile is unknown), answers
  live `ttl` (0.5 s) as before the feeds, which is inside the catalog's 1 s freshness promise
  (docs/adr/0009-gateway-micro-cache-of-public-reads.md).
- An answer whose load began before its tenant's last change (or within `settle` after it, while the
  services' own caches catch up), or before a feed came back, lives `ttl` only.
The single-date check and the hold at checkout always ask the booking service, which alone decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

# Short enough that a couple browsing the calendar sees a date taken within about a second.
TTL_SECONDS = 0.5
# While the change feeds are healthy: the cap for what time alone changes.
FED_TTL_SECONDS = 5.0
# An answer loaded this soon after its tenant's change is kept `TTL_SECONDS` only (another replica or a
# service's own cache may still answer from before the change).
SETTLE_SECONDS = 0.5
# An answer still asked for this close to its end is reloaded in the background while it is served:
# its data is then at most TTL_SECONDS old when served, and no request waits for the reload.
REFRESH_AHEAD_SECONDS = 0.2
# Rendered answers are kept whole; the bound is on their bytes, not their count.
MAX_BYTES = 32 * 2**20
# Tenants whose last change is remembered (for loads in flight); past it, every load in flight is short-lived.
MAX_MARKS = 10_000
STATE_ATTRIBUTE = "public_read_cache"
# The edge (Envoy, deploy/kubernetes/base/envoy/edge_cache.lua) may keep an answer that carries this
# header for that many milliseconds: at most EDGE_TTL_MS, and never past this cache's own entry, so that
# the edge adds no age to what the gateway would serve (docs/adr/0026-public-reads-answered-at-the-edge.md).
EDGE_TTL_HEADER = "x-mais-edge-ttl-ms"
EDGE_TTL_MS = 500

Key = tuple[str, str]
Load = Callable[[], Awaitable[bytes]]


@dataclass(slots=True)
class _Entry:
    loaded_at: float
    expires: float
    body: bytes
    # Loaded under healthy feeds with no change since: may live `fed_ttl` while the feeds stay healthy.
    fed: bool
    epoch: int
    load: Load | None
    used: bool = False


@dataclass(frozen=True, slots=True)
class _Ticket:
    epoch: int
    counter: int


class PublicReadCache:
    """See the module docstring. Not thread-safe: one per event loop (one per gateway process)."""

    def __init__(
        self,
        *,
        ttl_seconds: float = TTL_SECONDS,
        max_bytes: int = MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
        refresh_ahead_seconds: float = REFRESH_AHEAD_SECONDS,
        feeds_healthy: Callable[[], bool] = lambda: False,
        fed_ttl_seconds: float = FED_TTL_SECONDS,
        settle_seconds: float = SETTLE_SECONDS,
    ) -> None:
        self._ttl = ttl_seconds
        self._fed_ttl = max(fed_ttl_seconds, ttl_seconds)
        self._settle = settle_seconds
        self._max_bytes = max_bytes
        self._clock = clock
        self._healthy = feeds_healthy
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()
        self._by_tenant: dict[str, set[str]] = {}
        self._bytes = 0
        self._loading: dict[Key, asyncio.Future[bytes]] = {}
        self._refresh_ahead = refresh_ahead_seconds
        # Background reloads, referenced until done.
        self._refreshing: set[asyncio.Task[None]] = set()
        # Moves on every change and reset; a load's ticket is where it stood when the load began.
        self._counter = 0
        self._floor = 0
        self._epoch = 0
        self._marks: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self.reloads_on_change = 0

    def __len__(self) -> int:
        return len(self._entries)

    # --- the feeds' side ------------------------------------------------------------------------

    def changed(self, tenant_id: str) -> None:
        """The tenant's data changed: its used answers are reloaded in the background (served
        meanwhile for `ttl` at most), the others dropped; loads in flight keep theirs briefly only."""
        now = self._clock()
        self._counter += 1
        self._marks[tenant_id] = (self._counter, now)
        self._marks.move_to_end(tenant_id)
        if len(self._marks) > MAX_MARKS:
            self._marks.clear()
            self._floor = self._counter
        for target in list(self._by_tenant.get(tenant_id, ())):
            key = (tenant_id, target)
            entry = self._entries.get(key)
            if entry is None:
                continue
            if entry.used and entry.load is not None and now < self._expiry(entry, now):
                # Served as it is while the reload runs, for `ttl` at most if the reload fails.
                entry.fed = False
                entry.loaded_at = now
                entry.expires = now + self._ttl
                if key not in self._loading:
                    self.reloads_on_change += 1
                    self._refresh(key, entry.load)
            else:
                self._drop(key)

    def reset(self) -> None:
        """A feed was lost or has just come back: nothing kept so far may outlive `ttl`."""
        self._epoch += 1
        self._counter += 1
        self._floor = self._counter
        self._marks.clear()

    # --- the requests' side ---------------------------------------------------------------------

    def get(self, tenant_id: str, target: str) -> bytes | None:
        """The live answer of this tenant for `target` (path and query), if any."""
        key = (tenant_id, target)
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._expiry(entry, self._clock()) <= self._clock():
            self._drop(key)
            return None
        entry.used = True
        return entry.body

    def remaining_ms(self, tenant_id: str, target: str) -> int:
        """How many more milliseconds this tenant's answer for `target` stays live here (0 if none)."""
        entry = self._entries.get((tenant_id, target))
        if entry is None:
            return 0
        now = self._clock()
        return max(0, int((self._expiry(entry, now) - now) * 1000))

    def put(
        self, tenant_id: str, target: str, body: bytes, *, fed: bool = False, load: Load | None = None
    ) -> None:
        """Keeps `body` (for `fed_ttl` when `fed` and the feeds stay healthy, else `ttl`); the oldest
        entries leave when over the byte bound."""
        key = (tenant_id, target)
        self._drop(key)
        if len(body) > self._max_bytes:
            return
        now = self._clock()
        life = self._fed_ttl if fed else self._ttl
        self._entries[key] = _Entry(now, now + life, body, fed, self._epoch, load)
        self._by_tenant.setdefault(tenant_id, set()).add(target)
        self._bytes += len(body)
        while self._bytes > self._max_bytes:
            old_key = next(iter(self._entries))
            self._drop(old_key)

    async def answer(self, tenant_id: str, target: str, load: Load) -> bytes:
        """The cached answer, or `load()`'s (shared with every request that misses meanwhile). An
        answer in the last `refresh_ahead` seconds of its life is still served while one background
        `load()` replaces it, so a busy answer is reloaded without any request waiting for it."""
        body = self.get(tenant_id, target)
        key = (tenant_id, target)
        if body is not None:
            entry = self._entries[key]
            entry.load = load
            if (
                key not in self._loading
                and self._expiry(entry, self._clock()) - self._clock() < self._refresh_ahead
            ):
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

    def _expiry(self, entry: _Entry, now: float) -> float:
        if entry.fed and entry.epoch == self._epoch and self._healthy():
            return entry.expires
        return min(entry.expires, entry.loaded_at + self._ttl)

    def _ticket(self) -> _Ticket:
        return _Ticket(self._epoch, self._counter)

    def _may_be_fed(self, tenant_id: str, ticket: _Ticket) -> bool:
        if not self._healthy() or ticket.epoch != self._epoch or ticket.counter < self._floor:
            return False
        mark = self._marks.get(tenant_id)
        if mark is None:
            return True
        counter, at = mark
        return counter <= ticket.counter and self._clock() - at >= self._settle

    def _start(self, key: Key) -> asyncio.Future[bytes]:
        """Registers the one load of `key` that others may wait for (at once, before any await, so a
        second request can never start a second load)."""
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        return future

    async def _load(self, key: Key, future: asyncio.Future[bytes], load: Load) -> bytes:
        """Runs `load()` for the registered `future` of `key`, settles it and keeps the answer."""
        ticket = self._ticket()
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
        self.put(key[0], key[1], body, fed=self._may_be_fed(key[0], ticket), load=load)
        return body

    def _refresh(self, key: Key, load: Load) -> None:
        future = self._start(key)

        async def refresh() -> None:
            # A failed refresh keeps nothing new: the entry runs out and the next request loads itself.
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

    def _drop(self, key: Key) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry.body)
            targets = self._by_tenant.get(key[0])
            if targets is not None:
                targets.discard(key[1])
                if not targets:
                    del self._by_tenant[key[0]]


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
