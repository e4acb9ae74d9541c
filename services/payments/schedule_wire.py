"""A booking's stored schedule on the wire (mais.common.v1.Instalment and PaymentSchedule), with its
sums. Both the servicer (GetSchedule, the checkout's answer) and the booking client (the deposit
receipt, the balance receipt) send it, so it is written once here."""

from __future__ import annotations

from collections.abc import Sequence

from mais.common.v1 import types_pb2

from mais_runtime.proto_time import timestamp
from services.payments.store import Instalment

_KINDS = {
    "FULL": types_pb2.INSTALMENT_KIND_FULL,
    "DEPOSIT": types_pb2.INSTALMENT_KIND_DEPOSIT,
    "BALANCE": types_pb2.INSTALMENT_KIND_BALANCE,
}
_STATUSES = {
    "DUE": types_pb2.INSTALMENT_STATUS_DUE,
    "PAID": types_pb2.INSTALMENT_STATUS_PAID,
    "OVERDUE": types_pb2.INSTALMENT_STATUS_OVERDUE,
    "WAIVED": types_pb2.INSTALMENT_STATUS_WAIVED,
    "REFUNDED": types_pb2.INSTALMENT_STATUS_REFUNDED,
    "CANCELLED": types_pb2.INSTALMENT_STATUS_CANCELLED,
}


def instalment_kind_pb(kind: str) -> types_pb2.InstalmentKind.ValueType:
    """The proto enum of a stored kind."""
    return _KINDS[kind]


def instalment_pb(part: Instalment) -> types_pb2.Instalment:
    """One stored instalment on the wire (with its fee: callers showing couples drop it)."""
    return types_pb2.Instalment(
        seq=part.seq,
        kind=_KINDS[part.kind],
        amount_cents=part.amount_cents,
        currency=part.currency,
        due_date=part.due_date.isoformat(),
        status=_STATUSES[part.status],
        paid_cents=part.paid_cents,
        fee_cents=part.fee_cents,
        refunded_cents=part.refunded_cents,
        paid_at=timestamp(part.paid_at),
        payment_session_id=part.session_id or "",
        paid_offline=part.paid_offline,
        note=part.note or "",
    )


def schedule_pb(booking_id: str, parts: Sequence[Instalment]) -> types_pb2.PaymentSchedule:
    """The schedule and its sums: paid (kept or refunded), refunded, what is still owed, the next
    owed due date and whether any owed part is overdue."""
    owed = [p for p in parts if p.owed]
    return types_pb2.PaymentSchedule(
        booking_id=booking_id,
        currency=parts[0].currency if parts else "",
        total_cents=sum(p.amount_cents for p in parts),
        paid_cents=sum(p.paid_cents for p in parts),
        refunded_cents=sum(p.refunded_cents for p in parts),
        outstanding_cents=sum(p.amount_cents for p in owed),
        instalments=[instalment_pb(p) for p in parts],
        next_due_date=min(p.due_date for p in owed).isoformat() if owed else "",
        overdue=any(p.status == "OVERDUE" for p in owed),
    )
