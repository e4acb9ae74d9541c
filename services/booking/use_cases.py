"""The booking service's use cases: each one gathers what it needs (the tenant's calendar, the clock),
runs the rules through the store's transactions, and counts what happened."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Protocol

from mais_runtime import paging
from mais_runtime.errors import DomainError, NotFound
from mais_runtime.mail import Mail
from services.booking import domain, emails, links
from services.booking.domain import (
    Booking,
    ConfirmOutcome,
    CoupleDetails,
    DateAvailability,
    Quote,
    TenantCalendar,
)
from services.booking.metrics import CONFIRMATIONS, CONFLICTS, HOLDS, REMINDERS
from services.booking.store import Blackout, BookingFilter, BookingStore

log = logging.getLogger("mais.booking")


class Tenants(Protocol):
    """Where a tenant's calendar and policy come from (the tenant service, cached)."""

    async def calendar(self, tenant_id: str) -> TenantCalendar:
        """The tenant's calendar."""


def utc_now() -> datetime:
    """The current instant, in UTC."""
    return datetime.now(UTC)


class Bookings:
    """Availability, holds, the booking lifecycle, blackouts and reminders for every tenant."""

    def __init__(
        self,
        store: BookingStore,
        tenants: Tenants,
        *,
        link_key: bytes,
        public_url: str,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._store = store
        self._tenants = tenants
        self._link_key = link_key
        self._public_url = public_url
        self._clock = clock

    # --- availability ------------------------------------------------------------------------

    async def availability(self, tenant_id: str, first: date, last: date) -> list[DateAvailability]:
        """Every date of the range with its availability (the single-date answer is a range of one)."""
        calendar = await self._tenants.calendar(tenant_id)
        taken = await self._store.taken_dates(tenant_id, first, last)
        today = calendar.today(self._clock())
        return domain.availability(first, last, today=today, policy=calendar.policy, taken=taken)

    # --- holds and lifecycle -----------------------------------------------------------------

    async def hold(
        self, tenant_id: str, *, day: date, couple: CoupleDetails, quote: Quote, request_id: str
    ) -> Booking:
        """Holds a date for a couple until the tenant's hold time runs out."""
        calendar = await self._tenants.calendar(tenant_id)
        # The calendar's own refusals (past, notice window) need no lock. A replay of an earlier hold is
        # answered with that hold whatever the calendar says now; it is looked up only when the calendar
        # refuses (the locked path below finds replays itself), which saves every hold a transaction.
        reason = domain.calendar_reason(day, today=calendar.today(self._clock()), policy=calendar.policy)
        if reason is not None:
            replay = bool(request_id) and await self._store.find_by_request(tenant_id, request_id) is not None
            if not replay:
                CONFLICTS.labels(reason.value).inc()
                HOLDS.labels("refused").inc()
                raise domain.date_unavailable(day, reason)
        try:
            result = await self._store.hold(
                tenant_id,
                day=day,
                couple=couple,
                quote=quote,
                hold_minutes=calendar.policy.hold_minutes,
                request_id=request_id,
            )
        except DomainError as error:
            if error.reason == "DATE_UNAVAILABLE":
                CONFLICTS.labels(error.metadata.get("why", "")).inc()
                HOLDS.labels("refused").inc()
            raise
        HOLDS.labels("held" if result.created else "replayed").inc()
        return result.booking

    async def attach_payment_session(self, tenant_id: str, booking_id: str, session_id: str) -> Booking:
        """Links a hold to its checkout session."""
        return await self._store.attach_payment_session(tenant_id, booking_id, session_id)

    async def confirm(
        self, tenant_id: str, booking_id: str, *, session_id: str, amount_paid_cents: int
    ) -> tuple[Booking, ConfirmOutcome]:
        """Applies a completed payment and says what it did: HOLD_LOST (nothing changed) when the date
        went to someone else meanwhile, so payments refunds."""
        calendar = await self._tenants.calendar(tenant_id)
        now = self._clock()
        booking, outcome = await self._store.confirm(
            tenant_id,
            booking_id,
            session_id=session_id,
            amount_paid_cents=amount_paid_cents,
            remind_at=lambda day: domain.reminder_time(day, calendar, now),
            compose=lambda b: emails.confirmation(b, calendar.name, self.manage_url(b)),
        )
        CONFIRMATIONS.labels(outcome.value).inc()
        return booking, outcome

    async def release(self, tenant_id: str, booking_id: str, *, reason: str) -> Booking:
        """Gives a hold's date back (checkout expired or abandoned)."""
        return await self._store.release(
            tenant_id, booking_id, actor="payments", reason=reason or "checkout expired or abandoned"
        )

    async def cancel(
        self, tenant_id: str, booking_id: str, *, actor: str, reason: str, validate_only: bool = False
    ) -> Booking:
        """Cancels a confirmed booking, freeing its date and telling the couple. With `validate_only`,
        only raises what cancelling would raise (a closed window, a booking that is not confirmed)."""
        calendar = await self._tenants.calendar(tenant_id)
        if validate_only:
            booking = await self._store.get(tenant_id, booking_id)
            domain.check_cancel(
                booking, actor=actor, today=calendar.today(self._clock()), policy=calendar.policy
            )
            return booking
        return await self._store.cancel(
            tenant_id,
            booking_id,
            actor=actor,
            reason=reason,
            today=lambda: calendar.today(self._clock()),
            policy=calendar.policy,
            compose=lambda b: emails.cancellation(b, calendar.name),
        )

    async def record_refund(
        self, tenant_id: str, booking_id: str, *, total_refunded_cents: int, refund_cents: int, refund_id: str
    ) -> Booking:
        """Records a refund payments made and tells the couple (once per refund)."""
        calendar = await self._tenants.calendar(tenant_id)
        return await self._store.record_refund(
            tenant_id,
            booking_id,
            total_refunded_cents=total_refunded_cents,
            refund_cents=refund_cents,
            refund_id=refund_id,
            compose=lambda b: emails.refund(b, calendar.name, refund_cents, refund_id),
        )

    async def notify_hold_lost_refund(
        self, tenant_id: str, booking_id: str, *, refund_cents: int, refund_id: str
    ) -> Booking:
        """Tells a couple whose hold was lost that their payment came back (once per refund)."""
        calendar = await self._tenants.calendar(tenant_id)
        return await self._store.record_hold_lost_refund(
            tenant_id,
            booking_id,
            refund_cents=refund_cents,
            refund_id=refund_id,
            compose=lambda b: emails.hold_lost_refund(b, calendar.name, refund_cents, refund_id),
        )

    # --- reads -------------------------------------------------------------------------------

    async def get(self, tenant_id: str, booking_id: str, *, with_history: bool) -> Booking:
        """One booking of the tenant."""
        return await self._store.get(tenant_id, booking_id, with_history=with_history)

    async def get_with_token(self, tenant_id: str, booking_id: str, token: str) -> Booking:
        """The couple's view: NotFound unless the token was signed for exactly this booking and is
        still valid (a wrong, expired or other booking's token looks like a missing booking)."""
        valid = links.verify_token(
            self._link_key, token, booking_id=booking_id, tenant_id=tenant_id, today=self._clock().date()
        )
        if not valid:
            raise NotFound("booking")
        return await self._store.get(tenant_id, booking_id)

    async def list_bookings(
        self, tenant_id: str, *, filters: BookingFilter, limit: int, cursor: str
    ) -> tuple[list[Booking], str]:
        """A page of the tenant's bookings and the next page's token ("" at the end)."""
        page, after = await self._store.list_bookings(
            tenant_id, filters=filters, limit=limit, cursor=paging.decode_cursor(cursor, 2)
        )
        return page, paging.encode_cursor(*after) if after else ""

    async def count_package_bookings(self, tenant_id: str, package_id: str) -> int:
        """Live bookings sold with a package."""
        return await self._store.count_package_bookings(tenant_id, package_id)

    async def count_all(self) -> dict[str, int]:
        """Every tenant's bookings by state (the platform admin's stats)."""
        return await self._store.count_all()

    def manage_url(self, booking: Booking) -> str:
        """The couple's private link to their booking."""
        token = links.sign_token(
            self._link_key, booking_id=booking.id, tenant_id=booking.tenant_id, event_date=booking.event_date
        )
        return links.manage_url(self._public_url, booking.id, token)

    # --- blackouts ---------------------------------------------------------------------------

    async def list_blackouts(
        self, tenant_id: str, *, first: date | None, last: date | None, limit: int, cursor: str
    ) -> tuple[list[Blackout], str]:
        """A page of the tenant's blackout dates."""
        page, after = await self._store.list_blackouts(
            tenant_id, first=first, last=last, limit=limit, cursor=paging.decode_cursor(cursor, 2)
        )
        return page, paging.encode_cursor(*after) if after else ""

    async def create_blackout(self, tenant_id: str, day: date, reason: str) -> Blackout:
        """Blacks out a date that nobody holds or booked."""
        try:
            return await self._store.create_blackout(tenant_id, day, reason)
        except DomainError as error:
            if error.reason == "DATE_UNAVAILABLE":
                CONFLICTS.labels(error.metadata.get("why", "")).inc()
            raise

    async def delete_blackout(self, tenant_id: str, blackout_id: str) -> None:
        """Opens a blacked-out date again."""
        await self._store.delete_blackout(tenant_id, blackout_id)

    # --- reminders ---------------------------------------------------------------------------

    async def enqueue_due_reminders(self, *, limit: int = 100, now: datetime | None = None) -> int:
        """Puts every due event reminder in the outbox, each at most once; returns how many this call
        enqueued. Safe to run from several replicas at once."""
        moment = now or self._clock()
        enqueued = 0
        for tenant_id, booking_id in await self._store.due_reminders(moment, limit):
            try:
                if await self._enqueue_reminder(tenant_id, booking_id, moment):
                    enqueued += 1
                    REMINDERS.inc()
            except Exception:
                # One tenant's trouble (its service call failed) must not hold back everyone else's.
                log.warning("reminder for %s not enqueued; will retry", booking_id, exc_info=True)
        return enqueued

    async def _enqueue_reminder(self, tenant_id: str, booking_id: str, moment: datetime) -> bool:
        calendar = await self._tenants.calendar(tenant_id)

        def compose(booking: Booking) -> Mail:
            days = (booking.event_date - calendar.today(moment)).days
            return emails.reminder(booking, calendar.name, self.manage_url(booking), max(days, 0))

        return await self._store.enqueue_reminder(tenant_id, booking_id, compose)
