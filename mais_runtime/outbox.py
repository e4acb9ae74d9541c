"""A transactional outbox for customer and admin email.

A use case enqueues mail with `enqueue(conn, ...)` inside its own transaction, so the message exists
exactly when the change that caused it commits. `OutboxDispatcher.run` (a service background job)
sends due messages: it claims rows with `FOR UPDATE SKIP LOCKED` and keeps the lock until the row is
marked, so two replicas never send the same row; a failure is retried with exponential backoff and the
row ends FAILED after `max_attempts`. A crash between sending and marking resends on restart, which
the file sink absorbs (one file per message id) and Postmark tolerates (at-least-once).

Each service owning an outbox creates its table with the migration runner's helper (its definition is
in mais_runtime/migrations.py), in one line of a migration:

    SELECT mais_create_outbox();

(`tenant_id` is NULL for platform mail, which only platform transactions see.)

A hot transaction need not render its email: `enqueue_template` records what to send (a template's
name and its arguments as JSON, a `QueuedMail`) in an outbox with the `template` and `template_args`
columns (booking's migration 009), and a dispatcher given a `renderer` renders it when it sends (its
address is NULL until then, so a dispatcher without the renderer fails on it instead of sending a blank
message, and the row waits for one that has it: a rolling update is safe). A row
that cannot be rendered (a template this release does not know, arguments it cannot read) ends FAILED
at once, naming the template: retrying would render it no better.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from prometheus_client import Counter, Gauge

from mais_runtime.background import every
from mais_runtime.db import AsyncConnection, Database, text
from mais_runtime.mail import Attachment, Mail, Mailer

log = logging.getLogger("mais.outbox")

OUTBOX_SENT = Counter("mais_outbox_sent_total", "Messages sent from the outbox", ["tag"])
OUTBOX_FAILURES = Counter("mais_outbox_failures_total", "Failed send attempts", ["tag"])
OUTBOX_BACKLOG = Gauge("mais_outbox_backlog", "Messages waiting to be sent")
OUTBOX_LAG = Gauge(
    "mais_outbox_oldest_pending_age_seconds",
    "Age of the oldest message waiting to be sent (0 when none waits): how late mail is",
)

_BATCHES_PER_PASS = 50


@dataclass(frozen=True)
class QueuedMail:
    """A message to render when it is sent: its id (the dedupe key), tag, template and arguments."""

    message_id: str
    tag: str
    template: str
    args: Mapping[str, Any]


# Renders a template's arguments (as `QueuedMail.args` held them) into the message.
Renderer = Callable[[str, Mapping[str, Any]], Mail]


async def enqueue(conn: AsyncConnection, *, tenant_id: str | None, dedupe_key: str, mail: Mail) -> bool:
    """Adds a message in the caller's transaction. False when `dedupe_key` was already enqueued."""
    result = await conn.execute(
        text(
            "INSERT INTO outbox (tenant_id, dedupe_key, to_address, subject, text_body, html_body, tag,"
            " from_name, reply_to, attachments)"
            " VALUES (CAST(:tenant_id AS uuid), :dedupe_key, :to, :subject, :text, :html, :tag,"
            " :from_name, :reply_to, CAST(:attachments AS jsonb))"
            " ON CONFLICT (dedupe_key) DO NOTHING"
        ),
        {
            "tenant_id": tenant_id,
            "dedupe_key": dedupe_key,
            "to": mail.to,
            "subject": mail.subject,
            "text": mail.text,
            "html": mail.html,
            "tag": mail.tag,
            "from_name": mail.from_name,
            "reply_to": mail.reply_to,
            "attachments": json.dumps([a.as_json() for a in mail.attachments]),
        },
    )
    return bool(result.rowcount)


async def enqueue_template(conn: AsyncConnection, *, tenant_id: str | None, mail: QueuedMail) -> bool:
    """Adds a message to render at sending time, in the caller's transaction (the outbox must have
    the template columns). False when its id was already enqueued."""
    result = await conn.execute(
        text(
            "INSERT INTO outbox (tenant_id, dedupe_key, to_address, subject, text_body, html_body, tag,"
            " template, template_args)"
            " VALUES (CAST(:tenant_id AS uuid), :dedupe_key, NULL, '', '', '', :tag, :template,"
            " CAST(:args AS jsonb))"
            " ON CONFLICT (dedupe_key) DO NOTHING"
        ),
        {
            "tenant_id": tenant_id,
            "dedupe_key": mail.message_id,
            "tag": mail.tag,
            "template": mail.template,
            "args": json.dumps(mail.args, separators=(",", ":")),
        },
    )
    return bool(result.rowcount)


_COLUMNS = (
    "id, tenant_id, dedupe_key, to_address, subject, text_body, html_body, tag, from_name, reply_to,"
    " attachments, attempts"
)
_DUE = (
    " FROM outbox WHERE status = 'PENDING' AND next_attempt_at <= now()"
    " ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED"
)
_CLAIM_ONE = text(f"SELECT {_COLUMNS}{_DUE}")
_CLAIM_ONE_WITH_TEMPLATE = text(f"SELECT {_COLUMNS}, template, template_args{_DUE}")


def _json_list(value: Any) -> list[Any]:
    # asyncpg hands jsonb over as text unless a codec is set; either way a list comes out.
    return list(json.loads(value) if isinstance(value, str | bytes) else value or [])


