"""Refunds over a booking's several payments (a deposit, then the balance) on a real PostgreSQL and the
real Stripe sandbox: the latest payment is refunded first, each payment's platform fee goes back in
proportion, nothing is ever refunded beyond what was paid (not even by concurrent cancellations), a
couple's own cancellation keeps a non-refundable deposit, and the instalments follow (REFUNDED,
CANCELLED). Booking is a fake here (its RPCs are tested in the booking suites): the payments are real
sessions paid at the sandbox, recorded as checkout and the webhook would record them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from mais.booking.v1 import booking_service_pb2 as booking_pb

from mais_runtime.db import DatabaseError, text
from mais_runtime.errors import PreconditionFailed, ValidationError
from services.payments.domain import BookingState, BookingStatus, EntryKind, RefundChoice, commission_cents
from services.payments.inbox import StripeInbox
from services.payments.refunds import COUPLE, Refunds
from services.payments.store import Payment, PaymentsStore
from services.payments.stripe_adapter import LineItem, StripeAdapter
from tests.integration.conftest import Cluster, service_database
from tests.integration.test_payments_service import (  # noqa: F401 - the sandbox's fixtures
    Captured,
    _intent_of,
    _onboarded_account,
    _pay,
    _spec,
    _stripe_get,
    adapter,
    captured,
    sandbox_url,
)

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning")

COMMISSION_BPS = 1_050
ADMIN = "tenant_admin:u1"


@dataclass
class FakeBookings:
    """Booking as payments' refunds call it: one CONFIRMED booking per id, cancelled once."""

    status: dict[str, BookingStatus] = field(default_factory=dict)
    refunds: list[tuple[str, int, int, str]] = field(default_factory=list)
    cancelled: list[tuple[str, str]] = field(default_factory=list)
    kept: dict[str, int] = field(default_factory=dict)

    async def get(self, tenant_id: str, booking_id: str, *, with_history: bool = False) -> BookingState:
        return BookingState(booking_id, self.status[booking_id], booking_pb.Booking(id=booking_id))

    async def check_cancel(self, tenant_id: str, booking_id: str, actor: str) -> None:
        return None

    async def cancel(self, tenant_id: str, booking_id: str, *, reason: str, actor: str) -> BookingState:
        if self.status[booking_id] is not BookingStatus.CANCELLED:
            self.cancelled.append((booking_id, actor))
        self.status[booking_id] = BookingStatus.CANCELLED
        return await self.get(tenant_id, booking_id)

    async def record_refund(
        self,
        tenant_id: str,
        booking_id: str,
        *,
        total_refunded_cents: int,
        refund_cents: int,
        refund_id: str,
        kept_cents: int = 0,
    ) -> None:
        self.refunds.append((booking_id, total_refunded_cents, refund_cents, refund_id))
        self.kept[booking_id] = kept_cents


@dataclass
class World:
    store: PaymentsStore
    stripe: StripeAdapter
    sandbox: str
    account: str
    bookings: FakeBookings
    refunds: Refunds


@pytest.fixture
async def world(cluster: Cluster, adapter: StripeAdapter, sandbox_url: str) -> AsyncIterator[World]:  # noqa: F811
    db = await service_database(cluster, "payments")
    store = PaymentsStore(db)
    bookings = FakeBookings()
    account = await _onboarded_account(adapter, sandbox_url)
    yield World(store, adapter, sandbox_url, account, bookings, Refunds(store, bookings, adapter))  # type: ignore[arg-type]
    await db.close()


