"""The payments rules as plain Python: commission and refund arithmetic, the ledger's totals, checkout
input, how a Stripe event is read, idempotency keys. No I/O here.

Money is integer cents everywhere; no float ever touches an amount. Where a division does not come out
even, the rounding goes the platform's way, as the seeds say: the commission rounds UP, so the fee given
back with a refund rounds DOWN (the platform keeps the rounding).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from mais_runtime.errors import Conflict, FieldViolation, PreconditionFailed, ValidationError

BPS_PER_WHOLE = 10_000
# The tenant service allows at most 50 %; a fee can never exceed the charge in any case.
MAX_COMMISSION_BPS = 5_000

# Stripe keeps a Checkout Session open between 30 minutes and 24 hours after creation. The session is
# created a moment after the hold, so its expiry is kept a margin inside both bounds.
SESSION_MIN_LIFETIME = timedelta(minutes=30)
SESSION_MAX_LIFETIME = timedelta(hours=24)
SESSION_MARGIN = timedelta(minutes=1)


MAX_ADD_ONS = 20
MAX_NAME = 200
MAX_EMAIL = 254
MAX_PHONE = 40
MAX_NOTES = 2000
MAX_ID = 64
MAX_IDEMPOTENCY_KEY = 255
MAX_REASON = 500
# The longest last_error we keep: an error class and a short code, never a message.
MAX_ERROR_CODE = 120

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EMAIL = re.compile(r"^[^@\s<>,;:\"]+@[^@\s<>,;:\"]+\.[^@\s<>,;:\"]+$")
_PRINTABLE = re.compile(r"^[\x21-\x7e]+$")
_ID = re.compile(r"^[A-Za-z0-9_-]+$")
_CODE_PART = re.compile(r"[^A-Za-z0-9_.-]")


# --- commission and refunds ------------------------------------------------------------------


def commission_cents(total_cents: int, commission_bps: int) -> int:
    """The platform's application fee on a charge of `total_cents`: ceil(total x bps / 10000).

    Rounded up so the platform never collects less than its rate; never more than the charge."""
    if total_cents < 0:
        raise ValueError("total_cents must not be negative")
    if not 0 <= commission_bps <= BPS_PER_WHOLE:
        raise ValueError("commission_bps must be between 0 and 10000")
    return -(-total_cents * commission_bps // BPS_PER_WHOLE)


def fee_refund_cents(
    *, charged: int, fee: int, refunded_before: int, fee_refunded_before: int, refund: int
) -> int:
    """The part of the platform fee given back with a refund of `refund` cents.

    In proportion to the running total, rounded down: after this refund the platform has given back
    floor(fee x refunded_after / charged) in all. Computing on running totals (not refund by refund)
    means the platform keeps at most one rounding, and a series of refunds that reaches the whole
    charge gives the whole fee back, never more."""
    if charged <= 0 or refund < 0 or refunded_before < 0 or fee < 0 or fee_refunded_before < 0:
        raise ValueError("amounts must be positive")
    refunded_after = refunded_before + refund
    if refunded_after > charged:
        raise ValueError("cannot refund more than was charged")
    if fee_refunded_before > fee:
        raise ValueError("more fee refunded than collected")
    target = fee * refunded_after // charged
    return max(0, min(target - fee_refunded_before, fee - fee_refunded_before))


class RefundKind(StrEnum):
    """What a cancellation gives back."""

    NONE = "none"
    FULL = "full"
    AMOUNT = "amount"


@dataclass(frozen=True)
class RefundChoice:
    """none, full (what is left), or an amount in cents."""

    kind: RefundKind
    amount_cents: int = 0

    @classmethod
    def none(cls) -> RefundChoice:
        """No money back."""
        return cls(RefundKind.NONE)

    @classmethod
    def full(cls) -> RefundChoice:
        """Everything not yet refunded."""
        return cls(RefundKind.FULL)

    @classmethod
    def amount(cls, cents: int) -> RefundChoice:
        """A positive amount of cents."""
        if cents <= 0:
            raise ValidationError.of("refund.amountCents", "must be a positive number of cents")
        return cls(RefundKind.AMOUNT, cents)

    @property
    def canonical(self) -> str:
        """A stable spelling, to tell a reused request id with another choice."""
        return f"amount:{self.amount_cents}" if self.kind is RefundKind.AMOUNT else self.kind.value


def refund_amount(choice: RefundChoice, *, charged: int, refunded_before: int) -> int:
    """How many cents this choice refunds now; never more than what is left of the charge."""
    remaining = charged - refunded_before
    if choice.kind is RefundKind.NONE:
        return 0
    if charged <= 0:
        raise ValidationError.of("refund", "nothing was paid for this booking, so nothing can be refunded")
    if remaining <= 0:
        raise ValidationError.of("refund", "the payment has already been refunded in full")
    if choice.kind is RefundKind.FULL:
        return remaining
    if choice.amount_cents > remaining:
        raise ValidationError.of(
            "refund.amountCents", f"must not exceed the refundable amount of {remaining} cents"
        )
    return choice.amount_cents


@dataclass(frozen=True)
class RefundPlan:
    """A refund about to be made: the amount and the fee going back with it."""

    amount_cents: int
    fee_refund_cents: int


def plan_refund(
    choice: RefundChoice, *, charged: int, fee: int, refunded_before: int, fee_refunded_before: int
) -> RefundPlan:
    """The amount and fee part of a refund, given what was charged and already (or being) refunded."""
    amount = refund_amount(choice, charged=charged, refunded_before=refunded_before)
    if amount == 0:
        return RefundPlan(0, 0)
    fee_part = fee_refund_cents(
        charged=charged,
        fee=fee,
        refunded_before=refunded_before,
        fee_refunded_before=fee_refunded_before,
        refund=amount,
    )
    return RefundPlan(amount, fee_part)


# --- the ledger ------------------------------------------------------------------------------


class EntryKind(StrEnum):
    """The kinds of money movement the ledger records, each tied to one Stripe object."""

    CHARGE = "charge"
    APPLICATION_FEE = "application_fee"
    REFUND = "refund"
    APPLICATION_FEE_REFUND = "application_fee_refund"


@dataclass(frozen=True)
class LedgerEntry:
    """One money movement of one booking."""

    id: str
    booking_id: str
    kind: EntryKind
    amount_cents: int
    currency: str
    stripe_object_id: str
    created_at: datetime


@dataclass(frozen=True)
class LedgerTotals:
    """A booking's totals. charged - refunded = net paid; fee - fee_refunded = the platform's part;
    net_to_tenant = net paid - the platform's part."""

    charged: int = 0
    fee: int = 0
    refunded: int = 0
    fee_refunded: int = 0

    @classmethod
    def of(cls, entries: Iterable[tuple[EntryKind, int]]) -> LedgerTotals:
        """Totals over (kind, amount) pairs."""
        sums = dict.fromkeys(EntryKind, 0)
        for kind, amount in entries:
            sums[kind] += amount
        return cls(
            charged=sums[EntryKind.CHARGE],
            fee=sums[EntryKind.APPLICATION_FEE],
            refunded=sums[EntryKind.REFUND],
            fee_refunded=sums[EntryKind.APPLICATION_FEE_REFUND],
        )

    @property
    def net_paid(self) -> int:
        """What the couple has paid and kept paid."""
        return self.charged - self.refunded

    @property
    def platform_fee(self) -> int:
        """The commission the platform keeps."""
        return self.fee - self.fee_refunded

    @property
    def net_to_tenant(self) -> int:
        """What the business keeps."""
        return self.net_paid - self.platform_fee

    def reconciles(self) -> bool:
        """True when no amount is negative and nothing was given back beyond what was taken."""
        return (
            min(self.charged, self.fee, self.refunded, self.fee_refunded) >= 0
            and self.refunded <= self.charged
            and self.fee_refunded <= self.fee
            and self.fee <= self.charged
            and self.platform_fee <= self.net_paid
        )


