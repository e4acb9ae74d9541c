"""Starting a checkout: payee, quote, hold, one Stripe Checkout Session, and the Idempotency-Key's answer.

The order matters. A tenant that Stripe cannot pay yet (Connect onboarding not complete) is refused
first, before anything is held: there is no payment without a payee. The quote comes from catalog
(never from the client); then booking holds the date, so a second couple is refused before anyone
pays; only then is the session created, with Stripe's idempotency key derived from the hold (one
session per hold) and `expires_at` exactly the hold's expiry. A failure after a new hold releases it
(and closes the session if there is one), so no orphan hold blocks the date.

A couple who comes back to their date (same email, same date, same tenant) gets their live hold back
from booking (`resumed`): their open session when it still leaves time to pay and closes no later than
the hold, otherwise a new session for the same hold (the old one is expired at Stripe first, so only
one can ever be paid).
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from mais_runtime.errors import NotFound, RateLimited, ValidationError
from mais_runtime.payment_policy import PaymentPolicy
from services.payments.clients import Bookings, TenantPayees
from services.payments.domain import (
    BookingStatus,
    CheckoutInput,
    Hold,
    HoldRequest,
    HoldTooShort,
    Payee,
    PaymentStatus,
    Quote,
    SessionState,
    check_replay,
    commission_cents,
    hold_request_id,
    session_expires_at,
    session_idempotency_key,
    session_resumable,
    session_state,
)
from services.payments.domain.schedule import InstalmentKind, PlannedInstalment, plan_schedule
from services.payments.metrics import CHECKOUTS
from services.payments.store import NewInstalment, Payment, PaymentsStore, PaymentsTx, utc_now
from services.payments.stripe_adapter import (
    AccountUnknown,
    CreatedSession,
    LineItem,
    SessionAlreadyPaid,
    SessionSpec,
    StripeAdapter,
)

log = logging.getLogger("mais.payments.checkout")

# A hold found already released (an earlier attempt with the same Idempotency-Key failed after
# holding) is replaced by a fresh one, at most this many times.
_MAX_HOLD_ATTEMPTS = 3


@dataclass(frozen=True)
class CheckoutAnswer:
    """What the couple's client gets back (and what an Idempotency-Key replays): with the schedule
    the checkout starts and what its session charges now (the deposit, or the whole)."""

    booking_id: str
    status: BookingStatus
    checkout_url: str
    expires_at: datetime
    total_cents: int
    currency: str
    amount_due_now_cents: int = 0
    schedule: tuple[PlannedInstalment, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {
            **asdict(self),
            "status": self.status.value,
            "expires_at": self.expires_at.isoformat(),
            "schedule": [
                {
                    "seq": p.seq,
                    "kind": p.kind.value,
                    "amount_cents": p.amount_cents,
                    "due_date": p.due_date.isoformat(),
                }
                for p in self.schedule
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CheckoutAnswer:
        """Back from the stored form (an answer stored before schedules charged the whole)."""
        return cls(
            **{
                **data,
                "status": BookingStatus(data["status"]),
                "expires_at": datetime.fromisoformat(data["expires_at"]),
                "amount_due_now_cents": data.get("amount_due_now_cents") or data["total_cents"],
                "schedule": tuple(
                    PlannedInstalment(
                        p["seq"],
                        InstalmentKind(p["kind"]),
                        p["amount_cents"],
                        date.fromisoformat(p["due_date"]),
                    )
                    for p in data.get("schedule", ())
                ),
            }
        )


@dataclass(frozen=True)
class RateLimit:
    """At most `attempts` checkouts per tenant and client address in any `window_seconds` (a sliding
    window); 0 is no limit."""

    attempts: int
    window_seconds: int


@dataclass(frozen=True)
class Urls:
    """Where Stripe sends the couple after paying or going back."""

    success: str
    cancel: str


class Checkout:
    """The checkout use case."""

    def __init__(
        self,
        store: PaymentsStore,
        *,
        payees: TenantPayees,
        bookings: Bookings,
        stripe: StripeAdapter,
        default_urls: Urls,
        clock: Callable[[], datetime] = utc_now,
        rate_limit: RateLimit = RateLimit(0, 60),
    ) -> None:
        self._rate_limit = rate_limit
        self._store = store
        self._payees = payees
        self._bookings = bookings
        self._stripe = stripe
        self._default_urls = default_urls
        self._now = clock

    async def start(
        self,
        tenant_id: str,
        request: CheckoutInput,
        *,
        idempotency_key: str,
        request_hash: str,
        urls: Urls | None = None,
        client_ip: str = "",
    ) -> CheckoutAnswer:
        """Runs a checkout; with an Idempotency-Key, at most once per key and body. RATE_LIMITED when
        `client_ip` started too many checkouts of this tenant in the current window;
        TENANT_NOT_ONBOARDED (nothing held) while the tenant cannot be paid."""
        await self._check_rate(tenant_id, client_ip)
        # Where the couple returns is part of what they asked for: a key reused with other pages is
        # another body.
        request_hash = request_hash or request.fingerprint(
            redirects=(urls.success, urls.cancel) if urls else ()
        )
        urls = urls or self._default_urls
        if not idempotency_key:
            return await self._checkout(tenant_id, request, f"checkout-{uuid.uuid4()}", urls, None, client_ip)
        # The key's lock is held until the answer is stored, so concurrent requests with one key
        # queue here and the later ones replay the first one's answer: never a second hold.
        async with self._store.tenant(tenant_id) as tx:
            await tx.lock_idempotency_key(tenant_id, idempotency_key)
            stored = await tx.checkout_request(idempotency_key)
            if stored is not None:
                check_replay(stored[0], request_hash)
                return CheckoutAnswer.from_json(stored[1])
            # Derived from the key: if this process dies after holding, the retry finds the same hold.
            # The payment row is written in this same transaction: a checkout never needs a second
            # pooled connection while it holds the key (waiters on the key hold connections too).
            answer = await self._checkout(
                tenant_id, request, hold_request_id(tenant_id, idempotency_key), urls, tx, client_ip
            )
            await tx.save_checkout_request(
                tenant_id, idempotency_key, request_hash, answer.booking_id, answer.to_json()
            )
            return answer

    async def session(self, tenant_id: str, session_id: str) -> tuple[str, SessionState]:
        """The booking a Checkout Session pays for (any session the booking ever had, a resumed
        hold's replaced ones too) and the session's state; NotFound for another tenant's session
        (row-level security does not show it) or one we never opened."""
        if not session_id:
            raise ValidationError.of("paymentSessionId", "is required")
        async with self._store.tenant(tenant_id) as tx:
            payment = await tx.payment_by_session(session_id)
        if payment is None:
            raise NotFound("checkout session")
        state = session_state(
            PaymentStatus(payment.status),
            paid=payment.charge_id is not None,
            expires_at=payment.expires_at,
            now=self._now(),
        )
        return payment.booking_id, state

    async def _check_rate(self, tenant_id: str, client_ip: str) -> None:
        limit = self._rate_limit
        if limit.attempts <= 0 or not client_ip:
            return
        # Its own short transaction: the slot stays taken even when the checkout then fails.
        async with self._store.tenant(tenant_id) as tx:
            wait = await tx.take_checkout_slot(
                tenant_id, client_ip[:64], limit=limit.attempts, window_seconds=limit.window_seconds
            )
        if wait is not None:
            CHECKOUTS.labels(outcome="rate_limited").inc()
            raise RateLimited(
                "too many checkouts from this address; try again later", max(1, math.ceil(wait))
            )

    async def _checkout(
        self,
        tenant_id: str,
        request: CheckoutInput,
        request_id: str,
        urls: Urls,
        tx: PaymentsTx | None,
        client_ip: str,
    ) -> CheckoutAnswer:
        payee = await self._payees.payee(tenant_id)
        try:
            payee.check_can_be_paid()
        except Exception:
            CHECKOUTS.labels("tenant_not_onboarded").inc()
            raise
        request = request.on_local_date(tenant_zone(payee.timezone))
        # Booking quotes the package itself once the date is not plainly taken (and refuses a quote
        # nobody can pay before holding): a couple who lost the date costs one call, no quote.
        hold = await self._hold(
            tenant_id, HoldRequest(request, None, request_id, client_ip[:64], tenant=payee.record)
        )
        if hold.resumed:
            # Their hold stays theirs whatever happens here.
            quote = _quote_of(hold)
            plan = self.plan(payee, quote, request.event_date)
            answer = await self._resume(tenant_id, payee, quote, plan, request, hold, urls, tx)
            CHECKOUTS.labels("resumed").inc()
            return answer
        session: CreatedSession | None = None
        try:
            quote = _quote_of(hold)
            plan = self.plan(payee, quote, request.event_date)
            session = await self._create_session(
                tenant_id,
                payee,
                quote,
                plan,
                request,
                hold,
                urls,
                session_idempotency_key(tenant_id, hold.booking_id),
            )
            answer = await self._record(
                tenant_id,
                payee,
                quote,
                plan,
                hold,
                session,
                tx,
                replacing=None,
                event_date=request.event_date,
            )
        except Exception:
            CHECKOUTS.labels("failed_after_hold").inc()
            await self._undo_hold(tenant_id, hold.booking_id, session.id if session else "")
            raise
        CHECKOUTS.labels("started").inc()
        return answer

    def plan(self, payee: Payee, quote: Quote, event_date: date) -> tuple[PlannedInstalment, ...]:
        """The schedule a checkout starts: under the package's own terms or the tenant's, from today
        in the tenant's calendar."""
        policy = quote.policy or payee.policy
        today = self._now().astimezone(tenant_zone(payee.timezone)).date()
        return plan_schedule(quote.total_cents, policy, event_date=event_date, today=today)

    async def _hold(self, tenant_id: str, request: HoldRequest) -> Hold:
        request_id = request.request_id
        for _ in range(_MAX_HOLD_ATTEMPTS):
            hold = await self._bookings.hold(
                tenant_id,
                HoldRequest(
                    request.checkout, request.quote, request_id, request.client_address, request.tenant
                ),
            )
            if hold.live:
                return hold
            # An earlier attempt with this key held, failed and released: hold afresh.
            request_id = f"{request_id[:200]}-after-{hold.booking_id}"
        raise RuntimeError("could not obtain a live hold for this checkout")

    async def _resume(
        self,
        tenant_id: str,
        payee: Payee,
        quote: Quote,
        plan: tuple[PlannedInstalment, ...],
        request: CheckoutInput,
        hold: Hold,
        urls: Urls,
        tx: PaymentsTx | None,
    ) -> CheckoutAnswer:
        """The same couple's live hold: their open session when it is still worth paying in, else a
        new session for the same hold. The hold is theirs and stays theirs if this fails.

        One transaction holds the old session's payment row locked from before it is expired at Stripe
        until it is recorded as REPLACED: Stripe's `checkout.session.expired` for it waits on that row,
        then sees REPLACED and leaves the hold alone (it would otherwise release the hold the couple is
        resuming, between the expiry and the new session)."""
        if tx is None:
            async with self._store.tenant(tenant_id) as own:
                return await self._resume(tenant_id, payee, quote, plan, request, hold, urls, own)
        payment = await tx.payment_by_booking(hold.booking_id, lock=True)
        if hold.expires_at is None:
            raise HoldTooShort()
        if payment is not None and session_resumable(
            open_=payment.status == PaymentStatus.OPEN,
            charges_the_quote=(payment.amount_cents, payment.currency)
            == (plan[0].amount_cents, quote.currency)
            and await _plans_match(tx, hold.booking_id, plan),
            session_expires=payment.expires_at,
            hold_expires=hold.expires_at,
            now=self._now(),
        ):
            return await _answer_of(tx, payment, quote.total_cents)
        replacing = payment.session_id if payment is not None else ""
        if payment is not None:
            # Closed first: of the two sessions, only the new one can ever take the money. A session
            # paid meanwhile (the couple came back a second after paying) is their booking: its
            # webhook confirms it, and they get that session's answer again.
            try:
                await self._stripe.expire_checkout_session(payment.session_id)
            except SessionAlreadyPaid:
                return await _answer_of(tx, payment, quote.total_cents)
        session = await self._create_session(
            tenant_id,
            payee,
            quote,
            plan,
            request,
            hold,
            urls,
            session_idempotency_key(tenant_id, hold.booking_id, replacing=replacing),
        )
        return await self._record(
            tenant_id, payee, quote, plan, hold, session, tx, replacing=payment, event_date=request.event_date
        )

    async def _create_session(
        self,
        tenant_id: str,
        payee: Payee,
        quote: Quote,
        plan: tuple[PlannedInstalment, ...],
        request: CheckoutInput,
        hold: Hold,
        urls: Urls,
        idempotency_key: str,
    ) -> CreatedSession:
        if hold.expires_at is None:
            raise HoldTooShort()
        # A destination charge: the commission on what this session charges is the platform's
        # application fee, the rest is the tenant's, paid out by Stripe to its Connect account.
        destination = payee.check_can_be_paid()
        first = plan[0]
        fee = commission_cents(first.amount_cents, payee.commission_bps)
        lines = (
            (LineItem(f"Deposit \u2014 {quote.package_title}", first.amount_cents),)
            if first.kind is InstalmentKind.DEPOSIT
            else tuple(LineItem(line.name, line.price_cents) for line in quote.lines)
        )
        creating = self._stripe.create_checkout_session(
            SessionSpec(
                line_items=lines,
                currency=quote.currency,
                customer_email=request.email,
                client_reference_id=hold.booking_id,
                metadata={"tenant_id": tenant_id, "booking_id": hold.booking_id},
                expires_at=int(session_expires_at(hold.expires_at, self._now()).timestamp()),
                success_url=urls.success,
                cancel_url=urls.cancel.replace("{BOOKING_ID}", hold.booking_id),
                destination_account=destination,
                application_fee_cents=fee if fee > 0 else None,
                idempotency_key=idempotency_key,
            )
        )
        try:
            return await creating
        except AccountUnknown:
            # Stripe forgot the payee (account deleted, sandbox data wiped): say so (TENANT_NOT_ONBOARDED)
            # and let the tenant onboard again, rather than fail every checkout at Stripe.
            await self._payees.forget_account(tenant_id, payee.stripe_account_id)
            raise

    async def _record(
        self,
        tenant_id: str,
        payee: Payee,
        quote: Quote,
        plan: tuple[PlannedInstalment, ...],
        hold: Hold,
        session: CreatedSession,
        tx: PaymentsTx | None,
        *,
        replacing: Payment | None,
        event_date: date,
    ) -> CheckoutAnswer:
        closes_at = datetime.fromtimestamp(session.expires_at, UTC)
        first = plan[0]
        payment = Payment(
            session_id=session.id,
            tenant_id=tenant_id,
            booking_id=hold.booking_id,
            amount_cents=first.amount_cents,
            currency=quote.currency,
            commission_bps=payee.commission_bps,
            fee_cents=commission_cents(first.amount_cents, payee.commission_bps),
            destination_account=payee.check_can_be_paid(),
            status=PaymentStatus.OPEN,
            checkout_url=session.url,
            expires_at=closes_at,
        )
        policy = quote.policy or payee.policy
        schedule = _Schedule(plan, quote.currency, payee.timezone, policy, event_date)
        if tx is not None:
            await _save(tx, payment, replacing, schedule)
        else:
            async with self._store.tenant(tenant_id) as own:
                await _save(own, payment, replacing, schedule)
        await self._bookings.attach_session(
            tenant_id, hold.booking_id, session.id, replaces=replacing.session_id if replacing else ""
        )
        return CheckoutAnswer(
            booking_id=hold.booking_id,
            status=BookingStatus.HELD,
            checkout_url=session.url,
            expires_at=closes_at,
            total_cents=quote.total_cents,
            currency=quote.currency,
            amount_due_now_cents=first.amount_cents,
            schedule=plan,
        )

    async def _undo_hold(self, tenant_id: str, booking_id: str, session_id: str) -> None:
        """Best effort: a session nobody can pay and a hold nobody keeps. If this fails too, the
        expiry sweep (expiry.py) or the hold's own expiry frees the date."""
        try:
            if session_id:
                await self._stripe.expire_checkout_session(session_id)
            await self._bookings.release_hold(tenant_id, booking_id, "checkout_failed")
        except Exception:
            log.warning("could not undo the hold of a failed checkout", exc_info=True)


@dataclass(frozen=True)
class _Schedule:
    """What a checkout's payment row is written with: the plan and the policy's terms it keeps."""

    plan: tuple[PlannedInstalment, ...]
    currency: str
    timezone: str
    policy: PaymentPolicy
    # The event date the due dates were planned against (a reschedule shifts them by its move).
    event_date: date


async def _save(tx: PaymentsTx, payment: Payment, replacing: Payment | None, schedule: _Schedule) -> None:
    """The payment row and the schedule it starts, in one transaction."""
    if replacing is not None:
        await tx.supersede(replacing.session_id)
    await tx.insert_payment(payment)
    policy = schedule.policy
    await tx.replace_schedule(
        payment.tenant_id,
        payment.booking_id,
        [NewInstalment(p.seq, p.kind.value, p.amount_cents, p.due_date) for p in schedule.plan],
        currency=schedule.currency,
        timezone=schedule.timezone,
        grace_days=policy.grace_days,
        reminder_days=policy.reminder_days,
        overdue_action=policy.overdue_action.value,
        deposit_refundable=policy.deposit_refundable,
        event_date=schedule.event_date,
    )
    await tx.set_instalment_session(payment.booking_id, 1, payment.session_id)


async def _plans_match(tx: PaymentsTx, booking_id: str, plan: tuple[PlannedInstalment, ...]) -> bool:
    """Whether the hold's stored schedule is the one the couple would be given now (same parts,
    amounts and dates): a resumed session must start the schedule it is shown with."""
    stored = await tx.instalments(booking_id)
    return [(i.seq, i.kind, i.amount_cents, i.due_date) for i in stored] == [
        (p.seq, p.kind.value, p.amount_cents, p.due_date) for p in plan
    ]


async def _answer_of(tx: PaymentsTx, payment: Payment, total_cents: int) -> CheckoutAnswer:
    """The answer a couple gets again for their hold's existing session, with its stored schedule."""
    stored = await tx.instalments(payment.booking_id)
    return CheckoutAnswer(
        booking_id=payment.booking_id,
        status=BookingStatus.HELD,
        checkout_url=payment.checkout_url,
        expires_at=payment.expires_at,
        total_cents=sum(i.amount_cents for i in stored) or total_cents,
        currency=payment.currency,
        amount_due_now_cents=payment.amount_cents,
        schedule=tuple(
            PlannedInstalment(i.seq, InstalmentKind(i.kind), i.amount_cents, i.due_date) for i in stored
        ),
    )


def _quote_of(hold: Hold) -> Quote:
    """The quote booking took for the hold, checked as every charged quote is."""
    if hold.quote is None:
        raise RuntimeError("booking answered a hold without its quote")
    hold.quote.check()
    return hold.quote


def tenant_zone(name: str) -> ZoneInfo:
    """The tenant's zone; an unknown name (never stored by the tenant service) is UTC."""
    try:
        return ZoneInfo(name or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")
