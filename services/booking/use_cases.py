"""The booking service's use cases: each one gathers what it needs (the tenant's calendar and admins,
the clock), opens the store's transaction, runs the domain's rules over the transaction's query
verbs, says what history records and which emails go out, and counts what happened.

Changes run in one transaction each, retried (bounded, jittered) on serialization failures, deadlocks
and lock timeouts; emails are enqueued in the same transaction as the change that causes them
(transactional outbox), keyed by the message id, so each one is decided exactly once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Protocol, TypeVar

from mais_runtime import paging
from mais_runtime.db import IntegrityError, with_retries
from mais_runtime.errors import Conflict, DomainError, NotFound, PreconditionFailed, ValidationError
from mais_runtime.outbox import QueuedMail
from services.booking import claims, domain, emails, feeds, links, moves, schedules
from services.booking.domain import (
    AdminContact,
    Blackout,
    Booking,
    BookingFilter,
    ConfirmOutcome,
    CoupleDetails,
    DateAvailability,
    HoldResult,
    Quote,
    Reason,
    SlotChoice,
    SlotHold,
    Status,
    TenantCalendar,
)
from services.booking.metrics import CONFIRMATIONS, CONFLICTS, HOLDS, HOLDS_EXPIRED, REMINDERS
from services.booking.schedules import Instalment, Notice
from services.booking.store import BookingStore, BookingTx, DateGlance, DateOccupancy

# The calendar feed's bound: a calendar app fetches it every few hours.
FEED_LIMIT = 5_000
# The platform admin's bookings over time: the last year, month by month.
STATS_MONTHS = 12

log = logging.getLogger("mais.booking")

T = TypeVar("T")

SYSTEM = "system"
PAYMENTS = "payments"
COUPLE = "couple"
# How many expired holds one sweep statement releases; a pass repeats while batches come back full.
EXPIRY_BATCH = 200
MAX_EXPIRY_BATCHES = 10


class Tenants(Protocol):
    """Where a tenant's calendar, policy and admins come from (the tenant service, cached)."""

    async def calendar(self, tenant_id: str) -> TenantCalendar:
        """The tenant's calendar."""
        ...

    async def admins(self, tenant_id: str) -> tuple[AdminContact, ...]:
        """The tenant's admins who hear about its bookings (none when unknown)."""
        ...


def utc_now() -> datetime:
    """The current instant, in UTC."""
    return datetime.now(UTC)


def _constraint(error: IntegrityError) -> str:
    return str(error.orig)


