"""In-memory stand-ins for what payments' use cases talk to (its store, tenant, catalog, booking and
Stripe), for fast unit tests of the use cases. The real ones are tested against PostgreSQL, the
services and the Stripe sandbox in tests/integration and tests/e2e."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from mais_runtime.errors import Conflict
from services.payments.checkout import Checkout, Urls
from services.payments.domain import (
    BookingState,
    BookingStatus,
    CheckoutInput,
    ConfirmResult,
    ConnectState,
    EntryKind,
    EventStatus,
    Hold,
    HoldRequest,
    InstalmentRecorded,
    LedgerTotals,
    Payee,
    PaymentStatus,
    Quote,
    QuoteLine,
)
from services.payments.domain.schedule import InstalmentKind, InstalmentStatus, NoticeStage
from services.payments.store import InboxEvent, Instalment, NewInstalment, Payment, RefundRequest
from services.payments.stripe_adapter import (
    CreatedSession,
    MoneyBack,
    PaymentFacts,
    SessionAlreadyPaid,
    SessionSpec,
)

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
TENANT = "00000000-0000-4000-8000-000000000001"


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def an_instalment(booking_id: str, seq: int, **fields: Any) -> Instalment:
    """An instalment as the store reads it: owed, nothing paid, usual terms; `fields` set the rest."""
    owed: dict[str, Any] = {
        "kind": InstalmentKind.BALANCE,
        "amount_cents": 0,
        "currency": "usd",
        "due_date": date(2030, 1, 1),
        "timezone": "UTC",
        "status": InstalmentStatus.DUE,
        "session_id": None,
        "paid_cents": 0,
        "fee_cents": 0,
        "refunded_cents": 0,
        "paid_at": None,
        "paid_offline": False,
        "note": None,
        "notice_stage": NoticeStage.NONE,
        "grace_days": 3,
        "reminder_days": 7,
        "overdue_action": "remind",
        "deposit_refundable": True,
    }
    return Instalment(booking_id=booking_id, seq=seq, **{**owed, **fields})


@dataclass
class FakeTx:
    """The transaction verbs the use cases call, over the store's dictionaries."""

    store: FakeStore

    async def wait_for_peers(self) -> None:
        return None

    async def take_checkout_slot(self, *_: Any, **__: Any) -> float | None:
        return None

    async def lock_idempotency_key(self, tenant_id: str, key: str) -> None:
        return None

    async def checkout_request(self, key: str) -> tuple[str, dict[str, Any]] | None:
        return self.store.answers.get(key)

    async def save_checkout_request(
        self, tenant_id: str, key: str, request_hash: str, booking_id: str, response: dict[str, Any]
    ) -> None:
        self.store.answers[key] = (request_hash, response)

    async def insert_payment(self, payment: Payment) -> Payment:
        if any(
            p.booking_id == payment.booking_id
            and p.status != "REPLACED"
            and p.instalment_seq == payment.instalment_seq
            and (payment.instalment_seq == 1 or p.status == "OPEN")
            for p in self.store.payments.values()
        ):
            raise AssertionError("one live checkout payment per booking, one open one per instalment")
        self.store.payments.setdefault(payment.session_id, payment)
        return self.store.payments[payment.session_id]

    async def supersede(self, session_id: str) -> None:
        old = self.store.payments[session_id]
        if old.charge_id or old.status not in ("OPEN", "EXPIRED"):
            raise Conflict("moved on")
        self.store.payments[session_id] = replace(old, status="REPLACED")

    async def payment_by_booking(self, booking_id: str, *, lock: bool = False) -> Payment | None:
        live = (
            p
            for p in self.store.payments.values()
            if p.booking_id == booking_id and p.status != "REPLACED" and p.instalment_seq == 1
        )
        return next(live, None)

    async def instalment_payments(self, booking_id: str, seq: int) -> list[Payment]:
        return [
            p for p in self.store.payments.values() if p.booking_id == booking_id and p.instalment_seq == seq
        ]

    # --- instalments, as store.py writes them ---------------------------------------------

    async def replace_schedule(
        self, tenant_id: str, booking_id: str, planned: list[NewInstalment], **terms: Any
    ) -> None:
        terms.pop("event_date", None)
        for key, part in list(self.store.instalments.items()):
            if (
                key[0] == booking_id
                and part.paid_cents == 0
                and part.status in ("DUE", "OVERDUE", "CANCELLED")
            ):
                del self.store.instalments[key]
        for new in planned:
            self.store.instalments.setdefault(
                (booking_id, new.seq),
                an_instalment(
                    booking_id,
                    new.seq,
                    kind=InstalmentKind(new.kind),
                    amount_cents=new.amount_cents,
                    due_date=new.due_date,
                    **terms,
                ),
            )

    async def instalments(self, booking_id: str, *, lock: bool = False) -> list[Instalment]:
        return sorted(
            (p for (b, _), p in self.store.instalments.items() if b == booking_id), key=lambda p: p.seq
        )

    async def instalment(self, booking_id: str, seq: int, *, lock: bool = False) -> Instalment | None:
        return self.store.instalments.get((booking_id, seq))

    def _change_owed(self, booking_id: str, seq: int | None, **changes: Any) -> None:
        for (b, q), part in list(self.store.instalments.items()):
            if b == booking_id and (seq is None or q == seq) and part.owed:
                self.store.instalments[(b, q)] = replace(part, **changes)

    async def mark_instalment_paid(
        self, booking_id: str, seq: int, *, session_id: str, paid_cents: int, fee_cents: int
    ) -> None:
        self._change_owed(
            booking_id,
            seq,
            status=InstalmentStatus.PAID,
            session_id=session_id,
            paid_cents=paid_cents,
            fee_cents=fee_cents,
        )

    async def set_instalment_session(self, booking_id: str, seq: int, session_id: str | None) -> None:
        self._change_owed(booking_id, seq, session_id=session_id)

    async def forget_instalment_session(self, booking_id: str, seq: int, session_id: str) -> None:
        part = self.store.instalments.get((booking_id, seq))
        if part is not None and part.session_id == session_id:
            self._change_owed(booking_id, seq, session_id=None)

    async def cancel_schedule_of_session(self, booking_id: str, session_id: str) -> None:
        first = self.store.instalments.get((booking_id, 1))
        if first is not None and first.owed and first.session_id == session_id:
            self._change_owed(booking_id, None, status=InstalmentStatus.CANCELLED)

    async def cancel_owed_instalments(self, booking_id: str) -> None:
        self._change_owed(booking_id, None, status=InstalmentStatus.CANCELLED)

    async def payment_by_session(self, session_id: str, *, lock: bool = False) -> Payment | None:
        return self.store.payments.get(session_id)

    async def set_payment_status(self, session_id: str, status: str) -> None:
        self.store.payments[session_id] = replace(self.store.payments[session_id], status=status)

    async def open_balance_payments(self, booking_id: str) -> list[Payment]:
        return [
            p
            for p in self.store.payments.values()
            if p.booking_id == booking_id and p.status == PaymentStatus.OPEN and p.instalment_seq > 1
        ]

    async def lapsed_open_payments(self, now: datetime, limit: int) -> list[Payment]:
        lapsed = [p for p in self.store.payments.values() if p.status == "OPEN" and p.expires_at <= now]
        return sorted(lapsed, key=lambda p: p.expires_at)[:limit]

    async def refund_request(self, request_id: str) -> RefundRequest | None:
        return self.store.refunds.get(request_id)

    async def totals(self, session_id: str) -> LedgerTotals:
        return LedgerTotals.of((k, a) for s, k, a, _ in self.store.ledger if s == session_id)

    async def recorded_request_ids(self, session_id: str, kind: EntryKind) -> set[str]:
        return {r for s, k, _, r in self.store.ledger if s == session_id and k is kind and r}

    async def pending_refunds(self, session_id: str) -> list[RefundRequest]:
        return [
            r for r in self.store.refunds.values() if r.session_id == session_id and r.status == "PENDING"
        ]

    async def reserve_refund(self, payment: Payment, request: RefundRequest) -> None:
        self.store.refunds[request.request_id] = request

    async def drop_refund(self, request_id: str) -> None:
        self.store.refunds.pop(request_id, None)

    async def add_entry(
        self,
        payment: Payment,
        kind: EntryKind,
        amount: int,
        object_id: str,
        *,
        refund_request_id: str | None = None,
    ) -> bool:
        if any(o == object_id for *_, o in self.store.objects):
            return False
        self.store.objects.append((kind, object_id))
        self.store.ledger.append((payment.session_id, kind, amount, refund_request_id))
        return True

    # --- store_refunds.RefundQueries (no instalment rows here: every payment paid the whole price)

    async def paid_payments(self, booking_id: str, *, lock: bool = False) -> list[tuple[Payment, int]]:
        return [
            (p, 1)
            for p in self.store.payments.values()
            if p.booking_id == booking_id and p.status == PaymentStatus.PAID and p.payment_intent_id
        ]

    async def cancellation_parts(self, cancellation_id: str) -> list[RefundRequest]:
        return [self.store.refunds[r] for c, r in self.store.cancellations if c == cancellation_id]

    async def reserve_refund_part(self, tenant_id: str, cancellation_id: str, request: RefundRequest) -> None:
        self.store.refunds[request.request_id] = request
        self.store.cancellations.append((cancellation_id, request.request_id))

    async def settle_instalments_after_refund(self, booking_id: str) -> None:
        return None

    async def booking_totals(self, booking_id: str) -> LedgerTotals:
        sessions = {
            s
            for s, p in self.store.payments.items()
            if p.booking_id == booking_id and p.status != PaymentStatus.NOT_OWED
        }
        return LedgerTotals.of((k, a) for s, k, a, _ in self.store.ledger if s in sessions)

    async def finish_refund(self, request_id: str, refund_id: str, fee_refund_id: str | None) -> None:
        self.store.refunds[request_id] = replace(
            self.store.refunds[request_id], status="SUCCEEDED", stripe_refund_id=refund_id
        )

    async def set_payment_objects(
        self, session_id: str, *, payment_intent_id: str, charge_id: str, application_fee_id: str | None
    ) -> None:
        payment = self.store.payments[session_id]
        self.store.payments[session_id] = replace(
            payment,
            payment_intent_id=payment_intent_id,
            charge_id=charge_id,
            application_fee_id=application_fee_id or payment.application_fee_id,
        )

    async def event_by_stripe_id(self, stripe_event_id: str, *, lock: bool = False) -> InboxEvent | None:
        return self.store.events.get(stripe_event_id)

    async def set_event_tenant(self, stripe_event_id: str, tenant_id: str, booking_id: str) -> None:
        event = self.store.events[stripe_event_id]
        self.store.events[stripe_event_id] = replace(event, tenant_id=event.tenant_id or tenant_id)

    async def mark_event(
        self, stripe_event_id: str, status: EventStatus, *, error: str | None = None, attempted: bool = True
    ) -> None:
        event = self.store.events[stripe_event_id]
        self.store.events[stripe_event_id] = replace(
            event, status=status, attempts=event.attempts + int(attempted), last_error=error
        )

    async def mark_failed_unless_settled(self, stripe_event_id: str, error: str) -> None:
        event = self.store.events[stripe_event_id]
        if not event.status.settled:
            await self.mark_event(stripe_event_id, EventStatus.FAILED, error=error)

    @property
    def conn(self) -> FakeTx:
        return self

    @asynccontextmanager
    async def begin_nested(self) -> AsyncIterator[None]:
        """A savepoint: what failed inside it is rolled back (the payments' states)."""
        saved = dict(self.store.payments)
        try:
            yield
        except BaseException:
            self.store.payments = saved
            raise


