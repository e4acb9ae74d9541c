"""Stripe Connect onboarding: one Express account per tenant, and a fresh onboarding link on request.

The account is created once (Stripe idempotency key derived from the tenant, and the tenant service
records it as PENDING); its onboarding state then follows `account.updated` events (see inbox.py).

An account Stripe no longer knows (deleted, or the local sandbox's data wiped) is forgotten: the tenant
goes back to NOT_STARTED, so checkout answers TENANT_NOT_ONBOARDED instead of failing at Stripe, and the
next onboarding creates a fresh account (under a new idempotency key, or Stripe would replay the old one).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from services.payments.clients import TenantPayees
from services.payments.domain import ConnectState, connect_account_key
from services.payments.stripe_adapter import AccountUnknown, StripeAdapter

log = logging.getLogger("mais.payments.connect")

# The stored account, then new ones: each key's replay may name an account deleted since (a chain of
# replacements, all within Stripe's 24 hours of idempotency), until one is new.
_MAX_ACCOUNT_ATTEMPTS = 5


@dataclass(frozen=True)
class Onboarding:
    """Where the tenant's admin goes to finish onboarding."""

    stripe_account_id: str
    onboarding_url: str


class ConnectOnboarding:
    """The Connect onboarding use case."""

    def __init__(
        self, payees: TenantPayees, stripe: StripeAdapter, *, refresh_url: str, return_url: str
    ) -> None:
        self._payees = payees
        self._stripe = stripe
        self._refresh_url = refresh_url
        self._return_url = return_url

    async def start(self, tenant_id: str, *, refresh_url: str = "", return_url: str = "") -> Onboarding:
        """The tenant's account (created on first use, or again when Stripe no longer knows it) and a new
        onboarding link."""
        payee = await self._payees.payee(tenant_id)
        refresh_url = refresh_url or self._refresh_url
        return_url = return_url or self._return_url
        account_id = payee.stripe_account_id
        key = connect_account_key(tenant_id)
        for _ in range(_MAX_ACCOUNT_ATTEMPTS):
            if not account_id:
                account_id = await self._stripe.create_account(
                    tenant_id=tenant_id, email="", idempotency_key=key
                )
                await self._payees.record_connect_state(tenant_id, account_id, ConnectState.PENDING)
            try:
                url = await self._stripe.onboarding_link(
                    account_id=account_id, refresh_url=refresh_url, return_url=return_url
                )
                return Onboarding(account_id, url)
            except AccountUnknown:
                await self._payees.forget_account(tenant_id, account_id)
                # A replacement gets its own key: within 24 hours Stripe would replay the key that
                # created the account it no longer knows.
                key = f"{connect_account_key(tenant_id)}-replacing-{account_id}"
                account_id = ""
        raise AccountUnknown()
