"""Stripe's idempotent-request semantics for POST routes.

A request carrying ``Idempotency-Key`` is fingerprinted (method, path and decoded parameters). The first
successful response is remembered for 24 hours; a later request with the same key and fingerprint gets that
response again (marked ``Idempotent-Replayed: true``), and one with a different fingerprint is refused with a
400 ``idempotency_error``, which the SDK raises as ``stripe.IdempotencyError``. As on Stripe, keys are scoped
to the API key, and failed requests are not remembered so they can be retried.

The store has no lock of its own: callers hold the state's transaction across lookup, execution and
remember, which is what makes two concurrent requests with one key yield one object, and what writes a key's
answer in the same SQLite transaction as the objects it created (after a crash, a replay answers what was
kept).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stripe_sandbox.errors import StripeError

KEY_LIFETIME_SECONDS = 24 * 60 * 60
_MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class StoredResponse:
    """A response remembered for an idempotency key."""

    fingerprint: str
    status: int
    body: dict[str, Any]
    stored_at: int


def fingerprint(method: str, path: str, params: dict[str, Any]) -> str:
    """A stable digest of what the request asks for (parameter order does not matter)."""
    return json.dumps([method.upper(), path, params], sort_keys=True, separators=(",", ":"))


class IdempotencyStore:
    """Remembered responses keyed by (API key, idempotency key)."""

    def __init__(self, on_change: Callable[[tuple[str, str]], None] = lambda key: None) -> None:
        self._entries: dict[tuple[str, str], StoredResponse] = {}
        # Told of every key stored or forgotten, so the durable store writes it with the call's changes.
        self._on_change = on_change

    def get(self, scope_and_key: tuple[str, str]) -> StoredResponse | None:
        """The stored response of one key, if any (for the durable store)."""
        return self._entries.get(scope_and_key)

    def restore(self, scope_and_key: tuple[str, str], entry: StoredResponse) -> None:
        """Put back a response loaded from the durable store (in the order they were stored)."""
        self._entries[scope_and_key] = entry

    def clear(self) -> None:
        """Forget every key in memory (before reloading them from the durable store)."""
        self._entries.clear()

    def lookup(self, scope: str, key: str, request_fingerprint: str, now: int) -> StoredResponse | None:
        """The stored response to replay, ``None`` for a new key, or a 400 for a key used differently."""
        if len(key) > _MAX_KEY_LENGTH:
            raise StripeError(
                f"Idempotency-Key must be at most {_MAX_KEY_LENGTH} characters.", type="idempotency_error"
            )
        self._prune(now)
        entry = self._entries.get((scope, key))
        if entry is None:
            return None
        if entry.fingerprint != request_fingerprint:
            raise StripeError(
                "Keys for idempotent requests can only be used with the same parameters they were first used "
                f"with. Try using a key other than '{key}' if you meant to execute a different request.",
                type="idempotency_error",
            )
        return entry

    def remember(
        self, scope: str, key: str, request_fingerprint: str, status: int, body: dict[str, Any], now: int
    ) -> None:
        """Store a successful response for later replays."""
        self._entries[(scope, key)] = StoredResponse(request_fingerprint, status, body, now)
        self._on_change((scope, key))

    def _prune(self, now: int) -> None:
        # Dicts keep insertion order and the sandbox clock never goes back, so the oldest entries come first.
        while self._entries:
            oldest_key = next(iter(self._entries))
            if now - self._entries[oldest_key].stored_at < KEY_LIFETIME_SECONDS:
                break
            del self._entries[oldest_key]
            self._on_change(oldest_key)
