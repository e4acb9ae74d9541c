"""REST routes of the payments context (see ../shared/DESIGN.md, public REST contract): the couple's
checkout, Stripe's webhook, a tenant admin's payment events (dead letters and replay), ledger and
Connect onboarding, and the platform admin's view of every tenant's events."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import grpc
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from mais.booking.v1 import booking_service_pb2 as booking_pb
from mais.catalog.v1 import catalog_service_pb2 as catalog_pb
from mais.payments.v1 import payments_service_pb2 as pb
from mais.tenant.v1 import tenant_service_pb2 as tenant_pb
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from pydantic.alias_generators import to_camel
from starlette.responses import Response

from gateway import web
from gateway.auth import AdminContext, TenantContext, client_ip, platform_admin, public_tenant, tenant_admin
from gateway.couple_links import couple_booking
from gateway.errors import ApiError, error_response, from_grpc
from gateway.instants import instant, local_time, zone_of
from gateway.routes.booking import booking_json, booking_zone, package_title, refund_json
from gateway.routes.schedules import booking_schedule_json, schedule_json
from gateway.web import SESSION_ID
from mais_runtime.errors import FieldViolation
from mais_runtime.proto_time import json_time as _time

router = APIRouter(tags=["payments"])

PublicTenant = Annotated[TenantContext, Depends(public_tenant)]
TenantAdmin = Annotated[AdminContext, Depends(tenant_admin)]
PlatformAdmin = Annotated[AdminContext, Depends(platform_admin)]
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str, Query(max_length=500)]
StatusFilter = Annotated[str, Query(max_length=20)]
EventId = Annotated[str, Path(max_length=64)]
BookingId = Annotated[str, Path(max_length=64)]
# Checked against the shape of a session id in the route: anything else is a 404 like an unknown one.
SessionId = Annotated[str, Path()]

# A checkout quotes, holds and talks to Stripe (which the SDK may retry): more than the default
# deadline, less than Envoy's route timeout (15 s).
CHECKOUT_TIMEOUT_SECONDS = 14.0
# Stripe waits up to 10 s for an answer before it counts a delivery as failed.
WEBHOOK_TIMEOUT_SECONDS = 9.0
CONNECT_TIMEOUT_SECONDS = 12.0

_EVENT_STATUS = {
    "RECEIVED": pb.EVENT_STATUS_RECEIVED,
    "PROCESSED": pb.EVENT_STATUS_PROCESSED,
    "FAILED": pb.EVENT_STATUS_FAILED,
    "IGNORED": pb.EVENT_STATUS_IGNORED,
}
_EVENT_STATUS_NAMES = {value: name for name, value in _EVENT_STATUS.items()}
_CONNECT_STATES = {
    tenant_pb.CONNECT_STATE_NOT_STARTED: "not_started",
    tenant_pb.CONNECT_STATE_PENDING: "pending",
    tenant_pb.CONNECT_STATE_ONBOARDED: "onboarded",
}
_SESSION_STATES = {
    pb.CHECKOUT_SESSION_STATUS_OPEN: "open",
    pb.CHECKOUT_SESSION_STATUS_COMPLETE: "complete",
    pb.CHECKOUT_SESSION_STATUS_EXPIRED: "expired",
}
# Errors a webhook sender cannot fix by retrying.
_WEBHOOK_REFUSALS = frozenset({"INVALID_SIGNATURE", "VALIDATION_ERROR"})


class CheckoutBody(BaseModel):
    """`POST /v1/bookings/checkout`: what the couple picked. Prices never come from the client."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=False)

    package_id: StrictStr = Field(min_length=1, max_length=64)
    # A time-slot service: the chosen start, RFC 3339 with an offset; the date may then be left out.
    event_date: StrictStr = Field(default="", max_length=10)
    starts_at: StrictStr | None = Field(default=None, max_length=40)
    couple_name: StrictStr = Field(max_length=200)
    email: StrictStr = Field(max_length=254)
    phone: StrictStr | None = Field(default=None, max_length=40)
    notes: StrictStr | None = Field(default=None, max_length=2000)
    add_on_ids: list[StrictStr] | None = Field(default=None, max_length=20)
    # Where the couple goes back to after the return pages (the tenant's site embedding the widget).
    return_url: StrictStr | None = Field(default=None, max_length=web.MAX_RETURN_URL)


