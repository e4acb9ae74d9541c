"""The couple's link: a token that opens one booking, signed with the service's link key.

Token: `<tenant id, 32 hex>.<expiry YYYYMMDD>.<HMAC-SHA256, base64url>`. The MAC covers the booking id,
the tenant id and the expiry, so a token opens exactly one booking of one tenant until the day after the
event. The tenant id is readable so a request without a tenant key can still be routed to its tenant;
the MAC, not the readable part, is what grants access.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from datetime import date, timedelta

_TOKEN = re.compile(r"^([0-9a-f]{32})\.(\d{8})\.([A-Za-z0-9_-]{43})$")


def expiry_of(event_date: date) -> date:
    """The last day a token for this event works: the day after the event."""
    return event_date + timedelta(days=1)


def _mac(key: bytes, booking_id: str, tenant_id: str, expires: date) -> bytes:
    message = f"mais.booking-link.v1|{booking_id}|{uuid.UUID(tenant_id)}|{expires.isoformat()}"
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def sign_token(key: bytes, *, booking_id: str, tenant_id: str, event_date: date) -> str:
    """The token for a booking, valid until the day after its event."""
    expires = expiry_of(event_date)
    mac = base64.urlsafe_b64encode(_mac(key, booking_id, tenant_id, expires)).decode().rstrip("=")
    return f"{uuid.UUID(tenant_id).hex}.{expires:%Y%m%d}.{mac}"


def tenant_of_token(token: str) -> str | None:
    """The tenant id a token claims (unverified), or None when it is not shaped like a token."""
    match = _TOKEN.match(token)
    return str(uuid.UUID(match.group(1))) if match else None


def verify_token(key: bytes, token: str, *, booking_id: str, tenant_id: str, today: date) -> bool:
    """True when `token` was signed for this booking of this tenant and has not expired."""
    match = _TOKEN.match(token)
    if not match:
        return False
    try:
        expires = date(int(match.group(2)[:4]), int(match.group(2)[4:6]), int(match.group(2)[6:]))
        claimed_tenant = uuid.UUID(match.group(1))
        given = base64.urlsafe_b64decode(match.group(3) + "=")
    except ValueError:
        return False
    expected = _mac(key, booking_id, str(claimed_tenant), expires)
    # Compare the MAC first and in constant time; the other checks leak nothing a caller does not know.
    if not hmac.compare_digest(given, expected):
        return False
    return claimed_tenant == uuid.UUID(tenant_id) and today <= expires


def manage_url(public_url: str, booking_id: str, token: str) -> str:
    """The link in the couple's emails: their manage page (served by the gateway), which reads the
    booking with the same token from `GET /v1/bookings/{id}?token=`."""
    return f"{public_url.rstrip('/')}/booking/{booking_id}?token={token}"
