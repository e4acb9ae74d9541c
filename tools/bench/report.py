"""The benchmark's printed table, and the issue's targets, each with its figure, its ratio to the
ceiling measured in the same run, and met/missed."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TextIO

from tools.bench.loadgen import LoadResult
from tools.bench.wrk import WrkResult


@dataclass
class Target:
    """One target of the issue: what it asks, the figure measured, against which ceiling, and whether
    it was met (None: not measured in this run)."""

    name: str
    wanted: str
    figure: str
    ratio: str
    met: bool | None

    @property
    def verdict(self) -> str:
        """met, MISSED, printed (a figure without a bound) or not measured."""
        if self.met is None:
            printed = self.wanted == "printed" and not self.figure.startswith("not")
            return "printed" if printed else "not measured"
        return "met" if self.met else "MISSED"


@dataclass
class Report:
    """Rows of figures, printed at the end."""

    rows: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    # Envoy's direct-response rate on the same load: what the read figures are compared with.
    ceiling_rate: float = 0.0
    # GET /health through Envoy and the gateways (the Python floor), same load.
    health_rate: float = 0.0
    # pgbench's hold transactions per second: what the booking flow is compared with.
    pgbench_tps: float = 0.0

    def add(self, section: str, what: str, value: str) -> None:
        """One figure."""
        self.rows.append((section, what, value))

    def load(self, section: str, result: LoadResult) -> None:
        """The usual figures of a run of the Python load generator."""
        self.add(
            section,
            result.label,
            f"{result.rate:,.0f} req/s  p50 {result.percentile(50):.1f} ms  "
            f"p99 {result.percentile(99):.1f} ms  "
            f"errors {result.failures}  ({result.requests:,} in {result.elapsed_s:.1f}s; "
            f"load generator at {result.cpu_share:.0%} of a core)",
        )

    def wrk(self, section: str, result: WrkResult) -> None:
        """The figures of a wrk run."""
        self.add(
            section,
            result.label,
            f"{result.rate:,.0f} req/s  p50 {result.p50_ms:.1f} ms  p99 {result.p99_ms:.1f} ms  "
            f"max {result.max_ms:.1f} ms  errors {result.socket_errors} + {result.bad_status} status ≥ 400  "
            f"({result.requests:,} in {result.elapsed_s:.1f}s, {result.connections} conns; "
            f"wrk at {result.cpu_share:.0%} of a core)",
        )

    def target(self, name: str, wanted: str, figure: str, ratio: str, met: bool | None) -> None:
        """One of the issue's targets."""
        self.targets.append(Target(name, wanted, figure, ratio, met))

    def note(self, text: str) -> None:
        """A line printed under the table."""
        self.notes.append(text)

    def print(self, out: TextIO) -> None:
        """The table, then the targets."""
        width = max((len(r[0]) for r in self.rows), default=10)
        what_width = max((len(r[1]) for r in self.rows), default=10)
        out.write("\nMAIS benchmark (127.0.0.1, this machine)\n")
        out.write("=" * 100 + "\n")
        for section, what, value in self.rows:
            out.write(f"{section:<{width}}  {what:<{what_width}}  {value}\n")
        out.write("=" * 100 + "\n")
        if self.targets:
            out.write("\nTargets of issue 17 (ratios to the ceilings of this run)\n")
            out.write("-" * 100 + "\n")
            name_width = max(len(t.name) for t in self.targets)
            for t in self.targets:
                out.write(
                    f"{t.verdict:<12}  {t.name:<{name_width}}  {t.figure}  [{t.wanted}]"
                    + (f"  ({t.ratio})" if t.ratio else "")
                    + "\n"
                )
            out.write("-" * 100 + "\n")
        for line in self.notes:
            out.write(f"- {line}\n")


def ratio(value: float, ceiling: float, what: str) -> str:
    """`12.3 % of <what>`, or empty when either figure is missing."""
    if not ceiling or math.isnan(value) or math.isnan(ceiling):
        return ""
    return f"{value / ceiling:.1%} of {what}"
