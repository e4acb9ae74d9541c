"""REST routes of payment schedules (deposits and balances): what a couple would pay and when before
checkout, and the couple's balance checkout from their manage page. `schedule_json` is the one JSON
shape of a schedule; every route that shows one (the booking views, the checkout answer, the tenant
admin's instalment changes) uses it."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from mais.common.v1 import types_pb2
from mais.payments.v1 import payments_service_pb2 as pb
from mais.tenant.v1 import tenant_service_pb2 as tenant_pb
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from pydantic.alias_generators import to_camel
from starlette.responses import Response

from gateway import web
from gateway.auth import TenantContext
from gateway.couple_links import couple_booking
from gateway.errors import ApiError
from gateway.key_lookups import public_tenant_once
from gateway.read_cache import cached_public_read
from mais_runtime.errors import FieldViolation
from mais_runtime.payment_policy import PaymentPolicy
from mais_runtime.proto_time import json_time

router = APIRouter(tags=["payments"])

PublicTenant = Annotated[TenantContext, Depends(public_tenant_once)]
BookingId = Annotated[str, Path(max_length=64)]
# Creating a balance session talks to Stripe (which the SDK may retry): below Envoy's 15 s.
PAY_TIMEOUT_SECONDS = 14.0
MAX_ADD_ONS = 20

_KINDS = {
    types_pb2.INSTALMENT_KIND_FULL: "FULL",
    types_pb2.INSTALMENT_KIND_DEPOSIT: "DEPOSIT",
    types_pb2.INSTALMENT_KIND_BALANCE: "BALANCE",
}
_STATUSES = {
    types_pb2.INSTALMENT_STATUS_DUE: "DUE",
    types_pb2.INSTALMENT_STATUS_PAID: "PAID",
    types_pb2.INSTALMENT_STATUS_OVERDUE: "OVERDUE",
    types_pb2.INSTALMENT_STATUS_WAIVED: "WAIVED",
    types_pb2.INSTALMENT_STATUS_REFUNDED: "REFUNDED",
    types_pb2.INSTALMENT_STATUS_CANCELLED: "CANCELLED",
}


def planned_instalment_json(part: types_pb2.Instalment) -> dict[str, Any]:
    """An instalment before anything is paid: what, how much, by when."""
    return {
        "seq": part.seq,
        "kind": _KINDS.get(part.kind, "FULL"),
        "amountCents": part.amount_cents,
        "currency": part.currency,
        "dueDate": part.due_date,
        "status": _STATUSES.get(part.status, "DUE"),
    }


def instalment_json(part: types_pb2.Instalment, *, admin: bool) -> dict[str, Any]:
    """One instalment with what was paid and refunded; the platform's fee only for the tenant admin."""
    body = {
        **planned_instalment_json(part),
        "paidCents": part.paid_cents,
        "refundedCents": part.refunded_cents,
        "paidAt": json_time(part.paid_at),
        "paidOffline": part.paid_offline,
        "note": part.note or None,
    }
    if admin:
        body["feeCents"] = part.fee_cents
    return body


def schedule_json(schedule: types_pb2.PaymentSchedule, *, admin: bool) -> dict[str, Any]:
    """A booking's schedule with its sums (the couple's view when not `admin`: no fees)."""
    return {
        "currency": schedule.currency,
        "totalCents": schedule.total_cents,
        "paidCents": schedule.paid_cents,
        "refundedCents": schedule.refunded_cents,
        "outstandingCents": schedule.outstanding_cents,
        "nextDueDate": schedule.next_due_date or None,
        "overdue": schedule.overdue,
        "instalments": [instalment_json(p, admin=admin) for p in schedule.instalments],
    }


async def booking_schedule(request: Request, tenant_id: str, booking_id: str) -> pb.GetScheduleResponse:
    """Payments' answer for the booking: its schedule, and what the couple's own cancellation would
    refund and keep."""
    answer: pb.GetScheduleResponse = await request.app.state.clients.payments.GetSchedule(
        pb.GetScheduleRequest(tenant_id=tenant_id, booking_id=booking_id)
    )
    return answer


def optional_schedule_json(answer: pb.GetScheduleResponse, *, admin: bool) -> Any:
    """The booking's schedule as JSON, or None for a booking without one (never checked out)."""
    if not answer.schedule.instalments:
        return None
    return schedule_json(answer.schedule, admin=admin)


async def booking_schedule_json(request: Request, tenant_id: str, booking_id: str, *, admin: bool) -> Any:
    """The booking's schedule as JSON, or None for a booking without one (never checked out)."""
    return optional_schedule_json(await booking_schedule(request, tenant_id, booking_id), admin=admin)


