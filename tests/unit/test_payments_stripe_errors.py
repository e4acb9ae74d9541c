"""The Stripe adapter's one error mapping: which refusals mean "Stripe does not know this"."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import stripe

from services.payments.stripe_adapter import (
    AccountUnknown,
    PaymentProviderError,
    PaymentUnknown,
    StripeAdapter,
)


def _refusing(error: stripe.StripeError) -> Any:
    async def call(*args: Any, **kwargs: Any) -> Any:
        raise error

    return call


def _mapped(error: stripe.StripeError) -> PaymentProviderError:
    adapter = StripeAdapter(secret_key="sk_test_unit", webhook_secret="whsec_unit")
    try:
        with pytest.raises(PaymentProviderError) as raised:
            asyncio.run(adapter._call(_refusing(error)))
        return raised.value
    finally:
        asyncio.run(adapter.close())


@pytest.mark.parametrize(
    ("param", "status"),
    [("payment_intent_data[transfer_data][destination]", 400), ("account", 400), ("account", 404)],
)
def test_an_account_stripe_does_not_know_asks_the_tenant_to_onboard_again(param: str, status: int) -> None:
    error = stripe.InvalidRequestError(
        "No such destination: 'acct_gone'", param, code="resource_missing", http_status=status
    )
    mapped = _mapped(error)
    assert isinstance(mapped, AccountUnknown)
    assert (mapped.reason, mapped.code.value, mapped.definite) == (
        "TENANT_NOT_ONBOARDED",
        "FAILED_PRECONDITION",
        True,
    )


@pytest.mark.parametrize("param", ["payment_intent", "charge", "intent"])
def test_a_payment_stripe_does_not_know_is_a_clear_refusal_not_a_provider_failure(param: str) -> None:
    error = stripe.InvalidRequestError("No such payment_intent: 'pi_gone'", param, code="resource_missing")
    error.http_status = 400
    mapped = _mapped(error)
    assert isinstance(mapped, PaymentUnknown)
    assert (mapped.reason, mapped.definite) == ("FAILED_PRECONDITION", True)
    assert "cannot be refunded" in mapped.message


def test_other_refusals_and_outages_stay_payment_provider_errors() -> None:
    refused = _mapped(
        stripe.InvalidRequestError("Invalid email", "customer_email", code="email_invalid", http_status=400)
    )
    assert type(refused) is PaymentProviderError and refused.definite
    down = _mapped(stripe.APIConnectionError("connection refused"))
    assert type(down) is PaymentProviderError and not down.definite
    assert down.reason == "PAYMENT_PROVIDER_ERROR"
