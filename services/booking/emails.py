"""The emails a booking sends its couple and its business's admins, as plain text and HTML.

Every email speaks for the business: its name is the From display name (the address stays the
platform's) and replies go to the tenant's contact address.

Everything a customer or a tenant typed (names, notes, package titles) is escaped for the HTML part;
headers are made single-line by the mail adapter (`email.message.EmailMessage`), so a name with CR/LF
cannot add headers. Each message's id is its outbox dedupe key, so the file sink writes it once.
"""

from __future__ import annotations

import dataclasses
import html
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from mais_runtime.ical import CalendarEvent, document
from mais_runtime.mail import Attachment, Mail, sender_display
from mais_runtime.money import decimal_amount
from mais_runtime.outbox import QueuedMail
from services.booking.domain import AdminContact, Booking, HistoryEntry, Quote, Status
from services.booking.schedules import BALANCE_UNPAID, Instalment, has_balance, outstanding_cents


def money(amount: int, currency: str) -> str:
    """An amount in the currency's smallest unit, for people: 123456 usd -> "1,234.56 USD",
    150000 jpy -> "150,000 JPY"."""
    return f"{decimal_amount(amount, currency)} {currency.upper()}"


_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def day_for_people(day: date) -> str:
    """A date as a couple reads it, in every email: 2027-06-12 -> "Saturday 12 June 2027" (English
    names whatever the server's locale; the day's number first, which no reader misreads)."""
    return f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


# Emails built without the tenant's zone (whole days need none) read a slot's times in UTC.
UTC_ZONE = ZoneInfo("UTC")
_EN_DASH = "\u2013"


def _clock(moment: datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%H:%M}"


def when_for_people(booking: Booking, zone: ZoneInfo) -> str:
    """When the booking is, as a couple reads it in every email: the day ("Saturday 12 June 2027")
    for a whole day; for a time slot the day and its start and end on the business's clock, with the
    zone named so a couple elsewhere is not misled ("Saturday 12 June 2027, 14:00\u201315:30
    (Europe/Berlin)", an en dash between the times), the end's day too when the slot runs past midnight."""
    if booking.starts_at is None or booking.ends_at is None:
        return day_for_people(booking.event_date)
    start, end = booking.starts_at.astimezone(zone), booking.ends_at.astimezone(zone)
    first = f"{day_for_people(start.date())}, {_clock(start, zone)}"
    if end.date() == start.date():
        return f"{first}{_EN_DASH}{_clock(end, zone)} ({zone.key})"
    return f"{first} to {day_for_people(end.date())}, {_clock(end, zone)} ({zone.key})"


def when_in_subject(booking: Booking, zone: ZoneInfo) -> str:
    """When the booking is, short enough for a subject line and in plain ASCII (a subject with an en
    dash is folded by the mail library with a doubled space): the day, and a slot's start on the
    business's clock ("Saturday 12 June 2027 at 14:00"); the body says the rest."""
    if booking.starts_at is None:
        return day_for_people(booking.event_date)
    start = booking.starts_at.astimezone(zone)
    return f"{day_for_people(start.date())} at {_clock(start, zone)}"


def _lines(booking: Booking) -> list[tuple[str, int]]:
    lines: Iterable[Mapping[str, Any]] = booking.quote.document.get("lines", [])
    return [
        (str(line.get("title") or line.get("slug") or ""), int(line.get("priceCents", 0))) for line in lines
    ]


def _page(title: str, paragraphs: list[str], link: tuple[str, str] | None = None) -> str:
    """A minimal HTML body; `paragraphs` are already escaped."""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    if link:
        href, label = link
        body += f'<p><a href="{html.escape(href, quote=True)}">{html.escape(label)}</a></p>'
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head><body>{body}</body></html>"
    )


def _summary(booking: Booking) -> tuple[list[str], list[str]]:
    """The booking's lines and total, as text lines and as escaped HTML paragraphs."""
    text_lines = [f"  {title}: {money(cents, booking.quote.currency)}" for title, cents in _lines(booking)]
    total = money(booking.quote.total_cents, booking.quote.currency)
    text_lines.append(f"  Total: {total}")
    html_lines = [
        "<br>".join(
            [
                html.escape(f"{title}: {money(cents, booking.quote.currency)}")
                for title, cents in _lines(booking)
            ]
            + [f"<strong>Total: {html.escape(total)}</strong>"]
        )
    ]
    return text_lines, html_lines


def _mail(
    kind: str,
    dedupe_key: str,
    booking: Booking,
    subject: str,
    text: str,
    body_html: str,
    *,
    tenant_name: str,
    reply_to: str,
) -> Mail:
    return Mail(
        message_id=dedupe_key,
        to=sender_display(booking.couple_name, booking.email),
        subject=subject,
        text=text,
        html=body_html,
        tag=kind,
        from_name=tenant_name,
        reply_to=reply_to,
    )


def confirmation(
    booking: Booking,
    tenant_name: str,
    link: str,
    *,
    schedule: Sequence[Instalment] = (),
    reply_to: str = "",
    zone: ZoneInfo = UTC_ZONE,
) -> Mail:
    """ "Your date is booked", with the couple's private link and the booking as a calendar invitation
    (`booking.ics`). With a balance still to pay it is the deposit's receipt: the schedule (what is
    paid, what is due when) and where to pay the rest."""
    if has_balance(schedule):
        mail = _deposit_receipt(booking, tenant_name, link, schedule, reply_to=reply_to, zone=zone)
    else:
        mail = _paid_in_full(booking, tenant_name, link, reply_to=reply_to, zone=zone)
    return replace(mail, attachments=(calendar_invitation(booking, tenant_name, link),))


