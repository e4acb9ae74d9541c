"""The gateway's instalment routes and the stats' outstanding money without services: each route is one
UpdateInstalment call (the Idempotency-Key as its request id, the admin as its actor) answered with the
schedule in the shared JSON form, and a bad body is refused before any call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from mais.common.v1 import types_pb2 as common_pb
from mais.payments.v1 import payments_service_pb2 as payments_pb

from gateway.app import create_app
from gateway.auth import AdminContext, platform_admin, tenant_admin
from gateway.settings import GatewaySettings

TENANT = "00000000-0000-4000-8000-000000000001"
ADMIN = AdminContext(user_id="u1", email="a@example.com", role="tenant_admin", tenant_id=TENANT)

SCHEDULE = common_pb.PaymentSchedule(
    booking_id="bk_1",
    currency="usd",
    total_cents=10_000,
    paid_cents=3_000,
    outstanding_cents=0,
    instalments=[
        common_pb.Instalment(
            seq=1,
            kind=common_pb.INSTALMENT_KIND_DEPOSIT,
            amount_cents=3_000,
            currency="usd",
            due_date="2030-01-10",
            status=common_pb.INSTALMENT_STATUS_PAID,
            paid_cents=3_000,
            fee_cents=315,
            paid_at=Timestamp(seconds=1_893_456_000),
        ),
        common_pb.Instalment(
            seq=2,
            kind=common_pb.INSTALMENT_KIND_BALANCE,
            amount_cents=7_000,
            currency="usd",
            due_date="2030-05-16",
            status=common_pb.INSTALMENT_STATUS_WAIVED,
            note="Family discount",
        ),
    ],
)


class FakePayments:
    def __init__(self) -> None:
        self.asked: list[payments_pb.UpdateInstalmentRequest] = []

    async def UpdateInstalment(self, request: payments_pb.UpdateInstalmentRequest, **_: Any) -> Any:
        self.asked.append(request)
        return payments_pb.UpdateInstalmentResponse(schedule=SCHEDULE)

    async def GetPlatformTotals(self, request: Any, **_: Any) -> Any:
        return payments_pb.GetPlatformTotalsResponse(
            totals=[
                payments_pb.CurrencyTotals(
                    currency="usd", charged_cents=3_000, outstanding_cents=7_000, outstanding_bookings=1
                )
            ]
        )


class Counts:
    async def CountTenants(self, request: Any, **_: Any) -> Any:
        return SimpleNamespace(total=1, active=1, connect_onboarded=1)

    async def CountAllBookings(self, request: Any, **_: Any) -> Any:
        return SimpleNamespace(live_holds=0, confirmed=1, upcoming=1, released=0, cancelled=0, by_month=[])


@pytest.fixture
async def gateway(tmp_path: Any) -> AsyncIterator[tuple[FakePayments, httpx.AsyncClient]]:
    app = create_app(
        GatewaySettings(web_dir=tmp_path, public_url="http://127.0.0.1:8080", internal_token="unit")
    )
    payments = FakePayments()
    app.dependency_overrides[tenant_admin] = lambda: ADMIN
    app.dependency_overrides[platform_admin] = lambda: AdminContext(
        "p1", "p@example.com", "platform_admin", ""
    )
    async with app.router.lifespan_context(app):
        app.state.clients = SimpleNamespace(payments=payments, tenant=Counts(), booking=Counts())
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield payments, client


async def test_waiving_is_one_update_with_the_key_as_request_id_answered_with_the_admins_schedule(
    gateway: tuple[FakePayments, httpx.AsyncClient],
) -> None:
    payments, client = gateway
    answer = await client.post(
        "/v1/tenant-admin/bookings/bk_1/instalments/2/waive",
        json={"note": "Family discount"},
        headers={"Idempotency-Key": "k-1"},
    )
    assert answer.status_code == 200, answer.text
    (asked,) = payments.asked
    assert (
        asked.tenant_id,
        asked.booking_id,
        asked.seq,
        asked.action,
        asked.note,
        asked.actor,
        asked.request_id,
    ) == (
        TENANT,
        "bk_1",
        2,
        payments_pb.INSTALMENT_ACTION_WAIVE,
        "Family discount",
        "tenant_admin:u1",
        "k-1",
    )
    assert answer.json() == {
        "schedule": {
            "currency": "usd",
            "totalCents": 10_000,
            "paidCents": 3_000,
            "refundedCents": 0,
            "outstandingCents": 0,
            "nextDueDate": None,
            "overdue": False,
            "instalments": [
                {
                    "seq": 1,
                    "kind": "DEPOSIT",
                    "amountCents": 3_000,
                    "currency": "usd",
                    "dueDate": "2030-01-10",
                    "status": "PAID",
                    "paidCents": 3_000,
                    "refundedCents": 0,
                    "paidAt": "2030-01-01T00:00:00Z",
                    "paidOffline": False,
                    "note": None,
                    "feeCents": 315,
                },
                {
                    "seq": 2,
                    "kind": "BALANCE",
                    "amountCents": 7_000,
                    "currency": "usd",
                    "dueDate": "2030-05-16",
                    "status": "WAIVED",
                    "paidCents": 0,
                    "refundedCents": 0,
                    "paidAt": None,
                    "paidOffline": False,
                    "note": "Family discount",
                    "feeCents": 0,
                },
            ],
        }
    }


async def test_mark_paid_and_a_new_due_date_are_their_own_actions(
    gateway: tuple[FakePayments, httpx.AsyncClient],
) -> None:
    payments, client = gateway
    paid = await client.post("/v1/tenant-admin/bookings/bk_1/instalments/2/mark-paid", json={"note": "Cash"})
    moved = await client.patch("/v1/tenant-admin/bookings/bk_1/instalments/2", json={"dueDate": "2030-05-30"})
    assert (paid.status_code, moved.status_code) == (200, 200)
    assert [(a.action, a.note, a.due_date, a.request_id) for a in payments.asked] == [
        (payments_pb.INSTALMENT_ACTION_MARK_PAID, "Cash", "", ""),
        (payments_pb.INSTALMENT_ACTION_SET_DUE_DATE, "", "2030-05-30", ""),
    ]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/tenant-admin/bookings/bk_1/instalments/2/waive", {"note": "x", "amountCents": 1}),
        ("POST", "/v1/tenant-admin/bookings/bk_1/instalments/13/waive", {"note": "x"}),
        ("PATCH", "/v1/tenant-admin/bookings/bk_1/instalments/2", {"dueDate": "2030-05-300"}),
    ],
    ids=["unknown-field", "seq-out-of-range", "due-date-too-long"],
)
async def test_a_bad_body_or_seq_is_400_before_any_call(
    gateway: tuple[FakePayments, httpx.AsyncClient], method: str, path: str, body: dict[str, Any]
) -> None:
    payments, client = gateway
    answer = await client.request(method, path, json=body)
    assert answer.status_code == 400 and answer.json()["error"] == "VALIDATION_ERROR", answer.text
    assert payments.asked == []


async def test_the_stats_show_what_confirmed_bookings_still_owe_per_currency(
    gateway: tuple[FakePayments, httpx.AsyncClient],
) -> None:
    _, client = gateway
    answer = await client.get("/v1/admin/stats")
    assert answer.status_code == 200, answer.text
    (usd,) = answer.json()["money"]
    assert (usd["chargedCents"], usd["outstandingCents"], usd["outstandingBookings"]) == (3_000, 7_000, 1)
