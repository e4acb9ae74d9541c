"""Time-slot packages in the catalog, as real processes over gRPC (a real tenant service for
currencies, a real booking service for live bookings): a package is a whole day or a time-slot
service with checked slot terms, its kind cannot change under a live booking, and quotes and the
public list carry the kind and terms the hold and the slot list work from."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from mais.booking.v1 import booking_service_pb2 as booking_pb
from mais.booking.v1 import booking_service_pb2_grpc as booking_grpc
from mais.catalog.v1 import catalog_service_pb2 as pb
from mais.catalog.v1 import catalog_service_pb2_grpc as pb_grpc
from mais.tenant.v1 import tenant_service_pb2 as tenant_pb
from mais.tenant.v1 import tenant_service_pb2_grpc as tenant_grpc

from tests.integration.conftest import Cluster, RunningService, core_services
from tests.integration.test_catalog_service import Stub, refused

CEREMONY = pb.SlotTerms(
    duration_minutes=90,
    buffer_before_minutes=15,
    buffer_after_minutes=30,
    interval_minutes=30,
    lead_time_minutes=1440,
)


@pytest.fixture(scope="module")
def running(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, RunningService]]:
    with core_services(cluster, tmp_path_factory, "slots") as started:
        yield {"tenant": started.tenant, "booking": started.booking, "catalog": started.catalog}


@pytest.fixture
async def catalog(running: dict[str, RunningService]) -> AsyncIterator[Any]:
    async with grpc.aio.insecure_channel(running["catalog"].address) as channel:
        yield Stub(pb_grpc.CatalogServiceStub(channel))


@pytest.fixture
async def booking(running: dict[str, RunningService]) -> AsyncIterator[Any]:
    async with grpc.aio.insecure_channel(running["booking"].address) as channel:
        yield Stub(booking_grpc.BookingServiceStub(channel))


@pytest.fixture
async def tenant_id(running: dict[str, RunningService]) -> str:
    async with grpc.aio.insecure_channel(running["tenant"].address) as channel:
        slug = "slots-" + uuid.uuid4().hex[:12]
        created = await Stub(tenant_grpc.TenantServiceStub(channel)).CreateTenant(
            tenant_pb.CreateTenantRequest(
                slug=slug,
                name=f"Studio {slug}",
                commission_bps=1000,
                admin_email=f"owner@{slug}.example.com",
                timezone="Europe/Berlin",
                currency="eur",
            )
        )
        return str(created.tenant.id)


async def create(catalog: Any, tenant_id: str, slug: str = "ceremony", **more: Any) -> pb.Package:
    answer = await catalog.CreatePackage(
        pb.CreatePackageRequest(
            tenant_id=tenant_id,
            package=pb.Package(slug=slug, title=f"Package {slug}", price_cents=90000, active=True, **more),
        )
    )
    return answer.package


async def update(catalog: Any, tenant_id: str, mask: list[str], **fields: Any) -> pb.Package:
    answer = await catalog.UpdatePackage(
        pb.UpdatePackageRequest(tenant_id=tenant_id, package=pb.Package(**fields), update_mask=mask)
    )
    return answer.package


async def test_a_time_slot_package_keeps_its_terms_and_a_quote_and_the_public_list_carry_them(
    catalog: Any, tenant_id: str
) -> None:
    resource = str(uuid.uuid4())
    terms = pb.SlotTerms()
    terms.CopyFrom(CEREMONY)
    terms.resource_id = resource.upper()  # any spelling of a uuid; stored canonical
    created = await create(catalog, tenant_id, kind=pb.PACKAGE_KIND_SLOT, slot=terms)
    day = await create(catalog, tenant_id, "whole-day")

    stored = (
        await catalog.GetPackage(pb.GetPackageRequest(tenant_id=tenant_id, package_id=created.id))
    ).package
    assert stored.kind == pb.PACKAGE_KIND_SLOT
    assert (
        stored.slot.duration_minutes,
        stored.slot.buffer_before_minutes,
        stored.slot.buffer_after_minutes,
    ) == (
        90,
        15,
        30,
    )
    assert (stored.slot.interval_minutes, stored.slot.lead_time_minutes) == (30, 1440)
    assert stored.slot.resource_id == resource
    # A package made without a kind (every caller before time slots) is a whole day, without terms.
    assert day.kind == pb.PACKAGE_KIND_DAY
    assert not day.HasField("slot")

    quote = (await catalog.Quote(pb.QuoteRequest(tenant_id=tenant_id, package_id=created.id))).quote
    assert quote.kind == pb.PACKAGE_KIND_SLOT
    assert quote.slot.duration_minutes == 90 and quote.slot.resource_id == resource
    day_quote = (await catalog.Quote(pb.QuoteRequest(tenant_id=tenant_id, package_id=day.id))).quote
    assert day_quote.kind == pb.PACKAGE_KIND_DAY and not day_quote.HasField("slot")

    listed = await catalog.ListPublicPackages(pb.ListPublicPackagesRequest(tenant_id=tenant_id))
    by_slug = {p.slug: p for p in listed.packages}
    assert by_slug["ceremony"].kind == pb.PACKAGE_KIND_SLOT
    assert by_slug["ceremony"].slot.interval_minutes == 30
    assert by_slug["whole-day"].kind == pb.PACKAGE_KIND_DAY


async def test_bad_slot_terms_are_refused_naming_each_field_and_nothing_is_written(
    catalog: Any, tenant_id: str
) -> None:
    reason, fields, _ = await refused(
        create(
            catalog,
            tenant_id,
            kind=pb.PACKAGE_KIND_SLOT,
            slot=pb.SlotTerms(
                duration_minutes=10,
                buffer_before_minutes=-1,
                buffer_after_minutes=241,
                interval_minutes=4,
                lead_time_minutes=43_201,
                resource_id="the-big-room",
            ),
        )
    )
    assert reason == "VALIDATION_ERROR"
    assert set(fields) == {
        "slot.durationMinutes",
        "slot.bufferBeforeMinutes",
        "slot.bufferAfterMinutes",
        "slot.intervalMinutes",
        "slot.leadTimeMinutes",
        "slot.resourceId",
    }
    _, fields, _ = await refused(create(catalog, tenant_id, kind=pb.PACKAGE_KIND_SLOT))
    assert fields == ["slot"]
    _, fields, _ = await refused(create(catalog, tenant_id, kind=pb.PACKAGE_KIND_DAY, slot=CEREMONY))
    assert fields == ["slot"]
    listed = await catalog.ListPackages(pb.ListPackagesRequest(tenant_id=tenant_id))
    assert list(listed.packages) == []


async def test_slot_terms_change_as_a_whole_and_a_package_made_a_whole_day_again_drops_them(
    catalog: Any, tenant_id: str
) -> None:
    package = await create(catalog, tenant_id, kind=pb.PACKAGE_KIND_SLOT, slot=CEREMONY)
    shoot = await update(
        catalog,
        tenant_id,
        ["slot"],
        id=package.id,
        slot=pb.SlotTerms(duration_minutes=60, interval_minutes=15),
    )
    assert (shoot.slot.duration_minutes, shoot.slot.interval_minutes, shoot.slot.buffer_after_minutes) == (
        60,
        15,
        0,
    )
    assert shoot.version == package.version + 1

    # An update that is refused changes nothing.
    _, fields, _ = await refused(
        update(catalog, tenant_id, ["slot"], id=package.id, slot=pb.SlotTerms(duration_minutes=721))
    )
    assert "slot.durationMinutes" in fields
    _, fields, _ = await refused(update(catalog, tenant_id, ["kind"], id=package.id))
    assert fields == ["kind"]
    again = (
        await catalog.GetPackage(pb.GetPackageRequest(tenant_id=tenant_id, package_id=package.id))
    ).package
    assert (again.version, again.slot.duration_minutes) == (shoot.version, 60)

    day = await update(catalog, tenant_id, ["kind"], id=package.id, kind=pb.PACKAGE_KIND_DAY)
    assert day.kind == pb.PACKAGE_KIND_DAY and not day.HasField("slot")
    # Back to a slot needs its terms in the same change.
    _, fields, _ = await refused(
        update(catalog, tenant_id, ["kind"], id=package.id, kind=pb.PACKAGE_KIND_SLOT)
    )
    assert fields == ["slot"]
    _, fields, _ = await refused(update(catalog, tenant_id, ["slot"], id=package.id, slot=CEREMONY))
    assert fields == ["slot"]
    slot = await update(
        catalog, tenant_id, ["kind", "slot"], id=package.id, kind=pb.PACKAGE_KIND_SLOT, slot=CEREMONY
    )
    assert slot.kind == pb.PACKAGE_KIND_SLOT and slot.slot.duration_minutes == 90


async def test_a_package_with_a_live_booking_cannot_change_its_kind_until_the_booking_is_over(
    catalog: Any, booking: Any, tenant_id: str
) -> None:
    package = await create(catalog, tenant_id, "garden")
    quote = (await catalog.Quote(pb.QuoteRequest(tenant_id=tenant_id, package_id=package.id))).quote
    held = (
        await booking.HoldDate(
            booking_pb.HoldDateRequest(
                tenant_id=tenant_id,
                event_date=(datetime.now(UTC) + timedelta(days=90)).date().isoformat(),
                couple_name="Ada & Bo",
                email="ada@example.com",
                quote=quote,
            )
        )
    ).booking

    reason, _, _ = await refused(
        update(catalog, tenant_id, ["kind", "slot"], id=package.id, kind=pb.PACKAGE_KIND_SLOT, slot=CEREMONY)
    )
    assert reason == "IN_USE"
    # Everything else may still change, and naming the same kind is no change of kind.
    renamed = await update(
        catalog, tenant_id, ["kind", "title"], id=package.id, kind=pb.PACKAGE_KIND_DAY, title="Garden day"
    )
    assert (renamed.kind, renamed.title) == (pb.PACKAGE_KIND_DAY, "Garden day")

    await booking.ReleaseHold(
        booking_pb.ReleaseHoldRequest(tenant_id=tenant_id, booking_id=held.id, reason="test")
    )
    slot = await update(
        catalog, tenant_id, ["kind", "slot"], id=package.id, kind=pb.PACKAGE_KIND_SLOT, slot=CEREMONY
    )
    assert slot.kind == pb.PACKAGE_KIND_SLOT


async def test_another_tenants_package_kind_cannot_be_changed(catalog: Any, tenant_id: str) -> None:
    package = await create(catalog, tenant_id, kind=pb.PACKAGE_KIND_SLOT, slot=CEREMONY)
    intruder = str(uuid.uuid4())
    reason, _, _ = await refused(update(catalog, intruder, ["kind"], id=package.id, kind=pb.PACKAGE_KIND_DAY))
    assert reason == "NOT_FOUND"
    still = (
        await catalog.GetPackage(pb.GetPackageRequest(tenant_id=tenant_id, package_id=package.id))
    ).package
    assert still.kind == pb.PACKAGE_KIND_SLOT
