"""Deposits and balances through the whole stack (Envoy → gateways → services → PostgreSQL, the Stripe
sandbox paying and delivering signed webhooks back through Envoy): the widget's schedule quote, a
checkout that charges the deposit and confirms on it, the schedule in the couple's and the admin's
views, the couple paying the balance from their link, and a ledger that reconciles.

The tenant takes a 25 % deposit with the balance due 30 days before the event, set through
`PATCH /v1/tenant-admin/settings` `paymentPolicy`."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.conftest import MakeTenant, eventually, mails_to
from tests.e2e.test_payments_flows import (
    Sandbox,
    Shop,
    a_free_day,
    booking_of,
    ledger,
    make_shop,
    sandbox,
    started,
    status_becomes,
    text_of,
)
from tools.stack.launcher import Stack

__all__ = ["sandbox"]

TERMS = {"depositKind": "percent", "depositBps": 2500, "balanceDueDays": 30}


def quote_schedule(http: httpx.Client, shop: Shop, day: str) -> dict[str, Any]:
    answer = http.get(
        "/v1/checkout/schedule",
        params={"packageId": shop.package_id, "addOnIds": shop.add_on_id, "eventDate": day},
        headers=shop.tenant.public_headers(),
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def shop_with_deposit(
    http: httpx.Client, stack: Stack, make_tenant: MakeTenant, terms: dict[str, Any] = TERMS
) -> Shop:
    """A shop (make_shop) whose tenant takes a deposit on `terms`, set as its admin would."""
    shop = make_shop(stack, make_tenant)
    changed = http.patch(
        "/v1/tenant-admin/settings", json={"paymentPolicy": terms}, headers=shop.tenant.admin_headers()
    )
    assert changed.status_code == 200, changed.text
    return shop


def manage_token(stack: Stack, couple: str, booking_id: str) -> str:
    def link() -> str | None:
        for message in mails_to(stack, couple):
            for word in text_of(message).split():
                if f"/booking/{booking_id}?token=" in word:
                    return word.split("token=", 1)[1].rstrip(".,)>")
        return None

    token = eventually(link, timeout=20)
    assert token, "no manage link in the confirmation email"
    return token


def test_a_deposit_confirms_the_booking_and_the_couple_pays_the_balance_from_their_link(
    http: httpx.Client, stack: Stack, sandbox: Sandbox, make_tenant: MakeTenant
) -> None:
    shop = shop_with_deposit(http, stack, make_tenant)
    day = a_free_day()
    quoted = quote_schedule(http, shop, day)
    assert [(i["kind"], i["amountCents"]) for i in quoted["instalments"]] == [
        ("DEPOSIT", 2_500),
        ("BALANCE", 7_500),
    ]
    assert quoted["policy"]["depositBps"] == 2_500

    couple = f"deposit-{day}@example.com"
    answer = started(http, shop, day, email_address=couple)
    assert (answer["totalCents"], answer["amountDueNowCents"]) == (10_000, 2_500)
    assert [i["amountCents"] for i in answer["schedule"]["instalments"]] == [2_500, 7_500]
    booking_id = answer["bookingId"]
    sandbox.pay(answer["checkoutUrl"])
    status_becomes(http, shop, booking_id, "CONFIRMED")

    admin_view = booking_of(http, shop, booking_id)
    assert admin_view["amountPaidCents"] == 2_500
    schedule = admin_view["schedule"]
    assert [(i["status"], i.get("feeCents")) for i in schedule["instalments"]] == [("PAID", 250), ("DUE", 0)]
    assert (schedule["paidCents"], schedule["outstandingCents"]) == (2_500, 7_500)

    token = manage_token(stack, couple, booking_id)
    couple_view = http.get(f"/v1/bookings/{booking_id}", params={"token": token})
    assert couple_view.status_code == 200, couple_view.text
    theirs = couple_view.json()["schedule"]
    assert theirs["nextDueDate"] == quoted["instalments"][1]["dueDate"]
    assert all("feeCents" not in i for i in theirs["instalments"])

    # The admin sends the confirmation again: with the balance owed, it is the deposit's receipt again.
    resent = http.post(
        f"/v1/tenant-admin/bookings/{booking_id}/resend-confirmation",
        headers={**shop.tenant.admin_headers(), "Idempotency-Key": f"resend-{booking_id}"},
    )
    assert resent.status_code == 202, resent.text

    def receipts() -> list[str] | None:
        found = [text_of(m) for m in mails_to(stack, couple) if "deposit is received" in str(m["Subject"])]
        return found if len(found) == 2 else None

    both = eventually(receipts, timeout=20)
    assert both, "the resent confirmation was not the deposit's receipt"
    assert all("Balance: 75.00 USD, due" in body for body in both)

    assert http.post(f"/v1/bookings/{booking_id}/pay", params={"token": "forged"}).status_code == 404
    pay = http.post(f"/v1/bookings/{booking_id}/pay", params={"token": token}, json={})
    assert pay.status_code == 200, pay.text
    again = http.post(f"/v1/bookings/{booking_id}/pay", params={"token": token}, json={})
    assert again.json()["checkoutUrl"] == pay.json()["checkoutUrl"]
    assert (pay.json()["instalment"]["seq"], pay.json()["instalment"]["amountCents"]) == (2, 7_500)
    session = sandbox.get(f"/v1/checkout/sessions/{pay.json()['checkoutUrl'].rsplit('/', 1)[-1]}")
    assert session["amount_total"] == 7_500
    assert session["success_url"].endswith(f"/booking/{booking_id}?token={token}&paid=1")

    sandbox.pay(pay.json()["checkoutUrl"])

    def paid_in_full() -> dict[str, Any] | None:
        view = booking_of(http, shop, booking_id)
        return view if view["schedule"]["outstandingCents"] == 0 else None

    settled = eventually(paid_in_full, timeout=20)
    assert settled, "the balance's payment was not recorded"
    assert [i["status"] for i in settled["schedule"]["instalments"]] == ["PAID", "PAID"]
    books = ledger(http, sandbox, shop, booking_id)
    assert (books["totals"]["chargedCents"], books["totals"]["feeCents"]) == (10_000, 1_000)
    nothing = http.post(f"/v1/bookings/{booking_id}/pay", params={"token": token}, json={})
    assert (nothing.status_code, nothing.json()["error"]) == (409, "NOTHING_DUE")


def test_the_schedule_quote_adds_up_to_the_total_and_names_a_bad_field(
    http: httpx.Client, stack: Stack, make_tenant: MakeTenant
) -> None:
    shop = make_shop(stack, make_tenant)
    quoted = quote_schedule(http, shop, a_free_day())
    assert sum(i["amountCents"] for i in quoted["instalments"]) == quoted["totalCents"] == 10_000
    assert quoted["instalments"][0]["seq"] == 1
    for params, field in (
        ({"packageId": shop.package_id, "eventDate": "next june"}, "eventDate"),
        (
            {"packageId": shop.package_id, "eventDate": "2031-06-01", "addOnIds": ",".join(["a"] * 21)},
            "addOnIds",
        ),
    ):
        refused = http.get("/v1/checkout/schedule", params=params, headers=shop.tenant.public_headers())
        assert refused.status_code == 400, refused.text
        assert [f["field"] for f in refused.json()["fields"]] == [field]
