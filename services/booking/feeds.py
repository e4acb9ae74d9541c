"""The tenant's calendar feed's private token.

Token: base64url(HMAC-SHA256(link key, "mais.calendar-feed.v1|<tenant>|<generation>")), 43 characters.
Derived, so the admin can be shown the URL again; only its SHA-256 is stored and looked up, so a copy of
the database opens no feed. A rotation bumps the generation, which changes the token and its hash.

"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")


def feed_token(key: bytes, tenant_id: str, generation: int) -> str:
    """The tenant's feed token of this generation."""
    message = f"mais.calendar-feed.v1|{uuid.UUID(tenant_id)}|{generation}"
    mac = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def token_hash(token: str) -> bytes:
    """What is stored and looked up for a token."""
    return hashlib.sha256(token.encode()).digest()


def well_formed(token: str) -> bool:
    """Whether `token` is shaped like one of ours (anything else is not looked up)."""
    return bool(_TOKEN.match(token))