class CoupleCancelBody(BaseModel):
    """`POST /v1/bookings/{id}/cancel?token=`: the couple may say why."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=False)

    reason: StrictStr = Field(default="", max_length=500)


def _event_json(event: pb.WebhookEvent, *, with_tenant: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": event.id,
        "stripeEventId": event.stripe_event_id,
        "type": event.type,
        "status": _EVENT_STATUS_NAMES.get(event.status, "UNKNOWN"),
        "attempts": event.attempts,
        "lastError": event.last_error or None,
        "bookingId": event.booking_id or None,
        "receivedAt": _time(event.received_at),
        "processedAt": _time(event.processed_at),
    }
    if with_tenant:
        body["tenantId"] = event.tenant_id or None
    return body


def _status_filter(status: str) -> pb.EventStatus.ValueType:
    if not status:
        return pb.EVENT_STATUS_UNSPECIFIED
    value = _EVENT_STATUS.get(status.upper())
    if value is None:
        message = "must be one of " + ", ".join(_EVENT_STATUS)
        raise ApiError("VALIDATION_ERROR", f"status: {message}", [FieldViolation("status", message)])
    return value


# --- the couple --------------------------------------------------------------------------------


@router.post("/v1/bookings/checkout", status_code=201, summary="Hold a date and start paying for it")
async def checkout(
    request: Request,
    tenant: PublicTenant,
    body: CheckoutBody,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", max_length=255)] = "",
) -> dict[str, Any]:
    """Quotes the package (prices from the catalog only), holds the date and opens a Stripe Checkout
    Session that closes exactly when the hold does (`expiresAt`). 409 DATE_UNAVAILABLE when another
    couple holds or booked the date; the same couple (same email) coming back for their held date gets
    their hold and a payable session again. 409 TENANT_NOT_ONBOARDED (nothing held) until the business
    has finished Stripe onboarding; 429 HOLD_LIMIT_REACHED with `Retry-After` past the live holds one
    couple or address may keep. With `Idempotency-Key`, the same key and body get the same answer and
    another body 409 IDEMPOTENCY_KEY_REUSED.

    Stripe sends the couple back to the platform's pages `/book/{slug}/done?session_id=…` (after
    paying) and `/book/{slug}/cancelled` (after going back), each with `return=<returnUrl>` when
    given; `returnUrl` must be an absolute http(s) URL on one of the tenant's widget origins or the
    platform's own (400 VALIDATION_ERROR, field `returnUrl`)."""
    success_url, cancel_url = _return_pages(request, tenant, body.return_url)
    answer = await request.app.state.clients.payments.StartCheckout(
        pb.StartCheckoutRequest(
            tenant_id=tenant.tenant_id,
            package_id=body.package_id,
            add_on_ids=body.add_on_ids or [],
            event_date=body.event_date,
            couple_name=body.couple_name,
            email=body.email,
            phone=body.phone or "",
            notes=body.notes or "",
            idempotency_key=idempotency_key,
            client_ip=client_ip(request),
            success_url=success_url,
            cancel_url=cancel_url,
            starts_at=instant(body.starts_at, "startsAt"),
        ),
        timeout=CHECKOUT_TIMEOUT_SECONDS,
    )
    return {
        "bookingId": answer.booking_id,
        "status": booking_pb.BookingStatus.Name(answer.status).removeprefix("BOOKING_STATUS_"),
        "checkoutUrl": answer.checkout_url,
        "expiresAt": _time(answer.expires_at),
        "totalCents": answer.total_cents,
        "currency": answer.currency,
        # What the session charges now (the deposit, or the whole) and the schedule it starts.
        "amountDueNowCents": answer.amount_due_now_cents,
        "schedule": schedule_json(answer.schedule, admin=False),
    }


