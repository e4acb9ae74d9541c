"""Start-up and shutdown of a gRPC service process.

`run_service` wires what every service has: JSON logs and tracing, its database with migrations,
grpc.health.v1 (overall, per service and a "database" entry kept fresh by a pinger), reflection,
the interceptors, metrics over HTTP, and a graceful stop on SIGTERM/SIGINT: health NOT_SERVING
(clients balance to the other replicas), a short drain, then stop accepting and let in-flight calls
finish within the grace period, then close pools and flush spans.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import uvloop
from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import _async as health_aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import start_http_server

from mais_runtime.background import Job, every
from mais_runtime.channels import Channels
from mais_runtime.db import Database
from mais_runtime.interceptors import ServerChain, platform_scoped_methods
from mais_runtime.migrations import SchemaBehind, apply_migrations, check_schema
from mais_runtime.settings import ServiceSettings
from mais_runtime.telemetry import setup_logging, setup_tracing

log = logging.getLogger("mais.server")

DATABASE_HEALTH = "database"


@dataclass
class ServiceRuntime:
    """What a service's composition root gets to wire its servicers with."""

    name: str
    settings: ServiceSettings
    db: Database
    channels: Channels
    # Coroutines the service wants running beside the server (dispatchers, sweepers).
    background: list[Job] = field(default_factory=list)


Register = Callable[[grpc.aio.Server, ServiceRuntime], None]


def server_interceptors(
    *, internal_token: str, services: Sequence[ServiceDescriptor]
) -> list[grpc.aio.ServerInterceptor]:
    """Every service's interceptors: one chain (see ServerChain for its order). The span encloses
    everything, so the log line and every error carry the trace id; logs and metrics read the status
    the error mapping set; the mapping encloses the checks, so a refused credential, tenant id or NUL
    character is answered, logged and counted like any other error."""
    return [ServerChain(internal_token=internal_token, platform_methods=platform_scoped_methods(services))]


