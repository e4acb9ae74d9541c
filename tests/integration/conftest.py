"""Integration suites: a real PostgreSQL (embedded, or DATABASE_URL's server) for the session,
with every service's role and schema provisioned as the stack would."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mais_runtime.db import Database
from mais_runtime.migrations import apply_migrations
from mais_runtime.provision import SERVICES, provision
from tools.stack.launcher import Ports, Stack, StackOptions, free_port
from tools.stack.pgserver import EmbeddedPostgres
from tools.stack.processes import ManagedProcess

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Cluster:
    """A provisioned database: the admin URL and one login URL per service role."""

    admin_url: str
    role_urls: dict[str, str]


@pytest.fixture(scope="session")
def cluster(data_root: Path) -> Iterator[Cluster]:
    """One PostgreSQL for the whole integration session, provisioned like the stack does."""
    data_dir = data_root / "cluster"
    passwords = {s: secrets.token_urlsafe(16) for s in SERVICES}
    server = None
    admin_url = os.environ.get("DATABASE_URL", "")
    if not admin_url:
        server = EmbeddedPostgres(data_dir, Ports.free().postgres, durable=False)
        server.start()
        admin_url = server.admin_url
    asyncio.run(provision(admin_url, passwords))
    helper = Stack(StackOptions(data_dir=data_dir, ports=Ports(), database_url=admin_url))
    helper.admin_database_url = admin_url
    (data_dir / "roles.json").write_text(json.dumps(passwords))
    try:
        yield Cluster(admin_url, {s: helper.role_url(s, passwords[s]) for s in SERVICES})
    finally:
        if server:
            server.stop("immediate")


async def service_database(cluster: Cluster, service: str) -> Database:
    """The service's own pool (as its role) with its migrations applied."""
    db = Database(
        cluster.role_urls[service], schema=service, application_name=f"test-{service}", pool_size=20
    )
    await apply_migrations(db, REPO / "services" / service / "migrations")
    return db


@pytest.fixture
async def tenant_db(cluster: Cluster) -> AsyncIterator[Database]:
    """The tenant service's database, migrated."""
    db = await service_database(cluster, "tenant")
    yield db
    await db.close()


@dataclass
class RunningService:
    """A service process started by a test, on its own port."""

    process: ManagedProcess
    port: int

    @property
    def address(self) -> str:
        """host:port of its gRPC server."""
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        """SIGTERM and wait (SIGKILL after the grace period)."""
        self.process.stop(grace=15)


INTERNAL_TOKEN = "integration-internal-token"
# Password hashing at its cheapest: the suites create many users.
FAST_ARGON2 = {"MAIS_ARGON2_TIME_COST": "1", "MAIS_ARGON2_MEMORY_KIB": "8192", "MAIS_ARGON2_PARALLELISM": "1"}


@dataclass
class CoreServices:
    """Tenant, booking and catalog processes wired to each other as the stack wires them."""

    tenant: RunningService
    booking: RunningService
    catalogs: list[RunningService]

    @property
    def catalog(self) -> RunningService:
        return self.catalogs[0]


@contextlib.contextmanager
def core_services(
    cluster: Cluster,
    folders: pytest.TempPathFactory,
    name: str,
    *,
    catalog: bool = True,
    booking_env: dict[str, str] | None = None,
) -> Iterator[CoreServices]:
    """A module's tenant, booking (reading the tenant's terms afresh each time) and, unless `catalog` is
    False, catalog; stopped in the reverse order, whatever failed on the way."""
    started: list[RunningService] = []
    try:
        tenant = spawn_service(
            cluster, "services.tenant", "tenant", folders.mktemp(f"{name}-tenant"), FAST_ARGON2
        )
        started.append(tenant)
        booking_settings = {
            "MAIS_TENANT_ADDR": tenant.address,
            "MAIS_TENANT_CACHE_SECONDS": "0",
            **(booking_env or {}),
        }
        booking = spawn_service(
            cluster, "services.booking", "booking", folders.mktemp(f"{name}-booking"), booking_settings
        )
        started.append(booking)
        running = CoreServices(tenant, booking, [])
        if catalog:
            catalog_settings = {"MAIS_TENANT_ADDR": tenant.address, "MAIS_BOOKING_ADDR": booking.address}
            running.catalogs.append(
                spawn_service(
                    cluster,
                    "services.catalog",
                    "catalog",
                    folders.mktemp(f"{name}-catalog"),
                    catalog_settings,
                )
            )
            started.extend(running.catalogs)
        yield running
    finally:
        for service in reversed(started):
            service.stop()


@pytest.fixture
async def admin(cluster: Cluster) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection to the cluster, for what a test sets up or checks behind the services' backs."""
    conn = await asyncpg.connect(cluster.admin_url)
    yield conn
    await conn.close()


def spawn_service(
    cluster: Cluster, module: str, role: str, data_dir: Path, extra_env: dict[str, str] | None = None
) -> RunningService:
    """Starts `python -m <module>` as service `role` against the cluster and waits until it serves."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MAIS_")},
        "PYTHONUNBUFFERED": "1",
        "MAIS_DATA_DIR": str(data_dir),
        "MAIS_GRPC_PORT": str(port),
        "MAIS_DATABASE_URL": cluster.role_urls[role],
        "MAIS_INTERNAL_TOKEN": INTERNAL_TOKEN,
        **(extra_env or {}),
    }
    process = ManagedProcess(
        role, [sys.executable, "-m", module], env, data_dir / "logs" / f"{role}-{port}.log"
    )
    process.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"{module} exited: {process.log_path.read_text()[-2000:]}")
        if _serving(port):
            return RunningService(process, port)
        time.sleep(0.1)
    process.stop()
    raise TimeoutError(f"{module} did not start serving")


def _serving(port: int) -> bool:
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        answer = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=0.5
        )
        return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)
    except grpc.RpcError:
        return False
    finally:
        channel.close()
