"""Query verbs on admin identity: admin users, sign-in failures and known addresses, revoked tokens,
password resets and invitations, and housekeeping."""

# Queries interpolate only this module's constant column lists and lock clauses; every value is a
# bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from mais_runtime.db import IntegrityError, RowMapping
from mais_runtime.errors import Conflict
from services.tenant.domain import FailureHistory, Role
from services.tenant.store.rows import Queries, is_unique_violation

_USER_COLUMNS = "id, tenant_id, email, password_hash, role, token_version, removed_at, active, created_at"
# Known addresses are forgotten after this long without a successful sign-in from them.
KNOWN_ADDRESS_DAYS = 90


@dataclass(frozen=True)
class AdminUser:
    """An admin user as stored."""

    id: str
    tenant_id: str
    email: str
    password_hash: str | None
    role: Role
    token_version: int
    removed: bool
    # False until an invited user has set a password.
    active: bool
    created_at: datetime


def _user(row: RowMapping) -> AdminUser:
    return AdminUser(
        id=str(row["id"]),
        tenant_id=str(row["tenant_id"]) if row["tenant_id"] else "",
        email=row["email"],
        password_hash=row["password_hash"],
        role=Role(row["role"]),
        token_version=row["token_version"],
        removed=row["removed_at"] is not None,
        active=row["active"],
        created_at=row["created_at"],
    )


