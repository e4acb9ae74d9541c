"""The couple's signed link and the emails' content: escaping and header safety."""

from __future__ import annotations

import email
from datetime import UTC, date, datetime
from email import policy as email_policy

from mais_runtime.mail import build_message
from services.booking import emails, links
from services.booking.domain import Booking, Quote, Status

KEY = b"k" * 48
TENANT = "6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab"
OTHER_TENANT = "00000000-0000-4000-8000-000000000000"
BOOKING = "bk_" + "b" * 26
EVENT = date(2030, 9, 1)


def test_a_token_opens_its_booking_until_the_day_after_the_event() -> None:
    token = links.sign_token(KEY, booking_id=BOOKING, tenant_id=TENANT, event_date=EVENT)
    for today in (date(2030, 1, 1), EVENT, date(2030, 9, 2)):
        assert links.verify_token(KEY, token, booking_id=BOOKING, tenant_id=TENANT, today=today)
    assert not links.verify_token(KEY, token, booking_id=BOOKING, tenant_id=TENANT, today=date(2030, 9, 3))


def test_a_token_opens_no_other_booking_tenant_or_key() -> None:
    token = links.sign_token(KEY, booking_id=BOOKING, tenant_id=TENANT, event_date=EVENT)
    today = date(2030, 1, 1)
    assert not links.verify_token(KEY, token, booking_id="bk_" + "c" * 26, tenant_id=TENANT, today=today)
    assert not links.verify_token(KEY, token, booking_id=BOOKING, tenant_id=OTHER_TENANT, today=today)
    assert not links.verify_token(b"x" * 48, token, booking_id=BOOKING, tenant_id=TENANT, today=today)


def test_a_token_whose_expiry_or_tenant_was_edited_is_refused() -> None:
    token = links.sign_token(KEY, booking_id=BOOKING, tenant_id=TENANT, event_date=EVENT)
    tenant_part, expiry, mac = token.split(".")
    later = f"{tenant_part}.20990101.{mac}"
    assert not links.verify_token(KEY, later, booking_id=BOOKING, tenant_id=TENANT, today=date(2030, 1, 1))
    forged = f"{OTHER_TENANT.replace('-', '')}.{expiry}.{mac}"
    assert not links.verify_token(
        KEY, forged, booking_id=BOOKING, tenant_id=OTHER_TENANT, today=date(2030, 1, 1)
    )
    for garbage in ("", "abc", token + "x", token.replace(".", "-")):
        assert not links.verify_token(
            KEY, garbage, booking_id=BOOKING, tenant_id=TENANT, today=date(2030, 1, 1)
        )


def test_the_token_names_its_tenant_for_routing() -> None:
    token = links.sign_token(KEY, booking_id=BOOKING, tenant_id=TENANT, event_date=EVENT)
    assert links.tenant_of_token(token) == TENANT
    assert links.tenant_of_token("nonsense") is None


def hostile_booking() -> Booking:
    now = datetime(2030, 5, 1, tzinfo=UTC)
    return Booking(
        id=BOOKING,
        tenant_id=TENANT,
        event_date=EVENT,
        status=Status.CONFIRMED,
        customer_id="cu_1",
        couple_name='Ann <script>alert("x")</script>\r\nBcc: victim@evil.test',
        email="ann@example.com",
        phone="",
        notes="<img src=x onerror=alert(1)> & more",
        quote=Quote(
            "pkg",
            123456,
            "usd",
            {"lines": [{"kind": "package", "title": "<b>Gold</b>", "priceCents": "123456"}]},
        ),
        payment_session_id="cs_1",
        hold_expires_at=None,
        amount_paid_cents=123456,
        amount_refunded_cents=0,
        cancel_reason="<i>weather</i>",
        created_at=now,
        updated_at=now,
    )


def test_everything_a_customer_typed_is_escaped_in_the_html_part() -> None:
    booking = hostile_booking()
    for mail in (
        emails.confirmation(booking, "Studio <One>", "http://x.test/v1/bookings/b?token=t&x=1"),
        emails.cancellation(booking, "Studio <One>"),
        emails.refund(booking, "Studio <One>", 1000, "re_1"),
        emails.hold_lost_refund(booking, "Studio <One>", 1000, "re_1"),
        emails.reminder(booking, "Studio <One>", "http://x.test/l", 7),
    ):
        assert "<script>" not in mail.html and "<img" not in mail.html and "<b>Gold" not in mail.html
        assert "<i>weather" not in mail.html and "Studio <One>" not in mail.html
        assert "&lt;script&gt;" in mail.html
        assert mail.text and mail.html.startswith("<!doctype html>")


def test_a_name_with_line_breaks_cannot_add_headers() -> None:
    mail = emails.confirmation(hostile_booking(), "Studio", "http://x.test/l")
    raw = bytes(build_message(mail, "MAIS <bookings@mais.local>"))
    parsed = email.message_from_bytes(raw, policy=email_policy.default)
    assert parsed["Bcc"] is None
    assert "ann@example.com" in str(parsed["To"])
    # The text and HTML alternatives, then the calendar invitation the confirmation carries.
    assert [part.get_content_type() for part in parsed.walk()][1:] == [
        "multipart/alternative",
        "text/plain",
        "text/html",
        "text/calendar",
    ]


def test_amounts_are_shown_in_the_currency_of_the_quote() -> None:
    assert emails.money(123456, "usd") == "1,234.56 USD"
    assert emails.money(5, "eur") == "0.05 EUR"
    assert emails.money(-90000, "usd") == "-900.00 USD"
    mail = emails.confirmation(hostile_booking(), "Studio", "http://x.test/l")
    assert "Total: 1,234.56 USD" in mail.text
    assert "http://x.test/l" in mail.text


def test_amounts_follow_the_currencys_own_minor_unit() -> None:
    # Stripe's amounts are in the smallest unit: a yen has none, a Kuwaiti dinar has thousandths.
    assert emails.money(150000, "jpy") == "150,000 JPY"
    assert emails.money(1500, "kwd") == "1.500 KWD"
    assert emails.money(100, "gbp") == "1.00 GBP"


def test_emails_write_dates_as_people_read_them_whatever_the_servers_locale() -> None:
    assert emails.day_for_people(date(2027, 6, 12)) == "Saturday 12 June 2027"
    assert emails.day_for_people(date(2030, 1, 1)) == "Tuesday 1 January 2030"


def test_the_refund_email_says_a_non_refundable_deposit_stays_with_the_business() -> None:
    booking = hostile_booking()
    kept = emails.refund(booking, "Rose & Oak", 7000, "re_2", kept_cents=3000)
    assert "Your deposit of 30.00 USD is not refundable under Rose &amp; Oak" in kept.html
    assert "Your deposit of 30.00 USD is not refundable under Rose & Oak's payment terms" in kept.text
    assert "deposit" not in emails.refund(booking, "Rose & Oak", 7000, "re_2").text
