"""Use cases of admin identity: sign-in (limited), token checks, sign-out, password changes and
resets, bootstrap. Each runs in one transaction it opens on the store."""

from __future__ import annotations

import html
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from mais_runtime.errors import Conflict, RateLimited, Unauthenticated, ValidationError
from mais_runtime.mail import Mail
from mais_runtime.outbox import enqueue
from services.tenant import domain
from services.tenant.credentials import Passwords, TokenClaims, Tokens, digest
from services.tenant.directory import tenant_inactive
from services.tenant.domain import Role, SignInLimits
from services.tenant.store import AdminUser, TenantStore, TenantTx

log = logging.getLogger("mais.tenant.identity")

RESET_TAG = "password-reset"
# Failed checks of the current password (a password change) count as sign-in failures of the
# account from this pseudo-address, so a stolen token cannot guess its way to the password.
# Wrong current passwords are counted against the account and this label of the user's own, in place of
# a client address: one label shared by everyone would let a few accounts block every password change.
PASSWORD_CHANGE_ADDRESS = "password-change:{user_id}"  # noqa: S105 (an address label)


class Credential(Enum):
    """What authenticated a call."""

    SIGN_IN = "sign_in"
    SECRET_KEY = "secret_key"  # noqa: S105 (a kind of credential)


@dataclass(frozen=True)
class SignedIn:
    """Who a credential speaks for. A tenant's secret key speaks for the tenant, not for a person
    (no user id, no email, no expiry)."""

    token: str
    expires_at: datetime | None
    user_id: str
    email: str
    role: Role
    tenant_id: str
    credential: Credential = Credential.SIGN_IN


@dataclass(frozen=True)
class ResetSettings:
    """How password resets behave."""

    ttl_seconds: int
    mails_per_hour: int
    link_base: str


