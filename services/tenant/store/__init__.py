"""The tenant service's transactions. A use case opens one with `TenantStore.tenant(id)` (row-level
security sees only that tenant's rows) or `TenantStore.platform()` (cross-tenant: sign-in, key
lookups, bootstrap) and calls the query verbs of the `TenantTx` it gets. The verbs are split along
the context's seam: tenants, keys and secrets (`tenants.py`) and admin identity (`identity.py`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mais_runtime.db import AsyncConnection, Database
from services.tenant.store.identity import AdminUser, IdentityQueries
from services.tenant.store.tenants import TenantQueries

__all__ = ["AdminUser", "TenantStore", "TenantTx"]


class TenantTx(TenantQueries, IdentityQueries):
    """The queries of one transaction (both halves share its connection)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn


class TenantStore:
    """Transactions on the tenant schema."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @asynccontextmanager
    async def tenant(self, tenant_id: str) -> AsyncIterator[TenantTx]:
        """A transaction that sees only `tenant_id`'s rows."""
        async with self.db.tenant_transaction(tenant_id) as conn:
            yield TenantTx(conn)

    @asynccontextmanager
    async def platform(self) -> AsyncIterator[TenantTx]:
        """A transaction that may see every tenant's rows; only for cross-tenant work."""
        async with self.db.platform_transaction() as conn:
            yield TenantTx(conn)
