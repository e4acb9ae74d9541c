"""Stripe's ``expand[]``: id fields replaced by the objects they name, up to four levels deep."""

from __future__ import annotations

import copy
from typing import Any

from stripe_sandbox import objects
from stripe_sandbox.errors import StripeError, missing_resource
from stripe_sandbox.store import SandboxStore

_EXPAND_MAX_DEPTH = 4


class Expansion:
    """Resolves ids of any object the account holds."""

    def __init__(self, store: SandboxStore) -> None:
        self._store = store

    def expand(self, obj: dict[str, Any], paths: list[Any]) -> dict[str, Any]:
        """Apply Stripe's ``expand[]``: replace id fields (dotted paths, ``data.`` for lists) with objects.

        Expanding a null field leaves it null; a field that is not an id of a known object is refused, as
        Stripe refuses it. ``line_items`` on a checkout session expands to its line-item list.
        """
        with self._store.transaction():
            for path in paths:
                if not isinstance(path, str) or not path:
                    raise StripeError("Invalid expand value.", param="expand")
                parts = path.split(".")
                if len(parts) > _EXPAND_MAX_DEPTH:
                    raise StripeError(
                        f"You cannot expand more than {_EXPAND_MAX_DEPTH} levels of a property.",
                        param="expand",
                    )
                self._expand_path(obj, parts, path)
            return obj

    def _expand_path(self, node: dict[str, Any], parts: list[str], full: str) -> None:
        head, rest = parts[0], parts[1:]
        if node.get("object") == "list" and head == "data":
            for item in node["data"]:
                if rest:
                    self._expand_path(item, rest, full)
            return
        value = node.get(head)
        if head == "line_items" and node.get("object") == "checkout.session":
            record = self._store.sessions.get(node["id"])
            if record is None:
                raise missing_resource("checkout.session", node["id"], "session")
            value = objects.list_object(
                f"/v1/checkout/sessions/{node['id']}/line_items", copy.deepcopy(record.line_items), False
            )
            node[head] = value
        elif head not in node:
            raise StripeError(f"This property cannot be expanded ({full}).", param="expand")
        elif isinstance(value, str):
            resolved = self._resolve(value)
            if resolved is None:
                raise StripeError(f"This property cannot be expanded ({full}).", param="expand")
            node[head] = value = resolved
        if rest and isinstance(value, dict):
            self._expand_path(value, rest, full)

    def _resolve(self, object_id: str) -> dict[str, Any] | None:
        store = self._store
        found: dict[str, Any] | None = None
        if object_id in store.charge_by_payment_intent:
            found = store.charges[store.charge_by_payment_intent[object_id]].payment_intent
        elif object_id in store.charges:
            found = store.charges[object_id].obj
        elif object_id in store.charge_by_fee:
            found = store.charges[store.charge_by_fee[object_id]].fee
        elif object_id in store.charge_by_transfer:
            found = store.charges[store.charge_by_transfer[object_id]].transfer
        elif object_id in store.sessions:
            found = store.sessions[object_id].obj
        else:
            found = store.accounts.get(object_id) or store.refunds.get(object_id)
        return None if found is None else copy.deepcopy(found)
