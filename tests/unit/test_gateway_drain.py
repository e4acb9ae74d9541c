"""A gateway on SIGTERM: its answers tell Envoy to go elsewhere before it stops (gateway/drain.py). The
whole path (Envoy, two gateways, one of them sent SIGTERM under load) is tests/e2e/test_replicas.py."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import uvicorn

from gateway.drain import Drain, DrainingServer, DrainMiddleware


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"connection", b"keep-alive")]})
    await send({"type": "http.response.body", "body": b"ok"})


async def _call(app: Any, path: str) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "path": path, "method": "GET", "headers": []}, receive, send)
    return sent


async def test_answers_pass_untouched_until_the_drain_starts_then_carry_envoys_markers() -> None:
    drain = Drain()
    app = DrainMiddleware(_app, drain=drain)
    before = await _call(app, "/v1/packages")
    assert before[0]["headers"] == [(b"connection", b"keep-alive")]
    assert (await _call(app, "/health"))[0]["status"] == 200

    drain.start()
    during = await _call(app, "/v1/packages")
    assert during[0]["status"] == 200
    assert during[1]["body"] == b"ok"
    headers = during[0]["headers"]
    assert (b"x-envoy-immediate-health-check-fail", b"true") in headers
    # One connection header, and it closes: the connection is not used again.
    assert [v for k, v in headers if k == b"connection"] == [b"close"]

    health = await _call(app, "/health")
    assert health[0]["status"] == 503
    assert (b"x-envoy-immediate-health-check-fail", b"true") in health[0]["headers"]
    assert health[1]["body"] == b'{"status":"draining"}'


async def test_the_first_sigterm_drains_and_the_server_stops_after_the_drain_a_second_stops_at_once() -> None:
    drain = Drain()
    server = DrainingServer(uvicorn.Config(_app), drain, drain_seconds=0.2)
    server.handle_exit(signal.SIGTERM, None)
    assert drain.draining
    assert not server.should_exit
    assert not await server.on_tick(1)
    await asyncio.sleep(0.25)
    assert await server.on_tick(2)

    again = DrainingServer(uvicorn.Config(_app), Drain(), drain_seconds=5.0)
    again.handle_exit(signal.SIGTERM, None)
    again.handle_exit(signal.SIGTERM, None)
    assert again.should_exit


async def test_no_drain_configured_stops_on_the_first_signal() -> None:
    server = DrainingServer(uvicorn.Config(_app), Drain(), drain_seconds=0.0)
    server.handle_exit(signal.SIGTERM, None)
    assert server.should_exit
