"""Claims on resources' time, checked under their locks (store_slots.py): a whole day claims every
resource of the tenant from midnight to midnight in its zone; a slot claims its one resource for
[start - buffer before, end + buffer after). A hold and a late confirmation (and a reschedule) call
these, inside their transaction, before they write the booking's claim with `BookingTx.claim`.

A slot's start is accepted only when `slots.offered_slots` (the function ListSlots answers with)
offers it at that moment, with the claims read under the locks: the list and the hold cannot
disagree about what is free.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from mais_runtime.errors import Conflict
from mais_runtime.slot_terms import SlotTerms
from services.booking import domain
from services.booking.domain import Policy, Reason, SlotHold, Status
from services.booking.slots import Busy, offered, offered_slots
from services.booking.store import BookingTx

# History's word for a hold past its expiry that gave way to a new claim.
SYSTEM = "system"


@dataclass(frozen=True)
class DayClaim:
    """A whole day's claim: on these resources, [lo, hi) (the day in the tenant's zone)."""

    resources: list[str]
    lo: datetime
    hi: datetime


def day_span(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Midnight to midnight of `day` in `zone`, as UTC instants (23 or 25 hours on a DST change)."""
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def local_days(lo: datetime, hi: datetime, zone: ZoneInfo) -> list[date]:
    """The dates of `zone` that [lo, hi) touches, in order."""
    first = lo.astimezone(zone).date()
    last = (hi - timedelta(microseconds=1)).astimezone(zone).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _occupying(statuses: Sequence[Status]) -> Reason:
    return Reason.BOOKED if Status.CONFIRMED in statuses else Reason.HELD


async def _release_expired(tx: BookingTx, resources: Sequence[str], lo: datetime, hi: datetime) -> None:
    for released in await tx.release_expired_claims(resources, lo, hi):
        await tx.record(released, Status.HELD, Status.RELEASED, SYSTEM, domain.EXPIRED_ASKED_AGAIN)


async def free_day(tx: BookingTx, day: date, zone: ZoneInfo, *, other_than: str = "") -> DayClaim:
    """Locks every resource's `day`, releases expired holds claiming any part of it, and answers the
    whole day's claim to write; DATE_UNAVAILABLE when a live claim (a slot, or a slot's buffer from
    the evening before) overlaps it. Called after the date's lock."""
    await tx.lock_resource_set(shared=True)
    resources = await tx.resource_ids()
    lo, hi = day_span(day, zone)
    if resources:
        await tx.lock_resource_days(resources, [day])
        await _release_expired(tx, resources, lo, hi)
        claims = await tx.live_claims(resources, lo, hi, other_than=other_than)
        if claims:
            raise domain.date_unavailable(day, _occupying([c.status for c in claims]))
    return DayClaim(resources, lo, hi)


def slot_unavailable(start: datetime, day: date, why: str) -> Conflict:
    """The answer when a start cannot be held: DATE_UNAVAILABLE (what clients already handle), with
    the start and why (booked, held, blackout, past, out_of_range, not_offered)."""
    return Conflict(
        f"{start.isoformat()} is not available ({why})",
        reason="DATE_UNAVAILABLE",
        metadata={"date": day.isoformat(), "startsAt": start.isoformat(), "why": why},
    )


async def free_slot(
    tx: BookingTx,
    *,
    resource_id: str,
    start: datetime,
    terms: SlotTerms,
    zone: ZoneInfo,
    today: date,
    policy: Policy,
    now: datetime,
    other_than: str = "",
) -> SlotHold:
    """Locks the resource's days the slot's claim touches, releases expired holds claiming any of
    it, and answers the slot when offered_slots offers `start` now; else DATE_UNAVAILABLE naming
    why."""
    lo, hi = start - terms.before, start + terms.duration + terms.after
    days = local_days(lo, hi, zone)
    await tx.lock_resource_days([resource_id], days)
    await _release_expired(tx, [resource_id], lo, hi)
    day = start.astimezone(zone).date()
    calendar = domain.calendar_reason(day, today=today, policy=policy)
    blackouts = await tx.blackout_days(day, day)
    claims = await tx.live_claims([resource_id], lo, hi, other_than=other_than)
    whole_days = await tx.live_whole_days(days[0], days[-1], other_than=other_than)
    busy = [c.busy for c in claims] + [Busy(*day_span(d, zone)) for d in whole_days]
    hours = await tx.hours(resource_id, day, day)
    slots = offered_slots(
        day,
        day,
        terms=terms,
        zone=zone,
        hours_of=hours.of,
        closed_days=blackouts | ({day} if calendar else set()),
        busy=busy,
        now=now,
    )
    slot = offered(start, slots)
    if slot is not None:
        return SlotHold(resource_id, slot, terms)
    if calendar is not None:
        raise slot_unavailable(start, day, calendar.value)
    if blackouts:
        raise slot_unavailable(start, day, Reason.BLACKOUT.value)
    if claims or whole_days:
        statuses = [c.status for c in claims] + list(whole_days.values())
        raise slot_unavailable(start, day, _occupying(statuses).value)
    raise slot_unavailable(start, day, "not_offered")


async def slot_still_free(tx: BookingTx, booking: domain.Booking, zone: ZoneInfo) -> bool:
    """Whether a slot booking's claim is free of every other live claim (a late payment for a hold
    that was released): under its resource's day locks, expired holds in the way released first."""
    claim = booking.claim
    assert claim is not None
    lo, hi = claim
    days = local_days(lo, hi, zone)
    await tx.lock_resource_days([booking.resource_id], days)
    await _release_expired(tx, [booking.resource_id], lo, hi)
    others = await tx.live_claims([booking.resource_id], lo, hi, other_than=booking.id)
    whole = await tx.live_whole_days(days[0], days[-1], other_than=booking.id)
    return not others and not whole
