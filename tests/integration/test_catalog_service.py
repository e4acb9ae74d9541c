"""The catalog service as real processes over gRPC: two catalog replicas on one database (with a real
tenant service for currencies and a real booking service for deletions), quotes and their
rejections, optimistic concurrency under real concurrent calls, tenant isolation, and the public
cache: warm reads touch no database, and every replica serves a new price within 1 s."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import grpc
import httpx
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from mais.booking.v1 import booking_service_pb2 as booking_pb
from mais.booking.v1 import booking_service_pb2_grpc as booking_grpc
from mais.catalog.v1 import catalog_service_pb2 as pb
from mais.catalog.v1 import catalog_service_pb2_grpc as pb_grpc
from mais.tenant.v1 import tenant_service_pb2 as tenant_pb
from mais.tenant.v1 import tenant_service_pb2_grpc as tenant_grpc

from tests.integration.conftest import INTERNAL_TOKEN, Cluster, RunningService, core_services, spawn_service
from tools.stack.launcher import free_port

CREDENTIAL = (("x-mais-internal", INTERNAL_TOKEN),)
FRESHNESS_PROMISE_SECONDS = 1.0


@dataclass
class Replica:
    service: RunningService
    metrics_port: int

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text

    def notifications(self) -> float:
        """How many change notifications this process has applied to its cache."""
        found = re.search(
            r'^mais_catalog_cache_invalidations_total\{cause="notification"\} ([0-9.e+]+)$',
            self.metrics(),
            re.M,
        )
        return float(found.group(1)) if found else 0.0

    async def heard(self, since: float, timeout: float = 5.0) -> None:
        """Waits until a notification newer than `since` (a notifications() reading) has arrived."""
        deadline = time.monotonic() + timeout
        while self.notifications() <= since:
            assert time.monotonic() < deadline, "the change notification never arrived"
            await asyncio.sleep(0.01)

    def reads(self) -> dict[str, float]:
        """mais_catalog_public_reads_total by source, scraped from the process."""
        found = re.findall(
            r'^mais_catalog_public_reads_total\{source="(\w+)"\} ([0-9.e+]+)$', self.metrics(), re.M
        )
        return {source: float(value) for source, value in found}

    def wait_until_listening(self, timeout: float = 15.0) -> None:
        """The process serves before its change feed connects (reads then go to the database)."""
        deadline = time.monotonic() + timeout
        while "mais_catalog_change_feed_live 1.0" not in self.metrics():
            assert time.monotonic() < deadline, "the catalog change feed never became live"
            time.sleep(0.05)


@dataclass
class Services:
    tenant: RunningService
    booking: RunningService
    replicas: list[Replica]


@pytest.fixture(scope="module")
def services(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with core_services(cluster, tmp_path_factory, "for-catalog", catalog=False) as core:
        replicas: list[Replica] = []
        try:
            for n in range(2):
                metrics_port = free_port()
                service = spawn_service(
                    cluster,
                    "services.catalog",
                    "catalog",
                    tmp_path_factory.mktemp(f"catalog-{n}"),
                    {
                        "MAIS_TENANT_ADDR": core.tenant.address,
                        "MAIS_BOOKING_ADDR": core.booking.address,
                        "MAIS_METRICS_PORT": str(metrics_port),
                    },
                )
                replicas.append(Replica(service, metrics_port))
            for replica in replicas:
                replica.wait_until_listening()
            yield Services(core.tenant, core.booking, replicas)
        finally:
            for replica in replicas:
                replica.service.stop()


class Stub:
    """A service stub whose calls carry the internal credential and a deadline."""

    def __init__(self, stub: Any) -> None:
        self._stub = stub

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self._stub, name)

        async def call(request: Any, timeout: float = 20) -> Any:
            return await method(request, metadata=CREDENTIAL, timeout=timeout)

        return call


@pytest.fixture
async def catalogs(services: Services) -> AsyncIterator[list[Any]]:
    channels = [grpc.aio.insecure_channel(r.service.address) for r in services.replicas]
    yield [Stub(pb_grpc.CatalogServiceStub(c)) for c in channels]
    for channel in channels:
        await channel.close(grace=None)


@pytest.fixture
async def booking(services: Services) -> AsyncIterator[Any]:
    async with grpc.aio.insecure_channel(services.booking.address) as channel:
        yield Stub(booking_grpc.BookingServiceStub(channel))


@pytest.fixture
async def new_tenant(services: Services) -> AsyncIterator[Callable[..., Awaitable[str]]]:
    async with grpc.aio.insecure_channel(services.tenant.address) as channel:
        tenants = Stub(tenant_grpc.TenantServiceStub(channel))

        async def make(currency: str = "usd") -> str:
            slug = "cat-" + uuid.uuid4().hex[:12]
            created = await tenants.CreateTenant(
                tenant_pb.CreateTenantRequest(
                    slug=slug,
                    name=f"Studio {slug}",
                    commission_bps=1000,
                    admin_email=f"owner@{slug}.example.com",
                    timezone="UTC",
                    currency=currency,
                )
            )
            return str(created.tenant.id)

        yield make


@pytest.fixture
async def admin_db(cluster: Cluster) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(cluster.admin_url)
    yield conn
    await conn.close()


def error_of(error: grpc.aio.AioRpcError) -> tuple[str, list[str], list[str]]:
    """(reason, fields, field messages) of a failed call."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, error
    info, bad = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
    for detail in status.details:
        if detail.Is(info.DESCRIPTOR):
            detail.Unpack(info)
        elif detail.Is(bad.DESCRIPTOR):
            detail.Unpack(bad)
    return info.reason, [v.field for v in bad.field_violations], [v.description for v in bad.field_violations]


