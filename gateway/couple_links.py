"""The couple's signed link: `?token=` on their booking's URL, from the confirmation email.

The token starts with its tenant's id (see services/booking/links.py); the gateway only reads where to
route the request, and the booking service checks the signature, the booking and the expiry. Every way a
link can be wrong (malformed, tampered, expired, another booking's, an unknown tenant) is the same 404 as
a booking that does not exist, so a link reveals nothing beyond its own booking.
"""

from __future__ import annotations

import re
import uuid

import grpc
from fastapi import Request
from mais.booking.v1 import booking_service_pb2 as pb

from gateway.errors import ApiError
from mais_runtime.rpc_errors import from_rpc_error

_TOKEN_TENANT = re.compile(r"^([0-9a-f]{32})\.\d{8}\.[A-Za-z0-9_-]{43}$")


async def couple_booking(request: Request, booking_id: str, token: str) -> tuple[str, pb.Booking]:
    """(tenant id, booking) that `token` grants, or 404 NOT_FOUND."""
    match = _TOKEN_TENANT.match(token)
    if not match:
        raise ApiError("NOT_FOUND", "booking not found")
    tenant_id = str(uuid.UUID(match.group(1)))
    try:
        answer = await request.app.state.clients.booking.GetBookingWithToken(
            pb.GetBookingWithTokenRequest(tenant_id=tenant_id, booking_id=booking_id, token=token)
        )
    except grpc.aio.AioRpcError as error:
        if from_rpc_error(error).code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
            raise ApiError("NOT_FOUND", "booking not found") from None
        raise
    return tenant_id, answer.booking
