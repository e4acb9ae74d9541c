"""What a couple's own cancellation refunds and keeps, through the whole stack, when the business's
terms make the deposit non-refundable: the couple's view says it before they cancel (`keptCents`),
the refund gives back only the balance (latest payment first, its own share of the fee), and the
refund email says the deposit stays. And a balance the business marked paid outside Stripe: a full
refund at the tenant admin's cancellation gives back only what went through Stripe, and the
offline instalment stays paid (the business settles that money with the couple itself)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.e2e.conftest import MakeTenant, eventually, mails_to
from tests.e2e.test_payment_schedules import manage_token
from tests.e2e.test_payments_flows import (
    Sandbox,
    Shop,
    a_free_day,
    booking_of,
    make_shop,
    sandbox,
    started,
    status_becomes,
    text_of,
)
from tests.e2e.test_payments_flows import ledger as reconciled_ledger
from tools.stack.launcher import Stack

__all__ = ["sandbox"]

KEEP_DEPOSIT = {
    "depositKind": "percent",
    "depositBps": 3000,
    "balanceDueDays": 30,
    "depositRefundable": False,
}


def shop_keeping_deposits(http: httpx.Client, stack: Stack, make_tenant: MakeTenant) -> Shop:
    shop = make_shop(stack, make_tenant)
    changed = http.patch(
        "/v1/tenant-admin/settings", json={"paymentPolicy": KEEP_DEPOSIT}, headers=shop.tenant.admin_headers()
    )
    assert changed.status_code == 200, changed.text
    return shop


def deposit_booking(http: httpx.Client, stack: Stack, sandbox: Sandbox, shop: Shop, couple: str) -> str:
    """A confirmed booking of 100.00: its 30.00 deposit paid at checkout."""
    answer = started(http, shop, a_free_day(), email_address=couple)
    assert answer["amountDueNowCents"] == 3_000, answer
    sandbox.pay(answer["checkoutUrl"])
    status_becomes(http, shop, answer["bookingId"], "CONFIRMED")
    return str(answer["bookingId"])


def couple_view(http: httpx.Client, booking_id: str, token: str) -> dict[str, Any]:
    answer = http.get(f"/v1/bookings/{booking_id}", params={"token": token})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_a_couple_cancelling_keeps_a_non_refundable_deposit_and_is_told_so_before_and_after(
    http: httpx.Client, stack: Stack, sandbox: Sandbox, make_tenant: MakeTenant
) -> None:
    shop = shop_keeping_deposits(http, stack, make_tenant)
    couple = f"keep-{uuid.uuid4().hex[:8]}@example.com"
    booking_id = deposit_booking(http, stack, sandbox, shop, couple)
    token = manage_token(stack, couple, booking_id)

    # Only the deposit paid: cancelling would refund nothing and keep the deposit.
    terms = couple_view(http, booking_id, token)["cancellation"]
    assert (terms["allowedNow"], terms["refundCents"], terms["keptCents"]) == (True, 0, 3_000)

    pay = http.post(f"/v1/bookings/{booking_id}/pay", params={"token": token}, json={})
    assert pay.status_code == 200, pay.text
    sandbox.pay(pay.json()["checkoutUrl"])
    paid = eventually(
        lambda: (v := couple_view(http, booking_id, token))["schedule"]["outstandingCents"] == 0 and v,
        timeout=20,
    )
    assert paid, "the balance's payment was not recorded"
    assert (paid["cancellation"]["refundCents"], paid["cancellation"]["keptCents"]) == (7_000, 3_000)

    cancelled = http.post(
        f"/v1/bookings/{booking_id}/cancel", params={"token": token}, json={"reason": "Plans changed"}
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "CANCELLED"
    assert cancelled.json()["refund"]["refundedCents"] == 7_000

    books = reconciled_ledger(http, sandbox, shop, booking_id)
    refunds = [e for e in books["entries"] if e["kind"] == "refund"]
    # Only the balance's payment gave money back, with its own share of the fee (10 %).
    assert [(e["amountCents"], e["instalmentSeq"]) for e in refunds] == [(7_000, 2)]
    assert (books["totals"]["refundedCents"], books["totals"]["feeRefundedCents"]) == (7_000, 700)
    assert books["totals"]["netPaidCents"] == 3_000
    schedule = booking_of(http, shop, booking_id)["schedule"]
    assert [(i["kind"], i["status"], i["refundedCents"]) for i in schedule["instalments"]] == [
        ("DEPOSIT", "PAID", 0),
        ("BALANCE", "REFUNDED", 7_000),
    ]

    def refund_mail() -> str | None:
        for message in mails_to(stack, couple):
            if "refund" in str(message["Subject"]).lower():
                return text_of(message)
        return None

    mail = eventually(refund_mail, timeout=20)
    assert mail, "no refund email"
    assert "refunded 70.00 USD" in mail
    assert "deposit of 30.00 USD is not refundable" in mail


def test_a_full_refund_never_gives_back_what_was_paid_outside_stripe(
    http: httpx.Client, stack: Stack, sandbox: Sandbox, make_tenant: MakeTenant
) -> None:
    shop = shop_keeping_deposits(http, stack, make_tenant)
    couple = f"offline-{uuid.uuid4().hex[:8]}@example.com"
    booking_id = deposit_booking(http, stack, sandbox, shop, couple)
    marked = http.post(
        f"/v1/tenant-admin/bookings/{booking_id}/instalments/2/mark-paid",
        json={"note": "Bank transfer received"},
        headers=shop.tenant.admin_headers(),
    )
    assert marked.status_code == 200, marked.text
    token = manage_token(stack, couple, booking_id)
    # The couple's own cancellation: the deposit is kept, the balance never went through Stripe.
    assert couple_view(http, booking_id, token)["cancellation"]["refundCents"] == 0

    cancelled = http.post(
        f"/v1/tenant-admin/bookings/{booking_id}/cancel",
        json={"reason": "The venue closed", "refund": "full"},
        headers=shop.tenant.admin_headers(),
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["refund"]["refundedCents"] == 3_000
    books = reconciled_ledger(http, sandbox, shop, booking_id)
    assert (books["totals"]["chargedCents"], books["totals"]["refundedCents"]) == (3_000, 3_000)
    schedule = booking_of(http, shop, booking_id)["schedule"]
    assert [(i["status"], i["paidOffline"]) for i in schedule["instalments"]] == [
        ("REFUNDED", False),
        ("PAID", True),
    ]