INVITATION_PRODID = "-//MAIS//Booking confirmation//EN"


def package_title(booking: Booking) -> str:
    """The booked package's title as quoted ("" when the quote has none)."""
    lines: Iterable[Mapping[str, Any]] = booking.quote.document.get("lines", [])
    return next((str(line.get("title") or "") for line in lines if line.get("kind") == "package"), "")


def calendar_invitation(booking: Booking, tenant_name: str, link: str) -> Attachment:
    """The booking as one event for the couple's calendar (METHOD:PUBLISH, UID the booking id): the
    whole day as an all-day event, a slot from its start to its end in UTC (buffers are the business's,
    not the couple's). DTSTAMP is the booking's last change, so a resend carries the same document."""
    title = package_title(booking)
    event = CalendarEvent(
        uid=booking.id,
        day=booking.event_date,
        summary=f"{title} with {tenant_name}" if title else tenant_name,
        starts_at=booking.starts_at,
        ends_at=booking.ends_at,
        description=f"Your booking: {link}\nBooking reference: {booking.id}",
    )
    content = document(INVITATION_PRODID, [event], booking.updated_at)
    return Attachment("booking.ics", "text/calendar; method=PUBLISH; charset=utf-8", content.encode())


def _paid_in_full(booking: Booking, tenant_name: str, link: str, *, reply_to: str, zone: ZoneInfo) -> Mail:
    day = when_for_people(booking, zone)
    subject = f"{tenant_name}: your booking for {when_in_subject(booking, zone)} is confirmed"
    text_summary, html_summary = _summary(booking)
    text = "\n".join(
        [
            f"Hello {booking.couple_name},",
            "",
            f"{tenant_name} has confirmed your booking for {day}.",
            "",
            *text_summary,
            f"  Paid: {money(booking.amount_paid_cents, booking.quote.currency)}",
            "",
            f"Your notes: {booking.notes}" if booking.notes else "",
            "View or cancel your booking at any time (this link is private to you):",
            link,
            "",
            f"Booking reference: {booking.id}",
        ]
    )
    paragraphs = [
        f"Hello {html.escape(booking.couple_name)},",
        f"{html.escape(tenant_name)} has confirmed your booking for <strong>{day}</strong>.",
        *html_summary,
        f"Paid: {html.escape(money(booking.amount_paid_cents, booking.quote.currency))}",
    ]
    if booking.notes:
        paragraphs.append(f"Your notes: {html.escape(booking.notes)}")
    paragraphs.append(f"Booking reference: {html.escape(booking.id)}")
    return _mail(
        "booking.confirmation",
        f"confirmation:{booking.id}",
        booking,
        subject,
        text,
        _page(subject, paragraphs, (link, "View your booking")),
        tenant_name=tenant_name,
        reply_to=reply_to,
    )


# --- payment schedules -------------------------------------------------------------------------


def _schedule_line(instalment: Instalment) -> str:
    """One instalment as the couple reads it: "Balance: 1,200.00 USD, due Saturday 1 May 2027"."""
    amount = money(instalment.amount_cents, instalment.currency)
    if instalment.status == "PAID":
        state = "paid" + (" (recorded by hand)" if instalment.paid_offline else "")
    elif instalment.owed:
        state = f"due {day_for_people(instalment.due_date)}"
        if instalment.status == "OVERDUE":
            state += " (overdue)"
    else:
        state = {"WAIVED": "waived", "REFUNDED": "refunded", "CANCELLED": "cancelled"}[instalment.status]
    return f"{instalment.label}: {amount}, {state}"


def _schedule_text(schedule: Sequence[Instalment]) -> list[str]:
    return ["Your payments:", *(f"  {_schedule_line(i)}" for i in schedule)]


def _schedule_html(schedule: Sequence[Instalment]) -> str:
    return "Your payments:<br>" + "<br>".join(html.escape(_schedule_line(i)) for i in schedule)


def _still_to_pay(schedule: Sequence[Instalment], currency: str) -> str:
    """ "Still to pay: 1,200.00 USD by Saturday 1 May 2027." or "You have now paid in full." """
    owed = [i for i in schedule if i.owed]
    if not owed:
        return "You have now paid in full. Thank you!"
    return (
        f"Still to pay: {money(outstanding_cents(schedule), currency)}"
        f" by {day_for_people(min(i.due_date for i in owed))}."
    )


