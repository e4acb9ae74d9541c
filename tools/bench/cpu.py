"""CPU time of every process of the stack, from /proc (utime + stime, via psutil), so that a phase's
cost can be divided by what it achieved (CPU per confirmed booking, per process).

A process's figure is its own time plus that of its children, living (summed) and exited (the
`cutime + cstime` its parent collected): PostgreSQL's backends come and go with the pools, and each is
counted under "postgresql" whichever it is. The Stripe sandbox, the mail sink and the load generator
(this process) are reported apart from the platform's sum.
"""

from __future__ import annotations

import resource
from collections.abc import Iterable
from dataclasses import dataclass, field

import psutil

SANDBOX = "stripe-sandbox"
POSTGRESQL = "postgresql"
LOAD_GENERATOR = "load generator"
# Never part of the platform's sum.
# The stack's stand-in for Postmark (production sends to Postmark and runs no such process).
MAIL_SINK = "mail-sink"
APART = frozenset({SANDBOX, MAIL_SINK, LOAD_GENERATOR})


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of `pid` and all its descendants, living and exited (0 when it is gone)."""
    try:
        root = psutil.Process(pid)
        members = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for member in members:
        try:
            times = member.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def own_cpu_seconds() -> float:
    """This process's CPU seconds (the load generator's, when it is the bench)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class CpuSnapshot:
    """CPU seconds by process name at one moment."""

    seconds: dict[str, float] = field(default_factory=dict)

    @classmethod
    def take(cls, roots: dict[str, int]) -> CpuSnapshot:
        """Every named process tree's CPU seconds, and this process's as the load generator."""
        snapshot = cls({name: tree_cpu_seconds(pid) for name, pid in roots.items()})
        snapshot.seconds[LOAD_GENERATOR] = own_cpu_seconds()
        return snapshot

    def since(self, earlier: CpuSnapshot) -> dict[str, float]:
        """CPU seconds used by each process between `earlier` and this snapshot (never negative: a
        process restarted in between counts from zero)."""
        used = {}
        for name, now in self.seconds.items():
            before = earlier.seconds.get(name, 0.0)
            used[name] = now - before if now >= before else now
        return used


def platform_sum(used: dict[str, float]) -> float:
    """The platform's processes, without the sandbox and the load generator."""
    return sum(seconds for name, seconds in used.items() if name not in APART)


def stack_roots(processes: Iterable[tuple[str, int | None]], postmaster: int | None) -> dict[str, int]:
    """The roots to measure: each managed process by name, and PostgreSQL's postmaster."""
    roots = {name: pid for name, pid in processes if pid is not None}
    if postmaster is not None:
        roots[POSTGRESQL] = postmaster
    return roots


def find_postmaster(pgdata: str) -> int | None:
    """The postmaster of the cluster in `pgdata` (the oldest postgres process naming it)."""
    found = []
    for process in psutil.process_iter(["cmdline", "create_time"]):
        cmdline = process.info.get("cmdline") or []
        if cmdline and "postgres" in cmdline[0] and pgdata in " ".join(cmdline):
            found.append((process.info.get("create_time") or 0.0, process.pid))
    return min(found)[1] if found else None
