"""REST routes of the catalog context (see ../shared/DESIGN.md, public REST contract): the widget's
packages with their add-ons and prices, and a tenant admin's segments, packages and add-ons.

Admin objects carry a `version`; single-object answers also carry it as `ETag: "<version>"`. A PATCH
that sends the version it read (in the body, or as `If-Match`) is refused with 409 VERSION_CONFLICT
when someone changed the object since; without one, the last write wins. Nothing here is cached: the
catalog service's own per-tenant cache is what keeps public reads fast and fresh within 1 s.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from mais.catalog.v1 import catalog_service_pb2 as pb
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt
from pydantic.alias_generators import to_camel
from starlette.responses import Response

from gateway.auth import AdminContext, TenantContext, tenant_admin
from gateway.errors import ApiError
from gateway.key_lookups import public_tenant_once
from gateway.payment_terms import changed_terms, own_terms_json, with_fresh_read
from gateway.read_cache import cached_public_read
from mais_runtime.errors import FieldViolation, ValidationError
from mais_runtime.payment_policy import PaymentPolicy
from mais_runtime.proto_time import json_time as _time
from mais_runtime.slot_terms import SlotTerms

router = APIRouter(tags=["catalog"])

# Public reads come in bursts per key: one tenant-service lookup per key at a time.
PublicTenant = Annotated[TenantContext, Depends(public_tenant_once)]
TenantAdmin = Annotated[AdminContext, Depends(tenant_admin)]
# Ids and slugs are checked by the service (a malformed one names nothing: 404); the bound only keeps
# absurd paths out.
ObjectId = Annotated[str, Path(max_length=64)]
Slug = Annotated[str, Path(max_length=128)]
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str, Query(max_length=400)]
IfMatch = Annotated[str, Header(alias="If-Match", max_length=64)]

# The JSON-level bounds only keep values representable and bodies small; the catalog's own rules
# (price 0-99,999,999, slug shape, lengths) answer with their precise per-field messages.
Int64 = Annotated[StrictInt, Field(ge=-(2**63), le=2**63 - 1)]
Int32 = Annotated[StrictInt, Field(ge=-(2**31), le=2**31 - 1)]
ShortText = Annotated[str, Field(max_length=1000)]
LongText = Annotated[str, Field(max_length=20000)]
Version = Annotated[StrictInt, Field(ge=1, le=2**63 - 1)]
Currency = Annotated[str, Field(max_length=16)]
Kind = Literal["DAY", "SLOT"]
_ETAG = re.compile(r'^(?:W/)?"?(\d{1,19})"?$')


class _Body(BaseModel):
    """camelCase JSON bodies; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=False)


class PhotoBody(_Body):
    url: Annotated[str, Field(max_length=4000)]
    alt: ShortText = ""


class SegmentBody(_Body):
    slug: ShortText
    name: ShortText
    description: LongText | None = None
    sort_order: Int32 | None = None
    active: StrictBool | None = None


class SegmentPatch(_Body):
    slug: ShortText | None = None
    name: ShortText | None = None
    description: LongText | None = None
    sort_order: Int32 | None = None
    active: StrictBool | None = None
    version: Version | None = None


class PackageBody(_Body):
    slug: ShortText
    title: ShortText
    description: LongText | None = None
    price_cents: Int64
    active: StrictBool | None = None
    segment_id: Annotated[str, Field(max_length=64)] | None = None
    photos: Annotated[list[PhotoBody], Field(max_length=100)] | None = None
    max_guests: Int32 | None = None
    sort_order: Int32 | None = None
    currency: Currency | None = None
    # The package's own deposit and balance terms (mais_runtime.payment_policy's JSON, unnamed
    # fields at their defaults); absent or null: the tenant's terms apply.
    payment_policy: dict[str, Any] | None = None
    # A whole day (the default) or a time-slot service with its terms (mais_runtime.slot_terms'
    # JSON; required for SLOT, refused for DAY).
    kind: Kind | None = None
    slot: dict[str, Any] | None = None


