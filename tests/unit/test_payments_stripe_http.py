"""The Stripe adapter's HTTP client: one keep-alive connection for a run of calls, and no import
attempted per call (httpcore asks for `sniffio` on every lock it sets up; where it is not installed,
each ask was a search of the whole import path)."""

from __future__ import annotations

import asyncio
import importlib.abc
import sys
from collections.abc import Sequence
from types import ModuleType

import orjson

from services.payments.stripe_adapter import LineItem, SessionSpec, StripeAdapter

_SESSION = orjson.dumps(
    {
        "id": "cs_test_1",
        "object": "checkout.session",
        "url": "http://127.0.0.1/pay/cs_test_1",
        "expires_at": 2,
    }
)


class _Lookups(importlib.abc.MetaPathFinder):
    """Counts how often the import system searches for a module that is not loaded."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(self, name: str, path: Sequence[str] | None, target: ModuleType | None = None) -> None:
        self.names.append(name)
        return None


async def _serve() -> tuple[asyncio.Server, int, list[int]]:
    """A loopback Stripe that answers every request with one Checkout Session; counts connections."""
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.lower().split(b"\r\n")
            length = next((int(h.split(b":")[1]) for h in lines if h.startswith(b"content-length")), 0)
            await reader.readexactly(length)
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(_SESSION)).encode()
                + b"\r\n\r\n"
                + _SESSION
            )
            await writer.drain()

    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handle(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()

    server = await asyncio.start_server(guarded, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], connections


def _spec(n: int) -> SessionSpec:
    return SessionSpec(
        line_items=(LineItem("Garden day", 10_000),),
        currency="usd",
        customer_email="ana@example.com",
        client_reference_id=f"b{n}",
        metadata={"booking_id": f"b{n}"},
        expires_at=2,
        success_url="https://x.test/ok",
        cancel_url="https://x.test/back",
        destination_account=None,
        application_fee_cents=None,
        idempotency_key=f"key-{n}",
    )


async def _calls(count: int) -> tuple[list[str], int]:
    server, port, connections = await _serve()
    adapter = StripeAdapter(
        secret_key="sk_test_unit", webhook_secret="whsec_unit", api_base=f"http://127.0.0.1:{port}"
    )
    lookups = _Lookups()
    try:
        await adapter.create_checkout_session(_spec(0))  # the first call imports what it needs
        sys.meta_path.insert(0, lookups)
        try:
            for n in range(1, count + 1):
                created = await adapter.create_checkout_session(_spec(n))
                assert created.id == "cs_test_1"
        finally:
            sys.meta_path.remove(lookups)
    finally:
        await adapter.close()
        server.close()
        await server.wait_closed()
    return lookups.names, len(connections)


def test_a_run_of_stripe_calls_reuses_one_connection_and_imports_nothing() -> None:
    searched, connections = asyncio.run(_calls(20))
    assert searched == [], f"modules searched for during Stripe calls: {sorted(set(searched))}"
    assert connections == 1
