"""Stubs for the four services over the process's shared channels."""

from __future__ import annotations

from dataclasses import dataclass

from grpc_health.v1 import health_pb2_grpc
from mais.booking.v1 import booking_service_pb2_grpc
from mais.catalog.v1 import catalog_service_pb2_grpc
from mais.payments.v1 import payments_service_pb2_grpc
from mais.tenant.v1 import tenant_service_pb2_grpc

from mais_runtime.channels import Channels
from mais_runtime.settings import CommonSettings


@dataclass
class ServiceClients:
    """One stub per service, plus each service's health stub (for readiness)."""

    tenant: tenant_service_pb2_grpc.TenantServiceStub
    catalog: catalog_service_pb2_grpc.CatalogServiceStub
    booking: booking_service_pb2_grpc.BookingServiceStub
    payments: payments_service_pb2_grpc.PaymentsServiceStub
    # Stripe's webhooks only: payments' webhook worker when configured, else the same as `payments`.
    payments_webhooks: payments_service_pb2_grpc.PaymentsServiceStub
    health: dict[str, health_pb2_grpc.HealthStub]

    @classmethod
    def connect(cls, channels: Channels, settings: CommonSettings) -> ServiceClients:
        """Stubs on the channels for the configured service addresses."""
        addrs = {
            "tenant": settings.tenant_addr,
            "catalog": settings.catalog_addr,
            "booking": settings.booking_addr,
            "payments": settings.payments_addr,
        }
        webhook_addr = getattr(settings, "payments_webhook_addr", "") or addrs["payments"]
        health_addrs = dict(addrs)
        if webhook_addr != addrs["payments"]:
            health_addrs["payments-webhooks"] = webhook_addr
        return cls(
            tenant=tenant_service_pb2_grpc.TenantServiceStub(channels.get(addrs["tenant"])),
            catalog=catalog_service_pb2_grpc.CatalogServiceStub(channels.get(addrs["catalog"])),
            booking=booking_service_pb2_grpc.BookingServiceStub(channels.get(addrs["booking"])),
            payments=payments_service_pb2_grpc.PaymentsServiceStub(channels.get(addrs["payments"])),
            payments_webhooks=payments_service_pb2_grpc.PaymentsServiceStub(channels.get(webhook_addr)),
            health={
                name: health_pb2_grpc.HealthStub(channels.get(addr)) for name, addr in health_addrs.items()
            },
        )
