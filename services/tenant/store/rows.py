"""What both halves of the tenant store share: the connection they run on and error decoding."""

from __future__ import annotations

from typing import Any

from mais_runtime.db import AsyncConnection, IntegrityError, RowMapping, sqlstate, text


class Queries:
    """Runs text() queries on the transaction's connection; every value is a bound parameter."""

    conn: AsyncConnection

    async def _first(self, sql: str, **params: Any) -> RowMapping | None:
        return (await self.conn.execute(text(sql), params)).mappings().first()

    async def _all(self, sql: str, **params: Any) -> list[RowMapping]:
        return list((await self.conn.execute(text(sql), params)).mappings())

    async def _exec(self, sql: str, **params: Any) -> int:
        return int((await self.conn.execute(text(sql), params)).rowcount or 0)


def is_unique_violation(error: IntegrityError, constraint: str) -> bool:
    """Whether a write failed on the named unique constraint or index."""
    return sqlstate(error) == "23505" and constraint in str(error.orig)
