"""The per-RPC cost of the runtime, measured on loopback: a real grpc.aio server process (the runtime's
interceptors, tracing and JSON logs, an answer made of nothing) and a client in this process (the
runtime's `Channels`, or a bare channel), reporting calls/s and the CPU per call of each side.

    python -m tools.rpc_microbench [--calls 4000] [--concurrency 16] [--server full|none]
                                   [--client channels|bare]
    python -m tools.rpc_microbench --matrix        # every combination, one line each
    python -m tools.rpc_microbench --middleware    # the gateway's ASGI middleware alone, in-process

Loopback only, bounded by --calls and a 120 s cap, and the server process is stopped at the end
whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import grpc
from mais.tenant.v1 import tenant_service_pb2 as pb
from mais.tenant.v1 import tenant_service_pb2_grpc as pb_grpc

TOKEN = "microbench-internal-token"  # noqa: S105 - a throwaway credential for a loopback bench
CAP_SECONDS = 120.0


class _Echo(pb_grpc.TenantServiceServicer):
    async def GetTenant(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return pb.GetTenantResponse(tenant=pb.Tenant(id=request.tenant_id, name="bench"))


def _chain(kind: str) -> list[grpc.aio.ServerInterceptor]:
    from mais_runtime.server import server_interceptors

    if kind == "none":
        return []
    if kind == "full":
        tenant_service = pb.DESCRIPTOR.services_by_name["TenantService"]
        return server_interceptors(internal_token=TOKEN, services=[tenant_service])
    raise SystemExit(f"--server: unknown {kind!r}")


async def _serve(kind: str, port_file: Path, data_dir: Path, sample_ratio: float) -> None:
    from mais_runtime.telemetry import setup_logging, setup_tracing

    setup_logging("bench-server")
    provider = setup_tracing("bench-server", data_dir, sample_ratio=sample_ratio)
    server = grpc.aio.server(interceptors=_chain(kind))
    pb_grpc.add_TenantServiceServicer_to_server(_Echo(), server)  # type: ignore[abstract]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    await asyncio.to_thread(port_file.write_text, str(port))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop(None)
    provider.shutdown()


def _cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _drive(
    address: str, client: str, calls: int, concurrency: int, server_pid: int
) -> dict[str, float]:
    from mais_runtime.channels import Channels

    channels = Channels(internal_token=TOKEN, default_timeout=5.0)
    bare = grpc.aio.insecure_channel(address)
    channel: grpc.aio.Channel = channels.get(address) if client == "channels" else bare
    stub = pb_grpc.TenantServiceStub(channel)
    metadata = (("x-mais-internal", TOKEN),) if client == "bare" else None
    request = pb.GetTenantRequest(tenant_id=str(uuid.uuid4()))
    for _ in range(200):  # warm-up: connection, code paths, caches
        await stub.GetTenant(request, metadata=metadata, timeout=5)
    left = calls

    async def worker() -> None:
        nonlocal left
        while left > 0 and time.monotonic() < cap:
            left -= 1
            answer = await stub.GetTenant(request, metadata=metadata, timeout=5)
            assert answer.tenant.id == request.tenant_id

    cap = time.monotonic() + CAP_SECONDS
    started, cpu, server_cpu = time.perf_counter(), _own_cpu(), _cpu_of(server_pid)
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, client_cpu = time.perf_counter() - started, _own_cpu() - cpu
    server_cpu = _cpu_of(server_pid) - server_cpu
    done = calls - max(left, 0)
    await channels.close()
    await bare.close(None)
    return {"calls": done, "seconds": elapsed, "client_cpu": client_cpu, "server_cpu": server_cpu}


def run_one(
    server: str, client: str, calls: int, concurrency: int, sample_ratio: float = 1.0
) -> dict[str, float]:
    """One measurement: a fresh server process, `calls` calls from this process."""
    with tempfile.TemporaryDirectory(prefix="rpc-microbench-") as tmp:
        data_dir = Path(tmp)
        port_file = data_dir / "port"
        with (data_dir / "server.log").open("wb") as log_file:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tools.rpc_microbench",
                    "--serve",
                    server,
                    "--port-file",
                    str(port_file),
                    "--data-dir",
                    str(data_dir),
                ],
                stderr=log_file,
            )
        try:
            deadline = time.monotonic() + 30
            while not port_file.exists() or not port_file.read_text():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the bench server did not start; see {data_dir / 'server.log'}")
                time.sleep(0.05)
            address = f"127.0.0.1:{port_file.read_text()}"
            return asyncio.run(_drive(address, client, calls, concurrency, process.pid))
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def _line(server: str, client: str, result: dict[str, float]) -> str:
    calls = result["calls"]
    return (
        f"server={server:<34} client={client:<8} {calls / result['seconds']:8.0f} calls/s  "
        f"server {result['server_cpu'] / calls * 1e6:6.0f} µs/call  "
        f"client {result['client_cpu'] / calls * 1e6:6.0f} µs/call"
    )


async def _middleware_cost(requests: int) -> tuple[float, float]:
    """CPU per request of gateway.middleware.ObservabilityMiddleware around an app that answers 200
    at once, and of the bare app, in µs (JSON log lines to a temporary file)."""
    from gateway.middleware import ObservabilityMiddleware

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
        )
        await send({"type": "http.response.body", "body": b"ok"})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    class _Route:
        path = "/v1/packages"

    headers = [
        (b"host", b"127.0.0.1"),
        (b"x-tenant-key", b"pk_test_abc"),
        (b"traceparent", f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01".encode()),
        (b"accept", b"application/json"),
        (b"user-agent", b"bench"),
    ]
    scope = {"type": "http", "method": "GET", "path": "/v1/packages", "query_string": b"", "headers": headers}
    wrapped = ObservabilityMiddleware(app, max_body_bytes=1 << 20)
    costs = []
    for handler in (wrapped, app):
        for _ in range(200):
            await handler({**scope, "route": _Route()}, receive, send)
        cpu = _own_cpu()
        for _ in range(requests):
            await handler({**scope, "route": _Route()}, receive, send)
        costs.append((_own_cpu() - cpu) / requests * 1e6)
    return costs[0], costs[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--server", default="full")
    parser.add_argument("--client", default="channels", choices=("channels", "bare"))
    parser.add_argument("--matrix", action="store_true", help="every server chain against both clients")
    parser.add_argument("--sample-ratio", type=float, default=1.0, help="share of calls traced (0..1)")
    parser.add_argument("--middleware", action="store_true", help="the gateway middleware alone")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve, args.port_file, args.data_dir, args.sample_ratio))
        return
    if not 1 <= args.calls <= 1_000_000 or not 1 <= args.concurrency <= 1000:
        raise SystemExit("--calls must be 1..1000000 and --concurrency 1..1000")
    from mais_runtime.telemetry import setup_tracing

    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}", flush=True)
    client_traces = tempfile.TemporaryDirectory(prefix="rpc-microbench-client-")
    if not 0.0 <= args.sample_ratio <= 1.0:
        raise SystemExit("--sample-ratio must be 0..1")
    setup_tracing("bench-client", Path(client_traces.name), sample_ratio=args.sample_ratio)
    if args.middleware:
        from mais_runtime.telemetry import setup_logging

        log_fd = os.open(Path(client_traces.name) / "gateway.log", os.O_WRONLY | os.O_CREAT)
        os.dup2(log_fd, 2)
        setup_logging("bench-gateway")
        wrapped, bare = asyncio.run(_middleware_cost(args.calls))
        print(
            f"gateway middleware {wrapped - bare:6.0f} µs/request (app alone {bare:.0f} µs)", file=sys.stdout
        )
        return
    runs = [(args.server, args.client)]
    if args.matrix:
        runs = [("none", "bare"), ("full", "bare"), ("none", "channels"), ("full", "channels")]
    for server, client in runs:
        print(
            _line(server, client, run_one(server, client, args.calls, args.concurrency, args.sample_ratio)),
            flush=True,
        )
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}", flush=True)


if __name__ == "__main__":
    main()