async def a_booking(
    world: World,
    tenant_id: str,
    *,
    parts: tuple[int, ...] = (3_333, 6_667),
    paid: int = 2,
    deposit_refundable: bool = True,
) -> str:
    """A CONFIRMED booking whose schedule is `parts` (a deposit and a balance, or one FULL part), the
    first `paid` of them paid through real sandbox sessions with the commission as the platform fee."""
    booking_id = f"bk_{uuid.uuid4().hex[:12]}"
    world.bookings.status[booking_id] = BookingStatus.CONFIRMED
    kinds = ("FULL",) if len(parts) == 1 else ("DEPOSIT", "BALANCE")
    async with world.store.tenant(tenant_id) as tx:
        for seq, (kind, amount) in enumerate(zip(kinds, parts, strict=True), start=1):
            await tx.conn.execute(
                text(
                    "INSERT INTO instalments (tenant_id, booking_id, seq, kind, amount_cents, currency,"
                    " due_date, timezone, deposit_refundable)"
                    " VALUES (CAST(:t AS uuid), :b, :q, :k, :a, 'usd', :d, 'Europe/Lisbon', :r)"
                ),
                {
                    "t": tenant_id,
                    "b": booking_id,
                    "q": seq,
                    "k": kind,
                    "a": amount,
                    "d": date(2030, 1, 1) + timedelta(days=30 * (seq - 1)),
                    "r": deposit_refundable,
                },
            )
    for seq, amount in enumerate(parts[:paid], start=1):
        await pay_instalment(world, tenant_id, booking_id, seq, amount)
    return booking_id


async def pay_instalment(world: World, tenant_id: str, booking_id: str, seq: int, amount: int) -> str:
    fee = commission_cents(amount, COMMISSION_BPS)
    session = await world.stripe.create_checkout_session(
        _spec(
            line_items=(LineItem(f"Part {seq}", amount),),
            destination_account=world.account,
            application_fee_cents=fee,
            client_reference_id=booking_id,
            metadata={"tenant_id": tenant_id, "booking_id": booking_id},
        )
    )
    _pay(world.sandbox, session.id)
    facts = await world.stripe.payment_facts(_intent_of(world.sandbox, session.id))
    payment = Payment(
        session_id=session.id,
        tenant_id=tenant_id,
        booking_id=booking_id,
        amount_cents=amount,
        currency="usd",
        commission_bps=COMMISSION_BPS,
        fee_cents=fee,
        destination_account=world.account,
        status="OPEN",
        checkout_url=session.url,
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )
    async with world.store.tenant(tenant_id) as tx:
        # As checkout (seq 1) and the balance checkout (seq 2) record their sessions.
        await tx.conn.execute(
            text(
                "INSERT INTO payments (session_id, tenant_id, booking_id, amount_cents, currency,"
                " commission_bps, fee_cents, destination_account, checkout_url, expires_at, status,"
                " instalment_seq)"
                " VALUES (:s, CAST(:t AS uuid), :b, :a, 'usd', :c, :f, :d, :u, :e, 'PAID', :q)"
            ),
            {
                "s": session.id,
                "t": tenant_id,
                "b": booking_id,
                "a": amount,
                "c": COMMISSION_BPS,
                "f": fee,
                "d": world.account,
                "u": session.url,
                "e": payment.expires_at,
                "q": seq,
            },
        )
        await tx.set_payment_objects(
            session.id,
            payment_intent_id=facts.payment_intent_id,
            charge_id=facts.charge_id,
            application_fee_id=facts.application_fee_id,
        )
        await tx.add_entry(payment, EntryKind.CHARGE, facts.amount_cents, facts.charge_id)
        assert facts.application_fee_id is not None
        await tx.add_entry(
            payment, EntryKind.APPLICATION_FEE, facts.application_fee_cents, facts.application_fee_id
        )
        await tx.conn.execute(
            text(
                "UPDATE instalments SET status = 'PAID', paid_cents = amount_cents, fee_cents = :f,"
                " session_id = :s, paid_at = now() WHERE booking_id = :b AND seq = :q"
            ),
            {"f": facts.application_fee_cents, "s": session.id, "b": booking_id, "q": seq},
        )
    return session.id


BALANCE = 7_000


async def balance_session(world: World, tenant_id: str, booking_id: str) -> tuple[str, str]:
    """A balance session (instalment 2) at the sandbox, with the metadata our balance checkout gives
    it: its (id, url)."""
    session = await world.stripe.create_checkout_session(
        _spec(
            line_items=(LineItem("Balance", BALANCE),),
            destination_account=world.account,
            application_fee_cents=commission_cents(BALANCE, COMMISSION_BPS),
            client_reference_id=booking_id,
            metadata={"tenant_id": tenant_id, "booking_id": booking_id, "instalment_seq": "2"},
        )
    )
    return session.id, session.url