class PackagePatch(_Body):
    slug: ShortText | None = None
    title: ShortText | None = None
    description: LongText | None = None
    price_cents: Int64 | None = None
    active: StrictBool | None = None
    segment_id: Annotated[str, Field(max_length=64)] | None = None
    photos: Annotated[list[PhotoBody], Field(max_length=100)] | None = None
    max_guests: Int32 | None = None
    sort_order: Int32 | None = None
    currency: Currency | None = None
    # Any subset of the fields of the package's own terms (of the defaults when it has none yet);
    # null drops them: the tenant's terms apply again.
    payment_policy: dict[str, Any] | None = None
    # A new kind (refused with 409 IN_USE while live bookings were sold with the package); "DAY"
    # drops the slot terms. `slot` replaces the terms as a whole (unnamed fields at their defaults).
    kind: Kind | None = None
    slot: dict[str, Any] | None = None
    version: Version | None = None


class AddOnBody(_Body):
    slug: ShortText
    title: ShortText
    price_cents: Int64
    active: StrictBool | None = None
    package_ids: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=500)] = []
    currency: Currency | None = None


class AddOnPatch(_Body):
    slug: ShortText | None = None
    title: ShortText | None = None
    price_cents: Int64 | None = None
    active: StrictBool | None = None
    package_ids: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=500)] | None = None
    currency: Currency | None = None
    version: Version | None = None


# --- JSON shapes -----------------------------------------------------------------------------


def _photos_json(photos: Any) -> list[dict[str, str]]:
    return [{"url": p.url, "alt": p.alt} for p in photos]


def segment_json(segment: pb.Segment) -> dict[str, Any]:
    """A segment as its admin sees it: what couples see, and whether it is on offer, its version."""
    return {
        **public_segment_json(segment),
        "active": segment.active,
        "version": segment.version,
        "updatedAt": _time(segment.updated_at),
    }


def package_json(package: pb.Package) -> dict[str, Any]:
    """A package as its admin sees it."""
    return {
        "id": package.id,
        "slug": package.slug,
        "title": package.title,
        "description": package.description,
        "priceCents": package.price_cents,
        "currency": package.currency,
        "active": package.active,
        "sortOrder": package.sort_order,
        "photos": _photos_json(package.photos),
        "segmentId": package.segment_id or None,
        "maxGuests": package.max_guests or None,
        "paymentPolicy": own_terms_json(package.payment_policy),
        **kind_json(package, with_resource=True),
        "version": package.version,
        "updatedAt": _time(package.updated_at),
    }


def kind_json(package: pb.Package, *, with_resource: bool) -> dict[str, Any]:
    """`kind` ("DAY" or "SLOT") and `slot` (the terms, null for a whole day); couples see no resource
    ids (the slots route answers which resource it lists)."""
    if package.kind != pb.PACKAGE_KIND_SLOT:
        return {"kind": "DAY", "slot": None}
    terms = SlotTerms.from_proto(package.slot).to_json()
    if not with_resource:
        del terms["resourceId"]
    return {"kind": "SLOT", "slot": terms}


def public_segment_json(segment: pb.Segment) -> dict[str, Any]:
    """A segment (business line) as couples see it: the widget's tabs."""
    return {
        "id": segment.id,
        "slug": segment.slug,
        "name": segment.name,
        "description": segment.description,
        "sortOrder": segment.sort_order,
    }


def public_package_json(package: pb.Package) -> dict[str, Any]:
    """A package as couples see it: what is offered and what it costs, with its add-ons."""
    return {
        "id": package.id,
        "slug": package.slug,
        "title": package.title,
        "description": package.description,
        "priceCents": package.price_cents,
        "currency": package.currency,
        "sortOrder": package.sort_order,
        "photos": _photos_json(package.photos),
        "segmentId": package.segment_id or None,
        "maxGuests": package.max_guests or None,
        **kind_json(package, with_resource=False),
        "addOns": [
            {
                "id": a.id,
                "slug": a.slug,
                "title": a.title,
                "priceCents": a.price_cents,
                "currency": a.currency,
            }
            for a in package.add_ons
        ],
    }


def add_on_json(add_on: pb.AddOn) -> dict[str, Any]:
    """An add-on as its admin sees it, with the packages it is offered with."""
    return {
        "id": add_on.id,
        "slug": add_on.slug,
        "title": add_on.title,
        "priceCents": add_on.price_cents,
        "currency": add_on.currency,
        "active": add_on.active,
        "packageIds": list(add_on.package_ids),
        "version": add_on.version,
        "updatedAt": _time(add_on.updated_at),
    }


