"""Use cases on tenants, their keys and their secrets; each runs in one transaction."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime

from mais_runtime import paging
from mais_runtime.errors import DomainError, Forbidden, GrpcCode, NotFound, ValidationError
from services.tenant import domain
from services.tenant.credentials import Passwords, digest
from services.tenant.domain import ConnectState, KeyPair, Role, Tenant
from services.tenant.keyring import KeyRing, associated_data
from services.tenant.store import TenantStore


class InvalidTenantKey(DomainError):
    """No live or in-grace key is this one."""

    def __init__(self) -> None:
        super().__init__("unknown public key", "INVALID_TENANT_KEY", GrpcCode.NOT_FOUND)


def tenant_inactive() -> Forbidden:
    """The answer for anything of a deactivated tenant."""
    return Forbidden("this business is not active", reason="TENANT_INACTIVE")


@dataclass(frozen=True)
class CreatedTenant:
    """A new tenant with what is shown only once: its keys and, when generated, the admin's password."""

    tenant: Tenant
    keys: KeyPair
    admin_email: str
    generated_password: str


@dataclass(frozen=True)
class Rotation:
    """A new key pair and when the previous public key stops working."""

    keys: KeyPair
    previous_expires_at: datetime | None


@dataclass(frozen=True)
class SecretInfo:
    """A stored secret's value (when asked for) and metadata."""

    name: str
    value: str
    key_id: str
    updated_at: datetime