@dataclass
class FakeStore:
    """PaymentsStore's transactions over dictionaries (no isolation: the unit tests run one thing)."""

    payments: dict[str, Payment] = field(default_factory=dict)
    answers: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    refunds: dict[str, RefundRequest] = field(default_factory=dict)
    # (cancellation id, refund request id) in the order they were reserved.
    cancellations: list[tuple[str, str]] = field(default_factory=list)
    ledger: list[tuple[str, EntryKind, int, str | None]] = field(default_factory=list)
    objects: list[tuple[EntryKind, str]] = field(default_factory=list)

    events: dict[str, InboxEvent] = field(default_factory=dict)
    instalments: dict[tuple[str, int], Instalment] = field(default_factory=dict)

    @asynccontextmanager
    async def tenant(self, tenant_id: str) -> AsyncIterator[FakeTx]:
        yield FakeTx(self)

    async def record_event(
        self,
        *,
        stripe_event_id: str,
        event_type: str,
        tenant_id: str | None,
        booking_id: str,
        payload: bytes,
        stripe_created: int,
    ) -> InboxEvent:
        if stripe_event_id not in self.events:
            self.events[stripe_event_id] = InboxEvent(
                id=f"ev-{len(self.events) + 1}",
                stripe_event_id=stripe_event_id,
                type=event_type,
                tenant_id=tenant_id,
                booking_id=booking_id or None,
                status=EventStatus.RECEIVED,
                attempts=0,
                last_error=None,
                payload=json.loads(payload),
                received_at=NOW,
                processed_at=None,
            )
        return self.events[stripe_event_id]

    @asynccontextmanager
    async def platform(self) -> AsyncIterator[FakeTx]:
        yield FakeTx(self)


