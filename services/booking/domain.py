"""The booking rules as plain Python: availability, holds, the lifecycle, the couple's rights.

No I/O here. The use cases run these rules over the store's transaction verbs; the servicer only translates.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mais_runtime.errors import (
    Conflict,
    DomainError,
    FieldViolation,
    GrpcCode,
    PreconditionFailed,
    ValidationError,
)
from mais_runtime.money import decimal_amount
from mais_runtime.slot_terms import SlotTerms
from services.booking.slots import Slot

MAX_RANGE_DAYS = 366
DEFAULT_HOLD_MINUTES = 31
# A hold outlives Stripe's 30-minute minimum for a Checkout Session by one minute: the session is created
# just after the hold and expires exactly when the hold does, so the hold must leave it 30 minutes
# after it is created (the checkout's round trips take seconds, not the minute).
MIN_HOLD_MINUTES = 31
MAX_HOLD_MINUTES = 24 * 60
# Live holds per couple and per client address when the tenant's policy says 0.
DEFAULT_MAX_HOLDS_PER_EMAIL = 2
# A venue's shared Wi-Fi may carry several couples at once.
DEFAULT_MAX_HOLDS_PER_ADDRESS = 5
DEFAULT_REMINDER_DAYS = 7
# Reminders go out at this local hour of the tenant's day, not at midnight.
REMINDER_LOCAL_HOUR = 9

_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Deliberately loose (one @, a dot in the domain, no spaces or control characters): the real check
# is whether mail arrives; this one only keeps garbage and header tricks out.
_EMAIL = re.compile(r"^[^@\s<>,;:\"]+@[^@\s<>,;:\"]+\.[^@\s<>,;:\"]+$")
_ACTOR = re.compile(r"^(couple|system|payments|(tenant_admin|platform_admin):[A-Za-z0-9_.:-]{1,80})$")


class Status(StrEnum):
    """Where a booking is in its life."""

    HELD = "HELD"
    CONFIRMED = "CONFIRMED"
    RELEASED = "RELEASED"
    CANCELLED = "CANCELLED"


# The statuses that occupy a date (a HELD row only while its hold has not expired).
LIVE_STATUSES = (Status.HELD, Status.CONFIRMED)


class Reason(StrEnum):
    """Why a date cannot be booked."""

    BOOKED = "booked"
    HELD = "held"
    BLACKOUT = "blackout"
    PAST = "past"
    OUT_OF_RANGE = "out_of_range"


@dataclass(frozen=True)
class Policy:
    """A tenant's booking policy, with the platform defaults filled in."""

    min_notice_days: int = 0
    # 0: no limit.
    max_advance_days: int = 0
    hold_minutes: int = DEFAULT_HOLD_MINUTES
    reminder_days: int = DEFAULT_REMINDER_DAYS
    # How many days before the event a couple may still cancel by themselves; 0: never.
    couple_cancel_days: int = 0
    # Live holds one couple (normalised email) / one client address may have at once in the tenant.
    max_live_holds_per_email: int = DEFAULT_MAX_HOLDS_PER_EMAIL
    max_live_holds_per_address: int = DEFAULT_MAX_HOLDS_PER_ADDRESS

    @property
    def hold_length_minutes(self) -> int:
        """How long a hold lasts from when it is made or resumed: the tenant's hold time, and never
        less than MIN_HOLD_MINUTES (a tenant's 30 minutes would leave its Checkout Session, created
        a moment later, short of Stripe's minimum)."""
        return max(self.hold_minutes, MIN_HOLD_MINUTES)

    @classmethod
    def from_settings(
        cls,
        *,
        min_notice_days: int,
        max_advance_days: int,
        hold_minutes: int,
        reminder_days: int,
        couple_cancel_days: int,
        max_live_holds_per_email: int = 0,
        max_live_holds_per_address: int = 0,
    ) -> Policy:
        """The policy as a tenant configured it (the tenant service fills in its own defaults; 0 reminder
        days means no reminder, 0 maximum advance means no limit, 0 live-hold bounds mean the defaults).
        A hold is kept between 31 minutes and 24 hours: a Stripe Checkout session lives at least 30 minutes
        and at most 24 hours, and the session expires with its hold."""
        return cls(
            min_notice_days=max(min_notice_days, 0),
            max_advance_days=max(max_advance_days, 0),
            hold_minutes=min(max(hold_minutes, MIN_HOLD_MINUTES), MAX_HOLD_MINUTES),
            reminder_days=max(reminder_days, 0),
            couple_cancel_days=max(couple_cancel_days, 0),
            max_live_holds_per_email=(
                max_live_holds_per_email if max_live_holds_per_email > 0 else DEFAULT_MAX_HOLDS_PER_EMAIL
            ),
            max_live_holds_per_address=(
                max_live_holds_per_address
                if max_live_holds_per_address > 0
                else DEFAULT_MAX_HOLDS_PER_ADDRESS
            ),
        )


