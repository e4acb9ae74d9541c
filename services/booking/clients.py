"""Adapters for the services booking calls: the tenant service, for a tenant's calendar, policy and
admins, translated into booking's domain values at this edge; catalog, for the quote of a hold that
names its package (payments' checkout)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

import grpc
from mais.catalog.v1 import catalog_service_pb2 as catalog_pb
from mais.catalog.v1 import catalog_service_pb2_grpc as catalog_grpc
from mais.tenant.v1 import tenant_service_pb2 as tenant_pb
from mais.tenant.v1 import tenant_service_pb2_grpc as tenant_grpc

from mais_runtime.change_feed import ChangeSubscription
from mais_runtime.feed_cache import TenantFeedCache
from mais_runtime.ttl_cache import TtlCache
from services.booking.domain import AdminContact, Policy, TenantCalendar

log = logging.getLogger("mais.booking.clients")

# A tenant's team is small; the bound keeps one answer (and one email's recipient list) bounded.
MAX_ADMINS = 50


class Quoter(Protocol):
    """Where a hold's quote comes from when the caller names the package instead (catalog)."""

    async def quote(
        self, tenant_id: str, package_id: str, add_on_ids: Sequence[str]
    ) -> catalog_pb.QuoteSnapshot:
        """The package and add-ons priced now."""
        ...


class CatalogQuotes:
    """Catalog's Quote: prices from the database as they are now (never cached here either)."""

    def __init__(self, stub: catalog_grpc.CatalogServiceAsyncStub) -> None:
        self._stub = stub

    async def quote(
        self, tenant_id: str, package_id: str, add_on_ids: Sequence[str]
    ) -> catalog_pb.QuoteSnapshot:
        """The quote; a catalog error (NOT_FOUND, VALIDATION_ERROR, ...) passes through to the caller."""
        answer = await self._stub.Quote(
            catalog_pb.QuoteRequest(tenant_id=tenant_id, package_id=package_id, add_on_ids=list(add_on_ids))
        )
        return answer.quote


class TenantDirectory:
    """A tenant's name, time zone, booking policy and admins, cached per tenant for a few seconds so
    that a burst of requests does not call the tenant service each time. Keys are tenant ids. While
    the tenant service's change feed is followed (`follow_changes`) and healthy, a calendar is kept
    up to `feed_seconds`: the feed drops it when the tenant changes. Admins are not on that feed: they
    keep `ttl_seconds`."""

    def __init__(
        self,
        stub: tenant_grpc.TenantServiceAsyncStub,
        *,
        ttl_seconds: float,
        max_entries: int = 5000,
        feed_seconds: float | None = None,
    ) -> None:
        self._stub = stub
        # A cache of 0 s (tests that change a tenant and read it back at once) stays 0 s with the feed.
        long_seconds = max(ttl_seconds, feed_seconds or 0.0) if ttl_seconds > 0 else ttl_seconds
        self._cache: TenantFeedCache[TenantCalendar] = TenantFeedCache(ttl_seconds, long_seconds, max_entries)
        self._admins: TtlCache[str, tuple[AdminContact, ...]] = TtlCache(ttl_seconds, max_entries)

    async def calendar(self, tenant_id: str) -> TenantCalendar:
        """The tenant's calendar; a tenant-service error (NOT_FOUND, UNAVAILABLE) passes through."""
        calendar = self._cache.get(tenant_id)
        if calendar is None:
            changes = self._cache.changes
            answer = await self._stub.GetTenant(tenant_pb.GetTenantRequest(tenant_id=tenant_id))
            calendar = calendar_of(answer.tenant)
            self._cache.put(tenant_id, calendar, changes)
        return calendar

    def follow_changes(self) -> ChangeSubscription:
        """The tenant service's change feed that keeps the calendars current (a background job)."""
        return self._cache.follow("tenant", lambda: self._stub.WatchChanges(tenant_pb.WatchChangesRequest()))

    async def admins(self, tenant_id: str) -> tuple[AdminContact, ...]:
        """The tenant's active admins (at most MAX_ADMINS). A tenant service that cannot answer gives
        no admins rather than an error: telling the business is never worth failing a booking."""
        admins = self._admins.get(tenant_id)
        if admins is not None:
            return admins
        try:
            answer = await self._stub.ListAdminUsers(
                tenant_pb.ListAdminUsersRequest(tenant_id=tenant_id, page_size=MAX_ADMINS)
            )
        except grpc.aio.AioRpcError as error:
            log.warning("admins of tenant %s unknown (%s); no admin email", tenant_id, error.code().name)
            return ()
        admins = admins_of(answer.users)
        self._admins.put(tenant_id, admins)
        return admins


def admins_of(users: Sequence[tenant_pb.AdminUser]) -> tuple[AdminContact, ...]:
    """The tenant admins who receive the business's emails: active ones (an invited user who has not
    set a password yet does not), each address once."""
    seen: dict[str, AdminContact] = {}
    for user in users[:MAX_ADMINS]:
        if user.active and user.role == tenant_pb.ROLE_TENANT_ADMIN and user.email:
            seen.setdefault(user.email, AdminContact(user.email))
    return tuple(seen.values())


def calendar_of(tenant: tenant_pb.Tenant) -> TenantCalendar:
    """The booking view of a tenant."""
    policy = tenant.policy
    return TenantCalendar(
        tenant_id=tenant.id,
        name=tenant.name,
        timezone=tenant.timezone or "UTC",
        currency=tenant.currency or "usd",
        contact_email=tenant.contact_email,
        policy=Policy.from_settings(
            min_notice_days=policy.min_notice_days,
            max_advance_days=policy.max_advance_days,
            hold_minutes=policy.hold_minutes,
            reminder_days=policy.reminder_days,
            couple_cancel_days=policy.couple_cancel_days,
            max_live_holds_per_email=policy.max_live_holds_per_email,
            max_live_holds_per_address=policy.max_live_holds_per_address,
        ),
    )