async def open_balance(world: World, tenant_id: str, booking_id: str) -> str:
    """A balance session recorded OPEN, as the couple's `pay` opens it: its id."""
    session_id, url = await balance_session(world, tenant_id, booking_id)
    async with world.store.tenant(tenant_id) as tx:
        await tx.insert_payment(
            Payment(
                session_id=session_id,
                tenant_id=tenant_id,
                booking_id=booking_id,
                amount_cents=BALANCE,
                currency="usd",
                commission_bps=COMMISSION_BPS,
                fee_cents=commission_cents(BALANCE, COMMISSION_BPS),
                destination_account=world.account,
                status="OPEN",
                checkout_url=url,
                expires_at=datetime.now(UTC) + timedelta(hours=1),
                instalment_seq=2,
            )
        )
    return session_id


async def instalments(world: World, tenant_id: str, booking_id: str) -> list[tuple[int, str, int]]:
    async with world.store.tenant(tenant_id) as tx:
        return [(i.seq, i.status.value, i.refunded_cents) for i in await tx.instalments(booking_id)]


async def ledger_per_payment(
    world: World, tenant_id: str, booking_id: str
) -> dict[int, tuple[int, int, int, int]]:
    """seq -> (charged, fee, refunded, fee refunded) from the ledger."""
    async with world.store.tenant(tenant_id) as tx:
        answer = {}
        for payment, seq in await tx.paid_payments(booking_id):
            t = await tx.totals(payment.session_id)
            answer[seq] = (t.charged, t.fee, t.refunded, t.fee_refunded)
        return answer


async def stripe_refunds(world: World, tenant_id: str, booking_id: str) -> dict[int, list[int]]:
    """seq -> the amounts Stripe refunded on that instalment's payment."""
    async with world.store.tenant(tenant_id) as tx:
        paid = await tx.paid_payments(booking_id)
    answer = {}
    for payment, seq in paid:
        assert payment.payment_intent_id is not None
        answer[seq] = sorted(r.amount_cents for r in await world.stripe.refunds(payment.payment_intent_id))
    return answer


async def test_a_refund_over_deposit_and_balance_takes_the_balance_first_each_fee_back_in_proportion(
    world: World, new_tenant_id: str
) -> None:
    booking = await a_booking(world, new_tenant_id)
    # Fees: ceil(3333 x 10.5 %) = 350 on the deposit, ceil(6667 x 10.5 %) = 701 on the balance.
    outcome = await world.refunds.cancel_and_refund(
        new_tenant_id, booking, reason="", choice=RefundChoice.amount(8_000), actor=ADMIN
    )
    # The balance in full (its whole fee back), then 1,333 of the deposit with floor(350 x 1333 / 3333)
    # = 139 of its fee: the platform keeps the rounding.
    assert (outcome.refunded_cents, outcome.total_refunded_cents, outcome.fee_refunded_cents) == (
        8_000,
        8_000,
        701 + 139,
    )
    assert await ledger_per_payment(world, new_tenant_id, booking) == {
        1: (3_333, 350, 1_333, 139),
        2: (6_667, 701, 6_667, 701),
    }
    assert await stripe_refunds(world, new_tenant_id, booking) == {1: [1_333], 2: [6_667]}
    assert await instalments(world, new_tenant_id, booking) == [(1, "PAID", 1_333), (2, "REFUNDED", 6_667)]
    # Booking is cancelled once and told once, with the booking's whole refunded total.
    assert world.bookings.cancelled == [(booking, ADMIN)]
    assert [(b, total, cents) for b, total, cents, _ in world.bookings.refunds] == [(booking, 8_000, 8_000)]

    # What is left is the deposit's 2,000; asking for more is refused naming the field, and moves nothing.
    with pytest.raises(ValidationError) as refused:
        await world.refunds.cancel_and_refund(
            new_tenant_id, booking, reason="", choice=RefundChoice.amount(2_001), actor=ADMIN
        )
    assert [f.field for f in refused.value.fields] == ["refund.amountCents"]
    rest = await world.refunds.cancel_and_refund(
        new_tenant_id, booking, reason="", choice=RefundChoice.full(), actor=ADMIN
    )
    assert (rest.refunded_cents, rest.total_refunded_cents, rest.fee_refunded_cents) == (
        2_000,
        10_000,
        350 - 139,
    )
    assert await instalments(world, new_tenant_id, booking) == [
        (1, "REFUNDED", 3_333),
        (2, "REFUNDED", 6_667),
    ]
    async with world.store.tenant(new_tenant_id) as tx:
        totals = await tx.booking_totals(booking)
    assert (totals.charged, totals.refunded, totals.fee, totals.fee_refunded, totals.net_paid) == (
        10_000,
        10_000,
        1_051,
        1_051,
        0,
    )
    assert totals.reconciles()