def _deposit_receipt(
    booking: Booking,
    tenant_name: str,
    link: str,
    schedule: Sequence[Instalment],
    *,
    reply_to: str,
    zone: ZoneInfo,
) -> Mail:
    day = when_for_people(booking, zone)
    currency = booking.quote.currency
    subject = f"{tenant_name}: your deposit is received and {when_in_subject(booking, zone)} is booked"
    text_summary, html_summary = _summary(booking)
    still = _still_to_pay(schedule, currency)
    text = "\n".join(
        [
            f"Hello {booking.couple_name},",
            "",
            f"{tenant_name} has received your deposit of {money(booking.amount_paid_cents, currency)}"
            f" and confirmed your booking for {day}. The date is yours.",
            "",
            *text_summary,
            "",
            *_schedule_text(schedule),
            "",
            still,
            "We will remind you before it is due. You can pay it at any time from your booking's page,",
            "where you can also view or cancel your booking (this link is private to you):",
            link,
            "",
            *([f"Your notes: {booking.notes}"] if booking.notes else []),
            f"Booking reference: {booking.id}",
        ]
    )
    paragraphs = [
        f"Hello {html.escape(booking.couple_name)},",
        f"{html.escape(tenant_name)} has received your deposit of"
        f" <strong>{html.escape(money(booking.amount_paid_cents, currency))}</strong> and confirmed your"
        f" booking for <strong>{day}</strong>. The date is yours.",
        *html_summary,
        _schedule_html(schedule),
        html.escape(still) + " We will remind you before it is due. You can pay it at any time from your"
        " booking's page, where you can also view or cancel your booking (the link is private to you).",
    ]
    if booking.notes:
        paragraphs.append(f"Your notes: {html.escape(booking.notes)}")
    paragraphs.append(f"Booking reference: {html.escape(booking.id)}")
    return _mail(
        "booking.confirmation",
        f"confirmation:{booking.id}",
        booking,
        subject,
        text,
        _page(subject, paragraphs, (link, "Pay or view your booking")),
        tenant_name=tenant_name,
        reply_to=reply_to,
    )


def balance_reminder(
    booking: Booking,
    tenant_name: str,
    link: str,
    instalment: Instalment,
    schedule: Sequence[Instalment],
    *,
    due_today: bool,
    key: str,
    reply_to: str = "",
    zone: ZoneInfo = UTC_ZONE,
) -> Mail:
    """ "Your balance is due on <date>" (some days before) or "... is due today"."""
    amount = money(instalment.amount_cents, instalment.currency)
    due = day_for_people(instalment.due_date)
    event_day = when_for_people(booking, zone)
    what = instalment.label.lower()
    if due_today:
        subject = f"{tenant_name}: your {what} of {amount} is due today"
        when = f"is due today, {due}"
    else:
        subject = f"{tenant_name}: your {what} of {amount} is due on {due}"
        when = f"is due on {due}"
    text = "\n".join(
        [
            f"Hello {booking.couple_name},",
            "",
            f"A reminder about your booking with {tenant_name} on {event_day}:"
            f" the {what} of {amount} {when}.",
            "You can pay it securely from your booking's page (this link is private to you):",
            link,
            "",
            *_schedule_text(schedule),
            "",
            "If you have paid in the meantime, thank you, and please ignore this email.",
            f"Booking reference: {booking.id}",
        ]
    )
    paragraphs = [
        f"Hello {html.escape(booking.couple_name)},",
        f"A reminder about your booking with {html.escape(tenant_name)} on {event_day}: the {what} of"
        f" <strong>{html.escape(amount)}</strong> {when}.",
        "You can pay it securely from your booking's page (the link below is private to you).",
        _schedule_html(schedule),
        "If you have paid in the meantime, thank you, and please ignore this email.",
        f"Booking reference: {html.escape(booking.id)}",
    ]
    return _mail(
        "booking.balance_due_today" if due_today else "booking.balance_reminder",
        key,
        booking,
        subject,
        text,
        _page(subject, paragraphs, (link, f"Pay the {what}")),
        tenant_name=tenant_name,
        reply_to=reply_to,
    )


def balance_overdue(
    booking: Booking,
    tenant_name: str,
    link: str,
    instalment: Instalment,
    schedule: Sequence[Instalment],
    *,
    consequence: str,
    action_date: date | None,
    key: str,
    reply_to: str = "",
    zone: ZoneInfo = UTC_ZONE,
) -> Mail:
    """ "Your balance is overdue", and what happens if it stays unpaid (and on which day)."""
    amount = money(instalment.amount_cents, instalment.currency)
    due = day_for_people(instalment.due_date)
    what = instalment.label.lower()
    subject = f"{tenant_name}: your {what} of {amount} is overdue"
    if consequence and action_date is not None:
        next_step = f"If it is still unpaid on {day_for_people(action_date)}, {consequence}."
    else:
        next_step = f"Please pay it as soon as you can, or reply to this email to talk to {tenant_name}."
    text = "\n".join(
        [
            f"Hello {booking.couple_name},",
            "",
            f"The {what} of {amount} for your booking with {tenant_name} on"
            f" {when_for_people(booking, zone)} was due on {due}, and it has not been paid yet.",
            next_step,
            "",
            "You can pay it securely from your booking's page (this link is private to you):",
            link,
            "",
            *_schedule_text(schedule),
            "",
            "If you have paid in the meantime, thank you, and please ignore this email.",
            f"Booking reference: {booking.id}",
        ]
    )
    paragraphs = [
        f"Hello {html.escape(booking.couple_name)},",
        f"The {what} of <strong>{html.escape(amount)}</strong> for your booking with"
        f" {html.escape(tenant_name)} on {when_for_people(booking, zone)} was due on {due}, and it has"
        " not been paid yet.",
        f"<strong>{html.escape(next_step)}</strong>",
        _schedule_html(schedule),
        "If you have paid in the meantime, thank you, and please ignore this email.",
        f"Booking reference: {html.escape(booking.id)}",
    ]
    return _mail(
        "booking.balance_overdue",
        key,
        booking,
        subject,
        text,
        _page(subject, paragraphs, (link, f"Pay the {what}")),
        tenant_name=tenant_name,
        reply_to=reply_to,
    )


