"""The stack's stand-in for Postmark (as the Stripe sandbox is Stripe's, docs/adr/0033): the services
send mail with `PostmarkMailer`, as in production, to `POST /email` here, and each message is written
as the `.eml` file `FileMailer` writes (`<data>/mail/<message id>.eml`, once per id, atomically, mode
0600), which tests and developers read.

It takes the body `PostmarkMailer` sends (From, To, ReplyTo, Subject, TextBody, HtmlBody, Tag,
MessageStream, Headers with X-MAIS-Message-Id, Attachments) and answers as Postmark does: 401 with
ErrorCode 10 for a missing or wrong `X-Postmark-Server-Token`, 422 with an ErrorCode and a Message
naming the field for a body it cannot send (409 when it is not `application/json`), 500 when it cannot
write the file, 200 with ErrorCode 0 and a MessageID otherwise (the same
MessageID for a repeated id, which is not written again). 127.0.0.1 only; the token comes from the
environment (MAIS_MAIL_SINK_TOKEN), never the command line.

`python -m tools.stack.mail_sink --port N --folder <data>/mail` (the stack launcher starts it).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import datetime as dt
import hmac
import json
import logging
import os
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mais_runtime.mail import MESSAGE_ID_HEADER, Attachment, Mail, write_once

TOKEN_VARIABLE = "MAIS_MAIL_SINK_TOKEN"  # noqa: S105 - the variable's name, not a token
# Postmark's own limit: 10 MB per message, attachments included (their base64 counted).
MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_HEADERS = 50
MAX_ATTACHMENTS = 20
MAX_TAG_CHARACTERS = 1000
# Postmark's error codes (https://postmarkapp.com/developer/api/overview#error-codes).
BAD_TOKEN = 10
INVALID_REQUEST = 300
INVALID_JSON = 402
JSON_REQUIRED = 409
SERVER_ERROR = 500
# MessageIDs are UUIDs derived from the message id, so a repeated send gets the same one.
_MESSAGE_IDS = uuid.UUID("6f0e9a52-1c1e-4b53-9d3c-6d2b0a5e7c11")

log = logging.getLogger("mais.mail_sink")


class BadBody(ValueError):
    """A body the sink cannot send; the message names the field."""

    def __init__(self, message: str, code: int = INVALID_REQUEST) -> None:
        super().__init__(message)
        self.code = code


def _text(body: dict[str, Any], name: str, *, required: bool = False) -> str:
    value = body.get(name)
    if value is None:
        if required:
            raise BadBody(f"'{name}' is required")
        return ""
    if not isinstance(value, str):
        raise BadBody(f"'{name}' must be a string")
    if required and not value.strip():
        raise BadBody(f"'{name}' is required")
    return value


def _list(body: dict[str, Any], name: str, limit: int) -> list[dict[str, Any]]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise BadBody(f"'{name}' must be a list of objects")
    if len(value) > limit:
        raise BadBody(f"'{name}' holds {len(value)} entries; at most {limit}")
    return value


def mail_of(body: object) -> Mail:
    """The `Mail` a Postmark body describes (From kept whole as the sender: `build_message` then
    writes the From header PostmarkMailer computed), or BadBody naming the field."""
    if not isinstance(body, dict):
        raise BadBody("the body must be a JSON object", INVALID_JSON)
    _text(body, "From", required=True)
    to = _text(body, "To", required=True)
    text, html = _text(body, "TextBody"), _text(body, "HtmlBody")
    if not text and not html:
        raise BadBody("provide either 'TextBody' or 'HtmlBody' (or both)")
    tag = _text(body, "Tag")
    if len(tag) > MAX_TAG_CHARACTERS:
        raise BadBody(f"'Tag' is longer than {MAX_TAG_CHARACTERS} characters")
    stream = _text(body, "MessageStream") or "outbound"
    if stream != "outbound":
        raise BadBody(f"'MessageStream' {stream[:40]!r} does not exist; this sink has 'outbound'")
    message_id = ""
    for n, header in enumerate(_list(body, "Headers", MAX_HEADERS)):
        name, value = header.get("Name"), header.get("Value")
        if not isinstance(name, str) or not isinstance(value, str):
            raise BadBody(f"'Headers[{n}]' needs a string Name and Value")
        if name.lower() == MESSAGE_ID_HEADER.lower():
            message_id = value.strip()
    if not message_id:
        raise BadBody(f"'Headers' must carry {MESSAGE_ID_HEADER} (the file's name)")
    attachments = []
    for n, item in enumerate(_list(body, "Attachments", MAX_ATTACHMENTS)):
        where = f"Attachments[{n}]"
        name, content, kind = item.get("Name"), item.get("Content"), item.get("ContentType")
        if not isinstance(name, str) or not name.strip():
            raise BadBody(f"'{where}.Name' is required")
        if not isinstance(kind, str) or "/" not in kind:
            raise BadBody(f"'{where}.ContentType' must be a MIME type such as text/calendar")
        if not isinstance(content, str):
            raise BadBody(f"'{where}.Content' must be a base64 string")
        try:
            data = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise BadBody(f"'{where}.Content' is not valid base64") from None
        attachments.append(Attachment(name, kind, data))
    return Mail(
        message_id=message_id,
        to=to,
        subject=_text(body, "Subject"),
        text=text,
        html=html,
        tag=tag,
        reply_to=_text(body, "ReplyTo"),
        attachments=tuple(attachments),
    )


def _error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"ErrorCode": code, "Message": message}, status_code=status)


def create_app(folder: Path, token: str) -> Starlette:
    """The sink's HTTP surface: `POST /email` and `GET /health`."""
    if not token:
        raise ValueError(f"{TOKEN_VARIABLE} is empty: the sink needs a server token to check")
    expected = token.encode()

    async def email(request: Request) -> JSONResponse:
        given = request.headers.get("x-postmark-server-token", "").encode()
        if not hmac.compare_digest(given, expected):
            return _error(401, BAD_TOKEN, "Bad or missing Server API token")
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            return _error(422, JSON_REQUIRED, "JSON required: the Content-Type must be application/json")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return _error(422, INVALID_REQUEST, f"the message is over {MAX_BODY_BYTES} bytes")
        raw = bytearray()
        try:
            async for chunk in request.stream():
                raw += chunk
                if len(raw) > MAX_BODY_BYTES:
                    return _error(422, INVALID_REQUEST, f"the message is over {MAX_BODY_BYTES} bytes")
        except ClientDisconnect:
            return _error(400, INVALID_REQUEST, "the client went away")
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            return _error(422, INVALID_JSON, f"the body is not valid JSON: {error}")
        try:
            mail = mail_of(body)
        except BadBody as error:
            return _error(422, error.code, str(error))
        sender = str(body["From"])
        try:
            written = await asyncio.to_thread(write_once, folder, mail, sender)
        except OSError as error:
            # A full disk or a folder it may not write: the sender's outbox retries (any non-2xx).
            log.error("message %s not written: %s", mail.message_id, error)
            return _error(500, SERVER_ERROR, "the sink could not write the message; try again")
        except (ValueError, TypeError, LookupError) as error:
            # A header or part the email package refuses: no file, and said.
            log.warning("message %s not written: %s", mail.message_id, error)
            return _error(422, INVALID_REQUEST, f"the message could not be built: {error}")
        if not written:
            log.info("message %s already written; skipped", mail.message_id)
        return JSONResponse(
            {
                "To": mail.to,
                "SubmittedAt": dt.datetime.now(dt.UTC).isoformat(),
                "MessageID": str(uuid.uuid5(_MESSAGE_IDS, mail.message_id)),
                "ErrorCode": 0,
                "Message": "OK",
            }
        )

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/email", email, methods=["POST"]), Route("/health", health)])


def main(argv: Sequence[str] | None = None) -> None:
    """Parse flags, read the token from the environment, serve until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m tools.stack.mail_sink")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--folder", type=Path, required=True, help="where the .eml files go")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"--port must be from 1 to 65535, not {args.port}")
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    try:
        app = create_app(args.folder, os.environ.get(TOKEN_VARIABLE, ""))
    except ValueError as error:
        raise SystemExit(str(error)) from None
    log.warning("mail sink on %s:%d writing to %s", args.host, args.port, args.folder)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level.lower(),
        access_log=False,
        timeout_graceful_shutdown=3,
        # Idle keep-alive connections are kept longer than their clients keep them (httpx: 5 s), so the
        # client, which reuses a connection, is the side that closes it: a request never lands on one the
        # server is closing at that moment (a reset the caller may not retry).
        timeout_keep_alive=75,
    )


if __name__ == "__main__":
    main()
