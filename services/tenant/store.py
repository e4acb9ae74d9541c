"""The tenant service's tables and queries (SQLAlchemy Core text()). Each function runs inside a
transaction its caller opened with `Database.tenant_transaction` or `platform_transaction`."""

# Queries interpolate only this module's constant column lists and lock clauses; every value is a
# bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from mais_runtime.db import sqlstate
from mais_runtime.errors import Conflict
from services.tenant.domain import BookingPolicy, Branding, ConnectState, Role, Tenant
from services.tenant.keyring import Sealed

_TENANT_COLUMNS = (
    "id, slug, name, active, commission_bps, stripe_account_id, connect_state, primary_color,"
    " secondary_color, logo_url, font, allowed_origins, timezone, min_notice_days, max_advance_days,"
    " hold_minutes, reminder_days, couple_cancel_days, currency, created_at, version"
)


def _tenant(row: RowMapping) -> Tenant:
    return Tenant(
        id=str(row["id"]),
        slug=row["slug"],
        name=row["name"],
        active=row["active"],
        commission_bps=row["commission_bps"],
        stripe_account_id=row["stripe_account_id"] or "",
        connect_state=ConnectState(row["connect_state"]),
        branding=Branding(row["primary_color"], row["secondary_color"], row["logo_url"], row["font"]),
        allowed_origins=tuple(row["allowed_origins"] or ()),
        timezone=row["timezone"],
        policy=BookingPolicy(
            row["min_notice_days"],
            row["max_advance_days"],
            row["hold_minutes"],
            row["reminder_days"],
            row["couple_cancel_days"],
        ),
        currency=row["currency"],
        created_at=row["created_at"],
        version=row["version"],
    )


def _is_unique_violation(error: IntegrityError, constraint: str) -> bool:
    return sqlstate(error) == "23505" and constraint in str(error.orig)


# --- tenants ---------------------------------------------------------------------------------


async def insert_tenant(conn: AsyncConnection, tenant: Tenant) -> Tenant:
    """Adds a tenant; a taken slug is Conflict(SLUG_TAKEN)."""
    try:
        async with conn.begin_nested():
            row = (
                (
                    await conn.execute(
                        text(
                            "INSERT INTO tenants (id, slug, name, commission_bps, timezone, currency)"
                            " VALUES (:id, :slug, :name, :bps, :tz, :currency)"
                            f" RETURNING {_TENANT_COLUMNS}"
                        ),
                        {
                            "id": tenant.id,
                            "slug": tenant.slug,
                            "name": tenant.name,
                            "bps": tenant.commission_bps,
                            "tz": tenant.timezone,
                            "currency": tenant.currency,
                        },
                    )
                )
                .mappings()
                .one()
            )
    except IntegrityError as error:
        if _is_unique_violation(error, "tenants_slug_key"):
            raise Conflict(f"slug {tenant.slug} is taken", reason="SLUG_TAKEN") from None
        raise
    return _tenant(row)


async def tenant_by_id(conn: AsyncConnection, tenant_id: str, *, for_update: bool = False) -> Tenant | None:
    """The tenant (visible under the transaction's scope), optionally locked for a change."""
    lock = " FOR UPDATE" if for_update else ""
    row = (
        (
            await conn.execute(
                text(f"SELECT {_TENANT_COLUMNS} FROM tenants WHERE id = :id{lock}"), {"id": tenant_id}
            )
        )
        .mappings()
        .first()
    )
    return _tenant(row) if row else None


async def tenant_by_slug(conn: AsyncConnection, slug: str) -> Tenant | None:
    """The tenant with this slug (platform scope)."""
    row = (
        (
            await conn.execute(
                text(f"SELECT {_TENANT_COLUMNS} FROM tenants WHERE slug = :slug"), {"slug": slug}
            )
        )
        .mappings()
        .first()
    )
    return _tenant(row) if row else None


