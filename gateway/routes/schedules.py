"""Payment schedules in the REST answers. `schedule_json` is the one JSON form of a schedule (the couple's
views and the tenant admin's); every route that answers a schedule uses it.

(Owned by "core" in issue 15, which adds the schedule routes here; this branch ("refunds") needs only
the JSON form, written to the shared contract.)"""

from __future__ import annotations

from typing import Any

from mais.common.v1 import types_pb2 as common_pb

from mais_runtime.proto_time import json_time

_KINDS = {
    common_pb.INSTALMENT_KIND_FULL: "FULL",
    common_pb.INSTALMENT_KIND_DEPOSIT: "DEPOSIT",
    common_pb.INSTALMENT_KIND_BALANCE: "BALANCE",
}
_STATUSES = {
    common_pb.INSTALMENT_STATUS_DUE: "DUE",
    common_pb.INSTALMENT_STATUS_PAID: "PAID",
    common_pb.INSTALMENT_STATUS_OVERDUE: "OVERDUE",
    common_pb.INSTALMENT_STATUS_WAIVED: "WAIVED",
    common_pb.INSTALMENT_STATUS_REFUNDED: "REFUNDED",
    common_pb.INSTALMENT_STATUS_CANCELLED: "CANCELLED",
}


def instalment_json(instalment: common_pb.Instalment, admin: bool) -> dict[str, Any]:
    """`{seq, kind, amountCents, currency, dueDate, status, paidCents, refundedCents, paidAt, paidOffline,
    note}`, and `feeCents` (the platform's fee on its payment) in the tenant admin's views only."""
    answer: dict[str, Any] = {
        "seq": instalment.seq,
        "kind": _KINDS.get(instalment.kind, "FULL"),
        "amountCents": instalment.amount_cents,
        "currency": instalment.currency,
        "dueDate": instalment.due_date,
        "status": _STATUSES.get(instalment.status, "DUE"),
        "paidCents": instalment.paid_cents,
        "refundedCents": instalment.refunded_cents,
        "paidAt": json_time(instalment.paid_at),
        "paidOffline": instalment.paid_offline,
        "note": instalment.note or None,
    }
    if admin:
        answer["feeCents"] = instalment.fee_cents
    return answer


def schedule_json(schedule: common_pb.PaymentSchedule, admin: bool) -> dict[str, Any]:
    """`{currency, totalCents, paidCents, refundedCents, outstandingCents, nextDueDate, overdue,
    instalments}` (the instalments as `instalment_json`)."""
    return {
        "currency": schedule.currency,
        "totalCents": schedule.total_cents,
        "paidCents": schedule.paid_cents,
        "refundedCents": schedule.refunded_cents,
        "outstandingCents": schedule.outstanding_cents,
        "nextDueDate": schedule.next_due_date or None,
        "overdue": schedule.overdue,
        "instalments": [instalment_json(i, admin) for i in schedule.instalments],
    }
