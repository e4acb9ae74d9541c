"""The widget divides amounts by the same minor units as the server (Stripe's table): the TypeScript copy
in web/src/app/money.ts must list exactly the currencies mais_runtime/money.py lists."""

from __future__ import annotations

import re
from pathlib import Path

from mais_runtime.money import THREE_DECIMAL, ZERO_DECIMAL

MONEY_TS = Path(__file__).resolve().parents[2] / "web" / "src" / "app" / "money.ts"


def listed(name: str) -> frozenset[str]:
    found = re.search(rf'export const {name} = new Set\("([a-z ]+)"\.split\(" "\)\);', MONEY_TS.read_text())
    assert found, f"{name} not found in {MONEY_TS}"
    return frozenset(found.group(1).split())


def test_the_widget_knows_the_same_zero_and_three_decimal_currencies_as_the_server() -> None:
    assert listed("ZERO_DECIMAL") == ZERO_DECIMAL
    assert listed("THREE_DECIMAL") == THREE_DECIMAL
