"""The tenant service's use cases against the real PostgreSQL: sign-in limiting under concurrency,
single-use reset tokens, token revocation, key rotation, sealed secrets and row-level security."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import secrets
from datetime import timedelta

import pytest
from sqlalchemy import text

from mais_runtime.db import Database
from mais_runtime.errors import Conflict, DomainError, NotFound, RateLimited, Unauthenticated, ValidationError
from services.tenant import store
from services.tenant.credentials import Passwords, Tokens
from services.tenant.directory import CreatedTenant, InvalidTenantKey, TenantDirectory
from services.tenant.domain import Role, SignInLimit, Tenant
from services.tenant.identity import Identity, ResetSettings
from services.tenant.keyring import KeyRing

PASSWORDS = Passwords(time_cost=1, memory_kib=8192, parallelism=1)
TOKENS = Tokens("integration-signing-key-" + "z" * 48, timedelta(hours=1))
KEY_1 = "k1:" + base64.b64encode(os.urandom(32)).decode()
KEY_2 = "k2:" + base64.b64encode(os.urandom(32)).decode()


def _directory(db: Database, ring: str = KEY_1) -> TenantDirectory:
    return TenantDirectory(
        db, PASSWORDS, KeyRing.parse(ring), default_grace_seconds=3600, max_grace_seconds=86400
    )


def _identity(db: Database) -> Identity:
    return Identity(db, PASSWORDS, TOKENS, SignInLimit(), ResetSettings(3600, 3, "http://127.0.0.1:8080"))


ADMIN_PASSWORD = "Admin-pass-123"


async def _tenant(db: Database, password: str = ADMIN_PASSWORD) -> CreatedTenant:
    slug = f"it-{secrets.token_hex(5)}"
    return await _directory(db).create(
        slug=slug,
        name=slug,
        commission_bps=1000,
        admin_email=f"Owner@{slug}.Example",
        admin_password=password,
        timezone="Europe/Paris",
        currency="eur",
    )


def _ip() -> str:
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"


async def test_ten_simultaneous_wrong_passwords_let_exactly_five_through_to_a_check(
    tenant_db: Database,
) -> None:
    created = await _tenant(tenant_db)
    identity = _identity(tenant_db)
    results = await asyncio.gather(
        *(identity.sign_in(created.admin_email, "Wrong-pass-123", _ip()) for _ in range(10)),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["RateLimited"] * 5 + ["Unauthenticated"] * 5
    limited = next(r for r in results if isinstance(r, RateLimited))
    assert 1 <= int(limited.metadata["retry_after_seconds"]) <= 900


async def test_once_an_address_is_locked_even_the_right_password_waits(tenant_db: Database) -> None:
    created = await _tenant(tenant_db, password="Right-pass-123")
    identity = _identity(tenant_db)
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            await identity.sign_in(created.admin_email, "Wrong-pass-123", _ip())
    with pytest.raises(RateLimited):
        await identity.sign_in(created.admin_email, "Right-pass-123", _ip())


async def test_failures_from_one_ip_count_across_addresses(tenant_db: Database) -> None:
    identity = _identity(tenant_db)
    ip = _ip()
    for n in range(5):
        with pytest.raises(Unauthenticated):
            await identity.sign_in(f"nobody-{n}-{secrets.token_hex(3)}@example.com", "Wrong-pass-123", ip)
    created = await _tenant(tenant_db, password="Right-pass-123")
    with pytest.raises(RateLimited):
        await identity.sign_in(created.admin_email, "Right-pass-123", ip)
    # The same admin from another address signs in: the lock is on the IP, not on them.
    assert (await identity.sign_in(created.admin_email, "Right-pass-123", _ip())).role is Role.TENANT_ADMIN


async def test_mixed_case_and_padded_addresses_sign_in(tenant_db: Database) -> None:
    created = await _tenant(tenant_db, password="Right-pass-123")
    signed = await _identity(tenant_db).sign_in(f"  {created.admin_email.upper()} ", "Right-pass-123", _ip())
    assert signed.email == created.admin_email == created.admin_email.lower()
    assert signed.tenant_id == created.tenant.id


async def _reset_token(db: Database, email: str) -> str:
    async with db.platform_transaction() as conn:
        body = (
            await conn.execute(
                text("SELECT text_body FROM outbox WHERE to_address = :to ORDER BY id DESC LIMIT 1"),
                {"to": email},
            )
        ).scalar_one()
    match = re.search(r"#token=([A-Za-z0-9_-]+)", body)
    assert match, "reset mail without a link"
    return match.group(1)


async def test_a_reset_token_works_once_even_when_used_twice_at_once(tenant_db: Database) -> None:
    created = await _tenant(tenant_db)
    identity = _identity(tenant_db)
    await identity.request_reset(created.admin_email.upper())
    token = await _reset_token(tenant_db, created.admin_email)
    results = await asyncio.gather(
        identity.reset_password(token, "First-new-pass-1"),
        identity.reset_password(token, "Second-new-pass-2"),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["NoneType", "ValidationError"]
    with pytest.raises(ValidationError):
        await identity.reset_password(token, "Third-new-pass-3")
    winner = "First-new-pass-1" if results[0] is None else "Second-new-pass-2"
    assert (await identity.sign_in(created.admin_email, winner, _ip())).user_id


async def test_a_weak_new_password_does_not_spend_the_reset_token(tenant_db: Database) -> None:
    created = await _tenant(tenant_db)
    identity = _identity(tenant_db)
    await identity.request_reset(created.admin_email)
    token = await _reset_token(tenant_db, created.admin_email)
    with pytest.raises(ValidationError) as caught:
        await identity.reset_password(token, "short")
    assert [f.field for f in caught.value.fields] == ["newPassword"]
    await identity.reset_password(token, "Strong-new-pass-1")


async def test_an_expired_reset_token_is_refused(tenant_db: Database) -> None:
    created = await _tenant(tenant_db)
    identity = _identity(tenant_db)
    await identity.request_reset(created.admin_email)
    token = await _reset_token(tenant_db, created.admin_email)
    async with tenant_db.platform_transaction() as conn:
        await conn.execute(
            text("UPDATE password_resets SET expires_at = now() - interval '1 second' WHERE tenant_id = :t"),
            {"t": created.tenant.id},
        )
    with pytest.raises(ValidationError):
        await identity.reset_password(token, "Strong-new-pass-1")


async def test_an_unknown_address_gets_no_reset_mail_and_no_error(tenant_db: Database) -> None:
    address = f"nobody-{secrets.token_hex(4)}@example.com"
    await _identity(tenant_db).request_reset(address)
    async with tenant_db.platform_transaction() as conn:
        count = (
            await conn.execute(text("SELECT count(*) FROM outbox WHERE to_address = :to"), {"to": address})
        ).scalar_one()
    assert count == 0


async def test_reset_mails_per_address_are_capped_quietly(tenant_db: Database) -> None:
    created = await _tenant(tenant_db)
    identity = _identity(tenant_db)
    for _ in range(5):
        await identity.request_reset(created.admin_email)
    async with tenant_db.platform_transaction() as conn:
        count = (
            await conn.execute(
                text("SELECT count(*) FROM outbox WHERE to_address = :to"), {"to": created.admin_email}
            )
        ).scalar_one()
    assert count == 3


async def test_tokens_stop_working_after_a_password_reset(tenant_db: Database) -> None:
    created = await _tenant(tenant_db, password="Right-pass-123")
    identity = _identity(tenant_db)
    signed = await identity.sign_in(created.admin_email, "Right-pass-123", _ip())
    await identity.request_reset(created.admin_email)
    await identity.reset_password(await _reset_token(tenant_db, created.admin_email), "Brand-new-pass-1")
    with pytest.raises(Unauthenticated):
        await identity.verify(signed.token)


async def test_tokens_of_a_removed_user_stop_working(tenant_db: Database) -> None:
    created = await _tenant(tenant_db, password="Right-pass-123")
    identity = _identity(tenant_db)
    signed = await identity.sign_in(created.admin_email, "Right-pass-123", _ip())
    assert (await identity.verify(signed.token)).user_id == signed.user_id
    async with tenant_db.tenant_transaction(created.tenant.id) as conn:
        assert await store.remove_admin(conn, signed.user_id)
    with pytest.raises(Unauthenticated):
        await identity.verify(signed.token)
    with pytest.raises(Unauthenticated):
        await identity.sign_in(created.admin_email, "Right-pass-123", _ip())


async def test_a_deactivated_tenant_ends_its_admins_tokens_and_sign_in(tenant_db: Database) -> None:
    created = await _tenant(tenant_db, password="Right-pass-123")
    identity = _identity(tenant_db)
    signed = await identity.sign_in(created.admin_email, "Right-pass-123", _ip())
    directory = _directory(tenant_db)
    await directory.update(
        created.tenant.id, Tenant(id="", slug="", name="", active=False), ["active"], Role.PLATFORM_ADMIN, 0
    )
    with pytest.raises(Unauthenticated):
        await identity.verify(signed.token)
    with pytest.raises(DomainError) as caught:
        await identity.sign_in(created.admin_email, "Right-pass-123", _ip())
    assert caught.value.reason == "TENANT_INACTIVE"
    with pytest.raises(DomainError) as caught:
        await directory.resolve_public_key(created.keys.public_key)
    assert caught.value.reason == "TENANT_INACTIVE"


async def test_a_stale_version_is_refused_and_changes_nothing(tenant_db: Database) -> None:
    created = await _tenant(tenant_db)
    directory = _directory(tenant_db)
    change = Tenant(id="", slug="", name="Renamed once")
    first = await directory.update(created.tenant.id, change, ["name"], Role.TENANT_ADMIN, 1)
    with pytest.raises(DomainError) as caught:
        await directory.update(
            created.tenant.id, Tenant(id="", slug="", name="Renamed twice"), ["name"], Role.TENANT_ADMIN, 1
        )
    assert caught.value.reason == "VERSION_CONFLICT"
    assert (await directory.get(created.tenant.id)).name == first.name == "Renamed once"


async def test_rotation_keeps_the_old_public_key_for_the_grace_period_only(tenant_db: Database) -> None:
    created = await _tenant(tenant_db)
    directory = _directory(tenant_db)
    rotation = await directory.rotate_keys(created.tenant.id, 3600)
    for key in (created.keys.public_key, rotation.keys.public_key):
        assert (await directory.resolve_public_key(key)).id == created.tenant.id
    await directory.rotate_keys(created.tenant.id, 0)
    for key in (created.keys.public_key, rotation.keys.public_key):
        with pytest.raises(InvalidTenantKey):
            await directory.resolve_public_key(key)


async def test_simultaneous_rotations_leave_exactly_one_live_pair(tenant_db: Database) -> None:
    created = await _tenant(tenant_db)
    directory = _directory(tenant_db)
    rotations = await asyncio.gather(*(directory.rotate_keys(created.tenant.id, 60) for _ in range(5)))
    assert len({r.keys.public_key for r in rotations}) == 5
    async with tenant_db.tenant_transaction(created.tenant.id) as conn:
        live = (
            await conn.execute(text("SELECT public_key FROM api_keys WHERE expires_at IS NULL"))
        ).scalars()
        assert list(live) in ([r.keys.public_key] for r in rotations)


async def test_a_slug_or_admin_address_in_use_fails_creation_as_a_whole(tenant_db: Database) -> None:
    created = await _tenant(tenant_db)
    directory = _directory(tenant_db)
    with pytest.raises(Conflict) as caught:
        await directory.create(
            slug=created.tenant.slug,
            name="x",
            commission_bps=0,
            admin_email="fresh@example.com",
            admin_password="Admin-pass-123",
            timezone="",
            currency="",
        )
    assert caught.value.reason == "SLUG_TAKEN"
    fresh_slug = f"it-{secrets.token_hex(5)}"
    with pytest.raises(Conflict):
        await directory.create(
            slug=fresh_slug,
            name="x",
            commission_bps=0,
            admin_email=created.admin_email,
            admin_password="Admin-pass-123",
            timezone="",
            currency="",
        )
    async with tenant_db.platform_transaction() as conn:
        assert await store.tenant_by_slug(conn, fresh_slug) is None


async def test_secrets_survive_a_key_rotation_and_move_to_the_newest_key(tenant_db: Database) -> None:
    created = await _tenant(tenant_db)
    await _directory(tenant_db, KEY_1).put_secret(created.tenant.id, "calendar.token", "ya29.secret-value")
    rotated = _directory(tenant_db, f"{KEY_2},{KEY_1}")
    opened = await rotated.get_secret(created.tenant.id, "calendar.token")
    assert (opened.value, opened.key_id) == ("ya29.secret-value", "k2")
    # Re-sealed on that read, so the old key can now leave the ring.
    only_new = _directory(tenant_db, KEY_2)
    assert (await only_new.get_secret(created.tenant.id, "calendar.token")).value == "ya29.secret-value"
    async with tenant_db.tenant_transaction(created.tenant.id) as conn:
        raw = (await conn.execute(text("SELECT ciphertext FROM tenant_secrets"))).scalar_one()
    assert b"ya29" not in bytes(raw)


async def test_one_tenants_secret_is_not_found_for_another(tenant_db: Database) -> None:
    owner, other = await _tenant(tenant_db), await _tenant(tenant_db)
    directory = _directory(tenant_db)
    await directory.put_secret(owner.tenant.id, "calendar.token", "value")
    with pytest.raises(NotFound):
        await directory.get_secret(other.tenant.id, "calendar.token")


async def test_inside_a_tenant_transaction_only_that_tenants_identity_rows_exist(tenant_db: Database) -> None:
    owner, other = await _tenant(tenant_db), await _tenant(tenant_db)
    await _identity(tenant_db).ensure_platform_admin(
        f"root-{secrets.token_hex(3)}@example.com", "Root-pass-123"
    )
    await _identity(tenant_db).request_reset(owner.admin_email)
    async with tenant_db.tenant_transaction(owner.tenant.id) as conn:
        for table in ("admin_users", "api_keys", "password_resets", "outbox", "tenants"):
            column = "id" if table == "tenants" else "tenant_id"
            seen = {str(v) for v in (await conn.execute(text(f"SELECT {column} FROM {table}"))).scalars()}
            assert seen == {owner.tenant.id}, table
        assert (await conn.execute(text("SELECT count(*) FROM signin_failures"))).scalar_one() == 0
    assert other.tenant.id != owner.tenant.id


async def test_every_table_of_the_tenant_schema_has_forced_row_level_security(tenant_db: Database) -> None:
    async with tenant_db.platform_transaction() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,"
                    " (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies"
                    " FROM pg_class c WHERE c.relnamespace = 'tenant'::regnamespace AND c.relkind = 'r'"
                    " AND c.relname <> 'schema_migrations'"
                )
            )
        ).all()
    assert {r.relname for r in rows} >= {"tenants", "api_keys", "admin_users", "tenant_secrets", "outbox"}
    for row in rows:
        assert row.relrowsecurity and row.relforcerowsecurity and row.policies >= 1, row.relname


async def test_the_bootstrap_admin_is_ensured_once_and_follows_the_configured_password(
    tenant_db: Database,
) -> None:
    identity = _identity(tenant_db)
    address = f"Root-{secrets.token_hex(3)}@Example.com"
    first_id, created = await identity.ensure_platform_admin(address, "Root-pass-123")
    again_id, created_again = await identity.ensure_platform_admin(address, "Root-pass-123")
    assert (created, created_again, again_id) == (True, False, first_id)
    await identity.ensure_platform_admin(address, "Changed-pass-456")
    with pytest.raises(Unauthenticated):
        await identity.sign_in(address, "Root-pass-123", _ip())
    signed = await identity.sign_in(address, "Changed-pass-456", _ip())
    assert (signed.role, signed.tenant_id, signed.email) == (Role.PLATFORM_ADMIN, "", address.lower())
