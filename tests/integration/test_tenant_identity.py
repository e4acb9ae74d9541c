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

from mais_runtime.db import Database, text
from mais_runtime.errors import (
    Conflict,
    DomainError,
    NotFound,
    PreconditionFailed,
    RateLimited,
    Unauthenticated,
    ValidationError,
)
from services.tenant.credentials import Passwords, Tokens
from services.tenant.directory import CreatedTenant, InvalidTenantKey, TenantDirectory
from services.tenant.domain import BookingPolicy, Role, SignInLimits, Tenant
from services.tenant.identity import Credential, Identity, ResetSettings
from services.tenant.keyring import KeyRing
from services.tenant.store import TenantStore
from services.tenant.team import AdminTeam, InviteSettings

PASSWORDS = Passwords(time_cost=1, memory_kib=8192, parallelism=1)
TOKENS = Tokens("integration-signing-key-" + "z" * 48, timedelta(hours=1))
KEY_1 = "k1:" + base64.b64encode(os.urandom(32)).decode()
KEY_2 = "k2:" + base64.b64encode(os.urandom(32)).decode()


def _directory(db: Database, ring: str = KEY_1) -> TenantDirectory:
    return TenantDirectory(
        TenantStore(db), PASSWORDS, KeyRing.parse(ring), default_grace_seconds=3600, max_grace_seconds=86400
    )


def _identity(db: Database) -> Identity:
    return Identity(
        TenantStore(db), PASSWORDS, TOKENS, SignInLimits(), ResetSettings(3600, 3, "http://127.0.0.1:8080")
    )


def _team(db: Database) -> AdminTeam:
    return AdminTeam(TenantStore(db), InviteSettings(7 * 86400, "http://127.0.0.1:8080"))


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


