"""python -m services.tenant: read config, wire, serve."""

from __future__ import annotations

from pathlib import Path

import grpc
from mais.tenant.v1 import tenant_service_pb2, tenant_service_pb2_grpc

from mais_runtime.server import ServiceRuntime, main, run_service
from mais_runtime.settings import ServiceSettings
from services.tenant.api import TenantServicer
from services.tenant.store import TenantStore


def register(server: grpc.aio.Server, runtime: ServiceRuntime) -> None:
    """The composition root: every object the servicer needs is built here."""
    tenant_service_pb2_grpc.add_TenantServiceServicer_to_server(
        TenantServicer(TenantStore(runtime.db)), server
    )


async def serve() -> None:
    """Runs the tenant service until SIGTERM."""
    await run_service(
        name="tenant",
        settings=ServiceSettings(),
        services=[tenant_service_pb2.DESCRIPTOR.services_by_name["TenantService"]],
        register=register,
        migrations=Path(__file__).parent / "migrations",
    )


if __name__ == "__main__":
    main(serve)