async def refused(call: Awaitable[Any]) -> tuple[str, list[str], list[str]]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return error_of(caught.value)


async def create_package(
    catalog: Any, tenant_id: str, slug: str = "garden", price: int = 150000, **more: Any
) -> pb.Package:
    answer: pb.CreatePackageResponse = await catalog.CreatePackage(
        pb.CreatePackageRequest(
            tenant_id=tenant_id,
            package=pb.Package(slug=slug, title=f"Package {slug}", price_cents=price, active=True, **more),
        )
    )
    return answer.package


async def create_add_on(
    catalog: Any, tenant_id: str, slug: str, package_ids: list[str], price: int = 20000, active: bool = True
) -> pb.AddOn:
    answer: pb.CreateAddOnResponse = await catalog.CreateAddOn(
        pb.CreateAddOnRequest(
            tenant_id=tenant_id,
            add_on=pb.AddOn(
                slug=slug, title=f"Add-on {slug}", price_cents=price, active=active, package_ids=package_ids
            ),
        )
    )
    return answer.add_on


async def set_price(
    catalog: Any, tenant_id: str, package_id: str, price: int, version: int = 0
) -> pb.Package:
    answer: pb.UpdatePackageResponse = await catalog.UpdatePackage(
        pb.UpdatePackageRequest(
            tenant_id=tenant_id,
            package=pb.Package(id=package_id, price_cents=price),
            update_mask=["price_cents"],
            expected_version=version,
        )
    )
    return answer.package


async def public_price(catalog: Any, tenant_id: str, slug: str) -> int:
    answer = await catalog.GetPublicPackage(
        pb.GetPublicPackageRequest(tenant_id=tenant_id, slug=slug), timeout=5
    )
    return int(answer.package.price_cents)


async def listed_prices(catalog: Any, tenant_id: str) -> list[int]:
    answer = await catalog.ListPublicPackages(pb.ListPublicPackagesRequest(tenant_id=tenant_id), timeout=5)
    return [p.price_cents for p in answer.packages]


# --- the cache across replicas -------------------------------------------------------------------