def _return_pages(request: Request, tenant: TenantContext, return_url: str | None) -> tuple[str, str]:
    """Stripe's success_url and cancel_url: the platform's done and cancelled pages of the tenant."""
    public = request.app.state.settings.public_url.rstrip("/")
    base = f"{public}/book/{tenant.tenant.slug}"
    # Stripe fills in {CHECKOUT_SESSION_ID} itself; it must reach Stripe unescaped.
    success, cancel = f"{base}/done?session_id={{CHECKOUT_SESSION_ID}}", f"{base}/cancelled"
    if return_url is None:
        return success, cancel
    allowed = web.allowed_return_url(return_url, tenant.tenant.allowed_origins, public)
    if allowed is None:
        message = "must be an absolute http(s) URL on one of the business's widget origins"
        raise ApiError("VALIDATION_ERROR", f"returnUrl: {message}", [FieldViolation("returnUrl", message)])
    back = quote(allowed, safe="")
    return f"{success}&return={back}", f"{cancel}?return={back}"


@router.get(
    "/v1/checkout/sessions/{session_id}",
    summary="What became of a Checkout Session (the couple's return page)",
)
async def checkout_session(request: Request, tenant: PublicTenant, session_id: SessionId) -> dict[str, Any]:
    """`{bookingId, sessionStatus (open|complete|expired), status, eventDate, kind, startsAt, endsAt,
    packageTitle, totalCents, currency, amountPaidCents, schedule}` of any session of one of the
    tenant's bookings (a resumed hold's earlier ones too); nothing personal. `schedule` (the couple's
    view: what is paid, what is due when) once the booking is confirmed, else null. `kind` "DAY" or
    "SLOT"; a slot's `startsAt` and `endsAt` in RFC 3339 with the business's offset (null for a whole
    day). 404 NOT_FOUND for an unknown session or another tenant's."""
    if not SESSION_ID.match(session_id):
        raise ApiError("NOT_FOUND", "checkout session not found")
    found = await request.app.state.clients.payments.GetCheckoutSession(
        pb.GetCheckoutSessionRequest(tenant_id=tenant.tenant_id, payment_session_id=session_id)
    )
    booking = (
        await request.app.state.clients.booking.GetBooking(
            booking_pb.GetBookingRequest(tenant_id=tenant.tenant_id, booking_id=found.booking_id)
        )
    ).booking
    return {
        "bookingId": booking.id,
        "sessionStatus": _SESSION_STATES.get(found.session_status, "open"),
        "status": booking_pb.BookingStatus.Name(booking.status).removeprefix("BOOKING_STATUS_"),
        "eventDate": booking.event_date,
        **_slot_times(booking, tenant.tenant.timezone),
        "packageTitle": package_title(booking),
        "totalCents": booking.quote.total_cents,
        "currency": booking.quote.currency,
        "amountPaidCents": booking.amount_paid_cents,
        # The done page's "paid today, then the balance by ...": asked only once there is a booking to
        # show it for (the page polls this route while the booking is being confirmed).
        "schedule": (
            await booking_schedule_json(request, tenant.tenant_id, booking.id, admin=False)
            if booking.status == booking_pb.BOOKING_STATUS_CONFIRMED
            else None
        ),
    }


def _slot_times(booking: booking_pb.Booking, timezone: str) -> dict[str, Any]:
    """How the booking is booked, and a time slot's start and end on the business's clock (the return
    page shows them beside the date)."""
    if booking.kind != catalog_pb.PACKAGE_KIND_SLOT:
        return {"kind": "DAY", "startsAt": None, "endsAt": None}
    zone = zone_of(timezone)
    return {
        "kind": "SLOT",
        "startsAt": local_time(booking.starts_at, zone),
        "endsAt": local_time(booking.ends_at, zone),
    }


