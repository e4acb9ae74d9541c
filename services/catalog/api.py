"""The catalog service's gRPC servicer: proto <-> domain, no SQL, no business rules."""

from __future__ import annotations

from dataclasses import replace

import grpc
from mais.catalog.v1 import catalog_service_pb2 as pb
from mais.catalog.v1 import catalog_service_pb2_grpc as pb_grpc
from mais.common.v1 import types_pb2

from mais_runtime.change_feed import ChangeFanout, serve_changes
from mais_runtime.errors import ValidationError
from mais_runtime.payment_policy import PaymentPolicy
from mais_runtime.proto_time import timestamp
from mais_runtime.slot_terms import SlotTerms
from services.catalog.domain import (
    AddOn,
    AddOnDraft,
    Package,
    PackageDraft,
    PackageKind,
    Photo,
    Quote,
    Segment,
    SegmentDraft,
)
from services.catalog.public import PublicCatalog
from services.catalog.use_cases import CatalogAdmin

Context = grpc.aio.ServicerContext


class CatalogServicer(pb_grpc.CatalogServiceServicer):
    """Every RPC of mais.catalog.v1.CatalogService (see the proto for the contract)."""

    def __init__(
        self, admin: CatalogAdmin, public: PublicCatalog, *, changes: ChangeFanout | None = None
    ) -> None:
        self._admin = admin
        self._public = public
        self._changes = changes

    async def WatchChanges(  # type: ignore[override]  # writes with context.write, returns nothing
        self, request: pb.WatchChangesRequest, context: grpc.aio.ServicerContext
    ) -> None:
        """The tenants whose data changed, as a stream (mais_runtime/change_feed.py)."""
        await serve_changes(self._changes, context, pb.WatchChangesResponse)

    # --- public --------------------------------------------------------------------------------

    async def ListPublicPackages(
        self, request: pb.ListPublicPackagesRequest, context: Context
    ) -> pb.ListPublicPackagesResponse:
        """A page of the tenant's offered packages with their active add-ons (cached per tenant)."""
        return await self._public.page(request.tenant_id, request.page_size, request.page_token, _public_page)

    async def GetPublicPackage(
        self, request: pb.GetPublicPackageRequest, context: Context
    ) -> pb.GetPublicPackageResponse:
        """One offered package by slug with its active add-ons (cached per tenant)."""
        return await self._public.package(
            request.tenant_id, request.slug, lambda p: pb.GetPublicPackageResponse(package=_package(p))
        )

    async def Quote(self, request: pb.QuoteRequest, context: Context) -> pb.QuoteResponse:
        """A priced snapshot of a package and add-ons, from the database."""
        quote = await self._admin.quote(request.tenant_id, request.package_id, list(request.add_on_ids))
        return pb.QuoteResponse(quote=_quote(quote))

    # --- segments --------------------------------------------------------------------------------

    async def ListSegments(
        self, request: pb.ListSegmentsRequest, context: Context
    ) -> pb.ListSegmentsResponse:
        """A page of the tenant's segments."""
        items, token = await self._admin.list_segments(
            request.tenant_id, request.page_size, request.page_token
        )
        return pb.ListSegmentsResponse(segments=[_segment(s) for s in items], next_page_token=token)

    async def GetSegment(self, request: pb.GetSegmentRequest, context: Context) -> pb.GetSegmentResponse:
        """One segment."""
        segment = await self._admin.get_segment(request.tenant_id, request.segment_id)
        return pb.GetSegmentResponse(segment=_segment(segment))

    async def CreateSegment(
        self, request: pb.CreateSegmentRequest, context: Context
    ) -> pb.CreateSegmentResponse:
        """A new segment."""
        segment = await self._admin.create_segment(request.tenant_id, _segment_draft(request.segment))
        return pb.CreateSegmentResponse(segment=_segment(segment))

    async def UpdateSegment(
        self, request: pb.UpdateSegmentRequest, context: Context
    ) -> pb.UpdateSegmentResponse:
        """The masked fields of a segment, with optimistic concurrency."""
        segment = await self._admin.update_segment(
            request.tenant_id,
            request.segment.id,
            _segment_draft(request.segment),
            list(request.update_mask),
            request.expected_version,
        )
        return pb.UpdateSegmentResponse(segment=_segment(segment))

    async def DeleteSegment(
        self, request: pb.DeleteSegmentRequest, context: Context
    ) -> pb.DeleteSegmentResponse:
        """Removes a segment no package belongs to."""
        await self._admin.delete_segment(request.tenant_id, request.segment_id)
        return pb.DeleteSegmentResponse()

    # --- packages --------------------------------------------------------------------------------

    async def ListPackages(
        self, request: pb.ListPackagesRequest, context: Context
    ) -> pb.ListPackagesResponse:
        """A page of the tenant's packages, active or not."""
        items, token = await self._admin.list_packages(
            request.tenant_id, request.page_size, request.page_token
        )
        return pb.ListPackagesResponse(packages=[_package(p) for p in items], next_page_token=token)

    async def GetPackage(self, request: pb.GetPackageRequest, context: Context) -> pb.GetPackageResponse:
        """One package, active or not."""
        package = await self._admin.get_package(request.tenant_id, request.package_id)
        return pb.GetPackageResponse(package=_package(package))

    async def CreatePackage(
        self, request: pb.CreatePackageRequest, context: Context
    ) -> pb.CreatePackageResponse:
        """A new package in the currency it names, else the tenant's currency now; kind unset: a
        whole day."""
        package = await self._admin.create_package(request.tenant_id, _package_draft(request.package))
        return pb.CreatePackageResponse(package=_package(package))

    async def UpdatePackage(
        self, request: pb.UpdatePackageRequest, context: Context
    ) -> pb.UpdatePackageResponse:
        """The masked fields of a package, with optimistic concurrency; "payment_policy" in the mask
        sets the package's own terms, or with clear_payment_policy drops them (the tenant's apply);
        "kind" (refused with IN_USE while live bookings exist) and "slot" (the whole terms)."""
        if "kind" in request.update_mask and request.package.kind == pb.PACKAGE_KIND_UNSPECIFIED:
            raise ValidationError.of("kind", "must be DAY or SLOT")
        change = _package_draft(request.package)
        if "payment_policy" in request.update_mask and not request.clear_payment_policy:
            if change.payment_policy is None:
                raise ValidationError.of(
                    "paymentPolicy", "is required (or clear_payment_policy, to use the tenant's terms)"
                )
        elif request.clear_payment_policy:
            change = replace(change, payment_policy=None)
        package = await self._admin.update_package(
            request.tenant_id,
            request.package.id,
            change,
            list(request.update_mask),
            request.expected_version,
        )
        return pb.UpdatePackageResponse(package=_package(package))

    async def DeletePackage(
        self, request: pb.DeletePackageRequest, context: Context
    ) -> pb.DeletePackageResponse:
        """Removes a package no live booking refers to (IN_USE otherwise)."""
        await self._admin.delete_package(request.tenant_id, request.package_id)
        return pb.DeletePackageResponse()

    # --- add-ons ---------------------------------------------------------------------------------

    async def ListAddOns(self, request: pb.ListAddOnsRequest, context: Context) -> pb.ListAddOnsResponse:
        """A page of the tenant's add-ons, active or not."""
        items, token = await self._admin.list_add_ons(
            request.tenant_id, request.page_size, request.page_token
        )
        return pb.ListAddOnsResponse(add_ons=[_add_on(a) for a in items], next_page_token=token)

    async def GetAddOn(self, request: pb.GetAddOnRequest, context: Context) -> pb.GetAddOnResponse:
        """One add-on with the packages it is offered with."""
        add_on = await self._admin.get_add_on(request.tenant_id, request.add_on_id)
        return pb.GetAddOnResponse(add_on=_add_on(add_on))

    async def CreateAddOn(self, request: pb.CreateAddOnRequest, context: Context) -> pb.CreateAddOnResponse:
        """A new add-on in the currency it names, else the tenant's currency now."""
        add_on = await self._admin.create_add_on(request.tenant_id, _add_on_draft(request.add_on))
        return pb.CreateAddOnResponse(add_on=_add_on(add_on))

    async def UpdateAddOn(self, request: pb.UpdateAddOnRequest, context: Context) -> pb.UpdateAddOnResponse:
        """The masked fields of an add-on, with optimistic concurrency."""
        add_on = await self._admin.update_add_on(
            request.tenant_id,
            request.add_on.id,
            _add_on_draft(request.add_on),
            list(request.update_mask),
            request.expected_version,
        )
        return pb.UpdateAddOnResponse(add_on=_add_on(add_on))

    async def DeleteAddOn(self, request: pb.DeleteAddOnRequest, context: Context) -> pb.DeleteAddOnResponse:
        """Removes an add-on."""
        await self._admin.delete_add_on(request.tenant_id, request.add_on_id)
        return pb.DeleteAddOnResponse()


