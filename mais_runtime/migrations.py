"""Each service applies its own migrations at start, inside its own schema.

Migrations are plain SQL files `NNN_name.sql` in the service's `migrations/` folder, applied in
order, each in its own transaction, and recorded in `<schema>.schema_migrations` with the SHA-256 of
the file. A session-level advisory lock per schema makes two replicas starting at once apply each
file exactly once; a file already recorded is skipped, so running twice changes nothing.

Around the files the runner keeps three promises (docs/adr/0020):
- It offers SQL functions for what every service repeats, so a migration says what it means in one
  line and stays plain SQL to read:
  `SELECT mais_isolate_by_tenant('bookings');` (row-level security, docs/adr/0002),
  `SELECT mais_isolate_for_platform('signin_failures');` (no tenant may see the table at all),
  `SELECT mais_create_outbox();` (the mail outbox of mais_runtime/outbox.py, isolated).
- It refuses to start when an applied file has changed since (the database ran another text than the
  one in the repository): a change is a new migration. A database recorded before checksums existed
  adopts the files' current checksums once.
- After migrating it checks that every table with a `tenant_id` column has row-level security enabled,
  forced and a policy, and refuses to start naming the table if not.
- `check_schema`, which a service runs at start (after migrating, or alone where a migrations Job
  migrates before a release starts: Kubernetes, MAIS_MIGRATE_ON_START=false), refuses a schema newer
  than the files (a version recorded that no file of this release has: a later release migrated it) or
  older (a file not applied yet).
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any

from mais_runtime.db import Database, text

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

# ENABLE + FORCE (the owning service role is not exempt) + the one policy, on the column that names
# the row's tenant (the tenants table keys on its own id).
_ISOLATE_BY_TENANT = """
CREATE OR REPLACE FUNCTION mais_isolate_by_tenant(target regclass, tenant_column name DEFAULT 'tenant_id')
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', target);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', target);
  EXECUTE format(
    'CREATE POLICY tenant_isolation ON %s'
    ' USING (mais_tenant_visible(%I)) WITH CHECK (mais_tenant_visible(%I))',
    target, tenant_column, tenant_column);
END
$$
"""

# For tables no tenant may read (counters of strangers' sign-in failures): platform transactions only.
_ISOLATE_FOR_PLATFORM = """
CREATE OR REPLACE FUNCTION mais_isolate_for_platform(target regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', target);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', target);
  EXECUTE format(
    'CREATE POLICY platform_only ON %s USING (current_setting(''mais.scope'', true) = ''platform'')'
    ' WITH CHECK (current_setting(''mais.scope'', true) = ''platform'')',
    target);
END
$$
"""

# The outbox of mais_runtime/outbox.py in its current shape. Every statement is "if not exists", so
# calling it again brings an older outbox up to date: when the outbox changes, change this function
# and add a migration `SELECT mais_create_outbox();` to each service that has one. `tenant_id` is NULL
# for platform mail, which only platform transactions see.
_CREATE_OUTBOX = """
CREATE OR REPLACE FUNCTION mais_create_outbox() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  CREATE TABLE IF NOT EXISTS outbox (
    id bigserial PRIMARY KEY,
    tenant_id uuid,
    dedupe_key text NOT NULL UNIQUE,
    to_address text NOT NULL,
    subject text NOT NULL,
    text_body text NOT NULL,
    html_body text NOT NULL,
    tag text NOT NULL DEFAULT '',
    status text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SENT', 'FAILED')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz
  );
  -- Mail speaks for a business: its name as the From display name and its address as Reply-To.
  ALTER TABLE outbox ADD COLUMN IF NOT EXISTS from_name text NOT NULL DEFAULT '';
  ALTER TABLE outbox ADD COLUMN IF NOT EXISTS reply_to text NOT NULL DEFAULT '';
  -- Files sent with the message (a confirmation's calendar invitation): [{filename, contentType,
  -- content (base64)}].
  ALTER TABLE outbox ADD COLUMN IF NOT EXISTS attachments jsonb NOT NULL DEFAULT '[]';
  CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_attempt_at) WHERE status = 'PENDING';
  IF NOT EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = 'outbox'::regclass) THEN
    PERFORM mais_isolate_by_tenant('outbox');
  END IF;
