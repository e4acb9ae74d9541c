"""List pages, the same for every service: `limit` 1-100 (50 when not given) and opaque cursors.

A cursor is the sort key of the last row of a page, as a JSON array in unpadded URL-safe base64. It is
not signed: what it can say is only where to continue, and every query that reads it stays inside its
tenant's row-level security. A cursor that is not one of ours is a VALIDATION_ERROR on `cursor`.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from mais_runtime.errors import ValidationError

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
# Far longer than any cursor we make; refused before any decoding.
MAX_CURSOR_LENGTH = 400


def page_size(requested: int) -> int:
    """A list's page size: 1-100, 50 when not given (0)."""
    if requested == 0:
        return DEFAULT_PAGE_SIZE
    if not 1 <= requested <= MAX_PAGE_SIZE:
        raise ValidationError.of("limit", f"must be between 1 and {MAX_PAGE_SIZE}")
    return requested


def encode_cursor(*parts: str | int) -> str:
    """An opaque page token of the sort key `parts`."""
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


def decode_parts(token: str, arity: int) -> list[Any] | None:
    """The JSON parts of a page token (None for no token), `arity` of them, not yet type-checked."""
    if not token:
        return None
    if len(token) > MAX_CURSOR_LENGTH:
        raise invalid_cursor()
    try:
        parts = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid_cursor() from None
    if not isinstance(parts, list) or len(parts) != arity:
        raise invalid_cursor()
    return parts


def decode_cursor(token: str, arity: int) -> list[str] | None:
    """The string parts of a page token made by encode_cursor (None for no token)."""
    parts = decode_parts(token, arity)
    if parts is not None and not all(isinstance(p, str) for p in parts):
        raise invalid_cursor()
    return parts


def invalid_cursor() -> ValidationError:
    """The error for a cursor that is not one of ours."""
    return ValidationError.of("cursor", "is not a valid cursor")