def balance_receipt(
    booking: Booking,
    tenant_name: str,
    link: str,
    amount_cents: int,
    schedule: Sequence[Instalment],
    *,
    offline: bool,
    note: str,
    key: str,
    reply_to: str = "",
    zone: ZoneInfo = UTC_ZONE,
) -> Mail:
    """ "Thank you, your payment was received", with what (if anything) is left to pay."""
    currency = booking.quote.currency
    amount = money(amount_cents, currency)
    day = when_for_people(booking, zone)
    subject = f"{tenant_name}: thank you, your payment of {amount} is received"
    how = (
        f"{tenant_name} has recorded your payment of {amount}"
        if offline
        else (f"{tenant_name} has received your payment of {amount}")
    )
    still = _still_to_pay(schedule, currency)
    text = "\n".join(
        [
            f"Hello {booking.couple_name},",
            "",
            f"{how} for your booking on {day}.",
            f"Their note: {note}" if offline and note else "",
            still,
            "",
            *_schedule_text(schedule),
            "",
            "Your booking, any time (this link is private to you):",
            link,
            "",
            f"Booking reference: {booking.id}",
        ]
    )
    paragraphs = [
        f"Hello {html.escape(booking.couple_name)},",
        f"{html.escape(how)} for your booking on <strong>{day}</strong>.",
    ]
    if offline and note:
        paragraphs.append(f"Their note: {html.escape(note)}")
    paragraphs += [
        html.escape(still),
        _schedule_html(schedule),
        f"Booking reference: {html.escape(booking.id)}",
    ]
    return _mail(
        "booking.balance_receipt",
        key,
        booking,
        subject,
        text,
        _page(subject, paragraphs, (link, "View your booking")),
        tenant_name=tenant_name,
        reply_to=reply_to,
    )


def due_date_moved(
    booking: Booking,
    tenant_name: str,
    link: str,
    instalment: Instalment,
    schedule: Sequence[Instalment],
    *,
    note: str,
    key: str,
    reply_to: str = "",
    zone: ZoneInfo = UTC_ZONE,
) -> Mail:
    """ "The due date of your balance is now <date>"."""
    amount = money(instalment.amount_cents, instalment.currency)
    due = day_for_people(instalment.due_date)
    what = instalment.label.lower()
    subject = f"{tenant_name}: your {what} of {amount} is now due on {due}"
    text = "\n".join(
        [
            f"Hello {booking.couple_name},",
            "",
            f"{tenant_name} has moved the due date of your {what} of {amount} to {due}"
            f" (your booking on {when_for_people(booking, zone)}).",
            f"Their note: {note}" if note else "",
            "",
            *_schedule_text(schedule),
            "",
            "You can pay it at any time from your booking's page (this link is private to you):",
            link,
            "",
            f"Booking reference: {booking.id}",
        ]
    )
    paragraphs = [
        f"Hello {html.escape(booking.couple_name)},",
        f"{html.escape(tenant_name)} has moved the due date of your {what} of {html.escape(amount)} to"
        f" <strong>{due}</strong> (your booking on {when_for_people(booking, zone)}).",
    ]
    if note:
        paragraphs.append(f"Their note: {html.escape(note)}")
    paragraphs += [_schedule_html(schedule), f"Booking reference: {html.escape(booking.id)}"]
    return _mail(
        "booking.due_date_moved",
        key,
        booking,
        subject,
        text,
        _page(subject, paragraphs, (link, f"Pay the {what}")),
        tenant_name=tenant_name,
        reply_to=reply_to,
    )


def cancellation(
    booking: Booking, tenant_name: str, *, reply_to: str = "", zone: ZoneInfo = UTC_ZONE
) -> Mail:
    """ "Your booking was cancelled" (any refund is told in its own email)."""
    day = when_for_people(booking, zone)
    subject = f"{tenant_name}: your booking for {when_in_subject(booking, zone)} was cancelled"
    reason = booking.cancel_reason
    unpaid = reason == BALANCE_UNPAID
    if unpaid:
        # Payments' reason code, worded for the couple.
        reason = "the balance was not paid by its due date, nor within the days of grace after it"
    text = "\n".join(
        [
            f"Hello {booking.couple_name},",
            "",
            f"Your booking with {tenant_name} for {day} has been cancelled.",
            f"Reason: {reason}." if unpaid else f"Reason: {reason}" if reason else "",
            "If a refund is due, you will receive a separate email when it is issued.",
            "",
            f"Booking reference: {booking.id}",
        ]
    )
    paragraphs = [
        f"Hello {html.escape(booking.couple_name)},",
        f"Your booking with {html.escape(tenant_name)} for <strong>{day}</strong> has been cancelled.",
    ]
    if reason:
        paragraphs.append(f"Reason: {html.escape(reason)}")
    paragraphs += [
        "If a refund is due, you will receive a separate email when it is issued.",
        f"Booking reference: {html.escape(booking.id)}",
    ]
    return _mail(
        "booking.cancellation",
        f"cancellation:{booking.id}",
        booking,
        subject,
        text,
        _page(subject, paragraphs),
        tenant_name=tenant_name,
        reply_to=reply_to,
    )


