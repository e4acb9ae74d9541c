"""REST routes of time slots (issue 16): the widget's bookable starts of a time-slot service, and a
tenant admin's resources (a person, a room) with their weekly opening hours and date exceptions.

Times are answered in RFC 3339 with the tenant's offset at that instant ("2027-03-28T03:00:00+02:00"),
so a start and its end can carry different offsets across a clock change."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from mais.booking.v1 import booking_service_pb2 as pb
from mais.catalog.v1 import catalog_service_pb2 as catalog_pb
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from pydantic.alias_generators import to_camel
from starlette.responses import Response

from gateway.auth import AdminContext, TenantContext, tenant_admin
from gateway.errors import ApiError
from gateway.instants import local_time, zone_of
from gateway.key_lookups import public_tenant_once
from gateway.read_cache import cached_public_read
from mais_runtime.errors import FieldViolation

router = APIRouter(tags=["slots"])

PublicTenant = Annotated[TenantContext, Depends(public_tenant_once)]
TenantAdmin = Annotated[AdminContext, Depends(tenant_admin)]
# Ids are checked by the services; the bound only keeps absurd paths out.
ResourceId = Annotated[str, Path(max_length=64)]
DateParam = Annotated[str, Query(max_length=10)]
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str, Query(max_length=300)]


class _Body(BaseModel):
    """camelCase JSON bodies; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=False)


class ResourceBody(_Body):
    name: StrictStr = Field(max_length=200)


class ResourcePatch(_Body):
    name: StrictStr | None = Field(default=None, max_length=200)
    # Strict: "yes" or "1" are refused rather than read as true or 1.
    active: StrictBool | None = None
    # The version the admin read (optional: without it, the last write wins).
    version: StrictInt | None = Field(default=None, ge=1, le=2**63 - 1)


class RangeBody(_Body):
    opens: StrictStr = Field(max_length=5)
    closes: StrictStr = Field(max_length=5)


class WeekdayBody(_Body):
    # 1..7 is the service's to check (it names the field as `weekly[0].weekday`); this keeps it an int32.
    weekday: StrictInt = Field(ge=-(2**31), le=2**31 - 1)
    ranges: list[RangeBody] = Field(default_factory=list, max_length=6)


class ExceptionBody(_Body):
    date: str = Field(max_length=10)
    ranges: list[RangeBody] = Field(default_factory=list, max_length=6)
    reason: str = Field(default="", max_length=200)


class HoursBody(_Body):
    weekly: list[WeekdayBody] = Field(default_factory=list, max_length=7)
    exceptions: list[ExceptionBody] = Field(default_factory=list, max_length=366)
    # The span of dates whose exceptions this replaces (default: a year from today).
    from_: str = Field(default="", max_length=10, alias="from")
    to: str = Field(default="", max_length=10)


# --- JSON shapes -----------------------------------------------------------------------------


def resource_json(resource: pb.Resource) -> dict[str, Any]:
    return {
        "id": resource.id,
        "name": resource.name,
        "isDefault": resource.is_default,
        "active": resource.active,
        "version": resource.version,
    }


def _ranges_json(ranges: Any) -> list[dict[str, str]]:
    return [{"opens": r.opens, "closes": r.closes} for r in ranges]


def hours_json(answer: Any, first: str, last: str) -> dict[str, Any]:
    """A resource's hours (Get/SetOpeningHoursResponse) with the span its exceptions cover."""
    return {
        "resourceId": answer.resource_id,
        "weekly": [{"weekday": w.weekday, "ranges": _ranges_json(w.ranges)} for w in answer.weekly],
        "exceptions": [
            {"date": e.date, "ranges": _ranges_json(e.ranges), "reason": e.reason} for e in answer.exceptions
        ],
        "from": first or None,
        "to": last or None,
    }


def _ranges(ranges: list[RangeBody]) -> list[pb.TimeRange]:
    return [pb.TimeRange(opens=r.opens, closes=r.closes) for r in ranges]


# --- public ----------------------------------------------------------------------------------


@router.get(
    "/v1/availability/slots",
    summary="Bookable start times of a time-slot service (at most 31 days)",
    response_model=dict[str, Any],
)
async def list_slots(
    request: Request,
    ctx: PublicTenant,
    package_id: Annotated[str, Query(alias="packageId", max_length=64)] = "",
    from_date: Annotated[str, Query(alias="from", max_length=10)] = "",
    to_date: Annotated[str, Query(alias="to", max_length=10)] = "",
) -> Response:
    """`{packageId, resourceId, timezone, slots: [{startsAt, endsAt, date, time}]}` in time order;
    times in RFC 3339 with the business's offset, `date` and `time` the start on its calendar. 400 on
    `packageId` for a whole-day package (it books dates: see the calendar); 404 for a package not on
    offer. Answered through the gateway's micro-cache, like the calendar; the hold always asks the
    booking service."""
    if not package_id:
        raise ApiError(
            "VALIDATION_ERROR", "packageId: is required", [FieldViolation("packageId", "is required")]
        )
    zone = zone_of(ctx.tenant.timezone)

    async def render() -> bytes:
        found = await request.app.state.clients.catalog.GetPackage(
            catalog_pb.GetPackageRequest(tenant_id=ctx.tenant_id, package_id=package_id)
        )
        package = found.package
        if not package.active:
            raise ApiError("NOT_FOUND", "package not found")
        if package.kind != catalog_pb.PACKAGE_KIND_SLOT:
            message = "is a whole-day package: choose a date in the calendar"
            raise ApiError(
                "VALIDATION_ERROR", f"packageId: {message}", [FieldViolation("packageId", message)]
            )
        answer = await request.app.state.clients.booking.ListSlots(
            pb.ListSlotsRequest(
                tenant_id=ctx.tenant_id, slot=package.slot, from_date=from_date, to_date=to_date
            )
        )
        return orjson.dumps(
            {
                "packageId": package.id,
                "resourceId": answer.resource_id,
                "timezone": zone.key,
                "slots": [
                    {
                        "startsAt": local_time(s.starts_at, zone),
                        "endsAt": local_time(s.ends_at, zone),
                        "date": s.local_date,
                        "time": s.local_time,
                    }
                    for s in answer.slots
                ],
            }
        )

    return await cached_public_read(request, ctx.tenant_id, render)