def _versioned(body: dict[str, Any], status_code: int = 200, location: str = "") -> Response:
    headers = {"ETag": f'"{body["version"]}"'}
    if location:
        headers["Location"] = location
    return Response(
        orjson.dumps(body), status_code=status_code, media_type="application/json", headers=headers
    )


# --- request helpers -------------------------------------------------------------------------


def _expected_version(body_version: int | None, if_match: str) -> int:
    """The version the client read, from the body or `If-Match`; 0 when it sent none (or `*`)."""
    header_version = 0
    if if_match.strip() and if_match.strip() != "*":
        match = _ETAG.match(if_match.strip())
        if not match or int(match.group(1)) < 1:
            raise ApiError(
                "VALIDATION_ERROR",
                "If-Match must be an ETag this API returned",
                [FieldViolation("If-Match", 'must look like "<version>"')],
            )
        header_version = int(match.group(1))
    if body_version and header_version and body_version != header_version:
        raise ApiError(
            "VALIDATION_ERROR",
            "the body's version and If-Match disagree",
            [FieldViolation("version", "differs from If-Match")],
        )
    return body_version or header_version


# Fields a PATCH may set to null, and what null means for each.
_NULL_MEANS = {"description": "", "segment_id": "", "max_guests": 0, "payment_policy": None, "slot": None}


def _mask(body: BaseModel) -> list[str]:
    """The proto field names the PATCH body carried (its update mask); a null is refused except
    where it means "none"."""
    mask = [name for name in body.model_fields_set if name != "version"]
    problems = [
        FieldViolation(to_camel(name), "cannot be null")
        for name in mask
        if getattr(body, name) is None and name not in _NULL_MEANS
    ]
    if problems:
        raise ApiError("VALIDATION_ERROR", "the request is not valid", problems)
    if not mask:
        raise ApiError("VALIDATION_ERROR", "the body names no field to change")
    return mask


def _value(body: BaseModel, name: str, default: Any) -> Any:
    value = getattr(body, name)
    if value is None:
        return _NULL_MEANS.get(name, default)
    return value


def _photos(photos: list[PhotoBody] | None) -> list[pb.Photo]:
    return [pb.Photo(url=p.url, alt=p.alt) for p in photos or []]


def _segment(body: SegmentBody | SegmentPatch, segment_id: str = "") -> pb.Segment:
    return pb.Segment(
        id=segment_id,
        slug=_value(body, "slug", ""),
        name=_value(body, "name", ""),
        description=_value(body, "description", ""),
        sort_order=_value(body, "sort_order", 0),
        active=_value(body, "active", True),
    )


_KINDS = {"DAY": pb.PACKAGE_KIND_DAY, "SLOT": pb.PACKAGE_KIND_SLOT}


def _slot_terms(body: dict[str, Any] | None) -> pb.SlotTerms | None:
    """The terms a body sends, on the wire (every field it leaves out at its default; no duration
    is a missing duration, which the catalog names); 400 naming each unknown or mistyped field."""
    if body is None:
        return None
    try:
        return SlotTerms(duration_minutes=0).changed(body).to_proto()
    except ValidationError as invalid:
        raise ApiError("VALIDATION_ERROR", invalid.message, invalid.fields) from None


def _package(body: PackageBody | PackagePatch, package_id: str = "") -> pb.Package:
    return pb.Package(
        id=package_id,
        slug=_value(body, "slug", ""),
        title=_value(body, "title", ""),
        description=_value(body, "description", ""),
        price_cents=_value(body, "price_cents", 0),
        active=_value(body, "active", True),
        sort_order=_value(body, "sort_order", 0),
        photos=_photos(body.photos),
        segment_id=_value(body, "segment_id", ""),
        max_guests=_value(body, "max_guests", 0),
        currency=_value(body, "currency", ""),
        kind=_KINDS.get(body.kind or "", pb.PACKAGE_KIND_UNSPECIFIED),
        slot=_slot_terms(body.slot),
    )


def _add_on(body: AddOnBody | AddOnPatch, add_on_id: str = "") -> pb.AddOn:
    return pb.AddOn(
        id=add_on_id,
        slug=_value(body, "slug", ""),
        title=_value(body, "title", ""),
        price_cents=_value(body, "price_cents", 0),
        active=_value(body, "active", True),
        package_ids=body.package_ids or [],
        currency=_value(body, "currency", ""),
    )


