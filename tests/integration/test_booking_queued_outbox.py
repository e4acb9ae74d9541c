"""Booking's email off the hot path, through a real PostgreSQL: the confirmation's transaction stores a
template and its arguments (jsonb), the outbox dispatcher renders them when it sends, and the message
is the one the template builds from the same booking (the .eml bytes, the .ics included). A row this
release cannot render ends FAILED at once, naming its template, and holds up nothing else."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest

from mais_runtime import mail as mail_module
from mais_runtime.db import Database
from mais_runtime.mail import FileMailer, Mail, build_message
from mais_runtime.outbox import OutboxDispatcher, QueuedMail
from services.booking import emails
from services.booking.domain import AdminContact
from services.booking.store import BookingStore
from services.booking.use_cases import Bookings
from tests.integration.test_booking_store import (
    booking_db,
    confirm,
    hold,
    told,
)
from tests.unit.test_booking_queued_emails import day_booking

__all__ = ["booking_db", "told"]  # the store tests' fixtures

ADMINS = (AdminContact("owner@studio.test"), AdminContact("planner@studio.test"))


class Recording:
    """A mailer that keeps what it was given."""

    def __init__(self) -> None:
        self.sent: dict[str, Mail] = {}

    async def send(self, mail: Mail) -> None:
        self.sent[mail.message_id] = mail


def eml(mail: Mail, monkeypatch: pytest.MonkeyPatch) -> bytes:
    monkeypatch.setattr(mail_module, "formatdate", lambda **_: "Tue, 01 Dec 2026 10:00:00 +0000")
    monkeypatch.setattr(mail_module, "make_msgid", lambda idstring, domain: f"<{idstring}@{domain}>")
    random.seed(3)
    return bytes(build_message(mail, "MAIS Bookings <bookings@mais.local>"))


async def drain(db: Database, mailer: Recording) -> None:
    dispatcher = OutboxDispatcher(db, mailer, renderer=emails.render, batch_size=50)
    while await dispatcher.dispatch_once():
        pass


async def test_a_confirmation_is_stored_as_a_template_and_sent_as_the_template_builds_it(
    told: Bookings,
    booking_db: Database,
    admin: asyncpg.Connection,
    new_tenant_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    held = await hold(told, new_tenant_id, n=3)
    confirmed, _ = await confirm(told, new_tenant_id, held.id, "cs_queued")
    rows = await admin.fetch(
        "SELECT dedupe_key, tag, template, to_address, subject, text_body, html_body,"
        " attachments::text AS files"
        " FROM booking.outbox WHERE dedupe_key LIKE '%' || $1 ORDER BY id",
        held.id,
    )
    # Nothing rendered in the transaction: the template's name and arguments only.
    assert [(r["dedupe_key"], r["tag"], r["template"]) for r in rows] == [
        (f"confirmation:{held.id}", "booking.confirmation", "confirmation"),
        (f"admin-new-booking:{held.id}", "booking.admin_new_booking", "admin_new_booking"),
    ]
    assert {(r["to_address"], r["subject"], r["text_body"], r["html_body"], r["files"]) for r in rows} == {
        (None, "", "", "", "[]")
    }

    mailer = Recording()
    await drain(booking_db, mailer)
    statuses = await admin.fetch(
        "SELECT status, attempts FROM booking.outbox WHERE dedupe_key LIKE '%' || $1", held.id
    )
    assert {(s["status"], s["attempts"]) for s in statuses} == {("SENT", 1)}

    reply_to, zone = "owner@studio.test", emails.UTC_ZONE
    expected = {
        f"confirmation:{held.id}": emails.confirmation(
            confirmed, "Studio", told.manage_url(confirmed), reply_to=reply_to, zone=zone
        ),
        f"admin-new-booking:{held.id}": emails.admin_new_booking(
            confirmed, "Studio", ADMINS, reply_to=reply_to, zone=zone
        ),
    }
    for key, built in expected.items():
        sent = mailer.sent[key]
        assert sent == built, key
        assert eml(sent, monkeypatch) == eml(built, monkeypatch), key
    assert [a.filename for a in mailer.sent[f"confirmation:{held.id}"].attachments] == ["booking.ics"]


async def test_a_row_that_cannot_be_rendered_fails_at_once_naming_its_template(
    booking_db: Database,
    admin: asyncpg.Connection,
    new_tenant_id: str,
) -> None:
    key = f"welcome:{new_tenant_id}"
    async with BookingStore(booking_db).tenant(new_tenant_id) as tx:
        assert await tx.enqueue(QueuedMail(key, "booking.welcome", "welcome", {"name": "Ana"}))
        assert not await tx.enqueue(QueuedMail(key, "booking.welcome", "welcome", {"name": "Ana"}))
        good = emails.later(emails.reminder, *_reminder_args(new_tenant_id))
        assert await tx.enqueue(good)
    mailer = Recording()
    await drain(booking_db, mailer)
    row = await admin.fetchrow(
        "SELECT status, attempts, last_error FROM booking.outbox WHERE dedupe_key = $1", key
    )
    assert (row["status"], row["attempts"]) == ("FAILED", 1)
    assert row["last_error"] == "template 'welcome': ValueError"
    assert key not in mailer.sent and good.message_id in mailer.sent
    with pytest.raises(asyncpg.CheckViolationError):
        await admin.execute(
            "INSERT INTO booking.outbox (tenant_id, dedupe_key, to_address, subject, text_body, html_body,"
            " template, template_args) VALUES ($1, $2, '', '', '', '', 'reminder', '[]')",
            new_tenant_id,
            f"bad-args:{new_tenant_id}",
        )


def _reminder_args(tenant_id: str) -> tuple[object, ...]:
    booking = replace(day_booking(), id=f"bk_{tenant_id.replace('-', '')[:26]}", tenant_id=tenant_id)
    return (booking, "Studio", "http://x.test/l", 7)


async def test_a_dispatcher_without_the_renderer_sends_no_blank_message_and_leaves_the_row_to_one_with_it(
    booking_db: Database,
    admin: asyncpg.Connection,
    new_tenant_id: str,
    tmp_path: Path,
) -> None:
    # The previous release's dispatcher, still running during a rolling update, knows no templates.
    queued = emails.later(emails.reminder, *_reminder_args(new_tenant_id))
    async with BookingStore(booking_db).tenant(new_tenant_id) as tx:
        assert await tx.enqueue(queued)
    previous = OutboxDispatcher(
        booking_db, FileMailer(tmp_path, "MAIS <a@b.c>"), batch_size=1, base_backoff_seconds=0.05
    )
    assert await previous.dispatch_once() == 0
    assert list(tmp_path.glob("*.eml")) == []
    row = await admin.fetchrow(
        "SELECT status, attempts FROM booking.outbox WHERE dedupe_key = $1", queued.message_id
    )
    assert (row["status"], row["attempts"]) == ("PENDING", 1)
    await asyncio.sleep(0.1)  # its retry is due
    mailer = Recording()
    await drain(booking_db, mailer)
    assert (
        mailer.sent[queued.message_id].subject == "Studio: your event on Saturday 12 June 2027 is coming up"
    )
    status = await admin.fetchval(
        "SELECT status FROM booking.outbox WHERE dedupe_key = $1", queued.message_id
    )
    assert status == "SENT"


async def test_a_row_stored_rendered_before_migration_009_is_still_sent_as_stored(
    booking_db: Database,
    new_tenant_id: str,
) -> None:
    built = emails.reminder(*_reminder_args(new_tenant_id))  # type: ignore[arg-type]
    stored = replace(built, message_id=f"stored:{new_tenant_id}")
    async with BookingStore(booking_db).tenant(new_tenant_id) as tx:
        assert await tx.enqueue(stored)
    mailer = Recording()
    await drain(booking_db, mailer)
    assert mailer.sent[stored.message_id] == stored
