"""Booking through the whole stack (Envoy → gateways → services → PostgreSQL): availability, blackouts,
the admin's bookings, the couple's signed link, tenant isolation at every route.

Holds and confirmations are made the way the payments service makes them: gRPC calls to the booking
service with the internal credential."""

from __future__ import annotations

import email
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email import policy as email_policy
from pathlib import Path
from urllib.parse import urlsplit

import grpc
import httpx
import pytest
from mais.booking.v1 import booking_service_pb2 as pb
from mais.booking.v1 import booking_service_pb2_grpc as pb_grpc
from mais.catalog.v1 import catalog_service_pb2 as catalog_pb

from tests.e2e.conftest import MakeTenant, TenantHandle
from tools.stack.launcher import Stack


class Payments:
    """What the payments service does to bookings, over the booking service's gRPC port."""

    def __init__(self, stack: Stack) -> None:
        self.channel = grpc.insecure_channel(f"127.0.0.1:{stack.ports.booking}")
        self.stub = pb_grpc.BookingServiceStub(self.channel)
        self.metadata = (("x-mais-internal", stack.internal_token),)

    def hold(self, tenant: TenantHandle, day: date, name: str = "Ann & Bo", mail: str = "") -> pb.Booking:
        answer = self.stub.HoldDate(
            pb.HoldDateRequest(
                tenant_id=tenant.id,
                event_date=day.isoformat(),
                couple_name=name,
                email=mail or f"couple-{uuid.uuid4().hex[:8]}@example.com",
                phone="+1 555 0100",
                notes="Garden, please",
                quote=catalog_pb.QuoteSnapshot(
                    package_id="pkg_e2e",
                    total_cents=320000,
                    currency="usd",
                    hash="q1",
                    lines=[
                        catalog_pb.QuoteLine(
                            kind="package",
                            id="pkg_e2e",
                            slug="full-day",
                            title="Full day",
                            price_cents=320000,
                        )
                    ],
                ),
                request_id=uuid.uuid4().hex,
            ),
            metadata=self.metadata,
            timeout=10,
        )
        return answer.booking

    def confirm(self, tenant: TenantHandle, booking: pb.Booking) -> pb.Booking:
        session = f"cs_{booking.id}"
        self.stub.AttachPaymentSession(
            pb.AttachPaymentSessionRequest(
                tenant_id=tenant.id, booking_id=booking.id, payment_session_id=session
            ),
            metadata=self.metadata,
            timeout=10,
        )
        return self.stub.ConfirmBooking(
            pb.ConfirmBookingRequest(
                tenant_id=tenant.id,
                booking_id=booking.id,
                payment_session_id=session,
                amount_paid_cents=320000,
            ),
            metadata=self.metadata,
            timeout=10,
        ).booking

    def book(self, tenant: TenantHandle, day: date, name: str = "Ann & Bo", mail: str = "") -> pb.Booking:
        return self.confirm(tenant, self.hold(tenant, day, name, mail))


@pytest.fixture(scope="module")
def payments(stack: Stack) -> Iterator[Payments]:
    owner = Payments(stack)
    yield owner
    owner.channel.close()


@pytest.fixture
def tenant(make_tenant: MakeTenant) -> TenantHandle:
    return make_tenant("bk")


def today() -> date:
    return datetime.now(UTC).date()