async def test_the_same_cancellation_retried_refunds_each_payment_once(
    world: World, new_tenant_id: str
) -> None:
    booking = await a_booking(world, new_tenant_id)
    outcomes = [
        await world.refunds.cancel_and_refund(
            new_tenant_id, booking, reason="", choice=RefundChoice.full(), actor=ADMIN, request_id="cancel-1"
        )
        for _ in range(3)
    ]
    assert [o.refunded_cents for o in outcomes] == [10_000] * 3
    assert await stripe_refunds(world, new_tenant_id, booking) == {1: [3_333], 2: [6_667]}
    assert len(world.bookings.refunds) == 1


async def test_concurrent_cancellations_never_refund_more_than_was_paid(
    world: World, new_tenant_id: str
) -> None:
    booking = await a_booking(world, new_tenant_id)

    async def cancel(n: int) -> int:
        try:
            outcome = await world.refunds.cancel_and_refund(
                new_tenant_id,
                booking,
                reason="",
                choice=RefundChoice.amount(4_000),
                actor=ADMIN,
                request_id=f"cancel-{n}",
            )
        except ValidationError:
            return 0
        return outcome.refunded_cents

    refunded = await asyncio.gather(*(cancel(n) for n in range(6)))
    # 4,000 + 4,000 fit in 10,000; a third would need 4,000 of the 2,000 left.
    assert sorted(refunded) == [0, 0, 0, 0, 4_000, 4_000]
    per_payment = await ledger_per_payment(world, new_tenant_id, booking)
    assert sum(refunded for _, _, refunded, _ in per_payment.values()) == 8_000
    assert all(
        refunded <= charged and fee_back <= fee for charged, fee, refunded, fee_back in per_payment.values()
    )
    # The balance went first: all of it, then 1,333 of the deposit.
    assert {seq: r for seq, (_, _, r, _) in per_payment.items()} == {1: 1_333, 2: 6_667}
    stripe = await stripe_refunds(world, new_tenant_id, booking)
    assert sum(map(sum, stripe.values())) == 8_000


async def test_a_couples_cancellation_keeps_a_non_refundable_deposit_and_refunds_the_balance(
    world: World, new_tenant_id: str
) -> None:
    booking = await a_booking(world, new_tenant_id, deposit_refundable=False)
    outcome = await world.refunds.cancel_and_refund(
        new_tenant_id, booking, reason="", choice=RefundChoice.full(), actor=COUPLE
    )
    assert (outcome.refunded_cents, outcome.fee_refunded_cents) == (6_667, 701)
    assert await instalments(world, new_tenant_id, booking) == [(1, "PAID", 0), (2, "REFUNDED", 6_667)]
    assert await stripe_refunds(world, new_tenant_id, booking) == {1: [], 2: [6_667]}
    # Booking is told what stays with the business, for the couple's refund email.
    assert world.bookings.kept[booking] == 3_333
    # And the couple's view says the same afterwards: nothing more to refund, the deposit kept.
    terms = await world.refunds.couple_terms(new_tenant_id, booking)
    assert (terms.refund_cents, terms.kept_cents) == (0, 3_333)