class IdentityQueries(Queries):
    """Admins, sign-in limiting, tokens and resets."""

    # --- admin users -----------------------------------------------------------------------

    async def insert_admin(
        self,
        tenant_id: str | None,
        email: str,
        password_hash: str | None,
        *,
        invite_request_id: str | None = None,
    ) -> AdminUser:
        """Adds an admin user (tenant admin, or platform admin when `tenant_id` is None); without a
        password hash the user is invited and inactive. An address a live admin has is EMAIL_TAKEN."""
        role = Role.TENANT_ADMIN if tenant_id else Role.PLATFORM_ADMIN
        try:
            async with self.conn.begin_nested():
                row = await self._first(
                    "INSERT INTO admin_users (id, tenant_id, email, password_hash, role, active,"
                    " invite_request_id)"
                    " VALUES (:id, :tenant, :email, :hash, :role, :active, :request)"
                    f" RETURNING {_USER_COLUMNS}",
                    id=str(uuid.uuid4()),
                    tenant=tenant_id,
                    email=email,
                    hash=password_hash,
                    role=role.value,
                    active=password_hash is not None,
                    request=invite_request_id,
                )
        except IntegrityError as error:
            if is_unique_violation(error, "admin_users_email_live"):
                raise Conflict("an admin with this email already exists", reason="EMAIL_TAKEN") from None
            raise
        assert row is not None
        return _user(row)

    async def admin_by_email(self, email: str, *, for_update: bool = False) -> AdminUser | None:
        """The live (not removed) admin user with this normalised address."""
        lock = " FOR UPDATE" if for_update else ""
        row = await self._first(
            f"SELECT {_USER_COLUMNS} FROM admin_users WHERE email = :e AND removed_at IS NULL{lock}", e=email
        )
        return _user(row) if row else None

    async def admin_by_id(self, user_id: str, *, for_update: bool = False) -> AdminUser | None:
        """The admin user (visible under the transaction's scope), removed or not."""
        lock = " FOR UPDATE" if for_update else ""
        row = await self._first(f"SELECT {_USER_COLUMNS} FROM admin_users WHERE id = :id{lock}", id=user_id)
        return _user(row) if row else None

    async def admin_by_invite_request(self, tenant_id: str, request_id: str) -> AdminUser | None:
        """The user an earlier invitation with this request id made."""
        row = await self._first(
            f"SELECT {_USER_COLUMNS} FROM admin_users WHERE tenant_id = :t AND invite_request_id = :r",
            t=tenant_id,
            r=request_id,
        )
        return _user(row) if row else None

    async def tenant_admins(
        self, tenant_id: str, after: tuple[datetime, str] | None, limit: int
    ) -> list[AdminUser]:
        """The tenant's live admin users by (created_at, id), after the cursor, at most `limit`."""
        where = " AND (created_at, id) > (:after_at, CAST(:after_id AS uuid))" if after else ""
        rows = await self._all(
            f"SELECT {_USER_COLUMNS} FROM admin_users WHERE tenant_id = :t AND removed_at IS NULL{where}"
            " ORDER BY created_at, id LIMIT :limit",
            t=tenant_id,
            after_at=after[0] if after else None,
            after_id=after[1] if after else None,
            limit=limit,
        )
        return [_user(row) for row in rows]

    async def active_admin_count(self, tenant_id: str) -> int:
        """How many of the tenant's admins can sign in (live and active)."""
        row = await self._first(
            "SELECT count(*) AS n FROM admin_users WHERE tenant_id = :t AND removed_at IS NULL AND active",
            t=tenant_id,
        )
        return int(row["n"]) if row else 0

    async def set_password(self, user_id: str, password_hash: str, *, end_sessions: bool) -> None:
        """Stores a new hash (which activates an invited user); `end_sessions` also ends every token
        issued before."""
        await self._exec(
            "UPDATE admin_users SET password_hash = :hash, password_changed_at = now(), active = true,"
            " token_version = token_version + CASE WHEN :end THEN 1 ELSE 0 END WHERE id = :id",
            id=user_id,
            hash=password_hash,
            end=end_sessions,
        )

    async def remove_admin(self, user_id: str) -> bool:
        """Marks the user removed (nothing is deleted) and ends their tokens."""
        changed = await self._exec(
            "UPDATE admin_users SET removed_at = now(), token_version = token_version + 1"
            " WHERE id = :id AND removed_at IS NULL",
            id=user_id,
        )
        return bool(changed)

    # --- tokens ----------------------------------------------------------------------------

    async def revoke_token(
        self, token_hash: str, user_id: str, tenant_id: str | None, expires_at: datetime
    ) -> None:
        """Records a signed-out token until it would have expired; revoking twice is harmless."""
        await self._exec(
            "INSERT INTO revoked_tokens (token_hash, user_id, tenant_id, expires_at)"
            " VALUES (:h, :u, :t, :e) ON CONFLICT (token_hash) DO NOTHING",
            h=token_hash,
            u=user_id,
            t=tenant_id,
            e=expires_at,
        )

    async def token_revoked(self, token_hash: str) -> bool:
        """Whether this token was signed out."""
        return (
            await self._first("SELECT 1 FROM revoked_tokens WHERE token_hash = :h", h=token_hash) is not None
        )

    # --- sign-in limiting ------------------------------------------------------------------

    async def lock_signin_subjects(self, email_hash: str, client_ip: str) -> None:
        """Serialises attempts on one account and on one address for the rest of the transaction, so
        that concurrent attempts cannot all slip under a limit. Always account first, then address."""
        await self._first(
            "SELECT pg_advisory_xact_lock(hashtextextended(:a, 0)),"
            " pg_advisory_xact_lock(hashtextextended(:b, 0))",
            a=f"mais.signin.email:{email_hash}",
            b=f"mais.signin.ip:{client_ip}",
        )

    async def failure_history(
        self, email_hash: str, client_ip: str, window: timedelta, account_window: timedelta
    ) -> tuple[FailureHistory, datetime]:
        """The failures bearing on an attempt (see FailureHistory) and the database's now()."""
        since = "failed_at > now() - make_interval(secs => :w)"
        w = int(window.total_seconds())
        pair = await self._all(
            f"SELECT failed_at FROM signin_failures WHERE email_hash = :e AND client_ip = :ip AND {since}",
            e=email_hash,
            ip=client_ip,
            w=w,
        )
        address = await self._all(
            f"SELECT failed_at FROM signin_failures WHERE client_ip = :ip AND {since}", ip=client_ip, w=w
        )
        account = await self._all(
            f"SELECT failed_at FROM signin_failures WHERE email_hash = :e AND {since}",
            e=email_hash,
            w=int(account_window.total_seconds()),
        )
        known = await self._first(
            "SELECT now() AS now, EXISTS (SELECT 1 FROM signin_known_addresses WHERE email_hash = :e"
            " AND client_ip = :ip AND last_success_at > now() - make_interval(days => :days)) AS known",
            e=email_hash,
            ip=client_ip,
            days=KNOWN_ADDRESS_DAYS,
        )
        assert known is not None
        history = FailureHistory(
            pair=[r["failed_at"] for r in pair],
            address=[r["failed_at"] for r in address],
            account=[r["failed_at"] for r in account],
            known_address=bool(known["known"]),
        )
        return history, known["now"]

    async def record_failure(self, email_hash: str, client_ip: str) -> None:
        """Counts one failed sign-in."""
        await self._exec(
            "INSERT INTO signin_failures (email_hash, client_ip) VALUES (:e, :ip)", e=email_hash, ip=client_ip
        )

    async def record_success(self, email_hash: str, client_ip: str) -> None:
        """Forgets the pair's failures and remembers the address as one the account signs in from."""
        await self._exec(
            "DELETE FROM signin_failures WHERE email_hash = :e AND client_ip = :ip",
            e=email_hash,
            ip=client_ip,
        )
        await self._exec(
            "INSERT INTO signin_known_addresses (email_hash, client_ip) VALUES (:e, :ip)"
            " ON CONFLICT (email_hash, client_ip) DO UPDATE SET last_success_at = now()",
            e=email_hash,
            ip=client_ip,
        )

    async def clear_failures(self, email_hash: str) -> None:
        """Forgets every failure of the account (after a password reset or change)."""
        await self._exec("DELETE FROM signin_failures WHERE email_hash = :e", e=email_hash)

    # --- password resets and invitations ---------------------------------------------------

    async def resets_sent_since(self, user_id: str, seconds: int) -> int:
        """How many reset or invitation tokens the user got in the last `seconds`."""
        row = await self._first(
            "SELECT count(*) AS n FROM password_resets"
            " WHERE user_id = :u AND created_at > now() - make_interval(secs => :s)",
            u=user_id,
            s=seconds,
        )
        return int(row["n"]) if row else 0

    async def insert_reset(
        self, user_id: str, tenant_id: str | None, token_hash: str, ttl_seconds: int, kind: str = "reset"
    ) -> None:
        """Stores a reset (or invitation) token's hash, valid for `ttl_seconds`."""
        await self._exec(
            "INSERT INTO password_resets (user_id, tenant_id, token_hash, expires_at, kind)"
            " VALUES (:u, :t, :h, now() + make_interval(secs => :ttl), :kind)",
            u=user_id,
            t=tenant_id,
            h=token_hash,
            ttl=ttl_seconds,
            kind=kind,
        )

    async def use_reset(self, token_hash: str) -> str | None:
        """Marks an unused, unexpired token used and returns its user; None when there is no such
        token. One UPDATE, so two concurrent uses of one token cannot both succeed."""
        row = await self._first(
            "UPDATE password_resets SET used_at = now()"
            " WHERE token_hash = :h AND used_at IS NULL AND expires_at > now() RETURNING user_id",
            h=token_hash,
        )
        return str(row["user_id"]) if row else None

    async def void_resets(self, user_id: str) -> None:
        """Ends every other outstanding reset or invitation token of the user."""
        await self._exec(
            "UPDATE password_resets SET used_at = now() WHERE user_id = :u AND used_at IS NULL", u=user_id
        )

    # --- housekeeping ----------------------------------------------------------------------

    async def sweep(self, failure_window: timedelta) -> None:
        """Drops failures older than the longest window, known addresses not used for months, revoked
        tokens past their expiry and old reset rows, and blanks the bodies of sent reset and invitation
        mails, so a link does not outlive its delivery in the database (platform scope)."""
        await self._exec(
            "DELETE FROM signin_failures WHERE failed_at < now() - make_interval(secs => :w)",
            w=int(failure_window.total_seconds()),
        )
        await self._exec(
            "DELETE FROM signin_known_addresses WHERE last_success_at < now() - make_interval(days => :d)",
            d=KNOWN_ADDRESS_DAYS,
        )
        await self._exec("DELETE FROM revoked_tokens WHERE expires_at < now()")
        await self._exec("DELETE FROM password_resets WHERE expires_at < now() - interval '7 days'")
        await self._exec(
            "UPDATE outbox SET text_body = '[sent]', html_body = '[sent]'"
            " WHERE tag IN ('password-reset', 'admin-invite') AND status <> 'PENDING'"
            " AND text_body <> '[sent]'"
        )
