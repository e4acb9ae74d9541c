"""Payment terms in the two services that keep them, as real processes over gRPC on the real database:
a tenant's terms (GetTenant / UpdateTenant with the "payment_policy" mask), a package's own terms
(set, kept by unrelated changes, cleared back to the tenant's) and the quote that carries them to
payments. Bad terms are refused naming the field, and nothing is written."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import grpc
import pytest
from mais.catalog.v1 import catalog_service_pb2 as pb
from mais.catalog.v1 import catalog_service_pb2_grpc as pb_grpc
from mais.common.v1 import types_pb2
from mais.tenant.v1 import tenant_service_pb2 as tenant_pb
from mais.tenant.v1 import tenant_service_pb2_grpc as tenant_grpc

from mais_runtime.payment_policy import DepositKind, OverdueAction, PaymentPolicy
from tests.integration.conftest import Cluster, CoreServices, core_services
from tests.integration.test_catalog_service import Stub, refused

DEPOSIT_25 = PaymentPolicy(
    deposit_kind=DepositKind.PERCENT,
    deposit_bps=2500,
    balance_due_days=45,
    grace_days=5,
    overdue_action=OverdueAction.CANCEL_KEEP_DEPOSIT,
    deposit_refundable=False,
    reminder_days=10,
)
FIXED_500 = PaymentPolicy(deposit_kind=DepositKind.FIXED, deposit_cents=50000, balance_due_days=30)


@pytest.fixture(scope="module")
def services(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CoreServices]:
    with core_services(cluster, tmp_path_factory, "terms") as running:
        yield running


@pytest.fixture
async def tenants(services: CoreServices) -> AsyncIterator[Any]:
    async with grpc.aio.insecure_channel(services.tenant.address) as channel:
        yield Stub(tenant_grpc.TenantServiceStub(channel))


@pytest.fixture
async def catalog(services: CoreServices) -> AsyncIterator[Any]:
    async with grpc.aio.insecure_channel(services.catalog.address) as channel:
        yield Stub(pb_grpc.CatalogServiceStub(channel))


async def new_tenant(tenants: Any) -> tenant_pb.Tenant:
    slug = "terms-" + uuid.uuid4().hex[:12]
    created = await tenants.CreateTenant(
        tenant_pb.CreateTenantRequest(
            slug=slug,
            name=f"Studio {slug}",
            commission_bps=1000,
            admin_email=f"owner@{slug}.example.com",
            timezone="Europe/Lisbon",
            currency="eur",
        )
    )
    return created.tenant


async def set_tenant_terms(tenants: Any, tenant_id: str, policy: types_pb2.PaymentPolicy) -> tenant_pb.Tenant:
    answer = await tenants.UpdateTenant(
        tenant_pb.UpdateTenantRequest(
            tenant_id=tenant_id,
            tenant=tenant_pb.Tenant(payment_policy=policy),
            update_mask=["payment_policy"],
            actor_role=tenant_pb.ROLE_TENANT_ADMIN,
        )
    )
    return answer.tenant


async def create_package(catalog: Any, tenant_id: str, slug: str, **more: Any) -> pb.Package:
    answer = await catalog.CreatePackage(
        pb.CreatePackageRequest(
            tenant_id=tenant_id,
            package=pb.Package(slug=slug, title=f"Package {slug}", price_cents=250000, active=True, **more),
        )
    )
    return answer.package


# --- the tenant's terms ----------------------------------------------------------------------------


async def test_a_new_tenant_takes_payment_in_full(tenants: Any) -> None:
    tenant = await new_tenant(tenants)
    read = (await tenants.GetTenant(tenant_pb.GetTenantRequest(tenant_id=tenant.id))).tenant

    assert read.payment_policy.deposit_kind == types_pb2.DEPOSIT_KIND_NONE
    assert PaymentPolicy.from_proto(read.payment_policy) == PaymentPolicy()


async def test_a_tenants_terms_are_stored_whole_and_survive_other_changes(tenants: Any) -> None:
    tenant = await new_tenant(tenants)

    changed = await set_tenant_terms(tenants, tenant.id, DEPOSIT_25.to_proto())
    assert PaymentPolicy.from_proto(changed.payment_policy) == DEPOSIT_25
    assert changed.version == tenant.version + 1

    await tenants.UpdateTenant(
        tenant_pb.UpdateTenantRequest(
            tenant_id=tenant.id,
            tenant=tenant_pb.Tenant(name="Renamed studio"),
            update_mask=["name"],
            actor_role=tenant_pb.ROLE_TENANT_ADMIN,
        )
    )
    read = (await tenants.GetTenant(tenant_pb.GetTenantRequest(tenant_id=tenant.id))).tenant
    assert read.name == "Renamed studio"
    assert PaymentPolicy.from_proto(read.payment_policy) == DEPOSIT_25


async def test_bad_tenant_terms_are_refused_by_field_and_change_nothing(tenants: Any) -> None:
    tenant = await new_tenant(tenants)
    await set_tenant_terms(tenants, tenant.id, FIXED_500.to_proto())
    before = (await tenants.GetTenant(tenant_pb.GetTenantRequest(tenant_id=tenant.id))).tenant

    bad = types_pb2.PaymentPolicy(
        deposit_kind=types_pb2.DEPOSIT_KIND_PERCENT,
        deposit_bps=10_000,
        balance_due_days=0,
        grace_days=3,
        overdue_action=types_pb2.OVERDUE_ACTION_REMIND,
        reminder_days=7,
    )
    reason, fields, _ = await refused(set_tenant_terms(tenants, tenant.id, bad))

    assert reason == "VALIDATION_ERROR"
    assert sorted(fields) == ["paymentPolicy.balanceDueDays", "paymentPolicy.depositBps"]
    after = (await tenants.GetTenant(tenant_pb.GetTenantRequest(tenant_id=tenant.id))).tenant
    assert after.version == before.version
    assert PaymentPolicy.from_proto(after.payment_policy) == FIXED_500


async def test_a_tenants_terms_cannot_be_changed_field_by_field_through_the_mask(tenants: Any) -> None:
    tenant = await new_tenant(tenants)
    reason, fields, _ = await refused(
        tenants.UpdateTenant(
            tenant_pb.UpdateTenantRequest(
                tenant_id=tenant.id,
                tenant=tenant_pb.Tenant(payment_policy=DEPOSIT_25.to_proto()),
                update_mask=["payment_policy.deposit_bps"],
                actor_role=tenant_pb.ROLE_TENANT_ADMIN,
            )
        )
    )
    assert (reason, fields) == ("VALIDATION_ERROR", ["update_mask"])


async def test_terms_stored_under_looser_bounds_still_read(tenants: Any, cluster: Cluster) -> None:
    # A bound tightened in a later release must not make a stored tenant unreadable.
    tenant = await new_tenant(tenants)
    conn = await asyncpg.connect(cluster.admin_url)
    try:
        await conn.execute(
            "UPDATE tenant.tenants SET payment_policy = $1::jsonb WHERE id = $2",
            '{"depositKind": "percent", "depositBps": 2000, "balanceDueDays": 900, "someLaterField": 1}',
            uuid.UUID(tenant.id),
        )
    finally:
        await conn.close()
    read = (await tenants.GetTenant(tenant_pb.GetTenantRequest(tenant_id=tenant.id))).tenant
    assert (read.payment_policy.deposit_bps, read.payment_policy.balance_due_days) == (2000, 900)


# --- a package's own terms -------------------------------------------------------------------------


async def test_a_package_without_terms_of_its_own_quotes_without_any(tenants: Any, catalog: Any) -> None:
    tenant = await new_tenant(tenants)
    package = await create_package(catalog, tenant.id, "garden")

    assert not package.HasField("payment_policy")
    quote = (await catalog.Quote(pb.QuoteRequest(tenant_id=tenant.id, package_id=package.id))).quote
    assert not quote.HasField("payment_policy")


async def test_a_packages_own_terms_are_kept_and_reach_the_quote(tenants: Any, catalog: Any) -> None:
    tenant = await new_tenant(tenants)
    package = await create_package(catalog, tenant.id, "elopement", payment_policy=FIXED_500.to_proto())
    assert PaymentPolicy.from_proto(package.payment_policy) == FIXED_500

    renamed = await catalog.UpdatePackage(
        pb.UpdatePackageRequest(
            tenant_id=tenant.id,
            package=pb.Package(id=package.id, title="Elopement"),
            update_mask=["title"],
        )
    )
    assert PaymentPolicy.from_proto(renamed.package.payment_policy) == FIXED_500

    quote = (await catalog.Quote(pb.QuoteRequest(tenant_id=tenant.id, package_id=package.id))).quote
    assert PaymentPolicy.from_proto(quote.payment_policy) == FIXED_500
    assert quote.total_cents == 250000


async def test_a_package_goes_back_to_the_tenants_terms_when_its_own_are_cleared(
    tenants: Any, catalog: Any
) -> None:
    tenant = await new_tenant(tenants)
    package = await create_package(catalog, tenant.id, "full-day")
    own = await catalog.UpdatePackage(
        pb.UpdatePackageRequest(
            tenant_id=tenant.id,
            package=pb.Package(id=package.id, payment_policy=DEPOSIT_25.to_proto()),
            update_mask=["payment_policy"],
            expected_version=package.version,
        )
    )
    assert PaymentPolicy.from_proto(own.package.payment_policy) == DEPOSIT_25
    assert own.package.version == package.version + 1

    cleared = await catalog.UpdatePackage(
        pb.UpdatePackageRequest(
            tenant_id=tenant.id,
            package=pb.Package(id=package.id),
            update_mask=["payment_policy"],
            clear_payment_policy=True,
        )
    )
    assert not cleared.package.HasField("payment_policy")
    quote = (await catalog.Quote(pb.QuoteRequest(tenant_id=tenant.id, package_id=package.id))).quote
    assert not quote.HasField("payment_policy")


async def test_a_masked_package_policy_must_be_sent_or_cleared(tenants: Any, catalog: Any) -> None:
    tenant = await new_tenant(tenants)
    package = await create_package(catalog, tenant.id, "half-day", payment_policy=FIXED_500.to_proto())

    reason, fields, _ = await refused(
        catalog.UpdatePackage(
            pb.UpdatePackageRequest(
                tenant_id=tenant.id, package=pb.Package(id=package.id), update_mask=["payment_policy"]
            )
        )
    )
    assert (reason, fields) == ("VALIDATION_ERROR", ["paymentPolicy"])
    read = await catalog.GetPackage(pb.GetPackageRequest(tenant_id=tenant.id, package_id=package.id))
    assert PaymentPolicy.from_proto(read.package.payment_policy) == FIXED_500


async def test_bad_package_terms_are_refused_by_field_and_create_nothing(tenants: Any, catalog: Any) -> None:
    tenant = await new_tenant(tenants)
    bad = types_pb2.PaymentPolicy(
        deposit_kind=types_pb2.DEPOSIT_KIND_FIXED,
        deposit_cents=0,
        balance_due_days=30,
        grace_days=99,
        overdue_action=types_pb2.OVERDUE_ACTION_REMIND,
        reminder_days=7,
    )
    reason, fields, _ = await refused(create_package(catalog, tenant.id, "bad-terms", payment_policy=bad))

    assert reason == "VALIDATION_ERROR"
    assert sorted(fields) == ["paymentPolicy.depositCents", "paymentPolicy.graceDays"]
    listed = await catalog.ListPackages(pb.ListPackagesRequest(tenant_id=tenant.id, page_size=10))
    assert list(listed.packages) == []
