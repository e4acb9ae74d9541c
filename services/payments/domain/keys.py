"""Idempotency: the keys clients give us (checked) and the keys we derive towards Stripe and booking.

A derived key is a digest of what makes the request the same request, so a retry after a crash finds
the object the first attempt made, and a different request can never collide with it.
"""

from __future__ import annotations

import hashlib
import re

from mais_runtime.errors import Conflict, ValidationError

MAX_IDEMPOTENCY_KEY = 255
_PRINTABLE = re.compile(r"^[\x21-\x7e]+$")


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


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def hold_request_id(tenant_id: str, idempotency_key: str) -> str:
    """The booking hold's request id for a checkout with an Idempotency-Key: the same key, the same
    hold, even when two requests with that key run at once."""
    return f"checkout-{_digest(tenant_id, idempotency_key)}"


def session_idempotency_key(tenant_id: str, booking_id: str, replacing: str = "") -> str:
    """Stripe's idempotency key for the hold's Checkout Session: one session per hold, and when a
    resumed hold needs a new one, one per session it replaces (Stripe would answer the old, expired
    session for the old key)."""
    if replacing:
        return f"mais-checkout-{_digest(tenant_id, booking_id, replacing)}"
    return f"mais-checkout-{_digest(tenant_id, booking_id)}"


def instalment_session_key(tenant_id: str, booking_id: str, seq: int, attempt: int) -> str:
    """Stripe's idempotency key for a later instalment's Checkout Session: one per attempt (an
    expired balance session is followed by a new one, whose key must differ)."""
    return f"mais-instalment-{_digest(tenant_id, booking_id, str(seq), str(attempt))}"


def not_owed_refund_key(session_id: str) -> str:
    """Stripe's idempotency key for the automatic refund of a payment nothing was owed for."""
    return f"mais-not-owed-{_digest(session_id)}"


def cancellation_request_id(tenant_id: str, booking_id: str, choice: str) -> str:
    """A cancellation's request id when the caller gave none: the same booking and refund choice are
    the same cancellation (a retried click refunds once); refunding the same amount again takes a
    request id of its own."""
    return f"cancel-{_digest(tenant_id, booking_id, choice)}"


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
    """A client's request id for an idempotent mutation ('' when none: the service derives one)."""
    if request_id and (len(request_id) > MAX_IDEMPOTENCY_KEY or not _PRINTABLE.match(request_id)):
        raise ValidationError.of("requestId", "at most 255 printable ASCII characters, no spaces")
    return request_id
