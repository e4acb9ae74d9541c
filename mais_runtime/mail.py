"""The shared mail adapter: Postmark's HTTP API when a server token is configured, otherwise one
`.eml` file per message under `<data>/mail/` (the development and test sink).

Messages carry a stable `message_id` (the outbox's dedupe key): the file sink writes each id once, so
a retried send after a crash never leaves two files; Postmark is at-least-once.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import secrets
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Protocol

import httpx
from pydantic_settings import BaseSettings, SettingsConfigDict

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


class MailSettings(BaseSettings):
    """Where mail goes."""

    model_config = SettingsConfigDict(extra="ignore")

    postmark_server_token: str = ""
    postmark_api_url: str = "https://api.postmarkapp.com/email"
    mais_mail_from: str = "MAIS Bookings <bookings@mais.local>"
    mais_data_dir: Path = Path(".data")
    mais_mail_timeout_seconds: float = 10.0


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message (a calendar invitation, say): its name, MIME type and bytes."""

    filename: str
    content_type: str
    content: bytes

    def as_json(self) -> dict[str, str]:
        """The form the outbox stores (the bytes as base64)."""
        return {
            "filename": self.filename,
            "contentType": self.content_type,
            "content": base64.b64encode(self.content).decode("ascii"),
        }

    @staticmethod
    def from_json(value: dict[str, str]) -> Attachment:
        """The attachment `as_json` stored."""
        return Attachment(value["filename"], value["contentType"], base64.b64decode(value["content"]))


@dataclass(frozen=True)
class Mail:
    """One message, with both parts. Header values are made single-line before use."""

    message_id: str
    to: str
    subject: str
    text: str
    html: str
    tag: str = ""
    # The business the message speaks for: shown as the From display name (the address stays the
    # platform's, so SPF and DKIM hold), and where the reader's reply goes.
    from_name: str = ""
    reply_to: str = ""
    attachments: tuple[Attachment, ...] = ()


class MailError(Exception):
    """The provider refused or did not answer; the outbox retries."""


class Mailer(Protocol):
    """Something that delivers a Mail or raises MailError."""

    async def send(self, mail: Mail) -> None:
        """Delivers one message."""


def one_line(value: str) -> str:
    """A header value with no CR/LF, so typed text cannot add headers."""
    return " ".join(value.replace("\r", " ").replace("\n", " ").split())


def from_header(mail: Mail, sender: str) -> str:
    """The From value: the platform's sending address, with the business's name when the mail has one."""
    if not mail.from_name:
        return one_line(sender)
    return sender_display(mail.from_name, parseaddr(one_line(sender))[1])


def build_message(mail: Mail, sender: str) -> EmailMessage:
    """The MIME form of a Mail (text and HTML alternatives, then any attachments: multipart/mixed),
    dated now."""
    message = EmailMessage(policy=SMTP)
    _set_address(message, "From", from_header(mail, sender))
    _set_address(message, "To", one_line(mail.to))
    if mail.reply_to:
        message["Reply-To"] = one_line(mail.reply_to)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    _set_subject(message, one_line(mail.subject))
    message["Message-ID"] = make_msgid(
        idstring=_SAFE_NAME.sub("-", mail.message_id)[:60], domain="mais.local"
    )
    if mail.tag:
        message["X-MAIS-Tag"] = one_line(mail.tag)
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    for attachment in mail.attachments:
        kind, *parameters = one_line(attachment.content_type).split(";")
        maintype, _, subtype = kind.strip().partition("/")
        message.add_attachment(
            attachment.content,
            maintype=maintype,
            subtype=subtype,
            filename=one_line(attachment.filename),
            params=dict(p.strip().partition("=")[::2] for p in parameters if "=" in p),
        )
    return message


