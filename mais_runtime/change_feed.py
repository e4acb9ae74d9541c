"""Change feeds: which tenants' data just changed, from PostgreSQL to every subscriber of a service.

Server side. Every write transaction of a service notifies its channel with the tenant id (booking's
and tenant's tables by triggers, catalog's store by hand); PostgreSQL delivers the notification at
commit to every connection LISTENing. Each replica holds one such connection (`PgListener`, with a
ping inside a lease, so that a connection that dies silently is noticed) and fans every notification
out to the streams of its `WatchChanges` RPC (`ChangeFanout`): one bounded queue per subscriber, a
bounded number of subscribers. A subscriber whose queue is full, or whose write does not complete in
time, is cut off (RESOURCE_EXHAUSTED), never waited for; when the LISTEN connection is lost every
stream ends (UNAVAILABLE), since a change may be missed until it is back, and a stream is refused
while it is down. Every stream starts with READY and hears a HEARTBEAT about every second.

Client side. `ChangeSubscription` keeps one such stream open with reconnect and a growing (bounded)
backoff, and says whether it is `healthy`: READY was received and a message arrived within the lease.
It reports READY (`on_ready`: whatever was learnt before may be stale), each change and each loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import grpc
from mais.common.v1 import types_pb2

from mais_runtime.background import wait_or_stop

log = logging.getLogger("mais.change_feed")

READY = types_pb2.CHANGE_EVENT_KIND_READY
CHANGED = types_pb2.CHANGE_EVENT_KIND_CHANGED
HEARTBEAT = types_pb2.CHANGE_EVENT_KIND_HEARTBEAT

QUEUE_SIZE = 1024
MAX_SUBSCRIBERS = 64
HEARTBEAT_SECONDS = 1.0
# A write to a subscriber that has not completed in this long means it stopped reading.
WRITE_TIMEOUT_SECONDS = 2.0
# The subscriber's lease: a stream silent for longer than this (three heartbeats) is treated as lost.
LEASE_SECONDS = 3.0

Event = tuple[int, str]


@dataclass(eq=False)
class _Subscriber:
    queue: asyncio.Queue[Event]
    cut: asyncio.Event = field(default_factory=asyncio.Event)
    reason: tuple[grpc.StatusCode, str] | None = None

    def end(self, code: grpc.StatusCode, reason: str) -> None:
        if self.reason is None:
            self.reason = (code, reason)
        self.cut.set()


class ChangeFanout:
    """The subscribers of one replica's feed; `publish` never blocks. Not thread-safe (one loop)."""

    def __init__(
        self,
        live: Callable[[], bool],
        *,
        queue_size: int = QUEUE_SIZE,
        max_subscribers: int = MAX_SUBSCRIBERS,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        write_timeout_seconds: float = WRITE_TIMEOUT_SECONDS,
    ) -> None:
        self._live = live
        self._queue_size = queue_size
        self._max = max_subscribers
        self._heartbeat = heartbeat_seconds
        self._write_timeout = write_timeout_seconds
        self._subscribers: set[_Subscriber] = set()
        self.cut_off = 0  # subscribers cut off for not keeping up, since start

    def __len__(self) -> int:
        return len(self._subscribers)

    def publish(self, tenant_id: str) -> None:
        """Queues the change for every subscriber; one whose queue is full is cut off."""
        for subscriber in list(self._subscribers):
            try:
                subscriber.queue.put_nowait((CHANGED, tenant_id))
            except asyncio.QueueFull:
                self._cut_slow(subscriber)

    def lost(self) -> None:
        """The source stopped hearing the database: every stream ends, its subscriber reconnects."""
        for subscriber in list(self._subscribers):
            subscriber.end(grpc.StatusCode.UNAVAILABLE, "the change feed lost its database connection")

    async def serve(self, context: grpc.aio.ServicerContext, to_message: Callable[[Event], Any]) -> None:
        """The body of a WatchChanges handler: writes READY, then changes and heartbeats, until the
        client leaves, falls behind, or the source is lost."""
        if not self._live():
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the change feed is not listening")
        if len(self._subscribers) >= self._max:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "too many change feed subscribers")
        subscriber = _Subscriber(asyncio.Queue(self._queue_size))
        self._subscribers.add(subscriber)
        try:
            await self._write(context, subscriber, to_message((READY, "")))
            async for event in self._events(subscriber):
                await self._write(context, subscriber, to_message(event))
        finally:
            self._subscribers.discard(subscriber)
        if subscriber.reason is not None:
            await context.abort(*subscriber.reason)

    async def _events(self, subscriber: _Subscriber) -> AsyncIterator[Event]:
        while not subscriber.cut.is_set():
            if not self._live():
                subscriber.end(grpc.StatusCode.UNAVAILABLE, "the change feed is not listening")
                return
            try:
                yield subscriber.queue.get_nowait()
                continue
            except asyncio.QueueEmpty:
                pass
            getter = asyncio.ensure_future(subscriber.queue.get())
            cut = asyncio.ensure_future(subscriber.cut.wait())
            try:
                await asyncio.wait(
                    {getter, cut}, timeout=self._heartbeat, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                cut.cancel()
                if not getter.done():
                    getter.cancel()
            if subscriber.cut.is_set():
                return
            if getter.done() and not getter.cancelled():
                yield getter.result()
            else:
                yield (HEARTBEAT, "")

    async def _write(self, context: grpc.aio.ServicerContext, subscriber: _Subscriber, message: Any) -> None:
        if subscriber.cut.is_set():
            return
        try:
            await asyncio.wait_for(context.write(message), timeout=self._write_timeout)
        except TimeoutError:
            self._cut_slow(subscriber)

    def _cut_slow(self, subscriber: _Subscriber) -> None:
        if not subscriber.cut.is_set():
            self.cut_off += 1
            log.warning("a change feed subscriber did not keep up; cut off")
        subscriber.end(grpc.StatusCode.RESOURCE_EXHAUSTED, "the subscriber did not keep up with the changes")
        # Its backlog is of no use to anyone now.
        while not subscriber.queue.empty():
            subscriber.queue.get_nowait()


class PgListener:
    """One LISTEN connection on `channel`, kept open with reconnect and a growing (bounded) delay.

    `live()` is True while listening and the last ping over the connection was answered within the
    lease. Each notification's payload must be a tenant id: it is passed to `on_change`; anything
    else makes the listener report a loss (`on_lost`), since its meaning is unknown. `on_listening`, if
    given, is called each time LISTEN has started (a cache drops what it kept while it could not hear)."""

    def __init__(
        self,
        dsn: str,
        channel: str,
        *,
        on_change: Callable[[str], None],
        on_lost: Callable[[], None],
        application_name: str,
        on_listening: Callable[[], None] | None = None,
        ping_seconds: float = 0.25,
        lease_seconds: float = 0.75,
        connect_timeout_seconds: float = 5.0,
        reconnect_max_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._dsn = dsn
        self._channel = channel
        self._on_change = on_change
        self._on_lost = on_lost
        self._on_listening = on_listening
        self._application_name = application_name
        self._ping = ping_seconds
        self._lease = lease_seconds
        self._connect_timeout = connect_timeout_seconds
        self._reconnect_max = reconnect_max_seconds
        self._clock = clock
        self._live_until = 0.0

    def live(self) -> bool:
        return self._live_until > self._clock()

    async def run(self, stop: asyncio.Event) -> None:
        """Listens until `stop` (a background job of the service)."""
        delay = 0.1
        while not stop.is_set():
            try:
                await self._listen(stop)
                delay = 0.1
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("change feed %s lost (%s); reconnecting", self._channel, type(error).__name__)
            self._down()
            await wait_or_stop(stop, delay)
            delay = min(delay * 2, self._reconnect_max)

    async def _listen(self, stop: asyncio.Event) -> None:
        conn = await asyncpg.connect(
            self._dsn,
            timeout=self._connect_timeout,
            server_settings={"application_name": self._application_name},
        )
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        try:
            await conn.add_listener(self._channel, self._notified)
            log.info("listening for changes on %s", self._channel)
            if self._on_listening is not None:
                # From here on every commit is heard; what was kept from before may be stale.
                self._on_listening()
            while not stop.is_set() and not lost.is_set():
                sent = self._clock()
                await asyncio.wait_for(conn.fetchval("SELECT 1"), timeout=self._lease)
                self._live_until = sent + self._lease
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_first(stop, lost), timeout=self._ping)
        finally:
            self._down()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), timeout=1.0)
            if not conn.is_closed():
                conn.terminate()

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            tenant_id = str(uuid.UUID(payload))
        except ValueError:
            log.warning("unexpected payload on %s; subscribers start afresh", self._channel)
            self._on_lost()
            return
        self._on_change(tenant_id)

    def _down(self) -> None:
        if self._live_until:
            self._live_until = 0.0
        self._on_lost()


