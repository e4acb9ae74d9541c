"""The catalog's use cases: a tenant admin's changes to segments, packages and add-ons, and quotes.

Each change runs in one write transaction (which tells every replica at commit), with bounded
retries on lock timeouts and deadlocks; afterwards this process drops the tenant's cached public
answers itself too, so its own next read is fresh without waiting for the notification.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from mais_runtime.db import with_retries
from mais_runtime.errors import ValidationError
from mais_runtime.paging import page_size
from services.catalog.domain import (
    AddOn,
    AddOnDraft,
    InUse,
    Package,
    PackageDraft,
    PackageKind,
    Quote,
    Segment,
    SegmentDraft,
    VersionConflict,
    apply_update,
    check_add_on,
    check_kind_change,
    check_offers,
    check_package,
    check_package_currency,
    check_quote_request,
    check_segment,
    check_version,
    decode_cursor,
    encode_cursor,
    parse_id,
    price_quote,
)
from services.catalog.store import CatalogStore, CatalogWrites

T = TypeVar("T")
P = TypeVar("P", PackageDraft, AddOnDraft)


class Currencies(Protocol):
    """Where a tenant's currency comes from (the tenant service): asked only when a package or
    add-on is created without a currency, never to read or update a price."""

    async def currency(self, tenant_id: str) -> str:
        """The tenant's lower-case ISO 4217 currency."""
        ...


class Bookings(Protocol):
    """Whether bookings refer to a package (the booking service)."""

    async def live_count(self, tenant_id: str, package_id: str) -> int:
        """How many live bookings were sold with the package."""
        ...


