"""A gateway on SIGTERM first tells Envoy to stop sending it requests, then stops (docs/adr/0032).

Uvicorn, told to stop, closes its idle keep-alive connections at once. Envoy may have just picked one of
them for a request: that request is reset, and a reset is not retried (a request that reached a gateway
may have done something). So the gateway drains first, as the services do:

- for `MAIS_SHUTDOWN_DRAIN_SECONDS` it keeps answering, and every answer carries
  `x-envoy-immediate-health-check-fail` (Envoy marks the gateway unhealthy on the first one and routes
  to the others) and `connection: close` (the connection it came on is not used again);
- `/health/serving`, Envoy's health check, answers 503 meanwhile, so Envoy takes it out even when no
  request came (`/health` stays 200: the process is alive);
- then uvicorn stops as before: no new connections, in-flight requests finish.

A second SIGTERM (or Ctrl-C) stops at once, as uvicorn does without the drain.
"""

from __future__ import annotations

import logging
import time
from types import FrameType

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

_DRAINING_HEADERS = [(b"x-envoy-immediate-health-check-fail", b"true"), (b"connection", b"close")]
_DRAINING_HEALTH = b'{"status":"draining"}'


class Drain:
    """Whether this gateway is draining (shared by the server and the middleware)."""

    def __init__(self) -> None:
        self.since: float | None = None

    @property
    def draining(self) -> bool:
        return self.since is not None

    def start(self) -> None:
        if self.since is None:
            self.since = time.monotonic()


class DrainMiddleware:
    """Outermost: costs one attribute read per request until the gateway drains."""

    def __init__(self, app: ASGIApp, *, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.drain.draining:
            await self.app(scope, receive, send)
            return
        if scope["path"] == "/health/serving":
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [(b"content-type", b"application/json"), *_DRAINING_HEADERS],
                }
            )
            await send({"type": "http.response.body", "body": _DRAINING_HEALTH})
            return

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                own = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
                message = {**message, "headers": [*own, *_DRAINING_HEADERS]}
            await send(message)

        await self.app(scope, receive, marked)


class DrainingServer(uvicorn.Server):
    """Uvicorn's server, with the drain above between the first SIGTERM and its usual shutdown."""

    def __init__(self, config: uvicorn.Config, drain: Drain, drain_seconds: float) -> None:
        super().__init__(config)
        self.drain = drain
        self.drain_seconds = drain_seconds
        self._announced = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.drain_seconds > 0 and not self.drain.draining:
            # Only a flag here (this runs in a signal handler): `on_tick` ends the drain.
            self.drain.start()
            return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        since = self.drain.since
        if since is not None and not self.should_exit:
            if not self._announced:
                self._announced = True
                log.info("draining: marking answers for %.1fs, then stopping", self.drain_seconds)
            if time.monotonic() - since >= self.drain_seconds:
                self.should_exit = True
        return await super().on_tick(counter)