def refund(
    booking: Booking,
    tenant_name: str,
    refund_cents: int,
    refund_id: str,
    *,
    kept_cents: int = 0,
    reply_to: str = "",
    zone: ZoneInfo = UTC_ZONE,
) -> Mail:
    """ "You have been refunded" for one refund; with what the business keeps when the couple's own
    cancellation leaves it a non-refundable deposit."""
    amount = money(refund_cents, booking.quote.currency)
    total = money(booking.amount_refunded_cents, booking.quote.currency)
    kept = (
        f"Your deposit of {money(kept_cents, booking.quote.currency)} is not refundable under"
        f" {tenant_name}'s payment terms, so it was not refunded."
        if kept_cents > 0
        else ""
    )
    subject = f"{tenant_name}: a refund of {amount} is on its way"
    text = "\n".join(
        [
            f"Hello {booking.couple_name},",
            "",
            f"{tenant_name} has refunded {amount} for your booking on {when_for_people(booking, zone)}.",
            f"Refunded so far: {total}.",
            *([kept] if kept else []),
            "Refunds usually reach your account within 5 to 10 business days.",
            "",
            f"Booking reference: {booking.id}",
        ]
    )
    paragraphs = [
        f"Hello {html.escape(booking.couple_name)},",
        f"{html.escape(tenant_name)} has refunded <strong>{html.escape(amount)}</strong> for your booking on"
        f" {when_for_people(booking, zone)}.",
        f"Refunded so far: {html.escape(total)}.",
        *([html.escape(kept)] if kept else []),
        "Refunds usually reach your account within 5 to 10 business days.",
        f"Booking reference: {html.escape(booking.id)}",
    ]
    return _mail(
        "booking.refund",
        f"refund:{booking.id}:{refund_id}",
        booking,
        subject,
        text,
        _page(subject, paragraphs),
        tenant_name=tenant_name,
        reply_to=reply_to,
    )


def hold_lost_refund(
    booking: Booking,
    tenant_name: str,
    refund_cents: int,
    refund_id: str,
    *,
    reply_to: str = "",
    zone: ZoneInfo = UTC_ZONE,
) -> Mail:
    """ "Your date was taken before your payment arrived; you have been refunded"."""
    amount = money(refund_cents, booking.quote.currency)
    day = when_for_people(booking, zone)
    subject = (
        f"{tenant_name}: {when_in_subject(booking, zone)} was no longer available - you have been refunded"
    )
    text = "\n".join(
        [
            f"Hello {booking.couple_name},",
            "",
            f"We are sorry: your reservation of {day} with {tenant_name} ran out before your payment",
            "arrived, and the date was booked by someone else in the meantime.",
            f"Your payment of {amount} has been refunded in full. No booking was made.",
            "",
            f"Reference: {booking.id}",
        ]
    )
    paragraphs = [
        f"Hello {html.escape(booking.couple_name)},",
        f"We are sorry: your reservation of <strong>{day}</strong> with {html.escape(tenant_name)} ran out"
        " before your payment arrived, and the date was booked by someone else in the meantime.",
        f"Your payment of <strong>{html.escape(amount)}</strong> has been refunded in full."
        " No booking was made.",
        f"Reference: {html.escape(booking.id)}",
    ]
    return _mail(
        "booking.hold_lost_refund",
        f"hold-lost:{booking.id}:{refund_id}",
        booking,
        subject,
        text,
        _page(subject, paragraphs),
        tenant_name=tenant_name,
        reply_to=reply_to,
    )


def reminder_key(booking: Booking) -> str:
    """One reminder per booking and moment: a booking moved after its reminder went out is reminded of
    its new date under a key of its own (the outbox sends a key once)."""
    when = booking.starts_at.isoformat() if booking.starts_at else booking.event_date.isoformat()
    return f"reminder:{booking.id}:{when}"


def reminder(
    booking: Booking, tenant_name: str, link: str, days: int, *, reply_to: str = "", zone: ZoneInfo = UTC_ZONE
) -> Mail:
    """ "Your event is in N days"."""
    day = when_for_people(booking, zone)
    subject = f"{tenant_name}: your event on {when_in_subject(booking, zone)} is coming up"
    text = "\n".join(
        [
            f"Hello {booking.couple_name},",
            "",
            f"A reminder: your booking with {tenant_name} is on {day}, {days} days from now.",
            "Your booking, any time:",
            link,
            "",
            f"Booking reference: {booking.id}",
        ]
    )
    paragraphs = [
        f"Hello {html.escape(booking.couple_name)},",
        f"A reminder: your booking with {html.escape(tenant_name)} is on <strong>{day}</strong>,"
        f" {days} days from now.",
        f"Booking reference: {html.escape(booking.id)}",
    ]
    return _mail(
        "booking.reminder",
        reminder_key(booking),
        booking,
        subject,
        text,
        _page(subject, paragraphs, (link, "View your booking")),
        tenant_name=tenant_name,
        reply_to=reply_to,
    )


# --- to the business's admins ------------------------------------------------------------------


def _to_admins(
    kind: str,
    dedupe_key: str,
    admins: Sequence[AdminContact],
    subject: str,
    lines: list[str],
    *,
    tenant_name: str,
    reply_to: str,
) -> Mail:
    """One message to every admin of the tenant (one outbox row, so it goes out once)."""
    return Mail(
        message_id=dedupe_key,
        to=", ".join(admin.email for admin in admins),
        subject=subject,
        text="\n".join(lines),
        html=_page(subject, [html.escape(line) for line in lines if line]),
        tag=kind,
        from_name=tenant_name,
        reply_to=reply_to,
    )