async def test_every_catalog_replica_serves_a_new_price_within_one_second(
    catalogs: list[Any], services: Services, new_tenant: Callable[..., Awaitable[str]]
) -> None:
    tenant_id = await new_tenant()
    since = [r.notifications() for r in services.replicas]
    package = await create_package(catalogs[0], tenant_id, "garden", 150000)
    # Warm every replica's cache (once the creation's own notification is in), and check the second
    # read really was a cache hit.
    for catalog, replica, seen in zip(catalogs, services.replicas, since, strict=True):
        await replica.heard(seen)
        assert await public_price(catalog, tenant_id, "garden") == 150000
        assert await listed_prices(catalog, tenant_id) == [150000]
        hits = replica.reads().get("cache", 0)
        assert await public_price(catalog, tenant_id, "garden") == 150000
        assert replica.reads().get("cache", 0) == hits + 1

    await set_price(catalogs[0], tenant_id, package.id, 175000)
    committed = time.monotonic()

    # Poll every replica until each serves the new price; the bound is the promise, nothing tighter.
    pending = set(range(len(catalogs)))
    while pending and time.monotonic() - committed < FRESHNESS_PROMISE_SECONDS:
        for n in sorted(pending):
            if await public_price(catalogs[n], tenant_id, "garden") == 175000 and await listed_prices(
                catalogs[n], tenant_id
            ) == [175000]:
                pending.discard(n)
        await asyncio.sleep(0.02)
    assert not pending, f"replicas {sorted(pending)} still served the old price after 1 s"


async def test_warm_public_reads_touch_no_database(
    catalogs: list[Any],
    services: Services,
    new_tenant: Callable[..., Awaitable[str]],
    admin_db: asyncpg.Connection,
) -> None:
    tenant_id = await new_tenant()
    catalog, replica = catalogs[1], services.replicas[1]
    since = replica.notifications()
    await create_package(catalogs[0], tenant_id, "garden", 150000)
    await replica.heard(since)
    await public_price(catalog, tenant_id, "garden")
    await listed_prices(catalog, tenant_id)
    before = replica.reads()

    # Lock every catalog table against any reader: a read that reaches the database now waits.
    async with admin_db.transaction():
        await admin_db.execute(
            "LOCK TABLE catalog.packages, catalog.add_ons, catalog.add_on_packages, catalog.segments"
            " IN ACCESS EXCLUSIVE MODE"
        )
        for _ in range(10):
            assert await public_price(catalog, tenant_id, "garden") == 150000
            assert await listed_prices(catalog, tenant_id) == [150000]
        # The lock does hold readers off: a cold read cannot finish while it is held.
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await catalog.GetPublicPackage(
                pb.GetPublicPackageRequest(tenant_id=tenant_id, slug="not-cached-yet"), timeout=0.5
            )
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED

    after = replica.reads()
    assert after["cache"] - before.get("cache", 0) == 20
    # Only the cold read went to the database.
    assert after["database"] - before.get("database", 0) <= 1


async def test_a_replica_whose_change_feed_dropped_does_not_serve_a_stale_price(
    catalogs: list[Any], new_tenant: Callable[..., Awaitable[str]], admin_db: asyncpg.Connection
) -> None:
    tenant_id = await new_tenant()
    package = await create_package(catalogs[0], tenant_id, "garden", 150000)
    for catalog in catalogs:
        await public_price(catalog, tenant_id, "garden")
    # Cut every replica's listening connection, as a network fault or a database restart would.
    cut = await admin_db.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE application_name = 'mais-catalog-changes'"
    )
    assert cut >= 2
    await set_price(catalogs[0], tenant_id, package.id, 99000)
    committed = time.monotonic()
    stale = set(range(len(catalogs)))
    while stale and time.monotonic() - committed < FRESHNESS_PROMISE_SECONDS:
        stale = {n for n in stale if await public_price(catalogs[n], tenant_id, "garden") != 99000}
        await asyncio.sleep(0.02)
    assert not stale


# --- quotes --------------------------------------------------------------------------------------


@dataclass
class QuoteSetup:
    tenant_id: str
    package: pb.Package
    other_package: pb.Package
    flowers: pb.AddOn
    drone: pb.AddOn
    retired: pb.AddOn
    elsewhere: pb.AddOn
    foreign: pb.AddOn


