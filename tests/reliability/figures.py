"""The figures the reliability suite prints at the end: what it tried and what it found.

Every request a test sends counts under its category; every broken promise the suite detects is
counted as well, whether or not the test goes on to fail on it, so the closing table shows what was
found (all of the "found" columns must read 0)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pytest

FIGURES_KEY = pytest.StashKey["Figures"]()

CATEGORIES = ("hostile input", "isolation", "auth", "contention", "webhooks", "crashes")


@dataclass
class Figures:
    """Counters shared by every test of the session."""

    tried: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    server_errors: Counter[str] = field(default_factory=Counter)
    # 500/502/503 answered while the suite had a part down on purpose: the "try again" a caller (or
    # Stripe) is owed then, not a fault; shown apart from the 5xx column.
    during_outage: Counter[str] = field(default_factory=Counter)
    # Requests that failed and were tried again by their caller as documented (docs/adr/0032): a couple's
    # checkout sent again with its Idempotency-Key, a read sent again, Stripe redelivering an event.
    retried: Counter[str] = field(default_factory=Counter)
    double_bookings: int = 0
    lost_payments: int = 0
    duplicated_payments: int = 0
    failed_tests: int = 0

    def request(self, category: str, status: int, *, ok: bool = True, outage: bool = False) -> None:
        """One request of `category` answered `status`; `ok=False` when it broke a property. With
        `outage`, a 500/502/503 is counted as the expected answer of a deliberately stopped part."""
        self.tried[category] += 1
        if outage and status in (500, 502, 503):
            self.during_outage[category] += 1
            status = 200
        if status >= 500:
            self.server_errors[category] += 1
        if not ok or status >= 500:
            self.failures[category] += 1

    def retry(self, what: str, count: int = 1) -> None:
        """`count` failed attempts of `what` that the caller tried again (not failures)."""
        self.retried[what] += count

    def failure(self, category: str, count: int = 1) -> None:
        """A broken property found by other means than one answer (a database check, a ledger)."""
        self.failures[category] += count

    def lines(self) -> list[str]:
        """The closing table."""
        rows = [
            f"{'category':<15}{'requests':>10}{'failures':>10}{'5xx':>7}{'5xx while down on purpose':>28}"
        ]
        for category in sorted(set(CATEGORIES) | set(self.tried)):
            rows.append(
                f"{category:<15}{self.tried[category]:>10}{self.failures[category]:>10}"
                f"{self.server_errors[category]:>7}{self.during_outage[category]:>28}"
            )
        rows.append(
            f"{'total':<15}{sum(self.tried.values()):>10}{sum(self.failures.values()):>10}"
            f"{sum(self.server_errors.values()):>7}{sum(self.during_outage.values()):>28}"
        )
        for what in sorted(self.retried):
            rows.append(f"retried by the caller ({what}): {self.retried[what]}")
        rows.append(f"double bookings found: {self.double_bookings}")
        rows.append(f"lost payments found: {self.lost_payments}")
        rows.append(f"duplicated payments found: {self.duplicated_payments}")
        rows.append(f"failed tests: {self.failed_tests}")
        return rows