async def test_a_kept_deposit_is_told_to_booking_even_when_the_refund_webhook_records_the_refund_first(
    world: World,
    new_tenant_id: str,
    captured: tuple[Captured, str],  # noqa: F811
) -> None:
    """The webhook worker may handle Stripe's charge.refunded before the cancellation that asked for the
    refund commits: it tells booking then, and says the same kept deposit the cancellation would."""
    booking = await a_booking(world, new_tenant_id, deposit_refundable=False)
    inbox = StripeInbox(world.store, payees=None, bookings=world.bookings, stripe=world.stripe)  # type: ignore[arg-type]
    async with world.store.tenant(new_tenant_id) as tx:
        charges = {p.payment_intent_id: p.charge_id or "" for p, _ in await tx.paid_payments(booking)}

    class WebhookFirst:
        """Stripe whose charge.refunded is handled before the refund call returns."""

        def __getattr__(self, name: str) -> Any:
            return getattr(world.stripe, name)

        async def refund(self, **asked: Any) -> Any:
            refund = await world.stripe.refund(**asked)
            await inbox.receive(*captured[0].wait_for("charge.refunded", charges[asked["payment_intent_id"]]))
            return refund

    refunds = Refunds(world.store, world.bookings, WebhookFirst())  # type: ignore[arg-type]
    outcome = await refunds.cancel_and_refund(
        new_tenant_id, booking, reason="", choice=RefundChoice.full(), actor=COUPLE
    )
    assert outcome.refunded_cents == 6_667
    # Told once (by the webhook, which recorded it first), with what the business keeps.
    assert [(b, cents) for b, _, cents, _ in world.bookings.refunds] == [(booking, 6_667)]
    assert world.bookings.kept[booking] == 3_333


async def test_what_the_couples_view_says_is_what_their_cancellation_then_refunds(
    world: World, new_tenant_id: str
) -> None:
    for refundable in (False, True):
        booking = await a_booking(world, new_tenant_id, deposit_refundable=refundable)
        before = await world.refunds.couple_terms(new_tenant_id, booking)
        outcome = await world.refunds.cancel_and_refund(
            new_tenant_id, booking, reason="", choice=RefundChoice.full(), actor=COUPLE
        )
        assert outcome.refunded_cents == before.refund_cents
        assert before.refund_cents + before.kept_cents == 10_000
        assert before.kept_cents == (0 if refundable else 3_333)


async def test_a_couple_who_paid_only_a_non_refundable_deposit_cancels_for_nothing_and_owes_nothing_more(
    world: World, new_tenant_id: str
) -> None:
    booking = await a_booking(world, new_tenant_id, paid=1, deposit_refundable=False)
    outcome = await world.refunds.cancel_and_refund(
        new_tenant_id, booking, reason="", choice=RefundChoice.full(), actor=COUPLE
    )
    assert (outcome.refunded_cents, outcome.booking.status) == (0, BookingStatus.CANCELLED)
    assert await instalments(world, new_tenant_id, booking) == [(1, "PAID", 0), (2, "CANCELLED", 0)]
    assert world.bookings.refunds == []
    # The same couple asking again is told it is already cancelled, not refunded.
    with pytest.raises(PreconditionFailed):
        await world.refunds.cancel_and_refund(
            new_tenant_id, booking, reason="", choice=RefundChoice.full(), actor=COUPLE, request_id="again"
        )


async def test_a_couples_cancellation_with_a_refundable_deposit_refunds_everything(
    world: World, new_tenant_id: str
) -> None:
    booking = await a_booking(world, new_tenant_id, paid=1)
    outcome = await world.refunds.cancel_and_refund(
        new_tenant_id, booking, reason="", choice=RefundChoice.full(), actor=COUPLE
    )
    assert (outcome.refunded_cents, outcome.fee_refunded_cents) == (3_333, 350)
    assert await instalments(world, new_tenant_id, booking) == [(1, "REFUNDED", 3_333), (2, "CANCELLED", 0)]


async def test_cancelling_without_a_refund_cancels_what_is_owed_and_moves_no_money(
    world: World, new_tenant_id: str
) -> None:
    booking = await a_booking(world, new_tenant_id, paid=1)
    outcome = await world.refunds.cancel_and_refund(
        new_tenant_id, booking, reason="balance_unpaid", choice=RefundChoice.none(), actor="system"
    )
    assert (outcome.refunded_cents, outcome.total_refunded_cents) == (0, 0)
    assert await instalments(world, new_tenant_id, booking) == [(1, "PAID", 0), (2, "CANCELLED", 0)]
    assert world.bookings.cancelled == [(booking, "system")]


