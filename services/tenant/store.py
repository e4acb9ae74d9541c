"""The tenant service's tables and queries."""

from __future__ import annotations

from mais.tenant.v1 import tenant_service_pb2 as pb
from sqlalchemy import text

from mais_runtime.db import Database
from mais_runtime.errors import NotFound


class TenantStore:
    """Reads and writes tenants inside tenant-scoped transactions."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, tenant_id: str) -> pb.Tenant:
        """The tenant, or NotFound."""
        query = text(
            "SELECT id, slug, name, active, commission_bps, currency, timezone, version FROM tenants"
        )
        async with self._db.tenant_transaction(tenant_id) as conn:
            row = (await conn.execute(query)).mappings().first()
        if row is None:
            raise NotFound("tenant")
        return pb.Tenant(
            id=str(row["id"]),
            slug=row["slug"],
            name=row["name"],
            active=row["active"],
            commission_bps=row["commission_bps"],
            currency=row["currency"],
            timezone=row["timezone"],
            version=row["version"],
        )
