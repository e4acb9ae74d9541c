"""The email built off the hot path: a use case records a template and its arguments
(`emails.later`), the outbox dispatcher renders them when it sends (`emails.render`). What a couple
or an admin reads is byte for byte what the template built in the transaction before, attachments
(the .ics) included, for every template; ids and tags are known without rendering."""

from __future__ import annotations

import inspect
import json
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from mais_runtime import mail as mail_module
from mais_runtime.mail import Mail, build_message
from services.booking import emails
from services.booking.domain import AdminContact, Booking, HistoryEntry, Quote, Status
from services.booking.schedules import Instalment

BERLIN = ZoneInfo("Europe/Berlin")
LINK = "https://book.example/booking/bk_x?token=t0k&x=1"
DEPOSIT = Instalment(1, "DEPOSIT", 30000, "usd", date(2026, 12, 1), "PAID", paid_cents=30000)
BALANCE = Instalment(2, "BALANCE", 120000, "usd", date(2027, 5, 13), note="by transfer")
SCHEDULE = (DEPOSIT, BALANCE)
ADMINS = (AdminContact("owner@studio.example"), AdminContact("second@studio.example"))
NAME = "Café Zoë & <Søn>"


def day_booking() -> Booking:
    at = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)
    return Booking(
        id="bk_" + "q" * 26,
        tenant_id="6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab",
        event_date=date(2027, 6, 12),
        status=Status.CONFIRMED,
        customer_id="cu_1",
        couple_name='Ann <script>"x"</script> & Zoë',
        email="ann@example.com",
        phone="+49 30 1234",
        notes="Vegetarian, <b>please</b>\nsecond line",
        quote=Quote(
            "pkg_1",
            150000,
            "usd",
            {
                "lines": [
                    {"kind": "package", "title": "Full <day>", "priceCents": 140000},
                    {"kind": "addon", "slug": "drone", "priceCents": "10000"},
                ],
                "totalCents": 150000,
                "nested": {"list": [1, 2.5, None, True]},
            },
        ),
        payment_session_id="cs_1",
        hold_expires_at=None,
        amount_paid_cents=30000,
        amount_refunded_cents=7000,
        cancel_reason="balance_unpaid",
        created_at=at,
        updated_at=at,
        client_address="203.0.113.9",
        history=(HistoryEntry("HELD", "CONFIRMED", "payments", "payment received", at),),
    )


def slot_booking() -> Booking:
    start = datetime(2027, 6, 12, 22, 0, tzinfo=UTC)
    return replace(
        day_booking(),
        kind="SLOT",
        starts_at=start,
        ends_at=datetime(2027, 6, 13, 0, 30, tzinfo=UTC),
        resource_id="res_1",
        buffer_before_minutes=15,
        buffer_after_minutes=30,
        cancel_reason="weather",
    )


def calls(b: Booking) -> list[tuple[Callable[..., Mail], tuple[Any, ...], dict[str, Any]]]:
    """Every template with arguments as the use cases pass them."""
    common = {"reply_to": "owner@studio.example", "zone": BERLIN}
    return [
        (emails.confirmation, (b, NAME, LINK), {"schedule": SCHEDULE, **common}),
        (emails.confirmation, (b, NAME, LINK), {}),
        (
            emails.balance_reminder,
            (b, NAME, LINK, BALANCE, SCHEDULE),
            {"due_today": True, "key": "k1", **common},
        ),
        (emails.balance_reminder, (b, NAME, LINK, BALANCE, SCHEDULE), {"due_today": False, "key": "k2"}),
        (
            emails.balance_overdue,
            (b, NAME, LINK, BALANCE, SCHEDULE),
            {"consequence": "cancel", "action_date": date(2027, 5, 20), "key": "k3", **common},
        ),
        (
            emails.balance_overdue,
            (b, NAME, LINK, BALANCE, SCHEDULE),
            {"consequence": "remind", "action_date": None, "key": "k3b"},
        ),
        (
            emails.balance_receipt,
            (b, NAME, LINK, 120000, SCHEDULE),
            {"offline": True, "note": "cash <3", "key": "k4", **common},
        ),
        (emails.due_date_moved, (b, NAME, LINK, BALANCE, SCHEDULE), {"note": "later", "key": "k5", **common}),
        (emails.cancellation, (b, NAME), common),
        (emails.refund, (b, NAME, 7000, "re_1"), {"kept_cents": 3000, **common}),
        (emails.hold_lost_refund, (b, NAME, 30000, "re_2"), common),
        (emails.reminder, (b, NAME, LINK, 7), common),
        (emails.admin_new_booking, (b, NAME, ADMINS), common),
        (emails.admin_couple_cancelled, (b, NAME, ADMINS), common),
        (emails.admin_balance_paid, (b, NAME, ADMINS, 120000, SCHEDULE), {"key": "k6", **common}),
        (emails.admin_cancelled_for_non_payment, (b, NAME, list(ADMINS)), common),
        (emails.admin_refund, (b, NAME, ADMINS, 7000, "re_3"), {"hold_lost": False, **common}),
        (emails.admin_refund, (b, NAME, ADMINS, 7000, "re_4"), {"hold_lost": True, **common}),
        (emails.booking_moved, (day_booking(), b, NAME, LINK), {"key": "k7", **common}),
    ]


