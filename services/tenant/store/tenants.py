"""Query verbs on tenants, their API keys and their sealed secrets."""

# Queries interpolate only this module's constant column lists and lock clauses; every value is a
# bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import json
from datetime import datetime

from mais_runtime.db import IntegrityError, RowMapping
from mais_runtime.errors import Conflict
from mais_runtime.payment_policy import PaymentPolicy
from services.tenant.domain import BookingPolicy, Branding, ConnectState, Tenant
from services.tenant.keyring import Sealed
from services.tenant.store.rows import Queries, is_unique_violation

_TENANT_COLUMNS = (
    "id, slug, name, active, commission_bps, stripe_account_id, connect_state, primary_color,"
    " secondary_color, logo_url, font, allowed_origins, timezone, min_notice_days, max_advance_days,"
    " hold_minutes, reminder_days, couple_cancel_days, max_live_holds_per_email,"
    " max_live_holds_per_address, currency, created_at, version, contact_email, payment_policy"
)
# A key works while its pair is live or in its grace period.
_KEY_WORKS = "(expires_at IS NULL OR expires_at > now())"


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
            min_notice_days=row["min_notice_days"],
            max_advance_days=row["max_advance_days"],
            hold_minutes=row["hold_minutes"],
            reminder_days=row["reminder_days"],
            couple_cancel_days=row["couple_cancel_days"],
            max_live_holds_per_email=row["max_live_holds_per_email"],
            max_live_holds_per_address=row["max_live_holds_per_address"],
        ),
        currency=row["currency"],
        created_at=row["created_at"],
        version=row["version"],
        contact_email=row["contact_email"],
        payment_policy=_payment_policy(row["payment_policy"]),
    )


def _payment_policy(raw: object) -> PaymentPolicy:
    # asyncpg hands jsonb over as text; NULL: the tenant never set terms (pay in full).
    return PaymentPolicy.from_stored(json.loads(raw) if isinstance(raw, str | bytes) else raw)