def wait_for_mail(stack: Stack, key: str, timeout: float = 15.0) -> email.message.EmailMessage:
    path = Path(stack.data_dir) / "mail" / (re.sub(r"[^A-Za-z0-9_.-]+", "-", key) + ".eml")
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.exists(), f"no mail {path.name}"
    message = email.message_from_bytes(path.read_bytes(), policy=email_policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def couple_link(stack: Stack, booking_id: str) -> str:
    """The JSON route's path and query for the link in the couple's confirmation email (which opens
    their manage page, `/booking/{id}?token=`; the page reads `/v1/bookings/{id}` with the same token)."""
    message = wait_for_mail(stack, f"confirmation:{booking_id}")
    body = message.get_body(("plain",))
    assert body is not None
    found = re.search(r"(http\S+/booking/\S+)", str(body.get_content()))
    assert found is not None
    link = urlsplit(found.group(1))
    assert f"{link.scheme}://{link.netloc}" == stack.url
    assert link.path == f"/booking/{booking_id}"
    return f"/v1/bookings/{booking_id}?{link.query}"


def error_of(answer: httpx.Response) -> tuple[int, str, list[str]]:
    body = answer.json()
    return answer.status_code, body["error"], [f["field"] for f in body.get("fields", [])]


# --- availability ------------------------------------------------------------------------------


def test_availability_of_one_date_and_the_calendar_agree_and_name_their_reasons(
    http: httpx.Client, tenant: TenantHandle, payments: Payments
) -> None:
    settings = http.patch(
        "/v1/tenant-admin/settings",
        json={"policy": {"minNoticeDays": 2, "maxAdvanceDays": 60}},
        headers=tenant.admin_headers(),
    )
    assert settings.status_code == 200, settings.text
    base = today()
    payments.book(tenant, base + timedelta(days=10))
    payments.hold(tenant, base + timedelta(days=11))
    blackout = http.post(
        "/v1/tenant-admin/blackouts",
        json={"date": (base + timedelta(days=12)).isoformat(), "reason": "Family"},
        headers=tenant.admin_headers(),
    )
    assert blackout.status_code == 201, blackout.text

    first, last = base - timedelta(days=2), base + timedelta(days=63)
    calendar = http.get(
        "/v1/availability/calendar",
        params={"from": first.isoformat(), "to": last.isoformat()},
        headers=tenant.public_headers(),
    )
    assert calendar.status_code == 200, calendar.text
    reasons = {item["date"]: item["reason"] for item in calendar.json()["unavailable"]}
    for offset, why in (
        (-1, "past"),
        (1, "out_of_range"),
        (10, "booked"),
        (11, "held"),
        (12, "blackout"),
        (61, "out_of_range"),
    ):
        assert reasons[(base + timedelta(days=offset)).isoformat()] == why
    assert (base + timedelta(days=13)).isoformat() not in reasons
    for offset in (-1, 0, 1, 2, 10, 11, 12, 13, 60, 61):
        day = (base + timedelta(days=offset)).isoformat()
        single = http.get("/v1/availability", params={"date": day}, headers=tenant.public_headers())
        assert single.status_code == 200
        assert single.json() == {"date": day, "available": day not in reasons, "reason": reasons.get(day)}


def test_availability_needs_a_tenant_key_and_a_valid_date(http: httpx.Client, tenant: TenantHandle) -> None:
    assert error_of(http.get("/v1/availability", params={"date": "2031-01-01"}))[:2] == (
        401,
        "TENANT_KEY_REQUIRED",
    )
    assert error_of(
        http.get("/v1/availability", params={"date": "01/02/2031"}, headers=tenant.public_headers())
    ) == (
        400,
        "VALIDATION_ERROR",
        ["date"],
    )
    too_long = http.get(
        "/v1/availability/calendar",
        params={"from": "2031-01-01", "to": "2032-06-01"},
        headers=tenant.public_headers(),
    )
    assert error_of(too_long) == (400, "VALIDATION_ERROR", ["to"])


# --- blackouts ---------------------------------------------------------------------------------


def test_blackouts_are_created_listed_page_by_page_and_deleted(
    http: httpx.Client, tenant: TenantHandle
) -> None:
    headers = tenant.admin_headers()
    days = [(today() + timedelta(days=30 + n)).isoformat() for n in range(5)]
    made = []
    for day in reversed(days):
        answer = http.post(
            "/v1/tenant-admin/blackouts", json={"date": day, "reason": "closed"}, headers=headers
        )
        assert answer.status_code == 201, answer.text
        made.append(answer.json())
    assert error_of(http.post("/v1/tenant-admin/blackouts", json={"date": days[0]}, headers=headers))[:2] == (
        409,
        "CONFLICT",
    )
    seen, cursor = [], None
    while True:
        page = http.get(
            "/v1/tenant-admin/blackouts",
            params={"limit": 2, **({"cursor": cursor} if cursor else {})},
            headers=headers,
        )
        assert page.status_code == 200
        assert len(page.json()["items"]) <= 2
        seen += [item["date"] for item in page.json()["items"]]
        cursor = page.json()["nextCursor"]
        if cursor is None:
            break
    assert seen == days
    target = made[0]["id"]
    assert http.delete(f"/v1/tenant-admin/blackouts/{target}", headers=headers).status_code == 204
    assert error_of(http.delete(f"/v1/tenant-admin/blackouts/{target}", headers=headers))[:2] == (
        404,
        "NOT_FOUND",
    )
    for bad in ({"limit": 0}, {"limit": 101}, {"cursor": "not-a-cursor"}):
        assert http.get("/v1/tenant-admin/blackouts", params=bad, headers=headers).status_code == 400
    assert error_of(
        http.post("/v1/tenant-admin/blackouts", json={"date": "2031-02-30"}, headers=headers)
    ) == (
        400,
        "VALIDATION_ERROR",
        ["date"],
    )
    assert http.get("/v1/tenant-admin/blackouts").status_code == 401


def test_a_blackout_on_a_held_or_booked_date_is_refused_naming_why(
    http: httpx.Client, tenant: TenantHandle, payments: Payments
) -> None:
    held_day, booked_day = today() + timedelta(days=20), today() + timedelta(days=21)
    payments.hold(tenant, held_day)
    payments.book(tenant, booked_day)
    for day, why in ((held_day, "held"), (booked_day, "booked")):
        answer = http.post(
            "/v1/tenant-admin/blackouts", json={"date": day.isoformat()}, headers=tenant.admin_headers()
        )
        assert error_of(answer)[:2] == (409, "DATE_UNAVAILABLE")
        assert why in answer.json()["message"]


# --- the admin's bookings ----------------------------------------------------------------------


def test_the_admin_lists_filters_reads_and_cancels_bookings_and_the_date_frees_at_once(
    http: httpx.Client, stack: Stack, tenant: TenantHandle, payments: Payments
) -> None:
    headers = tenant.admin_headers()
    base = today() + timedelta(days=40)
    confirmed = [payments.book(tenant, base + timedelta(days=n), mail=f"c{n}@example.com") for n in range(3)]
    held = payments.hold(tenant, base + timedelta(days=3), mail="held@example.com")

    everything = http.get("/v1/tenant-admin/bookings", params={"limit": 100}, headers=headers).json()
    assert [b["id"] for b in everything["items"]] == [b.id for b in [*confirmed, held]]
    only_held = http.get("/v1/tenant-admin/bookings", params={"status": "held"}, headers=headers).json()
    assert [b["id"] for b in only_held["items"]] == [held.id]
    assert only_held["items"][0]["holdExpiresAt"] is not None
    ranged = http.get(
        "/v1/tenant-admin/bookings",
        params={"from": (base + timedelta(days=1)).isoformat(), "to": (base + timedelta(days=2)).isoformat()},
        headers=headers,
    ).json()
    assert [b["id"] for b in ranged["items"]] == [b.id for b in confirmed[1:3]]
    by_email = http.get(
        "/v1/tenant-admin/bookings", params={"email": " C2@Example.com "}, headers=headers
    ).json()
    assert [b["id"] for b in by_email["items"]] == [confirmed[2].id]
    page = http.get("/v1/tenant-admin/bookings", params={"limit": 3}, headers=headers).json()
    rest = http.get(
        "/v1/tenant-admin/bookings", params={"limit": 3, "cursor": page["nextCursor"]}, headers=headers
    ).json()
    assert [b["id"] for b in page["items"] + rest["items"]] == [b.id for b in [*confirmed, held]]
    assert rest["nextCursor"] is None
    assert error_of(http.get("/v1/tenant-admin/bookings", params={"status": "PAID"}, headers=headers)) == (
        400,
        "VALIDATION_ERROR",
        ["status"],
    )

    detail = http.get(f"/v1/tenant-admin/bookings/{confirmed[0].id}", headers=headers)
    assert detail.status_code == 200
    body = detail.json()
    assert body["status"] == "CONFIRMED" and body["amountPaidCents"] == 320000
    assert body["quote"]["lines"][0]["title"] == "Full day" and body["totalCents"] == 320000
    assert [(h["from"], h["to"]) for h in body["history"]] == [(None, "HELD"), ("HELD", "CONFIRMED")]

    cancelled = http.post(
        f"/v1/tenant-admin/bookings/{confirmed[0].id}/cancel",
        json={"reason": "Venue <closed>", "refund": "none"},
        headers=headers,
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "CANCELLED"
    assert cancelled.json()["history"][-1]["actor"].startswith("tenant_admin:")
    freed = http.get("/v1/availability", params={"date": base.isoformat()}, headers=tenant.public_headers())
    assert freed.json()["available"] is True
    mail = wait_for_mail(stack, f"cancellation:{confirmed[0].id}")
    html_part = mail.get_body(("html",))
    assert html_part is not None and "Venue &lt;closed&gt;" in str(html_part.get_content())
    again = http.post(f"/v1/tenant-admin/bookings/{held.id}/cancel", json={"refund": "none"}, headers=headers)
    assert error_of(again)[0] == 409
    assert error_of(
        http.post(
            f"/v1/tenant-admin/bookings/{confirmed[1].id}/cancel", json={"refund": "some"}, headers=headers
        )
    )[:2] == (400, "VALIDATION_ERROR")


# --- the couple's link -------------------------------------------------------------------------


def test_the_couples_link_opens_their_booking_without_a_tenant_key_and_nothing_else(
    http: httpx.Client, stack: Stack, tenant: TenantHandle, payments: Payments
) -> None:
    mine = payments.book(tenant, today() + timedelta(days=90), name="Ann <i>& Bo</i>", mail="ann@example.com")
    theirs = payments.book(tenant, today() + timedelta(days=91))
    link = couple_link(stack, mine.id)
    opened = http.get(link)
    assert opened.status_code == 200, opened.text
    body = opened.json()
    assert (
        body["id"] == mine.id
        and body["coupleName"] == "Ann <i>& Bo</i>"
        and body["email"] == "ann@example.com"
    )
    assert body["status"] == "CONFIRMED" and body["totalCents"] == 320000 and body["currency"] == "usd"
    assert "history" not in body and "paymentSessionId" not in body

    token = link.split("token=", 1)[1]
    for forged in (
        f"/v1/bookings/{theirs.id}?token={token}",
        f"/v1/bookings/{mine.id}?token={token[:-3]}AAA",
        f"/v1/bookings/{mine.id}?token={uuid.uuid4().hex}{token[32:]}",
        f"/v1/bookings/{mine.id}",
        f"/v1/bookings/{mine.id}?token=garbage",
    ):
        assert error_of(http.get(forged))[:2] == (404, "NOT_FOUND"), forged
    # A tenant key does not open a booking either: only the link does.
    assert http.get(f"/v1/bookings/{mine.id}", headers=tenant.public_headers()).status_code == 404


# --- tenants are isolated ----------------------------------------------------------------------


def test_a_tenants_bookings_and_blackouts_are_invisible_to_another_tenant_at_every_route(
    http: httpx.Client, make_tenant: MakeTenant, payments: Payments
) -> None:
    owner, other = make_tenant("bk-a"), make_tenant("bk-b")
    day = today() + timedelta(days=100)
    booking = payments.book(owner, day)
    blackout = http.post(
        "/v1/tenant-admin/blackouts",
        json={"date": (day + timedelta(days=1)).isoformat()},
        headers=owner.admin_headers(),
    ).json()
    headers = other.admin_headers()
    assert error_of(http.get(f"/v1/tenant-admin/bookings/{booking.id}", headers=headers))[:2] == (
        404,
        "NOT_FOUND",
    )
    assert error_of(
        http.post(f"/v1/tenant-admin/bookings/{booking.id}/cancel", json={"refund": "none"}, headers=headers)
    )[:2] == (
        404,
        "NOT_FOUND",
    )
    assert error_of(http.delete(f"/v1/tenant-admin/blackouts/{blackout['id']}", headers=headers))[:2] == (
        404,
        "NOT_FOUND",
    )
    assert http.get("/v1/tenant-admin/bookings", headers=headers).json() == {"items": [], "nextCursor": None}
    assert http.get("/v1/tenant-admin/blackouts", headers=headers).json() == {"items": [], "nextCursor": None}
    for date_param in (day, day + timedelta(days=1)):
        answer = http.get(
            "/v1/availability", params={"date": date_param.isoformat()}, headers=other.public_headers()
        )
        assert answer.json()["available"] is True
    calendar = http.get(
        "/v1/availability/calendar",
        params={"from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat()},
        headers=other.public_headers(),
    )
    assert calendar.json()["unavailable"] == []
    # The owner still has everything.
    assert http.get(f"/v1/tenant-admin/bookings/{booking.id}", headers=owner.admin_headers()).json()[
        "status"
    ] == ("CONFIRMED")


# --- operations --------------------------------------------------------------------------------


def test_the_booking_service_exports_hold_conflict_confirmation_lock_and_backlog_metrics(
    stack: Stack, tenant: TenantHandle, payments: Payments
) -> None:
    day = today() + timedelta(days=120)
    payments.book(tenant, day)
    with pytest.raises(grpc.RpcError):
        payments.hold(tenant, day)
    text = httpx.get(f"http://127.0.0.1:{stack.ports.metrics_booking}/metrics", timeout=5).text
    assert re.search(r'^mais_booking_holds_total\{outcome="held"\} [1-9]', text, re.M)
    assert re.search(r'^mais_booking_conflicts_total\{why="booked"\} [1-9]', text, re.M)
    assert re.search(r'^mais_booking_confirmations_total\{outcome="confirm"\} [1-9]', text, re.M)
    assert re.search(r"^mais_booking_lock_wait_seconds_count [1-9]", text, re.M)
    assert re.search(r"^mais_outbox_backlog ", text, re.M)
