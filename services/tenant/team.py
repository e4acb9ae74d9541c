"""Use cases on a tenant's team of admin users: list, invite (a set-password link by mail, through
the outbox), remove. Each runs in one tenant transaction."""

from __future__ import annotations

import html
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from mais_runtime import paging
from mais_runtime.errors import Conflict, NotFound, PreconditionFailed, RateLimited, ValidationError
from mais_runtime.mail import Mail
from mais_runtime.outbox import enqueue
from services.tenant import domain
from services.tenant.credentials import digest
from services.tenant.domain import Tenant
from services.tenant.store import AdminUser, TenantStore, TenantTx

INVITE_TAG = "admin-invite"
MAX_REQUEST_ID = 128
MAX_INVITES_PER_HOUR = 3


@dataclass(frozen=True)
class InviteSettings:
    """How invitations behave."""

    ttl_seconds: int
    link_base: str


class AdminTeam:
    """Who administers one tenant."""

    def __init__(self, store: TenantStore, invites: InviteSettings) -> None:
        self._store = store
        self._invites = invites

    async def list_admins(
        self, tenant_id: str, page_size: int, page_token: str
    ) -> tuple[list[AdminUser], str]:
        """One page of the tenant's admins (invited ones included, removed ones not), oldest first."""
        size = paging.page_size(page_size)
        after = _decode_cursor(page_token)
        async with self._store.tenant(tenant_id) as tx:
            users = await tx.tenant_admins(tenant_id, after, size + 1)
        more = len(users) > size
        users = users[:size]
        last = users[-1] if users else None
        token = paging.encode_cursor(last.created_at.isoformat(), last.id) if more and last else ""
        return users, token

    async def invite(self, tenant_id: str, email: str, invited_by: str, request_id: str) -> AdminUser:
        """An inactive admin with this address and a mailed set-password link. Inviting an address
        that is still only invited sends a fresh link (the older ones stop working); an address of an
        active admin anywhere on the platform is EMAIL_TAKEN. The same `request_id` answers the same
        and mails nothing more."""
        address = domain.normalise_email(email)
        if len(request_id) > MAX_REQUEST_ID:
            raise ValidationError.of("requestId", f"must be at most {MAX_REQUEST_ID} characters")
        async with self._store.tenant(tenant_id) as tx:
            tenant = await tx.tenant_by_id(tenant_id, for_update=True)
            if tenant is None:
                raise NotFound("tenant")
            if request_id:
                earlier = await tx.admin_by_invite_request(tenant_id, request_id)
                if earlier is not None:
                    return earlier
            user = await tx.admin_by_email(address, for_update=True)
            if user is not None and user.active:
                raise Conflict("this address already belongs to an admin", reason="EMAIL_TAKEN")
            if user is None:
                user = await tx.insert_admin(tenant_id, address, None, invite_request_id=request_id or None)
            else:
                # Re-inviting is a way to send mail to someone; it is capped like reset mails.
                if await tx.resets_sent_since(user.id, 3600) >= MAX_INVITES_PER_HOUR:
                    raise RateLimited("this address was invited several times in the last hour", 3600)
                await tx.void_resets(user.id)
            inviter = await tx.admin_by_id(invited_by) if invited_by else None
            await self._send_invite(tx, tenant, user, inviter.email if inviter else "")
        return user

    async def remove(self, tenant_id: str, user_id: str) -> None:
        """Removes an admin (their tokens stop at once, their invitation links too). The tenant's last
        active admin cannot be removed, so a business always has someone who can sign in. Removing a
        removed admin answers the same."""
        if not _is_uuid(user_id):
            raise NotFound("admin user")
        async with self._store.tenant(tenant_id) as tx:
            # The tenant row serialises removals: two admins removing each other at once cannot
            # leave the business with none.
            if await tx.tenant_by_id(tenant_id, for_update=True) is None:
                raise NotFound("tenant")
            user = await tx.admin_by_id(user_id, for_update=True)
            if user is None or user.tenant_id != tenant_id:
                raise NotFound("admin user")
            if user.removed:
                return
            if user.active and await tx.active_admin_count(tenant_id) <= 1:
                raise PreconditionFailed(
                    "the last active admin of a business cannot be removed; invite another admin first"
                )
            await tx.remove_admin(user.id)
            await tx.void_resets(user.id)

    async def _send_invite(self, tx: TenantTx, tenant: Tenant, user: AdminUser, inviter: str) -> None:
        token = secrets.token_urlsafe(32)
        await tx.insert_reset(user.id, tenant.id, digest(token), self._invites.ttl_seconds, kind="invite")
        await enqueue(
            tx.conn,
            tenant_id=tenant.id,
            dedupe_key=f"admin-invite:{digest(token)[:32]}",
            mail=self._invite_mail(tenant, user.email, token, inviter),
        )

    def _invite_mail(self, tenant: Tenant, to: str, token: str, inviter: str) -> Mail:
        # The token travels in the fragment, like a reset link's, so no access log records it.
        link = f"{self._invites.link_base.rstrip('/')}/admin/set-password#token={token}"
        days = max(1, self._invites.ttl_seconds // 86400)
        who = f"{inviter} invited you" if inviter else "You are invited"
        text = (
            f"{who} to manage {tenant.name} on MAIS.\n\n"
            f"Choose your password here (the link works once, for {days} days):\n{link}\n\n"
            "If you do not expect this, ignore this message; no account works until a password is set.\n"
        )
        body = (
            f"<p>{html.escape(who)} to manage {html.escape(tenant.name)} on MAIS.</p>"
            f'<p><a href="{html.escape(link)}">Choose your password</a> '
            f"(the link works once, for {days} days).</p>"
            "<p>If you do not expect this, ignore this message; no account works until a password is set.</p>"
        )
        return Mail(
            message_id="",
            to=to,
            subject=f"You are invited to manage {tenant.name}",
            text=text,
            html=body,
            tag=INVITE_TAG,
            from_name=tenant.name,
            reply_to=tenant.contact_email,
        )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _decode_cursor(token: str) -> tuple[datetime, str] | None:
    parts = paging.decode_cursor(token, 2)
    if parts is None:
        return None
    try:
        created_at = datetime.fromisoformat(parts[0])
    except ValueError:
        raise paging.invalid_cursor() from None
    if created_at.tzinfo is None or not _is_uuid(parts[1]):
        raise paging.invalid_cursor()
    return created_at, parts[1]
