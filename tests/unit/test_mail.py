"""The shared mail adapter's file sink."""

from __future__ import annotations

import asyncio
import email
import itertools
import random
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


def _subject_as_read(raw: bytes) -> tuple[str, str]:
    """The subject as a modern reader and as an RFC 2047 decoder of the old API read it."""
    from email.header import decode_header, make_header

    modern = email.message_from_bytes(raw, policy=policy.default)["Subject"]
    legacy = email.message_from_bytes(raw, policy=policy.compat32)["Subject"]
    return str(modern), str(make_header(decode_header(legacy)))


def test_a_non_ascii_subject_reads_back_with_every_space_and_short_lines() -> None:
    # Python's folder put the space between two encoded words on the fold, where decoders drop it:
    # "Zoë Müller" read "ZoëMüller". Every subject is folded within 78 characters and reads back whole.

    words = ["Café", "Zoë", "Ærø", "Ångström", "&", "Łódź", "日本", "Müller-Lüdenscheid", "🎉", "\u2013"]
    words += ["Studio", "your", "booking", "for", "Saturday", "12", "June", "2027", "is", "confirmed:"]
    pick = random.Random(17)
    subjects = [
        "Café Zoë Fotografie: your deposit is received and Saturday 12 June 2027 at 14:00 is booked",
        "Ærø Ångström & Søn Weddings: your booking for Saturday 12 June 2027 is confirmed",
    ]
    subjects += [" ".join(pick.choice(words) for _ in range(pick.randint(1, 30))) for _ in range(400)]
    for subject in subjects:
        raw = bytes(build_message(_mail(subject=subject), "MAIS <bookings@mais.local>"))
        headers = raw.split(b"\r\n\r\n", 1)[0]
        folded = headers.split(b"\r\nSubject: ", 1)[1].split(b"\r\n")
        subject_lines = [
            b"Subject: " + folded[0],
            *itertools.takewhile(lambda line: line[:1] == b" ", folded[1:]),
        ]
        assert all(len(line) <= 78 for line in subject_lines), headers
        assert _subject_as_read(raw) == (subject, subject), headers


def test_an_ascii_subject_is_set_as_before() -> None:
    message = build_message(_mail(subject="Lakeside Barn: your booking is confirmed"), "M <b@m.l>")
    assert b"\r\nSubject: Lakeside Barn: your booking is confirmed\r\n" in bytes(message)


def test_a_non_ascii_business_or_couple_name_stays_one_whole_address() -> None:
    # The library re-folded formataddr's encoded name: a comma or a quote of the name came out bare
    # (one From read as two addresses) and a fold split a word ("Ångström" read "Ån gström").
    from email.header import decode_header, make_header

    from mais_runtime.mail import sender_display

    words = ["Café", "Zoë", "Ærø", "Ångström", "&", "Łódź", "日本", "Müller-Lüdenscheid", "🎉", '"q"', "a,b"]
    words += ["Studio", "<x>", "O'Neil", "Photo", "weddings", "Fotografie"]
    pick = random.Random(29)
    names = ["Müller, Söhne & Co", 'Zoë "the lens" Ångström']
    names += [" ".join(pick.choice(words) for _ in range(pick.randint(1, 12))) for _ in range(300)]
    for business, couple in zip(names, reversed(names), strict=True):
        if business.isascii() or couple.isascii():
            continue
        mail = _mail(to=sender_display(couple, "ann@example.com"), **{"from_name": business})
        raw = bytes(build_message(mail, "MAIS <bookings@mais.local>"))
        headers = raw.split(b"\r\n\r\n", 1)[0]
        assert all(len(line) <= 78 for line in headers.split(b"\r\n") if not line.startswith(b"Message-ID"))
        modern = email.message_from_bytes(raw, policy=policy.default)
        assert [a.addr_spec for a in modern["From"].addresses] == ["bookings@mais.local"], headers
        assert [a.addr_spec for a in modern["To"].addresses] == ["ann@example.com"], headers
        legacy = email.message_from_bytes(raw, policy=policy.compat32)
        for header, name in (("From", business), ("To", couple)):
            phrase = " ".join(legacy[header].split()).rsplit(" <", 1)[0]
            assert str(make_header(decode_header(phrase))) == name, headers