@pytest.fixture
async def setup(catalogs: list[Any], new_tenant: Callable[..., Awaitable[str]]) -> QuoteSetup:
    catalog = catalogs[0]
    tenant_id, other_tenant = await new_tenant(), await new_tenant()
    package = await create_package(catalog, tenant_id, "garden", 150000)
    other_package = await create_package(catalog, tenant_id, "barn", 90000)
    foreign_package = await create_package(catalog, other_tenant, "garden", 1000)
    return QuoteSetup(
        tenant_id=tenant_id,
        package=package,
        other_package=other_package,
        flowers=await create_add_on(catalog, tenant_id, "flowers", [package.id], 25000),
        drone=await create_add_on(catalog, tenant_id, "drone", [package.id, other_package.id], 40000),
        retired=await create_add_on(catalog, tenant_id, "retired", [package.id], 100, active=False),
        elsewhere=await create_add_on(catalog, tenant_id, "barn-lights", [other_package.id], 300),
        foreign=await create_add_on(catalog, other_tenant, "flowers", [foreign_package.id], 1),
    )


def quote_request(s: QuoteSetup, *add_on_ids: str, package_id: str = "") -> pb.QuoteRequest:
    return pb.QuoteRequest(
        tenant_id=s.tenant_id, package_id=package_id or s.package.id, add_on_ids=add_on_ids
    )


async def test_a_quote_prices_the_package_and_add_ons_from_the_database(
    catalogs: list[Any], setup: QuoteSetup
) -> None:
    quote = (await catalogs[1].Quote(quote_request(setup, setup.drone.id, setup.flowers.id))).quote
    assert [(line.kind, line.id, line.price_cents) for line in quote.lines] == [
        ("package", setup.package.id, 150000),
        ("add_on", setup.drone.id, 40000),
        ("add_on", setup.flowers.id, 25000),
    ]
    assert (quote.total_cents, quote.currency, quote.package_id) == (215000, "usd", setup.package.id)
    assert quote.hash and quote.quoted_at.seconds > 0


async def test_a_price_change_shows_in_the_next_quote_and_its_hash(
    catalogs: list[Any], setup: QuoteSetup
) -> None:
    before = (await catalogs[0].Quote(quote_request(setup, setup.flowers.id))).quote
    await set_price(catalogs[1], setup.tenant_id, setup.package.id, 160000)
    after = (await catalogs[0].Quote(quote_request(setup, setup.flowers.id))).quote
    assert (before.total_cents, after.total_cents) == (175000, 185000)
    assert after.hash != before.hash
    assert after.lines[0].version == before.lines[0].version + 1


async def test_a_quote_for_an_unknown_inactive_or_foreign_package_is_not_found(
    catalogs: list[Any], setup: QuoteSetup
) -> None:
    await catalogs[0].UpdatePackage(
        pb.UpdatePackageRequest(
            tenant_id=setup.tenant_id, package=pb.Package(id=setup.other_package.id), update_mask=["active"]
        )
    )
    foreign_package = setup.foreign.package_ids[0]
    for package_id in (str(uuid.uuid4()), setup.other_package.id, foreign_package):
        reason, fields, _ = await refused(catalogs[1].Quote(quote_request(setup, package_id=package_id)))
        assert (reason, fields) == ("NOT_FOUND", ["packageId"])


async def test_a_quote_names_each_unknown_inactive_not_offered_or_foreign_add_on(
    catalogs: list[Any], setup: QuoteSetup
) -> None:
    unknown = str(uuid.uuid4())
    reason, fields, messages = await refused(
        catalogs[0].Quote(
            quote_request(
                setup, setup.flowers.id, unknown, setup.retired.id, setup.elsewhere.id, setup.foreign.id
            )
        )
    )
    assert reason == "VALIDATION_ERROR"
    assert fields == ["addOnIds[1]", "addOnIds[2]", "addOnIds[3]", "addOnIds[4]"]
    for offending, message in zip(
        [unknown, setup.retired.id, setup.elsewhere.id, setup.foreign.id], messages, strict=True
    ):
        assert offending in message
    # The foreign add-on is "not found", exactly like an id that never existed: nothing about it leaks.
    assert "not found" in messages[3] and "not found" in messages[0]