END
$$
"""

_HELPERS = (_RLS_FUNCTION, _ISOLATE_BY_TENANT, _ISOLATE_FOR_PLATFORM, _CREATE_OUTBOX)

# Tables of the schema with a tenant_id column, and whether row-level security holds them.
_TENANT_TABLES = """
SELECT c.relname AS name, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
       EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid) AS has_policy
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
ORDER BY c.relname
"""


class MigrationRefused(RuntimeError):
    """The schema and the migration files disagree; the service must not start on it."""


class SchemaBehind(MigrationRefused):
    """The schema lacks migrations of this release: the migrations Job has not run (yet)."""


def migration_files(folder: Path) -> list[tuple[str, Path]]:
    """The migration files of a folder as (version, path), in order; rejects stray names."""
    files = []
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file name must look like 001_name.sql: {path.name}")
        files.append((path.stem, path))
    return files


def checksum(path: Path) -> str:
    """The SHA-256 of a migration file as recorded beside its version."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def apply_migrations(db: Database, folder: Path) -> list[str]:
    """Applies the folder's pending migrations to the service's schema; returns what it applied.
    Raises MigrationRefused when an applied file changed or a tenant table is not isolated."""
    applied: list[str] = []
    async with db.connection() as driver:  # asyncpg: runs a file of several statements in one call
        lock_key = f"mais.migrate.{db.schema}"
        await driver.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", lock_key)
        try:
            async with driver.transaction():
                await driver.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
                )
                await driver.execute("ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text")
                for helper in _HELPERS:
                    await driver.execute(helper)
            files = [(version, path, checksum(path)) for version, path in migration_files(folder)]
            done = await _check_applied(driver, db.schema, files)
            for version, path, digest in files:
                if version in done:
                    continue
                async with driver.transaction():
                    await driver.execute(path.read_text())
                    await driver.execute(
                        "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)", version, digest
                    )
                applied.append(version)
                log.info("applied migration %s", version)
            await _check_isolation(driver, db.schema)
        finally:
            await driver.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", lock_key)
    return applied


async def _check_applied(driver: Any, schema: str, files: list[tuple[str, Path, str]]) -> set[str]:
    """The applied versions, after checking each still matches its file."""
    recorded = {
        row["version"]: row["checksum"] for row in await driver.fetch("SELECT * FROM schema_migrations")
    }
    for version, path, digest in files:
        if version not in recorded:
            continue
        if recorded[version] is None:
            # Applied before checksums were recorded: the file as it is now is taken as what ran, once.
            await driver.execute(
                "UPDATE schema_migrations SET checksum = $2 WHERE version = $1 AND checksum IS NULL",
                version,
                digest,
            )
            log.warning("migration %s predates checksums; recorded its current checksum", version)
        elif recorded[version] != digest:
            raise MigrationRefused(
                f"migration {path.name} changed after it was applied to schema {schema} "
                f"(recorded sha256 {recorded[version][:12]}…, file {digest[:12]}…); "
                "restore it and put the change in a new migration"
            )
    return set(recorded)


async def _check_isolation(driver: Any, schema: str) -> None:
    for row in await driver.fetch(_TENANT_TABLES, schema):
        if not (row["enabled"] and row["forced"] and row["has_policy"]):
            raise MigrationRefused(
                f"table {schema}.{row['name']} has a tenant_id column but is not isolated by row-level "
                f"security (enabled {row['enabled']}, forced {row['forced']}, policy {row['has_policy']}); "
                f"add `SELECT mais_isolate_by_tenant('{row['name']}');` in a migration"
            )


def _refuse_newer(schema: str, recorded: set[str], known: set[str]) -> None:
    unknown = sorted(recorded - known)
    if unknown:
        raise MigrationRefused(
            f"schema {schema} is newer than this release supports: it has migration(s) "
            f"{', '.join(unknown)} that this release does not ship; run the release that applied them"
        )


async def check_schema(db: Database, folder: Path) -> None:
    """Refuses (MigrationRefused) unless the schema is exactly at this release's migrations: none missing
    (older: the migrations Job has not run yet) and none unknown (newer). Changes nothing."""
    files = {version for version, _ in migration_files(folder)}
    async with db.platform_transaction() as conn:
        exists = (await conn.execute(text("SELECT to_regclass('schema_migrations') IS NOT NULL"))).scalar()
        rows = (await conn.execute(text("SELECT version FROM schema_migrations"))).all() if exists else []
    recorded = {row[0] for row in rows}
    _refuse_newer(db.schema, recorded, files)
    missing = sorted(files - recorded)
    if missing:
        raise SchemaBehind(
            f"schema {db.schema} is older than this release: migration(s) {', '.join(missing)} not applied; "
            "run the migrations Job (python -m mais_runtime.migrate) first"
        )
