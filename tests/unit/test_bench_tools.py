"""The benchmark's own parts, against real processes on loopback: wrk with the Lua script the bench
writes (every tenant's key in turn, bad answers counted), the CPU accounting from /proc (exited
children included), the open-loop driver (on schedule whatever the answers, bounded in flight), and the
targets' verdicts. Sizes and counts are asserted, never speed."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.bench import flows
from tools.bench.cpu import LOAD_GENERATOR, SANDBOX, CpuSnapshot, platform_sum, tree_cpu_seconds
from tools.bench.flows import Couple, CpuPerBooking, open_loop
from tools.bench.report import Report
from tools.bench.scenarios import ContentionFigures, OpenLoopFigures
from tools.bench.targets import Figures, judge
from tools.bench.wrk import WrkError, WrkRequest, WrkResult, available, lua_script, parse_output, run_wrk

needs_wrk = pytest.mark.skipif(not available(), reason="wrk is not installed (make bench installs it)")


class TinyServer:
    """A keep-alive HTTP/1.1 server on 127.0.0.1 in its own thread, counting each request's
    X-Tenant-Key and path; answers 500 to the key `bad`; holds `/hang` requests unanswered; answers a
    checkout with a checkout URL on itself and `/pay` with 200."""

    def __init__(self) -> None:
        self.keys: Counter[str] = Counter()
        self.arrivals: list[tuple[float, str]] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._stop: asyncio.Future[None] | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._stop = self._loop.create_future()
        self._ready.set()
        async with server:
            await self._stop
            for handler in self._handlers:
                handler.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode()
                lines = head.split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {
                    k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                if int(headers.get("content-length", "0")):
                    await reader.readexactly(int(headers["content-length"]))
                key = headers.get("x-tenant-key", "")
                self.keys[key] += 1
                self.arrivals.append((time.monotonic(), path))
                if path == "/hang" or key == "hang":
                    await asyncio.sleep(3600)
                if path == "/v1/bookings/checkout" and key == "elsewhere":
                    body, status = (
                        b'{"bookingId": "b1", "checkoutUrl": "https://pay.example/cs_1"}',
                        b"201 Created",
                    )
                elif path == "/v1/bookings/checkout" and key == "garbled":
                    body, status = b"{not json", b"201 Created"
                elif path == "/v1/bookings/checkout":
                    n = len(self.arrivals)
                    body = (
                        f'{{"bookingId": "b{n}", "checkoutUrl": "http://127.0.0.1:{self.port}/pay/cs_{n}"}}'
                    ).encode()
                    status = b"201 Created"
                else:
                    body, status = b"ok", (b"500 Oops" if key == "bad" else b"200 OK")
                writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()

    def __enter__(self) -> TinyServer:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *_: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set_result, None)
        self._thread.join(10)


@pytest.fixture
def server() -> Iterator[TinyServer]:
    with TinyServer() as running:
        yield running


@needs_wrk
def test_wrk_rotates_every_tenants_key_and_counts_bad_answers(server: TinyServer, tmp_path: Path) -> None:
    keys = [f"pk_tenant_{n}" for n in range(20)]
    requests = [WrkRequest("/v1/packages?x=1", (("X-Tenant-Key", key),)) for key in [*keys, "bad"]]
    result = run_wrk("packages", server.port, requests, folder=tmp_path, seconds=1, connections=4)
    assert (tmp_path / "wrk-packages.lua").exists()
    assert result.requests > 0
    assert result.socket_errors == 0
    seen = {k: n for k, n in server.keys.items() if k != "bad"}
    assert set(seen) == set(keys)
    # Taken in turn: no key asked for much more often than another.
    assert max(seen.values()) - min(seen.values()) <= 4 + max(seen.values()) // 10
    # wrk counts answers, the server requests: they differ by at most the requests in flight at the end.
    assert abs(result.bad_status - server.keys["bad"]) <= 4
    assert result.bad_status > 0
    assert result.failures == result.bad_status


def test_the_script_refuses_what_it_cannot_write_literally(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"requests\[1\]\.path"):
        lua_script([WrkRequest("/ok"), WrkRequest('/"); os.exit() --')])
    with pytest.raises(ValueError, match=r"requests\[0\]\.headers"):
        lua_script([WrkRequest("/ok", (("X-Tenant-Key", 'a"b'),))])
    with pytest.raises(ValueError, match="requests: at least one"):
        lua_script([])
    with pytest.raises(ValueError, match="port"):
        run_wrk("x", 0, [WrkRequest("/")], folder=tmp_path, seconds=1)


def test_wrk_output_without_figures_is_an_error() -> None:
    with pytest.raises(WrkError, match="printed no figures"):
        parse_output("packages", "Running 1s test\nunable to connect\n", 0.0, 64)
    parsed = parse_output(
        "p",
        'noise\nMAIS-WRK {"requests": 200, "duration_us": 2000000, "connect": 1, "read": 2, "write": 0, '
        '"status": 3, "timeout": 4, "p50_us": 1500, "p90_us": 2500, "p99_us": 9000, "max_us": 12000}\n',
        0.5,
        64,
    )
    assert (parsed.rate, parsed.p50_ms, parsed.p99_ms, parsed.socket_errors, parsed.bad_status) == (
        100.0,
        1.5,
        9.0,
        7,
        3,
    )
    assert parsed.cpu_share == 0.25


BURN = "import time\nstart = time.process_time()\nwhile time.process_time() - start < 0.3: pass\n"


def test_cpu_of_a_process_tree_counts_its_exited_children() -> None:
    # The parent burns 0.3 s, runs a child that burns 0.3 s and exits, then waits to be measured.
    script = (
        BURN
        + "import subprocess, sys\n"
        + f"subprocess.run([sys.executable, '-c', {BURN!r}], check=True)\n"
        + "print('done', flush=True)\n"
        + "time.sleep(30)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "done"
        assert tree_cpu_seconds(process.pid) >= 0.55
    finally:
        process.kill()
        process.wait(10)
    assert tree_cpu_seconds(process.pid) == 0.0


def test_cpu_per_booking_keeps_the_sandbox_and_load_generator_apart() -> None:
    before = CpuSnapshot({"booking": 1.0, "payments": 2.0, SANDBOX: 0.5, LOAD_GENERATOR: 3.0})
    # payments restarted in between: it counts from zero.
    after = CpuSnapshot(
        {"booking": 1.6, "payments": 0.4, SANDBOX: 0.7, LOAD_GENERATOR: 4.0, "postgresql": 0.2}
    )
    used = after.since(before)
    assert used == pytest.approx(
        {"booking": 0.6, "payments": 0.4, SANDBOX: 0.2, LOAD_GENERATOR: 1.0, "postgresql": 0.2}
    )
    assert platform_sum(used) == pytest.approx(1.2)
    cost = CpuPerBooking.of(used, 100)
    assert cost.platform_ms == pytest.approx(12.0)
    text = cost.describe()
    assert text.startswith("12.0 ms summed over the platform (booking 6.0, payments 4.0, postgresql 2.0)")
    assert "apart: stripe-sandbox 2.0, load generator 10.0" in text
    assert CpuPerBooking.of(used, 0).describe().startswith("nan")


async def test_the_open_loop_starts_flows_on_schedule(server: TinyServer) -> None:
    couples = [Couple(f"pk_{n}", "pkg") for n in range(3)]
    run = await open_loop(server.port, couples, rate=40, seconds=1, first=dt.date(2030, 1, 1), first_n=0)
    assert len(run.booked) == 40
    assert run.failures == Counter()
    assert len(run.lateness_ms) == 40
    checkouts = [at for at, path in server.arrivals if path == "/v1/bookings/checkout"]
    assert len(checkouts) == 40
    # Spread over the second as scheduled, not sent at once.
    assert checkouts[-1] - checkouts[0] >= 0.8


async def test_the_open_loop_never_waits_for_answers_and_is_bounded(
    server: TinyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(flows, "MAX_IN_FLIGHT", 5)
    monkeypatch.setattr(flows, "FLOW_SECONDS", 0.5)
    # The server never answers this key's checkouts: the schedule goes on, five are in flight at most.
    couples = [Couple("hang", "pkg")]
    started = time.monotonic()
    run = await open_loop(server.port, couples, rate=20, seconds=1, first=dt.date(2030, 1, 1), first_n=0)
    assert time.monotonic() - started < 5
    assert run.booked == []
    assert run.failures == Counter({"not started (5 in flight)": 15, "not answered in time": 5})
    assert server.keys["hang"] == 5


def _result(label: str, rate: float, p99: float) -> WrkResult:
    return WrkResult(label, int(rate * 10), 10.0, 1.0, 2.0, p99, p99, 0, 0, 0.5, 64)


def test_every_target_is_printed_with_its_verdict_and_ratio() -> None:
    report = Report(ceiling_rate=20_000.0, pgbench_tps=5_000.0)
    figures = Figures(
        reads={
            "GET /v1/packages": _result("GET /v1/packages", 12_000, 8.0),
            "slots": _result("slots", 2_000, 60.0),
        },
        rate=50.0,
        cpu=CpuPerBooking({"booking": 10.0, "payments": 10.0}, 20.0),
        open_loop={50: OpenLoopFigures(50, 250, 250, 49.0, 20.0, 45.0)},
        contention=ContentionFigures(900.0, 1, True),
        pss_mib=700.0,
        ready_s=3.0,
    )
    judge(figures, report)
    verdicts = {t.name: t.verdict for t in report.targets}
    assert verdicts == {
        "public read GET /v1/packages": "met",
        "public read slots": "MISSED",
        "CPU per confirmed booking, platform": "MISSED",
        "closed loop confirmed/s": "MISSED",
        "webhook → CONFIRMED at offered 50/s": "met",
        "contention, one date": "met",
        "whole stack memory": "met",
        "ready when built": "met",
        "widget first render and bytes": "not measured",
    }
    by_name = {t.name: t for t in report.targets}
    assert by_name["public read GET /v1/packages"].ratio == "60.0% of Envoy direct"
    assert by_name["closed loop confirmed/s"].ratio == "1.0% of pgbench hold tx/s"
    out = io.StringIO()
    report.print(out)
    assert "Targets of issue 17" in out.getvalue()
    assert out.getvalue().count("MISSED") == 3


def test_a_contention_with_two_winners_or_a_wrong_retry_is_missed() -> None:
    for figures in (ContentionFigures(100.0, 2, True), ContentionFigures(100.0, 1, False)):
        report = Report()
        judge(Figures(contention=figures), report)
        [target] = [t for t in report.targets if t.name == "contention, one date"]
        assert target.verdict == "MISSED"


def test_replica_counts_are_bounded_and_named_when_refused() -> None:
    from tools.bench.__main__ import replica_counts

    assert replica_counts("1,2") == (1, 2)
    assert replica_counts("2, 2,1") == (2, 1)
    assert replica_counts("none") == ()
    for bad in ("0", "1,2,3,4", "5", "", "one"):
        with pytest.raises(argparse.ArgumentTypeError, match="--replicas"):
            replica_counts(bad)


async def test_the_flows_pay_only_on_loopback_and_count_unreadable_answers(server: TinyServer) -> None:
    with pytest.raises(ValueError, match="checkoutUrl: the benchmark pays only on a loopback sandbox"):
        await open_loop(
            server.port,
            [Couple("elsewhere", "pkg")],
            rate=10,
            seconds=1,
            first=dt.date(2030, 1, 1),
            first_n=0,
        )
    assert server.arrivals and all(not path.startswith("/pay") for _, path in server.arrivals)
    run = await open_loop(
        server.port, [Couple("garbled", "pkg")], rate=5, seconds=1, first=dt.date(2030, 1, 1), first_n=0
    )
    assert run.failures == Counter({"checkout answer unreadable": 5})
    assert run.booked == []