class Identity:
    """Who may act for a tenant or for the platform."""

    def __init__(
        self,
        store: TenantStore,
        passwords: Passwords,
        tokens: Tokens,
        limits: SignInLimits,
        resets: ResetSettings,
    ) -> None:
        self._store = store
        self._passwords = passwords
        self._tokens = tokens
        self._limits = limits
        self._resets = resets

    async def sign_in(self, email: str, password: str, client_ip: str) -> SignedIn:
        """A token for the right address and password. Attempts are limited per (account, address)
        pair, per address and per account with backoff (SignInLimits); past a limit an attempt waits
        whatever its password, except that the account's known addresses skip the account and
        address limits."""
        try:
            address = domain.normalise_email(email)
        except ValidationError:
            # A malformed address still counts, but under a name no real address has.
            address = "malformed:" + email.strip().lower()[:254]
        # Bounded before hashing: a megabyte "password" must not cost more than a real one.
        password = password[: domain.PASSWORD_MAX + 1]
        email_hash = digest(address)
        ip = (client_ip or "unknown")[:64]
        async with self._store.platform() as tx:
            await self._wait_if_limited(tx, email_hash, ip)
            user = await tx.admin_by_email(address)
            ok = await self._passwords.verify(user.password_hash if user else None, password)
            failed = not ok or user is None
            if failed:
                await tx.record_failure(email_hash, ip)
            else:
                assert user is not None and user.password_hash is not None
                await tx.record_success(email_hash, ip)
                if user.tenant_id:
                    tenant = await tx.tenant_by_id(user.tenant_id)
                    if tenant is None or not tenant.active:
                        raise tenant_inactive()
                if self._passwords.needs_rehash(user.password_hash):
                    await tx.set_password(user.id, await self._passwords.hash(password), end_sessions=False)
        if failed:
            # Raised after the transaction commits, so the failure is counted.
            raise Unauthenticated("email or password is wrong")
        assert user is not None
        token, expires = self._tokens.issue(user.id, user.role, user.tenant_id, user.token_version)
        return SignedIn(token, expires, user.id, user.email, user.role, user.tenant_id)

    async def _wait_if_limited(self, tx: TenantTx, email_hash: str, ip: str) -> None:
        await tx.lock_signin_subjects(email_hash, ip)
        history, now = await tx.failure_history(
            email_hash, ip, self._limits.window, self._limits.account_window
        )
        wait = self._limits.retry_after(history, now)
        if wait:
            raise RateLimited("too many failed sign-ins; try again later", wait)

    async def verify(self, token: str) -> SignedIn:
        """Who a credential speaks for: a sign-in token (refused when invalid, expired, signed out,
        from before a password change, of a removed user or of a deactivated tenant) or a tenant's
        live or in-grace secret key (server-to-server calls, ADR 0013)."""
        if token.startswith("sk_live_"):
            return await self._verify_secret_key(token)
        claims = self._tokens.check(token)
        user = await self._person(token, claims)
        return SignedIn(token, claims.expires_at, user.id, user.email, user.role, user.tenant_id)

    async def _person(self, token: str, claims: TokenClaims) -> AdminUser:
        scope = (
            self._store.tenant(claims.tenant_id)
            if claims.role is Role.TENANT_ADMIN
            else self._store.platform()
        )
        async with scope as tx:
            user = await tx.admin_by_id(claims.user_id)
            tenant = await tx.tenant_by_id(claims.tenant_id) if claims.tenant_id else None
            revoked = await tx.token_revoked(digest(token))
        if (
            user is None
            or revoked
            or user.removed
            or not user.active
            or user.token_version != claims.token_version
            or user.role is not claims.role
            or user.tenant_id != claims.tenant_id
            or (claims.tenant_id and (tenant is None or not tenant.active))
        ):
            raise Unauthenticated("token is not valid")
        return user

    async def _verify_secret_key(self, key: str) -> SignedIn:
        if not domain.is_secret_key(key):
            raise Unauthenticated("token is not valid")
        async with self._store.platform() as tx:
            tenant_id = await tx.tenant_id_by_secret_hash(digest(key))
            tenant = await tx.tenant_by_id(tenant_id) if tenant_id else None
        if tenant is None:
            raise Unauthenticated("token is not valid")
        if not tenant.active:
            raise Unauthenticated("token is not valid")
        return SignedIn("", None, "", "", Role.TENANT_ADMIN, tenant.id, Credential.SECRET_KEY)

    async def sign_out(self, token: str) -> None:
        """Revokes one sign-in token (until it would have expired anyway); signing out twice, or
        with a token that no longer works, changes nothing."""
        try:
            claims = self._tokens.check(token)
        except Unauthenticated:
            return
        scope = (
            self._store.tenant(claims.tenant_id)
            if claims.role is Role.TENANT_ADMIN
            else self._store.platform()
        )
        async with scope as tx:
            user = await tx.admin_by_id(claims.user_id)
            if user is None:
                return
            await tx.revoke_token(digest(token), user.id, user.tenant_id or None, claims.expires_at)

    async def change_password(self, token: str, current: str, new_password: str) -> SignedIn:
        """Sets a new password when the current one is right; every token signed before ends (the
        caller gets a fresh one). Wrong current passwords count like failed sign-ins."""
        claims = self._tokens.check(token)
        user = await self._person(token, claims)
        email_hash = digest(user.email)
        label = PASSWORD_CHANGE_ADDRESS.format(user_id=user.id)
        async with self._store.platform() as tx:
            await self._wait_if_limited(tx, email_hash, label)
            ok = await self._passwords.verify(user.password_hash, current[: domain.PASSWORD_MAX + 1])
            if not ok:
                await tx.record_failure(email_hash, label)
            else:
                domain.check_password(new_password, user.email, "newPassword")
                await tx.set_password(user.id, await self._passwords.hash(new_password), end_sessions=True)
                await tx.void_resets(user.id)
                await tx.clear_failures(email_hash)
                fresh = await tx.admin_by_id(user.id)
        if not ok:
            raise ValidationError.of("currentPassword", "is not the current password")
        assert fresh is not None
        new_token, expires = self._tokens.issue(fresh.id, fresh.role, fresh.tenant_id, fresh.token_version)
        return SignedIn(new_token, expires, fresh.id, fresh.email, fresh.role, fresh.tenant_id)

    async def request_reset(self, email: str) -> None:
        """Mails a single-use reset link when the address belongs to an admin; says nothing either way."""
        try:
            address = domain.normalise_email(email)
        except ValidationError:
            return
        async with self._store.platform() as tx:
            user = await tx.admin_by_email(address, for_update=True)
            if user is None:
                return
            if user.tenant_id:
                tenant = await tx.tenant_by_id(user.tenant_id)
                if tenant is None or not tenant.active:
                    return
            # A quiet cap, so the form cannot be used to flood someone's inbox.
            if await tx.resets_sent_since(user.id, 3600) >= self._resets.mails_per_hour:
                return
            token = secrets.token_urlsafe(32)
            await tx.insert_reset(user.id, user.tenant_id or None, digest(token), self._resets.ttl_seconds)
            await enqueue(
                tx.conn,
                tenant_id=user.tenant_id or None,
                dedupe_key=f"password-reset:{digest(token)[:32]}",
                mail=self._reset_mail(user.email, token),
            )

    async def reset_password(self, token: str, new_password: str) -> None:
        """Sets a new password with an unused, unexpired reset or invitation token; the token is
        spent, an invited user becomes active, every token signed before stops working, and the
        account's failed sign-ins are forgotten (a reset lifts any sign-in lock)."""
        if not token or len(token) > 200:
            raise ValidationError.of("token", "is invalid, expired or already used")
        async with self._store.platform() as tx:
            user_id = await tx.use_reset(digest(token))
            user = await tx.admin_by_id(user_id) if user_id else None
            if user is None or user.removed:
                raise ValidationError.of("token", "is invalid, expired or already used")
            # Checked after the token so that a weak password does not spend it: the transaction
            # rolls back and the token stays usable.
            domain.check_password(new_password, user.email, "newPassword")
            await tx.set_password(user.id, await self._passwords.hash(new_password), end_sessions=True)
            await tx.void_resets(user.id)
            await tx.clear_failures(digest(user.email))

    async def ensure_platform_admin(self, email: str, password: str) -> tuple[str, bool]:
        """A platform admin with this address and password exists afterwards; returns (id, created)."""
        address = domain.normalise_email(email)
        domain.check_password(password, address)
        async with self._store.platform() as tx:
            user = await tx.admin_by_email(address, for_update=True)
            if user is not None and user.role is not Role.PLATFORM_ADMIN:
                raise Conflict("this address belongs to a tenant admin", reason="EMAIL_TAKEN")
            if user is None:
                created = await tx.insert_admin(None, address, await self._passwords.hash(password))
                return created.id, True
            if not await self._passwords.verify(user.password_hash, password):
                # The environment is the source of truth for the bootstrap admin's password.
                await tx.set_password(user.id, await self._passwords.hash(password), end_sessions=True)
            return user.id, False

    def _reset_mail(self, to: str, token: str) -> Mail:
        # The token travels in the fragment: browsers never send it to a server, so no access log
        # on the way records it.
        link = f"{self._resets.link_base.rstrip('/')}/admin/reset-password#token={token}"
        minutes = self._resets.ttl_seconds // 60
        text = (
            "Someone asked to reset the password of your MAIS admin account.\n\n"
            f"Choose a new password here (the link works once, for {minutes} minutes):\n{link}\n\n"
            "If it was not you, ignore this message; your password stays as it is.\n"
        )
        body = (
            "<p>Someone asked to reset the password of your MAIS admin account.</p>"
            f'<p><a href="{html.escape(link)}">Choose a new password</a> '
            f"(the link works once, for {minutes} minutes).</p>"
            "<p>If it was not you, ignore this message; your password stays as it is.</p>"
        )
        return Mail(
            message_id="", to=to, subject="Reset your MAIS password", text=text, html=body, tag=RESET_TAG
        )
