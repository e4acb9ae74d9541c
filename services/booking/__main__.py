"""python -m services.booking: read config, wire, serve."""

from __future__ import annotations

from pathlib import Path

import grpc
from mais.booking.v1 import booking_service_pb2, booking_service_pb2_grpc

from mais_runtime.server import ServiceRuntime, main, run_service
from mais_runtime.settings import ServiceSettings
from services.booking.api import BookingServicer


def register(server: grpc.aio.Server, runtime: ServiceRuntime) -> None:
    """The composition root: every object the servicer needs is built here."""
    booking_service_pb2_grpc.add_BookingServiceServicer_to_server(BookingServicer(), server)


async def serve() -> None:
    """Runs the booking service until SIGTERM."""
    await run_service(
        name="booking",
        settings=ServiceSettings(),
        services=[booking_service_pb2.DESCRIPTOR.services_by_name["BookingService"]],
        register=register,
        migrations=Path(__file__).parent / "migrations",
    )


if __name__ == "__main__":
    main(serve)