class TenantDirectory:
    """Who the tenants are."""

    def __init__(
        self,
        store: TenantStore,
        passwords: Passwords,
        keyring: KeyRing,
        *,
        default_grace_seconds: int,
        max_grace_seconds: int,
    ) -> None:
        self._store = store
        self._passwords = passwords
        self._keyring = keyring
        self._default_grace = default_grace_seconds
        self._max_grace = max_grace_seconds

    async def create(
        self,
        *,
        slug: str,
        name: str,
        commission_bps: int,
        commission_percent: str = "",
        admin_email: str,
        admin_password: str,
        timezone: str,
        currency: str,
    ) -> CreatedTenant:
        """A tenant, its first key pair and its first admin, all or nothing. The commission comes as
        the percent the client wrote when given, else in basis points; the contact address starts as
        the first admin's."""
        if commission_percent:
            commission_bps = domain.commission_bps_from_text(commission_percent)
        email = domain.normalise_email(admin_email, "adminEmail")
        tenant = domain.check_tenant(
            Tenant(
                id=str(uuid.uuid4()),
                slug=slug,
                name=name,
                commission_bps=commission_bps,
                timezone=timezone or "UTC",
                currency=currency or "usd",
                contact_email=email,
            )
        )
        generated = "" if admin_password else domain.generate_password()
        password = domain.check_password(admin_password or generated, email, "adminPassword")
        password_hash = await self._passwords.hash(password)
        keys = domain.new_key_pair(tenant.slug)
        async with self._store.platform() as tx:
            stored = await tx.insert_tenant(tenant)
            await tx.insert_key_pair(stored.id, keys.public_key, digest(keys.secret_key))
            await tx.insert_admin(stored.id, email, password_hash)
        return CreatedTenant(stored, keys, email, generated)

    async def get(self, tenant_id: str) -> Tenant:
        """The tenant, or NotFound."""
        async with self._store.tenant(tenant_id) as tx:
            tenant = await tx.tenant_by_id(tenant_id)
        if tenant is None:
            raise NotFound("tenant")
        return tenant

    async def list_tenants(
        self, page_size: int, page_token: str, query: str = ""
    ) -> tuple[list[Tenant], str]:
        """One page of tenants by slug (those matching `query` when given: name, slug or a live
        admin's email containing it, any case), and the token of the next page ("" at the end)."""
        size = paging.page_size(page_size)
        after = _decode_cursor(page_token)
        search = domain.check_search(query)
        pattern = domain.like_pattern(search) if search else None
        async with self._store.platform() as tx:
            tenants = await tx.tenants_after(after, size + 1, pattern)
        more = len(tenants) > size
        tenants = tenants[:size]
        return tenants, _encode_cursor(tenants[-1].slug) if more else ""

    async def count(self) -> tuple[int, int, int]:
        """(all, active, onboarded on Connect) tenants."""
        async with self._store.platform() as tx:
            return await tx.count_tenants()

    async def update(
        self,
        tenant_id: str,
        change: Tenant,
        mask: list[str],
        role: Role,
        expected_version: int,
        commission_percent: str = "",
    ) -> Tenant:
        """Applies the masked fields; refuses a stale `expected_version` with VERSION_CONFLICT."""
        async with self._store.tenant(tenant_id) as tx:
            current = await tx.tenant_by_id(tenant_id, for_update=True)
            if current is None:
                raise NotFound("tenant")
            if expected_version and expected_version != current.version:
                raise DomainError(
                    "the tenant changed since it was read; read it again",
                    "VERSION_CONFLICT",
                    GrpcCode.ABORTED,
                    metadata={"current_version": str(current.version)},
                )
            updated = domain.apply_update(current, change, mask, role, commission_percent)
            return await tx.save_tenant(updated)

    async def rotate_keys(self, tenant_id: str, grace_seconds: int | None) -> Rotation:
        """A new live pair; the previous pair keeps working for the grace period, and pairs retired
        by earlier rotations keep the grace they were promised (0 revokes only the previous pair)."""
        grace = domain.check_grace(
            self._default_grace if grace_seconds is None else grace_seconds, self._max_grace
        )
        async with self._store.tenant(tenant_id) as tx:
            tenant = await tx.tenant_by_id(tenant_id, for_update=True)
            if tenant is None:
                raise NotFound("tenant")
            keys = domain.new_key_pair(tenant.slug)
            previous = await tx.retire_live_pair(tenant_id, grace)
            await tx.insert_key_pair(tenant_id, keys.public_key, digest(keys.secret_key))
        return Rotation(keys, previous)

    async def resolve_public_key(self, public_key: str) -> Tenant:
        """The active tenant of a live or in-grace public key."""
        if not domain.is_public_key(public_key):
            raise InvalidTenantKey()
        async with self._store.platform() as tx:
            tenant_id = await tx.tenant_id_by_public_key(public_key)
            tenant = await tx.tenant_by_id(tenant_id) if tenant_id else None
        if tenant is None:
            raise InvalidTenantKey()
        if not tenant.active:
            raise tenant_inactive()
        return tenant

    async def resolve_slug(self, slug: str) -> tuple[Tenant, str]:
        """The tenant behind a slug, active or not, and its newest working public key (the one a page
        rendered now should name). NotFound for a slug no tenant has, or a tenant with no working key."""
        if not domain.SLUG.match(slug):
            raise NotFound("tenant")
        async with self._store.platform() as tx:
            tenant = await tx.tenant_by_slug(slug)
            public_key = await tx.newest_working_public_key(tenant.id) if tenant else None
        if tenant is None or public_key is None:
            raise NotFound("tenant")
        return tenant, public_key

    async def set_stripe_account(self, tenant_id: str, account_id: str, state: ConnectState) -> Tenant:
        """Records the tenant's Connect account and onboarding state."""
        if account_id and not (account_id.startswith("acct_") and 6 <= len(account_id) <= 255):
            raise ValidationError.of("stripe_account_id", "must be a Stripe account id (acct_...)")
        async with self._store.tenant(tenant_id) as tx:
            tenant = await tx.set_stripe_account(tenant_id, account_id or None, state)
        if tenant is None:
            raise NotFound("tenant")
        return tenant

    async def resolve_stripe_account(self, account_id: str) -> Tenant:
        """The tenant of a Connect account."""
        async with self._store.platform() as tx:
            tenant = await tx.tenant_by_stripe_account(account_id) if account_id else None
        if tenant is None:
            raise NotFound("tenant")
        return tenant

    async def widget_origin_allowed(self, origin: str) -> bool:
        """True when an active tenant lists `origin` (compared as stored: lower-cased) among its widget
        origins. Anything that is not an origin is simply not allowed."""
        try:
            normalised = domain.check_origin(origin, "origin")
        except ValidationError:
            return False
        async with self._store.platform() as tx:
            return await tx.origin_of_active_tenant(normalised)

    async def put_secret(self, tenant_id: str, name: str, value: str) -> SecretInfo:
        """Seals and stores a secret under the newest key."""
        name, value = domain.check_secret(name, value)
        sealed = self._keyring.seal(value, associated_data(tenant_id, name))
        async with self._store.tenant(tenant_id) as tx:
            if await tx.tenant_by_id(tenant_id) is None:
                raise NotFound("tenant")
            updated_at = await tx.put_secret(tenant_id, name, sealed)
        return SecretInfo(name, "", sealed.key_id, updated_at)

    async def get_secret(self, tenant_id: str, name: str) -> SecretInfo:
        """Opens a secret, whichever ring key sealed it; one sealed under an older key is re-sealed
        under the newest on the way, so the old key can leave the ring later."""
        async with self._store.tenant(tenant_id) as tx:
            found = await tx.secret(tenant_id, name, for_update=True)
            if found is None:
                raise NotFound("secret")
            sealed, updated_at = found
            associated = associated_data(tenant_id, name)
            value = self._keyring.open(sealed, associated)
            key_id = sealed.key_id
            if key_id != self._keyring.current_key_id:
                resealed = self._keyring.seal(value, associated)
                await tx.reseal_secret(tenant_id, name, resealed)
                key_id = resealed.key_id
        return SecretInfo(name, value, key_id, updated_at)

    async def describe_secret(self, tenant_id: str, name: str) -> SecretInfo:
        """A stored secret's key id and time, without opening it."""
        async with self._store.tenant(tenant_id) as tx:
            found = await tx.secret(tenant_id, name)
        if found is None:
            raise NotFound("secret")
        sealed, updated_at = found
        return SecretInfo(name, "", sealed.key_id, updated_at)


def _encode_cursor(slug: str) -> str:
    return base64.urlsafe_b64encode(slug.encode()).decode().rstrip("=")


def _decode_cursor(token: str) -> str:
    if not token:
        return ""
    try:
        slug = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValidationError.of("cursor", "is not a cursor this list gave") from None
    if not domain.SLUG.match(slug):
        raise ValidationError.of("cursor", "is not a cursor this list gave")
    return slug
