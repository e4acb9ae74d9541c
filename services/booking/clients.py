"""Stubs for the services booking calls: the tenant service, for a tenant's calendar and policy."""

from __future__ import annotations

from mais.tenant.v1 import tenant_service_pb2 as tenant_pb
from mais.tenant.v1 import tenant_service_pb2_grpc as tenant_grpc

from mais_runtime.ttl_cache import TtlCache
from services.booking.domain import Policy, TenantCalendar


class TenantDirectory:
    """A tenant's name, time zone and booking policy, cached per tenant for a few seconds so that a
    burst of availability requests does not call the tenant service each time. Keys are tenant ids."""

    def __init__(
        self, stub: tenant_grpc.TenantServiceAsyncStub, *, ttl_seconds: float, max_entries: int = 5000
    ) -> None:
        self._stub = stub
        self._cache: TtlCache[str, TenantCalendar] = TtlCache(ttl_seconds, max_entries)

    async def calendar(self, tenant_id: str) -> TenantCalendar:
        """The tenant's calendar; a tenant-service error (NOT_FOUND, UNAVAILABLE) passes through."""
        calendar = self._cache.get(tenant_id)
        if calendar is None:
            answer = await self._stub.GetTenant(tenant_pb.GetTenantRequest(tenant_id=tenant_id))
            calendar = calendar_of(answer.tenant)
            self._cache.put(tenant_id, calendar)
        return calendar


def calendar_of(tenant: tenant_pb.Tenant) -> TenantCalendar:
    """The booking view of a tenant."""
    policy = tenant.policy
    return TenantCalendar(
        tenant_id=tenant.id,
        name=tenant.name,
        timezone=tenant.timezone or "UTC",
        currency=tenant.currency or "usd",
        policy=Policy.from_settings(
            min_notice_days=policy.min_notice_days,
            max_advance_days=policy.max_advance_days,
            hold_minutes=policy.hold_minutes,
            reminder_days=policy.reminder_days,
            couple_cancel_days=policy.couple_cancel_days,
        ),
    )