@router.post("/v1/bookings/{booking_id}/cancel", summary="The couple cancels their own booking")
async def couple_cancel(
    request: Request,
    booking_id: BookingId,
    token: Annotated[str, Query(max_length=200)] = "",
    body: CoupleCancelBody | None = None,
) -> dict[str, Any]:
    """With the signed link from the confirmation email, the couple cancels their confirmed booking
    for a full refund, up to the tenant's `coupleCancelDays` before the event (409
    CANCELLATION_WINDOW_CLOSED after that; nothing is refunded). The date is free at once. Repeating
    the request answers the same cancellation; a wrong or expired link is 404."""
    tenant_id, _ = await couple_booking(request, booking_id, token)
    outcome = await request.app.state.clients.payments.CancelAndRefund(
        pb.CancelAndRefundRequest(
            tenant_id=tenant_id,
            booking_id=booking_id,
            reason=(body.reason if body else "") or "cancelled by the couple",
            refund=pb.RefundChoice(full=True),
            # No request id: payments derives it from the booking and the choice, so a retried or
            # doubled click refunds once.
            actor="couple",
        ),
        timeout=CHECKOUT_TIMEOUT_SECONDS,
    )
    zone = await booking_zone(request, tenant_id, [outcome.booking])
    return {**booking_json(outcome.booking, zone), "refund": refund_json(outcome)}


# --- Stripe ------------------------------------------------------------------------------------


@router.post("/v1/webhooks/stripe", summary="Stripe webhook endpoint", include_in_schema=False)
async def stripe_webhook(request: Request) -> Response:
    """The raw body and `Stripe-Signature` go to payments untouched (the signature covers the exact
    bytes). 200 once the event is stored and settled; 400 INVALID_SIGNATURE (nothing processed); any
    other failure 500 INTERNAL, so that Stripe delivers the event again."""
    payload = await request.body()
    signature = request.headers.get("stripe-signature", "")
    try:
        # Payments' webhook worker, on its own channel (MAIS_PAYMENTS_WEBHOOK_ADDR), when there is one.
        await request.app.state.clients.payments_webhooks.HandleStripeWebhook(
            pb.HandleStripeWebhookRequest(payload=payload, signature_header=signature),
            timeout=request.app.state.settings.payments_webhook_timeout_seconds,
        )
    except grpc.aio.AioRpcError as error:
        refused = from_grpc(error)
        if refused.code in _WEBHOOK_REFUSALS:
            return error_response(refused)
        # Whatever went wrong (a service down, a deadline), Stripe must retry: never a 4xx, and a
        # 500 rather than a 503 so no proxy in between treats it as its own to retry or rewrite.
        return error_response(ApiError("INTERNAL", "the event could not be processed; it will be retried"))
    return Response(b'{"received":true}', media_type="application/json")


# --- tenant admins -----------------------------------------------------------------------------


@router.get("/v1/tenant-admin/payments/events", summary="The tenant's Stripe events (dead letters)")
async def list_events(
    request: Request,
    admin: TenantAdmin,
    status: StatusFilter = "",
    limit: Limit = 50,
    cursor: Cursor = "",
) -> dict[str, Any]:
    """Newest first; `?status=FAILED` is the dead-letter queue."""
    answer = await request.app.state.clients.payments.ListEvents(
        pb.ListEventsRequest(
            tenant_id=admin.tenant_id, status=_status_filter(status), page_size=limit, page_token=cursor
        )
    )
    return {
        "items": [_event_json(e, with_tenant=False) for e in answer.events],
        "nextCursor": answer.next_page_token or None,
    }