async def save_tenant(conn: AsyncConnection, tenant: Tenant) -> Tenant:
    """Writes every changeable field and bumps the version (the caller holds the row lock)."""
    row = (
        (
            await conn.execute(
                text(
                    "UPDATE tenants SET name = :name, active = :active, commission_bps = :bps,"
                    " primary_color = :primary, secondary_color = :secondary, logo_url = :logo, font = :font,"
                    " allowed_origins = :origins, timezone = :tz, min_notice_days = :min_notice,"
                    " max_advance_days = :max_advance, hold_minutes = :hold, reminder_days = :reminder,"
                    " couple_cancel_days = :cancel, currency = :currency, updated_at = now(),"
                    " deactivated_at = CASE WHEN :active THEN NULL ELSE coalesce(deactivated_at, now()) END,"
                    f" version = version + 1 WHERE id = :id RETURNING {_TENANT_COLUMNS}"
                ),
                {
                    "id": tenant.id,
                    "name": tenant.name,
                    "active": tenant.active,
                    "bps": tenant.commission_bps,
                    "primary": tenant.branding.primary_color,
                    "secondary": tenant.branding.secondary_color,
                    "logo": tenant.branding.logo_url,
                    "font": tenant.branding.font,
                    "origins": list(tenant.allowed_origins),
                    "tz": tenant.timezone,
                    "min_notice": tenant.policy.min_notice_days,
                    "max_advance": tenant.policy.max_advance_days,
                    "hold": tenant.policy.hold_minutes,
                    "reminder": tenant.policy.reminder_days,
                    "cancel": tenant.policy.couple_cancel_days,
                    "currency": tenant.currency,
                },
            )
        )
        .mappings()
        .one()
    )
    return _tenant(row)


async def list_tenants(conn: AsyncConnection, after_slug: str, limit: int) -> list[Tenant]:
    """Tenants ordered by slug, after `after_slug`, at most `limit` (platform scope)."""
    rows = (
        await conn.execute(
            text(f"SELECT {_TENANT_COLUMNS} FROM tenants WHERE slug > :after ORDER BY slug LIMIT :limit"),
            {"after": after_slug, "limit": limit},
        )
    ).mappings()
    return [_tenant(row) for row in rows]


async def count_tenants(conn: AsyncConnection) -> tuple[int, int, int]:
    """(all, active, onboarded on Connect) tenants (platform scope)."""
    row = (
        await conn.execute(
            text(
                "SELECT count(*) AS total, count(*) FILTER (WHERE active) AS active,"
                " count(*) FILTER (WHERE connect_state = 'onboarded') AS onboarded FROM tenants"
            )
        )
    ).one()
    return int(row.total), int(row.active), int(row.onboarded)


async def set_stripe_account(
    conn: AsyncConnection, tenant_id: str, account_id: str | None, state: ConnectState
) -> Tenant | None:
    """Records the Connect account; one account belongs to one tenant."""
    try:
        async with conn.begin_nested():
            row = (
                (
                    await conn.execute(
                        text(
                            "UPDATE tenants SET stripe_account_id = :account, connect_state = :state,"
                            " updated_at = now(), version = version + 1"
                            f" WHERE id = :id RETURNING {_TENANT_COLUMNS}"
                        ),
                        {"id": tenant_id, "account": account_id, "state": state.value},
                    )
                )
                .mappings()
                .first()
            )
    except IntegrityError as error:
        if _is_unique_violation(error, "stripe_account_id"):
            raise Conflict("this Stripe account belongs to another tenant") from None
        raise
    return _tenant(row) if row else None


async def tenant_by_stripe_account(conn: AsyncConnection, account_id: str) -> Tenant | None:
    """The tenant of a Connect account (platform scope)."""
    row = (
        (
            await conn.execute(
                text(f"SELECT {_TENANT_COLUMNS} FROM tenants WHERE stripe_account_id = :a"), {"a": account_id}
            )
        )
        .mappings()
        .first()
    )
    return _tenant(row) if row else None


async def origin_of_active_tenant(conn: AsyncConnection, origin: str) -> bool:
    """Whether an active tenant lists `origin` among its widget origins (platform scope)."""
    found = await conn.execute(
        text("SELECT EXISTS (SELECT 1 FROM tenants WHERE active AND allowed_origins @> ARRAY[:o]::text[])"),
        {"o": origin},
    )
    return bool(found.scalar())


# --- keys ------------------------------------------------------------------------------------