class ChangeHub:
    """A replica's feed: its LISTEN connection and the fan-out to its WatchChanges streams."""

    def __init__(
        self, dsn: str, channel: str, *, application_name: str, connect_timeout_seconds: float = 5.0
    ) -> None:
        self.listener = PgListener(
            dsn,
            channel,
            on_change=self._changed,
            on_lost=self._lost,
            application_name=application_name,
            connect_timeout_seconds=connect_timeout_seconds,
        )
        self.fanout = ChangeFanout(self.listener.live)
        self._local: list[Callable[[str | None], None]] = []

    def on_change(self, callback: Callable[[str | None], None]) -> None:
        """Also calls `callback(tenant_id)` in this process per change, and `callback(None)` on a loss."""
        self._local.append(callback)

    async def run(self, stop: asyncio.Event) -> None:
        await self.listener.run(stop)

    def _changed(self, tenant_id: str) -> None:
        for callback in self._local:
            callback(tenant_id)
        self.fanout.publish(tenant_id)

    def _lost(self) -> None:
        for callback in self._local:
            callback(None)
        self.fanout.lost()


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


# --- client side ---------------------------------------------------------------------------------


class ChangeSubscription:
    """Keeps one WatchChanges stream open (see the module docstring); `run` is a background job.

    `open_stream()` starts the call (for example `stub.WatchChanges(request)` on a stub over a channel
    of mais_runtime.channels.Channels, which adds the internal credential and the trace context)."""

    def __init__(
        self,
        name: str,
        open_stream: Callable[[], Any],
        *,
        on_ready: Callable[[], None],
        on_change: Callable[[str], None],
        on_lost: Callable[[], None],
        lease_seconds: float = LEASE_SECONDS,
        reconnect_min_seconds: float = 0.1,
        reconnect_max_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._open = open_stream
        self._on_ready = on_ready
        self._on_change = on_change
        self._on_lost = on_lost
        self._lease = lease_seconds
        self._min = reconnect_min_seconds
        self._max = reconnect_max_seconds
        self._clock = clock
        self._ready = False
        self._heard = -1e18
        self.connects = 0

    def healthy(self) -> bool:
        """READY received and a message within the lease."""
        return self._ready and self._clock() - self._heard < self._lease

    async def run(self, stop: asyncio.Event) -> None:
        delay = self._min
        while not stop.is_set():
            try:
                if await self._follow(stop):
                    delay = self._min
            except grpc.aio.AioRpcError as error:
                log.info("change feed %s ended: %s", self.name, error.code().name)
            except TimeoutError:
                log.warning("change feed %s silent for %.1fs; reconnecting", self.name, self._lease)
            except Exception:
                # Never given up on: the caches fall back to their short TTL meanwhile.
                log.exception("change feed %s failed; reconnecting", self.name)
            self._lose()
            await wait_or_stop(stop, delay)
            delay = min(delay * 2, self._max)

    async def _follow(self, stop: asyncio.Event) -> bool:
        """Reads one stream until it ends; True when it had become ready."""
        call = self._open()
        self.connects += 1
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while True:
                reading = asyncio.ensure_future(call.read())
                done, _ = await asyncio.wait(
                    {reading, stopping}, timeout=self._lease, return_when=asyncio.FIRST_COMPLETED
                )
                if reading not in done:
                    reading.cancel()
                    if stopping in done:
                        return self._ready
                    raise TimeoutError
                message = reading.result()
                if message is grpc.aio.EOF:  # type: ignore[attr-defined]
                    return self._ready
                self._heard = self._clock()
                if message.kind == READY:
                    self._ready = True
                    self._on_ready()
                elif message.kind == CHANGED and self._ready:
                    self._on_change(message.tenant_id)
        finally:
            stopping.cancel()
            call.cancel()

    def _lose(self) -> None:
        was = self._ready
        self._ready = False
        if was:
            self._on_lost()


async def wait_healthy(subscriptions: list[ChangeSubscription], timeout: float) -> bool:
    """Waits (bounded) until every subscription is healthy; for tests and start-up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(s.healthy() for s in subscriptions):
            return True
        await asyncio.sleep(0.02)
    return False


async def serve_changes(
    fanout: ChangeFanout | None, context: grpc.aio.ServicerContext, response: Any
) -> None:
    """A servicer's WatchChanges: `response` is the service's WatchChangesResponse message class."""
    if fanout is None:
        await context.abort(grpc.StatusCode.UNAVAILABLE, "this process has no change feed")
        return
    await fanout.serve(context, lambda event: response(kind=event[0], tenant_id=event[1]))
