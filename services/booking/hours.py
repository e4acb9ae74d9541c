"""Resources, opening hours and the slots they offer: the tenant admin's use cases and ListSlots.

`offered_in` is the one place that gathers what decides a slot (the resource's hours and exceptions,
blackouts, whole-day bookings, the tenant's notice and advance window, the resource's live claims) and
hands it to slots.offered_slots: ListSlots calls it, and so does a slot hold, inside its transaction
and under its locks, so that the list and the hold cannot disagree.

Every tenant has a default resource, made on first use (listing resources or slots, or a package
naming none). A resource made later is claimed at once on the days the tenant's live whole-day
bookings take, as a whole-day booking takes every resource.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

from mais_runtime import paging
from mais_runtime.db import IntegrityError, with_retries
from mais_runtime.errors import PreconditionFailed, ValidationError
from mais_runtime.slot_terms import SlotTerms
from services.booking import domain
from services.booking.domain import TenantCalendar
from services.booking.opening_hours import (
    DEFAULT_RESOURCE_NAME,
    MAX_RESOURCES,
    HoursException,
    NameTaken,
    OpeningHours,
    Resource,
    ResourceInUse,
    VersionConflict,
    checked_name,
    exception_span,
    new_resource_id,
    whole_day,
)
from services.booking.slots import Slot, TimeRange, check_slot_range, offered_slots
from services.booking.store import BookingStore, BookingTx
from services.booking.use_cases import Tenants, utc_now

T = TypeVar("T")

# The fields UpdateResource's mask may name.
RESOURCE_FIELDS = ("name", "active")


async def ensure_default_resource(tx: BookingTx, calendar: TenantCalendar, now: datetime) -> Resource:
    """The tenant's default resource, made (and claimed on its whole-day bookings' days) if it is not
    there yet."""
    found = await tx.default_resource()
    if found is not None:
        return found
    await tx.lock_resource_set(shared=False)
    found = await tx.default_resource()
    if found is not None:
        return found
    resource = Resource(new_resource_id(), DEFAULT_RESOURCE_NAME, is_default=True)
    # The name may be taken by a resource the admin made before the default was needed.
    while await tx.name_taken(resource.name):
        resource = replace(resource, name=f"{DEFAULT_RESOURCE_NAME} {resource.id[-4:]}")
    await tx.insert_resource(resource)
    await _claim_whole_days(tx, calendar, resource.id, now)
    return resource


async def _claim_whole_days(tx: BookingTx, calendar: TenantCalendar, resource_id: str, now: datetime) -> None:
    """A new resource is taken on every day a live whole-day booking takes (from yesterday on: an
    earlier day can no longer be booked)."""
    since = calendar.today(now) - timedelta(days=1)
    for booking_id, day in await tx.live_day_bookings(since):
        start, end = whole_day(day, calendar.zone)
        await tx.insert_occupancy(resource_id, booking_id, start, end)


async def resolve_resource(
    tx: BookingTx, calendar: TenantCalendar, terms: SlotTerms, now: datetime
) -> Resource:
    """The resource a service's terms name, or the tenant's default when they name none; NotFound
    for a resource that is not the tenant's."""
    if not terms.resource_id:
        return await ensure_default_resource(tx, calendar, now)
    return await tx.resource(terms.resource_id)


async def offered_in(
    tx: BookingTx,
    calendar: TenantCalendar,
    terms: SlotTerms,
    resource: Resource,
    first: date,
    last: date,
    now: datetime,
) -> list[Slot]:
    """The slots of `resource` a service with `terms` offers between two dates of the tenant's
    calendar (the one rule for the list and the hold); an inactive resource offers none."""
    check_slot_range(first, last)
    if not resource.active:
        # Nothing is open; offered_slots still checks the range.
        return offered_slots(
            first,
            last,
            terms=terms,
            zone=calendar.zone,
            hours_of=lambda _: (),
            closed_days=(),
            busy=(),
            now=now,
        )
    today = calendar.today(now)
    closed = await tx.closed_dates(first, last)
    span = (last - first).days + 1 if last >= first else 0
    for offset in range(span):
        day = first + timedelta(days=offset)
        if domain.calendar_reason(day, today=today, policy=calendar.policy) is not None:
            closed.add(day)
    exceptions = await tx.hours_exceptions(resource.id, first, last)
    hours = OpeningHours(resource.id, await tx.weekly_hours(resource.id), exceptions)
    # Claims reaching into the range from the day before (buffers) or out past it (a slot opening late
    # and lasting past midnight): a day either side is more than any duration and buffer allow.
    window_start = _midnight(first - timedelta(days=1), calendar)
    window_end = _midnight(last + timedelta(days=2), calendar)
    busy = await tx.busy(resource.id, window_start, window_end)
    return offered_slots(
        first,
        last,
        terms=terms,
        zone=calendar.zone,
        hours_of=hours.ranges_on,
        closed_days=closed,
        busy=busy,
        now=now,
    )


