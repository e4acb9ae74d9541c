"""Use cases of admin identity: sign-in (limited), token checks, password resets, bootstrap."""

from __future__ import annotations

import html
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from mais_runtime.db import Database
from mais_runtime.errors import Conflict, RateLimited, Unauthenticated, ValidationError
from mais_runtime.mail import Mail
from mais_runtime.outbox import enqueue
from services.tenant import domain, store
from services.tenant.credentials import Passwords, Tokens, digest
from services.tenant.directory import tenant_inactive
from services.tenant.domain import Role, SignInLimit

log = logging.getLogger("mais.tenant.identity")

RESET_TAG = "password-reset"


@dataclass(frozen=True)
class SignedIn:
    """A successful sign-in."""

    token: str
    expires_at: datetime
    user_id: str
    email: str
    role: Role
    tenant_id: str


@dataclass(frozen=True)
class ResetSettings:
    """How password resets behave."""

    ttl_seconds: int
    mails_per_hour: int
    link_base: str


class Identity:
    """Who may act for a tenant or for the platform."""

    def __init__(
        self, db: Database, passwords: Passwords, tokens: Tokens, limit: SignInLimit, resets: ResetSettings
    ) -> None:
        self._db = db
        self._passwords = passwords
        self._tokens = tokens
        self._limit = limit
        self._resets = resets

    async def sign_in(self, email: str, password: str, client_ip: str) -> SignedIn:
        """A token for the right address and password. Wrong ones count against the address and the
        client IP; past the limit every attempt waits, whatever its password."""
        try:
            address = domain.normalise_email(email)
        except ValidationError:
            # A malformed address still counts, but under a name no real address has.
            address = "malformed:" + email.strip().lower()[:254]
        # Bounded before hashing: a megabyte "password" must not cost more than a real one.
        password = password[: domain.PASSWORD_MAX + 1]
        email_hash = digest(address)
        ip = (client_ip or "unknown")[:64]
        async with self._db.platform_transaction() as conn:
            await store.lock_signin_subjects(conn, email_hash, ip)
            by_email, by_ip, now = await store.recent_failures(
                conn, email_hash, ip, int(self._limit.window.total_seconds())
            )
            wait = max(self._limit.retry_after(by_email, now), self._limit.retry_after(by_ip, now))
            if wait:
                raise RateLimited("too many failed sign-ins; try again later", wait)
            user = await store.admin_by_email(conn, address)
            live = user is not None and not user.removed
            ok = await self._passwords.verify(user.password_hash if live and user else None, password)
            if not ok or user is None:
                await store.record_failure(conn, email_hash, ip)
                failed = True
            else:
                failed = False
                await store.clear_failures(conn, email_hash)
                if user.tenant_id:
                    tenant = await store.tenant_by_id(conn, user.tenant_id)
                    if tenant is None or not tenant.active:
                        raise tenant_inactive()
                if self._passwords.needs_rehash(user.password_hash):
                    await store.set_password(
                        conn, user.id, await self._passwords.hash(password), end_sessions=False
                    )
        if failed:
            # Raised after the transaction commits, so the failure is counted.
            raise Unauthenticated("email or password is wrong")
        assert user is not None
        token, expires = self._tokens.issue(user.id, user.role, user.tenant_id, user.token_version)
        return SignedIn(token, expires, user.id, user.email, user.role, user.tenant_id)

    async def verify(self, token: str) -> SignedIn:
        """Who a token speaks for; refused when it is invalid, expired, from before a password
        change, of a removed user or of a deactivated tenant."""
        claims = self._tokens.check(token)
        if claims.role is Role.TENANT_ADMIN:
            scope = self._db.tenant_transaction(claims.tenant_id)
        else:
            scope = self._db.platform_transaction()
        async with scope as conn:
            user = await store.admin_by_id(conn, claims.user_id)
            tenant = await store.tenant_by_id(conn, claims.tenant_id) if claims.tenant_id else None
        if (
            user is None
            or user.removed
            or user.token_version != claims.token_version
            or user.role is not claims.role
            or user.tenant_id != claims.tenant_id
            or (claims.tenant_id and (tenant is None or not tenant.active))
        ):
            raise Unauthenticated("token is not valid")
        return SignedIn(token, claims.expires_at, user.id, user.email, user.role, user.tenant_id)

    async def request_reset(self, email: str) -> None:
        """Mails a single-use reset link when the address belongs to an admin; says nothing either way."""
        try:
            address = domain.normalise_email(email)
        except ValidationError:
            return
        async with self._db.platform_transaction() as conn:
            user = await store.admin_by_email(conn, address, for_update=True)
            if user is None or user.removed:
                return
            if user.tenant_id:
                tenant = await store.tenant_by_id(conn, user.tenant_id)
                if tenant is None or not tenant.active:
                    return
            # A quiet cap, so the form cannot be used to flood someone's inbox.
            if await store.resets_sent_since(conn, user.id, 3600) >= self._resets.mails_per_hour:
                return
            token = secrets.token_urlsafe(32)
            await store.insert_reset(
                conn, user.id, user.tenant_id or None, digest(token), self._resets.ttl_seconds
            )
            await enqueue(
                conn,
                tenant_id=user.tenant_id or None,
                dedupe_key=f"password-reset:{digest(token)[:32]}",
                mail=self._reset_mail(user.email, token),
            )

    async def reset_password(self, token: str, new_password: str) -> None:
        """Sets a new password with an unused, unexpired reset token; the token is spent, and every
        token signed before stops working."""
        if not token or len(token) > 200:
            raise ValidationError.of("token", "is invalid, expired or already used")
        async with self._db.platform_transaction() as conn:
            user_id = await store.use_reset(conn, digest(token))
            user = await store.admin_by_id(conn, user_id) if user_id else None
            if user is None or user.removed:
                raise ValidationError.of("token", "is invalid, expired or already used")
            # Checked after the token so that a weak password does not spend it: the transaction
            # rolls back and the token stays usable.
            domain.check_password(new_password, user.email, "newPassword")
            await store.set_password(
                conn, user.id, await self._passwords.hash(new_password), end_sessions=True
            )
            await store.void_resets(conn, user.id)
            await store.clear_failures(conn, digest(user.email))

    async def ensure_platform_admin(self, email: str, password: str) -> tuple[str, bool]:
        """A platform admin with this address and password exists afterwards; returns (id, created)."""
        address = domain.normalise_email(email)
        domain.check_password(password, address)
        async with self._db.platform_transaction() as conn:
            user = await store.admin_by_email(conn, address, for_update=True)
            if user is not None and user.role is not Role.PLATFORM_ADMIN:
                raise Conflict("this address belongs to a tenant admin", reason="EMAIL_TAKEN")
            if user is None:
                created = await store.insert_admin(conn, None, address, await self._passwords.hash(password))
                return created.id, True
            if user.removed or not await self._passwords.verify(user.password_hash, password):
                # The environment is the source of truth for the bootstrap admin's password.
                await store.set_password(
                    conn, user.id, await self._passwords.hash(password), end_sessions=True
                )
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
            message_id="",
            to=to,
            subject="Reset your MAIS password",
            text=text,
            html=body,
            tag=RESET_TAG,
        )