# --- public ----------------------------------------------------------------------------------


# Public reads answer with bytes serialised once by orjson (FastAPI would otherwise validate and
# re-encode the returned dict); `response_model` keeps the documented shape. They go through the
# gateway's micro-cache (gateway/read_cache.py, at most 0.5 s old per tenant): with the catalog's own
# cache dropped at commit, every replica serves an admin's change within the promised second.


@router.get(
    "/v1/packages",
    summary="The business's packages with their add-ons and prices",
    response_model=dict[str, Any],
)
async def list_public_packages(
    request: Request, ctx: PublicTenant, limit: Limit = 50, cursor: Cursor = ""
) -> Response:
    """Active packages in the business's order, `limit` at a time; pass `nextCursor` back as `cursor`.
    `segments` lists the business lines (active segments) the page's packages belong to, in order."""

    async def render() -> bytes:
        answer = await request.app.state.clients.catalog.ListPublicPackages(
            pb.ListPublicPackagesRequest(tenant_id=ctx.tenant_id, page_size=limit, page_token=cursor)
        )
        return orjson.dumps(
            {
                "items": [public_package_json(p) for p in answer.packages],
                "segments": [public_segment_json(s) for s in answer.segments],
                "nextCursor": answer.next_page_token or None,
            }
        )

    return await cached_public_read(request, ctx.tenant_id, render)


@router.get(
    "/v1/packages/{slug}", summary="One package with its add-ons and prices", response_model=dict[str, Any]
)
async def get_public_package(request: Request, ctx: PublicTenant, slug: Slug) -> Response:
    """404 NOT_FOUND for a package that is unknown or not on offer."""

    async def render() -> bytes:
        answer = await request.app.state.clients.catalog.GetPublicPackage(
            pb.GetPublicPackageRequest(tenant_id=ctx.tenant_id, slug=slug)
        )
        return orjson.dumps(public_package_json(answer.package))

    return await cached_public_read(request, ctx.tenant_id, render)


# --- tenant admin: segments ------------------------------------------------------------------


@router.get("/v1/tenant-admin/segments", summary="The tenant's segments (business lines)")
async def list_segments(
    request: Request, admin: TenantAdmin, limit: Limit = 50, cursor: Cursor = ""
) -> dict[str, Any]:
    """Segments in sort order, `limit` at a time."""
    answer = await request.app.state.clients.catalog.ListSegments(
        pb.ListSegmentsRequest(tenant_id=admin.tenant_id, page_size=limit, page_token=cursor)
    )
    return {"items": [segment_json(s) for s in answer.segments], "nextCursor": answer.next_page_token or None}


@router.post("/v1/tenant-admin/segments", status_code=201, summary="Create a segment")
async def create_segment(request: Request, admin: TenantAdmin, body: SegmentBody) -> Response:
    """`{slug, name, description?, sortOrder?, active?}`; 409 SLUG_TAKEN for a slug in use."""
    answer = await request.app.state.clients.catalog.CreateSegment(
        pb.CreateSegmentRequest(tenant_id=admin.tenant_id, segment=_segment(body))
    )
    segment = segment_json(answer.segment)
    return _versioned(segment, 201, f"/v1/tenant-admin/segments/{segment['id']}")


@router.get("/v1/tenant-admin/segments/{segment_id}", summary="One segment")
async def get_segment(request: Request, admin: TenantAdmin, segment_id: ObjectId) -> Response:
    """The segment, with its version as the ETag."""
    answer = await request.app.state.clients.catalog.GetSegment(
        pb.GetSegmentRequest(tenant_id=admin.tenant_id, segment_id=segment_id)
    )
    return _versioned(segment_json(answer.segment))


@router.patch("/v1/tenant-admin/segments/{segment_id}", summary="Change a segment")
async def patch_segment(
    request: Request, admin: TenantAdmin, segment_id: ObjectId, body: SegmentPatch, if_match: IfMatch = ""
) -> Response:
    """Any subset of the fields; 409 VERSION_CONFLICT when the version sent is stale."""
    answer = await request.app.state.clients.catalog.UpdateSegment(
        pb.UpdateSegmentRequest(
            tenant_id=admin.tenant_id,
            segment=_segment(body, segment_id),
            update_mask=_mask(body),
            expected_version=_expected_version(body.version, if_match),
        )
    )
    return _versioned(segment_json(answer.segment))


