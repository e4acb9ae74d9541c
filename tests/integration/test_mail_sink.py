"""The stack's Postmark-compatible mail sink as a real process over HTTP: it refuses a wrong token as
Postmark does (401, ErrorCode 10), a bad body with 422 naming the field, writes a good body as the very
`.eml` FileMailer writes for the same Mail (apart from the Date, the Message-ID's random part and the
MIME boundaries, which differ between any two builds), once per message id, mode 0600."""

from __future__ import annotations

import os
import re
import stat
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from mais_runtime.mail import Attachment, FileMailer, Mail, MailError, PostmarkMailer, postmark_body
from tools.stack.launcher import free_port
from tools.stack.processes import ManagedProcess

SENDER = "MAIS Bookings <bookings@mais.local>"
TOKEN = "sink-test-token"


@dataclass
class Sink:
    url: str
    folder: Path
    process: ManagedProcess


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[Sink]:
    port = free_port()
    folder = tmp_path / "mail"
    process = ManagedProcess(
        "mail-sink",
        [sys.executable, "-m", "tools.stack.mail_sink", "--port", str(port), "--folder", str(folder)],
        {**os.environ, "MAIS_MAIL_SINK_TOKEN": TOKEN},
        tmp_path / "mail-sink.log",
        restart=False,
    )
    process.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.alive(), (tmp_path / "mail-sink.log").read_text()
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the mail sink did not answer in 20 s"
            time.sleep(0.1)
        yield Sink(url, folder, process)
    finally:
        process.stop()


def a_mail(message_id: str = "confirmation:bk_1") -> Mail:
    """Everything PostmarkMailer sends: a non-ASCII subject and business name with a comma (the From
    display name), a reply-to, a tag and an .ics attachment with a MIME parameter."""
    return Mail(
        message_id=message_id,
        to="Zoë Müller <zoe@example.com>",
        subject="Your booking at Château Bélair, Provence is confirmed ✓",
        text="Dear Zoë,\n\nsee you on 12 June.\n",
        html="<p>Dear Zoë,</p><p>see you on 12 June.</p>",
        tag="booking.confirmation",
        from_name="Château Bélair, Provence",
        reply_to="owner@chateau.example",
        attachments=(
            Attachment(
                "booking.ics", "text/calendar; method=PUBLISH", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
            ),
        ),
    )


def post(sink: Sink, body: Any, token: str = TOKEN) -> httpx.Response:
    return httpx.post(
        f"{sink.url}/email",
        json=body,
        headers={"X-Postmark-Server-Token": token, "Accept": "application/json"},
        timeout=10,
    )


def normalized(eml: bytes) -> bytes:
    """The bytes with what differs between two builds of one message made equal: the Date, the random
    part of the Message-ID and the MIME boundaries."""
    boundaries = re.findall(rb'boundary="([^"]+)"', eml)
    for n, boundary in enumerate(boundaries):
        eml = eml.replace(boundary, b"BOUNDARY%d" % n)
    eml = re.sub(rb"\r\nDate: [^\r]+", b"\r\nDate: D", eml)
    # `<time.pid.random.id@domain>`, folded onto its own line or not depending on its length.
    return re.sub(rb"\r\nMessage-ID:(?:\r\n)? <[0-9]+\.[0-9]+\.[0-9]+\.", b"\r\nMessage-ID: <", eml)


def test_a_missing_or_wrong_token_is_refused_as_postmark_does(sink: Sink) -> None:
    body = postmark_body(a_mail(), SENDER)
    for token in ("", "wrong-token"):
        answer = post(sink, body, token=token)
        assert answer.status_code == 401
        assert answer.json()["ErrorCode"] == 10
    assert not sink.folder.exists() or list(sink.folder.iterdir()) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"To": None}, "'To'"),
        ({"From": ""}, "'From'"),
        ({"Subject": 7}, "'Subject'"),
        ({"TextBody": "", "HtmlBody": ""}, "'TextBody' or 'HtmlBody'"),
        ({"Headers": []}, "X-MAIS-Message-Id"),
        ({"Headers": [{"Name": "X-MAIS-Message-Id"}]}, "'Headers[0]'"),
        ({"MessageStream": "broadcast"}, "'MessageStream'"),
        ({"Tag": "t" * 1001}, "'Tag'"),
        ({"Attachments": [{"Name": "a.ics", "ContentType": "text/calendar", "Content": "**"}]}, "Content"),
        ({"Attachments": [{"Name": "a.ics", "Content": "QQ=="}]}, "'Attachments[0].ContentType'"),
    ],
)
def test_a_bad_body_is_answered_422_naming_the_field_and_nothing_is_written(
    sink: Sink, change: dict[str, Any], field: str
) -> None:
    body = {**postmark_body(a_mail(), SENDER), **change}
    answer = post(sink, {k: v for k, v in body.items() if v is not None})
    assert answer.status_code == 422, answer.text
    assert answer.json()["ErrorCode"] == 300
    assert field in answer.json()["Message"]
    assert not sink.folder.exists() or list(sink.folder.iterdir()) == []


