"""A request's calls are bounded by what Envoy says it waits (`x-envoy-expected-rq-timeout-ms`), counted
from the request's arrival at the gateway: a request that queued answers the gateway's own 503 before
Envoy gives up with its 504 (gateway/middleware.py)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.middleware import ObservabilityMiddleware
from mais_runtime.interceptors import OutgoingCalls, current_deadline

CHECKOUT = 14.0


async def _timeout_seen(headers: list[tuple[bytes, bytes]]) -> float:
    seen: list[float] = []
    calls = OutgoingCalls(internal_token="t", default_timeout=5.0)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(calls.timeout(CHECKOUT))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        return None

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/checkout",
        "headers": headers,
        "query_string": b"",
    }
    await ObservabilityMiddleware(app, max_body_bytes=1024)(scope, receive, send)
    assert current_deadline.get() is None, "the deadline outlived its request"
    return seen[0]


async def test_envoys_expected_timeout_less_a_margin_bounds_every_call() -> None:
    assert await _timeout_seen([(b"x-envoy-expected-rq-timeout-ms", b"2000")]) == pytest.approx(
        1.75, abs=0.05
    )
    # The route's 15 s leaves the checkout's own 14 s as it was.
    assert await _timeout_seen([(b"x-envoy-expected-rq-timeout-ms", b"15000")]) == CHECKOUT
    # A very short wait keeps half of itself rather than nothing.
    assert await _timeout_seen([(b"x-envoy-expected-rq-timeout-ms", b"200")]) == pytest.approx(0.1, abs=0.03)


@pytest.mark.parametrize("value", [b"", b"soon", b"-5", b"0"])
async def test_without_a_usable_expected_timeout_the_call_keeps_its_own(value: bytes) -> None:
    assert await _timeout_seen([(b"x-envoy-expected-rq-timeout-ms", value)]) == CHECKOUT
    assert await _timeout_seen([]) == CHECKOUT
