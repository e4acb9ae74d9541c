"""Webhook delivery: signed POSTs to the configured endpoint, with Stripe-like retries and test controls.

Each new event is delivered in its own task, so one slow or failing event never delays another (Stripe makes
no ordering promise either). A non-2xx answer or a connection error is retried on a compressed version of
Stripe's schedule: ``min(cap, base * 2**(n-1)) * scale`` seconds after attempt ``n`` (1 s, 2 s, 4 s, 8 s... by
default), up to ``max_attempts`` attempts. Every request has a timeout. Each attempt is signed afresh with the
current time, as Stripe does, and recorded in a bounded log that ``GET /_sandbox/deliveries`` exposes.

Test controls can hold automatic deliveries (events queue up unsent), re-deliver one event N times (one
attempt each, sequentially or all at once, optionally after a delay) and change the endpoint at runtime.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import itertools
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import httpx

from stripe_sandbox.errors import StripeError, missing_resource
from stripe_sandbox.signing import signature_header
from stripe_sandbox.state import SandboxState

logger = logging.getLogger("stripe_sandbox.delivery")

_LOG_SIZE = 5000
_RESPONSE_EXCERPT = 500
# Deliveries come in bursts (every checkout's event at once under load): enough kept-alive connections
# to the endpoint that a burst reuses them instead of opening and closing one per delivery.
_CONNECTIONS = 64

# httpcore runs `import sniffio` whenever it makes a lock, several times per request. Without sniffio
# installed, each failed import searches every sys.path entry again (about 0.4 ms); None in
# sys.modules makes it fail at once, and httpcore then assumes asyncio, which is what runs here.
if importlib.util.find_spec("sniffio") is None:
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]


@dataclass
class DeliverySettings:
    """Where and how events are delivered; ``url=None`` means no endpoint (events are only stored)."""

    url: str | None
    secret: str
    timeout_seconds: float = 10.0
    max_attempts: int = 8
    retry_base_seconds: float = 1.0
    retry_cap_seconds: float = 60.0
    retry_scale: float = 1.0


def retry_delay(attempt: int, settings: DeliverySettings) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based) before the next one."""
    base: float = min(settings.retry_cap_seconds, settings.retry_base_seconds * 2.0 ** (attempt - 1))
    return base * settings.retry_scale


