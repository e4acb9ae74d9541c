"""The shared mail adapter's file sink."""

from __future__ import annotations

import asyncio
import email
import stat
from email import policy
from email.utils import parsedate_to_datetime
from pathlib import Path

from mais_runtime.mail import FileMailer, Mail, build_message


def _mail(**overrides: str) -> Mail:
    fields = {
        "message_id": "booking:bk_1:confirmation",
        "to": "couple@example.com",
        "subject": "Your date is booked",
        "text": "See you on the day.",
        "html": "<p>See you on the day.</p>",
    }
    fields.update(overrides)
    return Mail(**fields)


async def test_file_sink_writes_one_eml_per_message_id_even_when_sent_twice(tmp_path: Path) -> None:
    mailer = FileMailer(tmp_path, "MAIS <bookings@mais.local>")
    await mailer.send(_mail())
    await mailer.send(_mail(subject="a second attempt"))
    files = list(tmp_path.glob("*.eml"))
    assert len(files) == 1
    message = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert message["Subject"] == "Your date is booked"
    assert message["To"] == "couple@example.com"
    parts = {part.get_content_type() for part in message.walk()}
    assert {"text/plain", "text/html"} <= parts


def test_crlf_in_a_typed_value_cannot_add_headers() -> None:
    message = build_message(
        _mail(subject="Hello\r\nBcc: attacker@example.com", to="x@example.com\nCc: a@example.com"),
        "MAIS <bookings@mais.local>",
    )
    raw = bytes(message).decode()
    headers = raw.split("\r\n\r\n", 1)[0]
    assert "\r\nBcc:" not in headers
    assert "\r\nCc:" not in headers
    assert message["Subject"] == "Hello Bcc: attacker@example.com"


def test_a_message_is_dated_and_speaks_for_the_business() -> None:
    mail = Mail(
        message_id="booking.confirmed:1",
        to="ana@example.com",
        subject="Booked",
        text="hi",
        html="<p>hi</p>",
        from_name="Lakeside Barn",
        reply_to="owner@lakeside.example",
    )
    message = build_message(mail, "MAIS Bookings <bookings@mais.local>")
    assert message["From"] == "Lakeside Barn <bookings@mais.local>"
    assert message["Reply-To"] == "owner@lakeside.example"
    assert parsedate_to_datetime(message["Date"]).tzinfo is not None


def test_mail_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    mailer = FileMailer(tmp_path, "MAIS Bookings <bookings@mais.local>")
    asyncio.run(mailer.send(Mail("m-1", "ana@example.com", "Booked", "hi", "<p>hi</p>")))
    (written,) = tmp_path.glob("*.eml")
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