async def insert_key_pair(conn: AsyncConnection, tenant_id: str, public_key: str, secret_hash: str) -> None:
    """Adds the tenant's live pair (the previous one must already be retired)."""
    await conn.execute(
        text(
            "INSERT INTO api_keys (tenant_id, public_key, secret_key_hash) VALUES (:tenant, :public, :secret)"
        ),
        {"tenant": tenant_id, "public": public_key, "secret": secret_hash},
    )


async def retire_live_keys(conn: AsyncConnection, tenant_id: str, grace_seconds: int) -> datetime | None:
    """Gives the live pair `grace_seconds` more life; keys already retiring expire no later than
    before. Returns when the previous live key stops working (None when there was none)."""
    row = (
        await conn.execute(
            text(
                "UPDATE api_keys SET expires_at = now() + make_interval(secs => :grace)"
                " WHERE tenant_id = :tenant AND expires_at IS NULL RETURNING expires_at"
            ),
            {"tenant": tenant_id, "grace": grace_seconds},
        )
    ).first()
    if grace_seconds == 0:
        # Revoking now means every older key goes too.
        await conn.execute(
            text("UPDATE api_keys SET expires_at = now() WHERE tenant_id = :tenant AND expires_at > now()"),
            {"tenant": tenant_id},
        )
    return row[0] if row else None


async def tenant_id_by_public_key(conn: AsyncConnection, public_key: str) -> str | None:
    """The tenant whose live or still-in-grace public key this is (platform scope)."""
    row = (
        await conn.execute(
            text(
                "SELECT tenant_id FROM api_keys WHERE public_key = :key"
                " AND (expires_at IS NULL OR expires_at > now())"
            ),
            {"key": public_key},
        )
    ).first()
    return str(row[0]) if row else None


async def tenant_id_by_secret_hash(conn: AsyncConnection, secret_hash: str) -> str | None:
    """The tenant whose live secret key hashes to this (platform scope)."""
    row = (
        await conn.execute(
            text("SELECT tenant_id FROM api_keys WHERE secret_key_hash = :h AND expires_at IS NULL"),
            {"h": secret_hash},
        )
    ).first()
    return str(row[0]) if row else None


# --- secrets ---------------------------------------------------------------------------------


async def put_secret(conn: AsyncConnection, tenant_id: str, name: str, sealed: Sealed) -> datetime:
    """Stores or replaces a sealed secret; returns when."""
    row = (
        await conn.execute(
            text(
                "INSERT INTO tenant_secrets (tenant_id, name, key_id, nonce, ciphertext)"
                " VALUES (:tenant, :name, :key_id, :nonce, :ct)"
                " ON CONFLICT (tenant_id, name) DO UPDATE SET key_id = excluded.key_id,"
                " nonce = excluded.nonce, ciphertext = excluded.ciphertext, updated_at = now()"
                " RETURNING updated_at"
            ),
            {
                "tenant": tenant_id,
                "name": name,
                "key_id": sealed.key_id,
                "nonce": sealed.nonce,
                "ct": sealed.ciphertext,
            },
        )
    ).one()
    return row[0]  # type: ignore[no-any-return]


