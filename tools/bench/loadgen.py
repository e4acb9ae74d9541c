"""A lean HTTP/1.1 load generator on raw asyncio streams (keep-alive, one request in flight per
connection), so that the generator itself costs little CPU and reports how much it did cost.

It only talks to 127.0.0.1 and every run is bounded in both request count and time.
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_REQUESTS = 500_000
MAX_SECONDS = 120.0


@dataclass
class LoadResult:
    """What one load run measured."""

    label: str
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0
    elapsed_s: float = 0.0
    cpu_s: float = 0.0

    @property
    def requests(self) -> int:
        """Answered requests."""
        return len(self.latencies_ms)

    @property
    def rate(self) -> float:
        """Answered requests per second."""
        return self.requests / self.elapsed_s if self.elapsed_s else 0.0

    def percentile(self, p: float) -> float:
        """Latency percentile in milliseconds (nearest rank)."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]

    @property
    def failures(self) -> int:
        """Transport errors plus 5xx answers."""
        return self.errors + sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def cpu_share(self) -> float:
        """The generator's CPU time as a share of one core over the run."""
        return self.cpu_s / self.elapsed_s if self.elapsed_s else 0.0


def build_request(method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    """The bytes of one HTTP/1.1 request to 127.0.0.1."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        lowered = name.strip().lower()
        if lowered == b"content-length":
            length = int(value)
        elif lowered == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            parts.append((await reader.readexactly(size + 2))[:size])
            if size == 0:
                break
        return status, b"".join(parts)
    if length:
        return status, await reader.readexactly(length)
    return status, b""


class HttpConnection:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1, one request at a time; the lean client of the
    flow and contention scenarios (a general-purpose client's own cost would be part of the figure)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        """Connects (within 5 s)."""
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", self.port), 5
        )

    async def send(self, request: bytes, timeout: float = 30.0) -> tuple[int, bytes]:
        """Sends one request (from `build_request`) and reads its answer: status and body."""
        reused = self._writer is not None
        if self._writer is None:
            await self.open()
        assert self._reader is not None and self._writer is not None
        try:
            self._writer.write(request)
            return await asyncio.wait_for(_read_response(self._reader), timeout)
        except (asyncio.IncompleteReadError, ConnectionResetError) as error:
            self.close()
            partial = getattr(error, "partial", b"")
            if not reused or partial:
                raise
            # The server closed the idle connection before reading this request: send it anew.
            return await self.send(request, timeout)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Closes the connection (the next send opens a new one)."""
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


async def run_load(
    label: str,
    port: int,
    next_request: Callable[[int], bytes],
    *,
    connections: int,
    total: int | None = None,
    seconds: float | None = None,
) -> LoadResult:
    """Sends requests from `connections` keep-alive connections until `total` are answered or `seconds`
    pass (whichever comes first; both are capped). `next_request(n)` gives the n-th request's bytes."""
    total = min(total or MAX_REQUESTS, MAX_REQUESTS)
    deadline_s = min(seconds or MAX_SECONDS, MAX_SECONDS)
    result = LoadResult(label)
    issued = 0
    started = time.perf_counter()
    deadline = started + deadline_s
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)

    async def worker() -> None:
        nonlocal issued
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        while issued < total and time.perf_counter() < deadline:
            n = issued
            issued += 1
            try:
                if writer is None:
                    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
                assert reader is not None and writer is not None
                sent = time.perf_counter()
                writer.write(next_request(n))
                status, _ = await asyncio.wait_for(_read_response(reader), 30)
                result.latencies_ms.append((time.perf_counter() - sent) * 1000)
                result.statuses[status] += 1
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                result.errors += 1
                if writer is not None:
                    writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    result.elapsed_s = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    result.cpu_s = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return result
