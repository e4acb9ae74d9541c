"""python -m services.payments: read config, wire, serve."""

from __future__ import annotations

from pathlib import Path

import grpc
from mais.payments.v1 import payments_service_pb2, payments_service_pb2_grpc

from mais_runtime.server import ServiceRuntime, main, run_service
from mais_runtime.settings import ServiceSettings
from services.payments.api import PaymentsServicer


def register(server: grpc.aio.Server, runtime: ServiceRuntime) -> None:
    """The composition root: every object the servicer needs is built here."""
    payments_service_pb2_grpc.add_PaymentsServiceServicer_to_server(PaymentsServicer(), server)


async def serve() -> None:
    """Runs the payments service until SIGTERM."""
    await run_service(
        name="payments",
        settings=ServiceSettings(),
        services=[payments_service_pb2.DESCRIPTOR.services_by_name["PaymentsService"]],
        register=register,
        migrations=Path(__file__).parent / "migrations",
    )


if __name__ == "__main__":
    main(serve)
