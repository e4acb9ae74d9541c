"""The catalog service's gRPC servicer: proto <-> domain, no SQL, no business rules."""

from __future__ import annotations

from mais.catalog.v1 import catalog_service_pb2_grpc as pb_grpc


class CatalogServicer(pb_grpc.CatalogServiceServicer):
    """RPCs not yet implemented answer UNIMPLEMENTED."""