@dataclass(frozen=True)
class TenantCalendar:
    """What booking needs to know about a tenant: its name and contact, its calendar and its policy."""

    tenant_id: str
    name: str
    timezone: str
    policy: Policy
    currency: str = "usd"
    # Where replies to the tenant's emails go (Reply-To of every email sent for it).
    contact_email: str = ""

    @property
    def zone(self) -> ZoneInfo:
        """The tenant's time zone (UTC when the stored name is unknown)."""
        try:
            return ZoneInfo(self.timezone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    def today(self, now: datetime) -> date:
        """The tenant's current date at the instant `now`."""
        return now.astimezone(self.zone).date()


@dataclass(frozen=True)
class AdminContact:
    """A tenant admin who hears about the business's bookings."""

    email: str


@dataclass(frozen=True)
class DateAvailability:
    """One date and, when it cannot be booked, why."""

    day: date
    reason: Reason | None

    @property
    def available(self) -> bool:
        """True when the date can be held."""
        return self.reason is None


def calendar_reason(day: date, *, today: date, policy: Policy) -> Reason | None:
    """Why the calendar alone (not the bookings) refuses `day`: past, or outside the notice window."""
    if day < today:
        return Reason.PAST
    if day < today + timedelta(days=policy.min_notice_days):
        return Reason.OUT_OF_RANGE
    if policy.max_advance_days and day > today + timedelta(days=policy.max_advance_days):
        return Reason.OUT_OF_RANGE
    return None


def availability(
    first: date, last: date, *, today: date, policy: Policy, taken: Mapping[date, Reason]
) -> list[DateAvailability]:
    """Every date of [first, last] with its availability. The one code path behind both the single-date
    and the calendar answers, so they cannot disagree. `taken` maps dates to booked/held/blackout.

    Order of reasons: a past date is past whatever else is true; otherwise what occupies the date
    (booked, held, blackout) says more than the notice window does."""
    answer = []
    # Counted in days rather than stepping past `last`: the day after 9999-12-31 does not exist.
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        reason = calendar_reason(day, today=today, policy=policy)
        if reason is not Reason.PAST:
            reason = taken.get(day) or reason
        answer.append(DateAvailability(day, reason))
    return answer


def occupying_reason(status: Status) -> Reason:
    """The availability reason a live booking gives its date."""
    return Reason.BOOKED if status is Status.CONFIRMED else Reason.HELD


# --- input -----------------------------------------------------------------------------------


def parse_date(value: str, field_name: str) -> date:
    """A YYYY-MM-DD date, or ValidationError naming the field."""
    if not value:
        raise ValidationError.of(field_name, "is required")
    if not _DATE.match(value):
        raise ValidationError.of(field_name, "must be a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError.of(field_name, "is not a valid date") from None


def parse_range(
    first: str, last: str, *, first_field: str = "from", last_field: str = "to"
) -> tuple[date, date]:
    """An inclusive date range of at most MAX_RANGE_DAYS days."""
    start, end = parse_date(first, first_field), parse_date(last, last_field)
    if end < start:
        raise ValidationError.of(last_field, f"must not be before {first_field}")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise ValidationError.of(last_field, f"the range may span at most {MAX_RANGE_DAYS} days")
    return start, end


def parse_optional_range(first: str, last: str) -> tuple[date | None, date | None]:
    """Optional list filters: either bound may be empty; when both are given, from <= to."""
    start = parse_date(first, "from") if first else None
    end = parse_date(last, "to") if last else None
    if start and end and end < start:
        raise ValidationError.of("to", "must not be before from")
    return start, end


def normalise_email(value: str) -> str:
    """Emails are compared trimmed and lower-cased."""
    return value.strip().lower()


@dataclass(frozen=True)
class CoupleDetails:
    """What a couple typed when they asked for a date, checked and normalised."""

    name: str
    email: str
    phone: str
    notes: str

    @classmethod
    def checked(cls, *, name: str, email: str, phone: str, notes: str) -> CoupleDetails:
        """Validates every field at once, so a client sees all its mistakes in one answer."""
        problems: list[FieldViolation] = []
        name = name.strip()
        email = normalise_email(email)
        phone = phone.strip()
        notes = notes.strip()
        if not name:
            problems.append(FieldViolation("coupleName", "is required"))
        elif len(name) > 200:
            problems.append(FieldViolation("coupleName", "must be at most 200 characters"))
        if not email:
            problems.append(FieldViolation("email", "is required"))
        elif len(email) > 254 or not _EMAIL.match(email):
            problems.append(FieldViolation("email", "is not a valid email address"))
        if len(phone) > 40:
            problems.append(FieldViolation("phone", "must be at most 40 characters"))
        if len(notes) > 2000:
            problems.append(FieldViolation("notes", "must be at most 2000 characters"))
        for field_name, value in (("coupleName", name), ("phone", phone)):
            if any(ord(c) < 32 for c in value):
                problems.append(FieldViolation(field_name, "must be one line"))
        if problems:
            raise ValidationError("the couple's details are not valid", problems)
        return cls(name, email, phone, notes)


@dataclass(frozen=True)
class Quote:
    """The priced snapshot a hold carries, as catalog quoted it (JSON form of QuoteSnapshot)."""

    package_id: str
    total_cents: int
    currency: str
    document: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def checked(
        cls, *, package_id: str, total_cents: int, currency: str, document: Mapping[str, Any]
    ) -> Quote:
        """A quote must name its package, a non-negative total and a currency."""
        problems: list[FieldViolation] = []
        if not package_id:
            problems.append(FieldViolation("quote.packageId", "is required"))
        if total_cents < 0:
            problems.append(FieldViolation("quote.totalCents", "must not be negative"))
        if not re.fullmatch(r"[a-z]{3}", currency):
            problems.append(FieldViolation("quote.currency", "must be a three-letter currency code"))
        if problems:
            raise ValidationError("the quote is not valid", problems)
        return cls(package_id, total_cents, currency, document)


def parse_actor(actor: str) -> str:
    """Who acts on a booking, as history records it."""
    if not _ACTOR.match(actor):
        raise ValidationError.of(
            "actor", "must be couple, system, payments, tenant_admin:<id> or platform_admin:<id>"
        )
    return actor


# --- identities ------------------------------------------------------------------------------


def new_id(prefix: str) -> str:
    """A random, unguessable id: the prefix and 26 characters (about 134 bits) from `secrets`."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(26))


def new_booking_id() -> str:
    """A booking id; never sequential, never derived from time."""
    return new_id("bk_")


# --- lifecycle -------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryEntry:
    """One recorded transition: from, to, who, why, when."""

    from_status: str
    to_status: str
    actor: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class Booking:
    """A booking as stored."""

    id: str
    tenant_id: str
    event_date: date
    status: Status
    customer_id: str
    couple_name: str
    email: str
    phone: str
    notes: str
    quote: Quote
    payment_session_id: str
    hold_expires_at: datetime | None
    amount_paid_cents: int
    amount_refunded_cents: int
    cancel_reason: str
    created_at: datetime
    updated_at: datetime
    # The address the couple asked from (bounded live holds per address); empty for internal callers.
    client_address: str = ""
    history: tuple[HistoryEntry, ...] = ()
    # A time-slot booking (kind SLOT): the couple's start and end (buffers aside), the buffers kept
    # free around it and the resource it takes. A whole-day booking (DAY) has none of them.
    kind: str = "DAY"
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    resource_id: str = ""
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0

    @property
    def claim(self) -> tuple[datetime, datetime] | None:
        """A slot booking's claim on its resource, buffers included: [start, end); None for a day."""
        if self.starts_at is None or self.ends_at is None:
            return None
        return (
            self.starts_at - timedelta(minutes=self.buffer_before_minutes),
            self.ends_at + timedelta(minutes=self.buffer_after_minutes),
        )

    def hold_expired(self, now: datetime) -> bool:
        """True when this is a hold whose time is up."""
        return self.status is Status.HELD and self.hold_expires_at is not None and self.hold_expires_at <= now

    def as_seen(self, now: datetime) -> Booking:
        """The booking as anyone reading it is shown it: a hold past its expiry holds nothing, so it
        reads as RELEASED, which is what the expiry sweep will make of it within a minute."""
        if self.hold_expired(now):
            return replace(self, status=Status.RELEASED)
        return self


@dataclass(frozen=True)
class SlotChoice:
    """A couple's choice for a time-slot service: the start, and the service's terms as quoted."""

    starts_at: datetime
    terms: SlotTerms


@dataclass(frozen=True)
class SlotHold:
    """What a time-slot hold takes: an offered slot of a service (its terms give the buffers) on one
    resource."""

    resource_id: str
    slot: Slot
    terms: SlotTerms

    @property
    def claim(self) -> tuple[datetime, datetime]:
        """The resource's time it takes, buffers included: [start, end)."""
        return self.slot.claim(self.terms)


@dataclass(frozen=True)
class HoldResult:
    """A hold and how this call came by it: made now, a replay of the same request id, or the same
    couple's live hold on the date, resumed."""

    booking: Booking
    created: bool
    resumed: bool = False


@dataclass(frozen=True)
class BookingFilter:
    """The admin list's filters; empty fields do not filter."""

    status: Status | None = None
    from_date: date | None = None
    to_date: date | None = None
    customer_email: str = ""


@dataclass(frozen=True)
class FeedEntry:
    """A confirmed booking as the tenant's calendar feed shows it: a day, or a slot's instants too."""

    booking_id: str
    event_date: date
    couple_name: str
    package_title: str
    starts_at: datetime | None = None
    ends_at: datetime | None = None


@dataclass(frozen=True)
class Blackout:
    """A date the tenant does not take bookings on."""

    id: str
    day: date
    reason: str


def check_blackout_date(day: date, *, today: date) -> None:
    """A blackout closes a date still to come; a past date needs none and would only confuse the
    calendar, so it is refused (`today` is the tenant's, in its own time zone)."""
    if day < today:
        raise ValidationError.of("date", f"must not be in the past (today is {today.isoformat()})")


# --- what history says -----------------------------------------------------------------------

HELD_FOR_CHECKOUT = "date held for checkout"
RESUMED = "the couple came back to their hold"
RESUMED_EXTENDED = "the couple came back to their hold; it runs a full hold time from now"
EXPIRED_ASKED_AGAIN = "hold expired; the date was asked for again"
EXPIRED = "hold expired"
PAYMENT_RECEIVED = "payment received"
PAYMENT_RECEIVED_LATE = "payment received after the hold expired; the date was still free"
CHECKOUT_ENDED = "checkout expired or abandoned"
CHECKOUT_RESTARTED = "checkout restarted with a new payment session"


def refund_recorded(refund_id: str, refund_cents: int, currency: str) -> str:
    """History's words for one refund: "refunded 500.00 USD (re_...)"."""
    return f"refunded {decimal_amount(refund_cents, currency)} {currency.upper()} ({refund_id})"


def hold_lost_refunded(refund_id: str, refund_cents: int, currency: str) -> str:
    """History's words for the refund of a payment whose hold was lost."""
    amount = f"{decimal_amount(refund_cents, currency)} {currency.upper()}"
    return f"payment of {amount} refunded ({refund_id}): the date was taken"


def check_replay(earlier: Booking, *, day: date, email: str) -> Booking:
    """An earlier hold made with the same request id answers a retry of that request; the same id
    used for another date or couple is a client bug, refused."""
    if earlier.event_date != day or earlier.email != email:
        raise Conflict("this request id was used for another hold", reason="IDEMPOTENCY_KEY_REUSED")
    return earlier


# --- bounded live holds ------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveHolds:
    """How many live holds one couple (or one client address) has in a tenant, and when the first
    of them runs out."""

    count: int
    first_expiry: datetime | None


def hold_limit_reached(kind: str, limit: int, holds: LiveHolds, now: datetime) -> DomainError:
    """The refusal of one hold too many, with the seconds until the earliest live hold frees a place."""
    wait = 1
    if holds.first_expiry is not None:
        wait = max(math.ceil((holds.first_expiry - now).total_seconds()), 1)
    return DomainError(
        f"at most {limit} dates may be held at once per {kind}; try again later or finish a checkout",
        "HOLD_LIMIT_REACHED",
        GrpcCode.RESOURCE_EXHAUSTED,
        [],
        {"retry_after_seconds": str(wait), "limit": kind, "max_live_holds": str(limit)},
    )


def check_hold_limits(
    policy: Policy, *, by_email: LiveHolds, by_address: LiveHolds | None, now: datetime
) -> None:
    """Refuses a new hold when the couple, or the address they ask from, already holds as many dates
    as the tenant allows (a competitor must not block a venue's Saturdays without paying)."""
    if by_email.count >= policy.max_live_holds_per_email:
        raise hold_limit_reached("email", policy.max_live_holds_per_email, by_email, now)
    if by_address is not None and by_address.count >= policy.max_live_holds_per_address:
        raise hold_limit_reached("address", policy.max_live_holds_per_address, by_address, now)


class ConfirmOutcome(StrEnum):
    """What a payment does to a booking."""

    CONFIRM = "confirm"
    ALREADY_CONFIRMED = "already_confirmed"
    HOLD_LOST = "hold_lost"


def decide_confirmation(
    booking: Booking,
    payment_session_id: str,
    *,
    amount_paid_cents: int,
    date_taken_by_other: bool,
    blacked_out: bool,
    amount_due_cents: int | None = None,
) -> ConfirmOutcome:
    """What a completed payment does to `booking`.

    Idempotent by payment session: the same session confirming again changes nothing, also once the
    booking was cancelled since (a retried event must not undo the tenant's refund decision with a
    refund of its own). A hold whose time ran out is still confirmed when nobody else has taken the date
    meanwhile (the money is there and the date is free, so refusing would only force a refund and lose
    the couple their date); this covers a HELD row past its expiry and one an expiry sweep or checkout
    expiry moved to RELEASED. When another booking now occupies the date, or the tenant blacked it out,
    the hold is lost and payments refunds. So is a payment of another amount than the booking's quote (a
    hold resumed with another package while its old session was paid): a booking is never confirmed for
    what was not paid. What must have been paid is `amount_due_cents` when the payment starts a
    schedule (its first instalment: the deposit), else the quote's total.
    """
    if booking.status in (Status.CONFIRMED, Status.CANCELLED):
        if booking.payment_session_id == payment_session_id:
            return ConfirmOutcome.ALREADY_CONFIRMED
        return ConfirmOutcome.HOLD_LOST
    if booking.payment_session_id and booking.payment_session_id != payment_session_id:
        # Another checkout owns this hold; this payment is not for it.
        return ConfirmOutcome.HOLD_LOST
    due = booking.quote.total_cents if amount_due_cents is None else amount_due_cents
    if amount_paid_cents != due:
        return ConfirmOutcome.HOLD_LOST
    if date_taken_by_other or blacked_out:
        return ConfirmOutcome.HOLD_LOST
    return ConfirmOutcome.CONFIRM


def date_unavailable(day: date, reason: Reason) -> Conflict:
    """The answer when a date cannot be held or blacked out, naming why."""
    return Conflict(
        f"{day.isoformat()} is not available ({reason.value})",
        reason="DATE_UNAVAILABLE",
        metadata={"date": day.isoformat(), "why": reason.value},
    )


def check_attach(booking: Booking, session_id: str, *, replaces: str = "") -> bool:
    """True when attaching `session_id` changes something; False when it is attached already
    (idempotent). A hold has one payment session at a time: another one is refused unless the caller
    names the session it replaces (a resumed hold's checkout made anew; a payment of the replaced
    session then finds it is not the hold's and is refunded, see decide_confirmation)."""
    if booking.payment_session_id == session_id:
        return False
    if booking.payment_session_id and booking.payment_session_id != replaces:
        raise Conflict("another payment session is attached to this booking")
    if booking.status is not Status.HELD:
        raise PreconditionFailed(f"a {booking.status.value} booking takes no payment session")
    return True


def check_release(booking: Booking, *, session_id: str = "") -> bool:
    """True when releasing changes something; False when already released (idempotent), or when the
    ending checkout session `session_id` is not the hold's own (a resumed hold took a new one)."""
    if booking.status is Status.RELEASED:
        return False
    if session_id and booking.status is Status.HELD and booking.payment_session_id != session_id:
        return False
    if booking.status is not Status.HELD:
        raise PreconditionFailed(f"a {booking.status.value} booking cannot be released")
    return True


def check_cancel(booking: Booking, *, actor: str, today: date, policy: Policy) -> bool:
    """True when cancelling changes something; False when already cancelled (idempotent).

    Only a confirmed booking is cancelled (a hold is released instead). The couple may cancel on their
    own only up to `couple_cancel_days` days before the event, and never when that policy is 0."""
    if booking.status is Status.CANCELLED:
        return False
    if booking.status is not Status.CONFIRMED:
        raise PreconditionFailed(f"a {booking.status.value} booking cannot be cancelled")
    if actor == "couple" and not couple_cancellation(booking, today=today, policy=policy).allowed_now:
        raise PreconditionFailed(
            "the couple can no longer cancel this booking themselves", reason="CANCELLATION_WINDOW_CLOSED"
        )
    return True


@dataclass(frozen=True)
class CoupleCancellation:
    """Whether the couple may cancel their booking on their own now, and until which day."""

    allowed_now: bool
    # The last day (the tenant's calendar) of the window; None when the policy never lets couples cancel.
    last_day: date | None


def couple_cancellation(booking: Booking, *, today: date, policy: Policy) -> CoupleCancellation:
    """The tenant's self-service cancellation window for this booking: the one rule both the couple's
    view of their booking and their cancellation (check_cancel) apply. Only a confirmed booking can
    be cancelled, up to `couple_cancel_days` days before the event, and never when that policy is 0."""
    if policy.couple_cancel_days <= 0:
        return CoupleCancellation(allowed_now=False, last_day=None)
    last_day = booking.event_date - timedelta(days=policy.couple_cancel_days)
    return CoupleCancellation(
        allowed_now=booking.status is Status.CONFIRMED and today <= last_day, last_day=last_day
    )


def reminder_time(event_date: date, calendar: TenantCalendar, now: datetime) -> datetime | None:
    """When the reminder for an event should go out (REMINDER_LOCAL_HOUR in the tenant's zone,
    `reminder_days` before), or None when that moment has already passed at confirmation: a couple
    who books inside the window just got the confirmation and needs no reminder on top."""
    if calendar.policy.reminder_days <= 0:
        return None
    local = datetime.combine(
        event_date - timedelta(days=calendar.policy.reminder_days),
        time(REMINDER_LOCAL_HOUR),
        tzinfo=calendar.zone,
    )
    at = local.astimezone(UTC)
    return at if at > now else None


def refund_total(paid_cents: int, refunded_so_far: int, reported_total: int) -> int:
    """The cumulative refunded amount after payments reports `reported_total`. Reports can arrive out of
    order, so the total never goes down; it can never exceed what was paid."""
    if reported_total < 0:
        raise ValidationError.of("amount_refunded_cents", "must not be negative")
    if paid_cents and reported_total > paid_cents:
        raise ValidationError.of("amount_refunded_cents", "must not exceed the amount paid")
    return max(refunded_so_far, reported_total)


# --- rescheduling ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RescheduleTarget:
    """Where a booking is to move: a whole day's new date, or a slot booking's new start (the same
    service's terms, on the same resource)."""

    day: date | None = None
    starts_at: datetime | None = None

    @classmethod
    def checked(cls, booking: Booking, *, day: date | None, starts_at: datetime | None) -> RescheduleTarget:
        """A whole day moves by date only, a slot by its start only."""
        if booking.kind == "SLOT":
            if day is not None:
                raise ValidationError.of("eventDate", "a time-slot booking moves by its start (startsAt)")
            if starts_at is None:
                raise ValidationError.of("startsAt", "is required for a time-slot booking")
            return cls(starts_at=starts_at.astimezone(UTC))
        if starts_at is not None:
            raise ValidationError.of("startsAt", "is only for a time-slot booking")
        if day is None:
            raise ValidationError.of("eventDate", "is required")
        return cls(day=day)

    def is_where(self, booking: Booking) -> bool:
        """True when the booking is already there (moving changes nothing)."""
        if self.starts_at is not None:
            return booking.starts_at == self.starts_at
        return booking.event_date == self.day


def check_reschedule(booking: Booking, *, actor: str, today: date, policy: Policy) -> None:
    """Only a confirmed booking moves (a hold is released and held again instead). The couple may
    move it on their own only while they could cancel it (the same window, couple_cancellation)."""
    if booking.status is not Status.CONFIRMED:
        raise PreconditionFailed(f"a {booking.status.value} booking cannot be rescheduled")
    if actor == "couple" and not couple_cancellation(booking, today=today, policy=policy).allowed_now:
        raise PreconditionFailed(
            "the couple can no longer reschedule this booking themselves",
            reason="CANCELLATION_WINDOW_CLOSED",
        )


def rescheduled(before: str, after: str, reason: str) -> str:
    """History's line for a move: from where, to where, and why when given."""
    line = f"rescheduled from {before} to {after}"
    return f"{line}: {reason}" if reason else line