async def run_service(
    *,
    name: str,
    settings: ServiceSettings,
    services: Sequence[ServiceDescriptor],
    register: Register,
    migrations: Path,
    extra_setup: Callable[[ServiceRuntime], Awaitable[None]] | None = None,
) -> None:
    """Runs one service until SIGTERM or SIGINT."""
    setup_logging(name, settings.log_level)
    tracer_provider = setup_tracing(
        name, settings.data_dir, settings.otel_exporter_otlp_endpoint, settings.trace_sample_ratio
    )
    db = Database(
        settings.database_url,
        schema=name,
        application_name=f"mais-{name}",
        pool_size=settings.db_pool_size,
        pool_timeout_seconds=settings.db_pool_timeout_seconds,
        statement_timeout_ms=settings.db_statement_timeout_ms,
        lock_timeout_ms=settings.db_lock_timeout_ms,
        connect_timeout_seconds=settings.db_connect_timeout_seconds,
        statement_cache_size=settings.db_statement_cache_size,
        transaction_pooler=settings.db_transaction_pooler,
    )
    # Not migrating here, the service waits up to a minute for the migrations Job (within the manifests'
    # start-up probe, 90 s), then refuses.
    apply = settings.migrate_on_start
    # Migrations hold a session advisory lock: behind a transaction-mode pooler they log in directly.
    migrator = db if not settings.database_direct_url else _direct_database(name, settings)
    try:
        await _migrate_when_reachable(migrator, migrations, attempts=30 if apply else 60, apply=apply)
    finally:
        if migrator is not db:
            await migrator.close()
    channels = Channels(internal_token=settings.internal_token, default_timeout=settings.rpc_timeout_seconds)
    runtime = ServiceRuntime(name, settings, db, channels)
    if extra_setup is not None:
        await extra_setup(runtime)

    server = grpc.aio.server(
        interceptors=server_interceptors(internal_token=settings.internal_token, services=services),
        options=[
            ("grpc.max_receive_message_length", 8 * 1024 * 1024),
            ("grpc.so_reuseport", 0),
            # The clients ping every 30 s (mais_runtime/channels.py) while their health Watch streams sit
            # open without data; the default policy (one ping per 5 min without data, 2 strikes) answers
            # GOAWAY "too_many_pings" and the channel drops a ready replica for a moment.
            ("grpc.http2.min_recv_ping_interval_without_data_ms", 20_000),
            ("grpc.keepalive_permit_without_calls", 1),
        ],
    )
    register(server, runtime)
    health_servicer = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    full_names = [s.full_name for s in services]
    reflection.enable_server_reflection([*full_names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    port = server.add_insecure_port(f"{settings.grpc_host}:{settings.grpc_port}")
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.metrics_host)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    await server.start()
    for full_name in ["", *full_names]:
        await health_servicer.set(full_name, health_pb2.HealthCheckResponse.SERVING)
    tasks = [asyncio.create_task(_database_watch(db, health_servicer)(stop))]
    tasks += [asyncio.create_task(job(stop)) for job in runtime.background]
    log.info("serving %s on %s:%d", name, settings.grpc_host, port)

    await stop.wait()
    await drain(server, health_servicer, settings.shutdown_drain_seconds, settings.shutdown_grace_seconds)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    await channels.close()
    await db.close()
    tracer_provider.shutdown()
    log.info("stopped")


async def drain(
    server: grpc.aio.Server, health_servicer: health_aio.HealthServicer, drain_seconds: float, grace: float
) -> None:
    """Leaves the service's replicas without a failed call: health NOT_SERVING first (every client's
    health watch then takes this replica out of its round_robin, docs/adr/0032), still answering for
    `drain_seconds` what was already on its way, then no new calls and `grace` seconds for the
    in-flight ones to finish."""
    log.info("draining: NOT_SERVING for %.1fs, then in-flight calls get up to %.1fs", drain_seconds, grace)
    await health_servicer.enter_graceful_shutdown()
    await asyncio.sleep(drain_seconds)
    await server.stop(grace)


async def _migrate_when_reachable(
    db: Database, migrations: Path, attempts: int = 30, apply: bool = True
) -> None:
    """Applies migrations (unless apply=False: a migrations Job did) and checks the schema is exactly this
    release's (MigrationRefused if newer or older), waiting for the database to come up (bounded)."""
    for n in range(attempts):
        try:
            applied = await apply_migrations(db, migrations) if apply else []
            if applied:
                log.info("migrations applied: %s", ", ".join(applied))
            await check_schema(db, migrations)
            return
        except SchemaBehind as error:
            # Where a migrations Job migrates, it may still be running: wait for it (bounded), then refuse.
            if apply or n == attempts - 1:
                raise
            log.warning("waiting for the migrations Job: %s", error)
            await asyncio.sleep(1)
        except (TimeoutError, OSError) as error:
            if n == attempts - 1:
                raise
            log.warning("database not reachable yet (%s); retrying", type(error).__name__)
            await asyncio.sleep(1)


def _direct_database(name: str, settings: ServiceSettings) -> Database:
    """A one-connection pool straight to PostgreSQL (MAIS_DATABASE_DIRECT_URL), as a session of its own."""
    return Database(
        settings.database_direct_url,
        schema=name,
        application_name=f"mais-{name}-migrate",
        pool_size=1,
        pool_timeout_seconds=settings.db_pool_timeout_seconds,
        statement_timeout_ms=settings.db_statement_timeout_ms,
        lock_timeout_ms=settings.db_lock_timeout_ms,
        connect_timeout_seconds=settings.db_connect_timeout_seconds,
        statement_cache_size=settings.db_statement_cache_size,
    )


def _database_watch(db: Database, health_servicer: health_aio.HealthServicer) -> Job:
    """A job that keeps the "database" health entry true to whether the database answers."""
    last: bool | None = None

    async def check() -> None:
        nonlocal last
        try:
            ok = await asyncio.wait_for(db.ping(), timeout=2)
        except TimeoutError:
            ok = False
        if ok != last:
            status = (
                health_pb2.HealthCheckResponse.SERVING if ok else health_pb2.HealthCheckResponse.NOT_SERVING
            )
            await health_servicer.set(DATABASE_HEALTH, status)
            if last is not None:
                log.warning("database is %s", "reachable again" if ok else "unreachable")
            last = ok

    return every(1.0, check, name="database watch")


def main(run: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """The process entry point of a service: runs `run` on uvloop until it returns (grpc.aio, asyncpg
    and the background jobs all run on it; the gateway's uvicorn uses it too)."""
    uvloop.run(run())