class CatalogAdmin:
    """A tenant admin's catalog, and the quotes checkout asks for."""

    def __init__(
        self,
        store: CatalogStore,
        currencies: Currencies,
        bookings: Bookings,
        changed: Callable[[str], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._currencies = currencies
        self._bookings = bookings
        self._changed = changed
        self._clock = clock

    async def _write(self, tenant_id: str, change: Callable[[CatalogWrites], Awaitable[T]]) -> T:
        async def attempt() -> T:
            async with self._store.writing(tenant_id) as tx:
                return await change(tx)

        result = await with_retries(attempt)
        self._changed(tenant_id)
        return result

    async def _priced(self, tenant_id: str, draft: P) -> P:
        """A new draft with its currency: the one it names, else the tenant's at this moment (asked
        only then, and never again for this item)."""
        if draft.currency:
            return draft
        return replace(draft, currency=await self._currencies.currency(tenant_id))

    # --- segments ----------------------------------------------------------------------------

    async def list_segments(self, tenant_id: str, size: int, token: str) -> tuple[list[Segment], str]:
        """A page of segments and the next page's token ("" on the last page)."""
        limit, after = page_size(size), decode_cursor(token)
        async with self._store.reading(tenant_id) as tx:
            items, position = await tx.segments(limit, after)
        return items, encode_cursor(position) if position else ""

    async def get_segment(self, tenant_id: str, segment_id: str) -> Segment:
        """One segment (NotFound for another tenant's)."""
        async with self._store.reading(tenant_id) as tx:
            return await tx.segment(parse_id(segment_id, "segment"))

    async def create_segment(self, tenant_id: str, draft: SegmentDraft) -> Segment:
        """A new segment."""
        draft = check_segment(draft)
        return await self._write(tenant_id, lambda tx: tx.insert_segment(draft))

    async def update_segment(
        self,
        tenant_id: str,
        segment_id: str,
        change: SegmentDraft,
        mask: Sequence[str],
        expected_version: int,
    ) -> Segment:
        """The segment with the masked fields changed, if `expected_version` (0: any) is current."""
        segment_id = parse_id(segment_id, "segment")

        async def update(tx: CatalogWrites) -> Segment:
            current = await tx.segment(segment_id, for_update=True)
            check_version("segment", expected_version, current.stamp.version)
            return await tx.save_segment(segment_id, check_segment(apply_update(current.draft, change, mask)))

        return await self._write(tenant_id, update)

    async def delete_segment(self, tenant_id: str, segment_id: str) -> None:
        """Removes a segment no package belongs to."""
        segment_id = parse_id(segment_id, "segment")
        await self._write(tenant_id, lambda tx: tx.delete_segment(segment_id))

    # --- packages ----------------------------------------------------------------------------

    async def list_packages(self, tenant_id: str, size: int, token: str) -> tuple[list[Package], str]:
        """A page of packages, active or not, and the next page's token."""
        limit, after = page_size(size), decode_cursor(token)
        async with self._store.reading(tenant_id) as tx:
            items, position = await tx.packages(limit, after)
        return items, encode_cursor(position) if position else ""

    async def get_package(self, tenant_id: str, package_id: str) -> Package:
        """One package, active or not (NotFound for another tenant's)."""
        async with self._store.reading(tenant_id) as tx:
            return await tx.package(parse_id(package_id, "package"))

    async def create_package(self, tenant_id: str, draft: PackageDraft) -> Package:
        """A new package, priced in the currency it names or else the tenant's currency now; the
        price keeps that currency whatever the tenant's settings say later."""
        # The shape first: a bad request is refused without asking the tenant service anything.
        draft = await self._priced(tenant_id, check_package(draft))

        async def create(tx: CatalogWrites) -> Package:
            await _check_segment(tx, draft.segment_id)
            return await tx.insert_package(draft)

        return await self._write(tenant_id, create)

    async def update_package(
        self,
        tenant_id: str,
        package_id: str,
        change: PackageDraft,
        mask: Sequence[str],
        expected_version: int,
    ) -> Package:
        """The package with the masked fields changed and every other field (its currency too) as
        it was, if `expected_version` (0: any) is current. A new kind is refused (IN_USE) while live
        bookings were sold with the package; a package made a whole day again drops its slot terms
        unless the mask names "slot" too."""
        package_id = parse_id(package_id, "package")
        counted_kind = None
        if "kind" in mask:
            # Asked before the write transaction (never hold a row lock across a call to another
            # service). A hold that lands meanwhile was quoted with the old kind and keeps it in its
            # snapshot: the booking stays consistent with what the couple bought.
            current = await self.get_package(tenant_id, package_id)
            counted_kind = current.draft.kind
            if change.kind is not counted_kind:
                live = await self._bookings.live_count(tenant_id, package_id)
                check_kind_change(current.draft.kind, change.kind, live)

        async def update(tx: CatalogWrites) -> Package:
            current = await tx.package(package_id, for_update=True)
            check_version("package", expected_version, current.stamp.version)
            if counted_kind is not None and current.draft.kind is not counted_kind:
                # Another admin changed the kind since the bookings were counted against it.
                raise VersionConflict("package", current.stamp.version)
            updated = apply_update(current.draft, change, mask)
            if updated.kind is PackageKind.DAY and "slot" not in mask:
                updated = replace(updated, slot=None)
            draft = check_package(updated)
            if draft.segment_id != current.draft.segment_id:
                await _check_segment(tx, draft.segment_id)
            if draft.currency != current.currency:
                check_package_currency(draft.currency, await tx.add_on_currencies(package_id))
            return await tx.save_package(package_id, draft)

        return await self._write(tenant_id, update)

    async def delete_package(self, tenant_id: str, package_id: str) -> None:
        """Removes a package no live booking was sold with; otherwise IN_USE (deactivate it)."""
        package_id = parse_id(package_id, "package")
        # Another tenant's id is NOT_FOUND here, before the booking service hears of it.
        await self.get_package(tenant_id, package_id)
        count = await self._bookings.live_count(tenant_id, package_id)
        if count:
            raise InUse(
                f"{count} live booking(s) were sold with this package; deactivate it instead of deleting it"
            )
        await self._write(tenant_id, lambda tx: tx.delete_package(package_id))

    # --- add-ons -----------------------------------------------------------------------------

    async def list_add_ons(self, tenant_id: str, size: int, token: str) -> tuple[list[AddOn], str]:
        """A page of add-ons, active or not, and the next page's token."""
        limit, after = page_size(size), decode_cursor(token)
        async with self._store.reading(tenant_id) as tx:
            items, position = await tx.add_ons(limit, after)
        return items, encode_cursor(position) if position else ""

    async def get_add_on(self, tenant_id: str, add_on_id: str) -> AddOn:
        """One add-on with its packages (NotFound for another tenant's)."""
        async with self._store.reading(tenant_id) as tx:
            return await tx.add_on(parse_id(add_on_id, "add-on"))

    async def create_add_on(self, tenant_id: str, draft: AddOnDraft) -> AddOn:
        """A new add-on, priced in the currency it names or else the tenant's currency now, offered
        with the tenant's packages named (all priced in that currency)."""
        draft = await self._priced(tenant_id, check_add_on(draft))

        async def create(tx: CatalogWrites) -> AddOn:
            await _check_offers(tx, draft)
            return await tx.insert_add_on(draft)

        return await self._write(tenant_id, create)

    async def update_add_on(
        self, tenant_id: str, add_on_id: str, change: AddOnDraft, mask: Sequence[str], expected_version: int
    ) -> AddOn:
        """The add-on with the masked fields changed and every other field (its currency too) as
        it was, if `expected_version` (0: any) is current."""
        add_on_id = parse_id(add_on_id, "add-on")

        async def update(tx: CatalogWrites) -> AddOn:
            current = await tx.add_on(add_on_id, for_update=True)
            check_version("add-on", expected_version, current.stamp.version)
            draft = check_add_on(apply_update(current.draft, change, mask))
            await _check_offers(tx, draft)
            return await tx.save_add_on(add_on_id, draft)

        return await self._write(tenant_id, update)

    async def delete_add_on(self, tenant_id: str, add_on_id: str) -> None:
        """Removes an add-on; quotes already taken keep their snapshot."""
        add_on_id = parse_id(add_on_id, "add-on")
        await self._write(tenant_id, lambda tx: tx.delete_add_on(add_on_id))

    # --- quotes ------------------------------------------------------------------------------

    async def quote(self, tenant_id: str, package_id: str, add_on_ids: Sequence[str]) -> Quote:
        """Prices a package and add-ons from the database as it is now (never from a cache)."""
        request = check_quote_request(package_id, add_on_ids)
        async with self._store.reading(tenant_id) as tx:
            package, add_ons = await tx.priced_items(request.package_id, request.add_on_ids)
        return price_quote(request, package, add_ons, self._clock())


async def _check_segment(tx: CatalogWrites, segment_id: str | None) -> None:
    if segment_id is not None and not await tx.segment_exists(segment_id):
        raise ValidationError.of("segmentId", "no such segment")


async def _check_offers(tx: CatalogWrites, draft: AddOnDraft) -> None:
    problems = check_offers(draft, await tx.package_currencies(draft.package_ids))
    if problems:
        raise ValidationError("the add-on cannot be offered with some of these packages", problems)