# --- proto -> domain -----------------------------------------------------------------------------


def _segment_draft(message: pb.Segment) -> SegmentDraft:
    return SegmentDraft(message.slug, message.name, message.description, message.sort_order, message.active)


def _package_draft(message: pb.Package) -> PackageDraft:
    return PackageDraft(
        slug=message.slug,
        title=message.title,
        price_cents=message.price_cents,
        description=message.description,
        active=message.active,
        sort_order=message.sort_order,
        photos=tuple(Photo(p.url, p.alt) for p in message.photos),
        segment_id=message.segment_id or None,
        max_guests=message.max_guests,
        currency=message.currency,
        payment_policy=_own_payment_policy(message),
        kind=_KIND_OF_PROTO.get(message.kind, PackageKind.DAY),
        slot=SlotTerms.from_proto(message.slot) if message.HasField("slot") else None,
    )


_KIND_TO_PROTO = {PackageKind.DAY: pb.PACKAGE_KIND_DAY, PackageKind.SLOT: pb.PACKAGE_KIND_SLOT}
# Unset (a caller from before time slots) is a whole day.
_KIND_OF_PROTO = {pb.PACKAGE_KIND_UNSPECIFIED: PackageKind.DAY, **{v: k for k, v in _KIND_TO_PROTO.items()}}