async def test_a_quote_with_more_than_twenty_or_repeated_add_ons_is_refused(
    catalogs: list[Any], setup: QuoteSetup
) -> None:
    too_many = [str(uuid.uuid4()) for _ in range(21)]
    assert (await refused(catalogs[0].Quote(quote_request(setup, *too_many))))[:2] == (
        "VALIDATION_ERROR",
        ["addOnIds"],
    )
    repeated = await refused(catalogs[0].Quote(quote_request(setup, setup.flowers.id, setup.flowers.id)))
    assert repeated[:2] == ("VALIDATION_ERROR", ["addOnIds[1]"])


# --- admin ---------------------------------------------------------------------------------------


async def test_concurrent_edits_with_the_same_version_one_wins_and_one_gets_version_conflict(
    catalogs: list[Any], new_tenant: Callable[..., Awaitable[str]]
) -> None:
    tenant_id = await new_tenant()
    package = await create_package(catalogs[0], tenant_id, "garden", 100000)
    version = package.version
    for round_ in range(5):
        prices = (200000 + round_, 300000 + round_)
        outcomes = await asyncio.gather(
            *(
                set_price(catalog, tenant_id, package.id, price, version)
                for catalog, price in zip(catalogs, prices, strict=True)
            ),
            return_exceptions=True,
        )
        winners = [o for o in outcomes if isinstance(o, pb.Package)]
        losers = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
        assert len(winners) == 1 and len(losers) == 1, outcomes
        assert error_of(losers[0])[0] == "VERSION_CONFLICT"
        stored = (
            await catalogs[0].GetPackage(pb.GetPackageRequest(tenant_id=tenant_id, package_id=package.id))
        ).package
        assert (stored.price_cents, stored.version) == (winners[0].price_cents, version + 1)
        version = stored.version


async def test_a_taken_slug_is_slug_taken_but_another_tenant_may_use_it(
    catalogs: list[Any], new_tenant: Callable[..., Awaitable[str]]
) -> None:
    first, second = await new_tenant(), await new_tenant()
    await create_package(catalogs[0], first, "garden")
    reason, fields, _ = await refused(create_package(catalogs[1], first, "garden"))
    assert (reason, fields) == ("SLUG_TAKEN", ["slug"])
    assert (await create_package(catalogs[1], second, "garden")).slug == "garden"


async def test_prices_are_in_the_tenants_currency(
    catalogs: list[Any], new_tenant: Callable[..., Awaitable[str]]
) -> None:
    tenant_id = await new_tenant(currency="eur")
    package = await create_package(catalogs[0], tenant_id, "garden")
    add_on = await create_add_on(catalogs[0], tenant_id, "flowers", [package.id])
    assert (package.currency, add_on.currency) == ("eur", "eur")


@pytest.fixture
async def change_currency(services: Services) -> AsyncIterator[Callable[[str, str], Awaitable[None]]]:
    async with grpc.aio.insecure_channel(services.tenant.address) as channel:
        tenants = Stub(tenant_grpc.TenantServiceStub(channel))

        async def change(tenant_id: str, currency: str) -> None:
            await tenants.UpdateTenant(
                tenant_pb.UpdateTenantRequest(
                    tenant_id=tenant_id,
                    tenant=tenant_pb.Tenant(currency=currency),
                    update_mask=["currency"],
                    actor_role=tenant_pb.ROLE_TENANT_ADMIN,
                )
            )

        yield change