class Bookings:
    """Availability, holds, the booking lifecycle, blackouts, reminders and the expiry sweep."""

    def __init__(
        self,
        store: BookingStore,
        tenants: Tenants,
        *,
        link_key: bytes,
        public_url: str,
        clock: Callable[[], datetime] = utc_now,
        retries: int = 4,
    ) -> None:
        self._store = store
        self._tenants = tenants
        self._link_key = link_key
        self._public_url = public_url
        self._clock = clock
        self._retries = retries
        # Occupancy reads of (tenant, date) in flight, shared by the holds asking meanwhile (see
        # _occupancy_once); bounded by the holds in flight.
        self._occupancy_reads: dict[tuple[str, date], asyncio.Future[DateOccupancy | None]] = {}

    async def _change(self, tenant_id: str, change: Callable[[BookingTx], Awaitable[T]]) -> T:
        """Runs `change` in one tenant transaction, again from the start on a transient conflict."""

        async def attempt() -> T:
            async with self._store.tenant(tenant_id) as tx:
                return await change(tx)

        return await with_retries(attempt, tries=self._retries)

    # --- availability ------------------------------------------------------------------------

    async def availability(self, tenant_id: str, first: date, last: date) -> list[DateAvailability]:
        """Every date of the range with its availability (the single-date answer is a range of one)."""
        calendar = await self._tenants.calendar(tenant_id)
        async with self._store.tenant(tenant_id) as tx:
            taken = await tx.taken_dates(first, last)
        today = calendar.today(self._clock())
        return domain.availability(first, last, today=today, policy=calendar.policy, taken=taken)

    # --- holds -------------------------------------------------------------------------------

    async def hold(
        self,
        tenant_id: str,
        *,
        day: date | None,
        couple: CoupleDetails,
        quote: Quote,
        request_id: str,
        client_address: str = "",
        slot: SlotChoice | None = None,
        calendar: TenantCalendar | None = None,
        glanced: bool = False,
    ) -> HoldResult:
        """Holds a date for a couple for the tenant's hold time, or resumes the same couple's live hold
        on it; refuses a date that is taken (DATE_UNAVAILABLE) and a hold beyond the couple's or the
        address's bound (HOLD_LIMIT_REACHED). With `slot`, holds that start of a time-slot service
        instead (see _hold_slot); `day` is then its date in the tenant's calendar, or None. `calendar`
        is the tenant as the caller just read it (else the tenant service's, cached)."""
        calendar = calendar or await self._tenants.calendar(tenant_id)
        if slot is not None:
            return await self._counted_hold(
                tenant_id,
                lambda tx: self._hold_slot(
                    tx, calendar, day, slot, couple, quote, request_id, client_address
                ),
                day=slot.starts_at.astimezone(calendar.zone).date(),
            )
        assert day is not None
        # The calendar's own refusals (past, notice window) need no lock. A replay of an earlier hold is
        # answered with that hold whatever the calendar says now; it is looked up only when the calendar
        # refuses (the locked path below finds replays itself), which saves every hold a transaction.
        reason = domain.calendar_reason(day, today=calendar.today(self._clock()), policy=calendar.policy)
        if reason is not None:
            async with self._store.tenant(tenant_id) as tx:
                earlier = await tx.booking_by_request(request_id)
            if earlier is None:
                self._count_refusal(reason.value)
                raise domain.date_unavailable(day, reason)
        return await self._counted_hold(
            tenant_id,
            lambda tx: self._hold(tx, calendar, day, couple, quote, request_id, client_address, glanced),
            day=day,
        )

    async def hold_quoting(
        self,
        tenant_id: str,
        *,
        day: date | None,
        whole_day: bool,
        couple: CoupleDetails,
        price: Callable[[], Awaitable[tuple[Quote, SlotChoice | None]]],
        request_id: str,
        client_address: str = "",
        calendar: TenantCalendar | None = None,
    ) -> HoldResult:
        """`hold`, with the quote asked for (`price`) only once the date is not plainly taken: of many
        couples wanting one whole day, each loser costs one read and no quote. The refusals before the
        quote are exactly the early ones of the locked path (a request never seen, from a couple with
        no live hold of the date, on a date blacked out or with a live booking), so a replay of an
        earlier hold and the same couple's resumed hold are never refused here."""
        calendar = calendar or await self._tenants.calendar(tenant_id)
        glanced = False
        if whole_day and day is not None:
            reason = domain.calendar_reason(day, today=calendar.today(self._clock()), policy=calendar.policy)
            if reason is None:
                await self._refuse_if_taken(tenant_id, day, request_id, couple.email)
                glanced = True
        quote, slot = await price()
        return await self.hold(
            tenant_id,
            day=day,
            couple=couple,
            quote=quote,
            request_id=request_id,
            client_address=client_address,
            slot=slot,
            calendar=calendar,
            glanced=glanced and slot is None,
        )

    async def _refuse_if_taken(self, tenant_id: str, day: date, request_id: str, email: str) -> None:
        """DATE_UNAVAILABLE when the day is taken for this request (see _occupancy_refusal): judged on
        the date's occupancy read once for every hold of the date asking at that moment (a crowd of
        couples for one date costs a read or two, not a transaction each), else on its own glance."""
        occupancy = await self._occupancy_once(tenant_id, day)
        if occupancy is not None and occupancy.complete:
            reason = _occupancy_refusal(occupancy, request_id, email)
        else:

            async def glance() -> domain.Reason | None:
                async with self._store.tenant(tenant_id) as tx:
                    return _glance_refusal(await tx.glance(day, request_id, email))

            reason = await with_retries(glance, tries=self._retries)
        if reason is not None:
            self._count_refusal(reason.value)
            raise domain.date_unavailable(day, reason)

    async def _occupancy_once(self, tenant_id: str, day: date) -> DateOccupancy | None:
        """The date's occupancy; holds of one date asking while a read of it runs share that read
        (never an older one: nothing is kept once it is answered). None when the shared read failed:
        each hold then reads for itself."""
        key = (tenant_id, day)
        pending = self._occupancy_reads.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        done: asyncio.Future[DateOccupancy | None] = asyncio.get_running_loop().create_future()
        self._occupancy_reads[key] = done
        occupancy: DateOccupancy | None = None
        try:
            async with self._store.tenant(tenant_id) as tx:
                occupancy = await tx.occupancy(day)
            return occupancy
        finally:
            if self._occupancy_reads.get(key) is done:
                del self._occupancy_reads[key]
            done.set_result(occupancy)

    async def _counted_hold(
        self, tenant_id: str, hold: Callable[[BookingTx], Awaitable[HoldResult]], *, day: date
    ) -> HoldResult:
        try:
            result = await self._change(tenant_id, hold)
        except DomainError as error:
            if error.reason == "DATE_UNAVAILABLE":
                self._count_refusal(error.metadata.get("why", ""))
            elif error.reason == "HOLD_LIMIT_REACHED":
                HOLDS.labels("limited").inc()
            raise
        except IntegrityError as error:
            # Unreachable while every writer takes the date lock; kept as a clear answer if one does not.
            if "bookings_one_live_per_date" in _constraint(error) or "occupancy_no_overlap" in _constraint(
                error
            ):
                raise domain.date_unavailable(day, Reason.HELD) from None
            if "bookings_by_request" in _constraint(error):
                raise Conflict(
                    "this request id was used for another hold", reason="IDEMPOTENCY_KEY_REUSED"
                ) from None
            raise
        HOLDS.labels("held" if result.created else "resumed" if result.resumed else "replayed").inc()
        return result

    def _count_refusal(self, why: str) -> None:
        CONFLICTS.labels(why).inc()
        HOLDS.labels("refused").inc()

    async def _hold(
        self,
        tx: BookingTx,
        calendar: TenantCalendar,
        day: date,
        couple: CoupleDetails,
        quote: Quote,
        request_id: str,
        client_address: str,
        glanced: bool = False,
    ) -> HoldResult:
        # When many couples want one date, the losers after the first answer in one round trip instead
        # of queueing behind the lock (unless hold_quoting's own glance just did so).
        if not glanced:
            refusal = _glance_refusal(await tx.glance(day, request_id, couple.email))
            if refusal is not None:
                raise domain.date_unavailable(day, refusal)
        await tx.lock_holder(couple.email, client_address)
        await tx.lock_date(day)
        # Under the locks, one read says what this hold does; only what it finds is read further.
        look = await tx.glance(day, request_id, couple.email)
        earlier = await tx.booking_by_request(request_id) if look.request_known else None
        if earlier is not None:
            return HoldResult(domain.check_replay(earlier, day=day, email=couple.email), created=False)
        if look.blacked_out:
            raise domain.date_unavailable(day, Reason.BLACKOUT)
        if look.expired_hold:
            await self._release_expired_on(tx, day)
        own = await tx.live_hold_of(day, couple.email) if look.own_hold else None
        if own is not None:
            minutes = calendar.policy.hold_length_minutes
            expires = await tx.renew_hold(own.id, couple=couple, quote=quote, minutes=minutes)
            extended = own.hold_expires_at is None or expires > own.hold_expires_at
            why = domain.RESUMED_EXTENDED if extended else domain.RESUMED
            await tx.record(own.id, Status.HELD, Status.HELD, COUPLE, why)
            return HoldResult(await tx.booking(own.id), created=False, resumed=True)
        # The couple's own hold is not live (or was just found gone): any live booking is another's.
        occupant = look.live if not look.own_hold else await tx.live_status(day)
        if occupant is not None:
            raise domain.date_unavailable(day, domain.occupying_reason(occupant))
        # The whole day takes every resource: none of them may have a live slot that day.
        whole_day = await claims.free_day(tx, day, calendar.zone)
        booking_id = await self._insert_hold(tx, calendar, day, couple, quote, request_id, client_address)
        await tx.claim(booking_id, whole_day.resources, whole_day.lo, whole_day.hi)
        return HoldResult(await tx.booking(booking_id), created=True)

    async def _insert_hold(
        self,
        tx: BookingTx,
        calendar: TenantCalendar,
        day: date,
        couple: CoupleDetails,
        quote: Quote,
        request_id: str,
        client_address: str,
        slot: SlotHold | None = None,
    ) -> str:
        """The couple's new hold, within their and their address's bounds of live holds."""
        by_email, by_address = await tx.live_holds_of(couple.email, client_address)
        domain.check_hold_limits(calendar.policy, by_email=by_email, by_address=by_address, now=self._clock())
        customer_id = await tx.upsert_customer(couple)
        booking_id = domain.new_booking_id()
        await tx.insert_hold(
            booking_id,
            customer_id=customer_id,
            day=day,
            couple=couple,
            quote=quote,
            request_id=request_id,
            client_address=client_address,
            minutes=calendar.policy.hold_length_minutes,
            slot=slot,
        )
        await tx.record(booking_id, "", Status.HELD, COUPLE, domain.HELD_FOR_CHECKOUT)
        return booking_id

    async def _hold_slot(
        self,
        tx: BookingTx,
        calendar: TenantCalendar,
        day: date | None,
        choice: SlotChoice,
        couple: CoupleDetails,
        quote: Quote,
        request_id: str,
        client_address: str,
    ) -> HoldResult:
        """A slot of a time-slot service: under the locks of its resource's days (claims.free_slot),
        the start must be one offered_slots offers now; the booking and its claim are written in
        this transaction. The same couple asking again for the same start gets their hold back."""
        zone = calendar.zone
        start = choice.starts_at.astimezone(UTC)
        local_day = start.astimezone(zone).date()
        if day is not None and day != local_day:
            raise ValidationError.of(
                "eventDate", f"must be the start's date in the business's calendar ({local_day.isoformat()})"
            )
        await tx.lock_holder(couple.email, client_address)
        earlier = await tx.booking_by_request(request_id)
        if earlier is not None:
            if earlier.starts_at != start:
                raise Conflict("this request id was used for another hold", reason="IDEMPOTENCY_KEY_REUSED")
            return HoldResult(domain.check_replay(earlier, day=local_day, email=couple.email), created=False)
        resource_id = await tx.bookable_resource(choice.terms.resource_id)
        if resource_id is None:
            raise claims.slot_unavailable(start, local_day, "not_offered")
        now = self._clock()
        own = await tx.live_slot_hold_of(resource_id, start, couple.email)
        if own is not None:
            minutes = calendar.policy.hold_length_minutes
            expires = await tx.renew_hold(own.id, couple=couple, quote=quote, minutes=minutes)
            extended = own.hold_expires_at is None or expires > own.hold_expires_at
            why = domain.RESUMED_EXTENDED if extended else domain.RESUMED
            await tx.record(own.id, Status.HELD, Status.HELD, COUPLE, why)
            return HoldResult(await tx.booking(own.id), created=False, resumed=True)
        slot = await claims.free_slot(
            tx,
            resource_id=resource_id,
            start=start,
            terms=choice.terms,
            zone=zone,
            today=calendar.today(now),
            policy=calendar.policy,
            now=now,
        )
        booking_id = await self._insert_hold(
            tx, calendar, local_day, couple, quote, request_id, client_address, slot
        )
        await tx.claim(booking_id, [resource_id], *slot.claim)
        return HoldResult(await tx.booking(booking_id), created=True)

    async def _release_expired_on(self, tx: BookingTx, day: date, *, keep: str = "") -> None:
        """An expired hold gives the date's slot in the unique index to whoever asks for it now."""
        for released in await tx.release_expired_holds_on(day, keep=keep):
            await tx.record(released, Status.HELD, Status.RELEASED, SYSTEM, domain.EXPIRED_ASKED_AGAIN)

    async def attach_payment_session(
        self, tenant_id: str, booking_id: str, session_id: str, *, replaces: str = ""
    ) -> Booking:
        """Links a hold to its checkout session (attaching the same one again changes nothing); with
        `replaces`, swaps that session for a new one (a resumed hold's checkout made anew)."""

        async def attach(tx: BookingTx) -> Booking:
            booking = await tx.booking(booking_id, for_update=True)
            if not domain.check_attach(booking, session_id, replaces=replaces):
                return booking
            await tx.set_payment_session(booking_id, session_id)
            if booking.payment_session_id:
                await tx.record(booking_id, Status.HELD, Status.HELD, PAYMENTS, domain.CHECKOUT_RESTARTED)
            return await tx.booking(booking_id)

        try:
            return await self._change(tenant_id, attach)
        except IntegrityError as error:
            if "bookings_by_payment_session" in _constraint(error):
                raise Conflict("this payment session belongs to another booking") from None
            raise

    # --- lifecycle ---------------------------------------------------------------------------

    async def confirm(
        self,
        tenant_id: str,
        booking_id: str,
        *,
        session_id: str,
        amount_paid_cents: int,
        schedule: Sequence[Instalment] = (),
    ) -> tuple[Booking, ConfirmOutcome]:
        """Applies a completed payment (see domain.decide_confirmation) and says what it did: HOLD_LOST
        (nothing changed) when the date went to someone else meanwhile, so payments refunds. A new
        booking emails the couple and the tenant's admins. With a `schedule`, the payment is its first
        instalment (the deposit): the booking is confirmed on it, and the couple's confirmation is the
        deposit's receipt with what is due when."""
        calendar = await self._tenants.calendar(tenant_id)
        admins = await self._tenants.admins(tenant_id)
        now = self._clock()
        schedule = schedules.with_paid(schedule, 1)

        async def confirm(tx: BookingTx) -> tuple[Booking, ConfirmOutcome]:
            day = await tx.lock_date_of(booking_id)
            booking = await tx.booking(booking_id, for_update=True)
            schedules.check_schedule(
                schedule, total_cents=booking.quote.total_cents, currency=booking.quote.currency
            )
            taken, reclaim = False, None
            if booking.status in (Status.RELEASED, Status.HELD):
                # Another couple's expired hold would keep the unique slot; it gives way like in hold().
                await self._release_expired_on(tx, day, keep=booking_id)
                taken, reclaim = await self._taken_meanwhile(tx, booking, calendar)
            blacked_out, expired = await tx.confirm_checks(day, booking_id)
            outcome = domain.decide_confirmation(
                booking,
                session_id,
                amount_paid_cents=amount_paid_cents,
                amount_due_cents=schedules.first_payment_cents(schedule, booking.quote.total_cents),
                date_taken_by_other=taken,
                blacked_out=blacked_out,
            )
            if outcome is not ConfirmOutcome.CONFIRM:
                return booking, outcome
            if reclaim is not None:
                await tx.claim(booking_id, *reclaim)
            late = booking.status is Status.RELEASED or expired
            confirmed = await tx.mark_confirmed(
                booking_id,
                session_id=session_id,
                amount_paid_cents=amount_paid_cents,
                remind_at=domain.reminder_time(day, calendar, now),
            )
            why = domain.PAYMENT_RECEIVED_LATE if late else domain.PAYMENT_RECEIVED
            await tx.record(booking_id, booking.status, Status.CONFIRMED, PAYMENTS, why)
            reply_to = calendar.contact_email
            await tx.enqueue(
                emails.later(
                    emails.confirmation,
                    confirmed,
                    calendar.name,
                    self.manage_url(confirmed),
                    schedule=schedule,
                    reply_to=reply_to,
                    zone=calendar.zone,
                )
            )
            if admins:
                await tx.enqueue(
                    emails.later(
                        emails.admin_new_booking,
                        confirmed,
                        calendar.name,
                        admins,
                        reply_to=reply_to,
                        zone=calendar.zone,
                    )
                )
            return confirmed, outcome

        booking, outcome = await self._change(tenant_id, confirm)
        CONFIRMATIONS.labels(outcome.value).inc()
        return booking, outcome

    async def _taken_meanwhile(
        self, tx: BookingTx, booking: Booking, calendar: TenantCalendar
    ) -> tuple[bool, tuple[list[str], datetime, datetime] | None]:
        """Whether another booking took a hold's date or slot while it was unpaid (a live hold still
        has its claims; a released one gave them up), and the claims to write again when a released
        one is confirmed: (resources, from, until)."""
        if booking.kind == "SLOT":
            if booking.status is not Status.RELEASED:
                return False, None
            claim = booking.claim
            assert claim is not None
            free = await claims.slot_still_free(tx, booking, calendar.zone)
            return not free, ([booking.resource_id], *claim)
        if await tx.live_status(booking.event_date, other_than=booking.id) is not None:
            return True, None
        if booking.status is not Status.RELEASED:
            return False, None
        try:
            whole_day = await claims.free_day(tx, booking.event_date, calendar.zone, other_than=booking.id)
        except DomainError:
            return True, None
        return False, (whole_day.resources, whole_day.lo, whole_day.hi)

    async def release(self, tenant_id: str, booking_id: str, *, reason: str, session_id: str = "") -> Booking:
        """Gives a hold's date back (checkout expired or abandoned); releasing again changes nothing,
        and neither does the end of a session the hold no longer has."""

        async def release(tx: BookingTx) -> Booking:
            await tx.lock_date_of(booking_id)
            booking = await tx.booking(booking_id, for_update=True)
            if not domain.check_release(booking, session_id=session_id):
                return booking
            await tx.set_status(booking_id, Status.RELEASED)
            await tx.record(
                booking_id, booking.status, Status.RELEASED, PAYMENTS, reason or domain.CHECKOUT_ENDED
            )
            return await tx.booking(booking_id)

        return await self._change(tenant_id, release)

    async def cancel(
        self, tenant_id: str, booking_id: str, *, actor: str, reason: str, validate_only: bool = False
    ) -> Booking:
        """Cancels a confirmed booking, freeing its date and telling the couple (and the tenant's admins
        when the couple cancelled, or the system did for an unpaid balance). With `validate_only`, only
        raises what cancelling would raise (a closed window, a booking that is not confirmed)."""
        calendar = await self._tenants.calendar(tenant_id)
        if validate_only:
            async with self._store.tenant(tenant_id) as tx:
                booking = await tx.booking(booking_id)
            domain.check_cancel(
                booking, actor=actor, today=calendar.today(self._clock()), policy=calendar.policy
            )
            return booking
        unpaid = actor == SYSTEM and reason == schedules.BALANCE_UNPAID
        admins = await self._tenants.admins(tenant_id) if actor == COUPLE or unpaid else ()

        async def cancel(tx: BookingTx) -> Booking:
            await tx.lock_date(await tx.date_of(booking_id))
            booking = await tx.booking(booking_id, for_update=True)
            today = calendar.today(self._clock())
            if not domain.check_cancel(booking, actor=actor, today=today, policy=calendar.policy):
                return booking
            await tx.mark_cancelled(booking_id, reason)
            await tx.record(booking_id, booking.status, Status.CANCELLED, actor, reason)
            cancelled = await tx.booking(booking_id)
            reply_to = calendar.contact_email
            await tx.enqueue(
                emails.later(
                    emails.cancellation, cancelled, calendar.name, reply_to=reply_to, zone=calendar.zone
                )
            )
            if admins:
                tell = emails.admin_cancelled_for_non_payment if unpaid else emails.admin_couple_cancelled
                await tx.enqueue(
                    emails.later(
                        tell, cancelled, calendar.name, admins, reply_to=reply_to, zone=calendar.zone
                    )
                )
            return cancelled

        return await self._change(tenant_id, cancel)

    async def reschedule(
        self,
        tenant_id: str,
        booking_id: str,
        *,
        day: date | None,
        starts_at: datetime | None,
        actor: str,
        reason: str,
        request_id: str,
    ) -> Booking:
        """Moves a confirmed booking to a new date (a whole day) or a new start (a slot of the same
        service, on the same resource) when a hold could take it now, its claims with it, in one
        transaction: DATE_UNAVAILABLE and nothing changes otherwise. The couple only while they could
        cancel (CANCELLATION_WINDOW_CLOSED). A history line and the couple's "your booking moved"
        email; a retry with the same `request_id` answers the booking without moving it again."""
        calendar = await self._tenants.calendar(tenant_id)
        effect = f"reschedule:{booking_id}:{request_id}" if request_id else ""

        async def move(tx: BookingTx) -> Booking:
            await tx.lock_booking_move(booking_id)
            where = await tx.booking(booking_id)
            if effect and await tx.effect_known(effect):
                return where
            target = domain.RescheduleTarget.checked(where, day=day, starts_at=starts_at)
            now = self._clock()
            today = calendar.today(now)
            # Refused before any lock too: a late confirmation of a released hold holds its row and
            # then wants its resource's days, the reverse of the order below.
            domain.check_reschedule(where, actor=actor, today=today, policy=calendar.policy)
            await moves.lock_places(tx, where, target, calendar)
            booking = await tx.booking(booking_id, for_update=True)
            domain.check_reschedule(booking, actor=actor, today=today, policy=calendar.policy)
            if target.is_where(booking):
                return booking
            if effect:
                await tx.claim_effect(booking_id, effect)
            if target.starts_at is not None:
                await moves.move_slot(tx, booking, target.starts_at, calendar, now)
            else:
                assert target.day is not None
                await moves.move_day(tx, booking, target.day, calendar, now)
            moved = await tx.booking(booking_id)
            why = domain.rescheduled(
                moves.place_of(booking, calendar.zone), moves.place_of(moved, calendar.zone), reason
            )
            await tx.record(booking_id, Status.CONFIRMED, Status.CONFIRMED, actor, why)
            await tx.enqueue(
                emails.later(
                    emails.booking_moved,
                    booking,
                    moved,
                    calendar.name,
                    self.manage_url(moved),
                    zone=calendar.zone,
                    key=f"moved:{booking_id}:{request_id or domain.new_id('mv_')}",
                    reply_to=calendar.contact_email,
                )
            )
            return moved

        try:
            return await self._change(tenant_id, move)
        except DomainError as error:
            if error.reason == "DATE_UNAVAILABLE":
                CONFLICTS.labels(error.metadata.get("why", "")).inc()
            raise
        except IntegrityError as error:
            if "occupancy_no_overlap" in _constraint(error) or "bookings_one_live_per_date" in _constraint(
                error
            ):
                target_day = day or (starts_at.astimezone(calendar.zone).date() if starts_at else date.min)
                raise moves.overlap_refusal(
                    domain.RescheduleTarget(day=day, starts_at=starts_at), target_day
                ) from None
            raise

    async def record_refund(
        self,
        tenant_id: str,
        booking_id: str,
        *,
        total_refunded_cents: int,
        refund_cents: int,
        refund_id: str,
        kept_cents: int = 0,
    ) -> Booking:
        """Records payments' cumulative refunded amount and tells the couple and the tenant's admins,
        once per refund id (the couple's email says what the business keeps, `kept_cents`)."""
        calendar = await self._tenants.calendar(tenant_id)
        admins = await self._tenants.admins(tenant_id)

        async def record(tx: BookingTx) -> Booking:
            booking = await tx.booking(booking_id, for_update=True)
            total = domain.refund_total(
                booking.amount_paid_cents, booking.amount_refunded_cents, total_refunded_cents
            )
            await tx.set_refunded(booking_id, total)
            refreshed = await tx.booking(booking_id)
            reply_to = calendar.contact_email
            mail = emails.later(
                emails.refund,
                refreshed,
                calendar.name,
                refund_cents,
                refund_id,
                kept_cents=kept_cents,
                reply_to=reply_to,
                zone=calendar.zone,
            )
            if await tx.enqueue(mail):
                why = domain.refund_recorded(refund_id, refund_cents, booking.quote.currency)
                await tx.record(booking_id, booking.status, booking.status, PAYMENTS, why)
                if admins:
                    await tx.enqueue(
                        emails.later(
                            emails.admin_refund,
                            refreshed,
                            calendar.name,
                            admins,
                            refund_cents,
                            refund_id,
                            hold_lost=False,
                            reply_to=reply_to,
                            zone=calendar.zone,
                        )
                    )
            return refreshed

        return await self._change(tenant_id, record)

    async def notify_hold_lost_refund(
        self, tenant_id: str, booking_id: str, *, refund_cents: int, refund_id: str
    ) -> Booking:
        """Records the refund of a payment whose hold was lost and tells the couple and the tenant's
        admins, once per refund."""
        calendar = await self._tenants.calendar(tenant_id)
        admins = await self._tenants.admins(tenant_id)

        async def notify(tx: BookingTx) -> Booking:
            booking = await tx.booking(booking_id, for_update=True)
            reply_to = calendar.contact_email
            mail = emails.later(
                emails.hold_lost_refund,
                booking,
                calendar.name,
                refund_cents,
                refund_id,
                reply_to=reply_to,
                zone=calendar.zone,
            )
            if await tx.enqueue(mail):
                await tx.add_refunded(booking_id, refund_cents)
                why = domain.hold_lost_refunded(refund_id, refund_cents, booking.quote.currency)
                await tx.record(booking_id, booking.status, booking.status, PAYMENTS, why)
                if admins:
                    await tx.enqueue(
                        emails.later(
                            emails.admin_refund,
                            booking,
                            calendar.name,
                            admins,
                            refund_cents,
                            refund_id,
                            hold_lost=True,
                            reply_to=reply_to,
                            zone=calendar.zone,
                        )
                    )
            return await tx.booking(booking_id)

        return await self._change(tenant_id, notify)

    # --- payment schedules -------------------------------------------------------------------

    async def record_instalment_payment(
        self,
        tenant_id: str,
        booking_id: str,
        *,
        payment: schedules.InstalmentPayment,
    ) -> tuple[Booking, schedules.RecordOutcome]:
        """A later instalment was paid (through Stripe, or marked paid offline by the business): the
        paid amount, a history line and the couple's receipt, once per paying session (or request id
        for an offline payment). A booking that is no longer CONFIRMED records nothing and says so, so
        payments refunds the money."""
        calendar = await self._tenants.calendar(tenant_id)
        # The business marked an offline payment itself; a Stripe one it hears about.
        admins = () if payment.offline else await self._tenants.admins(tenant_id)
        shown = schedules.with_paid(payment.schedule, payment.seq)

        async def record(tx: BookingTx) -> tuple[Booking, schedules.RecordOutcome]:
            booking = await tx.booking(booking_id, for_update=True)
            schedules.check_schedule(
                payment.schedule, total_cents=booking.quote.total_cents, currency=booking.quote.currency
            )
            if await tx.effect_known(payment.effect_key):
                return booking, schedules.RecordOutcome.ALREADY_RECORDED
            if booking.status is not Status.CONFIRMED:
                return booking, schedules.RecordOutcome.BOOKING_NOT_CONFIRMED
            schedules.check_paid_total(payment.total_paid_cents, booking.quote.total_cents)
            await tx.claim_effect(booking_id, payment.effect_key)
            # Payments reports the running total; reports may cross, so it never goes down.
            await tx.set_paid(booking_id, max(booking.amount_paid_cents, payment.total_paid_cents))
            why = schedules.payment_recorded(payment, booking.quote.currency)
            await tx.record(booking_id, Status.CONFIRMED, Status.CONFIRMED, payment.actor, why)
            paid = await tx.booking(booking_id)
            await tx.enqueue(
                emails.later(
                    emails.balance_receipt,
                    paid,
                    calendar.name,
                    self.manage_url(paid),
                    payment.amount_cents,
                    shown,
                    offline=payment.offline,
                    note=payment.note,
                    key=f"balance-receipt:{booking_id}:{payment.effect_key}",
                    reply_to=calendar.contact_email,
                    zone=calendar.zone,
                )
            )
            if admins:
                await tx.enqueue(
                    emails.later(
                        emails.admin_balance_paid,
                        paid,
                        calendar.name,
                        admins,
                        payment.amount_cents,
                        shown,
                        key=f"admin-balance-paid:{booking_id}:{payment.effect_key}",
                        reply_to=calendar.contact_email,
                        zone=calendar.zone,
                    )
                )
            return paid, schedules.RecordOutcome.RECORDED

        return await self._change(tenant_id, record)

    async def notify_schedule(
        self, tenant_id: str, booking_id: str, *, notice: schedules.ScheduleNotice
    ) -> bool:
        """A schedule notice: the couple's email (reminder, due today, overdue, due date moved) and a
        history line, or the history line only (waived); once per request id. False when an earlier
        call had the effect, or when the booking is not CONFIRMED (nothing is owed on a booking that
        is cancelled or not yet paid for: nothing is sent, nothing recorded)."""
        calendar = await self._tenants.calendar(tenant_id)

        async def notify(tx: BookingTx) -> bool:
            booking = await tx.booking(booking_id, for_update=True)
            schedules.check_schedule(
                notice.schedule, total_cents=booking.quote.total_cents, currency=booking.quote.currency
            )
            if booking.status is not Status.CONFIRMED:
                return False
            if not await tx.claim_effect(booking_id, notice.effect_key):
                return False
            why = schedules.notice_recorded(notice.kind, notice.instalment, note=notice.note)
            await tx.record(booking_id, Status.CONFIRMED, Status.CONFIRMED, notice.actor, why)
            mail = self._notice_mail(booking, calendar, notice)
            if mail is not None:
                await tx.enqueue(mail)
            return True

        return await self._change(tenant_id, notify)

    def _notice_mail(
        self, booking: Booking, calendar: TenantCalendar, notice: schedules.ScheduleNotice
    ) -> QueuedMail | None:
        link = self.manage_url(booking)
        key = f"schedule:{booking.id}:{notice.effect_key}"
        reply_to = calendar.contact_email
        if notice.kind in (Notice.REMINDER, Notice.DUE_TODAY):
            return emails.later(
                emails.balance_reminder,
                booking,
                calendar.name,
                link,
                notice.instalment,
                notice.schedule,
                due_today=notice.kind is Notice.DUE_TODAY,
                key=key,
                reply_to=reply_to,
                zone=calendar.zone,
            )
        if notice.kind is Notice.OVERDUE:
            return emails.later(
                emails.balance_overdue,
                booking,
                calendar.name,
                link,
                notice.instalment,
                notice.schedule,
                consequence=schedules.overdue_consequence(notice.overdue_action),
                action_date=notice.action_date,
                key=key,
                reply_to=reply_to,
                zone=calendar.zone,
            )
        if notice.kind is Notice.DUE_DATE_CHANGED:
            return emails.later(
                emails.due_date_moved,
                booking,
                calendar.name,
                link,
                notice.instalment,
                notice.schedule,
                note=notice.note,
                key=key,
                reply_to=reply_to,
                zone=calendar.zone,
            )
        return None

    # --- reads -------------------------------------------------------------------------------

    async def get(self, tenant_id: str, booking_id: str, *, with_history: bool = False) -> Booking:
        """One booking of the tenant, as it is seen now (an expired hold reads as released)."""
        async with self._store.tenant(tenant_id) as tx:
            booking = await tx.booking(booking_id, with_history=with_history)
        return booking.as_seen(self._clock())

    async def resend_confirmation(
        self, tenant_id: str, booking_id: str, request_id: str, *, schedule: Sequence[Instalment] = ()
    ) -> Booking:
        """The confirmation email again, for a CONFIRMED booking; one per `request_id` (the outbox keeps
        each message id once, so a retried request sends nothing more). With the booking's `schedule`
        as it is now, a balance still owed makes it the deposit's receipt, as the first one was."""
        calendar = await self._tenants.calendar(tenant_id)
        async with self._store.tenant(tenant_id) as tx:
            booking = (await tx.booking(booking_id)).as_seen(self._clock())
            if booking.status is not Status.CONFIRMED:
                raise PreconditionFailed(
                    f"only a confirmed booking has a confirmation to send (not a {booking.status.value} one)"
                )
            schedules.check_schedule(
                schedule, total_cents=booking.quote.total_cents, currency=booking.quote.currency
            )
            mail = emails.later(
                emails.confirmation,
                booking,
                calendar.name,
                self.manage_url(booking),
                schedule=schedule,
                reply_to=calendar.contact_email,
                zone=calendar.zone,
            )
            await tx.enqueue(replace(mail, message_id=f"{mail.message_id}:resent:{request_id}"))
        return booking

    async def get_with_token(
        self, tenant_id: str, booking_id: str, token: str
    ) -> tuple[Booking, domain.CoupleCancellation]:
        """The couple's view and whether they may cancel it themselves now (the rule `cancel` applies
        for them): NotFound unless the token was signed for exactly this booking and is still valid
        (a wrong, expired or other booking's token looks like a missing booking)."""
        valid = links.verify_token(
            self._link_key, token, booking_id=booking_id, tenant_id=tenant_id, today=self._clock().date()
        )
        if not valid:
            raise NotFound("booking")
        booking = await self.get(tenant_id, booking_id, with_history=False)
        calendar = await self._tenants.calendar(tenant_id)
        today = calendar.today(self._clock())
        return booking, domain.couple_cancellation(booking, today=today, policy=calendar.policy)

    async def list_bookings(
        self, tenant_id: str, *, filters: BookingFilter, limit: int, cursor: str
    ) -> tuple[list[Booking], str]:
        """A page of the tenant's bookings as they are seen now, and the next page's token ("" at the
        end)."""
        after = _position(cursor)
        async with self._store.tenant(tenant_id) as tx:
            page, position = await tx.bookings(filters, limit, after)
        now = self._clock()
        return [b.as_seen(now) for b in page], _token(position)

    async def count_package_bookings(self, tenant_id: str, package_id: str) -> int:
        """Live bookings sold with a package."""
        async with self._store.tenant(tenant_id) as tx:
            return await tx.count_package_bookings(package_id)

    async def count_all(self) -> tuple[dict[str, int], list[tuple[str, dict[str, int]]]]:
        """Every tenant's bookings by state, and by the month they were made in over the last
        STATS_MONTHS months (the platform admin's stats)."""
        async with self._store.platform() as tx:
            return await tx.count_all(), await tx.count_by_month(STATS_MONTHS)

    def manage_url(self, booking: Booking) -> str:
        """The couple's private link to their booking."""
        token = links.sign_token(
            self._link_key, booking_id=booking.id, tenant_id=booking.tenant_id, event_date=booking.event_date
        )
        return links.manage_url(self._public_url, booking.id, token)

    # --- calendar feed -----------------------------------------------------------------------

    async def calendar_feed_token(self, tenant_id: str) -> str:
        """The tenant's feed token, the feed made on the first call."""

        async def read_or_create(tx: BookingTx) -> str:
            generation = await tx.feed_generation()
            if generation is None:
                await tx.create_feed(feeds.token_hash(feeds.feed_token(self._link_key, tenant_id, 1)))
                generation = await tx.feed_generation()
            assert generation is not None
            return feeds.feed_token(self._link_key, tenant_id, generation)

        return await self._change(tenant_id, read_or_create)

    async def rotate_calendar_feed(self, tenant_id: str, request_id: str) -> str:
        """A new feed token (the old one stops at once); the same request id again answers the token
        it made without rotating again."""

        async def rotate(tx: BookingTx) -> str:
            await tx.create_feed(feeds.token_hash(feeds.feed_token(self._link_key, tenant_id, 1)))
            locked = await tx.lock_feed()
            assert locked is not None
            generation, last_request = locked
            if request_id and request_id == last_request:
                return feeds.feed_token(self._link_key, tenant_id, generation)
            token = feeds.feed_token(self._link_key, tenant_id, generation + 1)
            await tx.rotate_feed(generation + 1, feeds.token_hash(token), request_id or None)
            return token

        return await self._change(tenant_id, rotate)

    async def calendar_feed(self, token: str) -> tuple[str, list[domain.FeedEntry]]:
        """The tenant a feed token opens and its CONFIRMED bookings from a year before its today on
        (at most FEED_LIMIT); NotFound for every other token."""
        if not feeds.well_formed(token):
            raise NotFound("calendar feed")
        async with self._store.platform() as tx:
            tenant_id = await tx.feed_owner(feeds.token_hash(token))
        if tenant_id is None:
            raise NotFound("calendar feed")
        calendar = await self._tenants.calendar(tenant_id)
        today = calendar.today(self._clock())
        since = today - timedelta(days=365)
        async with self._store.tenant(tenant_id) as tx:
            return tenant_id, await tx.feed_events(since, FEED_LIMIT)

    # --- blackouts ---------------------------------------------------------------------------

    async def list_blackouts(
        self, tenant_id: str, *, first: date | None, last: date | None, limit: int, cursor: str
    ) -> tuple[list[Blackout], str]:
        """A page of the tenant's blackout dates."""
        after = _position(cursor)
        async with self._store.tenant(tenant_id) as tx:
            page, position = await tx.blackouts(first, last, limit, after)
        return page, _token(position)

    async def create_blackout(self, tenant_id: str, day: date, reason: str) -> Blackout:
        """Blacks out a date still to come (in the tenant's time zone) that nobody holds or booked: 409
        when it is already blacked out, DATE_UNAVAILABLE when a live booking holds it (the booking
        must be cancelled or released first)."""
        calendar = await self._tenants.calendar(tenant_id)
        domain.check_blackout_date(day, today=calendar.today(self._clock()))

        async def create(tx: BookingTx) -> Blackout:
            await tx.lock_date(day)
            if await tx.blacked_out(day):
                raise Conflict(f"{day.isoformat()} is already blacked out")
            await self._release_expired_on(tx, day)
            occupant = await tx.live_status(day)
            if occupant is not None:
                raise domain.date_unavailable(day, domain.occupying_reason(occupant))
            blackout = Blackout(domain.new_id("bo_"), day, reason)
            await tx.insert_blackout(blackout)
            return blackout

        try:
            return await self._change(tenant_id, create)
        except DomainError as error:
            if error.reason == "DATE_UNAVAILABLE":
                CONFLICTS.labels(error.metadata.get("why", "")).inc()
            raise
        except IntegrityError as error:
            if "blackouts_one_per_date" in _constraint(error):
                raise Conflict(f"{day.isoformat()} is already blacked out") from None
            raise

    async def delete_blackout(self, tenant_id: str, blackout_id: str) -> None:
        """Opens a blacked-out date again, or NotFound."""
        async with self._store.tenant(tenant_id) as tx:
            if not await tx.delete_blackout(blackout_id):
                raise NotFound("blackout")

    # --- sweeps ------------------------------------------------------------------------------

    async def release_expired_holds(self) -> int:
        """Moves every hold past its expiry to RELEASED, recording "hold expired" by the system; returns
        how many this call released. Safe on every replica at once: each hold is released by exactly
        one sweep (see BookingTx.release_expired_holds)."""
        released = 0
        for _ in range(MAX_EXPIRY_BATCHES):
            async with self._store.platform() as tx:
                batch = await tx.release_expired_holds(EXPIRY_BATCH, actor=SYSTEM, reason=domain.EXPIRED)
            released += len(batch)
            HOLDS_EXPIRED.inc(len(batch))
            if len(batch) < EXPIRY_BATCH:
                break
        if released:
            log.info("released %d expired holds", released)
        return released

    async def enqueue_due_reminders(self, *, limit: int = 100, now: datetime | None = None) -> int:
        """Puts every due event reminder in the outbox, each at most once; returns how many this call
        enqueued. Safe to run from several replicas at once."""
        moment = now or self._clock()
        async with self._store.platform() as tx:
            due = await tx.due_reminders(moment, limit)
        enqueued = 0
        for tenant_id, booking_id in due:
            try:
                if await self._enqueue_reminder(tenant_id, booking_id, moment):
                    enqueued += 1
                    REMINDERS.inc()
            except Exception:
                # One tenant's trouble (its service call failed) must not hold back everyone else's.
                log.warning("reminder for %s not enqueued; will retry", booking_id, exc_info=True)
        if enqueued:
            log.info("enqueued %d reminders", enqueued)
        return enqueued

    async def _enqueue_reminder(self, tenant_id: str, booking_id: str, moment: datetime) -> bool:
        calendar = await self._tenants.calendar(tenant_id)
        async with self._store.tenant(tenant_id) as tx:
            if not await tx.mark_reminder_enqueued(booking_id):
                return False
            booking = await tx.booking(booking_id)
            days = max((booking.event_date - calendar.today(moment)).days, 0)
            mail = emails.later(
                emails.reminder,
                booking,
                calendar.name,
                self.manage_url(booking),
                days,
                reply_to=calendar.contact_email,
                zone=calendar.zone,
            )
            return await tx.enqueue(mail)


