"""Booking's outbox as the couple will read it: a row queued as a template (services/booking/emails.py
`later`) is rendered here the way the outbox dispatcher renders it when it sends."""

from __future__ import annotations

import json

import asyncpg

from services.booking import emails

_COLUMNS = (
    "dedupe_key, tag, template, template_args, to_address, subject, text_body, html_body, from_name, reply_to"
)


async def booking_outbox(admin: asyncpg.Connection, where: str, *params: object) -> list[dict[str, str]]:
    """The rows `where` selects, oldest first, each with its rendered to_address, subject, text_body,
    html_body, from_name and reply_to."""
    rows = await admin.fetch(f"SELECT {_COLUMNS} FROM booking.outbox WHERE {where} ORDER BY id", *params)
    return [rendered(row) for row in rows]


def rendered(row: asyncpg.Record) -> dict[str, str]:
    """One row's message; a rendered row's columns as they are."""
    if row["template"] is None:
        return dict(row)
    mail = emails.render(row["template"], json.loads(row["template_args"]))
    return {
        "dedupe_key": row["dedupe_key"],
        "tag": row["tag"],
        "template": row["template"],
        "to_address": mail.to,
        "subject": mail.subject,
        "text_body": mail.text,
        "html_body": mail.html,
        "from_name": mail.from_name,
        "reply_to": mail.reply_to,
    }
