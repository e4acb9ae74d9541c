"""Events: what happened on the account, as Stripe records it, and whether the endpoint has it yet.

An event is stored first (with its webhook delivery, pending when an endpoint exists, in the same
transaction as the change it reports), then handed to listeners (the webhook deliverer), which must not
block. A delivery still pending when the process stops is sent again after a restart.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stripe_sandbox import objects
from stripe_sandbox.errors import missing_resource
from stripe_sandbox.forms import str_param
from stripe_sandbox.lists import list_limit, page
from stripe_sandbox.store import DELIVERY_DELIVERED, DELIVERY_FAILED, DELIVERY_PENDING, SandboxStore


@dataclass(frozen=True)
class RequestContext:
    """What an event records about the API request that caused it (nothing for automatic ones)."""

    request_id: str | None = None
    idempotency_key: str | None = None


AUTOMATIC = RequestContext()


class Events:
    """The account's events and their webhook deliveries."""

    def __init__(self, store: SandboxStore) -> None:
        self._store = store
        self._listeners: list[Callable[[str], None]] = []
        # Whether a webhook endpoint exists decides each new event's ``pending_webhooks``.
        self.endpoint_count: Callable[[], int] = lambda: 0

    def add_listener(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(event_id)`` after each new event is stored; it must return quickly."""
        self._listeners.append(listener)

    def emit(
        self,
        event_type: str,
        data_object: dict[str, Any],
        ctx: RequestContext,
        *,
        account_id: str | None = None,
        previous_attributes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record an event about ``data_object`` (inside the caller's transaction) and tell the listeners."""
        store = self._store
        event = objects.event(
            event_type=event_type,
            created=store.clock.now(),
            # A snapshot: later changes to the object must not rewrite history already sent.
            data_object=copy.deepcopy(data_object),
            previous_attributes=previous_attributes,
            account_id=account_id,
            request_id=ctx.request_id,
            idempotency_key=ctx.idempotency_key,
            pending_webhooks=self.endpoint_count(),
        )
        store.events[event["id"]] = event
        store.changed("events", event["id"])
        if event["pending_webhooks"]:
            store.deliveries[event["id"]] = DELIVERY_PENDING
            store.changed("webhook_deliveries", event["id"])
        for listener in self._listeners:
            listener(event["id"])
        return event

    def get(self, event_id: str) -> dict[str, Any]:
        """``GET /v1/events/{id}`` (404 when unknown)."""
        with self._store.transaction():
            event = self._store.events.get(event_id)
            if event is None:
                raise missing_resource("event", event_id)
            return copy.deepcopy(event)

    def list_page(self, params: dict[str, Any]) -> dict[str, Any]:
        """``GET /v1/events`` newest first, with ``limit``/``starting_after`` and a ``type`` filter."""
        with self._store.transaction():
            limit = list_limit(params)
            wanted = str_param(params, "type")
            items = [
                e
                for e in reversed(self._store.events.values())
                if wanted is None
                or e["type"] == wanted
                or (wanted.endswith(".*") and e["type"].startswith(wanted[:-1]))
            ]
            window, has_more = page(items, limit, str_param(params, "starting_after"))
            return objects.list_object("/v1/events", copy.deepcopy(window), has_more)

    def payload(self, event_id: str) -> bytes:
        """The exact bytes sent to webhook endpoints for an event (Stripe pretty-prints with two spaces)."""
        with self._store.transaction():
            event = self._store.events.get(event_id)
            if event is None:
                raise missing_resource("event", event_id)
            return json.dumps(event, indent=2).encode("utf-8")

    def summary(self, event_id: str) -> tuple[str, int] | None:
        """``(type, pending_webhooks)`` of an event, or ``None`` when unknown."""
        with self._store.transaction():
            event = self._store.events.get(event_id)
            return None if event is None else (event["type"], event["pending_webhooks"])

    def mark_delivered(self, event_id: str) -> None:
        """Record that the endpoint acknowledged the event (Stripe then shows ``pending_webhooks: 0``)."""
        with self._store.transaction():
            event = self._store.events.get(event_id)
            if event is not None:
                event["pending_webhooks"] = 0
                self._store.changed("events", event_id)
                self._store.deliveries[event_id] = DELIVERY_DELIVERED
                self._store.changed("webhook_deliveries", event_id)

    def mark_failed(self, event_id: str) -> None:
        """Record that automatic delivery gave up (the event stays pending on the object, as on Stripe)."""
        with self._store.transaction():
            if self._store.deliveries.get(event_id) == DELIVERY_PENDING:
                self._store.deliveries[event_id] = DELIVERY_FAILED
                self._store.changed("webhook_deliveries", event_id)

    def pending_deliveries(self) -> list[str]:
        """Events whose delivery is still pending, oldest first (sent again after a restart)."""
        with self._store.transaction():
            return [e for e, status in self._store.deliveries.items() if status == DELIVERY_PENDING]