def _own_payment_policy(message: pb.Package) -> PaymentPolicy | None:
    """A package's own terms off the wire; None when unset (the tenant's apply). Unlike a tenant's,
    an unset message here is not "pay in full"."""
    if message.payment_policy.deposit_kind == types_pb2.DEPOSIT_KIND_UNSPECIFIED:
        return None
    return PaymentPolicy.from_proto(message.payment_policy)


def _add_on_draft(message: pb.AddOn) -> AddOnDraft:
    return AddOnDraft(
        message.slug,
        message.title,
        message.price_cents,
        message.active,
        tuple(message.package_ids),
        message.currency,
    )


# --- domain -> proto -----------------------------------------------------------------------------


def _segment(segment: Segment) -> pb.Segment:
    d = segment.draft
    return pb.Segment(
        slug=d.slug,
        name=d.name,
        description=d.description,
        sort_order=d.sort_order,
        active=d.active,
        id=segment.stamp.id,
        version=segment.stamp.version,
        updated_at=timestamp(segment.stamp.updated_at),
    )


def _package(package: Package) -> pb.Package:
    d = package.draft
    return pb.Package(
        slug=d.slug,
        title=d.title,
        description=d.description,
        price_cents=d.price_cents,
        currency=package.currency,
        active=d.active,
        sort_order=d.sort_order,
        photos=[pb.Photo(url=p.url, alt=p.alt) for p in d.photos],
        segment_id=d.segment_id or "",
        max_guests=d.max_guests,
        payment_policy=d.payment_policy.to_proto() if d.payment_policy else None,
        kind=_KIND_TO_PROTO[d.kind],
        slot=d.slot.to_proto() if d.slot else None,
        add_ons=[
            pb.AddOn(
                id=a.id,
                slug=a.slug,
                title=a.title,
                price_cents=a.price_cents,
                currency=a.currency,
                active=True,
            )
            for a in package.add_ons
        ],
        id=package.stamp.id,
        version=package.stamp.version,
        updated_at=timestamp(package.stamp.updated_at),
    )


def _add_on(add_on: AddOn) -> pb.AddOn:
    d = add_on.draft
    return pb.AddOn(
        slug=d.slug,
        title=d.title,
        price_cents=d.price_cents,
        currency=add_on.currency,
        active=d.active,
        package_ids=list(d.package_ids),
        id=add_on.stamp.id,
        version=add_on.stamp.version,
        updated_at=timestamp(add_on.stamp.updated_at),
    )


def _public_page(
    packages: list[Package], segments: list[Segment], token: str
) -> pb.ListPublicPackagesResponse:
    return pb.ListPublicPackagesResponse(
        packages=[_package(p) for p in packages],
        next_page_token=token,
        segments=[_segment(s) for s in segments],
    )


def _quote(quote: Quote) -> pb.QuoteSnapshot:
    return pb.QuoteSnapshot(
        package_id=quote.package_id,
        lines=[
            pb.QuoteLine(
                kind=line.kind,
                id=line.id,
                slug=line.slug,
                title=line.title,
                price_cents=line.price_cents,
                version=line.version,
            )
            for line in quote.lines
        ],
        total_cents=quote.total_cents,
        currency=quote.currency,
        hash=quote.hash,
        quoted_at=timestamp(quote.quoted_at),
        payment_policy=quote.payment_policy.to_proto() if quote.payment_policy else None,
        kind=_KIND_TO_PROTO[quote.kind],
        slot=quote.slot.to_proto() if quote.slot else None,
    )