@router.delete("/v1/tenant-admin/segments/{segment_id}", status_code=204, summary="Delete a segment")
async def delete_segment(request: Request, admin: TenantAdmin, segment_id: ObjectId) -> Response:
    """409 IN_USE while packages belong to it."""
    await request.app.state.clients.catalog.DeleteSegment(
        pb.DeleteSegmentRequest(tenant_id=admin.tenant_id, segment_id=segment_id)
    )
    return Response(status_code=204)


# --- tenant admin: packages ------------------------------------------------------------------


@router.get("/v1/tenant-admin/packages", summary="The tenant's packages, active or not")
async def list_packages(
    request: Request, admin: TenantAdmin, limit: Limit = 50, cursor: Cursor = ""
) -> dict[str, Any]:
    """Packages in sort order, `limit` at a time."""
    answer = await request.app.state.clients.catalog.ListPackages(
        pb.ListPackagesRequest(tenant_id=admin.tenant_id, page_size=limit, page_token=cursor)
    )
    return {"items": [package_json(p) for p in answer.packages], "nextCursor": answer.next_page_token or None}


@router.post("/v1/tenant-admin/packages", status_code=201, summary="Create a package")
async def create_package(request: Request, admin: TenantAdmin, body: PackageBody) -> Response:
    """`{slug, title, description?, priceCents, currency?, active?, segmentId?, photos?, maxGuests?,
    sortOrder?, paymentPolicy?, kind?, slot?}`, priced in `currency` or else the tenant's currency now
    (kept whatever the settings say later); an active package needs a price above 0; `kind` "SLOT"
    needs `slot` `{durationMinutes, bufferBeforeMinutes?, bufferAfterMinutes?, intervalMinutes?,
    leadTimeMinutes?, resourceId?}` (null resource: the tenant's default); 409 SLUG_TAKEN for a slug
    in use."""
    package_pb = _package(body)
    if body.payment_policy is not None:
        package_pb.payment_policy.CopyFrom(changed_terms(PaymentPolicy(), body.payment_policy))
    answer = await request.app.state.clients.catalog.CreatePackage(
        pb.CreatePackageRequest(tenant_id=admin.tenant_id, package=package_pb)
    )
    package = package_json(answer.package)
    return _versioned(package, 201, f"/v1/tenant-admin/packages/{package['id']}")


@router.get("/v1/tenant-admin/packages/{package_id}", summary="One package")
async def get_package(request: Request, admin: TenantAdmin, package_id: ObjectId) -> Response:
    """The package, active or not, with its version as the ETag."""
    answer = await request.app.state.clients.catalog.GetPackage(
        pb.GetPackageRequest(tenant_id=admin.tenant_id, package_id=package_id)
    )
    return _versioned(package_json(answer.package))


@router.patch("/v1/tenant-admin/packages/{package_id}", summary="Change a package")
async def patch_package(
    request: Request, admin: TenantAdmin, package_id: ObjectId, body: PackagePatch, if_match: IfMatch = ""
) -> Response:
    """Any subset of the fields (null clears description, segmentId and maxGuests); what is left out
    stays as it is, the currency too (`currency` only together with `priceCents`); 409
    VERSION_CONFLICT when the version sent is stale. Every replica serves the change within 1 s.
    `paymentPolicy` changes the fields it names of the package's own terms (null: back to the
    tenant's). `kind` changes a whole-day package into a time-slot one (with `slot`) or back (its
    terms dropped), refused with 409 IN_USE while live bookings were sold with it; `slot` replaces
    the terms as a whole."""
    catalog = request.app.state.clients.catalog
    mask = _mask(body)
    expected = _expected_version(body.version, if_match)
    change = _package(body, package_id)

    async def write(version: int, clear_terms: bool = False) -> Response:
        answer = await catalog.UpdatePackage(
            pb.UpdatePackageRequest(
                tenant_id=admin.tenant_id,
                package=change,
                update_mask=mask,
                expected_version=version,
                clear_payment_policy=clear_terms,
            )
        )
        return _versioned(package_json(answer.package))

    if "payment_policy" not in mask:
        return await write(expected)
    if body.payment_policy is None:
        return await write(expected, clear_terms=True)

    async def read_change_write() -> Response:
        current = (
            await catalog.GetPackage(pb.GetPackageRequest(tenant_id=admin.tenant_id, package_id=package_id))
        ).package
        own = current.payment_policy
        terms = PaymentPolicy.from_proto(own) if current.HasField("payment_policy") else PaymentPolicy()
        change.payment_policy.CopyFrom(changed_terms(terms, body.payment_policy))
        return await write(expected or current.version)

    return await with_fresh_read(read_change_write, retry=not expected)


