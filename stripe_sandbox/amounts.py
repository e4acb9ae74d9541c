"""Amounts in the smallest currency unit, as Stripe counts them: integer arithmetic only."""

from __future__ import annotations

from mais_runtime.money import decimal_amount

# Stripe's minimum charge amounts for the currencies MAIS is likely to use; others only need to be positive.
MINIMUM_CHARGE = {"usd": 50, "eur": 50, "cad": 50, "aud": 50, "nzd": 50, "chf": 50, "gbp": 30}


def proportional(total: int, part: int, whole: int) -> int:
    """``total * part / whole`` rounded half up, in integer arithmetic (money never touches floats)."""
    numerator = total * part
    return (2 * numerator + whole) // (2 * whole)


def format_amount(amount: int, currency: str) -> str:
    """An amount as Stripe's messages and pages show it, in the currency's own minor unit:
    ``USD 1,250.00``, ``JPY 150,000``, ``KWD 1.500``."""
    return f"{currency.upper()} {decimal_amount(amount, currency)}"
