"""A tenant admin's changes to a booking's instalments: waive one, mark one paid outside Stripe, move a
due date. Each is payments' UpdateInstalment (the rules are there); each answers the schedule as the
admin sees it, and each is recorded in the booking's history. `Idempotency-Key` makes a retry one change."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request
from mais.payments.v1 import payments_service_pb2 as payments_pb
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from gateway.auth import AdminContext, tenant_admin
from gateway.routes.schedules import schedule_json

router = APIRouter(tags=["tenant admin bookings"])

TenantAdmin = Annotated[AdminContext, Depends(tenant_admin)]
BookingId = Annotated[str, Path(max_length=64)]
Seq = Annotated[int, Path(ge=1, le=12)]
IdempotencyKey = Annotated[str, Header(alias="Idempotency-Key", max_length=255)]


class _Body(BaseModel):
    """camelCase JSON bodies; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=False)


class NoteBody(_Body):
    # Required by the service (the reason goes into the booking's history).
    note: str = Field(default="", max_length=500)


class DueDateBody(_Body):
    due_date: str = Field(default="", max_length=10)
    note: str = Field(default="", max_length=500)


async def _update(
    request: Request,
    admin: AdminContext,
    booking_id: str,
    seq: int,
    action: payments_pb.InstalmentAction.ValueType,
    *,
    note: str,
    due_date: str = "",
    idempotency_key: str,
) -> dict[str, Any]:
    answer = await request.app.state.clients.payments.UpdateInstalment(
        payments_pb.UpdateInstalmentRequest(
            tenant_id=admin.tenant_id,
            booking_id=booking_id,
            seq=seq,
            action=action,
            note=note,
            due_date=due_date,
            actor=admin.actor,
            request_id=idempotency_key,
        )
    )
    return {"schedule": schedule_json(answer.schedule, admin=True)}


@router.post("/v1/tenant-admin/bookings/{booking_id}/instalments/{seq}/waive", summary="Waive an instalment")
async def waive_instalment(
    request: Request,
    admin: TenantAdmin,
    booking_id: BookingId,
    seq: Seq,
    body: NoteBody,
    idempotency_key: IdempotencyKey = "",
) -> dict[str, Any]:
    """200 `{schedule}`: nothing more is owed for the instalment. `note` (why) is required (400
    VALIDATION_ERROR field `note`); 409 FAILED_PRECONDITION unless the booking is CONFIRMED and the
    instalment still owed; 404 for an unknown booking or instalment."""
    return await _update(
        request,
        admin,
        booking_id,
        seq,
        payments_pb.INSTALMENT_ACTION_WAIVE,
        note=body.note,
        idempotency_key=idempotency_key,
    )


@router.post(
    "/v1/tenant-admin/bookings/{booking_id}/instalments/{seq}/mark-paid",
    summary="Mark an instalment paid outside Stripe",
)
async def mark_instalment_paid(
    request: Request,
    admin: TenantAdmin,
    booking_id: BookingId,
    seq: Seq,
    body: NoteBody,
    idempotency_key: IdempotencyKey = "",
) -> dict[str, Any]:
    """200 `{schedule}`: the instalment is paid in full outside Stripe (a bank transfer, cash); no
    platform fee, nothing in the Stripe ledger, and a refund never goes back through it. `note` is
    required; 409 FAILED_PRECONDITION unless the booking is CONFIRMED and the instalment owed."""
    return await _update(
        request,
        admin,
        booking_id,
        seq,
        payments_pb.INSTALMENT_ACTION_MARK_PAID,
        note=body.note,
        idempotency_key=idempotency_key,
    )


@router.patch(
    "/v1/tenant-admin/bookings/{booking_id}/instalments/{seq}", summary="Move an instalment's due date"
)
async def move_instalment_due_date(
    request: Request,
    admin: TenantAdmin,
    booking_id: BookingId,
    seq: Seq,
    body: DueDateBody,
    idempotency_key: IdempotencyKey = "",
) -> dict[str, Any]:
    """200 `{schedule}`: `{dueDate: "YYYY-MM-DD", note?}`, after today in the business's calendar and
    no later than the event (400 VALIDATION_ERROR field `dueDate`); the instalment is due again from
    that date, its reminders start over, and the couple is emailed the new date."""
    return await _update(
        request,
        admin,
        booking_id,
        seq,
        payments_pb.INSTALMENT_ACTION_SET_DUE_DATE,
        note=body.note,
        due_date=body.due_date,
        idempotency_key=idempotency_key,
    )
