"""The tenant service's gRPC servicer: proto <-> domain, no SQL, no business rules."""

from __future__ import annotations

import grpc
from mais.tenant.v1 import tenant_service_pb2 as pb
from mais.tenant.v1 import tenant_service_pb2_grpc as pb_grpc

from services.tenant.store import TenantStore


class TenantServicer(pb_grpc.TenantServiceServicer):
    """Tenants, keys, admins and sign-in."""

    def __init__(self, store: TenantStore) -> None:
        self._store = store

    async def GetTenant(
        self, request: pb.GetTenantRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetTenantResponse:
        """Reads one tenant's settings."""
        tenant = await self._store.get(request.tenant_id)
        return pb.GetTenantResponse(tenant=tenant)