async def test_a_change_of_the_tenants_currency_reprices_nothing_already_there(
    catalogs: list[Any],
    new_tenant: Callable[..., Awaitable[str]],
    change_currency: Callable[[str, str], Awaitable[None]],
) -> None:
    tenant_id = await new_tenant(currency="usd")
    package = await create_package(catalogs[0], tenant_id, "garden", 150000)
    add_on = await create_add_on(catalogs[0], tenant_id, "flowers", [package.id], 20000)
    await change_currency(tenant_id, "eur")

    # Edits that do not name a price or currency keep both, on either replica.
    renamed = (
        await catalogs[1].UpdatePackage(
            pb.UpdatePackageRequest(
                tenant_id=tenant_id, package=pb.Package(id=package.id, title="Renamed"), update_mask=["title"]
            )
        )
    ).package
    repriced_add_on = (
        await catalogs[0].UpdateAddOn(
            pb.UpdateAddOnRequest(
                tenant_id=tenant_id,
                add_on=pb.AddOn(id=add_on.id, price_cents=21000),
                update_mask=["price_cents"],
            )
        )
    ).add_on
    assert (renamed.price_cents, renamed.currency) == (150000, "usd")
    assert (repriced_add_on.price_cents, repriced_add_on.currency) == (21000, "usd")
    quote = (
        await catalogs[1].Quote(
            pb.QuoteRequest(tenant_id=tenant_id, package_id=package.id, add_on_ids=[add_on.id])
        )
    ).quote
    assert (quote.total_cents, quote.currency) == (171000, "usd")

    # What is created afterwards is in the new currency, unless it names its own.
    newer = await create_package(catalogs[0], tenant_id, "barn", 90000)
    named = await create_package(catalogs[1], tenant_id, "loft", 80000, currency="USD")
    assert (newer.currency, named.currency) == ("eur", "usd")


async def test_an_add_on_cannot_be_offered_with_a_package_of_another_currency(
    catalogs: list[Any],
    new_tenant: Callable[..., Awaitable[str]],
    change_currency: Callable[[str, str], Awaitable[None]],
) -> None:
    tenant_id = await new_tenant(currency="usd")
    dollars = await create_package(catalogs[0], tenant_id, "garden")
    await change_currency(tenant_id, "eur")
    euros = await create_package(catalogs[0], tenant_id, "barn")
    reason, fields, messages = await refused(
        create_add_on(catalogs[1], tenant_id, "flowers", [euros.id, dollars.id])
    )
    assert (reason, fields) == ("VALIDATION_ERROR", ["packageIds[1]"])
    assert "usd" in messages[0]
    add_on = await create_add_on(catalogs[1], tenant_id, "flowers", [euros.id])
    reason, fields, _ = await refused(
        catalogs[0].UpdateAddOn(
            pb.UpdateAddOnRequest(
                tenant_id=tenant_id,
                add_on=pb.AddOn(id=add_on.id, package_ids=[euros.id, dollars.id]),
                update_mask=["package_ids"],
            )
        )
    )
    assert (reason, fields) == ("VALIDATION_ERROR", ["packageIds[1]"])
    # The package cannot leave its add-ons' currency either; unlinked, both can move together.
    reason, fields, _ = await refused(
        catalogs[0].UpdatePackage(
            pb.UpdatePackageRequest(
                tenant_id=tenant_id,
                package=pb.Package(id=euros.id, price_cents=170000, currency="usd"),
                update_mask=["price_cents", "currency"],
            )
        )
    )
    assert (reason, fields) == ("VALIDATION_ERROR", ["currency"])
    moved = (
        await catalogs[0].UpdateAddOn(
            pb.UpdateAddOnRequest(
                tenant_id=tenant_id,
                add_on=pb.AddOn(id=add_on.id, price_cents=22000, currency="usd", package_ids=[dollars.id]),
                update_mask=["price_cents", "currency", "package_ids"],
            )
        )
    ).add_on
    assert (moved.currency, list(moved.package_ids)) == ("usd", [dollars.id])
    public = (
        await catalogs[1].GetPublicPackage(pb.GetPublicPackageRequest(tenant_id=tenant_id, slug="garden"))
    ).package
    assert [(a.slug, a.currency) for a in public.add_ons] == [("flowers", "usd")]


