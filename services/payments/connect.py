"""Stripe Connect onboarding: one Express account per tenant, and a fresh onboarding link on request.

The account is created once (Stripe idempotency key derived from the tenant, and the tenant service
records it as PENDING); its onboarding state then follows `account.updated` events (see inbox.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from mais.tenant.v1 import tenant_service_pb2 as tenant_pb

from services.payments.clients import Peers
from services.payments.domain import connect_account_key
from services.payments.stripe_adapter import StripeAdapter


@dataclass(frozen=True)
class Onboarding:
    """Where the tenant's admin goes to finish onboarding."""

    stripe_account_id: str
    onboarding_url: str


class ConnectOnboarding:
    """The Connect onboarding use case."""

    def __init__(self, peers: Peers, stripe: StripeAdapter, *, refresh_url: str, return_url: str) -> None:
        self._peers = peers
        self._stripe = stripe
        self._refresh_url = refresh_url
        self._return_url = return_url

    async def start(self, tenant_id: str, *, refresh_url: str = "", return_url: str = "") -> Onboarding:
        """The tenant's account (created on first use) and a new onboarding link."""
        tenant = (await self._peers.tenant.GetTenant(tenant_pb.GetTenantRequest(tenant_id=tenant_id))).tenant
        account_id = tenant.stripe_account_id
        if not account_id:
            account_id = await self._stripe.create_account(
                tenant_id=tenant_id, email="", idempotency_key=connect_account_key(tenant_id)
            )
            await self._peers.tenant.SetStripeAccount(
                tenant_pb.SetStripeAccountRequest(
                    tenant_id=tenant_id,
                    stripe_account_id=account_id,
                    connect_state=tenant_pb.CONNECT_STATE_PENDING,
                )
            )
        url = await self._stripe.onboarding_link(
            account_id=account_id,
            refresh_url=refresh_url or self._refresh_url,
            return_url=return_url or self._return_url,
        )
        return Onboarding(account_id, url)