def _couple_lines(booking: Booking, zone: ZoneInfo) -> list[str]:
    return [
        f"When: {when_for_people(booking, zone)}",
        f"Couple: {booking.couple_name} <{booking.email}>" + (f", {booking.phone}" if booking.phone else ""),
        f"Package: {booking.quote.package_id}",
        f"Total: {money(booking.quote.total_cents, booking.quote.currency)}",
        f"Booking reference: {booking.id}",
    ]


def admin_new_booking(
    booking: Booking,
    tenant_name: str,
    admins: Sequence[AdminContact],
    *,
    reply_to: str = "",
    zone: ZoneInfo = UTC_ZONE,
) -> Mail:
    """ "New booking": a couple paid and their date is confirmed."""
    day = when_for_people(booking, zone)
    lines = [
        f"{booking.couple_name} booked {day} and paid "
        f"{money(booking.amount_paid_cents, booking.quote.currency)}.",
        "",
        *_couple_lines(booking, zone),
    ]
    if booking.notes:
        lines.append(f"Their notes: {booking.notes}")
    return _to_admins(
        "booking.admin_new_booking",
        f"admin-new-booking:{booking.id}",
        admins,
        f"{tenant_name}: new booking for {when_in_subject(booking, zone)}",
        lines,
        tenant_name=tenant_name,
        reply_to=reply_to,
    )


def admin_couple_cancelled(
    booking: Booking,
    tenant_name: str,
    admins: Sequence[AdminContact],
    *,
    reply_to: str = "",
    zone: ZoneInfo = UTC_ZONE,
) -> Mail:
    """ "A couple cancelled": the date is free again."""
    day = when_for_people(booking, zone)
    lines = [
        f"{booking.couple_name} cancelled their booking for {day}; the date is free again.",
        f"Their reason: {booking.cancel_reason}" if booking.cancel_reason else "",
        "",
        *_couple_lines(booking, zone),
    ]
    return _to_admins(
        "booking.admin_cancellation",
        f"admin-cancellation:{booking.id}",
        admins,
        f"{tenant_name}: {booking.couple_name} cancelled {when_in_subject(booking, zone)}",
        lines,
        tenant_name=tenant_name,
        reply_to=reply_to,
    )


def admin_balance_paid(
    booking: Booking,
    tenant_name: str,
    admins: Sequence[AdminContact],
    amount_cents: int,
    schedule: Sequence[Instalment],
    *,
    key: str,
    reply_to: str = "",
    zone: ZoneInfo = UTC_ZONE,
) -> Mail:
    """ "A couple paid": a later instalment came in through Stripe."""
    day = when_for_people(booking, zone)
    amount = money(amount_cents, booking.quote.currency)
    owed = outstanding_cents(schedule)
    lines = [
        f"{booking.couple_name} paid {amount} for {day}.",
        "They have now paid in full." if not owed else f"Still owed: {money(owed, booking.quote.currency)}.",
        "",
        *_couple_lines(booking, zone),
    ]
    return _to_admins(
        "booking.admin_balance_paid",
        key,
        admins,
        f"{tenant_name}: {booking.couple_name} paid {amount} for {when_in_subject(booking, zone)}",
        lines,
        tenant_name=tenant_name,
        reply_to=reply_to,
    )


def admin_cancelled_for_non_payment(
    booking: Booking,
    tenant_name: str,
    admins: Sequence[AdminContact],
    *,
    reply_to: str = "",
    zone: ZoneInfo = UTC_ZONE,
) -> Mail:
    """ "A booking was cancelled because its balance was not paid" (the policy's overdue action)."""
    day = when_for_people(booking, zone)
    lines = [
        f"{booking.couple_name}'s booking for {day} was cancelled automatically: the balance was not paid"
        " by its due date, nor within the days of grace after it. The date is free again.",
        f"Paid before: {money(booking.amount_paid_cents, booking.quote.currency)}. Any refund your payment"
        " terms give is sent separately.",
        "",
        *_couple_lines(booking, zone),
    ]
    return _to_admins(
        "booking.admin_cancellation",
        f"admin-cancellation:{booking.id}",
        admins,
        f"{tenant_name}: {when_in_subject(booking, zone)} cancelled, balance unpaid",
        lines,
        tenant_name=tenant_name,
        reply_to=reply_to,
    )


def admin_refund(
    booking: Booking,
    tenant_name: str,
    admins: Sequence[AdminContact],
    refund_cents: int,
    refund_id: str,
    *,
    hold_lost: bool,
    reply_to: str = "",
    zone: ZoneInfo = UTC_ZONE,
) -> Mail:
    """ "A refund was made": a cancellation's refund, or a payment that arrived after its hold was lost
    to another couple and went back automatically."""
    day = when_for_people(booking, zone)
    amount = money(refund_cents, booking.quote.currency)
    why = (
        "The payment arrived after the couple's hold had run out and the date was taken; no booking was made."
        if hold_lost
        else f"Refunded so far: {money(booking.amount_refunded_cents, booking.quote.currency)}."
    )
    lines = [
        f"{amount} was refunded to {booking.couple_name} for {day} (refund {refund_id}).",
        why,
        "",
        *_couple_lines(booking, zone),
    ]
    key = "admin-hold-lost" if hold_lost else "admin-refund"
    return _to_admins(
        "booking.admin_refund",
        f"{key}:{booking.id}:{refund_id}",
        admins,
        f"{tenant_name}: {amount} refunded for {when_in_subject(booking, zone)}",
        lines,
        tenant_name=tenant_name,
        reply_to=reply_to,
    )


