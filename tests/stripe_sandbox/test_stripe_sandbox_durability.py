"""The sandbox keeps its Stripe account across restarts and crashes, as Stripe keeps yours.

Each test runs a private sandbox on a state folder of its own, stops or SIGKILLs it, starts a new process
on the same folder (and port, so hosted-page URLs stay valid) and checks what the new process knows.
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import stripe

SessionParams = Callable[..., Any]
FreshSandbox = Callable[..., Any]


def _pay(sandbox: Any, session: stripe.checkout.Session) -> None:
    with sandbox.http() as http:
        answer = http.post(f"{session.url}/pay", headers={"Accept": "application/json"})
    assert answer.status_code == 200, answer.text


def _onboard_through_link(sandbox: Any, client: stripe.StripeClient, account_id: str) -> str:
    link = client.v1.account_links.create(
        params={
            "account": account_id,
            "type": "account_onboarding",
            "refresh_url": "http://127.0.0.1:9/refresh",
            "return_url": "http://127.0.0.1:9/return",
        }
    )
    with sandbox.http() as http:
        done = http.post(f"{link.url}/complete", headers={"Accept": "application/json"})
    assert done.status_code == 200 and done.json()["onboarded"] is True, done.text
    return str(link.url)


def _kill(sandbox: Any) -> None:
    """SIGKILL: no shutdown code runs, as in a crash or a power cut."""
    sandbox.process.send_signal(signal.SIGKILL)
    sandbox.process.wait(timeout=10)


def _stop(sandbox: Any) -> None:
    sandbox.process.terminate()
    sandbox.process.wait(timeout=10)


def _port(sandbox: Any) -> int:
    return int(sandbox.base_url.rsplit(":", 1)[1])


def test_a_restarted_sandbox_keeps_accounts_sessions_payments_refunds_events_and_idempotency(
    fresh_sandbox: FreshSandbox, session_params: SessionParams
) -> None:
    first = fresh_sandbox()
    client = first.client()
    account = client.v1.accounts.create(params={"type": "express", "email": "venue@example.com"})
    link_url = _onboard_through_link(first, client, account.id)
    paid = client.v1.checkout.sessions.create(
        params=session_params(amount=10_000, fee=1_000, destination=account.id)
    )
    _pay(first, paid)
    still_open = client.v1.checkout.sessions.create(params=session_params(amount=5_000))
    paid = client.v1.checkout.sessions.retrieve(paid.id)
    intent_id = str(paid.payment_intent)
    refund = client.v1.refunds.create(
        params={"payment_intent": intent_id, "amount": 3_000, "refund_application_fee": True}
    )
    charge = client.v1.charges.retrieve(str(client.v1.payment_intents.retrieve(intent_id).latest_charge))
    fee_id = str(charge.application_fee)
    fee_refund = client.v1.application_fees.refunds.create(fee_id, params={"amount": 100})
    keyed = client.v1.accounts.create(
        params={"type": "express", "metadata": {"tenant_id": "tn_keyed"}},
        options={"idempotency_key": "mais-connect-keyed"},
    )
    assert first.control("POST", "/_sandbox/clock/advance", {"seconds": 120}).status_code == 200
    events_before = [e.id for e in client.v1.events.list(params={"limit": 100}).data]
    assert len(events_before) >= 4

    _stop(first)
    second = fresh_sandbox(state_dir=first.state_dir, port=_port(first))
    client = second.client()

    kept = client.v1.accounts.retrieve(account.id)
    assert (kept.charges_enabled, kept.payouts_enabled, kept.details_submitted) == (True, True, True)
    assert client.v1.checkout.sessions.retrieve(paid.id).status == "complete"
    assert client.v1.checkout.sessions.retrieve(still_open.id).status == "open"
    kept_charge = client.v1.charges.retrieve(charge.id)
    assert (kept_charge.amount, kept_charge.amount_refunded) == (10_000, 3_000)
    assert client.v1.refunds.retrieve(refund.id).amount == 3_000
    fee = client.v1.application_fees.retrieve(str(charge.application_fee))
    assert fee.amount_refunded == 300 + 100
    assert fee_refund.id in [r.id for r in client.v1.application_fees.refunds.list(fee.id).data]
    # Same order, newest first: lists page over what was kept in the order it happened.
    assert [e.id for e in client.v1.events.list(params={"limit": 100}).data] == events_before
    # The old hosted URLs still answer: the open session can be paid, the used link sends to refresh_url.
    with second.http() as http:
        assert http.get(still_open.url).status_code == 200
        used = http.get(link_url)
        assert used.status_code == 303 and used.headers["location"].endswith("/refresh")
    _pay(second, still_open)
    # The key's answer was kept: the same request replays the same account instead of creating one.
    replay = client.v1.accounts.create(
        params={"type": "express", "metadata": {"tenant_id": "tn_keyed"}},
        options={"idempotency_key": "mais-connect-keyed"},
    )
    assert replay.id == keyed.id
    assert second.control("GET", "/_sandbox/health").json()["clock_offset"] >= 120


def test_a_webhook_pending_at_a_crash_is_delivered_after_the_restart(
    fresh_sandbox: FreshSandbox, receiver: Any, session_params: SessionParams
) -> None:
    first = fresh_sandbox()
    client = first.client()
    # Held deliveries stay pending: the crash comes before the endpoint has the event.
    assert first.control("POST", "/_sandbox/hold_deliveries").status_code == 200
    session = client.v1.checkout.sessions.create(params=session_params())
    _pay(first, session)
    assert first.control("GET", "/_sandbox/health").json()["objects"]["pending_webhooks"] == 1
    assert not receiver.matching("checkout.session.completed", session.id)
    _kill(first)

    second = fresh_sandbox(state_dir=first.state_dir, port=_port(first))
    delivered = receiver.wait_for("checkout.session.completed", session.id)
    assert len(delivered) == 1
    event = second.client().v1.events.retrieve(delivered[0].event["id"])
    assert event.data.object["id"] == session.id

    def acknowledged() -> bool:
        return bool(second.control("GET", "/_sandbox/health").json()["objects"]["pending_webhooks"] == 0)

    deadline = time.monotonic() + 5
    while not acknowledged():
        assert time.monotonic() < deadline, "the delivery was never marked acknowledged"
        time.sleep(0.05)


def test_a_session_expires_on_its_own_at_expires_at_after_a_restart(
    fresh_sandbox: FreshSandbox, receiver: Any, session_params: SessionParams
) -> None:
    first = fresh_sandbox("--expiry-interval", "0.1")
    session = first.client().v1.checkout.sessions.create(params=session_params(expires_in=31 * 60))
    _stop(first)

    second = fresh_sandbox("--expiry-interval", "0.1", state_dir=first.state_dir, port=_port(first))
    assert second.control("POST", "/_sandbox/clock/advance", {"seconds": 32 * 60}).status_code == 200
    expired = receiver.wait_for("checkout.session.expired", session.id)
    assert expired[0].event["data"]["object"]["status"] == "expired"
    assert second.client().v1.checkout.sessions.retrieve(session.id).status == "expired"


def test_sigkill_during_a_burst_of_writes_keeps_every_acknowledged_write_and_opens_cleanly(
    fresh_sandbox: FreshSandbox, session_params: SessionParams
) -> None:
    first = fresh_sandbox()
    acknowledged: list[tuple[str, str]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def write(worker: int) -> None:
        client = first.client()
        n = 0
        while not stop.is_set():
            n += 1
            try:
                if n % 2:
                    made = client.v1.accounts.create(
                        params={"type": "express", "metadata": {"n": f"{worker}-{n}"}},
                        options={"idempotency_key": f"burst-{worker}-{n}"},
                    )
                    kind = "account"
                else:
                    made = client.v1.checkout.sessions.create(params=session_params(amount=1_000 + n))
                    kind = "session"
            except (stripe.APIConnectionError, stripe.APIError):
                return  # the process died under this request: never acknowledged
            with lock:
                acknowledged.append((kind, made.id))

    workers = [threading.Thread(target=write, args=(w,), daemon=True) for w in range(4)]
    for thread in workers:
        thread.start()
    deadline = time.monotonic() + 30
    while True:
        with lock:
            if len(acknowledged) >= 60:
                break
        assert time.monotonic() < deadline, "the burst never got going"
        time.sleep(0.01)
    _kill(first)  # while the four writers are mid-request
    stop.set()
    for thread in workers:
        thread.join(timeout=15)
    with lock:
        kept = list(acknowledged)

    database = Path(first.state_dir) / "stripe-sandbox.sqlite3"
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    second = fresh_sandbox(state_dir=first.state_dir, port=_port(first))
    client = second.client()
    for kind, object_id in kept:
        if kind == "account":
            assert client.v1.accounts.retrieve(object_id).id == object_id
        else:
            assert client.v1.checkout.sessions.retrieve(object_id).status == "open"
    objects = second.control("GET", "/_sandbox/health").json()["objects"]
    assert objects["accounts"] + objects["checkout_sessions"] >= len(kept)
    # The store is writable after the crash, not just readable.
    assert client.v1.accounts.create(params={"type": "express"}).id.startswith("acct_")


def test_two_sandboxes_cannot_keep_their_state_in_one_folder(fresh_sandbox: FreshSandbox) -> None:
    first = fresh_sandbox()
    with pytest.raises(RuntimeError, match="another Stripe sandbox keeps its state"):
        fresh_sandbox(state_dir=first.state_dir)
    assert first.control("GET", "/_sandbox/health").status_code == 200


def test_a_deleted_account_is_gone_and_cannot_be_paid_or_onboarded(
    fresh_sandbox: FreshSandbox, session_params: SessionParams
) -> None:
    sandbox = fresh_sandbox()
    client = sandbox.client()
    account = client.v1.accounts.create(params={"type": "express"})
    deleted = client.v1.accounts.delete(account.id)
    assert deleted.deleted is True and deleted.id == account.id
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.accounts.retrieve(account.id)
    assert missing.value.http_status == 404 and missing.value.code == "resource_missing"
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.checkout.sessions.create(params=session_params(fee=100, destination=account.id))
    assert refused.value.code == "resource_missing"
    assert refused.value.param == "payment_intent_data[transfer_data][destination]"
    with pytest.raises(stripe.InvalidRequestError) as no_link:
        client.v1.account_links.create(
            params={
                "account": account.id,
                "type": "account_onboarding",
                "refresh_url": "http://127.0.0.1:9/r",
                "return_url": "http://127.0.0.1:9/x",
            }
        )
    assert no_link.value.code == "resource_missing" and no_link.value.param == "account"
