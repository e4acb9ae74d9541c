"""The catalog's store against the real PostgreSQL, as the catalog's own role: slugs per tenant,
row-level security and tenant-carrying foreign keys, the database's own price bounds, and the change
notification that every write sends at commit (and only at commit)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import asyncpg
import pytest

from mais_runtime.db import Database, IntegrityError, text
from mais_runtime.errors import NotFound, ValidationError
from services.catalog.domain import AddOnDraft, InUse, PackageDraft, SegmentDraft, SlugTaken
from services.catalog.store import CHANGES_CHANNEL, CatalogStore
from tests.integration.conftest import Cluster, service_database


@pytest.fixture
async def catalog_db(cluster: Cluster) -> AsyncIterator[Database]:
    db = await service_database(cluster, "catalog")
    yield db
    await db.close()


@pytest.fixture
def store(catalog_db: Database) -> CatalogStore:
    return CatalogStore(catalog_db)


def tenant() -> str:
    return str(uuid.uuid4())


def draft(slug: str = "garden", price: int = 150000, **more: object) -> PackageDraft:
    more.setdefault("currency", "usd")
    return PackageDraft(slug=slug, title=f"Package {slug}", price_cents=price, **more)  # type: ignore[arg-type]


async def test_two_tenants_with_the_same_slug_see_only_their_own_packages(store: CatalogStore) -> None:
    a, b = tenant(), tenant()
    async with store.writing(a) as tx:
        mine = await tx.insert_package(draft("garden", 100000))
    async with store.writing(b) as tx:
        theirs = await tx.insert_package(draft("garden", 250000, currency="eur"))

    async with store.reading(a) as tx:
        page, _ = await tx.offered_packages(50, None)
        by_slug = await tx.offered_package("garden")
    assert [p.stamp.id for p in page] == [mine.stamp.id]
    assert by_slug is not None and (by_slug.draft.price_cents, by_slug.currency) == (100000, "usd")

    async with store.reading(b) as tx:
        by_slug = await tx.offered_package("garden")
        with pytest.raises(NotFound):
            await tx.package(mine.stamp.id)
    assert by_slug is not None and by_slug.stamp.id == theirs.stamp.id


async def test_a_taken_slug_is_refused_and_nothing_is_written(store: CatalogStore) -> None:
    t = tenant()
    async with store.writing(t) as tx:
        await tx.insert_package(draft("garden"))
    with pytest.raises(SlugTaken) as caught:
        async with store.writing(t) as tx:
            await tx.insert_package(draft("garden", 1))
    assert caught.value.reason == "SLUG_TAKEN"
    assert [f.field for f in caught.value.fields] == ["slug"]
    async with store.reading(t) as tx:
        page, _ = await tx.packages(50, None)
    assert [(p.draft.slug, p.draft.price_cents) for p in page] == [("garden", 150000)]


async def test_renaming_onto_a_taken_slug_is_slug_taken(store: CatalogStore) -> None:
    t = tenant()
    async with store.writing(t) as tx:
        await tx.insert_segment(SegmentDraft("weddings", "Weddings"))
        second = await tx.insert_segment(SegmentDraft("elopements", "Elopements"))
    with pytest.raises(SlugTaken):
        async with store.writing(t) as tx:
            await tx.save_segment(second.stamp.id, SegmentDraft("weddings", "Elopements"))


async def test_the_database_refuses_prices_outside_the_bounds_even_without_the_domain(
    catalog_db: Database,
) -> None:
    t = tenant()
    for price in (-1, 100_000_000):
        with pytest.raises(IntegrityError) as caught:
            async with catalog_db.tenant_transaction(t) as conn:
                await conn.execute(
                    text(
                        "INSERT INTO packages (id, tenant_id, slug, title, price_cents, currency)"
                        " VALUES (:id, :t, 'bad', 'Bad', :price, 'usd')"
                    ),
                    {"id": str(uuid.uuid4()), "t": t, "price": price},
                )
        assert "packages_price_bounds" in str(caught.value)


async def test_an_add_on_cannot_be_offered_with_another_tenants_package(
    store: CatalogStore, catalog_db: Database
) -> None:
    a, b = tenant(), tenant()
    async with store.writing(a) as tx:
        package_of_a = await tx.insert_package(draft("garden"))
    async with store.writing(b) as tx:
        assert await tx.package_currencies([package_of_a.stamp.id]) == {}
        add_on = await tx.insert_add_on(AddOnDraft("flowers", "Flowers", 5000, currency="usd"))
    # Even a query that skips every check cannot link B's add-on to A's package: the foreign key
    # carries the tenant id.
    with pytest.raises(IntegrityError) as caught:
        async with catalog_db.tenant_transaction(b) as conn:
            await conn.execute(
                text(
                    "INSERT INTO add_on_packages (tenant_id, add_on_id, package_id, currency)"
                    " VALUES (:t, :a, :p, 'usd')"
                ),
                {"t": b, "a": add_on.stamp.id, "p": package_of_a.stamp.id},
            )
    # Either of the two foreign keys to the package (by tenant, by tenant and currency) refuses it.
    assert "add_on_packages_package_" in str(caught.value)


async def test_the_database_refuses_an_offer_joining_two_currencies_even_without_the_domain(
    store: CatalogStore, catalog_db: Database
) -> None:
    t = tenant()
    async with store.writing(t) as tx:
        garden = await tx.insert_package(draft("garden", currency="eur"))
        flowers = await tx.insert_add_on(AddOnDraft("flowers", "Flowers", 5000, currency="usd"))
    with pytest.raises(IntegrityError) as caught:
        async with catalog_db.tenant_transaction(t) as conn:
            await conn.execute(
                text(
                    "INSERT INTO add_on_packages (tenant_id, add_on_id, package_id, currency)"
                    " VALUES (:t, :a, :p, 'usd')"
                ),
                {"t": t, "a": flowers.stamp.id, "p": garden.stamp.id},
            )
    assert "add_on_packages_package_currency_fk" in str(caught.value)

    # Once offered together in one currency, neither side's currency can change under the offer.
    async with store.writing(t) as tx:
        barn = await tx.insert_package(draft("barn", currency="usd"))
        await tx.save_add_on(flowers.stamp.id, replace(flowers.draft, package_ids=(barn.stamp.id,)))
    for table, row in (("packages", barn.stamp.id), ("add_ons", flowers.stamp.id)):
        with pytest.raises(IntegrityError) as caught:
            async with catalog_db.tenant_transaction(t) as conn:
                await conn.execute(
                    text(f"UPDATE {table} SET currency = 'eur' WHERE tenant_id = :t AND id = :id"),
                    {"t": t, "id": row},
                )
        assert "_currency_fk" in str(caught.value)


async def test_public_reads_show_only_active_packages_in_active_segments_with_active_add_ons(
    store: CatalogStore,
) -> None:
    t = tenant()
    async with store.writing(t) as tx:
        hidden_line = await tx.insert_segment(SegmentDraft("retired", "Retired", active=False))
        shown = await tx.insert_package(draft("shown", sort_order=1))
        await tx.insert_package(draft("inactive", active=False))
        await tx.insert_package(draft("in-retired-line", segment_id=hidden_line.stamp.id))
        await tx.insert_add_on(
            AddOnDraft("flowers", "Flowers", 5000, package_ids=(shown.stamp.id,), currency="usd")
        )
        await tx.insert_add_on(
            AddOnDraft("drone", "Drone", 9000, active=False, package_ids=(shown.stamp.id,), currency="usd")
        )
    async with store.reading(t) as tx:
        page, next_position = await tx.offered_packages(50, None)
        assert await tx.offered_package("inactive") is None
        assert await tx.offered_package("in-retired-line") is None
    assert next_position is None
    assert [p.draft.slug for p in page] == ["shown"]
    assert [(a.slug, a.price_cents) for a in page[0].add_ons] == [("flowers", 5000)]


async def test_pages_follow_sort_order_then_slug_without_gaps_or_repeats(store: CatalogStore) -> None:
    t = tenant()
    async with store.writing(t) as tx:
        for n, slug in enumerate(["e-five", "d-four", "c-three", "b-two", "a-one"]):
            await tx.insert_package(draft(slug, sort_order=n % 2))
    seen: list[str] = []
    position = None
    async with store.reading(t) as tx:
        while True:
            page, position = await tx.packages(2, position)
            seen += [p.draft.slug for p in page]
            if position is None:
                break
    assert seen == ["a-one", "c-three", "e-five", "b-two", "d-four"]


async def test_a_segment_with_packages_cannot_be_deleted(store: CatalogStore) -> None:
    t = tenant()
    async with store.writing(t) as tx:
        line = await tx.insert_segment(SegmentDraft("weddings", "Weddings"))
        await tx.insert_package(draft("garden", segment_id=line.stamp.id))
    with pytest.raises(InUse) as caught:
        async with store.writing(t) as tx:
            await tx.delete_segment(line.stamp.id)
    assert caught.value.reason == "IN_USE"


async def test_deleting_a_package_withdraws_it_from_add_ons_and_bumps_their_version(
    store: CatalogStore,
) -> None:
    t = tenant()
    async with store.writing(t) as tx:
        garden = await tx.insert_package(draft("garden"))
        barn = await tx.insert_package(draft("barn"))
        flowers = await tx.insert_add_on(
            AddOnDraft(
                "flowers", "Flowers", 5000, package_ids=(garden.stamp.id, barn.stamp.id), currency="usd"
            )
        )
    async with store.writing(t) as tx:
        await tx.delete_package(garden.stamp.id)
    async with store.reading(t) as tx:
        after = await tx.add_on(flowers.stamp.id)
    assert after.draft.package_ids == (barn.stamp.id,)
    assert after.stamp.version == flowers.stamp.version + 1


async def test_a_write_notifies_its_tenant_at_commit_and_a_rolled_back_one_does_not(
    store: CatalogStore, cluster: Cluster
) -> None:
    t = tenant()
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(cluster.role_urls["catalog"])
    try:
        await listener.add_listener(CHANGES_CHANNEL, lambda *args: heard.put_nowait(args[3]))
        with pytest.raises(SlugTaken):
            async with store.writing(t) as tx:
                await tx.insert_package(draft("garden"))
                await tx.insert_package(draft("garden"))
        async with store.writing(t) as tx:
            await tx.insert_package(draft("barn"))
        assert await asyncio.wait_for(heard.get(), timeout=5) == t
        await listener.execute("SELECT 1")  # any notification still in flight arrives before this answer
        assert heard.empty()
    finally:
        await listener.close()


async def test_a_write_that_skipped_the_currency_checks_is_refused_naming_the_field(
    store: CatalogStore,
) -> None:
    # What a race between a check and a write would leave: the database refuses, and the store
    # answers with the field the client can act on.
    t = tenant()
    async with store.writing(t) as tx:
        garden = await tx.insert_package(draft("garden", currency="usd"))
        barn = await tx.insert_package(draft("barn", currency="eur"))
        flowers = await tx.insert_add_on(
            AddOnDraft("flowers", "Flowers", 5000, package_ids=(garden.stamp.id,), currency="usd")
        )
    with pytest.raises(ValidationError) as caught:
        async with store.writing(t) as tx:
            await tx.save_package(garden.stamp.id, replace(garden.draft, currency="eur"))
    assert [f.field for f in caught.value.fields] == ["currency"]
    with pytest.raises(ValidationError) as caught:
        async with store.writing(t) as tx:
            await tx.save_add_on(flowers.stamp.id, replace(flowers.draft, package_ids=(barn.stamp.id,)))
    assert [f.field for f in caught.value.fields] == ["packageIds"]
    async with store.reading(t) as reads:
        assert (await reads.package(garden.stamp.id)).currency == "usd"
        assert (await reads.add_on(flowers.stamp.id)).draft.package_ids == (garden.stamp.id,)
