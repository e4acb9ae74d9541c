"""Refunds of charges and refunds of the platform's application fees.

A refund gives back part or all of a charge; with ``refund_application_fee`` the fee follows in proportion,
with ``reverse_transfer`` the connected account's share is pulled back in the same proportion (running
totals, so partial refunds add up exactly). A fee refund gives the platform's fee back on its own.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from stripe_sandbox import objects
from stripe_sandbox.amounts import format_amount, proportional
from stripe_sandbox.charges import Charges
from stripe_sandbox.errors import StripeError, missing_resource
from stripe_sandbox.events import Events, RequestContext
from stripe_sandbox.forms import bool_param, enum_param, int_param, metadata_param, str_param
from stripe_sandbox.lists import list_limit, page
from stripe_sandbox.store import ChargeRecord, SandboxStore

_REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


class Refunds:
    """The account's refunds and application fee refunds."""

    def __init__(self, store: SandboxStore, events: Events, charges: Charges) -> None:
        self._store = store
        self._events = events
        self._charges = charges

    def create(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """``POST /v1/refunds`` against a payment intent or a charge; emits ``charge.refunded``.

        ``amount`` defaults to what is left. ``refund_application_fee`` gives the platform fee back in
        proportion to the refunded amount (all of it when the whole charge is refunded); ``reverse_transfer``
        pulls the connected account's share back in the same proportion.
        """
        with self._store.transaction():
            intent_id = str_param(params, "payment_intent")
            charge_id = str_param(params, "charge")
            if intent_id is None and charge_id is None:
                raise StripeError(
                    "One of `charge` or `payment_intent` is required.",
                    code="parameter_missing",
                    param="charge",
                )
            if charge_id is not None:
                record = self._charges.charge(charge_id, param="charge")
                if intent_id is not None and record.payment_intent["id"] != intent_id:
                    raise StripeError(
                        f"The charge {charge_id} does not belong to the PaymentIntent {intent_id}.",
                        param="payment_intent",
                    )
            else:
                assert intent_id is not None
                record = self._charges.for_intent(intent_id, param="payment_intent")
            charge = record.obj
            amount = _refund_amount(params, charge, f"Charge {charge['id']}", "charge", param="charge")
            reason = enum_param(params, "reason", _REFUND_REASONS)
            metadata = metadata_param(params)
            refund_fee = bool_param(params, "refund_application_fee")
            reverse = bool_param(params, "reverse_transfer")
            if reverse and record.transfer is None:
                raise StripeError(
                    "This charge has no transfer to reverse; reverse_transfer is for destination charges.",
                    param="reverse_transfer",
                )
            now = self._store.clock.now()
            previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
            charge["amount_refunded"] += amount
            charge["refunded"] = charge["amount_refunded"] == charge["amount"]

            if refund_fee and record.fee is not None:
                record.fee_refund_basis += amount
                self._refund_fee(record, now)
            reversal_id = None
            if reverse and record.transfer is not None:
                record.reversal_basis += amount
                reversal_id = self._reverse_transfer(record)

            refund = objects.refund(
                created=now,
                amount=amount,
                currency=charge["currency"],
                charge_id=charge["id"],
                payment_intent_id=record.payment_intent["id"],
                reason=reason,
                metadata=metadata,
                transfer_reversal_id=reversal_id,
            )
            self._store.refunds[refund["id"]] = refund
            self._store.changed("refunds", refund["id"])
            self._store.changed("charges", charge["id"])
            self._events.emit("charge.refunded", charge, ctx, previous_attributes=previous)
            return copy.deepcopy(refund)

    def _refund_fee(self, record: ChargeRecord, now: int) -> None:
        fee = record.fee
        assert fee is not None
        target = proportional(fee["amount"], record.fee_refund_basis, record.obj["amount"])
        increment = min(target - fee["amount_refunded"], fee["amount"] - fee["amount_refunded"])
        if increment <= 0:
            return
        fee["amount_refunded"] += increment
        fee["refunded"] = fee["amount_refunded"] == fee["amount"]
        refunds = fee["refunds"]
        refunds["data"].insert(
            0, objects.fee_refund(created=now, amount=increment, currency=fee["currency"], fee_id=fee["id"])
        )
        refunds["total_count"] = len(refunds["data"])

    def _reverse_transfer(self, record: ChargeRecord) -> str | None:
        transfer = record.transfer
        assert transfer is not None
        target = proportional(transfer["amount"], record.reversal_basis, record.obj["amount"])
        increment = min(
            target - transfer["amount_reversed"], transfer["amount"] - transfer["amount_reversed"]
        )
        if increment <= 0:
            return None
        transfer["amount_reversed"] += increment
        transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
        return objects.new_id("trr")

    def list_page(self, params: dict[str, Any]) -> dict[str, Any]:
        """``GET /v1/refunds`` newest first, filterable by ``charge`` and ``payment_intent``."""
        with self._store.transaction():
            limit = list_limit(params)
            charge_id = str_param(params, "charge")
            intent_id = str_param(params, "payment_intent")
            items = [
                r
                for r in reversed(self._store.refunds.values())
                if (charge_id is None or r["charge"] == charge_id)
                and (intent_id is None or r["payment_intent"] == intent_id)
            ]
            window, has_more = page(items, limit, str_param(params, "starting_after"))
            return objects.list_object("/v1/refunds", copy.deepcopy(window), has_more)

    def _fee(self, fee_id: str) -> ChargeRecord:
        charge_id = self._store.charge_by_fee.get(fee_id)
        if charge_id is None:
            raise missing_resource("application_fee", fee_id)
        return self._store.charges[charge_id]

    def create_fee_refund(self, fee_id: str, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """``POST /v1/application_fees/{id}/refunds``: give back part or all of the platform's fee.

        ``amount`` defaults to what is left of the fee; more than that is refused as Stripe refuses it.
        Emits ``application_fee.refunded``.
        """
        with self._store.transaction():
            record = self._fee(fee_id)
            fee = record.fee
            assert fee is not None
            amount = _refund_amount(params, fee, f"Application fee {fee_id}", "fee", param="id")
            previous = {"amount_refunded": fee["amount_refunded"], "refunded": fee["refunded"]}
            fee["amount_refunded"] += amount
            fee["refunded"] = fee["amount_refunded"] == fee["amount"]
            fee_refund = objects.fee_refund(
                created=self._store.clock.now(), amount=amount, currency=fee["currency"], fee_id=fee_id
            )
            fee_refund["metadata"] = metadata_param(params)
            refunds = fee["refunds"]
            refunds["data"].insert(0, fee_refund)
            refunds["total_count"] = len(refunds["data"])
            self._store.changed("charges", fee["charge"])
            self._events.emit("application_fee.refunded", fee, ctx, previous_attributes=previous)
            return copy.deepcopy(fee_refund)

    def list_fee_refunds(self, fee_id: str, params: dict[str, Any]) -> dict[str, Any]:
        """``GET /v1/application_fees/{id}/refunds`` newest first."""
        with self._store.transaction():
            fee = self._fee(fee_id).fee
            assert fee is not None
            limit = list_limit(params)
            window, has_more = page(fee["refunds"]["data"], limit, str_param(params, "starting_after"))
            return objects.list_object(
                f"/v1/application_fees/{fee_id}/refunds", copy.deepcopy(window), has_more
            )

    def get(self, refund_id: str) -> dict[str, Any]:
        """``GET /v1/refunds/{id}``."""
        with self._store.transaction():
            refund = self._store.refunds.get(refund_id)
            if refund is None:
                raise missing_resource("refund", refund_id, "refund")
            return copy.deepcopy(refund)


def _refund_amount(
    params: Mapping[str, Any], refunded: dict[str, Any], name: str, kind: str, *, param: str
) -> int:
    """The amount a refund of `refunded` (a charge or an application fee) asks for: what is left when the
    request names none; refused as Stripe does once nothing is left or when more is asked."""
    remaining = int(refunded["amount"]) - int(refunded["amount_refunded"])
    if remaining <= 0:
        raise StripeError(f"{name} has already been refunded.", code="charge_already_refunded", param=param)
    amount = int_param(params, "amount", minimum=1)
    if amount is None:
        return remaining
    if amount > remaining:
        currency = str(refunded["currency"])
        raise StripeError(
            f"Refund amount ({format_amount(amount, currency)}) is greater than unrefunded amount on "
            f"{kind} ({format_amount(remaining, currency)})",
            code="amount_too_large",
            param="amount",
        )
    return amount