def test_a_body_not_sent_as_json_is_answered_422_json_required(sink: Sink) -> None:
    answer = httpx.post(
        f"{sink.url}/email",
        data={"From": SENDER, "To": "a@example.com"},
        headers={"X-Postmark-Server-Token": TOKEN},
        timeout=10,
    )
    assert answer.status_code == 422
    assert answer.json()["ErrorCode"] == 409


def test_a_message_the_sink_cannot_write_is_a_500_the_outbox_retries(sink: Sink) -> None:
    sink.folder.parent.mkdir(parents=True, exist_ok=True)
    sink.folder.write_text("a file where the folder should be")
    answer = post(sink, postmark_body(a_mail(), SENDER))
    assert answer.status_code == 500
    assert answer.json()["ErrorCode"] == 500
    sink.folder.unlink()
    assert post(sink, postmark_body(a_mail(), SENDER)).status_code == 200
    assert [p.name for p in sink.folder.iterdir()] == ["confirmation-bk_1.eml"]


def test_a_body_that_is_not_json_is_answered_422(sink: Sink) -> None:
    answer = httpx.post(
        f"{sink.url}/email",
        content=b"{not json",
        headers={"X-Postmark-Server-Token": TOKEN, "Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 422
    assert answer.json()["ErrorCode"] == 402


async def test_postmark_mailer_to_the_sink_writes_the_eml_file_mailer_writes(
    sink: Sink, tmp_path: Path
) -> None:
    mail = a_mail()
    mailer = PostmarkMailer(TOKEN, SENDER, f"{sink.url}/email", timeout=10)
    try:
        await mailer.send(mail)
    finally:
        await mailer.close()
    await FileMailer(tmp_path / "file-mailer", SENDER).send(mail)
    (through_sink,) = sink.folder.glob("*.eml")
    (written,) = (tmp_path / "file-mailer").glob("*.eml")
    assert through_sink.name == written.name == "confirmation-bk_1.eml"
    assert normalized(through_sink.read_bytes()) == normalized(written.read_bytes())
    # What the normalizing hides is there all the same.
    assert b"\r\nDate: " in through_sink.read_bytes()
    assert stat.S_IMODE(through_sink.stat().st_mode) == 0o600
    assert [p.name for p in sink.folder.iterdir()] == ["confirmation-bk_1.eml"]  # no temp file left


def test_a_repeated_message_id_is_written_once_and_answered_the_same(sink: Sink) -> None:
    body = postmark_body(a_mail("reminder:bk_2"), SENDER)
    first = post(sink, body)
    assert first.status_code == 200, first.text
    assert first.json()["ErrorCode"] == 0
    (path,) = sink.folder.glob("*.eml")
    before = path.read_bytes()
    again = post(sink, {**body, "Subject": "a retried send, rendered again"})
    assert again.status_code == 200
    assert again.json()["MessageID"] == first.json()["MessageID"]
    assert [p.name for p in sink.folder.iterdir()] == ["reminder-bk_2.eml"]
    assert path.read_bytes() == before
    other = post(sink, postmark_body(a_mail("reminder:bk_3"), SENDER))
    assert other.json()["MessageID"] != first.json()["MessageID"]
    assert len(list(sink.folder.glob("*.eml"))) == 2


async def test_postmark_mailer_reuses_one_connection_and_raises_on_a_refusal(sink: Sink) -> None:
    mailer = PostmarkMailer(TOKEN, SENDER, f"{sink.url}/email", timeout=10)
    wrong = PostmarkMailer("not-the-token", SENDER, f"{sink.url}/email", timeout=10)
    try:
        for n in range(3):
            await mailer.send(a_mail(f"m:{n}"))
        # One keep-alive connection served the three sends.
        pool = mailer._client._transport._pool  # type: ignore[attr-defined]
        assert len(pool.connections) == 1
        with pytest.raises(MailError, match="401"):
            await wrong.send(a_mail("m:refused"))
    finally:
        await mailer.close()
        await wrong.close()
    assert sorted(p.name for p in sink.folder.glob("*.eml")) == ["m-0.eml", "m-1.eml", "m-2.eml"]
