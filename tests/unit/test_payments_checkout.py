"""The checkout use case with in-memory peers (tests/unit/payments_fakes.py): who may be paid, when a
session closes, and a couple coming back to their hold. The real path is in tests/e2e."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from mais_runtime.errors import Conflict
from services.payments.domain import (
    BookingStatus,
    Payee,
    PaymentStatus,
    QuoteLine,
    TenantNotOnboarded,
)
from tests.unit.payments_fakes import (
    CheckoutWorld,
)


class World(CheckoutWorld):
    """One tenant's checkout with every peer in memory."""


# --- no payment without a payee ---------------------------------------------------------------


@pytest.mark.parametrize(
    "payee",
    [Payee(1_000, "", onboarded=False), Payee(1_000, "acct_pending", onboarded=False)],
    ids=["never-started", "pending"],
)
async def test_a_tenant_not_onboarded_is_refused_before_anything_is_held_or_charged(payee: Payee) -> None:
    world = World(payee)
    with pytest.raises(TenantNotOnboarded) as refused:
        await world.start()
    assert refused.value.reason == "TENANT_NOT_ONBOARDED"
    assert (world.bookings.bookings, world.stripe.sessions, world.store.payments) == ({}, {}, {})
    assert world.quotes.asked == 0


async def test_an_onboarded_tenants_checkout_is_a_destination_charge_with_the_commission_as_fee() -> None:
    world = World(Payee(1_250, "acct_tenant", onboarded=True))
    answer = await world.start()
    spec = world.stripe.sessions[answer.checkout_url.rsplit("/", 1)[-1]]["spec"]
    assert (spec.destination_account, spec.application_fee_cents) == ("acct_tenant", 1_250)
    payment = next(iter(world.store.payments.values()))
    assert (payment.destination_account, payment.fee_cents) == ("acct_tenant", 1_250)


# --- what we tell the couple is the truth -----------------------------------------------------


async def test_the_answer_the_payment_the_session_and_the_hold_all_end_at_the_same_instant() -> None:
    world = World()
    world.clock.now = world.clock.now.replace(microsecond=250_000)
    answer = await world.start()
    booking = world.bookings.bookings[answer.booking_id]
    session = world.stripe.sessions[answer.checkout_url.rsplit("/", 1)[-1]]
    payment = world.store.payments[session["id"]]
    # Stripe counts whole seconds: the session closes on the hold's second, never after it.
    assert answer.expires_at == payment.expires_at == booking.expires_at.replace(microsecond=0)
    assert int(answer.expires_at.timestamp()) == session["expires_at"]
    assert answer.expires_at <= booking.expires_at
    assert answer.status is BookingStatus.HELD


# --- a couple who leaves the payment page can come back ----------------------------------------


async def test_the_same_couple_coming_back_gets_their_open_session_again() -> None:
    world = World()
    first = await world.start("Ana@Example.com")
    world.clock.now += timedelta(minutes=10)
    again = await world.start("ana@example.com")
    assert (again.booking_id, again.checkout_url, again.expires_at) == (
        first.booking_id,
        first.checkout_url,
        first.expires_at,
    )
    assert len(world.stripe.sessions) == 1 and len(world.bookings.bookings) == 1


async def test_a_couple_back_when_their_session_is_nearly_over_gets_a_new_one_for_the_same_hold() -> None:
    world = World()
    first = await world.start()
    world.clock.now += timedelta(minutes=28)
    again = await world.start()
    booking = world.bookings.bookings[first.booking_id]
    assert again.booking_id == first.booking_id
    assert again.checkout_url != first.checkout_url
    # The old session is closed at Stripe first: only one of the two can ever take the money.
    assert world.stripe.sessions[first.checkout_url.rsplit("/", 1)[-1]]["status"] == "expired"
    old_session, new_session = (a.checkout_url.rsplit("/", 1)[-1] for a in (first, again))
    assert booking.session_id == new_session
    assert world.store.payments[new_session].status == PaymentStatus.OPEN
    # The replaced session is kept, so a payment that still reached it is found and refunded.
    assert world.store.payments[old_session].status == PaymentStatus.REPLACED
    assert again.expires_at == booking.expires_at.replace(microsecond=0) > first.expires_at
    assert world.bookings.released == []


async def test_a_couple_back_a_moment_after_paying_keeps_the_session_they_paid() -> None:
    world = World()
    first = await world.start()
    # They paid near the end of the session and pressed back before the webhook arrived.
    world.clock.now += timedelta(minutes=28)
    paid_session = first.checkout_url.rsplit("/", 1)[-1]
    world.stripe.sessions[paid_session]["status"] = "complete"
    again = await world.start()
    assert (again.booking_id, again.checkout_url) == (first.booking_id, first.checkout_url)
    assert len(world.stripe.sessions) == 1
    assert world.store.payments[paid_session].status == PaymentStatus.OPEN
    assert world.bookings.bookings[first.booking_id].session_id == paid_session


async def test_a_couple_back_with_another_package_gets_a_session_for_the_new_total() -> None:
    world = World()
    first = await world.start()
    world.quotes.lines = (*world.quotes.lines, QuoteLine("Photographer", 5_000))
    again = await world.start()
    assert again.booking_id == first.booking_id
    assert again.checkout_url != first.checkout_url
    assert again.total_cents == first.total_cents + 5_000
    new_session = again.checkout_url.rsplit("/", 1)[-1]
    assert sum(line.amount_cents for line in world.stripe.sessions[new_session]["spec"].line_items) == (
        again.total_cents
    )


async def test_a_different_couple_is_still_turned_away_from_a_held_date() -> None:
    world = World()
    await world.start("ana@example.com")
    with pytest.raises(Conflict) as refused:
        await world.start("someone-else@example.com")
    assert refused.value.reason == "DATE_UNAVAILABLE"
    assert len(world.stripe.sessions) == 1


async def test_the_couples_address_goes_to_booking_so_it_can_bound_live_holds() -> None:
    world = World()
    await world.start(ip="198.51.100.23")
    assert world.bookings.addresses == ["198.51.100.23"]


async def test_a_failed_session_frees_a_new_hold_but_never_a_resumed_one() -> None:
    world = World()
    first = await world.start()
    world.clock.now += timedelta(minutes=28)

    async def refuse(_: Any) -> Any:
        raise RuntimeError("stripe is down")

    world.stripe.create_checkout_session = refuse  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await world.start()
    assert world.bookings.bookings[first.booking_id].status is BookingStatus.HELD

    other = World()
    other.stripe.create_checkout_session = refuse  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await other.start()
    assert [reason for _, reason in other.bookings.released] == ["checkout_failed"]


async def test_an_idempotency_key_replays_the_first_answer_with_its_status() -> None:
    world = World()
    first = await world.start(key="k-1")
    again = await world.start(key="k-1")
    assert again == first and again.status is BookingStatus.HELD