# --- a moved booking ---------------------------------------------------------------------------


def booking_moved(
    before: Booking,
    after: Booking,
    tenant_name: str,
    link: str,
    *,
    zone: ZoneInfo,
    key: str,
    reply_to: str = "",
) -> Mail:
    """ "Your booking moved": from when to when, and the couple's link (signed for the new date)."""
    old, new = when_for_people(before, zone), when_for_people(after, zone)
    subject = f"{tenant_name}: your booking moved to {when_in_subject(after, zone)}"
    text = "\n".join(
        [
            f"Hello {after.couple_name},",
            "",
            f"Your booking with {tenant_name} has moved.",
            f"Was: {old}",
            f"Now: {new}",
            "Your booking, any time:",
            link,
            "",
            f"Booking reference: {after.id}",
        ]
    )
    paragraphs = [
        f"Hello {html.escape(after.couple_name)},",
        f"Your booking with {html.escape(tenant_name)} has moved.",
        f"Was: {html.escape(old)}<br>Now: <strong>{html.escape(new)}</strong>",
        f"Booking reference: {html.escape(after.id)}",
    ]
    return _mail(
        "booking.moved",
        key,
        after,
        subject,
        text,
        _page(subject, paragraphs, (link, "View your booking")),
        tenant_name=tenant_name,
        reply_to=reply_to,
    )


# --- queued to render later --------------------------------------------------------------------
#
# A hot transaction records which template to render and its arguments (`later(...)`, a QueuedMail);
# the outbox dispatcher renders it when it sends (`render`), so the message a couple reads is the one
# the template would have built in the transaction: the arguments go through JSON losslessly (a test
# renders both ways for every template and compares the bytes). Each template's id and tag are known
# without rendering it: `_PLANS` (a test checks them against what the template builds).

Arguments = Mapping[str, Any]

_PLANS: dict[str, tuple[Callable[..., Mail], Callable[[Arguments], str], Callable[[Arguments], str]]] = {}


def _plan(
    template: Callable[..., Mail],
    key: Callable[[Arguments], str],
    tag: str | Callable[[Arguments], str],
) -> None:
    def fixed(_arguments: Arguments) -> str:
        return str(tag)

    _PLANS[template.__name__] = (template, key, tag if callable(tag) else fixed)


def _keyed(a: Arguments) -> str:
    return str(a["key"])


def _id(a: Arguments) -> str:
    return str(a.get("booking", a.get("after")).id)


_plan(confirmation, lambda a: f"confirmation:{_id(a)}", "booking.confirmation")
_plan(balance_reminder, _keyed, lambda a: f"booking.balance_{'due_today' if a['due_today'] else 'reminder'}")
_plan(balance_overdue, _keyed, "booking.balance_overdue")
_plan(balance_receipt, _keyed, "booking.balance_receipt")
_plan(due_date_moved, _keyed, "booking.due_date_moved")
_plan(cancellation, lambda a: f"cancellation:{_id(a)}", "booking.cancellation")
_plan(refund, lambda a: f"refund:{_id(a)}:{a['refund_id']}", "booking.refund")
_plan(hold_lost_refund, lambda a: f"hold-lost:{_id(a)}:{a['refund_id']}", "booking.hold_lost_refund")
_plan(reminder, lambda a: reminder_key(a["booking"]), "booking.reminder")
_plan(admin_new_booking, lambda a: f"admin-new-booking:{_id(a)}", "booking.admin_new_booking")
_plan(admin_couple_cancelled, lambda a: f"admin-cancellation:{_id(a)}", "booking.admin_cancellation")
_plan(admin_balance_paid, _keyed, "booking.admin_balance_paid")
_plan(admin_cancelled_for_non_payment, lambda a: f"admin-cancellation:{_id(a)}", "booking.admin_cancellation")
_plan(
    admin_refund,
    lambda a: f"{'admin-hold-lost' if a['hold_lost'] else 'admin-refund'}:{_id(a)}:{a['refund_id']}",
    "booking.admin_refund",
)
_plan(booking_moved, _keyed, "booking.moved")


def _parameters(template: Callable[..., Mail]) -> tuple[tuple[str, ...], int, frozenset[str]]:
    """A template's parameter names, how many may be positional, and those without a default."""
    parameters = inspect.signature(template).parameters.values()
    names = tuple(p.name for p in parameters)
    positional = sum(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in parameters)
    required = frozenset(p.name for p in parameters if p.default is inspect.Parameter.empty)
    return names, positional, required


# Bound by hand (inspect's bind cost more than the rest of `later` in the hot transaction).
_SIGNATURES = {name: _parameters(template) for name, (template, _k, _t) in _PLANS.items()}


