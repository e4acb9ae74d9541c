"""Amounts in the smallest currency unit, as Stripe counts them: integer arithmetic only."""

from __future__ import annotations

# Stripe's minimum charge amounts for the currencies MAIS is likely to use; others only need to be positive.
MINIMUM_CHARGE = {"usd": 50, "eur": 50, "cad": 50, "aud": 50, "nzd": 50, "chf": 50, "gbp": 30}


def proportional(total: int, part: int, whole: int) -> int:
    """``total * part / whole`` rounded half up, in integer arithmetic (money never touches floats)."""
    numerator = total * part
    return (2 * numerator + whole) // (2 * whole)


def format_amount(amount: int, currency: str) -> str:
    """An amount as Stripe's error messages show it, e.g. ``USD 12.50``."""
    return f"{currency.upper()} {amount / 100:.2f}"