# --- checkout --------------------------------------------------------------------------------


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
    ) -> CheckoutInput:
        """The request, or one ValidationError naming every bad field (as the client spells them)."""
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
        day = _parse_date(event_date, "eventDate", problems)
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
        assert day is not None
        return cls(package_id, add_ons, day, name, normalised, phone, notes)

    def fingerprint(self) -> str:
        """A hash of what this request asks for: the same body gives the same hash."""
        canonical = json.dumps(
            {
                "packageId": self.package_id,
                "addOnIds": sorted(self.add_on_ids),
                "eventDate": self.event_date.isoformat(),
                "coupleName": self.couple_name,
                "email": self.email,
                "phone": self.phone,
                "notes": self.notes,
            },
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


def check_idempotency_key(key: str) -> str:
    """The Idempotency-Key header as given (empty: none), or VALIDATION_ERROR."""
    if key and (len(key) > MAX_IDEMPOTENCY_KEY or not _PRINTABLE.match(key)):
        raise ValidationError.of(
            "Idempotency-Key", f"at most {MAX_IDEMPOTENCY_KEY} printable ASCII characters, no spaces"
        )
    return key


def check_replay(stored_hash: str, request_hash: str) -> None:
    """The same key may only come back with the same body."""
    if stored_hash != request_hash:
        raise Conflict(
            "this Idempotency-Key was used with a different request body", reason="IDEMPOTENCY_KEY_REUSED"
        )


def session_expires_at(hold_expires_at: datetime, now: datetime) -> datetime:
    """When the Checkout Session closes: with its hold, kept a margin inside Stripe's window."""
    earliest = now + SESSION_MIN_LIFETIME + SESSION_MARGIN
    latest = now + SESSION_MAX_LIFETIME - SESSION_MARGIN
    return min(max(hold_expires_at, earliest), latest)


def check_quote(total_cents: int, line_totals: Iterable[int], currency: str) -> None:
    """A quote is charged only when its lines add up to its total and it is worth charging."""
    if total_cents <= 0:
        raise PreconditionFailed("the quoted total must be positive to start a payment")
    if sum(line_totals) != total_cents:
        raise PreconditionFailed("the quote's lines do not add up to its total")
    if not re.fullmatch(r"[a-z]{3}", currency):
        raise PreconditionFailed("the quote has no valid currency")


# --- idempotency keys (ours towards Stripe and booking) --------------------------------------


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def hold_request_id(tenant_id: str, idempotency_key: str) -> str:
    """The booking hold's request id for a checkout with an Idempotency-Key: the same key, the same
    hold, even when two requests with that key run at once."""
    return f"checkout-{_digest(tenant_id, idempotency_key)}"


def session_idempotency_key(tenant_id: str, booking_id: str) -> str:
    """Stripe's idempotency key for the hold's Checkout Session: one session per hold."""
    return f"mais-checkout-{_digest(tenant_id, booking_id)}"


def refund_idempotency_key(tenant_id: str, request_id: str) -> str:
    """Stripe's idempotency key for the refund of one cancellation request."""
    return f"mais-refund-{_digest(tenant_id, request_id)}"


def fee_refund_idempotency_key(tenant_id: str, request_id: str) -> str:
    """Stripe's idempotency key for the fee refund of one cancellation request."""
    return f"mais-fee-refund-{_digest(tenant_id, request_id)}"


def hold_lost_refund_key(session_id: str) -> str:
    """Stripe's idempotency key for the automatic refund of a payment whose hold was lost."""
    return f"mais-hold-lost-{_digest(session_id)}"


def connect_account_key(tenant_id: str) -> str:
    """Stripe's idempotency key for a tenant's Connect account: one account per tenant."""
    return f"mais-connect-{_digest(tenant_id)}"


def check_request_id(request_id: str) -> str:
    """A client's request id for an idempotent mutation."""
    if not request_id:
        raise ValidationError.of("requestId", "is required")
    if len(request_id) > MAX_IDEMPOTENCY_KEY or not _PRINTABLE.match(request_id):
        raise ValidationError.of("requestId", "at most 255 printable ASCII characters, no spaces")
    return request_id


def check_reason(reason: str) -> str:
    """A cancellation reason, trimmed and bounded."""
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise ValidationError.of("reason", f"at most {MAX_REASON} characters")
    return reason


# --- Stripe events ---------------------------------------------------------------------------


class EventStatus(StrEnum):
    """Where an inbox event is."""

    RECEIVED = "RECEIVED"
    PROCESSED = "PROCESSED"
    FAILED = "FAILED"
    IGNORED = "IGNORED"

    @property
    def settled(self) -> bool:
        """True when a new delivery of the event has nothing left to do."""
        return self in (EventStatus.PROCESSED, EventStatus.IGNORED)


REPLAYABLE = (EventStatus.FAILED, EventStatus.RECEIVED)


class EventKind(StrEnum):
    """The Stripe events payments acts on; everything else is IGNORED."""

    CHECKOUT_COMPLETED = "checkout.session.completed"
    CHECKOUT_EXPIRED = "checkout.session.expired"
    CHARGE_REFUNDED = "charge.refunded"
    ACCOUNT_UPDATED = "account.updated"

    @classmethod
    def of(cls, event_type: str) -> EventKind | None:
        """The kind of an event type, or None when payments does not act on it."""
        try:
            return cls(event_type)
        except ValueError:
            return None


@dataclass(frozen=True)
class StripeEvent:
    """The parts of a verified Stripe event payments reads."""

    id: str
    type: str
    created: int
    account: str
    data_object: Mapping[str, Any]
    payload: Mapping[str, Any]

    @classmethod
    def parse(cls, payload: Mapping[str, Any]) -> StripeEvent:
        """Reads a verified event body; ValidationError when it is not shaped like an event."""
        event_id = payload.get("id")
        event_type = payload.get("type")
        data = payload.get("data")
        obj = data.get("object") if isinstance(data, Mapping) else None
        if not isinstance(event_id, str) or not event_id or len(event_id) > 255:
            raise ValidationError.of("id", "the event has no id")
        if not isinstance(event_type, str) or not event_type or len(event_type) > 255:
            raise ValidationError.of("type", "the event has no type")
        if not isinstance(obj, Mapping):
            raise ValidationError.of("data.object", "the event has no object")
        created = payload.get("created")
        account = payload.get("account")
        return cls(
            id=event_id,
            type=event_type,
            created=created if isinstance(created, int) else 0,
            account=account if isinstance(account, str) else "",
            data_object=obj,
            payload=payload,
        )

    @property
    def kind(self) -> EventKind | None:
        """What payments does with it."""
        return EventKind.of(self.type)

    @property
    def metadata(self) -> Mapping[str, Any]:
        """The object's metadata (ours: tenant_id and booking_id)."""
        metadata = self.data_object.get("metadata")
        return metadata if isinstance(metadata, Mapping) else {}

    @property
    def tenant_id(self) -> str | None:
        """The tenant named in the object's metadata, when it is a well-formed id."""
        value = self.metadata.get("tenant_id")
        if not isinstance(value, str):
            return None
        try:
            return str(uuid.UUID(value))
        except ValueError:
            return None

    @property
    def booking_id(self) -> str:
        """The booking named in the object's metadata ('' when none)."""
        value = self.metadata.get("booking_id")
        return value if isinstance(value, str) and len(value) <= MAX_ID else ""

    @property
    def connected_account(self) -> str:
        """The connected account the event is about (account.updated names it)."""
        if self.account:
            return self.account
        if self.data_object.get("object") == "account":
            value = self.data_object.get("id")
            return value if isinstance(value, str) else ""
        return ""

    def field(self, name: str) -> str:
        """A string field of the event's object ('' when absent)."""
        value = self.data_object.get(name)
        return value if isinstance(value, str) else ""

    def amount(self, name: str) -> int:
        """An integer field of the event's object (0 when absent)."""
        value = self.data_object.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0


class ConnectState(StrEnum):
    """A tenant's Connect onboarding state as the tenant service records it."""

    PENDING = "PENDING"
    ONBOARDED = "ONBOARDED"


def connect_state(account: Mapping[str, Any]) -> ConnectState:
    """ONBOARDED once Stripe lets the account take charges and payouts; PENDING before."""
    ready = all(account.get(k) is True for k in ("charges_enabled", "payouts_enabled", "details_submitted"))
    return ConnectState.ONBOARDED if ready else ConnectState.PENDING


def failure_code(error: BaseException) -> str:
    """What the inbox keeps about a failure: the error's class and a short stable code.

    Never the message: messages of drivers and peers can quote customer data (emails, names)."""
    name = type(error).__name__
    code = ""
    for attribute in ("reason", "code", "sqlstate"):
        value = getattr(error, attribute, None)
        if callable(value):
            try:
                value = value()
            except Exception:  # a code accessor that fails tells us nothing; keep the class alone
                value = None
        name_attr = getattr(value, "name", None)
        if isinstance(name_attr, str):
            value = name_attr
        if isinstance(value, str) and value:
            code = value
            break
    text = _CODE_PART.sub("_", name) + (":" + _CODE_PART.sub("_", code) if code else "")
    return text[:MAX_ERROR_CODE]


# --- lists -----------------------------------------------------------------------------------
