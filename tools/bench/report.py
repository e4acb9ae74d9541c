"""The benchmark's printed table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TextIO

from tools.bench.loadgen import LoadResult


@dataclass
class Report:
    """Rows of figures, printed at the end."""

    rows: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Envoy's direct-response rate on the same load: what the read figures are compared with.
    ceiling_rate: float = 0.0

    def add(self, section: str, what: str, value: str) -> None:
        """One figure."""
        self.rows.append((section, what, value))

    def load(self, section: str, result: LoadResult) -> None:
        """The usual figures of a load run."""
        self.add(
            section,
            result.label,
            f"{result.rate:,.0f} req/s  p50 {result.percentile(50):.1f} ms  "
            f"p99 {result.percentile(99):.1f} ms  "
            f"errors {result.failures}  ({result.requests:,} in {result.elapsed_s:.1f}s; "
            f"load generator at {result.cpu_share:.0%} of a core)",
        )

    def note(self, text: str) -> None:
        """A line printed under the table."""
        self.notes.append(text)

    def print(self, out: TextIO) -> None:
        """The table."""
        width = max((len(r[0]) for r in self.rows), default=10)
        what_width = max((len(r[1]) for r in self.rows), default=10)
        out.write("\nMAIS benchmark (127.0.0.1, this machine)\n")
        out.write("=" * 100 + "\n")
        for section, what, value in self.rows:
            out.write(f"{section:<{width}}  {what:<{what_width}}  {value}\n")
        out.write("=" * 100 + "\n")
        for line in self.notes:
            out.write(f"- {line}\n")