# --- tenant admin: resources -----------------------------------------------------------------


@router.get("/v1/tenant-admin/resources", summary="The tenant's resources (people, rooms)")
async def list_resources(
    request: Request, admin: TenantAdmin, limit: Limit = 50, cursor: Cursor = ""
) -> dict[str, Any]:
    """The default resource first (made on the first read), then by name; `limit` at a time."""
    answer = await request.app.state.clients.booking.ListResources(
        pb.ListResourcesRequest(tenant_id=admin.tenant_id, page_size=limit, page_token=cursor)
    )
    return {
        "items": [resource_json(r) for r in answer.resources],
        "nextCursor": answer.next_page_token or None,
    }


@router.post("/v1/tenant-admin/resources", status_code=201, summary="Add a resource")
async def create_resource(request: Request, admin: TenantAdmin, body: ResourceBody) -> dict[str, Any]:
    """`{name}` (1-100 characters); 409 NAME_TAKEN when the tenant has a resource of that name."""
    answer = await request.app.state.clients.booking.CreateResource(
        pb.CreateResourceRequest(tenant_id=admin.tenant_id, name=body.name)
    )
    return resource_json(answer.resource)


@router.patch("/v1/tenant-admin/resources/{resource_id}", summary="Rename or (de)activate a resource")
async def patch_resource(
    request: Request, admin: TenantAdmin, resource_id: ResourceId, body: ResourcePatch
) -> dict[str, Any]:
    """`{name?, active?, version?}`; 409 VERSION_CONFLICT when `version` is not the current one; the
    default resource cannot be deactivated (400 on `active`)."""
    mask = [name for name in ("name", "active") if getattr(body, name) is not None]
    answer = await request.app.state.clients.booking.UpdateResource(
        pb.UpdateResourceRequest(
            tenant_id=admin.tenant_id,
            resource=pb.Resource(id=resource_id, name=body.name or "", active=bool(body.active)),
            update_mask=mask,
            expected_version=body.version or 0,
        )
    )
    return resource_json(answer.resource)


@router.delete("/v1/tenant-admin/resources/{resource_id}", status_code=204, summary="Remove a resource")
async def delete_resource(request: Request, admin: TenantAdmin, resource_id: ResourceId) -> Response:
    """409 IN_USE when bookings were made on it (deactivate it instead); never the default."""
    await request.app.state.clients.booking.DeleteResource(
        pb.DeleteResourceRequest(tenant_id=admin.tenant_id, resource_id=resource_id)
    )
    return Response(status_code=204)


@router.get("/v1/tenant-admin/resources/{resource_id}/hours", summary="A resource's opening hours")
async def get_hours(
    request: Request,
    admin: TenantAdmin,
    resource_id: ResourceId,
    from_date: Annotated[str, Query(alias="from", max_length=10)] = "",
    to_date: Annotated[str, Query(alias="to", max_length=10)] = "",
) -> dict[str, Any]:
    """`{resourceId, weekly: [{weekday (1 Monday .. 7 Sunday), ranges: [{opens, closes}]}], exceptions:
    [{date, ranges, reason}], from, to}`: wall-clock "HH:MM" of the business's zone ("24:00" closes at
    midnight), the exceptions between `from` and `to` (default: a year from today, at most 366 days)."""
    answer = await request.app.state.clients.booking.GetOpeningHours(
        pb.GetOpeningHoursRequest(
            tenant_id=admin.tenant_id, resource_id=resource_id, from_date=from_date, to_date=to_date
        )
    )
    return hours_json(answer, from_date, to_date)


@router.put("/v1/tenant-admin/resources/{resource_id}/hours", summary="Set a resource's opening hours")
async def put_hours(
    request: Request, admin: TenantAdmin, resource_id: ResourceId, body: HoursBody
) -> dict[str, Any]:
    """Replaces the weekly hours, and every exception between `from` and `to`, with the body's, in one
    change; 400 VALIDATION_ERROR naming the field (`weekly[0].ranges[1]`, `exceptions[2].date`) and
    nothing written otherwise. Bookings already made keep their times."""
    answer = await request.app.state.clients.booking.SetOpeningHours(
        pb.SetOpeningHoursRequest(
            tenant_id=admin.tenant_id,
            resource_id=resource_id,
            weekly=[pb.WeeklyHours(weekday=w.weekday, ranges=_ranges(w.ranges)) for w in body.weekly],
            from_date=body.from_,
            to_date=body.to,
            exceptions=[
                pb.HoursException(date=e.date, ranges=_ranges(e.ranges), reason=e.reason)
                for e in body.exceptions
            ],
        )
    )
    return hours_json(answer, body.from_, body.to)
