"""Fast tests of the hold rules (length, bounds, replays, what a reader sees), the admins adapter, and
the admin emails, with fakes in place of the tenant service."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import grpc
import pytest
from mais.tenant.v1 import tenant_service_pb2 as tenant_pb

from mais_runtime.errors import Conflict, DomainError, ValidationError
from services.booking import domain, emails
from services.booking.clients import TenantDirectory, admins_of, calendar_of
from services.booking.domain import AdminContact, Booking, LiveHolds, Policy, Quote, Status
from tests.unit.test_booking_domain import booking

NOW = datetime(2030, 5, 10, 12, tzinfo=UTC)


def held(expires: datetime | None, status: Status = Status.HELD, session: str = "") -> Booking:
    """A paid-looking booking (the admin emails show its amounts) on the domain tests' template."""
    return replace(
        booking(status, session, expires),
        id="bk_" + "b" * 26,
        phone="+1 555",
        quote=Quote("pkg", 120000, "usd", {}),
        amount_paid_cents=120000,
    )


def test_a_hold_lasts_at_least_thirty_one_minutes_and_a_longer_tenant_time_is_kept() -> None:
    assert (
        Policy.from_settings(
            min_notice_days=0, max_advance_days=0, hold_minutes=30, reminder_days=0, couple_cancel_days=0
        ).hold_length_minutes
        == 31
    )
    assert Policy(hold_minutes=90).hold_length_minutes == 90


def test_hold_bounds_of_zero_mean_two_per_couple_and_five_per_address() -> None:
    policy = Policy.from_settings(
        min_notice_days=0, max_advance_days=0, hold_minutes=30, reminder_days=0, couple_cancel_days=0
    )
    assert (policy.max_live_holds_per_email, policy.max_live_holds_per_address) == (2, 5)
    tuned = calendar_of(
        tenant_pb.Tenant(
            id="t",
            name="Studio",
            contact_email="hello@studio.test",
            policy=tenant_pb.BookingPolicy(max_live_holds_per_email=3, max_live_holds_per_address=9),
        )
    )
    assert (tuned.policy.max_live_holds_per_email, tuned.policy.max_live_holds_per_address) == (3, 9)
    assert tuned.contact_email == "hello@studio.test"


def test_a_couple_at_their_bound_is_refused_with_the_seconds_until_their_first_hold_ends() -> None:
    full = LiveHolds(2, NOW + timedelta(minutes=4, seconds=10))
    with pytest.raises(DomainError) as caught:
        domain.check_hold_limits(Policy(), by_email=full, by_address=None, now=NOW)
    assert caught.value.reason == "HOLD_LIMIT_REACHED" and caught.value.code.name == "RESOURCE_EXHAUSTED"
    assert caught.value.metadata["retry_after_seconds"] == "250"
    assert caught.value.metadata["limit"] == "email"
    domain.check_hold_limits(Policy(), by_email=LiveHolds(1, NOW), by_address=LiveHolds(4, NOW), now=NOW)
    with pytest.raises(DomainError) as by_address:
        domain.check_hold_limits(
            Policy(),
            by_email=LiveHolds(0, None),
            by_address=LiveHolds(5, NOW - timedelta(seconds=3)),
            now=NOW,
        )
    assert by_address.value.metadata == {
        "retry_after_seconds": "1",
        "limit": "address",
        "max_live_holds": "5",
    }


def test_a_hold_past_its_expiry_reads_as_released_and_a_live_one_as_held() -> None:
    assert held(NOW - timedelta(seconds=1)).as_seen(NOW).status is Status.RELEASED
    assert held(NOW + timedelta(seconds=1)).as_seen(NOW).status is Status.HELD
    assert held(None, Status.CONFIRMED).as_seen(NOW).status is Status.CONFIRMED