@router.get("/v1/checkout/schedule", summary="What the couple would pay today and later, before checkout")
async def checkout_schedule(
    request: Request,
    tenant: PublicTenant,
    package_id: Annotated[str, Query(alias="packageId", max_length=64)] = "",
    add_on_ids: Annotated[str, Query(alias="addOnIds", max_length=20 * 65)] = "",
    event_date: Annotated[str, Query(alias="eventDate", max_length=10)] = "",
) -> Response:
    """`{totalCents, currency, instalments: [{seq, kind, amountCents, currency, dueDate, status}],
    policy}` for a package, its add-ons (comma-separated ids) and a date, under the package's or the
    business's payment terms: the first instalment is due today (what checkout charges), a balance
    by its due date. The same arithmetic as checkout. 400 VALIDATION_ERROR naming `packageId`,
    `addOnIds` or `eventDate`; 404 for an unknown package. A browsing read: cached a moment per tenant."""
    add_ons = [a for a in (p.strip() for p in add_on_ids.split(",")) if a]
    if len(add_ons) > MAX_ADD_ONS:
        message = f"at most {MAX_ADD_ONS} add-ons"
        raise ApiError("VALIDATION_ERROR", f"addOnIds: {message}", [FieldViolation("addOnIds", message)])

    async def render() -> bytes:
        answer = await request.app.state.clients.payments.QuoteSchedule(
            pb.QuoteScheduleRequest(
                tenant_id=tenant.tenant_id, package_id=package_id, add_on_ids=add_ons, event_date=event_date
            )
        )
        return orjson.dumps(
            {
                "totalCents": answer.total_cents,
                "currency": answer.currency,
                "instalments": [planned_instalment_json(p) for p in answer.instalments],
                "policy": PaymentPolicy.from_proto(answer.policy).to_json(),
            }
        )

    return await cached_public_read(request, tenant.tenant_id, render)


class PayBody(BaseModel):
    """`POST /v1/bookings/{id}/pay`: where to come back to (optional)."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=False)

    return_url: StrictStr | None = Field(default=None, max_length=web.MAX_RETURN_URL)


@router.post("/v1/bookings/{booking_id}/pay", summary="The couple pays what is due (the balance)")
async def pay_balance(
    request: Request,
    booking_id: BookingId,
    token: Annotated[str, Query(max_length=200)] = "",
    body: PayBody | None = None,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", max_length=255)] = "",
) -> dict[str, Any]:
    """With the signed link from the couple's email: a Stripe Checkout Session for the booking's next
    owed instalment, `{checkoutUrl, expiresAt, instalment}`. Asking again while that session is open
    answers the same session (so a retry, with or without `Idempotency-Key`, never opens a second);
    409 NOTHING_DUE when nothing is owed, 409 FAILED_PRECONDITION unless the booking is CONFIRMED,
    404 for a wrong link. Stripe sends the couple back to their manage page (`&paid=1` after paying),
    or to `returnUrl` when it is on one of the business's widget origins or the platform's own."""
    del idempotency_key  # one open session per instalment makes every repeat the same request
    tenant_id, booking = await couple_booking(request, booking_id, token)
    public = request.app.state.settings.public_url.rstrip("/")
    manage = f"{public}/booking/{quote(booking.id, safe='')}?token={quote(token, safe='')}"
    success, cancel = f"{manage}&paid=1", manage
    if body is not None and body.return_url is not None:
        tenant = (
            await request.app.state.clients.tenant.GetTenant(tenant_pb.GetTenantRequest(tenant_id=tenant_id))
        ).tenant
        allowed = web.allowed_return_url(body.return_url, tenant.allowed_origins, public)
        if allowed is None:
            message = "must be an absolute http(s) URL on one of the business's widget origins"
            raise ApiError(
                "VALIDATION_ERROR", f"returnUrl: {message}", [FieldViolation("returnUrl", message)]
            )
        success = cancel = allowed
    answer = await request.app.state.clients.payments.PayInstalment(
        pb.PayInstalmentRequest(
            tenant_id=tenant_id, booking_id=booking.id, success_url=success, cancel_url=cancel
        ),
        timeout=PAY_TIMEOUT_SECONDS,
    )
    return {
        "checkoutUrl": answer.checkout_url,
        "expiresAt": json_time(answer.expires_at),
        "instalment": instalment_json(answer.instalment, admin=False),
    }
