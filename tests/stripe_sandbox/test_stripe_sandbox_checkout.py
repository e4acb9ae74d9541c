"""Checkout Sessions through the official SDK: creation rules, idempotency, hosted page, payment, expiry."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import stripe

SessionParams = Callable[..., Any]
Pay = Callable[[stripe.checkout.Session], dict[str, Any]]


def plain(obj: Any) -> Any:
    """A Stripe object as plain dicts, for comparing with literals."""
    return None if obj is None else obj.to_dict()


def test_create_and_retrieve_session_has_stripes_shape(
    sandbox: Any,
    client: stripe.StripeClient,
    session_params: SessionParams,
    connected_account: stripe.Account,
) -> None:
    params = session_params(amount=12_500, fee=1_250, destination=connected_account.id)
    before = int(time.time())

    session = client.v1.checkout.sessions.create(params=params)

    assert isinstance(session, stripe.checkout.Session)
    assert session.id.startswith("cs_test_")
    assert session.object == "checkout.session"
    assert session.livemode is False
    assert (session.mode, session.status, session.payment_status) == ("payment", "open", "unpaid")
    assert (session.amount_total, session.currency) == (12_500, "usd")
    assert session.url == f"{sandbox.base_url}/pay/{session.id}"
    assert session.expires_at == params["expires_at"]
    assert before - 2 <= session.created <= int(time.time()) + 2
    assert plain(session.metadata) == {"booking_id": "bk_123", "tenant_id": "tn_1"}
    assert session.client_reference_id == "booking_123"
    assert session.customer_email == "couple@example.com"
    assert session.payment_intent is None

    fetched = client.v1.checkout.sessions.retrieve(session.id)
    assert fetched.to_dict() == session.to_dict()
    items = client.v1.checkout.sessions.line_items.list(session.id)
    assert [(i.quantity, i.price and i.price.unit_amount, i.description) for i in items.data] == [
        (1, 12_500, "Elopement package")
    ]


@pytest.mark.parametrize("offset", [29 * 60, 30 * 60 - 5, 24 * 3600 + 60, -60])
def test_expires_at_outside_30_minutes_to_24_hours_is_rejected(
    client: stripe.StripeClient, session_params: SessionParams, offset: int
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.checkout.sessions.create(params=session_params(expires_in=offset))
    assert err.value.http_status == 400
    assert err.value.param == "expires_at"
    body: Any = err.value.json_body
    assert body["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("offset", [30 * 60 + 30, 24 * 3600 - 30])
def test_expires_at_inside_the_bounds_is_accepted(
    client: stripe.StripeClient, session_params: SessionParams, offset: int
) -> None:
    session = client.v1.checkout.sessions.create(params=session_params(expires_in=offset))
    assert session.status == "open"


def test_application_fee_and_destination_are_validated(
    client: stripe.StripeClient, session_params: SessionParams, connected_account: stripe.Account
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as too_big:
        client.v1.checkout.sessions.create(
            params=session_params(amount=5_000, fee=5_001, destination=connected_account.id)
        )
    assert too_big.value.param == "payment_intent_data[application_fee_amount]"

    with pytest.raises(stripe.InvalidRequestError) as no_account:
        client.v1.checkout.sessions.create(params=session_params(fee=100, destination="acct_doesnotexist"))
    assert no_account.value.param == "payment_intent_data[transfer_data][destination]"
    assert no_account.value.code == "resource_missing"

    with pytest.raises(stripe.InvalidRequestError) as no_destination:
        client.v1.checkout.sessions.create(params=session_params(fee=100))
    assert no_destination.value.param == "payment_intent_data[application_fee_amount]"

    # A fee equal to the total is allowed, as on Stripe.
    ok = client.v1.checkout.sessions.create(
        params=session_params(amount=5_000, fee=5_000, destination=connected_account.id)
    )
    assert ok.amount_total == 5_000


def test_missing_session_is_a_404_resource_missing(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.checkout.sessions.retrieve("cs_test_nope")
    assert err.value.http_status == 404
    assert err.value.code == "resource_missing"


def test_api_requires_a_test_secret_key(sandbox: Any) -> None:
    with pytest.raises(stripe.AuthenticationError) as err:
        sandbox.client("sk_live_123456789").v1.events.list()
    assert err.value.http_status == 401
    # Without any key (the SDK refuses to send none, so ask directly).
    response = httpx.get(f"{sandbox.base_url}/v1/events", trust_env=False, timeout=5)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_idempotency_key_replays_the_same_session_and_rejects_other_params(
    sandbox: Any, client: stripe.StripeClient, session_params: SessionParams
) -> None:
    params = session_params()
    key = f"hold-{time.time_ns()}"
    count_before = sandbox.control("GET", "/_sandbox/health").json()["objects"]["checkout_sessions"]

    first = client.v1.checkout.sessions.create(params=params, options={"idempotency_key": key})
    same_again: Any = dict(params)  # an equal but distinct dict, as a retry would build
    again = client.v1.checkout.sessions.create(params=same_again, options={"idempotency_key": key})

    assert again.id == first.id
    assert again.last_response is not None
    assert again.last_response.headers.get("Idempotent-Replayed") == "true"
    count_after = sandbox.control("GET", "/_sandbox/health").json()["objects"]["checkout_sessions"]
    assert count_after == count_before + 1

    changed = session_params(amount=99_999)
    changed["expires_at"] = params["expires_at"]
    with pytest.raises(stripe.IdempotencyError):
        client.v1.checkout.sessions.create(params=changed, options={"idempotency_key": key})
    # A different API key has its own key space, as on Stripe.
    other = sandbox.client("sk_test_someone_else").v1.checkout.sessions.create(
        params=params, options={"idempotency_key": key}
    )
    assert other.id != first.id


def test_concurrent_requests_with_one_idempotency_key_create_one_session(
    sandbox: Any, session_params: SessionParams
) -> None:
    params = session_params()
    key = f"race-{time.time_ns()}"
    ids: list[str] = []
    errors: list[BaseException] = []

    def create() -> None:
        try:
            ids.append(
                sandbox.client()
                .v1.checkout.sessions.create(params=params, options={"idempotency_key": key})
                .id
            )
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert not errors
    assert len(ids) == 8 and len(set(ids)) == 1


def test_pay_through_hosted_page_completes_session_and_sends_signed_event(
    sandbox: Any,
    client: stripe.StripeClient,
    receiver: Any,
    session_params: SessionParams,
    connected_account: stripe.Account,
    webhook_secret: str,
    wait_until: Callable[..., None],
) -> None:
    session = client.v1.checkout.sessions.create(
        params=session_params(amount=20_000, fee=2_000, destination=connected_account.id)
    )
    with sandbox.http() as http:
        page = http.get(f"/pay/{session.id}")
        assert page.status_code == 200
        assert f"action='{session.url}/pay'" in page.text
        assert f"action='{session.url}/cancel'" in page.text

        paid = http.post(f"{session.url}/pay", headers={"Accept": "application/json"})
        assert paid.status_code == 200
        assert paid.json()["status"] == "complete"

        twice = http.post(f"{session.url}/pay", headers={"Accept": "application/json"})
        assert twice.status_code == 409
        assert "already complete" in twice.json()["error"]["message"]

    [delivery] = receiver.wait_for("checkout.session.completed", session.id)
    event = stripe.Webhook.construct_event(delivery.body, delivery.signature, webhook_secret)
    assert event.type == "checkout.session.completed"
    assert event.id.startswith("evt_")
    assert event.livemode is False
    assert event.data.object.id == session.id
    assert event.data.object.payment_status == "paid"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(delivery.body, delivery.signature, "whsec_wrong")

    completed = client.v1.checkout.sessions.retrieve(session.id)
    assert (completed.status, completed.payment_status) == ("complete", "paid")
    assert isinstance(completed.payment_intent, str) and completed.payment_intent.startswith("pi_")
    intent = client.v1.payment_intents.retrieve(completed.payment_intent)
    assert (intent.amount, intent.status, intent.application_fee_amount) == (20_000, "succeeded", 2_000)
    assert intent.transfer_data is not None and intent.transfer_data.destination == connected_account.id
    assert plain(intent.metadata) == {"booking_id": "bk_123"}
    charge = client.v1.charges.retrieve(str(intent.latest_charge))
    assert (charge.amount, charge.amount_refunded, charge.application_fee_amount) == (20_000, 0, 2_000)
    assert client.v1.transfers.retrieve(str(charge.transfer)).amount == 18_000

    fetched = client.v1.events.retrieve(event.id)
    assert fetched.type == event.type and fetched.data.object.id == session.id
    wait_until(lambda: client.v1.events.retrieve(event.id).pending_webhooks == 0)


def test_form_post_redirects_to_success_url_and_cancel_keeps_session_open(
    sandbox: Any, client: stripe.StripeClient, session_params: SessionParams
) -> None:
    to_cancel = client.v1.checkout.sessions.create(params=session_params())
    to_pay = client.v1.checkout.sessions.create(params=session_params())
    with sandbox.http() as http:
        cancelled = http.post(f"{to_cancel.url}/cancel")
        assert cancelled.status_code == 303
        assert cancelled.headers["location"] == "http://127.0.0.1:9/cancelled"

        paid = http.post(f"{to_pay.url}/pay", data={"email": "couple@example.com"})
        assert paid.status_code == 303
        assert paid.headers["location"] == f"http://127.0.0.1:9/booked?session={to_pay.id}"

    assert client.v1.checkout.sessions.retrieve(to_cancel.id).status == "open"
    assert client.v1.checkout.sessions.retrieve(to_pay.id).status == "complete"


def test_expire_via_api_sends_event_and_blocks_payment(
    sandbox: Any,
    client: stripe.StripeClient,
    receiver: Any,
    session_params: SessionParams,
    webhook_secret: str,
) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())

    expired = client.v1.checkout.sessions.expire(session.id)

    assert expired.status == "expired"
    [delivery] = receiver.wait_for("checkout.session.expired", session.id)
    event = stripe.Webhook.construct_event(delivery.body, delivery.signature, webhook_secret)
    assert event.data.object.status == "expired"
    assert event.request.id is not None and event.request.id.startswith("req_")

    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.checkout.sessions.expire(session.id)
    assert again.value.http_status == 400
    with sandbox.http() as http:
        refused = http.post(f"{session.url}/pay", headers={"Accept": "application/json"})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "checkout_session_expired"
    assert client.v1.checkout.sessions.retrieve(session.id).payment_status == "unpaid"


def test_expire_now_control_and_sandbox_pay_control(
    sandbox: Any, client: stripe.StripeClient, receiver: Any, session_params: SessionParams
) -> None:
    to_expire = client.v1.checkout.sessions.create(params=session_params())
    to_pay = client.v1.checkout.sessions.create(params=session_params())

    expired = sandbox.control("POST", f"/_sandbox/sessions/{to_expire.id}/expire_now")
    paid = sandbox.control("POST", f"/_sandbox/sessions/{to_pay.id}/pay")

    assert expired.status_code == 200 and expired.json()["session"]["status"] == "expired"
    assert paid.status_code == 200 and paid.json()["status"] == "complete"
    receiver.wait_for("checkout.session.expired", to_expire.id)
    receiver.wait_for("checkout.session.completed", to_pay.id)
    assert sandbox.control("POST", f"/_sandbox/sessions/{to_expire.id}/expire_now").status_code == 400


def test_background_task_expires_sessions_when_their_time_passes(
    fresh_sandbox: Callable[..., Any], receiver: Any, session_params: SessionParams
) -> None:
    """A private sandbox, because this test moves the sandbox clock forward by 31 minutes."""
    private = fresh_sandbox()
    client = private.client()
    due = client.v1.checkout.sessions.create(params=session_params(expires_in=31 * 60))
    later = client.v1.checkout.sessions.create(params=session_params(expires_in=2 * 3600))

    advanced = private.control("POST", "/_sandbox/clock/advance", {"seconds": 31 * 60 + 5})
    assert advanced.status_code == 200

    # Nobody touches the session: the once-a-second sweeper must expire it and send the event.
    [delivery] = receiver.wait_for("checkout.session.expired", due.id, timeout=5)
    assert delivery.event["request"] == {"id": None, "idempotency_key": None}
    assert client.v1.checkout.sessions.retrieve(due.id).status == "expired"
    assert client.v1.checkout.sessions.retrieve(later.id).status == "open"
    assert receiver.matching("checkout.session.expired", later.id) == []


def test_expand_replaces_ids_with_objects(
    client: stripe.StripeClient, pay: Pay, session_params: SessionParams, connected_account: stripe.Account
) -> None:
    session = client.v1.checkout.sessions.create(
        params=session_params(amount=7_000, fee=700, destination=connected_account.id)
    )
    pay(session)

    expanded = client.v1.checkout.sessions.retrieve(
        session.id, params={"expand": ["payment_intent.latest_charge", "line_items"]}
    )

    intent = expanded.payment_intent
    assert isinstance(intent, stripe.PaymentIntent)
    assert isinstance(intent.latest_charge, stripe.Charge)
    assert (intent.amount, intent.latest_charge.amount, intent.latest_charge.application_fee_amount) == (
        7_000,
        7_000,
        700,
    )
    assert expanded.line_items is not None and expanded.line_items.data[0].amount_total == 7_000
    with pytest.raises(stripe.InvalidRequestError) as bad:
        client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["currency"]})
    assert bad.value.param == "expand"
