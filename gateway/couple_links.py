"""The couple's signed link: `?token=` on their booking's URL, from the confirmation email.

The gateway passes the token on as it came; the booking service reads which tenant it names, checks the
signature, the booking and the expiry (services/booking/links.py). Every way a link can be wrong
(malformed, tampered, expired, another booking's, an unknown tenant) is the same 404 as a booking that
does not exist, so a link reveals nothing beyond its own booking.
"""

from __future__ import annotations

import grpc
from fastapi import Request
from mais.booking.v1 import booking_service_pb2 as pb

from gateway.errors import ApiError, from_grpc


async def couple_booking(request: Request, booking_id: str, token: str) -> tuple[str, pb.Booking]:
    """(tenant id, booking) that `token` grants, or 404 NOT_FOUND."""
    if not token:
        raise ApiError("NOT_FOUND", "booking not found")
    try:
        answer = await request.app.state.clients.booking.GetBookingWithToken(
            pb.GetBookingWithTokenRequest(booking_id=booking_id, token=token)
        )
    except grpc.aio.AioRpcError as error:
        failure = from_grpc(error)
        # A link that opens nothing is a missing booking, whatever the service found wrong with it.
        if failure.code in ("NOT_FOUND", "VALIDATION_ERROR"):
            raise ApiError("NOT_FOUND", "booking not found") from None
        raise failure from None
    return answer.booking.tenant_id, answer.booking
