"""Stubs for the services payments calls: tenant (commission, Connect account), catalog (the quote),
booking (holds and the booking lifecycle). Deadlines, the internal credential and the trace context come
from the shared channels' interceptor."""

from __future__ import annotations

from dataclasses import dataclass

from mais.booking.v1 import booking_service_pb2_grpc
from mais.catalog.v1 import catalog_service_pb2_grpc
from mais.tenant.v1 import tenant_service_pb2_grpc

from mais_runtime.channels import Channels
from mais_runtime.settings import CommonSettings


@dataclass(frozen=True)
class Peers:
    """One stub per service payments depends on."""

    tenant: tenant_service_pb2_grpc.TenantServiceAsyncStub
    catalog: catalog_service_pb2_grpc.CatalogServiceAsyncStub
    booking: booking_service_pb2_grpc.BookingServiceAsyncStub

    @classmethod
    def connect(cls, channels: Channels, settings: CommonSettings) -> Peers:
        """Stubs on the process's shared channels for the configured addresses."""
        return cls(
            tenant=tenant_service_pb2_grpc.TenantServiceStub(channels.get(settings.tenant_addr)),
            catalog=catalog_service_pb2_grpc.CatalogServiceStub(channels.get(settings.catalog_addr)),
            booking=booking_service_pb2_grpc.BookingServiceStub(channels.get(settings.booking_addr)),
        )
