"""The targets of issue 17, judged on one run's figures: each printed with its figure, its ratio to the
ceiling measured in the same run (Envoy's direct response for reads, pgbench's hold transaction for
the booking flow, the budget itself for memory and start-up), and met or missed."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tools.bench.report import Report, ratio

if TYPE_CHECKING:
    from tools.bench.flows import CpuPerBooking
    from tools.bench.scenarios import ContentionFigures, OpenLoopFigures
    from tools.bench.wrk import WrkResult

READ_RATE = 10_000.0
READ_P99_MS = 10.0
CPU_PER_BOOKING_MS = 15.0
CONFIRMED_PER_S = 100.0
WEBHOOK_P99_MS = 50.0
WEBHOOK_AT_RATE = 50.0
CONTENTION_MS = 1000.0
PSS_MIB = 1024.0
READY_S = 10.0
WIDGET_SECTIONS = ("widget first render", "widget page weight")


@dataclass
class Figures:
    """What a run measured, for the targets (None: not measured)."""

    reads: dict[str, WrkResult] = field(default_factory=dict)
    rate: float = 0.0
    cpu: CpuPerBooking | None = None
    open_loop: dict[float, OpenLoopFigures] = field(default_factory=dict)
    contention: ContentionFigures | None = None
    pss_mib: float | None = None
    ready_s: float | None = None


def judge(figures: Figures, report: Report) -> None:
    """Adds every target of the issue to `report`."""
    for label, result in figures.reads.items():
        report.target(
            f"public read {label}",
            f"≥ {READ_RATE:,.0f} req/s, p99 ≤ {READ_P99_MS:g} ms, no error",
            f"{result.rate:,.0f} req/s, p99 {result.p99_ms:.1f} ms, {result.failures} errors",
            ratio(result.rate, report.ceiling_rate, "Envoy direct"),
            result.rate >= READ_RATE and result.p99_ms <= READ_P99_MS and result.failures == 0,
        )
    cpu = figures.cpu
    report.target(
        "CPU per confirmed booking, platform",
        f"≤ {CPU_PER_BOOKING_MS:g} ms (sandbox and load generator apart)",
        f"{cpu.platform_ms:.1f} ms" if cpu else "no booking confirmed",
        "",
        None if cpu is None or math.isnan(cpu.platform_ms) else cpu.platform_ms <= CPU_PER_BOOKING_MS,
    )
    report.target(
        "closed loop confirmed/s",
        f"≥ {CONFIRMED_PER_S:g}/s",
        f"{figures.rate:,.1f}/s",
        ratio(figures.rate, report.pgbench_tps, "pgbench hold tx/s"),
        None if not figures.rate else figures.rate >= CONFIRMED_PER_S,
    )
    at = figures.open_loop.get(WEBHOOK_AT_RATE)
    report.target(
        f"webhook → CONFIRMED at offered {WEBHOOK_AT_RATE:g}/s",
        f"p99 ≤ {WEBHOOK_P99_MS:g} ms",
        f"p99 {at.p99_ms:.1f} ms (p50 {at.p50_ms:.1f} ms), achieved {at.achieved:,.1f}/s"
        if at
        else "not run",
        ratio(at.achieved, at.offered, "offered") if at else "",
        None if at is None or math.isnan(at.p99_ms) else at.p99_ms <= WEBHOOK_P99_MS,
    )
    won = figures.contention
    report.target(
        "contention, one date",
        f"≤ {CONTENTION_MS:,.0f} ms, one winner, a keyed retry gets its own hold",
        (
            f"{won.elapsed_ms:,.0f} ms, {won.winners} winner(s), keyed retry "
            + ("its own hold" if won.keyed_retry_ok else "WRONG")
        )
        if won
        else "not run",
        "",
        None if won is None else won.elapsed_ms <= CONTENTION_MS and won.winners == 1 and won.keyed_retry_ok,
    )
    report.target(
        "whole stack memory",
        f"≤ {PSS_MIB:,.0f} MiB PSS",
        f"{figures.pss_mib:,.0f} MiB" if figures.pss_mib is not None else "not measured",
        ratio(figures.pss_mib, PSS_MIB, "the budget") if figures.pss_mib is not None else "",
        None if figures.pss_mib is None else figures.pss_mib <= PSS_MIB,
    )
    report.target(
        "ready when built",
        f"≤ {READY_S:g} s",
        f"{figures.ready_s:.1f} s" if figures.ready_s is not None else "not measured",
        ratio(figures.ready_s, READY_S, "the budget") if figures.ready_s is not None else "",
        None if figures.ready_s is None else figures.ready_s <= READY_S,
    )
    widget = [value for section, what, value in report.rows if section.startswith(WIDGET_SECTIONS)]
    report.target(
        "widget first render and bytes",
        "printed",
        "see the widget rows" if widget else "not measured (no Chromium)",
        "",
        None,
    )
