"""The booking service's gRPC servicer: proto <-> domain, no SQL, no business rules."""

from __future__ import annotations

from mais.booking.v1 import booking_service_pb2_grpc as pb_grpc


class BookingServicer(pb_grpc.BookingServiceServicer):
    """RPCs not yet implemented answer UNIMPLEMENTED."""