async def get_secret(
    conn: AsyncConnection, tenant_id: str, name: str, *, for_update: bool = False
) -> tuple[Sealed, datetime] | None:
    """The sealed secret and when it was last written, optionally locked to re-seal it."""
    lock = " FOR UPDATE" if for_update else ""
    row = (
        (
            await conn.execute(
                text(
                    "SELECT key_id, nonce, ciphertext, updated_at FROM tenant_secrets"
                    f" WHERE tenant_id = :tenant AND name = :name{lock}"
                ),
                {"tenant": tenant_id, "name": name},
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return Sealed(row["key_id"], bytes(row["nonce"]), bytes(row["ciphertext"])), row["updated_at"]


async def reseal_secret(conn: AsyncConnection, tenant_id: str, name: str, sealed: Sealed) -> None:
    """Replaces the sealed bytes under a newer key, keeping updated_at (the value did not change)."""
    await conn.execute(
        text(
            "UPDATE tenant_secrets SET key_id = :key_id, nonce = :nonce, ciphertext = :ct"
            " WHERE tenant_id = :tenant AND name = :name"
        ),
        {
            "tenant": tenant_id,
            "name": name,
            "key_id": sealed.key_id,
            "nonce": sealed.nonce,
            "ct": sealed.ciphertext,
        },
    )


# --- admin users -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AdminUser:
    """An admin user as stored."""

    id: str
    tenant_id: str
    email: str
    password_hash: str
    role: Role
    token_version: int
    removed: bool


def _user(row: RowMapping) -> AdminUser:
    return AdminUser(
        id=str(row["id"]),
        tenant_id=str(row["tenant_id"]) if row["tenant_id"] else "",
        email=row["email"],
        password_hash=row["password_hash"],
        role=Role(row["role"]),
        token_version=row["token_version"],
        removed=row["removed_at"] is not None,
    )


_USER_COLUMNS = "id, tenant_id, email, password_hash, role, token_version, removed_at"


async def insert_admin(
    conn: AsyncConnection, tenant_id: str | None, email: str, password_hash: str
) -> AdminUser:
    """Adds an admin user (tenant admin, or platform admin when `tenant_id` is None)."""
    role = Role.TENANT_ADMIN if tenant_id else Role.PLATFORM_ADMIN
    try:
        async with conn.begin_nested():
            row = (
                (
                    await conn.execute(
                        text(
                            "INSERT INTO admin_users (id, tenant_id, email, password_hash, role)"
                            f" VALUES (:id, :tenant, :email, :hash, :role) RETURNING {_USER_COLUMNS}"
                        ),
                        {
                            "id": str(uuid.uuid4()),
                            "tenant": tenant_id,
                            "email": email,
                            "hash": password_hash,
                            "role": role.value,
                        },
                    )
                )
                .mappings()
                .one()
            )
    except IntegrityError as error:
        if _is_unique_violation(error, "admin_users_email_key"):
            raise Conflict("an admin with this email already exists", reason="EMAIL_TAKEN") from None
        raise
    return _user(row)


async def admin_by_email(conn: AsyncConnection, email: str, *, for_update: bool = False) -> AdminUser | None:
    """The admin user with this normalised address (platform scope)."""
    lock = " FOR UPDATE" if for_update else ""
    row = (
        (
            await conn.execute(
                text(f"SELECT {_USER_COLUMNS} FROM admin_users WHERE email = :e{lock}"), {"e": email}
            )
        )
        .mappings()
        .first()
    )
    return _user(row) if row else None


async def admin_by_id(conn: AsyncConnection, user_id: str) -> AdminUser | None:
    """The admin user (visible under the transaction's scope)."""
    row = (
        (await conn.execute(text(f"SELECT {_USER_COLUMNS} FROM admin_users WHERE id = :id"), {"id": user_id}))
        .mappings()
        .first()
    )
    return _user(row) if row else None


async def set_password(
    conn: AsyncConnection, user_id: str, password_hash: str, *, end_sessions: bool
) -> None:
    """Stores a new hash; `end_sessions` also ends every token issued before."""
    await conn.execute(
        text(
            "UPDATE admin_users SET password_hash = :hash, password_changed_at = now(),"
            " token_version = token_version + CASE WHEN :end THEN 1 ELSE 0 END WHERE id = :id"
        ),
        {"id": user_id, "hash": password_hash, "end": end_sessions},
    )


async def remove_admin(conn: AsyncConnection, user_id: str) -> bool:
    """Marks the user removed (nothing is deleted) and ends their tokens."""
    result = await conn.execute(
        text(
            "UPDATE admin_users SET removed_at = now(), token_version = token_version + 1"
            " WHERE id = :id AND removed_at IS NULL"
        ),
        {"id": user_id},
    )
    return bool(result.rowcount)


# --- sign-in limiting ------------------------------------------------------------------------


async def lock_signin_subjects(conn: AsyncConnection, email_hash: str, client_ip: str) -> None:
    """Serialises attempts on one address and on one IP for the rest of the transaction, so that
    concurrent attempts cannot all slip under the limit. Always address first, then IP."""
    await conn.execute(
        text(
            "SELECT pg_advisory_xact_lock(hashtextextended(:a, 0)),"
            " pg_advisory_xact_lock(hashtextextended(:b, 0))"
        ),
        {"a": f"mais.signin.email:{email_hash}", "b": f"mais.signin.ip:{client_ip}"},
    )


async def recent_failures(
    conn: AsyncConnection, email_hash: str, client_ip: str, window_seconds: int
) -> tuple[list[datetime], list[datetime], datetime]:
    """Failure times inside the window for the address and for the IP, and the database's now()."""
    params: dict[str, Any] = {"e": email_hash, "ip": client_ip, "w": window_seconds}
    since = "failed_at > now() - make_interval(secs => :w)"
    by_email = (
        await conn.execute(
            text(f"SELECT failed_at FROM signin_failures WHERE email_hash = :e AND {since}"), params
        )
    ).scalars()
    email_times = list(by_email)
    by_ip = (
        await conn.execute(
            text(f"SELECT failed_at FROM signin_failures WHERE client_ip = :ip AND {since}"), params
        )
    ).scalars()
    ip_times = list(by_ip)
    now = (await conn.execute(text("SELECT now()"))).scalar_one()
    return email_times, ip_times, now


async def record_failure(conn: AsyncConnection, email_hash: str, client_ip: str) -> None:
    """Counts one failed sign-in."""
    await conn.execute(
        text("INSERT INTO signin_failures (email_hash, client_ip) VALUES (:e, :ip)"),
        {"e": email_hash, "ip": client_ip},
    )


async def clear_failures(conn: AsyncConnection, email_hash: str) -> None:
    """Forgets the address's failures (after a successful sign-in or a password reset)."""
    await conn.execute(text("DELETE FROM signin_failures WHERE email_hash = :e"), {"e": email_hash})


# --- password resets -------------------------------------------------------------------------


async def resets_sent_since(conn: AsyncConnection, user_id: str, seconds: int) -> int:
    """How many reset tokens the user got in the last `seconds`."""
    value = (
        await conn.execute(
            text(
                "SELECT count(*) FROM password_resets"
                " WHERE user_id = :u AND created_at > now() - make_interval(secs => :s)"
            ),
            {"u": user_id, "s": seconds},
        )
    ).scalar_one()
    return int(value)


async def insert_reset(
    conn: AsyncConnection, user_id: str, tenant_id: str | None, token_hash: str, ttl_seconds: int
) -> None:
    """Stores a reset token's hash, valid for `ttl_seconds`."""
    await conn.execute(
        text(
            "INSERT INTO password_resets (user_id, tenant_id, token_hash, expires_at)"
            " VALUES (:u, :t, :h, now() + make_interval(secs => :ttl))"
        ),
        {"u": user_id, "t": tenant_id, "h": token_hash, "ttl": ttl_seconds},
    )


async def use_reset(conn: AsyncConnection, token_hash: str) -> str | None:
    """Marks an unused, unexpired token used and returns its user; None when there is no such token.
    One UPDATE, so two concurrent uses of one token cannot both succeed."""
    row = (
        await conn.execute(
            text(
                "UPDATE password_resets SET used_at = now()"
                " WHERE token_hash = :h AND used_at IS NULL AND expires_at > now() RETURNING user_id"
            ),
            {"h": token_hash},
        )
    ).first()
    return str(row[0]) if row else None


async def void_resets(conn: AsyncConnection, user_id: str) -> None:
    """Ends every other outstanding reset token of the user."""
    await conn.execute(
        text("UPDATE password_resets SET used_at = now() WHERE user_id = :u AND used_at IS NULL"),
        {"u": user_id},
    )


# --- housekeeping ----------------------------------------------------------------------------


async def sweep(conn: AsyncConnection, failure_window_seconds: int) -> None:
    """Drops failures older than the window and old reset rows, and blanks the bodies of sent reset
    mails, so a reset link does not outlive its delivery in the database (platform scope)."""
    await conn.execute(
        text("DELETE FROM signin_failures WHERE failed_at < now() - make_interval(secs => :w)"),
        {"w": failure_window_seconds},
    )
    await conn.execute(text("DELETE FROM password_resets WHERE expires_at < now() - interval '7 days'"))
    await conn.execute(
        text(
            "UPDATE outbox SET text_body = '[sent]', html_body = '[sent]'"
            " WHERE tag = 'password-reset' AND status <> 'PENDING' AND text_body <> '[sent]'"
        )
    )
