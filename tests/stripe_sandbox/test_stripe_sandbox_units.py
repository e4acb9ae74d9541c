"""In-process checks of the sandbox's building blocks against the SDK's own encoder and verifier."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
import stripe
from stripe._encode import _api_encode

from stripe_sandbox.config import parse_config
from stripe_sandbox.delivery import DeliverySettings, retry_delay
from stripe_sandbox.errors import StripeError
from stripe_sandbox.forms import bool_param, int_param, metadata_param, parse_form
from stripe_sandbox.signing import DEV_WEBHOOK_SECRET, signature_header
from stripe_sandbox.state import RequestContext, SandboxState


def sdk_encode(params: dict[str, Any]) -> str:
    """The body the SDK puts on the wire for ``params`` (same steps as its requestor)."""
    return urlencode(list(_api_encode(params))).replace("%5B", "[").replace("%5D", "]")


def test_parse_form_round_trips_the_sdk_encoding() -> None:
    params = {
        "mode": "payment",
        "expires_at": 1_800_000_000,
        "metadata": {"booking_id": "bk 1&2", "empty": ""},
        "line_items": [
            {
                "quantity": 2,
                "price_data": {"currency": "usd", "unit_amount": 5000, "product_data": {"name": "A"}},
            },
            {
                "quantity": 1,
                "price_data": {"currency": "usd", "unit_amount": 250, "product_data": {"name": "B"}},
            },
        ],
        "payment_intent_data": {"application_fee_amount": 525, "transfer_data": {"destination": "acct_1"}},
        "refund_application_fee": True,
        "expand": ["line_items", "payment_intent"],
    }
    body = sdk_encode(params)
    assert "line_items[1][price_data][unit_amount]=250" in body
    assert "payment_intent_data[transfer_data][destination]=acct_1" in body

    decoded = parse_form(body)

    assert decoded["line_items"][0]["price_data"]["product_data"]["name"] == "A"
    assert decoded["line_items"][1]["quantity"] == "1"
    assert decoded["metadata"] == {"booking_id": "bk 1&2", "empty": ""}
    assert decoded["payment_intent_data"]["transfer_data"]["destination"] == "acct_1"
    assert decoded["expand"] == ["line_items", "payment_intent"]
    assert int_param(decoded, "payment_intent_data[application_fee_amount]") == 525
    assert bool_param(decoded, "refund_application_fee") is True
    assert metadata_param(decoded) == {"booking_id": "bk 1&2"}  # blank values mean "unset"


def test_parse_form_handles_empty_brackets_and_rejects_bad_values() -> None:
    assert parse_form("a[]=x&a[]=y") == {"a": ["x", "y"]}
    with pytest.raises(StripeError) as bad_int:
        int_param(parse_form("amount=12x"), "amount")
    assert bad_int.value.param == "amount"
    with pytest.raises(StripeError):
        parse_form("a=1&a[b]=2")


def test_signature_header_is_accepted_by_the_sdk() -> None:
    payload = b'{\n  "id": "evt_1",\n  "object": "event"\n}'
    header = signature_header(payload, "whsec_abc")
    assert header.startswith("t=") and ",v1=" in header
    assert stripe.WebhookSignature.verify_header(payload, header, "whsec_abc", tolerance=300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(payload, header, "whsec_other", tolerance=300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(payload + b" ", header, "whsec_abc", tolerance=300)


def test_retry_schedule_doubles_scales_and_caps() -> None:
    settings = DeliverySettings(url=None, secret="whsec_x", retry_scale=1.0, retry_cap_seconds=60)
    assert [retry_delay(n, settings) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    settings.retry_scale = 0.05
    assert retry_delay(3, settings) == pytest.approx(0.2)


def test_config_flags_fall_back_to_environment() -> None:
    env = {
        "STRIPE_SANDBOX_PORT": "4242",
        "STRIPE_WEBHOOK_URL": "http://127.0.0.1:1/hook",
        "STRIPE_WEBHOOK_SECRET": "whsec_from_env",
    }
    from_env = parse_config([], env)
    assert (from_env.port, from_env.webhook_url, from_env.webhook_secret) == (
        4242,
        env["STRIPE_WEBHOOK_URL"],
        "whsec_from_env",
    )
    assert from_env.host == "127.0.0.1"
    assert from_env.base_url == "http://127.0.0.1:4242"
    defaults = parse_config([], {})
    assert defaults.webhook_secret == DEV_WEBHOOK_SECRET == "whsec_mais_dev_sandbox_secret"
    assert parse_config(["--port", "5000"], env).port == 5000


def test_proportional_fee_refunds_add_up_to_the_whole_fee() -> None:
    """Stripe refunds the fee in proportion; odd amounts must still total exactly the fee."""
    state = SandboxState(public_url="http://127.0.0.1:1")
    ctx = RequestContext()
    account = state.connect.create({"type": "express"})
    session = state.checkout.create(
        parse_form(
            sdk_encode(
                {
                    "success_url": "http://x/ok",
                    "line_items": [
                        {
                            "quantity": 1,
                            "price_data": {
                                "currency": "usd",
                                "unit_amount": 1000,
                                "product_data": {"name": "P"},
                            },
                        }
                    ],
                    "payment_intent_data": {
                        "application_fee_amount": 333,
                        "transfer_data": {"destination": account["id"]},
                    },
                }
            )
        ),
        ctx,
    )
    paid = state.checkout.pay(session["id"])
    intent = state.charges.get_payment_intent(paid["payment_intent"])
    fee_id = state.charges.get_charge(intent["latest_charge"])["application_fee"]

    for amount, expected_total in ((500, 167), (250, 250), (250, 333)):
        state.refunds.create(
            {"payment_intent": intent["id"], "amount": str(amount), "refund_application_fee": "true"}, ctx
        )
        assert state.charges.get_application_fee(fee_id)["amount_refunded"] == expected_total
    fee = state.charges.get_application_fee(fee_id)
    assert fee["refunded"] is True
    assert sum(r["amount"] for r in fee["refunds"]["data"]) == 333