def _occupancy_refusal(occupancy: DateOccupancy, request_id: str, email: str) -> Reason | None:
    """_glance_refusal on a date's shared occupancy: a request that made one of the date's live
    bookings (a keyed retry) and a couple with a live hold of the date (resuming it) are never
    refused; otherwise a blackout or another live booking refuses the hold."""
    live = occupancy.live
    if any(b.request_id == request_id for b in live if request_id):
        return None
    if any(b.status is Status.HELD and b.email == email for b in live):
        return None
    if occupancy.blacked_out:
        return Reason.BLACKOUT
    if live:
        return domain.occupying_reason(live[0].status)
    return None


def _glance_refusal(glance: DateGlance) -> Reason | None:
    """Only what the locked checks of a hold would refuse for a request never seen, from a couple with
    no live hold on the date, is refused on a glance; anything else (expired holds included) goes on
    to the date's lock, which alone decides that a date is free."""
    if glance.request_known or glance.own_hold:
        return None
    if glance.blacked_out:
        return Reason.BLACKOUT
    if glance.live is not None:
        return domain.occupying_reason(glance.live)
    return None


def _position(cursor: str) -> tuple[date, str] | None:
    parts = paging.decode_cursor(cursor, 2)
    if parts is None:
        return None
    return domain.parse_date(parts[0], "cursor"), parts[1]


def _token(position: tuple[date, str] | None) -> str:
    return paging.encode_cursor(position[0].isoformat(), position[1]) if position else ""