def encoded_words(value: str) -> str:
    """`value` as RFC 2047 encoded words (UTF-8, base64), each within 75 characters and whole
    characters, separated by spaces: the space between two encoded words is folding white space that
    decoders drop, while the value's own spaces are inside the words. The email library (3.11) folds
    a non-ASCII subject or display name its own way, putting a space of the value between two words
    (where decoders drop it: "Zo\u00eb M\u00fcller" read "Zo\u00ebM\u00fcller"), splitting a word, and
    leaving a comma or a quote of a business name bare (one From read as two addresses)."""
    words: list[bytes] = []
    chunk = b""
    for character in value:
        encoded = character.encode("utf-8")
        if len(chunk) + len(encoded) > _WORD_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += encoded
    words.append(chunk)
    return " ".join(f"=?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words)


# 39 bytes are 52 base64 characters: "=?utf-8?b?" + 52 + "?=" is 64, within RFC 2047's 75 and short
# enough to start a header's first line after its name ("Subject: ", "From: ") within 78.
_WORD_BYTES = 39


def _set_subject(message: EmailMessage, subject: str) -> None:
    if subject.isascii():
        message["Subject"] = subject
    else:
        # Stored folded (no line over 78 characters, so the generator keeps it as it is).
        message.set_raw("Subject", _fold_at_spaces("Subject: ", encoded_words(subject)))


def _set_address(message: EmailMessage, name: str, value: str) -> None:
    """An address header; one whose display name `formataddr` already encoded (RFC 2047) is kept as
    encoded. The library would parse it again and fold it its own way: a quote or a comma in a
    non-ASCII business name came out bare (one From read as two addresses) and a fold split a word."""
    if value.isascii() and "=?" in value:
        message.set_raw(name, _fold_at_spaces(f"{name}: ", value))
    else:
        message[name] = value


def _fold_at_spaces(prefix: str, value: str, width: int = 78) -> str:
    """`value` on lines of at most `width` characters (the first after `prefix`) where its spaces
    allow: a space between two encoded words is folding white space, which decoders drop anyway."""
    lines: list[str] = []
    line = ""
    for token in value.split(" "):
        room = width - (len(prefix) if not lines else 1)
        if line and len(line) + 1 + len(token) > room:
            lines.append(line)
            line = token
        else:
            line = f"{line} {token}" if line else token
    return "\r\n ".join([*lines, line])


def eml_path(folder: Path, message_id: str) -> Path:
    """Where the file sink keeps the message with this id: `<folder>/<id, made file-safe>.eml`."""
    return folder / f"{_SAFE_NAME.sub('-', message_id)}.eml"


def write_once(folder: Path, mail: Mail, sender: str) -> bool:
    """Writes `mail` to `eml_path` atomically (a private temp file, then a hard link that fails when
    the name exists), readable by this user only; False when that id was already written. Two
    writers of one id (two replicas, two threads of the mail sink) leave one file, never a torn one."""
    folder.mkdir(parents=True, exist_ok=True)
    path = eml_path(folder, mail.message_id)
    if path.exists():
        return False
    temp = path.with_suffix(f".tmp{os.getpid()}-{secrets.token_hex(4)}")
    # Couples' names, addresses and booking links: readable by this user only.
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(bytes(build_message(mail, sender)))
        os.link(temp, path)
    except FileExistsError:
        return False
    finally:
        temp.unlink(missing_ok=True)
    return True


class FileMailer:
    """Writes each message once to `<folder>/<message id>.eml` (processes run outside the stack, and
    tests; the stack's services send to its Postmark-compatible sink, tools/stack/mail_sink.py)."""

    def __init__(self, folder: Path, sender: str) -> None:
        self.folder = folder
        self.sender = sender

    async def send(self, mail: Mail) -> None:
        """Writes the message atomically; an id already written is skipped."""
        await asyncio.to_thread(write_once, self.folder, mail, self.sender)

    async def close(self) -> None:
        """Nothing to release."""


class PostmarkMailer:
    """Sends through Postmark's HTTP API (or the stack's sink, which answers as it does) on one
    keep-alive client for the mailer's life, every request within the timeout; `close()` at shutdown."""

    def __init__(self, token: str, sender: str, url: str, timeout: float) -> None:
        self._token = token
        self._sender = sender
        self._url = url
        self._client = httpx.AsyncClient(
            timeout=timeout,
            limits=httpx.Limits(max_connections=_POSTMARK_CONNECTIONS, max_keepalive_connections=4),
        )

    async def send(self, mail: Mail) -> None:
        """One POST; any non-2xx answer or transport failure raises MailError."""
        body = postmark_body(mail, self._sender)
        headers = {"X-Postmark-Server-Token": self._token, "Accept": "application/json"}
        try:
            answer = await self._client.post(self._url, json=body, headers=headers)
        except httpx.HTTPError as error:
            raise MailError(f"postmark unreachable: {type(error).__name__}") from error
        if answer.status_code >= 300:
            raise MailError(f"postmark answered {answer.status_code}")

    async def close(self) -> None:
        """Closes the client's connections."""
        await self._client.aclose()


# The outbox sends one message at a time per dispatcher; a few connections are plenty.
_POSTMARK_CONNECTIONS = 8
# The header that carries the outbox's message id to Postmark (and names the sink's file).
MESSAGE_ID_HEADER = "X-MAIS-Message-Id"


def postmark_body(mail: Mail, sender: str) -> dict[str, object]:
    """The JSON Postmark's `POST /email` takes for `mail`."""
    return {
        "From": from_header(mail, sender),
        "To": one_line(mail.to),
        **({"ReplyTo": one_line(mail.reply_to)} if mail.reply_to else {}),
        "Subject": one_line(mail.subject),
        "TextBody": mail.text,
        "HtmlBody": mail.html,
        "Tag": one_line(mail.tag)[:1000],
        "MessageStream": "outbound",
        "Headers": [{"Name": MESSAGE_ID_HEADER, "Value": one_line(mail.message_id)}],
        **(
            {"Attachments": [_postmark_attachment(a) for a in mail.attachments]}
            if mail.attachments
            else {}
        ),
    }


def _postmark_attachment(attachment: Attachment) -> dict[str, str]:
    """An attachment as Postmark's API takes it: Name, base64 Content, ContentType."""
    return {
        "Name": one_line(attachment.filename),
        "Content": base64.b64encode(attachment.content).decode("ascii"),
        "ContentType": one_line(attachment.content_type),
    }


def mailer_from_settings(settings: MailSettings | None = None) -> FileMailer | PostmarkMailer:
    """Postmark when POSTMARK_SERVER_TOKEN is set, else the file sink under the data folder."""
    settings = settings or MailSettings()
    if settings.postmark_server_token:
        return PostmarkMailer(
            settings.postmark_server_token,
            settings.mais_mail_from,
            settings.postmark_api_url,
            settings.mais_mail_timeout_seconds,
        )
    return FileMailer(settings.mais_data_dir / "mail", settings.mais_mail_from)


def sender_display(name: str, address: str) -> str:
    """A From (or To) value with a display name, quoted safely; a non-ASCII name as `encoded_words`
    (which `build_message` folds at their spaces)."""
    name, address = one_line(name), one_line(address)
    if name.isascii():
        return formataddr((name, address))
    return f"{encoded_words(name)} <{address}>"
