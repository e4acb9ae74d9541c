"""Money: commission and refund arithmetic and the ledger's totals, in integer cents.

No float ever touches an amount. Where a division does not come out even, the rounding goes the
platform's way, as the seeds say: the commission rounds UP, so the fee given back with a refund rounds
DOWN (the platform keeps the rounding).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from mais_runtime.errors import ValidationError

BPS_PER_WHOLE = 10_000
# The tenant service allows at most 50 %; a fee can never exceed the charge in any case.
MAX_COMMISSION_BPS = 5_000
MAX_REASON = 500


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


class PaymentStatus(StrEnum):
    """Where a Checkout Session's payment is."""

    OPEN = "OPEN"
    PAID = "PAID"
    EXPIRED = "EXPIRED"
    HOLD_LOST = "HOLD_LOST"
    # A resumed hold's earlier session, closed for a new one; a payment that still reached it is refunded.
    REPLACED = "REPLACED"
    # Paid when nothing was owed any more (its instalment paid by another session, waived, or the
    # booking cancelled), and refunded in full.
    NOT_OWED = "NOT_OWED"


class SessionState(StrEnum):
    """A Checkout Session's state as Stripe names it, read from our record of its payment."""

    OPEN = "open"
    COMPLETE = "complete"
    EXPIRED = "expired"


def session_state(status: PaymentStatus, *, paid: bool, expires_at: datetime, now: datetime) -> SessionState:
    """Paid (kept, or refunded because the hold was lost or the session had been replaced): complete.
    Closed by its expiry or by a resumed hold's new session: expired. Still open in our record past
    its closing instant (the expiry sweep comes within a minute): expired, as Stripe says by then."""
    if status in (PaymentStatus.PAID, PaymentStatus.HOLD_LOST) or paid:
        return SessionState.COMPLETE
    if status == PaymentStatus.OPEN and expires_at > now:
        return SessionState.OPEN
    return SessionState.EXPIRED


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
    # The instalment whose payment this is part of (1: checkout's; 0: unknown).
    instalment_seq: int = 0


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


def check_reason(reason: str) -> str:
    """A cancellation reason, trimmed and bounded."""
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise ValidationError.of("reason", f"at most {MAX_REASON} characters")
    return reason