def eml(mail: Mail, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """The .eml bytes the file sink writes, with the date, the Message-ID's random part and the MIME
    boundaries fixed (they differ between two sends of one message anyway)."""
    monkeypatch.setattr(mail_module, "formatdate", lambda **_: "Tue, 01 Dec 2026 10:00:00 +0000")
    monkeypatch.setattr(mail_module, "make_msgid", lambda idstring, domain: f"<{idstring}@{domain}>")
    random.seed(7)
    return bytes(build_message(mail, "MAIS Bookings <bookings@mais.local>"))


def through_the_outbox(template: Callable[..., Mail], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Mail:
    """Queued in the transaction, stored as jsonb text, read back and rendered by the dispatcher."""
    queued = emails.later(template, *args, **kwargs)
    stored = json.loads(json.dumps(queued.args))
    return replace(emails.render(queued.template, stored), message_id=queued.message_id)


@pytest.mark.parametrize("make", [day_booking, slot_booking])
def test_every_template_renders_the_same_bytes_later_as_in_the_transaction(
    make: Callable[[], Booking], monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = calls(make())
    for template, args, kwargs in cases:
        before = template(*args, **kwargs)
        after = through_the_outbox(template, args, kwargs)
        assert after == before, template.__name__
        assert eml(after, monkeypatch) == eml(before, monkeypatch), template.__name__
    confirmation = emails.confirmation(*cases[0][1], **cases[0][2])
    assert [a.filename for a in confirmation.attachments] == ["booking.ics"]


def test_a_queued_mails_id_and_tag_are_the_templates_own() -> None:
    for template, args, kwargs in calls(slot_booking()):
        queued = emails.later(template, *args, **kwargs)
        built = template(*args, **kwargs)
        assert (queued.message_id, queued.tag, queued.template) == (
            built.message_id,
            built.tag,
            template.__name__,
        )


def test_every_email_template_can_be_queued() -> None:
    templates = {
        name
        for name, value in vars(emails).items()
        if inspect.isfunction(value)
        and not name.startswith("_")
        and value.__module__ == emails.__name__
        and inspect.signature(value).return_annotation in ("Mail", Mail)
        and name != "render"
    }
    assert templates == set(emails._PLANS)
    assert {template.__name__ for template, _a, _k in calls(day_booking())} == templates


def test_what_cannot_be_queued_or_rendered_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="template: <lambda> is not a booking email template"):
        emails.later(lambda b: emails.reminder(b, NAME, LINK, 7), day_booking())
    with pytest.raises(TypeError, match="reminder\\(\\) got an unexpected or repeated argument 'colour'"):
        emails.later(emails.reminder, day_booking(), NAME, LINK, 7, colour="red")
    with pytest.raises(TypeError, match="reminder\\(\\) got an unexpected or repeated argument 'link'"):
        emails.later(emails.reminder, day_booking(), NAME, LINK, 7, link=LINK)
    with pytest.raises(TypeError, match=r"reminder\(\) is missing \['days'\]"):
        emails.later(emails.reminder, day_booking(), NAME, LINK)
    with pytest.raises(TypeError, match="reminder\\(\\) takes 4 positional arguments but 5 were given"):
        emails.later(emails.reminder, day_booking(), NAME, LINK, 7, "x")
    with pytest.raises(TypeError, match="an email argument of type object cannot be queued"):
        emails.later(emails.reminder, day_booking(), NAME, object(), 7)
    with pytest.raises(ValueError, match="'welcome' is not a booking email template"):
        emails.render("welcome", {})
    queued = emails.later(emails.reminder, day_booking(), NAME, LINK, 7)
    with pytest.raises(ValueError, match="unknown type 'Robot'"):
        emails.render("reminder", {**queued.args, "booking": {"$t": "Robot", "v": {}}})