@router.post("/v1/tenant-admin/payments/events/{event_id}/replay", summary="Process a failed event again")
async def replay_event(request: Request, admin: TenantAdmin, event_id: EventId) -> dict[str, Any]:
    """Processes the stored event again and answers it as it ends up (PROCESSED, or FAILED again with
    its new error code). 404 for another tenant's event; 409 for one already processed."""
    answer = await request.app.state.clients.payments.ReplayEvent(
        pb.ReplayEventRequest(tenant_id=admin.tenant_id, event_id=event_id), timeout=WEBHOOK_TIMEOUT_SECONDS
    )
    return _event_json(answer.event, with_tenant=False)


@router.get("/v1/tenant-admin/bookings/{booking_id}/ledger", summary="A booking's payment ledger")
async def ledger(request: Request, admin: TenantAdmin, booking_id: BookingId) -> dict[str, Any]:
    """Charges, the platform's fee, refunds and fee refunds, with totals that reconcile."""
    answer = await request.app.state.clients.payments.GetLedger(
        pb.GetLedgerRequest(tenant_id=admin.tenant_id, booking_id=booking_id)
    )
    return {
        "bookingId": booking_id,
        "currency": answer.currency,
        "entries": [
            {
                "id": e.id,
                "kind": e.kind,
                "amountCents": e.amount_cents,
                "currency": e.currency,
                "stripeObjectId": e.stripe_object_id,
                "createdAt": _time(e.created_at),
                "instalmentSeq": e.instalment_seq or None,
            }
            for e in answer.entries
        ],
        "totals": {
            "chargedCents": answer.charged_cents,
            "feeCents": answer.fee_cents,
            "refundedCents": answer.refunded_cents,
            "feeRefundedCents": answer.fee_refunded_cents,
            "netPaidCents": answer.net_paid_cents,
            "platformFeeCents": answer.platform_fee_cents,
            "netToTenantCents": answer.net_to_tenant_cents,
        },
    }


@router.post("/v1/tenant-admin/stripe/connect", summary="Start (or continue) Stripe Connect onboarding")
async def start_connect(request: Request, admin: TenantAdmin) -> dict[str, Any]:
    """The tenant's Connect account (created on first use) and a fresh, short-lived onboarding link."""
    answer = await request.app.state.clients.payments.StartConnectOnboarding(
        pb.StartConnectOnboardingRequest(tenant_id=admin.tenant_id), timeout=CONNECT_TIMEOUT_SECONDS
    )
    return {"stripeAccountId": answer.stripe_account_id, "onboardingUrl": answer.onboarding_url}


@router.get("/v1/tenant-admin/stripe/connect", summary="Stripe Connect onboarding state")
async def connect_status(request: Request, admin: TenantAdmin) -> dict[str, Any]:
    """not_started, pending or onboarded, as Stripe's account.updated events last said."""
    answer = await request.app.state.clients.tenant.GetTenant(
        tenant_pb.GetTenantRequest(tenant_id=admin.tenant_id)
    )
    return {
        "stripeAccountId": answer.tenant.stripe_account_id or None,
        "connectState": _CONNECT_STATES.get(answer.tenant.connect_state, "not_started"),
    }


# --- platform admins ---------------------------------------------------------------------------


@router.get("/v1/admin/payments/events", summary="Every tenant's Stripe events (platform admin)")
async def list_all_events(
    request: Request,
    admin: PlatformAdmin,
    status: StatusFilter = "",
    limit: Limit = 50,
    cursor: Cursor = "",
) -> dict[str, Any]:
    """Newest first across tenants, including events no tenant could be found for."""
    answer = await request.app.state.clients.payments.ListAllEvents(
        pb.ListAllEventsRequest(status=_status_filter(status), page_size=limit, page_token=cursor)
    )
    return {
        "items": [_event_json(e, with_tenant=True) for e in answer.events],
        "nextCursor": answer.next_page_token or None,
    }