class TenantQueries(Queries):
    """Tenants, keys and secrets."""

    # --- tenants ---------------------------------------------------------------------------

    async def insert_tenant(self, tenant: Tenant) -> Tenant:
        """Adds a tenant; a taken slug is Conflict(SLUG_TAKEN)."""
        try:
            async with self.conn.begin_nested():
                row = await self._first(
                    "INSERT INTO tenants (id, slug, name, commission_bps, timezone, currency, contact_email)"
                    " VALUES (:id, :slug, :name, :bps, :tz, :currency, :contact)"
                    f" RETURNING {_TENANT_COLUMNS}",
                    id=tenant.id,
                    slug=tenant.slug,
                    name=tenant.name,
                    bps=tenant.commission_bps,
                    tz=tenant.timezone,
                    currency=tenant.currency,
                    contact=tenant.contact_email,
                )
        except IntegrityError as error:
            if is_unique_violation(error, "tenants_slug_key"):
                raise Conflict(f"slug {tenant.slug} is taken", reason="SLUG_TAKEN") from None
            raise
        assert row is not None
        return _tenant(row)

    async def tenant_by_id(self, tenant_id: str, *, for_update: bool = False) -> Tenant | None:
        """The tenant (visible under the transaction's scope), optionally locked for a change."""
        lock = " FOR UPDATE" if for_update else ""
        row = await self._first(f"SELECT {_TENANT_COLUMNS} FROM tenants WHERE id = :id{lock}", id=tenant_id)
        return _tenant(row) if row else None

    async def save_tenant(self, tenant: Tenant) -> Tenant:
        """Writes every changeable field and bumps the version (the caller holds the row lock)."""
        row = await self._first(
            "UPDATE tenants SET name = :name, active = :active, commission_bps = :bps,"
            " primary_color = :primary, secondary_color = :secondary, logo_url = :logo, font = :font,"
            " allowed_origins = :origins, timezone = :tz, min_notice_days = :min_notice,"
            " max_advance_days = :max_advance, hold_minutes = :hold, reminder_days = :reminder,"
            " couple_cancel_days = :cancel, max_live_holds_per_email = :per_email,"
            " max_live_holds_per_address = :per_address, currency = :currency,"
            " contact_email = :contact, payment_policy = CAST(:payment_policy AS jsonb), updated_at = now(),"
            " deactivated_at = CASE WHEN :active THEN NULL ELSE coalesce(deactivated_at, now()) END,"
            f" version = version + 1 WHERE id = :id RETURNING {_TENANT_COLUMNS}",
            id=tenant.id,
            name=tenant.name,
            active=tenant.active,
            bps=tenant.commission_bps,
            primary=tenant.branding.primary_color,
            secondary=tenant.branding.secondary_color,
            logo=tenant.branding.logo_url,
            font=tenant.branding.font,
            origins=list(tenant.allowed_origins),
            tz=tenant.timezone,
            min_notice=tenant.policy.min_notice_days,
            max_advance=tenant.policy.max_advance_days,
            hold=tenant.policy.hold_minutes,
            reminder=tenant.policy.reminder_days,
            cancel=tenant.policy.couple_cancel_days,
            per_email=tenant.policy.max_live_holds_per_email,
            per_address=tenant.policy.max_live_holds_per_address,
            currency=tenant.currency,
            contact=tenant.contact_email,
            payment_policy=json.dumps(tenant.payment_policy.to_json()),
        )
        assert row is not None
        return _tenant(row)

    async def tenants_after(self, after_slug: str, limit: int, pattern: str | None = None) -> list[Tenant]:
        """Tenants ordered by slug, after `after_slug`, at most `limit` (platform scope); with an
        ILIKE `pattern` (escaped with a backslash), only those whose name, slug or a live admin's
        email matches it."""
        search = (
            " AND (name ILIKE :pattern OR slug ILIKE :pattern OR EXISTS (SELECT 1 FROM admin_users a"
            " WHERE a.tenant_id = tenants.id AND a.removed_at IS NULL AND a.email ILIKE :pattern))"
            if pattern is not None
            else ""
        )
        rows = await self._all(
            f"SELECT {_TENANT_COLUMNS} FROM tenants WHERE slug > :after{search} ORDER BY slug LIMIT :limit",
            after=after_slug,
            limit=limit,
            pattern=pattern,
        )
        return [_tenant(row) for row in rows]

    async def count_tenants(self) -> tuple[int, int, int]:
        """(all, active, onboarded on Connect) tenants (platform scope)."""
        row = await self._first(
            "SELECT count(*) AS total, count(*) FILTER (WHERE active) AS active,"
            " count(*) FILTER (WHERE connect_state = 'onboarded') AS onboarded FROM tenants"
        )
        assert row is not None
        return int(row["total"]), int(row["active"]), int(row["onboarded"])

    async def set_stripe_account(
        self, tenant_id: str, account_id: str | None, state: ConnectState
    ) -> Tenant | None:
        """Records the Connect account; one account belongs to one tenant."""
        try:
            async with self.conn.begin_nested():
                row = await self._first(
                    "UPDATE tenants SET stripe_account_id = :account, connect_state = :state,"
                    " updated_at = now(), version = version + 1"
                    f" WHERE id = :id RETURNING {_TENANT_COLUMNS}",
                    id=tenant_id,
                    account=account_id,
                    state=state.value,
                )
        except IntegrityError as error:
            if is_unique_violation(error, "stripe_account_id"):
                raise Conflict("this Stripe account belongs to another tenant") from None
            raise
        return _tenant(row) if row else None

    async def tenant_by_slug(self, slug: str) -> Tenant | None:
        """The tenant with this slug (platform scope)."""
        row = await self._first(f"SELECT {_TENANT_COLUMNS} FROM tenants WHERE slug = :slug", slug=slug)
        return _tenant(row) if row else None

    async def tenant_by_stripe_account(self, account_id: str) -> Tenant | None:
        """The tenant of a Connect account (platform scope)."""
        row = await self._first(
            f"SELECT {_TENANT_COLUMNS} FROM tenants WHERE stripe_account_id = :a", a=account_id
        )
        return _tenant(row) if row else None

    async def origin_of_active_tenant(self, origin: str) -> bool:
        """Whether an active tenant lists `origin` among its widget origins (platform scope)."""
        row = await self._first(
            "SELECT EXISTS (SELECT 1 FROM tenants WHERE active AND allowed_origins @> ARRAY[:o]::text[])"
            " AS found",
            o=origin,
        )
        return bool(row and row["found"])

    # --- keys ------------------------------------------------------------------------------

    async def insert_key_pair(self, tenant_id: str, public_key: str, secret_hash: str) -> None:
        """Adds the tenant's live pair (the previous one must already be retired)."""
        await self._exec(
            "INSERT INTO api_keys (tenant_id, public_key, secret_key_hash)"
            " VALUES (:tenant, :public, :secret)",
            tenant=tenant_id,
            public=public_key,
            secret=secret_hash,
        )

    async def retire_live_pair(self, tenant_id: str, grace_seconds: int) -> datetime | None:
        """Gives the live pair `grace_seconds` more life and returns when it stops (None when there
        was none). Pairs retired by earlier rotations keep the expiry they were promised, except with
        a grace of 0: that is the answer to a leaked key, so every pair still in grace stops too."""
        if grace_seconds == 0:
            await self._exec(
                "UPDATE api_keys SET expires_at = now() WHERE tenant_id = :tenant AND expires_at > now()",
                tenant=tenant_id,
            )
        row = await self._first(
            "UPDATE api_keys SET expires_at = now() + make_interval(secs => :grace)"
            " WHERE tenant_id = :tenant AND expires_at IS NULL RETURNING expires_at",
            tenant=tenant_id,
            grace=grace_seconds,
        )
        return row["expires_at"] if row else None

    async def tenant_id_by_public_key(self, public_key: str) -> str | None:
        """The tenant whose live or still-in-grace public key this is (platform scope)."""
        row = await self._first(
            f"SELECT tenant_id FROM api_keys WHERE public_key = :key AND {_KEY_WORKS}", key=public_key
        )
        return str(row["tenant_id"]) if row else None

    async def newest_working_public_key(self, tenant_id: str) -> str | None:
        """The tenant's live public key, or else the newest one still in its grace period."""
        row = await self._first(
            f"SELECT public_key FROM api_keys WHERE tenant_id = :tenant AND {_KEY_WORKS}"
            " ORDER BY expires_at IS NULL DESC, id DESC LIMIT 1",
            tenant=tenant_id,
        )
        return str(row["public_key"]) if row else None

    async def tenant_id_by_secret_hash(self, secret_hash: str) -> str | None:
        """The tenant whose live or still-in-grace secret key hashes to this (platform scope)."""
        row = await self._first(
            f"SELECT tenant_id FROM api_keys WHERE secret_key_hash = :h AND {_KEY_WORKS}", h=secret_hash
        )
        return str(row["tenant_id"]) if row else None

    # --- secrets ---------------------------------------------------------------------------

    async def put_secret(self, tenant_id: str, name: str, sealed: Sealed) -> datetime:
        """Stores or replaces a sealed secret; returns when."""
        row = await self._first(
            "INSERT INTO tenant_secrets (tenant_id, name, key_id, nonce, ciphertext)"
            " VALUES (:tenant, :name, :key_id, :nonce, :ct)"
            " ON CONFLICT (tenant_id, name) DO UPDATE SET key_id = excluded.key_id,"
            " nonce = excluded.nonce, ciphertext = excluded.ciphertext, updated_at = now()"
            " RETURNING updated_at",
            tenant=tenant_id,
            name=name,
            key_id=sealed.key_id,
            nonce=sealed.nonce,
            ct=sealed.ciphertext,
        )
        assert row is not None
        return row["updated_at"]  # type: ignore[no-any-return]

    async def secret(
        self, tenant_id: str, name: str, *, for_update: bool = False
    ) -> tuple[Sealed, datetime] | None:
        """The sealed secret and when it was last written, optionally locked to re-seal it."""
        lock = " FOR UPDATE" if for_update else ""
        row = await self._first(
            "SELECT key_id, nonce, ciphertext, updated_at FROM tenant_secrets"
            f" WHERE tenant_id = :tenant AND name = :name{lock}",
            tenant=tenant_id,
            name=name,
        )
        if row is None:
            return None
        return Sealed(row["key_id"], bytes(row["nonce"]), bytes(row["ciphertext"])), row["updated_at"]

    async def reseal_secret(self, tenant_id: str, name: str, sealed: Sealed) -> None:
        """Replaces the sealed bytes under a newer key, keeping updated_at (the value did not change)."""
        await self._exec(
            "UPDATE tenant_secrets SET key_id = :key_id, nonce = :nonce, ciphertext = :ct"
            " WHERE tenant_id = :tenant AND name = :name",
            tenant=tenant_id,
            name=name,
            key_id=sealed.key_id,
            nonce=sealed.nonce,
            ct=sealed.ciphertext,
        )