async def test_ten_simultaneous_wrong_passwords_from_one_address_let_exactly_five_through_to_a_check(
    tenant_db: Database,
) -> None:
    created = await _tenant(tenant_db)
    identity = _identity(tenant_db)
    ip = _ip()
    results = await asyncio.gather(
        *(identity.sign_in(created.admin_email, "Wrong-pass-123", ip) for _ in range(10)),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["RateLimited"] * 5 + ["Unauthenticated"] * 5
    limited = next(r for r in results if isinstance(r, RateLimited))
    assert 1 <= int(limited.metadata["retry_after_seconds"]) <= 900


async def test_fifteen_simultaneous_wrong_passwords_from_everywhere_let_exactly_ten_through(
    tenant_db: Database,
) -> None:
    created = await _tenant(tenant_db)
    identity = _identity(tenant_db)
    results = await asyncio.gather(
        *(identity.sign_in(created.admin_email, "Wrong-pass-123", _ip()) for _ in range(15)),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["RateLimited"] * 5 + ["Unauthenticated"] * 10


async def test_once_a_pair_is_locked_even_the_right_password_waits_there_but_not_elsewhere(
    tenant_db: Database,
) -> None:
    created = await _tenant(tenant_db, password="Right-pass-123")
    identity = _identity(tenant_db)
    ip = _ip()
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            await identity.sign_in(created.admin_email, "Wrong-pass-123", ip)
    with pytest.raises(RateLimited):
        await identity.sign_in(created.admin_email, "Right-pass-123", ip)
    assert (await identity.sign_in(created.admin_email, "Right-pass-123", _ip())).role is Role.TENANT_ADMIN


async def test_failures_from_one_address_against_other_accounts_do_not_lock_an_admin_out_of_it(
    tenant_db: Database,
) -> None:
    identity = _identity(tenant_db)
    ip = _ip()
    for n in range(5):
        with pytest.raises(Unauthenticated):
            await identity.sign_in(f"nobody-{n}-{secrets.token_hex(3)}@example.com", "Wrong-pass-123", ip)
    created = await _tenant(tenant_db, password="Right-pass-123")
    assert (await identity.sign_in(created.admin_email, "Right-pass-123", ip)).role is Role.TENANT_ADMIN


async def test_an_account_locked_from_everywhere_still_lets_its_owner_in_from_a_known_address(
    tenant_db: Database,
) -> None:
    created = await _tenant(tenant_db, password="Right-pass-123")
    identity = _identity(tenant_db)
    home = _ip()
    await identity.sign_in(created.admin_email, "Right-pass-123", home)
    for _ in range(10):
        with pytest.raises(Unauthenticated):
            await identity.sign_in(created.admin_email, "Wrong-pass-123", _ip())
    with pytest.raises(RateLimited):
        await identity.sign_in(created.admin_email, "Right-pass-123", _ip())
    assert (await identity.sign_in(created.admin_email, "Right-pass-123", home)).user_id
    # A reset lifts the lock for every address.
    await identity.request_reset(created.admin_email)
    await identity.reset_password(await _reset_token(tenant_db, created.admin_email), "Brand-new-pass-1")
    assert (await identity.sign_in(created.admin_email, "Brand-new-pass-1", _ip())).user_id


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
    async with TenantStore(tenant_db).tenant(created.tenant.id) as tx:
        assert await tx.remove_admin(signed.user_id)
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


async def test_a_second_rotation_keeps_the_first_rotations_grace_for_the_key_before_it(
    tenant_db: Database,
) -> None:
    created = await _tenant(tenant_db)
    directory = _directory(tenant_db)
    first = await directory.rotate_keys(created.tenant.id, 3600)
    for key in (created.keys.public_key, first.keys.public_key):
        assert (await directory.resolve_public_key(key)).id == created.tenant.id
    second = await directory.rotate_keys(created.tenant.id, 60)
    # The key rotated out first keeps its promised hour, not the second rotation's minute.
    async with tenant_db.tenant_transaction(created.tenant.id) as conn:
        left = (
            await conn.execute(
                text("SELECT expires_at - now() FROM api_keys WHERE public_key = :key"),
                {"key": created.keys.public_key},
            )
        ).scalar_one()
    assert left > timedelta(minutes=59)
    for key in (created.keys.public_key, first.keys.public_key, second.keys.public_key):
        assert (await directory.resolve_public_key(key)).id == created.tenant.id


async def test_a_rotation_without_grace_stops_every_key_still_in_grace(tenant_db: Database) -> None:
    created = await _tenant(tenant_db)
    directory = _directory(tenant_db)
    first = await directory.rotate_keys(created.tenant.id, 3600)
    second = await directory.rotate_keys(created.tenant.id, 0)
    # Grace 0 answers a leak, and which key leaked is not always known: only the new pair works.
    for key in (created.keys.public_key, first.keys.public_key):
        with pytest.raises(InvalidTenantKey):
            await directory.resolve_public_key(key)
    assert (await directory.resolve_public_key(second.keys.public_key)).id == created.tenant.id


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
        found = await conn.execute(text("SELECT 1 FROM tenants WHERE slug = :s"), {"s": fresh_slug})
        assert found.first() is None


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


async def test_a_tenant_starts_with_its_first_admin_as_contact_and_default_hold_limits(
    tenant_db: Database,
) -> None:
    created = await _tenant(tenant_db)
    assert created.tenant.contact_email == created.admin_email
    assert created.tenant.policy.hold_minutes == 31
    assert created.tenant.policy.effective_max_live_holds_per_email == 2
    changed = await _directory(tenant_db).update(
        created.tenant.id,
        Tenant(id="", slug="", name="", policy=BookingPolicy(max_live_holds_per_address=12)),
        ["policy.max_live_holds_per_address"],
        Role.TENANT_ADMIN,
        0,
    )
    assert (await _directory(tenant_db).get(created.tenant.id)).policy == changed.policy
    assert changed.policy.effective_max_live_holds_per_address == 12


async def test_an_invited_admin_is_listed_inactive_until_they_set_a_password(tenant_db: Database) -> None:
    created = await _tenant(tenant_db)
    team = _team(tenant_db)
    identity = _identity(tenant_db)
    invitee = f"Planner@{created.tenant.slug}.example"
    invited = await team.invite(created.tenant.id, invitee, "", "req-1")
    again = await team.invite(created.tenant.id, invitee, "", "req-1")
    assert again.id == invited.id and not invited.active
    users, _ = await team.list_admins(created.tenant.id, 0, "")
    assert [(u.email, u.active) for u in users] == [(created.admin_email, True), (invitee.lower(), False)]
    with pytest.raises(Unauthenticated):
        await identity.sign_in(invitee, "", _ip())
    async with tenant_db.platform_transaction() as conn:
        mails = (
            await conn.execute(
                text("SELECT text_body, reply_to FROM outbox WHERE to_address = :to"), {"to": invitee.lower()}
            )
        ).all()
    assert len(mails) == 1 and mails[0].reply_to == created.admin_email
    token = re.search(r"#token=([A-Za-z0-9_-]+)", mails[0].text_body)
    assert token
    await identity.reset_password(token.group(1), "Planner-pass-123")
    assert (await identity.sign_in(invitee, "Planner-pass-123", _ip())).tenant_id == created.tenant.id
    users, _ = await team.list_admins(created.tenant.id, 0, "")
    assert all(u.active for u in users)


async def test_the_admin_list_pages_without_gaps_or_repeats(tenant_db: Database) -> None:
    created = await _tenant(tenant_db)
    team = _team(tenant_db)
    for n in range(4):
        await team.invite(created.tenant.id, f"p{n}@{created.tenant.slug}.example", "", "")
    seen: list[str] = []
    token = ""
    while True:
        page, token = await team.list_admins(created.tenant.id, 2, token)
        seen += [u.email for u in page]
        if not token:
            break
    assert len(seen) == len(set(seen)) == 5


async def test_two_last_admins_removing_each_other_at_once_leave_one(tenant_db: Database) -> None:
    created = await _tenant(tenant_db, password="Right-pass-123")
    team = _team(tenant_db)
    identity = _identity(tenant_db)
    second = await team.invite(created.tenant.id, f"second@{created.tenant.slug}.example", "", "")
    async with TenantStore(tenant_db).platform() as tx:
        await tx.set_password(second.id, await PASSWORDS.hash("Second-pass-123"), end_sessions=False)
    first_id = (await identity.sign_in(created.admin_email, "Right-pass-123", _ip())).user_id
    results = await asyncio.gather(
        team.remove(created.tenant.id, first_id),
        team.remove(created.tenant.id, second.id),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["NoneType", "PreconditionFailed"]
    users, _ = await team.list_admins(created.tenant.id, 0, "")
    assert len(users) == 1 and users[0].active
    with pytest.raises(PreconditionFailed):
        await team.remove(created.tenant.id, users[0].id)


async def test_a_signed_out_token_stops_and_other_sign_ins_stay(tenant_db: Database) -> None:
    created = await _tenant(tenant_db, password="Right-pass-123")
    identity = _identity(tenant_db)
    laptop = await identity.sign_in(created.admin_email, "Right-pass-123", _ip())
    phone = await identity.sign_in(created.admin_email, "Right-pass-123", _ip())
    await identity.sign_out(laptop.token)
    await identity.sign_out(laptop.token)
    with pytest.raises(Unauthenticated):
        await identity.verify(laptop.token)
    assert (await identity.verify(phone.token)).user_id == phone.user_id


async def test_a_password_change_needs_the_current_password_and_ends_other_sign_ins(
    tenant_db: Database,
) -> None:
    created = await _tenant(tenant_db, password="Right-pass-123")
    identity = _identity(tenant_db)
    laptop = await identity.sign_in(created.admin_email, "Right-pass-123", _ip())
    phone = await identity.sign_in(created.admin_email, "Right-pass-123", _ip())
    with pytest.raises(ValidationError) as caught:
        await identity.change_password(laptop.token, "Wrong-pass-123", "Changed-pass-123")
    assert caught.value.fields[0].field == "currentPassword"
    changed = await identity.change_password(laptop.token, "Right-pass-123", "Changed-pass-123")
    for old in (laptop.token, phone.token):
        with pytest.raises(Unauthenticated):
            await identity.verify(old)
    assert (await identity.verify(changed.token)).user_id == laptop.user_id
    assert (await identity.sign_in(created.admin_email, "Changed-pass-123", _ip())).user_id


async def test_the_secret_key_speaks_for_its_tenant_until_rotated_away(tenant_db: Database) -> None:
    created = await _tenant(tenant_db)
    identity = _identity(tenant_db)
    who = await identity.verify(created.keys.secret_key)
    assert (who.tenant_id, who.credential, who.user_id) == (created.tenant.id, Credential.SECRET_KEY, "")
    await _directory(tenant_db).rotate_keys(created.tenant.id, 0)
    with pytest.raises(Unauthenticated):
        await identity.verify(created.keys.secret_key)
    with pytest.raises(Unauthenticated):
        await identity.verify("sk_live_" + created.tenant.slug + "_" + "0" * 32)


async def test_re_inviting_sends_a_fresh_link_that_replaces_the_old_one_and_is_capped(
    tenant_db: Database,
) -> None:
    created = await _tenant(tenant_db)
    team = _team(tenant_db)
    invitee = f"again@{created.tenant.slug}.example"
    first = await team.invite(created.tenant.id, invitee, "", "")
    old_token = await _reset_token(tenant_db, invitee)
    second = await team.invite(created.tenant.id, invitee, "", "")
    assert second.id == first.id
    with pytest.raises(ValidationError):
        await _identity(tenant_db).reset_password(old_token, "Planner-pass-123")
    await team.invite(created.tenant.id, invitee, "", "")
    with pytest.raises(RateLimited):
        await team.invite(created.tenant.id, invitee, "", "")


async def test_a_slug_names_its_tenant_and_the_key_a_page_rendered_now_should_carry(
    tenant_db: Database,
) -> None:
    created = await _tenant(tenant_db)
    directory = _directory(tenant_db)
    tenant, key = await directory.resolve_slug(created.tenant.slug)
    assert (tenant.id, key) == (created.tenant.id, created.keys.public_key)
    # The previous key still works in its grace, but the page names the new live one.
    rotation = await directory.rotate_keys(created.tenant.id, 3600)
    assert (await directory.resolve_public_key(created.keys.public_key)).id == created.tenant.id
    assert (await directory.resolve_slug(created.tenant.slug))[1] == rotation.keys.public_key


async def test_an_unknown_or_malformed_slug_is_not_found_and_an_inactive_tenant_is_returned_as_it_is(
    tenant_db: Database,
) -> None:
    created = await _tenant(tenant_db)
    directory = _directory(tenant_db)
    for slug in (f"{created.tenant.slug}x", "", "Not A Slug", created.tenant.slug.upper()):
        with pytest.raises(NotFound):
            await directory.resolve_slug(slug)
    await directory.update(
        created.tenant.id, Tenant(id="", slug="", name="", active=False), ["active"], Role.PLATFORM_ADMIN, 0
    )
    tenant, key = await directory.resolve_slug(created.tenant.slug)
    assert (tenant.id, tenant.active, key) == (created.tenant.id, False, created.keys.public_key)