def _json_object(value: Any) -> dict[str, Any]:
    loaded = json.loads(value) if isinstance(value, str | bytes) else value
    if not isinstance(loaded, dict):
        raise ValueError("template_args must be a JSON object")
    return loaded


class _RenderFailed(Exception):
    pass


class OutboxDispatcher:
    """Sends what the outbox holds; run one per service process (more are safe)."""

    def __init__(
        self,
        db: Database,
        mailer: Mailer,
        *,
        batch_size: int = 20,
        max_attempts: int = 8,
        base_backoff_seconds: float = 2.0,
        poll_seconds: float = 0.5,
        send_timeout_seconds: float = 10.0,
        renderer: Renderer | None = None,
    ) -> None:
        self._db = db
        # Only an outbox with the template columns is read with them (tenant's has none).
        self._renderer = renderer
        self._claim = _CLAIM_ONE if renderer is None else _CLAIM_ONE_WITH_TEMPLATE
        self._mailer = mailer
        self._batch = batch_size
        self._max_attempts = max_attempts
        self._backoff = base_backoff_seconds
        self._poll = poll_seconds
        self._send_timeout = send_timeout_seconds
        self._passes = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatches until `stop` is set; a database outage only pauses it."""
        await every(self._poll, self._dispatch_due, name="outbox dispatch")(stop)

    async def _dispatch_due(self) -> None:
        # A full batch means more are due: send on without waiting a poll, a bounded number of batches
        # so that a stop is seen between passes.
        for _ in range(_BATCHES_PER_PASS):
            if await self.dispatch_once() < self._batch:
                break
        self._passes += 1
        if self._passes % 10 == 1:
            OUTBOX_BACKLOG.set(await self.backlog())

    async def dispatch_once(self) -> int:
        """Sends up to one batch of due messages, each claimed in its own short transaction (so a slow
        provider never holds a transaction open for a whole batch); returns how many were sent."""
        sent = 0
        for _ in range(self._batch):
            async with self._db.platform_transaction() as conn:
                row = (await conn.execute(self._claim)).mappings().first()
                if row is None:
                    break
                sent += await self._send_one(conn, row)
        return sent

    def _mail_of(self, row: Any) -> Mail:
        """The row's message: rendered now from its template, or as it was stored."""
        if self._renderer is not None and row["template"] is not None:
            try:
                rendered = self._renderer(row["template"], _json_object(row["template_args"]))
            except Exception as error:
                raise _RenderFailed(f"template {row['template']!r}: {type(error).__name__}") from error
            return replace(rendered, message_id=row["dedupe_key"])
        return Mail(
            message_id=row["dedupe_key"],
            to=row["to_address"],
            subject=row["subject"],
            text=row["text_body"],
            html=row["html_body"],
            tag=row["tag"],
            from_name=row["from_name"],
            reply_to=row["reply_to"],
            attachments=tuple(Attachment.from_json(a) for a in _json_list(row["attachments"])),
        )

    async def _send_one(self, conn: AsyncConnection, row: Any) -> int:
        try:
            mail = self._mail_of(row)
        except _RenderFailed as error:
            OUTBOX_FAILURES.labels(row["tag"]).inc()
            await conn.execute(
                text(
                    "UPDATE outbox SET status = 'FAILED', attempts = attempts + 1, last_error = :e"
                    " WHERE id = :id"
                ),
                {"e": str(error)[:200], "id": row["id"]},
            )
            log.error("cannot render %s (%s): marked FAILED", row["dedupe_key"], error)
            return 0
        try:
            await asyncio.wait_for(self._mailer.send(mail), timeout=self._send_timeout)
        except Exception as error:
            attempts = row["attempts"] + 1
            OUTBOX_FAILURES.labels(row["tag"]).inc()
            # The error names its type only: provider messages can echo addresses back.
            await conn.execute(
                text(
                    "UPDATE outbox SET attempts = CAST(:a AS integer), last_error = :e,"
                    " status = CASE WHEN CAST(:a AS integer) >= :max THEN 'FAILED' ELSE 'PENDING' END,"
                    " next_attempt_at = now() + make_interval(secs => CAST(:delay AS double precision))"
                    " WHERE id = :id"
                ),
                {
                    "a": attempts,
                    "e": type(error).__name__,
                    "max": self._max_attempts,
                    "delay": min(self._backoff * 2 ** (attempts - 1), 3600),
                    "id": row["id"],
                },
            )
            log.warning("send failed (attempt %d): %s", attempts, type(error).__name__)
            return 0
        await conn.execute(
            text(
                "UPDATE outbox SET status = 'SENT', sent_at = now(), attempts = attempts + 1 WHERE id = :id"
            ),
            {"id": row["id"]},
        )
        OUTBOX_SENT.labels(row["tag"]).inc()
        return 1

    async def backlog(self) -> int:
        """How many messages wait to be sent; also sets the outbox-lag gauge to the age of the oldest."""
        async with self._db.platform_transaction() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT count(*) AS waiting,"
                        " coalesce(extract(epoch FROM now() - min(created_at)), 0) AS oldest_age"
                        " FROM outbox WHERE status = 'PENDING'"
                    )
                )
            ).one()
        OUTBOX_LAG.set(max(float(row.oldest_age), 0.0))
        return int(row.waiting or 0)