class FakePayees:
    """The tenant service's view of payees."""

    def __init__(self, payee: Payee) -> None:
        self.current = payee
        self.states: list[tuple[str, str, ConnectState]] = []

    async def payee(self, tenant_id: str) -> Payee:
        return self.current

    async def owner_of_account(self, stripe_account_id: str) -> str | None:
        return TENANT if stripe_account_id == self.current.stripe_account_id else None

    async def record_connect_state(self, tenant_id: str, account: str, state: ConnectState) -> None:
        self.states.append((tenant_id, account, state))


class FakeQuotes:
    """A catalog that prices everything the same."""

    def __init__(
        self, lines: tuple[QuoteLine, ...] = (QuoteLine("Garden day", 9_000), QuoteLine("Flowers", 1_000))
    ):
        self.lines = lines
        self.asked = 0

    async def quote(self, tenant_id: str, package_id: str, add_on_ids: Any) -> Quote:
        self.asked += 1
        return Quote(self.lines, sum(line.price_cents for line in self.lines), "usd")


@dataclass
class FakeBooking:
    id: str
    email: str
    date: str
    status: BookingStatus
    expires_at: datetime
    session_id: str = ""
    history: list[str] = field(default_factory=list)


class FakeBookings:
    """Booking's contract: one live hold per date; the same couple (email) holding again gets their
    hold back `resumed`, extended to a full hold when less was left; another couple DATE_UNAVAILABLE."""

    def __init__(self, clock: Clock, hold_minutes: int = 31, quotes: FakeQuotes | None = None) -> None:
        self.clock = clock
        # Booking quotes a hold that names its package, after refusing a taken date.
        self.quotes = quotes or FakeQuotes()
        self.hold_time = timedelta(minutes=hold_minutes)
        self.instalments_recorded: dict[str, int] = {}
        self.bookings: dict[str, FakeBooking] = {}
        self.addresses: list[str] = []
        self.released: list[tuple[str, str]] = []
        self.cancelled: list[str] = []
        self.confirmations: list[str] = []
        self.told_hold_lost: list[str] = []
        self._ids = itertools.count(1)

    async def hold(self, tenant_id: str, request: HoldRequest) -> Hold:
        self.addresses.append(request.client_address)
        day, now = request.checkout.event_date.isoformat(), self.clock()
        for booking in self.bookings.values():
            if booking.date == day and booking.status is BookingStatus.HELD and booking.expires_at > now:
                if booking.email != request.checkout.email:
                    raise Conflict(f"{day} is not available (held)", reason="DATE_UNAVAILABLE")
                quote = await self._quote(tenant_id, request)
                if booking.expires_at - now < self.hold_time:
                    booking.expires_at = now + self.hold_time
                return Hold(
                    booking.id,
                    booking.status,
                    booking.expires_at,
                    booking.session_id,
                    resumed=True,
                    quote=quote,
                )
        quote = await self._quote(tenant_id, request)
        booking = FakeBooking(
            f"b{next(self._ids)}", request.checkout.email, day, BookingStatus.HELD, now + self.hold_time
        )
        self.bookings[booking.id] = booking
        return Hold(booking.id, booking.status, booking.expires_at, "", resumed=False, quote=quote)

    async def _quote(self, tenant_id: str, request: HoldRequest) -> Quote:
        """As booking does: catalog's quote, refused before anything is held when nobody can pay it."""
        quote = request.quote or await self.quotes.quote(
            tenant_id, request.checkout.package_id, request.checkout.add_on_ids
        )
        quote.check()
        return quote

    async def attach_session(
        self, tenant_id: str, booking_id: str, session_id: str, *, replaces: str = ""
    ) -> None:
        booking = self.bookings[booking_id]
        assert booking.session_id in ("", session_id, replaces), "another session owns this hold"
        booking.session_id = session_id

    async def release_hold(
        self, tenant_id: str, booking_id: str, reason: str, *, session_id: str = ""
    ) -> None:
        booking = self.bookings[booking_id]
        if session_id and booking.session_id != session_id:
            return
        if booking.status is BookingStatus.HELD:
            booking.status = BookingStatus.RELEASED
            booking.history.append(reason)
            self.released.append((booking_id, reason))

    async def confirm(
        self, tenant_id: str, booking_id: str, session_id: str, amount: int, schedule: Any = ()
    ) -> ConfirmResult:
        """As booking decides: the same session again changes nothing; a payment for another session, or
        for a booking that moved on, is a lost hold."""
        booking = self.bookings[booking_id]
        self.confirmations.append(session_id)
        if booking.status is BookingStatus.CONFIRMED:
            return (
                ConfirmResult.ALREADY_CONFIRMED
                if booking.session_id == session_id
                else ConfirmResult.HOLD_LOST
            )
        if booking.status is BookingStatus.CANCELLED or (
            booking.session_id and booking.session_id != session_id
        ):
            return ConfirmResult.HOLD_LOST
        booking.status = BookingStatus.CONFIRMED
        return ConfirmResult.CONFIRMED

    async def get(self, tenant_id: str, booking_id: str, *, with_history: bool = False) -> BookingState:
        booking = self.bookings[booking_id]
        return BookingState(booking.id, booking.status, booking)

    async def check_cancel(self, tenant_id: str, booking_id: str, actor: str) -> None:
        return None

    async def cancel(self, tenant_id: str, booking_id: str, *, reason: str, actor: str) -> BookingState:
        booking = self.bookings[booking_id]
        if booking.status is not BookingStatus.CANCELLED:
            booking.status = BookingStatus.CANCELLED
            self.cancelled.append(booking_id)
        return BookingState(booking.id, booking.status, booking)

    async def record_refund(self, tenant_id: str, booking_id: str, **_: Any) -> None:
        return None

    async def notify_hold_lost_refund(self, tenant_id: str, booking_id: str, *_: Any) -> None:
        self.told_hold_lost.append(booking_id)

    async def record_instalment_payment(
        self, tenant_id: str, booking_id: str, *, session_id: str, amount_cents: int, **_: Any
    ) -> InstalmentRecorded:
        """As booking's contract says: once per session, nothing for a booking no longer confirmed."""
        if session_id in self.instalments_recorded:
            return InstalmentRecorded.ALREADY_RECORDED
        if self.bookings[booking_id].status is not BookingStatus.CONFIRMED:
            return InstalmentRecorded.BOOKING_NOT_CONFIRMED
        self.instalments_recorded[session_id] = amount_cents
        return InstalmentRecorded.RECORDED