async def test_refunds_made_in_stripe_tell_booking_the_bookings_refunded_total_over_all_its_payments(
    world: World,
    new_tenant_id: str,
    captured: tuple[Captured, str],  # noqa: F811
) -> None:
    booking = await a_booking(world, new_tenant_id, parts=(3_000, 7_000))
    inbox = StripeInbox(world.store, payees=None, bookings=world.bookings, stripe=world.stripe)  # type: ignore[arg-type]
    async with world.store.tenant(new_tenant_id) as tx:
        payments = {seq: payment for payment, seq in await tx.paid_payments(booking)}
    # The business refunds part of each payment in Stripe's dashboard, the deposit's first.
    for seq, amount in ((1, 1_000), (2, 2_500)):
        payment = payments[seq]
        assert payment.payment_intent_id is not None
        await world.stripe.refund(
            payment_intent_id=payment.payment_intent_id,
            amount_cents=amount,
            refund_application_fee=False,
            reverse_transfer=True,
            metadata={},
            idempotency_key=f"dashboard-{uuid.uuid4().hex}",
        )
        await inbox.receive(*captured[0].wait_for("charge.refunded", payment.charge_id or ""))
    # Booking's refunded figure is the booking's, over both payments, not the refunded payment's.
    assert [(b, total, cents) for b, total, cents, _ in world.bookings.refunds] == [
        (booking, 1_000, 1_000),
        (booking, 3_500, 2_500),
    ]


@dataclass
class ClosingWatch:
    """The Stripe adapter with a look at the database whenever a session is closed: whether its
    payment's row could be locked by someone else at that moment (it cannot while a transaction of
    the caller holds it), and optionally a webhook settling the payment just before Stripe answers."""

    inner: StripeAdapter
    store: PaymentsStore
    tenant_id: str
    settle_as: str = ""
    row_free: list[bool] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def expire_checkout_session(self, session_id: str) -> None:
        async with self.store.tenant(self.tenant_id) as tx:
            try:
                await tx.conn.execute(
                    text("SELECT 1 FROM payments WHERE session_id = :s FOR UPDATE NOWAIT"), {"s": session_id}
                )
                self.row_free.append(True)
            except DatabaseError:
                self.row_free.append(False)
                raise
        if self.settle_as:
            async with self.store.tenant(self.tenant_id) as tx:
                await tx.set_payment_status(session_id, self.settle_as)
        await self.inner.expire_checkout_session(session_id)


async def _status_of(world: World, tenant_id: str, session_id: str) -> str:
    async with world.store.tenant(tenant_id) as tx:
        payment = await tx.payment_by_session(session_id)
    assert payment is not None
    return str(payment.status)


@pytest.mark.parametrize("settled_meanwhile", ["", "NOT_OWED"])
async def test_a_cancellation_closes_an_open_balance_session_at_stripe_outside_its_transactions(
    world: World, new_tenant_id: str, settled_meanwhile: str
) -> None:
    booking = await a_booking(world, new_tenant_id, paid=1)
    session_id = await open_balance(world, new_tenant_id, booking)
    watch = ClosingWatch(world.stripe, world.store, new_tenant_id, settle_as=settled_meanwhile)
    refunds = Refunds(world.store, world.bookings, watch)  # type: ignore[arg-type]
    await refunds.cancel_and_refund(
        new_tenant_id, booking, reason="venue closed", choice=RefundChoice.none(), actor="system"
    )
    # Stripe was asked while nobody held the payment's row (the old code asked under FOR UPDATE).
    assert watch.row_free == [True]
    assert _stripe_get(world.sandbox, f"/v1/checkout/sessions/{session_id}")["status"] == "expired"
    # EXPIRED recorded only over a payment still OPEN: a webhook's outcome meanwhile is kept.
    assert await _status_of(world, new_tenant_id, session_id) == (settled_meanwhile or "EXPIRED")
