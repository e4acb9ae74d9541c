"""The catalog's migrations upgrade a database that already holds a catalog: 002 gives every add-on
offer the currency of its add-on and removes the offers that joined two currencies (which no couple
could ever buy), after which the database itself refuses to mix currencies."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from mais_runtime.db import Database, IntegrityError, text
from mais_runtime.migrations import apply_migrations
from tests.integration.conftest import Cluster

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "catalog" / "migrations"


@pytest.fixture
async def fresh_schema(cluster: Cluster) -> AsyncIterator[Database]:
    """An empty schema of the catalog's role, as a catalog database before its first start."""
    schema = "catalog_upgrade_" + uuid.uuid4().hex[:8]
    admin = await asyncpg.connect(cluster.admin_url)
    try:
        await admin.execute(f"CREATE SCHEMA {schema} AUTHORIZATION mais_catalog")
        db = Database(cluster.role_urls["catalog"], schema=schema, application_name="test-catalog-upgrade")
        yield db
        await db.close()
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


async def test_002_keeps_every_price_gives_offers_their_currency_and_drops_mixed_offers(
    fresh_schema: Database, tmp_path: Path
) -> None:
    first_only = tmp_path / "migrations"
    first_only.mkdir()
    shutil.copy(MIGRATIONS / "001_catalog.sql", first_only)
    assert await apply_migrations(fresh_schema, first_only) == ["001_catalog"]

    tenant = str(uuid.uuid4())
    dollars, euros, flowers = (str(uuid.uuid4()) for _ in range(3))
    async with fresh_schema.tenant_transaction(tenant) as conn:
        # As round 1 could leave it: the tenant moved to eur and one package was edited since.
        for package_id, slug, currency in ((dollars, "garden", "usd"), (euros, "barn", "eur")):
            await conn.execute(
                text(
                    "INSERT INTO packages (id, tenant_id, slug, title, price_cents, currency)"
                    " VALUES (:id, :t, :slug, :slug, 150000, :currency)"
                ),
                {"id": package_id, "t": tenant, "slug": slug, "currency": currency},
            )
        await conn.execute(
            text(
                "INSERT INTO add_ons (id, tenant_id, slug, title, price_cents, currency)"
                " VALUES (:id, :t, 'flowers', 'Flowers', 20000, 'usd')"
            ),
            {"id": flowers, "t": tenant},
        )
        await conn.execute(
            text(
                "INSERT INTO add_on_packages (tenant_id, add_on_id, package_id)"
                " SELECT :t, :a, unnest(CAST(:ps AS uuid[]))"
            ),
            {"t": tenant, "a": flowers, "ps": [dollars, euros]},
        )

    # 002 and every later migration (003 adds packages' own payment terms, NULL for these).
    applied = await apply_migrations(fresh_schema, MIGRATIONS)
    assert applied[0] == "002_offer_currency"
    assert applied == sorted(path.stem for path in MIGRATIONS.glob("*.sql"))[1:]
    assert await apply_migrations(fresh_schema, MIGRATIONS) == []

    async with fresh_schema.tenant_transaction(tenant) as conn:
        prices = (
            await conn.execute(text("SELECT slug, price_cents, currency FROM packages ORDER BY slug"))
        ).all()
        offers = (await conn.execute(text("SELECT package_id::text, currency FROM add_on_packages"))).all()
    assert [tuple(r) for r in prices] == [("barn", 150000, "eur"), ("garden", 150000, "usd")]
    assert [tuple(r) for r in offers] == [(dollars, "usd")]

    with pytest.raises(IntegrityError) as caught:
        async with fresh_schema.tenant_transaction(tenant) as conn:
            await conn.execute(
                text(
                    "INSERT INTO add_on_packages (tenant_id, add_on_id, package_id, currency)"
                    " VALUES (:t, :a, :p, 'usd')"
                ),
                {"t": tenant, "a": flowers, "p": euros},
            )
    assert "add_on_packages_package_currency_fk" in str(caught.value)


async def test_004_makes_every_existing_package_a_whole_day_and_the_database_pairs_kind_and_terms(
    fresh_schema: Database, tmp_path: Path
) -> None:
    before = tmp_path / "migrations"
    before.mkdir()
    for path in sorted(MIGRATIONS.glob("00[1-3]_*.sql")):
        shutil.copy(path, before)
    await apply_migrations(fresh_schema, before)
    tenant, garden = str(uuid.uuid4()), str(uuid.uuid4())
    async with fresh_schema.tenant_transaction(tenant) as conn:
        await conn.execute(
            text(
                "INSERT INTO packages (id, tenant_id, slug, title, price_cents, currency)"
                " VALUES (:id, :t, 'garden', 'Garden', 150000, 'usd')"
            ),
            {"id": garden, "t": tenant},
        )

    assert "004_package_kind" in await apply_migrations(fresh_schema, MIGRATIONS)
    async with fresh_schema.tenant_transaction(tenant) as conn:
        rows = (await conn.execute(text("SELECT kind, slot FROM packages"))).all()
    assert [tuple(r) for r in rows] == [("DAY", None)]

    # A slot package without terms, or a whole day with some, never gets stored.
    for kind, slot in (("SLOT", None), ("DAY", '{"durationMinutes": 90}')):
        with pytest.raises(IntegrityError) as caught:
            async with fresh_schema.tenant_transaction(tenant) as conn:
                await conn.execute(
                    text("UPDATE packages SET kind = :kind, slot = CAST(:slot AS jsonb) WHERE id = :id"),
                    {"kind": kind, "slot": slot, "id": garden},
                )
        assert "packages_slot_terms_of_kind" in str(caught.value)