def _bind(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    names, positional, required = _SIGNATURES[name]
    if len(args) > positional:
        raise TypeError(f"{name}() takes {positional} positional arguments but {len(args)} were given")
    arguments = dict(zip(names, args, strict=False))
    for field, value in kwargs.items():
        if field not in names or field in arguments:
            raise TypeError(f"{name}() got an unexpected or repeated argument {field!r}")
        arguments[field] = value
    if not required <= arguments.keys():
        raise TypeError(f"{name}() is missing {sorted(required - arguments.keys())}")
    return arguments


def later(template: Callable[..., Mail], *args: Any, **kwargs: Any) -> QueuedMail:
    """What `template(*args, **kwargs)` would send, recorded to render when the outbox sends it."""
    name = template.__name__
    if _PLANS.get(name, (None,))[0] is not template:
        raise ValueError(f"template: {name} is not a booking email template")
    arguments = _bind(name, args, kwargs)
    _, key, tag = _PLANS[name]
    return QueuedMail(
        message_id=key(arguments),
        tag=tag(arguments),
        template=name,
        args={field: _encode(value) for field, value in arguments.items()},
    )


def render(template: str, args: Arguments) -> Mail:
    """The message a queued template stands for (the outbox dispatcher's renderer)."""
    plan = _PLANS.get(template)
    if plan is None:
        raise ValueError(f"template: {template!r} is not a booking email template")
    return plan[0](**{field: _decode(value) for field, value in args.items()})


# The JSON form of the templates' arguments: plain values as they are; the rest tagged by "$t".
_RECORDS: dict[str, type[Any]] = {
    cls.__name__: cls for cls in (Booking, Quote, HistoryEntry, Instalment, AdminContact)
}


def _encode(value: Any) -> Any:
    encoder = _ENCODERS.get(type(value))
    if encoder is not None:
        return encoder(value)
    if type(value).__name__ in _RECORDS and dataclasses.is_dataclass(value):
        fields = {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"$t": type(value).__name__, "v": fields}
    if isinstance(value, Mapping):
        if "$t" in value:
            raise ValueError("an email argument's mapping may not have a '$t' key")
        return {str(k): _encode(v) for k, v in value.items()}
    raise TypeError(f"an email argument of type {type(value).__name__} cannot be queued")


def _plain(value: Any) -> Any:
    return value


def _moment(value: datetime | None) -> Any:
    return None if value is None else {"$t": "datetime", "v": value.isoformat()}


def _booking(booking: Booking) -> dict[str, Any]:
    """A booking as the templates read it, written out field by field (this runs in the hot
    transaction). Its history is not carried: no email shows it. The quote's document came from JSON
    and goes back as JSON, untouched."""
    quote = booking.quote
    return {
        "$t": "Booking",
        "v": {
            "id": booking.id,
            "tenant_id": booking.tenant_id,
            "event_date": {"$t": "date", "v": booking.event_date.isoformat()},
            "status": {"$t": "Status", "v": booking.status.value},
            "customer_id": booking.customer_id,
            "couple_name": booking.couple_name,
            "email": booking.email,
            "phone": booking.phone,
            "notes": booking.notes,
            "quote": {
                "$t": "Quote",
                "v": {
                    "package_id": quote.package_id,
                    "total_cents": quote.total_cents,
                    "currency": quote.currency,
                    "document": {"$t": "json", "v": quote.document},
                },
            },
            "payment_session_id": booking.payment_session_id,
            "hold_expires_at": _moment(booking.hold_expires_at),
            "amount_paid_cents": booking.amount_paid_cents,
            "amount_refunded_cents": booking.amount_refunded_cents,
            "cancel_reason": booking.cancel_reason,
            "created_at": _moment(booking.created_at),
            "updated_at": _moment(booking.updated_at),
            "client_address": booking.client_address,
            "kind": booking.kind,
            "starts_at": _moment(booking.starts_at),
            "ends_at": _moment(booking.ends_at),
            "resource_id": booking.resource_id,
            "buffer_before_minutes": booking.buffer_before_minutes,
            "buffer_after_minutes": booking.buffer_after_minutes,
        },
    }


def _instalment(item: Instalment) -> dict[str, Any]:
    return {
        "$t": "Instalment",
        "v": {
            "seq": item.seq,
            "kind": item.kind,
            "amount_cents": item.amount_cents,
            "currency": item.currency,
            "due_date": {"$t": "date", "v": item.due_date.isoformat()},
            "status": item.status,
            "paid_cents": item.paid_cents,
            "refunded_cents": item.refunded_cents,
            "paid_offline": item.paid_offline,
            "note": item.note,
        },
    }


def _items(values: Sequence[Any]) -> dict[str, Any]:
    return {"$t": "tuple", "v": [_encode(item) for item in values]}


_ENCODERS: dict[type[Any], Callable[[Any], Any]] = {
    str: _plain,
    int: _plain,
    bool: _plain,
    float: _plain,
    type(None): _plain,
    Status: lambda value: {"$t": "Status", "v": value.value},
    datetime: _moment,
    date: lambda value: {"$t": "date", "v": value.isoformat()},
    ZoneInfo: lambda value: {"$t": "zone", "v": value.key},
    Booking: _booking,
    Instalment: _instalment,
    AdminContact: lambda value: {"$t": "AdminContact", "v": {"email": value.email}},
    tuple: _items,
    list: _items,
}


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    kind = value.get("$t")
    if kind is None:
        return {k: _decode(v) for k, v in value.items()}
    inner = value["v"]
    if kind == "Status":
        return Status(inner)
    if kind == "datetime":
        return datetime.fromisoformat(inner)
    if kind == "date":
        return date.fromisoformat(inner)
    if kind == "zone":
        return ZoneInfo(inner)
    if kind == "json":
        return inner
    if kind == "tuple":
        return tuple(_decode(item) for item in inner)
    record = _RECORDS.get(kind)
    if record is None:
        raise ValueError(f"template_args: unknown type {kind!r}")
    return record(**{k: _decode(v) for k, v in inner.items()})
