"""Stubs for the services the catalog calls: tenant (the currency prices are in) and booking
(whether bookings still refer to a package about to be deleted)."""

from __future__ import annotations

from mais.booking.v1 import booking_service_pb2 as booking_pb
from mais.booking.v1 import booking_service_pb2_grpc as booking_grpc
from mais.tenant.v1 import tenant_service_pb2 as tenant_pb
from mais.tenant.v1 import tenant_service_pb2_grpc as tenant_grpc

from services.catalog.domain import check_currency


class TenantCurrencies:
    """The tenant's currency, asked on every catalog write (writes are rare; it must be current)."""

    def __init__(self, stub: tenant_grpc.TenantServiceAsyncStub) -> None:
        self._stub = stub

    async def currency(self, tenant_id: str) -> str:
        """Lower-case ISO 4217; a tenant-service error (NOT_FOUND, UNAVAILABLE) passes through."""
        answer = await self._stub.GetTenant(tenant_pb.GetTenantRequest(tenant_id=tenant_id))
        return check_currency(answer.tenant.currency)


class PackageBookings:
    """How many live bookings were sold with a package, from the booking service."""

    def __init__(self, stub: booking_grpc.BookingServiceAsyncStub) -> None:
        self._stub = stub

    async def live_count(self, tenant_id: str, package_id: str) -> int:
        """A booking-service error (UNAVAILABLE) passes through: no answer, no deletion."""
        answer = await self._stub.CountPackageBookings(
            booking_pb.CountPackageBookingsRequest(tenant_id=tenant_id, package_id=package_id)
        )
        return int(answer.count)
