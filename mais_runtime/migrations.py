"""Each service applies its own migrations at start, inside its own schema.

Migrations are plain SQL files `NNN_name.sql` in the service's `migrations/` folder, applied in
order, each in its own transaction, and recorded in `<schema>.schema_migrations`. A session-level
advisory lock per schema makes two replicas starting at once apply each file exactly once; a file
already recorded is skipped, so running twice changes nothing.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from mais_runtime.db import Database

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")

# The row-level-security predicate every tenant-owned table's policy uses. STABLE and in SQL so
# the planner inlines it and keeps using tenant indexes.
_RLS_FUNCTION = """
CREATE OR REPLACE FUNCTION mais_tenant_visible(row_tenant uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT row_tenant = NULLIF(current_setting('mais.tenant_id', true), '')::uuid
      OR current_setting('mais.scope', true) = 'platform'
$$
"""


def migration_files(folder: Path) -> list[tuple[str, Path]]:
    """The migration files of a folder as (version, path), in order; rejects stray names."""
    files = []
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file name must look like 001_name.sql: {path.name}")
        files.append((path.stem, path))
    return files


async def apply_migrations(db: Database, folder: Path) -> list[str]:
    """Applies the folder's pending migrations to the service's schema; returns what it applied."""
    applied: list[str] = []
    async with db.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection  # asyncpg: runs a file of several statements in one call
        assert driver is not None
        lock_key = f"mais.migrate.{db.schema}"
        await driver.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", lock_key)
        try:
            async with driver.transaction():
                await driver.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
                )
                await driver.execute(_RLS_FUNCTION)
            done = {row["version"] for row in await driver.fetch("SELECT version FROM schema_migrations")}
            for version, path in migration_files(folder):
                if version in done:
                    continue
                async with driver.transaction():
                    await driver.execute(path.read_text())
                    await driver.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
                applied.append(version)
                log.info("applied migration %s", version)
        finally:
            await driver.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", lock_key)
    return applied
