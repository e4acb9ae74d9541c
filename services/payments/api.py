"""The payments service's gRPC servicer: proto <-> domain, no SQL, no business rules."""

from __future__ import annotations

from mais.payments.v1 import payments_service_pb2_grpc as pb_grpc


class PaymentsServicer(pb_grpc.PaymentsServiceServicer):
    """RPCs not yet implemented answer UNIMPLEMENTED."""
