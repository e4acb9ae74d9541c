"""Webhook delivery: retries on failure, runtime endpoint changes, re-delivery controls, hold and release."""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Callable
from typing import Any

import stripe

from stripe_sandbox.signing import signature_header

SessionParams = Callable[..., Any]
Pay = Callable[[stripe.checkout.Session], dict[str, Any]]


def unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def completed_event_id(client: stripe.StripeClient, session_id: str) -> str:
    listed = client.v1.events.list(params={"limit": 100, "type": "checkout.session.completed"})
    for event in listed.auto_paging_iter():
        if event.data.object.id == session_id:
            return str(event.id)
    raise AssertionError(f"no checkout.session.completed event for {session_id}")


def test_failed_deliveries_are_retried_until_acknowledged(
    sandbox: Any,
    client: stripe.StripeClient,
    receiver: Any,
    pay: Pay,
    session_params: SessionParams,
    webhook_secret: str,
    wait_until: Callable[..., None],
) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    receiver.fail[session.id] = 2  # the endpoint answers 500 twice, then 200

    pay(session)

    deliveries = receiver.wait_for("checkout.session.completed", session.id, count=3)
    assert [d.status for d in deliveries] == [500, 500, 200]
    assert len({d.event["id"] for d in deliveries}) == 1
    for d in deliveries:  # every attempt is signed on its own and verifies
        stripe.Webhook.construct_event(d.body, d.signature, webhook_secret)
    gaps = [b.received_at - a.received_at for a, b in itertools.pairwise(deliveries)]
    assert gaps[0] >= 0.04 and gaps[1] >= 0.08  # 1 s then 2 s, scaled by 0.05: a real backoff

    event_id = deliveries[0].event["id"]
    wait_until(
        lambda: (
            len(sandbox.control("GET", f"/_sandbox/deliveries?event_id={event_id}").json()["deliveries"]) == 3
        )
    )
    log = sandbox.control("GET", f"/_sandbox/deliveries?event_id={event_id}").json()["deliveries"]
    assert [(r["attempt"], r["status_code"], r["ok"]) for r in log] == [
        (1, 500, False),
        (2, 500, False),
        (3, 200, True),
    ]
    wait_until(lambda: client.v1.events.retrieve(event_id).pending_webhooks == 0)
    time.sleep(0.3)  # longer than the next retry would wait: nothing more may arrive after the 200
    assert len(receiver.matching("checkout.session.completed", session.id)) == 3


def test_connection_errors_are_retried_and_endpoint_can_change_at_runtime(
    sandbox: Any,
    client: stripe.StripeClient,
    receiver: Any,
    pay: Pay,
    session_params: SessionParams,
    wait_until: Callable[..., None],
) -> None:
    dead_url = f"http://127.0.0.1:{unused_port()}/nobody-listens"
    assert sandbox.control("POST", "/_sandbox/webhook", {"url": dead_url}).status_code == 200
    try:
        session = client.v1.checkout.sessions.create(params=session_params())
        pay(session)
        event_id = completed_event_id(client, session.id)

        def failed_attempts() -> list[dict[str, Any]]:
            log = sandbox.control("GET", f"/_sandbox/deliveries?event_id={event_id}").json()["deliveries"]
            return [r for r in log if r["status_code"] is None]

        wait_until(lambda: len(failed_attempts()) >= 1)
        assert failed_attempts()[0]["error"]  # the connection error is recorded
    finally:
        sandbox.control("POST", "/_sandbox/webhook", {"url": receiver.url})

    [delivery] = receiver.wait_for("checkout.session.completed", session.id)
    assert delivery.status == 200


def test_deliver_control_sends_duplicates_concurrently(
    sandbox: Any,
    client: stripe.StripeClient,
    receiver: Any,
    pay: Pay,
    session_params: SessionParams,
    webhook_secret: str,
) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    pay(session)
    [first] = receiver.wait_for("checkout.session.completed", session.id)
    event_id = first.event["id"]
    receiver.slow[session.id] = 0.4
    with receiver.cond:
        receiver.max_in_flight = 0

    started = time.monotonic()
    response = sandbox.control(
        "POST", f"/_sandbox/events/{event_id}/deliver", {"times": 5, "concurrent": True}
    )
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    attempts = response.json()["attempts"]
    assert [a["status_code"] for a in attempts] == [200] * 5
    copies = receiver.wait_for("checkout.session.completed", session.id, count=6)
    assert {c.event["id"] for c in copies} == {event_id}
    for copy in copies:
        stripe.Webhook.construct_event(copy.body, copy.signature, webhook_secret)
    assert receiver.max_in_flight >= 2  # they overlapped at the receiver
    assert elapsed < 5 * 0.4  # sequential sending would take at least 2 s


