"""Builders for Stripe's JSON object shapes.

Only the fields MAIS reads (plus the ones every Stripe object has: ``id``, ``object``, ``created``,
``livemode``) are modelled, with Stripe's names, prefixes and types, so responses hydrate into the SDK's
classes (``checkout.session`` -> ``stripe.checkout.Session`` and so on). The functions are pure: the resource
modules (``checkout``, ``charges``, ``refunds``, ``connect``, ``events``) change them inside the store's
transaction.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

# The version the pinned SDK (stripe 16.1.0) sends; events carry it as Stripe's do.
API_VERSION = "2026-10-28.endive"

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    """A Stripe-style id such as ``re_3Pq...``; checkout sessions use the ``cs_test`` prefix."""
    return f"{prefix}_{''.join(secrets.choice(_ALPHABET) for _ in range(length))}"


def list_object(url: str, data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    """Stripe's list envelope."""
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def line_item(
    *, name: str, description: str | None, currency: str, unit_amount: int, quantity: int, created: int
) -> dict[str, Any]:
    """A checkout line item (``object: item``) with its inline price."""
    return {
        "id": new_id("li"),
        "object": "item",
        "amount_discount": 0,
        "amount_subtotal": unit_amount * quantity,
        "amount_tax": 0,
        "amount_total": unit_amount * quantity,
        "currency": currency,
        "description": name,
        "price": {
            "id": new_id("price"),
            "object": "price",
            "active": False,
            "created": created,
            "currency": currency,
            "livemode": False,
            "metadata": {},
            "product": {"id": new_id("prod"), "object": "product", "name": name, "description": description},
            "type": "one_time",
            "unit_amount": unit_amount,
        },
        "quantity": quantity,
    }


def checkout_session(
    *,
    session_id: str,
    created: int,
    expires_at: int,
    url: str,
    amount_total: int,
    currency: str,
    success_url: str,
    cancel_url: str | None,
    customer_email: str | None,
    client_reference_id: str | None,
    metadata: dict[str, str],
) -> dict[str, Any]:
    """An open, unpaid ``checkout.session`` in payment mode."""
    return {
        "id": session_id,
        "object": "checkout.session",
        "amount_subtotal": amount_total,
        "amount_total": amount_total,
        "cancel_url": cancel_url,
        "client_reference_id": client_reference_id,
        "created": created,
        "currency": currency,
        "customer": None,
        "customer_details": None,
        "customer_email": customer_email,
        "expires_at": expires_at,
        "livemode": False,
        "locale": None,
        "metadata": metadata,
        "mode": "payment",
        "payment_intent": None,
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "status": "open",
        "success_url": success_url,
        "ui_mode": "hosted",
        "url": url,
    }


def payment_intent(
    *,
    created: int,
    amount: int,
    currency: str,
    application_fee_amount: int | None,
    destination: str | None,
    charge_id: str,
    metadata: dict[str, str],
    description: str | None,
) -> dict[str, Any]:
    """A succeeded ``payment_intent`` (the sandbox only creates them once paid)."""
    return {
        "id": new_id("pi"),
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": amount,
        "application_fee_amount": application_fee_amount,
        "capture_method": "automatic",
        "created": created,
        "currency": currency,
        "description": description,
        "latest_charge": charge_id,
        "livemode": False,
        "metadata": metadata,
        "payment_method_types": ["card"],
        "status": "succeeded",
        "transfer_data": {"destination": destination} if destination else None,
    }


def charge(
    *,
    charge_id: str,
    created: int,
    amount: int,
    currency: str,
    payment_intent_id: str,
    application_fee_id: str | None,
    application_fee_amount: int | None,
    destination: str | None,
    transfer_id: str | None,
    metadata: dict[str, str],
    billing_email: str | None,
) -> dict[str, Any]:
    """A succeeded, captured card ``charge``."""
    return {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": 0,
        "application_fee": application_fee_id,
        "application_fee_amount": application_fee_amount,
        "billing_details": {"email": billing_email},
        "captured": True,
        "created": created,
        "currency": currency,
        "destination": destination,
        "disputed": False,
        "livemode": False,
        "metadata": metadata,
        "paid": True,
        "payment_intent": payment_intent_id,
        "payment_method_details": {"type": "card", "card": {"brand": "visa", "last4": "4242"}},
        "refunded": False,
        "status": "succeeded",
        "transfer": transfer_id,
        "transfer_data": {"amount": None, "destination": destination} if destination else None,
    }


