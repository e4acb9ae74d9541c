"""Checkout input: a couple's request checked and normalised, the quote it is charged by, and when
its Checkout Session closes."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import KW_ONLY, dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from mais_runtime.errors import FieldViolation, PreconditionFailed, ValidationError
from mais_runtime.payment_policy import PaymentPolicy

# Stripe keeps a Checkout Session open between 30 minutes and 24 hours after creation.
SESSION_MIN_LIFETIME = timedelta(minutes=30)
SESSION_MAX_LIFETIME = timedelta(hours=24)

MAX_ADD_ONS = 20
MAX_NAME = 200
MAX_EMAIL = 254
MAX_PHONE = 40
MAX_NOTES = 2000
MAX_ID = 64

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EMAIL = re.compile(r"^[^@\s<>,;:\"]+@[^@\s<>,;:\"]+\.[^@\s<>,;:\"]+$")
_ID = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class CheckoutInput:
    """A couple's checkout request, checked and normalised (emails lower-cased and trimmed)."""

    package_id: str
    add_on_ids: tuple[str, ...]
    event_date: date
    couple_name: str
    email: str
    phone: str
    notes: str
    # A time-slot service's chosen start (booking checks it is offered); its date in the tenant's
    # calendar is `event_date`, filled from the start when the couple gave none (see on_local_date).
    starts_at: datetime | None = None

    @classmethod
    def checked(
        cls,
        *,
        package_id: str,
        add_on_ids: Iterable[str],
        event_date: str,
        couple_name: str,
        email: str,
        phone: str,
        notes: str,
        starts_at: datetime | None = None,
    ) -> CheckoutInput:
        """The request, or one ValidationError naming every bad field (as the client spells them). With
        `starts_at` (a time slot), the event date may be left out: it is the start's local date."""
        problems: list[FieldViolation] = []
        package_id = package_id.strip()
        if not package_id:
            problems.append(FieldViolation("packageId", "is required"))
        elif len(package_id) > MAX_ID or not _ID.match(package_id):
            problems.append(FieldViolation("packageId", "is not a valid id"))
        add_ons = tuple(a.strip() for a in add_on_ids)
        if len(add_ons) > MAX_ADD_ONS:
            problems.append(FieldViolation("addOnIds", f"at most {MAX_ADD_ONS} add-ons"))
        elif any(not a or len(a) > MAX_ID or not _ID.match(a) for a in add_ons):
            problems.append(FieldViolation("addOnIds", "every entry must be a valid id"))
        elif len(set(add_ons)) != len(add_ons):
            problems.append(FieldViolation("addOnIds", "must not repeat an add-on"))
        dated_by_start = starts_at is not None and not event_date
        if starts_at is None and not event_date:
            # Payments does not know the package's kind yet: say what either kind needs.
            problems.append(FieldViolation("eventDate", "is required (a time-slot service takes startsAt)"))
            day = None
        else:
            day = None if dated_by_start else _parse_date(event_date, "eventDate", problems)
        name = couple_name.strip()
        if not name:
            problems.append(FieldViolation("coupleName", "is required"))
        elif len(name) > MAX_NAME or _has_control(name):
            problems.append(FieldViolation("coupleName", f"at most {MAX_NAME} printable characters"))
        normalised = email.strip().lower()
        if not normalised:
            problems.append(FieldViolation("email", "is required"))
        elif len(normalised) > MAX_EMAIL or not _EMAIL.match(normalised):
            problems.append(FieldViolation("email", "is not a valid email address"))
        phone = phone.strip()
        if len(phone) > MAX_PHONE or _has_control(phone):
            problems.append(FieldViolation("phone", f"at most {MAX_PHONE} printable characters"))
        notes = notes.strip()
        if len(notes) > MAX_NOTES:
            problems.append(FieldViolation("notes", f"at most {MAX_NOTES} characters"))
        if problems:
            raise ValidationError("the checkout request is not valid", problems)
        # A start without a date is dated by on_local_date once the tenant's zone is known.
        return cls(package_id, add_ons, day or date.min, name, normalised, phone, notes, starts_at)

    def on_local_date(self, zone: ZoneInfo) -> CheckoutInput:
        """This request with a slot's event date filled in: its start's date in `zone`."""
        if self.starts_at is None or self.event_date != date.min:
            return self
        return replace(self, event_date=self.starts_at.astimezone(zone).date())

    def fingerprint(self, redirects: tuple[str, ...] = ()) -> str:
        """A hash of what this request asks for: the same body gives the same hash. `redirects`, the
        pages the couple returns to when the caller named them, count too (none: the hash is as it
        always was)."""
        fields: dict[str, object] = {
            "packageId": self.package_id,
            "addOnIds": sorted(self.add_on_ids),
            "eventDate": self.event_date.isoformat(),
            "coupleName": self.couple_name,
            "email": self.email,
            "phone": self.phone,
            "notes": self.notes,
        }
        if self.starts_at is not None:
            fields["startsAt"] = self.starts_at.isoformat()
        if redirects:
            fields["redirects"] = list(redirects)
        canonical = json.dumps(
            fields,
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


def _parse_date(value: str, field_name: str, problems: list[FieldViolation]) -> date | None:
    if not value:
        problems.append(FieldViolation(field_name, "is required"))
        return None
    if not _DATE.match(value):
        problems.append(FieldViolation(field_name, "must be a date as YYYY-MM-DD"))
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems.append(FieldViolation(field_name, "is not a valid date"))
        return None


def _has_control(value: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in value)


def check_quote(total_cents: int, line_totals: Iterable[int], currency: str) -> None:
    """A quote is charged only when its lines add up to its total and it is worth charging."""
    if total_cents <= 0:
        raise PreconditionFailed("the quoted total must be positive to start a payment")
    if sum(line_totals) != total_cents:
        raise PreconditionFailed("the quote's lines do not add up to its total")
    if not re.fullmatch(r"[a-z]{3}", currency):
        raise PreconditionFailed("the quote has no valid currency")


class HoldTooShort(PreconditionFailed):
    """The hold ends sooner than Stripe's shortest Checkout Session: no session can close with it."""

    def __init__(self) -> None:
        super().__init__("the hold ends too soon for a payment session; start the checkout again")


def session_expires_at(hold_expires_at: datetime, now: datetime) -> datetime:
    """When the Checkout Session closes: exactly when its hold does, never later, so nobody can pay
    for a date that is no longer held. Stripe counts whole seconds, so the instant is floored to the
    second (a fraction earlier than the hold, never later). A hold that leaves less than Stripe's 30
    minutes is refused (booking makes holds of at least 31 minutes, so this means the hold is stale);
    one beyond Stripe's 24 hours closes at 24 hours, still before its hold."""
    closes = min(hold_expires_at, now + SESSION_MAX_LIFETIME).replace(microsecond=0)
    if closes < now + SESSION_MIN_LIFETIME:
        raise HoldTooShort()
    return closes


# Less than this left on an open session is not worth resuming: a new session for the same hold
# gives the couple the whole hold to pay.
RESUME_MIN_LEFT = timedelta(minutes=5)


def session_resumable(
    *,
    open_: bool,
    session_expires: datetime,
    hold_expires: datetime,
    now: datetime,
    charges_the_quote: bool = True,
) -> bool:
    """Whether a couple coming back to their hold may use its existing Checkout Session: it is still
    open at Stripe's side for us, it charges what the hold now quotes (a couple who came back with
    another package or add-ons pays the new total, never the old one), it closes no later than the
    hold, and it leaves them time to pay."""
    return (
        open_
        and charges_the_quote
        and session_expires <= hold_expires
        and session_expires - now >= RESUME_MIN_LEFT
    )


@dataclass(frozen=True)
class Payee:
    """Who a tenant's payments go to: its Connect account once onboarding is complete."""

    commission_bps: int
    stripe_account_id: str
    onboarded: bool
    # The tenant's payment terms for packages without their own (default: pay in full), and its
    # calendar (what "today" and a due date mean).
    policy: PaymentPolicy = field(default_factory=PaymentPolicy)
    timezone: str = "UTC"
    # The tenant as the tenant service answered it, passed on to booking with the hold so that booking
    # need not read it again (payments never reads it).
    record: object = field(default=None, compare=False, repr=False)

    def check_can_be_paid(self) -> str:
        """The Connect account a destination charge pays, or TENANT_NOT_ONBOARDED: no payment is
        ever taken on the platform's own account for a tenant Stripe cannot pay out to."""
        if not self.onboarded or not self.stripe_account_id:
            raise TenantNotOnboarded()
        return self.stripe_account_id


class TenantNotOnboarded(PreconditionFailed):
    """The tenant has not finished Stripe Connect onboarding: checkout is refused until it has."""

    def __init__(self) -> None:
        super().__init__(
            "this business cannot take payments yet: its Stripe onboarding is not complete",
            reason="TENANT_NOT_ONBOARDED",
        )


@dataclass(frozen=True)
class QuoteLine:
    """One priced line of a quote."""

    name: str
    price_cents: int


@dataclass(frozen=True)
class Quote:
    """What catalog priced the couple's choice at. `record` is catalog's own snapshot, passed on to
    booking unchanged (payments never reads or rebuilds it)."""

    lines: tuple[QuoteLine, ...]
    total_cents: int
    currency: str
    record: object = None
    # The package's own payment terms; None: the tenant's apply.
    policy: PaymentPolicy | None = None

    @property
    def package_title(self) -> str:
        """The package's name (the quote's first line), for the deposit's line item."""
        return self.lines[0].name if self.lines else "Booking"

    def check(self) -> None:
        """A quote is charged only when its lines add up to its total and it is worth charging."""
        check_quote(self.total_cents, (line.price_cents for line in self.lines), self.currency)


class BookingStatus(StrEnum):
    """A booking's status as payments sees it (booking owns the lifecycle)."""

    HELD = "HELD"
    CONFIRMED = "CONFIRMED"
    RELEASED = "RELEASED"
    CANCELLED = "CANCELLED"


class ConfirmResult(StrEnum):
    """What a completed payment did to its booking, as booking answers it."""

    CONFIRMED = "confirmed"
    ALREADY_CONFIRMED = "already_confirmed"
    HOLD_LOST = "hold_lost"


class InstalmentRecorded(StrEnum):
    """What booking did with a later instalment's payment."""

    RECORDED = "recorded"
    ALREADY_RECORDED = "already_recorded"
    # Cancelled meanwhile: booking recorded nothing, and the payment goes back.
    BOOKING_NOT_CONFIRMED = "booking_not_confirmed"


@dataclass(frozen=True)
class HoldRequest:
    """What booking is asked to hold: the couple, their date, the quote, and where they come from.
    Without a quote, booking quotes the checkout's package and add-ons itself once the date is not
    plainly taken (the hold's `quote` is then the one it took); `tenant` is the payee's record."""

    checkout: CheckoutInput
    quote: Quote | None
    request_id: str
    client_address: str
    tenant: object = None


@dataclass(frozen=True)
class Hold:
    """Booking's answer to a hold: the booking, whether it is live, until when, and (`resumed`) whether
    it is the same couple's earlier hold of this date, with the session it had."""

    booking_id: str
    status: BookingStatus
    expires_at: datetime | None
    payment_session_id: str
    resumed: bool
    # The quote the hold carries (booking's copy of catalog's answer).
    quote: Quote | None = None

    @property
    def live(self) -> bool:
        """True while the date is held for this couple."""
        return self.status is BookingStatus.HELD


@dataclass(frozen=True)
class BookingState:
    """A booking as booking answered it. `record` is booking's own message, passed on unchanged to
    whoever answers with the booking (payments never reads it)."""

    booking_id: str
    status: BookingStatus
    record: object = None
    _: KW_ONLY
    # The couple's address and their day (a balance checkout needs both).
    email: str = ""
    event_date: date | None = None
    package_title: str = ""