class Deliverer:
    """Sends the sandbox's events to the webhook endpoint; lives on the server's event loop."""

    def __init__(self, state: SandboxState, settings: DeliverySettings) -> None:
        self._state = state
        self._settings = settings
        # Guards settings, the hold queue and the log: ``submit`` may be called from any thread.
        self._lock = threading.Lock()
        self._holding = False
        self._held: list[str] = []
        self._log: deque[dict[str, Any]] = deque(maxlen=_LOG_SIZE)
        self._attempt_ids = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None
        state.events.endpoint_count = self.endpoint_count
        state.events.add_listener(self.submit)

    # --------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Bind to the running loop and open the HTTP client."""
        self._loop = asyncio.get_running_loop()
        # trust_env=False: the endpoint is local; a proxy from the environment must not intercept it.
        self._client = httpx.AsyncClient(
            trust_env=False,
            follow_redirects=False,
            limits=httpx.Limits(
                max_connections=100, max_keepalive_connections=_CONNECTIONS, keepalive_expiry=30.0
            ),
        )
        # A delivery pending when the process stopped (crash or restart) is sent again, as Stripe retries.
        pending = self._state.events.pending_deliveries()
        if pending:
            logger.info("resuming %d pending webhook deliveries", len(pending))
        for event_id in pending:
            self.submit(event_id, source="resumed")

    async def stop(self) -> None:
        """Cancel pending deliveries and retries, then close the client."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
        self._loop = None

    # ---------------------------------------------------------------- settings

    def endpoint_count(self) -> int:
        """1 when an endpoint is configured, else 0 (feeds each event's ``pending_webhooks``)."""
        with self._lock:
            return 0 if self._settings.url is None else 1

    def set_endpoint(self, url: str | None, secret: str | None = None) -> dict[str, Any]:
        """Point deliveries (retries already scheduled included) at another URL, maybe with a new secret."""
        with self._lock:
            self._settings.url = url
            if secret is not None:
                self._settings.secret = secret
            return self.describe_locked()

    def describe(self) -> dict[str, Any]:
        """The current delivery settings, secret excluded."""
        with self._lock:
            return self.describe_locked()

    def describe_locked(self) -> dict[str, Any]:
        """Same as :meth:`describe`, for callers already holding the lock."""
        s = self._settings
        return {
            "webhook_url": s.url,
            "holding": self._holding,
            "held": list(self._held),
            "max_attempts": s.max_attempts,
            "retry_scale": s.retry_scale,
            "timeout_seconds": s.timeout_seconds,
        }

    # ------------------------------------------------------------ automatic path

    def submit(self, event_id: str, source: str = "auto") -> None:
        """Deliver a new event (with retries), or queue it while deliveries are held. Safe from any thread."""
        with self._lock:
            if self._settings.url is None:
                return
            if self._holding:
                self._held.append(event_id)
                return
        self._schedule(functools.partial(self._deliver_with_retries, event_id, source))

    def _schedule(self, factory: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            logger.warning("delivery requested while the deliverer is not running; dropped")
            return

        def spawn() -> None:
            # The coroutine is created on the loop's thread so it is never left un-awaited elsewhere.
            task = loop.create_task(factory())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        loop.call_soon_threadsafe(spawn)

    async def _deliver_with_retries(self, event_id: str, source: str) -> None:
        attempts = max(1, self._settings.max_attempts)
        for attempt in range(1, attempts + 1):
            record = await self._attempt(event_id, source, attempt)
            if record is None or record["ok"]:
                return
            if attempt < attempts:
                await asyncio.sleep(retry_delay(attempt, self._settings))
        logger.warning("event %s not delivered after %d attempts; giving up", event_id, attempts)
        self._state.events.mark_failed(event_id)

    async def _attempt(self, event_id: str, source: str, attempt: int) -> dict[str, Any] | None:
        """One signed POST of the event; returns the log record, or ``None`` when there is no endpoint."""
        with self._lock:
            url = self._settings.url
            secret = self._settings.secret
            timeout = self._settings.timeout_seconds
        summary = self._state.events.summary(event_id)
        if url is None or summary is None or self._client is None:
            return None
        payload = self._state.events.payload(event_id)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Accept": "*/*; q=0.5, application/xml",
            "Cache-Control": "no-cache",
            "Stripe-Signature": signature_header(payload, secret),
        }
        started = time.time()
        status: int | None = None
        error: str | None = None
        excerpt: str | None = None
        try:
            response = await self._client.post(url, content=payload, headers=headers, timeout=timeout)
            status = response.status_code
            excerpt = response.text[:_RESPONSE_EXCERPT]
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        ok = status is not None and 200 <= status < 300
        record = {
            "id": f"da_{next(self._attempt_ids)}",
            "event_id": event_id,
            "event_type": summary[0],
            "url": url,
            "source": source,
            "attempt": attempt,
            "status_code": status,
            "ok": ok,
            "error": error,
            "response_body": excerpt,
            "started_at": started,
            "duration_ms": round((time.time() - started) * 1000, 1),
        }
        with self._lock:
            self._log.append(record)
        if ok:
            self._state.events.mark_delivered(event_id)
        logger.info(
            "webhook %s %s attempt %d (%s) -> %s",
            summary[0],
            event_id,
            attempt,
            source,
            status if ok else status or error,
        )
        return record

    # ------------------------------------------------------------ test controls

    async def deliver_now(
        self, event_id: str, *, times: int, concurrent: bool, delay_ms: int, wait: bool
    ) -> list[dict[str, Any]] | None:
        """Deliver one event ``times`` more times, one attempt each (no retries), for duplicate/race tests.

        With ``concurrent`` all copies are sent at once; ``delay_ms`` postpones the start (a late delivery).
        With ``wait`` the attempt records are returned; without it the deliveries run in the background and
        ``None`` is returned at once.
        """
        if self._state.events.summary(event_id) is None:
            raise missing_resource("event", event_id)
        with self._lock:
            if self._settings.url is None:
                raise StripeError(
                    "No webhook endpoint is configured; set one with POST /_sandbox/webhook.", status=409
                )

        async def run() -> list[dict[str, Any]]:
            if delay_ms > 0:
                await asyncio.sleep(delay_ms / 1000)
            if concurrent:
                results = await asyncio.gather(
                    *(self._attempt(event_id, "manual", n) for n in range(1, times + 1))
                )
            else:
                results = [await self._attempt(event_id, "manual", n) for n in range(1, times + 1)]
            return [r for r in results if r is not None]

        if wait:
            return await run()
        self._schedule(run)
        return None

    def hold(self) -> dict[str, Any]:
        """Queue new events instead of sending them, until :meth:`release`."""
        with self._lock:
            self._holding = True
            return self.describe_locked()

    def release(self, *, deliver: bool = True) -> list[str]:
        """Stop holding; send (with retries) every held event not yet acknowledged, or drop them all.

        Events already delivered successfully through the deliver control while held are not sent again.
        """
        with self._lock:
            self._holding = False
            held, self._held = self._held, []
        if not deliver:
            return []
        released: list[str] = []
        for event_id in held:
            summary = self._state.events.summary(event_id)
            if summary is None or summary[1] == 0:
                continue
            released.append(event_id)
            self._schedule(functools.partial(self._deliver_with_retries, event_id, "release"))
        return released

    def deliveries(self, *, event_id: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Logged attempts, oldest first, optionally for one event; at most the last ``limit``."""
        with self._lock:
            records = [dict(r) for r in self._log if event_id is None or r["event_id"] == event_id]
        return records[-limit:] if limit > 0 else []
