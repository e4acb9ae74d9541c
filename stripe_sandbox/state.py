"""The sandbox's Stripe account: one durable store and the resources the API exposes on it.

Each kind of Stripe object has its module (``checkout``, ``charges``, ``refunds``, ``connect``, ``events``,
``expand``); this one wires them to one :class:`~stripe_sandbox.store.SandboxStore`, whose transaction
every operation runs in. The HTTP layer (``app.py``) opens one transaction around a whole API call, so the
objects a call creates, the events they emit and the idempotency key's answer are kept together.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from stripe_sandbox.charges import Charges
from stripe_sandbox.checkout import CheckoutSessions
from stripe_sandbox.clock import Clock
from stripe_sandbox.connect import Connect
from stripe_sandbox.events import AUTOMATIC, Events, RequestContext
from stripe_sandbox.expand import Expansion
from stripe_sandbox.idempotency import IdempotencyStore
from stripe_sandbox.refunds import Refunds
from stripe_sandbox.store import SandboxStore

__all__ = ["AUTOMATIC", "RequestContext", "SandboxState"]


class SandboxState:
    """All objects of the sandbox's Stripe account, grouped as Stripe's API groups them."""

    def __init__(
        self,
        *,
        public_url: str,
        state_dir: Path | None = None,
        clock: Clock | None = None,
        require_onboarded_destination: bool = False,
    ) -> None:
        self.store = SandboxStore(state_dir, clock)
        self.events = Events(self.store)
        self.charges = Charges(self.store)
        self.checkout = CheckoutSessions(
            self.store,
            self.events,
            self.charges,
            public_url=public_url,
            require_onboarded_destination=require_onboarded_destination,
        )
        self.refunds = Refunds(self.store, self.events, self.charges)
        self.connect = Connect(self.store, self.events, public_url=public_url)
        self.expansion = Expansion(self.store)

    @property
    def clock(self) -> Clock:
        """The sandbox's notion of now (tests move it forward)."""
        return self.store.clock

    @property
    def idempotency(self) -> IdempotencyStore:
        """Remembered answers of idempotent requests."""
        return self.store.idempotency

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One durable transaction (re-entrant): everything done inside is kept together or not at all."""
        with self.store.transaction():
            yield

    def advance_clock(self, seconds: int) -> int:
        """Move the clock forward and keep the new offset; returns the new sandbox time."""
        with self.store.transaction():
            now = self.store.clock.advance(seconds)
            self.store.changed("sandbox", "clock_offset")
            return now

    def counts(self) -> dict[str, int]:
        """How many objects of each kind exist (for the health endpoint)."""
        with self.store.transaction():
            store = self.store
            return {
                "checkout_sessions": len(store.sessions),
                "charges": len(store.charges),
                "refunds": len(store.refunds),
                "accounts": len(store.accounts),
                "events": len(store.events),
                "pending_webhooks": sum(1 for s in store.deliveries.values() if s == "pending"),
            }

    def close(self) -> None:
        """Close the store (the state stays on disk)."""
        self.store.close()