def test_a_request_id_answers_only_its_own_hold() -> None:
    booking = held(NOW)
    assert domain.check_replay(booking, day=booking.event_date, email=booking.email) is booking
    with pytest.raises(Conflict) as caught:
        domain.check_replay(booking, day=booking.event_date, email="other@example.com")
    assert caught.value.reason == "IDEMPOTENCY_KEY_REUSED"


def test_a_hold_swaps_its_payment_session_only_for_the_one_it_names() -> None:
    assert domain.check_attach(held(NOW, session="cs_a"), "cs_a") is False
    assert domain.check_attach(held(NOW), "cs_a") is True
    assert domain.check_attach(held(NOW, session="cs_a"), "cs_b", replaces="cs_a") is True
    with pytest.raises(Conflict):
        domain.check_attach(held(NOW, session="cs_a"), "cs_b", replaces="cs_x")


def test_a_past_date_cannot_be_blacked_out_but_today_can() -> None:
    with pytest.raises(ValidationError) as caught:
        domain.check_blackout_date(date(2030, 5, 9), today=date(2030, 5, 10))
    assert [f.field for f in caught.value.fields] == ["date"]
    domain.check_blackout_date(date(2030, 5, 10), today=date(2030, 5, 10))


def test_only_active_tenant_admins_hear_about_bookings_each_once() -> None:
    users = [
        tenant_pb.AdminUser(id="1", email="owner@studio.test", role=tenant_pb.ROLE_TENANT_ADMIN, active=True),
        tenant_pb.AdminUser(
            id="2", email="invited@studio.test", role=tenant_pb.ROLE_TENANT_ADMIN, active=False
        ),
        tenant_pb.AdminUser(id="3", email="owner@studio.test", role=tenant_pb.ROLE_TENANT_ADMIN, active=True),
        tenant_pb.AdminUser(id="4", email="root@mais.test", role=tenant_pb.ROLE_PLATFORM_ADMIN, active=True),
    ]
    assert admins_of(users) == (AdminContact("owner@studio.test"),)


class Unimplemented:
    """A tenant service without ListAdminUsers."""

    async def ListAdminUsers(
        self, request: tenant_pb.ListAdminUsersRequest
    ) -> tenant_pb.ListAdminUsersResponse:
        raise grpc.aio.AioRpcError(
            grpc.StatusCode.UNIMPLEMENTED, grpc.aio.Metadata(), grpc.aio.Metadata(), "not here"
        )


async def test_a_tenant_service_that_cannot_list_admins_gives_none_rather_than_failing_the_booking() -> None:
    directory = TenantDirectory(Unimplemented(), ttl_seconds=5)  # type: ignore[arg-type]
    assert await directory.admins("t") == ()


def test_admin_emails_go_to_every_admin_in_one_message_speaking_for_the_business() -> None:
    admins = (AdminContact("a@studio.test"), AdminContact("b@studio.test"))
    booking = held(None, Status.CONFIRMED)
    mails = [
        emails.admin_new_booking(booking, "Studio <One>", admins, reply_to="hello@studio.test"),
        emails.admin_couple_cancelled(booking, "Studio <One>", admins, reply_to="hello@studio.test"),
        emails.admin_refund(
            booking, "Studio <One>", admins, 500, "re_1", hold_lost=True, reply_to="hello@studio.test"
        ),
    ]
    assert [m.message_id for m in mails] == [
        f"admin-new-booking:{booking.id}",
        f"admin-cancellation:{booking.id}",
        f"admin-hold-lost:{booking.id}:re_1",
    ]
    for mail in mails:
        assert mail.to == "a@studio.test, b@studio.test"
        assert (mail.from_name, mail.reply_to) == ("Studio <One>", "hello@studio.test")
        assert "ann@example.com" in mail.text and "<One>" not in mail.html


def test_every_couple_email_speaks_for_the_business() -> None:
    booking = held(None, Status.CONFIRMED)
    mail = emails.confirmation(booking, "Studio", "http://x.test/l", reply_to="hello@studio.test")
    assert (mail.from_name, mail.reply_to) == ("Studio", "hello@studio.test")
