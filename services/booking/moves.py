"""Moving a confirmed booking (RescheduleBooking): the locked part of the use case, inside its
transaction. The new place is checked with the functions a hold uses (claims.free_day for a whole
day, claims.free_slot, which asks slots.offered_slots, for a slot), with the booking's own claims
left out of the check; then the row moves and its claims are replaced, in the same transaction, so
a booking is always in exactly one place.

Locks, in the order every other writer takes them (store_slots.py): the booking's own move lock
first (no other path takes it), then the dates (a whole day's old and new, sorted), then the
resource set (shared) and the (resource, day) locks of the old and the new claim together, sorted,
and only then the booking's row. Only a confirmed booking moves, and it is refused before any lock
otherwise (a late confirmation locks a released hold's row before its resource's days).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from mais_runtime.errors import Conflict
from mais_runtime.slot_terms import SlotTerms
from services.booking import claims, domain
from services.booking.domain import Booking, Reason, RescheduleTarget, Status, TenantCalendar
from services.booking.store import BookingTx


def place_of(booking: Booking, zone: ZoneInfo) -> str:
    """Where a booking is, for history: its date, or its start in the tenant's zone."""
    if booking.starts_at is None:
        return booking.event_date.isoformat()
    return booking.starts_at.astimezone(zone).isoformat(timespec="minutes")


async def lock_places(
    tx: BookingTx, booking: Booking, target: RescheduleTarget, calendar: TenantCalendar
) -> None:
    """The locks of the booking's old and new place, taken together in sorted order."""
    if target.day is not None:
        for day in sorted({booking.event_date, target.day}):
            await tx.lock_date(day)
        await tx.lock_resource_set(shared=True)
        await tx.lock_resource_days(await tx.resource_ids(), [booking.event_date, target.day])
    else:
        await tx.lock_resource_days([booking.resource_id], days_touched(booking, target, calendar))


def slot_terms_of(booking: Booking) -> SlotTerms:
    """The service's terms as quoted when the booking was held, on the resource it took."""
    stored = booking.quote.document.get("slot") or {}
    terms = SlotTerms.from_stored(dict(stored))
    return SlotTerms(
        duration_minutes=terms.duration_minutes,
        buffer_before_minutes=terms.buffer_before_minutes,
        buffer_after_minutes=terms.buffer_after_minutes,
        interval_minutes=terms.interval_minutes,
        lead_time_minutes=terms.lead_time_minutes,
        resource_id=booking.resource_id,
    )


def days_touched(booking: Booking, target: RescheduleTarget, calendar: TenantCalendar) -> list[date]:
    """The tenant's dates a slot booking's old claim and its new one touch."""
    assert target.starts_at is not None
    terms = slot_terms_of(booking)
    old = booking.claim
    assert old is not None
    start = target.starts_at
    new = (start - terms.before, start + terms.duration + terms.after)
    return sorted(set(claims.local_days(*old, calendar.zone)) | set(claims.local_days(*new, calendar.zone)))


async def move_day(
    tx: BookingTx, booking: Booking, day: date, calendar: TenantCalendar, now: datetime
) -> None:
    """A whole day to `day`, when a hold could take it now; else DATE_UNAVAILABLE and nothing moves."""
    reason = domain.calendar_reason(day, today=calendar.today(now), policy=calendar.policy)
    if reason is not None:
        raise domain.date_unavailable(day, reason)
    if await tx.blacked_out(day):
        raise domain.date_unavailable(day, Reason.BLACKOUT)
    for released in await tx.release_expired_holds_on(day, keep=booking.id):
        await tx.record(released, Status.HELD, Status.RELEASED, claims.SYSTEM, domain.EXPIRED_ASKED_AGAIN)
    occupant = await tx.live_status(day, other_than=booking.id)
    if occupant is not None:
        raise domain.date_unavailable(day, domain.occupying_reason(occupant))
    whole_day = await claims.free_day(tx, day, calendar.zone, other_than=booking.id)
    await tx.move_booking(booking.id, day=day, slot=None, remind_at=domain.reminder_time(day, calendar, now))
    await tx.free_claims(booking.id)
    await tx.claim(booking.id, whole_day.resources, whole_day.lo, whole_day.hi)


async def move_slot(
    tx: BookingTx, booking: Booking, start: datetime, calendar: TenantCalendar, now: datetime
) -> None:
    """A slot booking to `start` on its resource, when offered_slots offers that start now (its own
    claim aside); else DATE_UNAVAILABLE naming why, and nothing moves."""
    start = start.astimezone(UTC)
    day = start.astimezone(calendar.zone).date()
    if await tx.bookable_resource(booking.resource_id) is None:
        raise claims.slot_unavailable(start, day, "not_offered")
    terms = slot_terms_of(booking)
    slot = await claims.free_slot(
        tx,
        resource_id=booking.resource_id,
        start=start,
        terms=terms,
        zone=calendar.zone,
        today=calendar.today(now),
        policy=calendar.policy,
        now=now,
        other_than=booking.id,
    )
    await tx.move_booking(
        booking.id,
        day=day,
        slot=(
            slot.slot.starts_at,
            slot.slot.ends_at,
            terms.buffer_before_minutes,
            terms.buffer_after_minutes,
        ),
        remind_at=domain.reminder_time(day, calendar, now),
    )
    await tx.free_claims(booking.id)
    await tx.claim(booking.id, [booking.resource_id], *slot.claim)


def overlap_refusal(target: RescheduleTarget, zone_day: date) -> Conflict:
    """The exclusion constraint's refusal (unreachable while every writer takes the locks), as the
    answer a locked check gives."""
    if target.starts_at is not None:
        return claims.slot_unavailable(target.starts_at, zone_day, Reason.HELD.value)
    return domain.date_unavailable(zone_day, Reason.HELD)
