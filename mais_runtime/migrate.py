"""The migrations Job's entry point: `python -m mais_runtime.migrate SERVICE` applies one service's
migrations with that service's own settings (MAIS_DATABASE_URL: its own login role) and exits.

Where services do not migrate at start (MAIS_MIGRATE_ON_START=false, the Kubernetes manifests), this
runs once per release before the release's services start; they refuse to start on any other schema.
Exit status 0 when the schema is at this release's version, 1 when refused (the reason is logged), 2 on
a bad argument.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from mais_runtime.db import Database
from mais_runtime.migrations import MigrationRefused, apply_migrations, check_schema
from mais_runtime.provision import SERVICES
from mais_runtime.settings import ServiceSettings
from mais_runtime.telemetry import setup_logging

_REPO = Path(__file__).resolve().parents[1]

log = logging.getLogger("mais_runtime.migrate")


def migrations_folder(service: str) -> Path:
    """The migrations folder of one service, by name; ValueError naming the argument otherwise."""
    if service not in SERVICES:
        raise ValueError(f"service must be one of {', '.join(SERVICES)}: {service!r}")
    return _REPO / "services" / service / "migrations"


async def migrate(service: str, settings: ServiceSettings) -> list[str]:
    """Applies the service's pending migrations; returns the versions applied."""
    if not settings.database_url:
        raise ValueError("MAIS_DATABASE_URL must be set (the service's own login role)")
    # A session advisory lock serialises migrators: straight to PostgreSQL even where a pooler is in front.
    db = Database(
        settings.session_database_url,
        schema=service,
        application_name=f"mais-migrate-{service}",
        pool_size=1,
        pool_timeout_seconds=settings.db_pool_timeout_seconds,
        # A migration may rewrite a large table: ten minutes a statement (bounded), but a lock is never
        # waited for long (a migration queued behind a long transaction would block every query after it).
        statement_timeout_ms=600_000,
        lock_timeout_ms=settings.db_lock_timeout_ms,
        connect_timeout_seconds=settings.db_connect_timeout_seconds,
        statement_cache_size=settings.db_statement_cache_size,
        transaction_pooler=settings.db_transaction_pooler and not settings.database_direct_url,
    )
    try:
        applied = await apply_migrations(db, migrations_folder(service))
        await check_schema(db, migrations_folder(service))
        return applied
    finally:
        await db.close()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(f"usage: python -m mais_runtime.migrate {{{'|'.join(SERVICES)}}}", file=sys.stderr)
        return 2
    service = argv[0]
    try:
        migrations_folder(service)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    settings = ServiceSettings()
    setup_logging(f"migrate-{service}", settings.log_level)
    try:
        applied = asyncio.run(migrate(service, settings))
    except (MigrationRefused, ValueError) as error:
        log.error("migrations of %s refused: %s", service, error)
        return 1
    log.info("schema %s at this release: applied %s", service, ", ".join(applied) or "nothing")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
