"""The gateway's one error table, against real gRPC peers: a domain error's message reaches the client;
a peer's own words (an INTERNAL or UNKNOWN status, the transport's text) never do, however many
services the error passed through."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import grpc
import httpx
import pytest
from mais.booking.v1 import booking_service_pb2 as pb
from mais.booking.v1 import booking_service_pb2_grpc as pb_grpc

from gateway.app import create_app
from gateway.settings import GatewaySettings
from mais_runtime.db import DatabaseBusy
from mais_runtime.errors import DependencyUnavailable, DomainError, GrpcCode, RateLimited
from mais_runtime.rpc_errors import to_status
from mais_runtime.server import server_interceptors

TOKEN = "errors-test-internal-token"
SECRET = "password=hunter2 at 10.20.30.40:5432 relation booking.bookings"


class RawPeer(pb_grpc.BookingServiceServicer):
    """A peer that fails as crashes, drivers and foreign servers do: with its own words, no ErrorInfo."""

    async def GetBookingWithToken(
        self, request: pb.GetBookingWithTokenRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetBookingWithTokenResponse:
        if request.token == "unknown":
            raise RuntimeError(SECRET)  # grpc answers UNKNOWN "Unexpected <class 'RuntimeError'>: ..."
        if request.token == "unavailable":
            await context.abort(grpc.StatusCode.UNAVAILABLE, SECRET)
        if request.token == "slow":
            await asyncio.sleep(3)
            return pb.GetBookingWithTokenResponse()
        await context.abort(grpc.StatusCode.INTERNAL, SECRET)
        raise AssertionError("unreachable")


class Booking(pb_grpc.BookingServiceServicer):
    """A service on our own interceptors: domain errors, and a call to the raw peer that fails."""

    def __init__(self, peer: pb_grpc.BookingServiceStub) -> None:
        self._peer = peer

    async def GetBookingWithToken(
        self, request: pb.GetBookingWithTokenRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetBookingWithTokenResponse:
        if request.token == "domain":
            raise DomainError(
                "the couple may no longer cancel", "CANCELLATION_WINDOW_CLOSED", GrpcCode.ABORTED
            )
        if request.token == "limited":
            raise RateLimited("too many holds from this address", 42)
        if request.token == "db-busy":
            # What a store's statement meets when a lock is held past lock_timeout under load.
            raise DatabaseBusy(asyncpg.exceptions.LockNotAvailableError(SECRET))
        if request.token == "db-lost":
            raise DependencyUnavailable("database unavailable")
        if request.token == "slow-peer":
            # The peer takes longer than this service's own deadline for it.
            return await self._peer.GetBookingWithToken(
                pb.GetBookingWithTokenRequest(booking_id=request.booking_id, token="slow"), timeout=0.2
            )
        if request.token == "our-internal":
            status = to_status(DomainError(SECRET, "INTERNAL", GrpcCode.INTERNAL))
            await context.abort(status.code, status.details, status.trailing_metadata)
        # Through a second hop: the peer's failure passes this service's interceptors on its way out.
        return await self._peer.GetBookingWithToken(
            pb.GetBookingWithTokenRequest(
                booking_id=request.booking_id, token=request.token.removeprefix("via-")
            )
        )


@dataclass
class Peers:
    raw: str
    ours: str


@pytest.fixture
async def peers() -> AsyncIterator[Peers]:
    raw = grpc.aio.server()
    pb_grpc.add_BookingServiceServicer_to_server(RawPeer(), raw)
    raw_port = raw.add_insecure_port("127.0.0.1:0")
    await raw.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{raw_port}")
    ours = grpc.aio.server(
        interceptors=server_interceptors(
            internal_token=TOKEN, services=[pb.DESCRIPTOR.services_by_name["BookingService"]]
        )
    )
    pb_grpc.add_BookingServiceServicer_to_server(Booking(pb_grpc.BookingServiceStub(channel)), ours)
    ours_port = ours.add_insecure_port("127.0.0.1:0")
    await ours.start()
    try:
        yield Peers(f"127.0.0.1:{raw_port}", f"127.0.0.1:{ours_port}")
    finally:
        await ours.stop(0)
        await channel.close()
        await raw.stop(0)


async def _answer(
    booking_addr: str, token: str, rpc_timeout: float = 5
) -> tuple[int, dict[str, Any], httpx.Headers]:
    app = create_app(
        GatewaySettings(booking_addr=booking_addr, internal_token=TOKEN, rpc_timeout_seconds=rpc_timeout)
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            answer = await client.get("/v1/bookings/bk_1", params={"token": token})
    return answer.status_code, answer.json(), answer.headers


@pytest.mark.parametrize(
    ("token", "status", "code"),
    [("internal", 500, "INTERNAL"), ("unknown", 500, "INTERNAL"), ("unavailable", 503, "UNAVAILABLE")],
)
async def test_a_peers_own_error_text_never_reaches_the_client(
    peers: Peers, token: str, status: int, code: str
) -> None:
    got, body, _ = await _answer(peers.raw, token)
    assert (got, body["error"]) == (status, code)
    assert "hunter2" not in str(body) and "10.20.30.40" not in str(body) and "RuntimeError" not in str(body)
    assert body["message"] in ("internal error", "a service did not answer")


@pytest.mark.parametrize("token", ["via-internal", "via-unknown", "via-unavailable", "our-internal"])
async def test_a_peers_text_passed_on_by_one_of_our_services_still_never_reaches_the_client(
    peers: Peers, token: str
) -> None:
    got, body, _ = await _answer(peers.ours, token)
    assert got >= 500
    assert "hunter2" not in str(body) and "10.20.30.40" not in str(body) and "RuntimeError" not in str(body)


async def test_a_domain_errors_message_is_written_for_clients_and_passes(peers: Peers) -> None:
    got, body, _ = await _answer(peers.ours, "domain")
    assert (got, body["error"], body["message"]) == (
        409,
        "CANCELLATION_WINDOW_CLOSED",
        "the couple may no longer cancel",
    )


async def test_a_rate_limit_from_a_service_says_when_to_retry(peers: Peers) -> None:
    got, body, headers = await _answer(peers.ours, "limited")
    assert (got, body["error"], headers.get("retry-after")) == (429, "RATE_LIMITED", "42")


@pytest.mark.parametrize("token", ["db-busy", "db-lost", "slow-peer"])
async def test_a_busy_or_lost_database_and_a_peer_past_its_deadline_answer_503_not_500(
    peers: Peers, token: str
) -> None:
    got, body, headers = await _answer(peers.ours, token)
    assert (got, body["error"], body["message"]) == (503, "UNAVAILABLE", "a service did not answer")
    assert "hunter2" not in str(body)
    # Our own services say when to come back; a peer past its deadline is passed on as UNAVAILABLE.
    assert headers.get("retry-after") == (None if token == "slow-peer" else "1")


async def test_a_service_slower_than_the_gateways_deadline_answers_503_not_500(peers: Peers) -> None:
    got, body, _ = await _answer(peers.raw, "slow", rpc_timeout=0.3)
    assert (got, body["error"]) == (503, "UNAVAILABLE")