def test_a_burst_of_deliveries_reuses_its_kept_alive_connections(
    sandbox: Any,
    client: stripe.StripeClient,
    receiver: Any,
    pay: Pay,
    session_params: SessionParams,
) -> None:
    """Two bursts of 30 concurrent deliveries, one after the other: the second goes over the
    connections the first opened (httpx's default keeps 20 alive and would open 10 more)."""
    session = client.v1.checkout.sessions.create(params=session_params())
    pay(session)
    [first] = receiver.wait_for("checkout.session.completed", session.id)
    event_id = first.event["id"]
    # Slow answers make the first burst open one connection per copy.
    receiver.slow[session.id] = 0.3
    for burst in (1, 2):
        response = sandbox.control(
            "POST", f"/_sandbox/events/{event_id}/deliver", {"times": 30, "concurrent": True, "wait": True}
        )
        assert response.status_code == 200
        attempts = response.json()["attempts"]
        assert [a["status_code"] for a in attempts] == [200] * 30, (burst, {a["error"] for a in attempts})
    copies = receiver.wait_for("checkout.session.completed", session.id, count=61)[1:]
    ports = [c.client_port for c in copies]
    assert len(ports) == 60 and all(ports)
    assert len(set(ports)) <= 30, f"{len(set(ports))} connections for two bursts of 30"


def test_deliver_control_sequential_and_late(
    sandbox: Any, client: stripe.StripeClient, receiver: Any, pay: Pay, session_params: SessionParams
) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    pay(session)
    [first] = receiver.wait_for("checkout.session.completed", session.id)
    event_id = first.event["id"]

    sequential = sandbox.control("POST", f"/_sandbox/events/{event_id}/deliver", {"times": 2})
    assert [a["status_code"] for a in sequential.json()["attempts"]] == [200, 200]
    receiver.wait_for("checkout.session.completed", session.id, count=3)

    asked = time.monotonic()
    late = sandbox.control("POST", f"/_sandbox/events/{event_id}/deliver", {"delay_ms": 300, "wait": False})
    assert late.status_code == 202
    copies = receiver.wait_for("checkout.session.completed", session.id, count=4)
    assert copies[-1].received_at - asked >= 0.3

    bad = sandbox.control("POST", f"/_sandbox/events/{event_id}/deliver", {"times": 0})
    assert bad.status_code == 400
    assert sandbox.control("POST", "/_sandbox/events/evt_missing/deliver", {}).status_code == 404


def test_held_events_can_be_delivered_out_of_order_then_released(
    sandbox: Any, client: stripe.StripeClient, receiver: Any, pay: Pay, session_params: SessionParams
) -> None:
    first = client.v1.checkout.sessions.create(params=session_params())
    second = client.v1.checkout.sessions.create(params=session_params())
    assert sandbox.control("POST", "/_sandbox/hold_deliveries").json()["holding"] is True
    try:
        pay(first)
        pay(second)
        first_event = completed_event_id(client, first.id)
        second_event = completed_event_id(client, second.id)
        time.sleep(0.3)
        assert receiver.matching(object_id=first.id) == [] and receiver.matching(object_id=second.id) == []

        # The later event arrives first.
        out_of_order = sandbox.control("POST", f"/_sandbox/events/{second_event}/deliver", {})
        assert out_of_order.json()["attempts"][0]["status_code"] == 200
        receiver.wait_for("checkout.session.completed", second.id)
        assert receiver.matching(object_id=first.id) == []
    finally:
        released = sandbox.control("POST", "/_sandbox/release_deliveries").json()["released"]

    # Only what was not acknowledged yet goes out on release.
    assert first_event in released and second_event not in released
    receiver.wait_for("checkout.session.completed", first.id)
    time.sleep(0.2)
    assert len(receiver.matching("checkout.session.completed", second.id)) == 1


def test_signature_matches_stripes_algorithm(
    sandbox: Any,
    client: stripe.StripeClient,
    receiver: Any,
    pay: Pay,
    session_params: SessionParams,
    webhook_secret: str,
) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    pay(session)
    [delivery] = receiver.wait_for("checkout.session.completed", session.id)
    timestamp = int(delivery.signature.split(",")[0].removeprefix("t="))
    assert abs(timestamp - time.time()) < 10  # the real clock, within the SDK's 300 s tolerance
    assert delivery.signature == signature_header(delivery.body, webhook_secret, timestamp)
    assert stripe.WebhookSignature.verify_header(
        delivery.body, delivery.signature, webhook_secret, tolerance=300
    )
