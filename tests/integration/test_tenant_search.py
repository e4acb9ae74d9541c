"""The platform admin's tenant search against the real PostgreSQL: name, slug or a live admin's email,
any case, `%` and `_` taken literally, paged with the search kept."""

from __future__ import annotations

import secrets

import pytest

from mais_runtime.db import Database
from mais_runtime.errors import ValidationError
from services.tenant.credentials import Passwords
from services.tenant.directory import TenantDirectory
from services.tenant.keyring import KeyRing
from services.tenant.store import TenantStore
from services.tenant.team import AdminTeam, InviteSettings

PASSWORDS = Passwords(time_cost=1, memory_kib=8192, parallelism=1)
RING = "k1:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU="


def _directory(db: Database) -> TenantDirectory:
    return TenantDirectory(
        TenantStore(db), PASSWORDS, KeyRing.parse(RING), default_grace_seconds=3600, max_grace_seconds=86400
    )


async def _make(db: Database, slug: str, name: str, email: str) -> str:
    created = await _directory(db).create(
        slug=slug,
        name=name,
        commission_bps=1000,
        admin_email=email,
        admin_password="Admin-pass-123",
        timezone="UTC",
        currency="usd",
    )
    return created.tenant.id


async def _search(db: Database, query: str, page_size: int = 50) -> list[str]:
    slugs: list[str] = []
    token = ""
    while True:
        tenants, token = await _directory(db).list_tenants(page_size, token, query)
        slugs.extend(t.slug for t in tenants)
        if not token:
            return slugs


@pytest.fixture
async def three(tenant_db: Database) -> str:
    """Three tenants sharing a random mark: a name, a slug and an email to find each by."""
    mark = secrets.token_hex(4)
    await _make(tenant_db, f"rose-{mark}", f"Rose & Oak {mark.upper()}", f"anna@rose-{mark}.example")
    await _make(tenant_db, f"fern-{mark}", f"Fern 100% Studio {mark}", f"bo@fern-{mark}.example")
    await _make(tenant_db, f"lake-{mark}", f"Lake_House {mark}", f"Cleo.{mark}@Mail.Example")
    return mark


async def test_a_search_finds_tenants_by_name_in_any_case(tenant_db: Database, three: str) -> None:
    assert await _search(tenant_db, f"  rose & OAK {three}  ") == [f"rose-{three}"]


async def test_a_search_finds_tenants_by_slug_and_by_a_live_admins_email(
    tenant_db: Database, three: str
) -> None:
    assert await _search(tenant_db, f"fern-{three}") == [f"fern-{three}"]
    assert await _search(tenant_db, f"cleo.{three}@mail") == [f"lake-{three}"]
    assert sorted(await _search(tenant_db, three)) == sorted(f"{s}-{three}" for s in ("fern", "lake", "rose"))


async def test_percent_and_underscore_in_a_search_are_plain_characters(
    tenant_db: Database, three: str
) -> None:
    assert await _search(tenant_db, f"100% studio {three}") == [f"fern-{three}"]
    assert await _search(tenant_db, f"lake_house {three}") == [f"lake-{three}"]
    # Were `_` a wildcard, "lake_house" would also match "lakeXhouse"; were `%`, this would match all.
    assert await _search(tenant_db, f"%{three}") == []
    assert await _search(tenant_db, f"e_{three}") == []


async def test_a_removed_admins_email_no_longer_finds_the_tenant(tenant_db: Database) -> None:
    mark = secrets.token_hex(4)
    tenant_id = await _make(tenant_db, f"gone-{mark}", f"Gone {mark}", f"first@gone-{mark}.example")
    team = AdminTeam(TenantStore(tenant_db), InviteSettings(7 * 86400, "http://127.0.0.1:8080"))
    invited = await team.invite(tenant_id, f"invited@gone-{mark}.example", "", "")
    assert await _search(tenant_db, f"invited@gone-{mark}") == [f"gone-{mark}"]
    await team.remove(tenant_id, invited.id)
    assert await _search(tenant_db, f"invited@gone-{mark}") == []
    assert await _search(tenant_db, f"first@gone-{mark}") == [f"gone-{mark}"]


async def test_a_search_is_paged_and_the_next_page_keeps_it(tenant_db: Database) -> None:
    mark = secrets.token_hex(4)
    for n in range(5):
        await _make(tenant_db, f"page{n}-{mark}", f"Paged {mark} {n}", f"a{n}@page-{mark}.example")
    await _make(tenant_db, f"other-{mark}", f"Other {mark}", f"x@other-{mark}.example")
    directory = _directory(tenant_db)
    first, token = await directory.list_tenants(2, "", f"paged {mark}")
    assert [t.slug for t in first] == [f"page0-{mark}", f"page1-{mark}"] and token
    assert await _search(tenant_db, f"paged {mark}", page_size=2) == [f"page{n}-{mark}" for n in range(5)]


async def test_a_search_longer_than_100_characters_is_refused_naming_q(tenant_db: Database) -> None:
    with pytest.raises(ValidationError) as refused:
        await _directory(tenant_db).list_tenants(10, "", "x" * 101)
    assert [v.field for v in refused.value.fields] == ["q"]
    assert await _directory(tenant_db).list_tenants(1, "", "  " + "x" * 100 + "  ") == ([], "")