@router.delete("/v1/tenant-admin/packages/{package_id}", status_code=204, summary="Delete a package")
async def delete_package(request: Request, admin: TenantAdmin, package_id: ObjectId) -> Response:
    """409 IN_USE while live bookings were sold with it: deactivate it instead (`{"active": false}`)."""
    await request.app.state.clients.catalog.DeletePackage(
        pb.DeletePackageRequest(tenant_id=admin.tenant_id, package_id=package_id)
    )
    return Response(status_code=204)


# --- tenant admin: add-ons -------------------------------------------------------------------


@router.get("/v1/tenant-admin/add-ons", summary="The tenant's add-ons, active or not")
async def list_add_ons(
    request: Request, admin: TenantAdmin, limit: Limit = 50, cursor: Cursor = ""
) -> dict[str, Any]:
    """Add-ons by slug, `limit` at a time."""
    answer = await request.app.state.clients.catalog.ListAddOns(
        pb.ListAddOnsRequest(tenant_id=admin.tenant_id, page_size=limit, page_token=cursor)
    )
    return {"items": [add_on_json(a) for a in answer.add_ons], "nextCursor": answer.next_page_token or None}


@router.post("/v1/tenant-admin/add-ons", status_code=201, summary="Create an add-on")
async def create_add_on(request: Request, admin: TenantAdmin, body: AddOnBody) -> Response:
    """`{slug, title, priceCents, currency?, active?, packageIds}`: offered with those of the tenant's
    packages, which must be priced in the add-on's currency."""
    answer = await request.app.state.clients.catalog.CreateAddOn(
        pb.CreateAddOnRequest(tenant_id=admin.tenant_id, add_on=_add_on(body))
    )
    add_on = add_on_json(answer.add_on)
    return _versioned(add_on, 201, f"/v1/tenant-admin/add-ons/{add_on['id']}")


@router.get("/v1/tenant-admin/add-ons/{add_on_id}", summary="One add-on")
async def get_add_on(request: Request, admin: TenantAdmin, add_on_id: ObjectId) -> Response:
    """The add-on with its packages, and its version as the ETag."""
    answer = await request.app.state.clients.catalog.GetAddOn(
        pb.GetAddOnRequest(tenant_id=admin.tenant_id, add_on_id=add_on_id)
    )
    return _versioned(add_on_json(answer.add_on))


@router.patch("/v1/tenant-admin/add-ons/{add_on_id}", summary="Change an add-on")
async def patch_add_on(
    request: Request, admin: TenantAdmin, add_on_id: ObjectId, body: AddOnPatch, if_match: IfMatch = ""
) -> Response:
    """Any subset of the fields (`packageIds` replaces the list); 409 VERSION_CONFLICT when stale."""
    answer = await request.app.state.clients.catalog.UpdateAddOn(
        pb.UpdateAddOnRequest(
            tenant_id=admin.tenant_id,
            add_on=_add_on(body, add_on_id),
            update_mask=_mask(body),
            expected_version=_expected_version(body.version, if_match),
        )
    )
    return _versioned(add_on_json(answer.add_on))


@router.delete("/v1/tenant-admin/add-ons/{add_on_id}", status_code=204, summary="Delete an add-on")
async def delete_add_on(request: Request, admin: TenantAdmin, add_on_id: ObjectId) -> Response:
    """Quotes and bookings already made keep their price snapshot."""
    await request.app.state.clients.catalog.DeleteAddOn(
        pb.DeleteAddOnRequest(tenant_id=admin.tenant_id, add_on_id=add_on_id)
    )
    return Response(status_code=204)
