"""The tenant a piece of work acts for, carried in a context variable so that logs, spans and
database transactions can name it without every function passing it along."""

from __future__ import annotations

import contextvars
import uuid

from mais_runtime.errors import ValidationError

current_tenant: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_tenant", default=None)


def parse_tenant_id(value: str, field_name: str = "tenant_id") -> str:
    """Returns the canonical form of a tenant id (a UUID) or raises ValidationError."""
    if not value:
        raise ValidationError.of(field_name, "is required")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValidationError.of(field_name, "must be a UUID") from None


def is_tenant_id(value: str) -> bool:
    """True when `value` is a well-formed tenant id."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
