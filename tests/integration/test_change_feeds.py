"""Change feeds (mais_runtime/change_feed.py): a committed change in catalog, booking and tenant
reaches a WatchChanges subscriber of the real service process; a subscriber that stops reading is
cut off with its queue bounded, while one that reads keeps its stream."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from mais.booking.v1 import booking_service_pb2 as booking_pb
from mais.booking.v1 import booking_service_pb2_grpc as booking_grpc
from mais.catalog.v1 import catalog_service_pb2 as catalog_pb
from mais.catalog.v1 import catalog_service_pb2_grpc as catalog_grpc
from mais.common.v1 import types_pb2
from mais.tenant.v1 import tenant_service_pb2 as tenant_pb
from mais.tenant.v1 import tenant_service_pb2_grpc as tenant_grpc

from mais_runtime.change_feed import ChangeFanout, ChangeSubscription, serve_changes, wait_healthy
from mais_runtime.channels import Channels
from tests.integration.conftest import INTERNAL_TOKEN, Cluster, CoreServices, core_services

CREDENTIAL = (("x-mais-internal", INTERNAL_TOKEN),)


@pytest.fixture(scope="module")
def services(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CoreServices]:
    with core_services(cluster, tmp_path_factory, "feed") as running:
        yield running


class Heard:
    """What one subscription reported."""

    def __init__(self) -> None:
        self.readies = 0
        self.losses = 0
        self.changes: list[str] = []
        self.arrived = asyncio.Event()

    def ready(self) -> None:
        self.readies += 1

    def lost(self) -> None:
        self.losses += 1

    def change(self, tenant_id: str) -> None:
        self.changes.append(tenant_id)
        self.arrived.set()

    async def until(self, tenant_id: str, timeout: float = 5.0) -> None:
        async def wait() -> None:
            while tenant_id not in self.changes:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(wait(), timeout)


@dataclass
class Feeds:
    tenant: Heard
    booking: Heard
    catalog: Heard
    tenants: tenant_grpc.TenantServiceStub
    bookings: booking_grpc.BookingServiceStub
    catalogs: catalog_grpc.CatalogServiceStub


@pytest.fixture
async def feeds(services: CoreServices) -> AsyncIterator[Feeds]:
    owner = Channels(internal_token=INTERNAL_TOKEN, default_timeout=5.0)
    channels = [owner.get(s.address) for s in (services.tenant, services.booking, services.catalog)]
    tenants = tenant_grpc.TenantServiceStub(channels[0])
    bookings = booking_grpc.BookingServiceStub(channels[1])
    catalogs = catalog_grpc.CatalogServiceStub(channels[2])
    heard = Feeds(Heard(), Heard(), Heard(), tenants, bookings, catalogs)
    subscriptions = [
        ChangeSubscription(
            name,
            lambda watch=watch, request=request: watch(request),
            on_ready=hears.ready,
            on_change=hears.change,
            on_lost=hears.lost,
        )
        for name, watch, request, hears in (
            ("tenant", tenants.WatchChanges, tenant_pb.WatchChangesRequest(), heard.tenant),
            ("booking", bookings.WatchChanges, booking_pb.WatchChangesRequest(), heard.booking),
            ("catalog", catalogs.WatchChanges, catalog_pb.WatchChangesRequest(), heard.catalog),
        )
    ]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(s.run(stop)) for s in subscriptions]
    try:
        assert await wait_healthy(subscriptions, timeout=10), [
            s.name for s in subscriptions if not s.healthy()
        ]
        yield heard
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 5)
        await owner.close()


async def make_tenant(tenants: tenant_grpc.TenantServiceStub) -> str:
    slug = "feed-" + uuid.uuid4().hex[:12]
    created = await tenants.CreateTenant(
        tenant_pb.CreateTenantRequest(
            slug=slug,
            name=f"Studio {slug}",
            commission_bps=1000,
            admin_email=f"owner@{slug}.example.com",
            timezone="UTC",
            currency="usd",
        ),
        metadata=CREDENTIAL,
        timeout=20,
    )
    return str(created.tenant.id)


async def test_a_change_in_each_service_reaches_a_subscriber(feeds: Feeds) -> None:
    tenant_id = await make_tenant(feeds.tenants)
    await feeds.tenant.until(tenant_id)  # the new tenant row and its keys

    await feeds.catalogs.CreatePackage(
        catalog_pb.CreatePackageRequest(
            tenant_id=tenant_id,
            package=catalog_pb.Package(slug="garden", title="Garden", price_cents=150000, active=True),
        ),
        metadata=CREDENTIAL,
        timeout=20,
    )
    await feeds.catalog.until(tenant_id)

    day = (datetime.now(UTC).date() + timedelta(days=90)).isoformat()
    await feeds.bookings.CreateBlackout(
        booking_pb.CreateBlackoutRequest(tenant_id=tenant_id, date=day, reason="feed test"),
        metadata=CREDENTIAL,
        timeout=20,
    )
    await feeds.booking.until(tenant_id)

    # Another tenant's change names that tenant, not this one.
    other = await make_tenant(feeds.tenants)
    await feeds.tenant.until(other)
    assert feeds.booking.changes.count(tenant_id) >= 1
    assert other not in feeds.booking.changes
    assert (feeds.tenant.losses, feeds.booking.losses, feeds.catalog.losses) == (0, 0, 0)


async def test_a_key_rotation_is_a_tenant_change(feeds: Feeds) -> None:
    tenant_id = await make_tenant(feeds.tenants)
    await feeds.tenant.until(tenant_id)
    feeds.tenant.changes.clear()
    await feeds.tenants.RotateApiKeys(
        tenant_pb.RotateApiKeysRequest(tenant_id=tenant_id), metadata=CREDENTIAL, timeout=20
    )
    await feeds.tenant.until(tenant_id)


async def test_a_stream_without_the_credential_is_refused(services: CoreServices) -> None:
    async with grpc.aio.insecure_channel(services.booking.address) as channel:
        call = booking_grpc.BookingServiceStub(channel).WatchChanges(
            booking_pb.WatchChangesRequest(), timeout=5
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call.read()
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


class _Servicer(booking_grpc.BookingServiceServicer):
    def __init__(self, fanout: ChangeFanout) -> None:
        self.fanout = fanout

    async def WatchChanges(self, request: object, context: grpc.aio.ServicerContext) -> None:
        await serve_changes(self.fanout, context, booking_pb.WatchChangesResponse)


async def test_a_subscriber_that_stops_reading_is_cut_off_and_the_reader_is_not(tmp_path: Path) -> None:
    fanout = ChangeFanout(lambda: True, queue_size=256, write_timeout_seconds=1.0, heartbeat_seconds=0.2)
    server = grpc.aio.server()
    booking_grpc.add_BookingServiceServicer_to_server(_Servicer(fanout), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    # No BDP probing: the slow client's window stays small, as a real stuck reader's would.
    options = [("grpc.http2.bdp_probe", 0)]
    slow_channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=options)
    fast_channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=options)
    try:
        slow = booking_grpc.BookingServiceStub(slow_channel).WatchChanges(booking_pb.WatchChangesRequest())
        fast = booking_grpc.BookingServiceStub(fast_channel).WatchChanges(booking_pb.WatchChangesRequest())
        assert (await slow.read()).kind == types_pb2.CHANGE_EVENT_KIND_READY
        assert (await fast.read()).kind == types_pb2.CHANGE_EVENT_KIND_READY
        assert len(fanout) == 2
        received = 0
        sent = 0

        async def read_fast() -> None:
            nonlocal received
            while True:
                message = await fast.read()
                if message is grpc.aio.EOF:
                    return
                if message.kind == types_pb2.CHANGE_EVENT_KIND_CHANGED:
                    received += 1

        reader = asyncio.create_task(read_fast())
        tenant = str(uuid.uuid4())
        deadline = asyncio.get_running_loop().time() + 30
        while fanout.cut_off == 0 and asyncio.get_running_loop().time() < deadline:
            if sent - received < 64:  # paced by the reader, however slow this machine is today
                for _ in range(8):
                    fanout.publish(tenant)
                    sent += 1
            await asyncio.sleep(0.005)
        assert fanout.cut_off == 1, f"cut off {fanout.cut_off} of 2 after {sent} changes"
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            while True:
                if await asyncio.wait_for(slow.read(), 10) is grpc.aio.EOF:
                    break
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        # The reader is still subscribed and hears what comes next.
        assert len(fanout) == 1
        before = received
        fanout.publish(tenant)
        for _ in range(100):
            if received > before:
                break
            await asyncio.sleep(0.05)
        assert received > before
        assert not reader.done()
        reader.cancel()
    finally:
        await slow_channel.close()
        await fast_channel.close()
        await server.stop(0)


async def test_every_stream_ends_when_the_source_is_lost() -> None:
    live = True
    fanout = ChangeFanout(lambda: live, heartbeat_seconds=0.1)
    server = grpc.aio.server()
    booking_grpc.add_BookingServiceServicer_to_server(_Servicer(fanout), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = booking_grpc.BookingServiceStub(channel)
            call = stub.WatchChanges(booking_pb.WatchChangesRequest())
            assert (await call.read()).kind == types_pb2.CHANGE_EVENT_KIND_READY
            assert (await asyncio.wait_for(call.read(), 2)).kind == types_pb2.CHANGE_EVENT_KIND_HEARTBEAT
            live = False
            fanout.lost()
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                while await asyncio.wait_for(call.read(), 5) is not grpc.aio.EOF:
                    pass
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            # And a new stream is refused until the source listens again.
            again = stub.WatchChanges(booking_pb.WatchChangesRequest())
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await asyncio.wait_for(again.read(), 5)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await server.stop(0)
