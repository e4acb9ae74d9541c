"""Read loads with `wrk` (Debian's package; `make bench` installs it when missing): C, epoll, a small
share of one core at rates a Python client cannot offer.

Each run gets a Lua script written into the run's own temp folder: the requests (path and tenant key)
are formatted once per wrk thread, each connection's next request is the next one in turn, so 20
tenants' keys are rotated per request; the script's `done` prints one JSON line of figures that this
module reads back. Loopback only, bounded in time (`-d`, at most 60 s, the process killed past it).
"""

from __future__ import annotations

import json
import re
import resource
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

WRK = "wrk"
CONNECTIONS = 64
THREADS = 2
MAX_SECONDS = 60.0
MAX_REQUESTS_IN_SCRIPT = 1000
# What may go into the Lua script literally: a path with its query, a header value (keys are URL-safe).
_PATH = re.compile(r"^/[A-Za-z0-9/_.~%=&?:+-]{0,1000}$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_HEADER_VALUE = re.compile(r"^[A-Za-z0-9_.:/=+~-]{0,300}$")
_MARK = "MAIS-WRK "


class WrkError(RuntimeError):
    """wrk is missing, failed, or printed no figures."""


@dataclass(frozen=True)
class WrkRequest:
    """One GET of the rotation: its path (with query) and its headers."""

    path: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class WrkResult:
    """What one wrk run measured."""

    label: str
    requests: int
    elapsed_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    # Socket errors (connect, read, write, timeout) and answers with a status of 400 or above.
    socket_errors: int
    bad_status: int
    cpu_s: float
    connections: int

    @property
    def rate(self) -> float:
        """Answered requests per second."""
        return self.requests / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def failures(self) -> int:
        """Every request that did not get a good answer."""
        return self.socket_errors + self.bad_status

    @property
    def cpu_share(self) -> float:
        """wrk's CPU time as a share of one core over the run."""
        return self.cpu_s / self.elapsed_s if self.elapsed_s else 0.0


def _lua_string(value: str) -> str:
    return '"' + value + '"'


def lua_script(requests: list[WrkRequest]) -> str:
    """The script: every request formatted once per thread in `init`, then taken in turn by `request`
    (each thread starts at its own offset so that the threads do not ask in lockstep)."""
    if not requests:
        raise ValueError("requests: at least one is needed")
    if len(requests) > MAX_REQUESTS_IN_SCRIPT:
        raise ValueError(f"requests: at most {MAX_REQUESTS_IN_SCRIPT}, got {len(requests)}")
    rows = []
    for n, request in enumerate(requests):
        if not _PATH.match(request.path):
            raise ValueError(f"requests[{n}].path: not a plain path and query: {request.path[:80]!r}")
        headers = []
        for name, value in request.headers:
            if not _HEADER_NAME.match(name) or not _HEADER_VALUE.match(value):
                raise ValueError(f"requests[{n}].headers: {name[:64]!r} is not a plain header")
            headers.append(f"[{_lua_string(name)}] = {_lua_string(value)}")
        rows.append(f"  {{{_lua_string(request.path)}, {{{', '.join(headers)}}}}},")
    return (
        "local rows = {\n"
        + "\n".join(rows)
        + "\n}\n"
        + """local formatted = {}
local n = 0
local threads = 0

setup = function(thread)
  thread:set("offset", threads * 7)
  threads = threads + 1
end

init = function(args)
  for i, row in ipairs(rows) do
    formatted[i] = wrk.format("GET", row[1], row[2])
  end
  n = tonumber(offset) or 0
end

request = function()
  n = n + 1
  return formatted[(n % #formatted) + 1]
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '"""
        + _MARK
        + """{"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, '
      .. '"status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""
    )


def parse_output(label: str, stdout: str, cpu_s: float, connections: int) -> WrkResult:
    """The figures of the script's `done` line."""
    for line in stdout.splitlines():
        if line.startswith(_MARK):
            figures = json.loads(line[len(_MARK) :])
            break
    else:
        raise WrkError(f"{label}: wrk printed no figures: {stdout.strip()[-300:]!r}")
    return WrkResult(
        label=label,
        requests=int(figures["requests"]),
        elapsed_s=figures["duration_us"] / 1e6,
        p50_ms=figures["p50_us"] / 1000,
        p90_ms=figures["p90_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        max_ms=figures["max_us"] / 1000,
        socket_errors=sum(int(figures[k]) for k in ("connect", "read", "write", "timeout")),
        bad_status=int(figures["status"]),
        cpu_s=cpu_s,
        connections=connections,
    )


def available() -> bool:
    """True when wrk is on the PATH."""
    return shutil.which(WRK) is not None


def run_wrk(
    label: str,
    port: int,
    requests: list[WrkRequest],
    *,
    folder: Path,
    seconds: float,
    connections: int = CONNECTIONS,
    threads: int = THREADS,
) -> WrkResult:
    """wrk against 127.0.0.1:`port` for `seconds` (1-60) with `connections` keep-alive connections,
    rotating `requests`. The script goes into `folder` (the run's temp folder)."""
    if not available():
        raise WrkError("wrk is not installed (make bench installs Debian's package)")
    if not 0 < port < 65536:
        raise ValueError(f"port: {port} is not a TCP port")
    seconds = min(max(seconds, 1.0), MAX_SECONDS)
    connections = min(max(connections, 1), 1024)
    threads = min(max(threads, 1), connections)
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / f"wrk-{re.sub(r'[^a-z0-9]+', '-', label.lower()).strip('-')[:40] or 'run'}.lua"
    script.write_text(lua_script(requests))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    try:
        done = subprocess.run(
            [
                WRK,
                "-t",
                str(threads),
                "-c",
                str(connections),
                "-d",
                f"{seconds:g}s",
                "--timeout",
                "5s",
                "-s",
                str(script),
                f"http://127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise WrkError(f"{label}: wrk did not stop within {seconds + 30:.0f}s") from error
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise WrkError(f"{label}: wrk exited {done.returncode}: {done.stderr.strip()[-300:]}")
    result = parse_output(label, done.stdout, cpu_s, connections)
    if result.elapsed_s <= 0:
        result.elapsed_s = time.monotonic() - started
    return result
