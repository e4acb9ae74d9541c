"""python -m services.catalog: read config, wire, serve."""

from __future__ import annotations

from pathlib import Path

import grpc
from mais.catalog.v1 import catalog_service_pb2, catalog_service_pb2_grpc

from mais_runtime.server import ServiceRuntime, main, run_service
from mais_runtime.settings import ServiceSettings
from services.catalog.api import CatalogServicer


def register(server: grpc.aio.Server, runtime: ServiceRuntime) -> None:
    """The composition root: every object the servicer needs is built here."""
    catalog_service_pb2_grpc.add_CatalogServiceServicer_to_server(CatalogServicer(), server)


async def serve() -> None:
    """Runs the catalog service until SIGTERM."""
    await run_service(
        name="catalog",
        settings=ServiceSettings(),
        services=[catalog_service_pb2.DESCRIPTOR.services_by_name["CatalogService"]],
        register=register,
        migrations=Path(__file__).parent / "migrations",
    )


if __name__ == "__main__":
    main(serve)
