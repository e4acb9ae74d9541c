"""A booking's schedule on the wire (mais.common.v1 Instalment and PaymentSchedule), with its sums.
Both of payments' edges send it: the servicer's answers (GetSchedule, the checkout's answer, the
admin's changes) and the instalments told to booking (receipts, notices)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mais.common.v1 import types_pb2 as common_pb

from mais_runtime.proto_time import timestamp
from services.payments.domain.instalments import Instalment, schedule_sums
from services.payments.domain.schedule import InstalmentKind, InstalmentStatus

_KINDS = {
    InstalmentKind.FULL: common_pb.INSTALMENT_KIND_FULL,
    InstalmentKind.DEPOSIT: common_pb.INSTALMENT_KIND_DEPOSIT,
    InstalmentKind.BALANCE: common_pb.INSTALMENT_KIND_BALANCE,
}
_STATUSES = {
    InstalmentStatus.DUE: common_pb.INSTALMENT_STATUS_DUE,
    InstalmentStatus.PAID: common_pb.INSTALMENT_STATUS_PAID,
    InstalmentStatus.OVERDUE: common_pb.INSTALMENT_STATUS_OVERDUE,
    InstalmentStatus.WAIVED: common_pb.INSTALMENT_STATUS_WAIVED,
    InstalmentStatus.REFUNDED: common_pb.INSTALMENT_STATUS_REFUNDED,
    InstalmentStatus.CANCELLED: common_pb.INSTALMENT_STATUS_CANCELLED,
}


def instalment_pb(instalment: Instalment, *, admin: bool = True) -> common_pb.Instalment:
    """One instalment; the platform's fee only in the tenant admin's view (`admin`)."""
    return common_pb.Instalment(
        seq=instalment.seq,
        kind=_KINDS[instalment.kind],
        amount_cents=instalment.amount_cents,
        currency=instalment.currency,
        due_date=instalment.due_date.isoformat(),
        status=_STATUSES[instalment.status],
        paid_cents=instalment.paid_cents,
        fee_cents=instalment.fee_cents if admin else 0,
        refunded_cents=instalment.refunded_cents,
        paid_at=timestamp(instalment.paid_at),
        payment_session_id=instalment.session_id or "",
        paid_offline=instalment.paid_offline,
        note=instalment.note or "",
    )


def instalment_kind_pb(kind: InstalmentKind) -> common_pb.InstalmentKind.ValueType:
    """The proto enum of a kind."""
    return _KINDS[kind]


def schedule_pb(
    booking_id: str, instalments: Sequence[Instalment], *, today: date | None = None, admin: bool = True
) -> common_pb.PaymentSchedule:
    """A booking's schedule with its sums; `today` in the tenant's calendar (an owed part past its
    due date is overdue even before the sweep marks it)."""
    sums = schedule_sums(instalments, today=today or today_of(instalments))
    return common_pb.PaymentSchedule(
        booking_id=booking_id,
        currency=sums.currency,
        total_cents=sums.total_cents,
        paid_cents=sums.paid_cents,
        refunded_cents=sums.refunded_cents,
        outstanding_cents=sums.outstanding_cents,
        instalments=[instalment_pb(i, admin=admin) for i in instalments],
        next_due_date=sums.next_due_date.isoformat() if sums.next_due_date else "",
        overdue=sums.overdue,
    )


def today_of(instalments: Sequence[Instalment], now: datetime | None = None) -> date:
    """Today in the calendar the schedule was made in (UTC for an unknown zone)."""
    zone_name = instalments[0].timezone if instalments else "UTC"
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return (now or datetime.now(UTC)).astimezone(zone).date()
