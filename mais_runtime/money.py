"""Amounts as Stripe counts them: integers in the currency's smallest unit, which is not always a
hundredth. A yen has no minor unit (150000 JPY is ¥150,000); a Kuwaiti dinar has thousandths (1500 KWD is
1.500 KWD). Shared by everything that shows an amount to a person (emails, the sandbox's hosted page).
"""

from __future__ import annotations

# Stripe's zero-decimal and three-decimal currencies; every other one counts in hundredths.
ZERO_DECIMAL = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()  # noqa: SIM905
)
THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())  # noqa: SIM905


def minor_digits(currency: str) -> int:
    """How many decimal places the currency's smallest unit stands for (0, 2 or 3)."""
    code = currency.lower()
    return 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2


def decimal_amount(amount: int, currency: str) -> str:
    """The amount as a person reads it, grouped in thousands: 123456 usd -> "1,234.56",
    150000 jpy -> "150,000", -90000 usd -> "-900.00"."""
    digits = minor_digits(currency)
    sign = "-" if amount < 0 else ""
    whole, minor = divmod(abs(amount), 10**digits)
    fraction = f".{minor:0{digits}d}" if digits else ""
    return f"{sign}{whole:,}{fraction}"
