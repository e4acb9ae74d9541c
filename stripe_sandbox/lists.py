"""Stripe's list pagination: ``limit`` (1 to 100, default 10) and the ``starting_after`` cursor."""

from __future__ import annotations

from typing import Any

from stripe_sandbox.errors import StripeError, missing_reference
from stripe_sandbox.forms import int_param

LIST_LIMIT_MAX = 100


def page(
    items: list[dict[str, Any]], limit: int, starting_after: str | None, param: str = "starting_after"
) -> tuple[list[dict[str, Any]], bool]:
    """Cursor pagination over newest-first items, as Stripe lists do: ``(window, has_more)``."""
    start = 0
    if starting_after is not None:
        ids = [item["id"] for item in items]
        if starting_after not in ids:
            raise missing_reference("object", starting_after, param)
        start = ids.index(starting_after) + 1
    window = items[start : start + limit]
    return window, start + limit < len(items)


def list_limit(params: dict[str, Any]) -> int:
    """The ``limit`` of a list request, refused above Stripe's maximum."""
    limit = int_param(params, "limit", minimum=1)
    if limit is None:
        return 10
    if limit > LIST_LIMIT_MAX:
        raise StripeError(f"This value must be less than or equal to {LIST_LIMIT_MAX}.", param="limit")
    return limit