class FakeStripe:
    """Checkout Sessions, expiry and refunds as Stripe keeps them (idempotency keys included)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.sessions: dict[str, dict[str, Any]] = {}
        self.by_key: dict[str, str] = {}
        self.refunds: list[tuple[str, int]] = []
        self.paid: dict[str, int] = {}
        self.amounts: dict[str, int] = {}
        self.facts: dict[str, PaymentFacts] = {}
        self._ids = itertools.count(1)

    async def create_checkout_session(self, spec: SessionSpec) -> CreatedSession:
        if spec.idempotency_key in self.by_key:
            session = self.sessions[self.by_key[spec.idempotency_key]]
        else:
            now = int(self.clock().timestamp())
            assert now + 30 * 60 <= spec.expires_at <= now + 24 * 3600, "outside Stripe's window"
            session_id = f"cs_{next(self._ids)}"
            session = {"id": session_id, "spec": spec, "status": "open", "expires_at": spec.expires_at}
            self.sessions[session_id] = session
            self.by_key[spec.idempotency_key] = session_id
        return CreatedSession(session["id"], f"https://pay.test/{session['id']}", session["expires_at"])

    async def expire_checkout_session(self, session_id: str) -> None:
        status = self.sessions[session_id]["status"]
        if status == "complete":
            raise SessionAlreadyPaid()
        if status == "open":
            self.sessions[session_id]["status"] = "expired"

    async def refund(
        self, *, payment_intent_id: str, amount_cents: int | None, idempotency_key: str = "", **_: Any
    ) -> MoneyBack:
        if idempotency_key and idempotency_key in self.by_key:
            return MoneyBack(self.by_key[idempotency_key], self.amounts[self.by_key[idempotency_key]], None)
        amount = amount_cents if amount_cents is not None else self.paid.get(payment_intent_id, 0)
        self.refunds.append((payment_intent_id, amount))
        refund = MoneyBack(f"re_{next(self._ids)}", amount, None)
        if idempotency_key:
            self.by_key[idempotency_key] = refund.id
        self.amounts[refund.id] = amount
        return refund

    def pay(self, session_id: str) -> bytes:
        """The couple pays: the session completes, and the checkout.session.completed body Stripe sends."""
        session = self.sessions[session_id]
        assert session["status"] == "open", "only an open session takes money"
        session["status"] = "complete"
        spec: SessionSpec = session["spec"]
        intent = f"pi_{session_id}"
        total = sum(item.amount_cents for item in spec.line_items)
        self.paid[intent] = total
        self.facts[intent] = PaymentFacts(
            payment_intent_id=intent,
            charge_id=f"ch_{session_id}",
            amount_cents=total,
            currency=spec.currency,
            application_fee_id=f"fee_{session_id}" if spec.application_fee_cents else None,
            application_fee_cents=spec.application_fee_cents or 0,
            destination_account=spec.destination_account,
        )
        event = {
            "id": f"evt_{session_id}",
            "type": "checkout.session.completed",
            "created": 1,
            "data": {
                "object": {
                    "id": session_id,
                    "object": "checkout.session",
                    "payment_status": "paid",
                    "payment_intent": intent,
                    "metadata": spec.metadata,
                    "url": f"https://pay.test/{session_id}",
                    "expires_at": session["expires_at"],
                }
            },
        }
        return json.dumps(event).encode()

    def expired_event(self, session_id: str) -> bytes:
        """The checkout.session.expired body for a session."""
        spec: SessionSpec = self.sessions[session_id]["spec"]
        event = {
            "id": f"evt_expired_{session_id}",
            "type": "checkout.session.expired",
            "created": 1,
            "data": {"object": {"id": session_id, "object": "checkout.session", "metadata": spec.metadata}},
        }
        return json.dumps(event).encode()

    def verify_event(self, payload: bytes, signature_header: str) -> dict[str, Any]:
        return dict(json.loads(payload))

    async def payment_facts(self, payment_intent_id: str) -> PaymentFacts:
        return self.facts[payment_intent_id]

    async def fee_refunds(self, application_fee_id: str) -> list[MoneyBack]:
        return []

    async def refund_fee(self, *, application_fee_id: str, amount_cents: int, **_: Any) -> MoneyBack:
        return MoneyBack(f"fr_{next(self._ids)}", amount_cents, None)


def paid(payment: Payment) -> Payment:
    """The payment once its session was paid."""
    return replace(
        payment,
        status=PaymentStatus.PAID,
        payment_intent_id=f"pi_{payment.session_id}",
        charge_id=f"ch_{payment.session_id}",
        application_fee_id=f"fee_{payment.session_id}",
    )


class CheckoutWorld:
    """One onboarded tenant's checkout with every peer in memory; the use-case tests add what they test
    (the inbox, refunds, the expiry sweep) on top of it."""

    def __init__(self, payee: Payee | None = None) -> None:
        self.clock = Clock()
        self.store = FakeStore()
        self.payees = FakePayees(payee or Payee(1_000, "acct_tenant", onboarded=True))
        self.quotes = FakeQuotes()
        self.bookings = FakeBookings(self.clock, quotes=self.quotes)
        self.stripe = FakeStripe(self.clock)
        self.checkout = Checkout(
            self.store,  # type: ignore[arg-type]
            payees=self.payees,  # type: ignore[arg-type]
            bookings=self.bookings,  # type: ignore[arg-type]
            stripe=self.stripe,  # type: ignore[arg-type]
            default_urls=Urls("https://x.test/ok", "https://x.test/back?b={BOOKING_ID}"),
            clock=self.clock,
        )

    async def start(
        self,
        email: str = "ana@example.com",
        *,
        day: int = 7,
        add_on_ids: tuple[str, ...] = ("flowers",),
        key: str = "",
        ip: str = "203.0.113.7",
    ) -> Any:
        """A couple's checkout of the garden package for 2031-06-`day`."""
        request = CheckoutInput.checked(
            package_id="garden",
            add_on_ids=list(add_on_ids),
            event_date=date(2031, 6, day).isoformat(),
            couple_name="Ana & Bo",
            email=email,
            phone="",
            notes="",
        )
        return await self.checkout.start(TENANT, request, idempotency_key=key, request_hash="", client_ip=ip)