def application_fee(
    *, fee_id: str, created: int, amount: int, currency: str, charge_id: str, account: str
) -> dict[str, Any]:
    """The platform's ``application_fee`` collected on a destination charge."""
    return {
        "id": fee_id,
        "object": "application_fee",
        "account": account,
        "amount": amount,
        "amount_refunded": 0,
        "charge": charge_id,
        "created": created,
        "currency": currency,
        "livemode": False,
        "refunded": False,
        "refunds": list_object(f"/v1/application_fees/{fee_id}/refunds", [], False),
    }


def fee_refund(*, created: int, amount: int, currency: str, fee_id: str) -> dict[str, Any]:
    """One ``fee_refund`` (part of an application fee given back)."""
    return {
        "id": new_id("fr"),
        "object": "fee_refund",
        "amount": amount,
        "created": created,
        "currency": currency,
        "fee": fee_id,
        "metadata": {},
    }


def transfer(
    *, transfer_id: str, created: int, amount: int, currency: str, destination: str, charge_id: str
) -> dict[str, Any]:
    """The ``transfer`` that moves a destination charge's funds (minus the fee) to the connected account."""
    return {
        "id": transfer_id,
        "object": "transfer",
        "amount": amount,
        "amount_reversed": 0,
        "created": created,
        "currency": currency,
        "destination": destination,
        "livemode": False,
        "metadata": {},
        "reversed": False,
        "source_transaction": charge_id,
    }


def refund(
    *,
    created: int,
    amount: int,
    currency: str,
    charge_id: str,
    payment_intent_id: str,
    reason: str | None,
    metadata: dict[str, str],
    transfer_reversal_id: str | None,
) -> dict[str, Any]:
    """A succeeded ``refund`` (card refunds succeed immediately in test mode)."""
    return {
        "id": new_id("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": None,
        "charge": charge_id,
        "created": created,
        "currency": currency,
        "metadata": metadata,
        "payment_intent": payment_intent_id,
        "reason": reason,
        "status": "succeeded",
        "transfer_reversal": transfer_reversal_id,
    }


def account(
    *, created: int, account_type: str, country: str, email: str | None, metadata: dict[str, str]
) -> dict[str, Any]:
    """A freshly created Connect ``account``: nothing enabled until onboarding completes."""
    return {
        "id": new_id("acct", 16),
        "object": "account",
        "business_type": None,
        "capabilities": {"card_payments": "inactive", "transfers": "inactive"},
        "charges_enabled": False,
        "country": country,
        "created": created,
        "default_currency": "usd" if country == "US" else None,
        "details_submitted": False,
        "email": email,
        "livemode": False,
        "metadata": metadata,
        "payouts_enabled": False,
        "requirements": {
            "currently_due": ["business_profile.url", "external_account", "tos_acceptance.date"],
            "disabled_reason": "requirements.past_due",
            "past_due": ["business_profile.url", "external_account", "tos_acceptance.date"],
        },
        "type": account_type,
    }


def event(
    *,
    event_type: str,
    created: int,
    data_object: dict[str, Any],
    previous_attributes: dict[str, Any] | None,
    account_id: str | None,
    request_id: str | None,
    idempotency_key: str | None,
    pending_webhooks: int,
) -> dict[str, Any]:
    """A v1 snapshot ``event`` as Stripe sends to webhook endpoints."""
    data: dict[str, Any] = {"object": data_object}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    result: dict[str, Any] = {
        "id": new_id("evt"),
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": data,
        "livemode": False,
        "pending_webhooks": pending_webhooks,
        "request": {"id": request_id, "idempotency_key": idempotency_key},
        "type": event_type,
    }
    if account_id is not None:
        # Connect events name the connected account they happened on.
        result["account"] = account_id
    return result
