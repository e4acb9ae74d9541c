"""Stripe events as payments reads them: the inbox's statuses, the kinds it acts on, a verified event's
parts, a connected account's onboarding state, and what a failure leaves in the inbox."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mais_runtime.errors import ValidationError
from services.payments.domain.checkout import MAX_ID

# The longest last_error we keep: an error class and a short code, never a message.
MAX_ERROR_CODE = 120
_CODE_PART = re.compile(r"[^A-Za-z0-9_.-]")


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