async def test_a_currency_change_without_a_price_is_refused_and_changes_nothing(
    catalogs: list[Any], new_tenant: Callable[..., Awaitable[str]]
) -> None:
    tenant_id = await new_tenant(currency="usd")
    package = await create_package(catalogs[0], tenant_id, "garden", 150000)
    reason, fields, _ = await refused(
        catalogs[0].UpdatePackage(
            pb.UpdatePackageRequest(
                tenant_id=tenant_id,
                package=pb.Package(id=package.id, currency="jpy"),
                update_mask=["currency"],
            )
        )
    )
    assert (reason, fields) == ("VALIDATION_ERROR", ["priceCents"])
    stored = (
        await catalogs[1].GetPackage(pb.GetPackageRequest(tenant_id=tenant_id, package_id=package.id))
    ).package
    assert (stored.price_cents, stored.currency, stored.version) == (150000, "usd", package.version)


async def test_a_zero_cent_package_is_a_draft_until_it_has_a_price(
    catalogs: list[Any], new_tenant: Callable[..., Awaitable[str]]
) -> None:
    tenant_id = await new_tenant()
    reason, fields, _ = await refused(create_package(catalogs[0], tenant_id, "free", 0))
    assert (reason, fields) == ("VALIDATION_ERROR", ["priceCents"])
    draft = (
        await catalogs[0].CreatePackage(
            pb.CreatePackageRequest(
                tenant_id=tenant_id,
                package=pb.Package(slug="free", title="Free", price_cents=0, active=False),
            )
        )
    ).package
    activate = pb.UpdatePackageRequest(
        tenant_id=tenant_id, package=pb.Package(id=draft.id, active=True), update_mask=["active"]
    )
    reason, fields, _ = await refused(catalogs[1].UpdatePackage(activate))
    assert (reason, fields) == ("VALIDATION_ERROR", ["priceCents"])
    on_offer = await create_package(catalogs[0], tenant_id, "garden", 150000)
    reason, fields, _ = await refused(set_price(catalogs[1], tenant_id, on_offer.id, 0))
    assert (reason, fields) == ("VALIDATION_ERROR", ["priceCents"])
    assert await public_price(catalogs[0], tenant_id, "garden") == 150000


async def test_another_tenants_objects_are_not_found_at_every_rpc(
    catalogs: list[Any], setup: QuoteSetup, new_tenant: Callable[..., Awaitable[str]]
) -> None:
    intruder = await new_tenant()
    owner = setup.tenant_id
    segment = (
        await catalogs[0].CreateSegment(
            pb.CreateSegmentRequest(tenant_id=owner, segment=pb.Segment(slug="weddings", name="Weddings"))
        )
    ).segment
    package_id, add_on_id = setup.package.id, setup.flowers.id
    calls = [
        catalogs[1].GetPackage(pb.GetPackageRequest(tenant_id=intruder, package_id=package_id)),
        catalogs[1].UpdatePackage(
            pb.UpdatePackageRequest(
                tenant_id=intruder,
                package=pb.Package(id=package_id, price_cents=1),
                update_mask=["price_cents"],
            )
        ),
        catalogs[1].DeletePackage(pb.DeletePackageRequest(tenant_id=intruder, package_id=package_id)),
        catalogs[1].GetAddOn(pb.GetAddOnRequest(tenant_id=intruder, add_on_id=add_on_id)),
        catalogs[1].UpdateAddOn(
            pb.UpdateAddOnRequest(
                tenant_id=intruder, add_on=pb.AddOn(id=add_on_id, price_cents=1), update_mask=["price_cents"]
            )
        ),
        catalogs[1].DeleteAddOn(pb.DeleteAddOnRequest(tenant_id=intruder, add_on_id=add_on_id)),
        catalogs[1].GetSegment(pb.GetSegmentRequest(tenant_id=intruder, segment_id=segment.id)),
        catalogs[1].UpdateSegment(
            pb.UpdateSegmentRequest(
                tenant_id=intruder, segment=pb.Segment(id=segment.id, name="x"), update_mask=["name"]
            )
        ),
        catalogs[1].DeleteSegment(pb.DeleteSegmentRequest(tenant_id=intruder, segment_id=segment.id)),
        catalogs[1].GetPublicPackage(pb.GetPublicPackageRequest(tenant_id=intruder, slug="garden")),
    ]
    for call in calls:
        assert (await refused(call))[0] == "NOT_FOUND"
    # And nothing changed for the owner.
    still = (
        await catalogs[0].GetPackage(pb.GetPackageRequest(tenant_id=owner, package_id=package_id))
    ).package
    assert (still.price_cents, still.version) == (setup.package.price_cents, setup.package.version)
    listed = await catalogs[0].ListPackages(pb.ListPackagesRequest(tenant_id=intruder))
    assert list(listed.packages) == []