def _midnight(day: date, calendar: TenantCalendar) -> datetime:
    return datetime.combine(day, time(0), tzinfo=calendar.zone).astimezone(UTC)


class Hours:
    """Resources, their opening hours, and the slots a service offers on them."""

    def __init__(
        self,
        store: BookingStore,
        tenants: Tenants,
        *,
        clock: Callable[[], datetime] = utc_now,
        retries: int = 4,
    ) -> None:
        self._store = store
        self._tenants = tenants
        self._clock = clock
        self._retries = retries

    async def _change(self, tenant_id: str, change: Callable[[BookingTx], Awaitable[T]]) -> T:
        async def attempt() -> T:
            async with self._store.tenant(tenant_id) as tx:
                return await change(tx)

        return await with_retries(attempt, tries=self._retries)

    async def today(self, tenant_id: str) -> date:
        """The tenant's current date."""
        return (await self._tenants.calendar(tenant_id)).today(self._clock())

    # --- slots -------------------------------------------------------------------------------

    async def list_slots(
        self, tenant_id: str, terms: SlotTerms, first: date, last: date
    ) -> tuple[Resource, list[Slot]]:
        """The bookable starts of a service between two dates (at most 31), and the resource its
        terms resolved to."""
        terms = terms.checked()
        check_slot_range(first, last)
        calendar = await self._tenants.calendar(tenant_id)
        now = self._clock()

        async def read(tx: BookingTx) -> tuple[Resource, list[Slot]]:
            resource = await resolve_resource(tx, calendar, terms, now)
            return resource, await offered_in(tx, calendar, terms, resource, first, last, now)

        return await self._change(tenant_id, read)

    # --- resources ---------------------------------------------------------------------------

    async def list_resources(self, tenant_id: str, limit: int, cursor: str) -> tuple[list[Resource], str]:
        """A page of the tenant's resources, the default (made now if need be) first."""
        calendar = await self._tenants.calendar(tenant_id)
        after = _resource_position(cursor)

        async def read(tx: BookingTx) -> list[Resource]:
            await ensure_default_resource(tx, calendar, self._clock())
            return await tx.resources(limit + 1, after)

        rows = await self._change(tenant_id, read)
        page = rows[:limit]
        more = len(rows) > limit
        last = page[-1] if page else None
        token = (
            paging.encode_cursor(int(not last.is_default), last.name.lower(), last.id)
            if more and last
            else ""
        )
        return page, token

    async def create_resource(self, tenant_id: str, name: str) -> Resource:
        """A new active resource (at most MAX_RESOURCES a tenant), claimed on the days of the tenant's
        live whole-day bookings."""
        checked = checked_name(name)
        calendar = await self._tenants.calendar(tenant_id)
        now = self._clock()

        async def create(tx: BookingTx) -> Resource:
            await ensure_default_resource(tx, calendar, now)
            await tx.lock_resource_set(shared=False)
            if await tx.count_resources() >= MAX_RESOURCES:
                raise PreconditionFailed(f"a business may have at most {MAX_RESOURCES} resources")
            if await tx.name_taken(checked):
                raise NameTaken()
            resource = Resource(new_resource_id(), checked)
            await tx.insert_resource(resource)
            await _claim_whole_days(tx, calendar, resource.id, now)
            return await tx.resource(resource.id)

        return await self._named(lambda: self._change(tenant_id, create))

    async def update_resource(
        self,
        tenant_id: str,
        resource_id: str,
        *,
        change: Resource,
        mask: Sequence[str],
        expected_version: int,
    ) -> Resource:
        """The masked fields ("name", "active") of a resource, if `expected_version` (0: any) is
        current. The default resource cannot be deactivated (services naming none book it)."""
        if not mask:
            raise ValidationError.of("update_mask", "names no field to change")
        for path in mask:
            if path not in RESOURCE_FIELDS:
                raise ValidationError.of("update_mask", f"{path} is not a field that can be changed")
        if expected_version < 0:
            raise ValidationError.of("version", "must be positive")
        name = checked_name(change.name) if "name" in mask else None

        async def update(tx: BookingTx) -> Resource:
            current = await tx.resource(resource_id, for_update=True)
            if expected_version and expected_version != current.version:
                raise VersionConflict(current.version)
            updated = current
            if name is not None:
                if await tx.name_taken(name, other_than=resource_id):
                    raise NameTaken()
                updated = replace(updated, name=name)
            if "active" in mask:
                if current.is_default and not change.active:
                    raise ValidationError.of("active", "the default resource cannot be deactivated")
                updated = replace(updated, active=change.active)
            return await tx.write_resource(updated)

        return await self._named(lambda: self._change(tenant_id, update))

    async def delete_resource(self, tenant_id: str, resource_id: str) -> None:
        """Removes a resource nothing was booked on (IN_USE otherwise: deactivate it); never the
        default."""

        async def delete(tx: BookingTx) -> None:
            current = await tx.resource(resource_id, for_update=True)
            if current.is_default:
                raise PreconditionFailed("the default resource cannot be deleted")
            if await tx.resource_has_bookings(resource_id):
                raise ResourceInUse()
            await tx.delete_resource(resource_id)

        try:
            await self._change(tenant_id, delete)
        except IntegrityError as error:
            # A hold on the resource committed between the check and the delete.
            if "_resource_id_fkey" in str(error.orig):
                raise ResourceInUse() from None
            raise

    async def _named(self, run: Callable[[], Awaitable[Resource]]) -> Resource:
        try:
            return await run()
        except IntegrityError as error:
            if "resources_name" in str(error.orig):
                raise NameTaken() from None
            raise

    # --- hours -------------------------------------------------------------------------------

    async def opening_hours(
        self, tenant_id: str, resource_id: str, first: date | None, last: date | None
    ) -> tuple[OpeningHours, date, date]:
        """A resource's weekly hours and its exceptions of a span (default: a year from today)."""
        calendar = await self._tenants.calendar(tenant_id)
        start, end = exception_span(first, last, calendar.today(self._clock()))
        async with self._store.tenant(tenant_id) as tx:
            await tx.resource(resource_id)
            weekly = await tx.weekly_hours(resource_id)
            exceptions = await tx.hours_exceptions(resource_id, start, end)
        return OpeningHours(resource_id, weekly, exceptions), start, end

    async def set_opening_hours(
        self,
        tenant_id: str,
        resource_id: str,
        *,
        weekly: dict[int, tuple[TimeRange, ...]],
        span: tuple[date, date],
        exceptions: tuple[HoursException, ...],
    ) -> OpeningHours:
        """Replaces a resource's weekly hours, and its exceptions within `span`, in one transaction.
        Bookings already made keep their times."""

        async def write(tx: BookingTx) -> OpeningHours:
            await tx.resource(resource_id, for_update=True)
            await tx.replace_weekly(resource_id, weekly)
            await tx.replace_exceptions(resource_id, span[0], span[1], exceptions)
            return OpeningHours(
                resource_id,
                await tx.weekly_hours(resource_id),
                await tx.hours_exceptions(resource_id, span[0], span[1]),
            )

        return await self._change(tenant_id, write)


def _resource_position(cursor: str) -> tuple[bool, str, str] | None:
    parts = paging.decode_parts(cursor, 3)
    if parts is None:
        return None
    flag, name, resource_id = parts
    if flag not in (0, 1) or not isinstance(name, str) or not isinstance(resource_id, str):
        raise paging.invalid_cursor()
    return bool(flag), name, resource_id
