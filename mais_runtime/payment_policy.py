"""Payment terms: how much of the price a couple pays up front (a deposit) and when the balance is due.

One definition for everyone who handles them: the tenant service stores a tenant's terms, catalog a
package's own, payments plans schedules by them (services/payments/domain/schedule.py), and the
gateway reads and writes them as JSON. The checks, the proto and the JSON spellings live here so the
four never disagree.

JSON (the REST contract): `{"depositKind": "none"|"percent"|"fixed", "depositBps", "depositCents",
"balanceDueDays", "graceDays", "overdueAction": "remind"|"cancel_keep_deposit"|"cancel_refund_deposit",
"depositRefundable", "reminderDays"}`; a change may name any subset, the rest stays as it was.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mais.common.v1 import types_pb2

from mais_runtime.errors import FieldViolation, ValidationError

BPS_PER_WHOLE = 10_000
# Bounds of a policy, as the tenant admin's API checks them.
MAX_BALANCE_DUE_DAYS = 365
MAX_GRACE_DAYS = 60
MAX_REMINDER_DAYS = 60
# A fixed deposit above this is a typo (a million in any currency's major unit, at two decimals).
MAX_DEPOSIT_CENTS = 100_000_000


class DepositKind(StrEnum):
    """How the deposit is sized: none (pay in full), a percent of the total, or a fixed amount."""

    NONE = "none"
    PERCENT = "percent"
    FIXED = "fixed"


class OverdueAction(StrEnum):
    """What happens to a booking whose balance is still unpaid when the grace days are over."""

    # Send the overdue notice and leave the booking to the business.
    REMIND = "remind"
    # Cancel the booking; the deposit is kept (nothing is refunded).
    CANCEL_KEEP_DEPOSIT = "cancel_keep_deposit"
    # Cancel the booking and refund everything that was paid.
    CANCEL_REFUND_DEPOSIT = "cancel_refund_deposit"


_KIND_TO_PROTO = {
    DepositKind.NONE: types_pb2.DEPOSIT_KIND_NONE,
    DepositKind.PERCENT: types_pb2.DEPOSIT_KIND_PERCENT,
    DepositKind.FIXED: types_pb2.DEPOSIT_KIND_FIXED,
}
_ACTION_TO_PROTO = {
    OverdueAction.REMIND: types_pb2.OVERDUE_ACTION_REMIND,
    OverdueAction.CANCEL_KEEP_DEPOSIT: types_pb2.OVERDUE_ACTION_CANCEL_KEEP_DEPOSIT,
    OverdueAction.CANCEL_REFUND_DEPOSIT: types_pb2.OVERDUE_ACTION_CANCEL_REFUND_DEPOSIT,
}
_KIND_OF_PROTO = {v: k for k, v in _KIND_TO_PROTO.items()}
_ACTION_OF_PROTO = {v: k for k, v in _ACTION_TO_PROTO.items()}

# JSON name -> field name.
_JSON_FIELDS = {
    "depositKind": "deposit_kind",
    "depositBps": "deposit_bps",
    "depositCents": "deposit_cents",
    "balanceDueDays": "balance_due_days",
    "graceDays": "grace_days",
    "overdueAction": "overdue_action",
    "depositRefundable": "deposit_refundable",
    "reminderDays": "reminder_days",
}


@dataclass(frozen=True)
class PaymentPolicy:
    """A tenant's (or a package's) payment terms. The default is the behaviour before schedules:
    pay in full at checkout."""

    deposit_kind: DepositKind = DepositKind.NONE
    # PERCENT: the deposit's share of the total in basis points (1..9999).
    deposit_bps: int = 0
    # FIXED: the deposit in minor units (> 0), capped at the total.
    deposit_cents: int = 0
    # The balance is due this many days before the event (tenant's calendar).
    balance_due_days: int = 30
    # Days after the due date before the overdue action is taken.
    grace_days: int = 3
    overdue_action: OverdueAction = OverdueAction.REMIND
    # Whether a couple's own cancellation gives the deposit back (the rest is refunded either way).
    deposit_refundable: bool = True
    # The balance reminder goes out this many days before the due date (and again on the day).
    reminder_days: int = 7

    def checked(self, prefix: str = "paymentPolicy") -> PaymentPolicy:
        """This policy, or one ValidationError naming every bad field (`<prefix>.<field>`)."""
        problems: list[FieldViolation] = []

        def bad(field_name: str, message: str) -> None:
            problems.append(FieldViolation(f"{prefix}.{field_name}", message))

        # The unused one of the two is bounded too (it is stored and sent as it is).
        lowest_bps = 1 if self.deposit_kind is DepositKind.PERCENT else 0
        if not lowest_bps <= self.deposit_bps < BPS_PER_WHOLE:
            bad("depositBps", "must be between 1 and 9999 basis points (0.01 % to 99.99 %)")
        lowest_cents = 1 if self.deposit_kind is DepositKind.FIXED else 0
        if not lowest_cents <= self.deposit_cents <= MAX_DEPOSIT_CENTS:
            bad("depositCents", f"must be a positive amount of at most {MAX_DEPOSIT_CENTS}")
        if not 1 <= self.balance_due_days <= MAX_BALANCE_DUE_DAYS:
            bad("balanceDueDays", f"must be between 1 and {MAX_BALANCE_DUE_DAYS} days")
        if not 0 <= self.grace_days <= MAX_GRACE_DAYS:
            bad("graceDays", f"must be between 0 and {MAX_GRACE_DAYS} days")
        if not 0 <= self.reminder_days <= MAX_REMINDER_DAYS:
            bad("reminderDays", f"must be between 0 and {MAX_REMINDER_DAYS} days")
        if problems:
            raise ValidationError("the payment policy is not valid", problems)
        return self

    @property
    def takes_deposit(self) -> bool:
        """Whether a couple pays part of the price at checkout (outside the balance window)."""
        return self.deposit_kind is not DepositKind.NONE

    # --- proto -----------------------------------------------------------------------------------

    def to_proto(self) -> types_pb2.PaymentPolicy:
        """The policy on the wire."""
        return types_pb2.PaymentPolicy(
            deposit_kind=_KIND_TO_PROTO[self.deposit_kind],
            deposit_bps=self.deposit_bps,
            deposit_cents=self.deposit_cents,
            balance_due_days=self.balance_due_days,
            grace_days=self.grace_days,
            overdue_action=_ACTION_TO_PROTO[self.overdue_action],
            deposit_refundable=self.deposit_refundable,
            reminder_days=self.reminder_days,
        )

    @classmethod
    def from_proto(cls, message: types_pb2.PaymentPolicy, prefix: str = "paymentPolicy") -> PaymentPolicy:
        """The policy off the wire, checked. An unset message (deposit kind UNSPECIFIED) is the
        default policy: pay in full."""
        if message.deposit_kind == types_pb2.DEPOSIT_KIND_UNSPECIFIED:
            return cls()
        return cls(
            deposit_kind=_KIND_OF_PROTO.get(message.deposit_kind, DepositKind.NONE),
            deposit_bps=message.deposit_bps,
            deposit_cents=message.deposit_cents,
            balance_due_days=message.balance_due_days,
            grace_days=message.grace_days,
            overdue_action=_ACTION_OF_PROTO.get(message.overdue_action, OverdueAction.REMIND),
            deposit_refundable=message.deposit_refundable,
            reminder_days=message.reminder_days,
        ).checked(prefix)

    # --- JSON ------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The REST spelling."""
        return {
            name: (value.value if isinstance(value, StrEnum) else value)
            for name, attr in _JSON_FIELDS.items()
            for value in (getattr(self, attr),)
        }

    def with_json(self, change: object, prefix: str = "paymentPolicy") -> PaymentPolicy:
        """This policy with the fields a REST body names changed, checked; a ValidationError naming
        each field of the wrong type, an unknown field or an unknown enum value."""
        if not isinstance(change, dict):
            raise ValidationError.of(prefix, "must be an object")
        problems: list[FieldViolation] = []
        values: dict[str, Any] = {}
        for name, value in change.items():
            attr = _JSON_FIELDS.get(name)
            where = f"{prefix}.{name}"
            if attr is None:
                problems.append(FieldViolation(where, "is not a payment policy field"))
            elif attr == "deposit_kind":
                if value not in {k.value for k in DepositKind}:
                    problems.append(FieldViolation(where, "must be none, percent or fixed"))
                else:
                    values[attr] = DepositKind(value)
            elif attr == "overdue_action":
                if value not in {a.value for a in OverdueAction}:
                    problems.append(
                        FieldViolation(where, "must be remind, cancel_keep_deposit or cancel_refund_deposit")
                    )
                else:
                    values[attr] = OverdueAction(value)
            elif attr == "deposit_refundable":
                if not isinstance(value, bool):
                    problems.append(FieldViolation(where, "must be true or false"))
                else:
                    values[attr] = value
            elif isinstance(value, bool) or not isinstance(value, int):
                problems.append(FieldViolation(where, "must be a whole number"))
            else:
                values[attr] = value
        if problems:
            raise ValidationError("the payment policy is not valid", problems)
        return dataclasses.replace(self, **values).checked(prefix)

    # --- storage ---------------------------------------------------------------------------------

    @classmethod
    def from_stored(cls, stored: object) -> PaymentPolicy:
        """A policy as a store kept it (the JSON spelling, written by `to_json` after `checked`), read
        without checking again: a later, tighter bound must not make a stored tenant or package
        unreadable (the next change is checked). Unknown keys are ignored and missing ones take the
        default, so a field added later reads on rows written before it."""
        if not isinstance(stored, dict):
            return cls()
        values: dict[str, Any] = {}
        for name, attr in _JSON_FIELDS.items():
            if name not in stored:
                continue
            value = stored[name]
            if attr == "deposit_kind":
                values[attr] = DepositKind(value)
            elif attr == "overdue_action":
                values[attr] = OverdueAction(value)
            elif attr == "deposit_refundable":
                values[attr] = bool(value)
            else:
                values[attr] = int(value)
        return cls(**values)