async def test_a_package_with_a_live_booking_cannot_be_deleted_but_can_be_deactivated(
    catalogs: list[Any], booking: Any, new_tenant: Callable[..., Awaitable[str]]
) -> None:
    tenant_id = await new_tenant()
    package = await create_package(catalogs[0], tenant_id, "garden")
    quote = (await catalogs[0].Quote(pb.QuoteRequest(tenant_id=tenant_id, package_id=package.id))).quote
    day = (datetime.now(UTC) + timedelta(days=90)).date().isoformat()
    held = (
        await booking.HoldDate(
            booking_pb.HoldDateRequest(
                tenant_id=tenant_id,
                event_date=day,
                couple_name="Ada & Bo",
                email="ada@example.com",
                quote=quote,
            )
        )
    ).booking

    reason, _, _ = await refused(
        catalogs[1].DeletePackage(pb.DeletePackageRequest(tenant_id=tenant_id, package_id=package.id))
    )
    assert reason == "IN_USE"
    deactivated = (
        await catalogs[1].UpdatePackage(
            pb.UpdatePackageRequest(
                tenant_id=tenant_id, package=pb.Package(id=package.id), update_mask=["active"]
            )
        )
    ).package
    assert not deactivated.active

    await booking.ReleaseHold(
        booking_pb.ReleaseHoldRequest(tenant_id=tenant_id, booking_id=held.id, reason="test")
    )
    await catalogs[1].DeletePackage(pb.DeletePackageRequest(tenant_id=tenant_id, package_id=package.id))
    reason, _, _ = await refused(
        catalogs[0].GetPackage(pb.GetPackageRequest(tenant_id=tenant_id, package_id=package.id))
    )
    assert reason == "NOT_FOUND"


async def test_a_package_changing_currency_and_an_add_on_linking_to_it_at_once_never_mix_currencies(
    catalogs: list[Any], new_tenant: Callable[..., Awaitable[str]], admin_db: asyncpg.Connection
) -> None:
    tenant_id = await new_tenant(currency="usd")
    for round_ in range(8):
        package = await create_package(catalogs[0], tenant_id, f"garden-{round_}")
        add_on = await create_add_on(catalogs[1], tenant_id, f"flowers-{round_}", [])
        # Two replicas, at the same moment: one moves the package to eur, the other offers the usd
        # add-on with it. Whatever the interleaving, exactly one wins.
        outcomes = await asyncio.gather(
            catalogs[0].UpdatePackage(
                pb.UpdatePackageRequest(
                    tenant_id=tenant_id,
                    package=pb.Package(id=package.id, price_cents=140000, currency="eur"),
                    update_mask=["price_cents", "currency"],
                )
            ),
            catalogs[1].UpdateAddOn(
                pb.UpdateAddOnRequest(
                    tenant_id=tenant_id,
                    add_on=pb.AddOn(id=add_on.id, package_ids=[package.id]),
                    update_mask=["package_ids"],
                )
            ),
            return_exceptions=True,
        )
        failures = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
        assert len(failures) == 1, outcomes
        assert error_of(failures[0])[0] == "VALIDATION_ERROR"
    mixed = await admin_db.fetchval(
        "SELECT count(*) FROM catalog.add_on_packages ap"
        " JOIN catalog.packages p ON p.tenant_id = ap.tenant_id AND p.id = ap.package_id"
        " JOIN catalog.add_ons a ON a.tenant_id = ap.tenant_id AND a.id = ap.add_on_id"
        " WHERE ap.tenant_id = $1 AND (p.currency <> a.currency OR ap.currency <> p.currency)",
        uuid.UUID(tenant_id),
    )
    assert mixed == 0
