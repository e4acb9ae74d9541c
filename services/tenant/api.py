"""The tenant service's gRPC servicer: proto <-> domain, no SQL, no business rules."""

from __future__ import annotations

import grpc
from mais.tenant.v1 import tenant_service_pb2 as pb
from mais.tenant.v1 import tenant_service_pb2_grpc as pb_grpc

from mais_runtime.change_feed import ChangeFanout, serve_changes
from mais_runtime.errors import ValidationError
from mais_runtime.payment_policy import PaymentPolicy
from mais_runtime.proto_time import timestamp
from services.tenant.directory import TenantDirectory
from services.tenant.domain import BookingPolicy, Branding, ConnectState, Role, Tenant
from services.tenant.identity import Credential, Identity, SignedIn
from services.tenant.store import AdminUser
from services.tenant.team import AdminTeam

_CONNECT_TO_PB = {
    ConnectState.NOT_STARTED: pb.CONNECT_STATE_NOT_STARTED,
    ConnectState.PENDING: pb.CONNECT_STATE_PENDING,
    ConnectState.ONBOARDED: pb.CONNECT_STATE_ONBOARDED,
}
_CONNECT_FROM_PB = {value: key for key, value in _CONNECT_TO_PB.items()}
_ROLE_TO_PB = {Role.TENANT_ADMIN: pb.ROLE_TENANT_ADMIN, Role.PLATFORM_ADMIN: pb.ROLE_PLATFORM_ADMIN}
_CREDENTIAL_TO_PB = {
    Credential.SIGN_IN: pb.CREDENTIAL_KIND_SIGN_IN,
    Credential.SECRET_KEY: pb.CREDENTIAL_KIND_SECRET_KEY,
}


def tenant_to_pb(tenant: Tenant) -> pb.Tenant:
    """The proto form of a tenant."""
    return pb.Tenant(
        id=tenant.id,
        slug=tenant.slug,
        name=tenant.name,
        active=tenant.active,
        commission_bps=tenant.commission_bps,
        stripe_account_id=tenant.stripe_account_id,
        connect_state=_CONNECT_TO_PB[tenant.connect_state],
        branding=pb.Branding(
            primary_color=tenant.branding.primary_color,
            secondary_color=tenant.branding.secondary_color,
            logo_url=tenant.branding.logo_url,
            font=tenant.branding.font,
        ),
        allowed_origins=list(tenant.allowed_origins),
        timezone=tenant.timezone,
        policy=pb.BookingPolicy(
            min_notice_days=tenant.policy.min_notice_days,
            max_advance_days=tenant.policy.max_advance_days,
            hold_minutes=tenant.policy.hold_minutes,
            reminder_days=tenant.policy.reminder_days,
            couple_cancel_days=tenant.policy.couple_cancel_days,
            max_live_holds_per_email=tenant.policy.max_live_holds_per_email,
            max_live_holds_per_address=tenant.policy.max_live_holds_per_address,
            effective_max_live_holds_per_email=tenant.policy.effective_max_live_holds_per_email,
            effective_max_live_holds_per_address=tenant.policy.effective_max_live_holds_per_address,
        ),
        currency=tenant.currency,
        created_at=timestamp(tenant.created_at),
        version=tenant.version,
        contact_email=tenant.contact_email,
        commission_percent=tenant.commission_percent,
        payment_policy=tenant.payment_policy.to_proto(),
    )


def admin_user_to_pb(user: AdminUser) -> pb.AdminUser:
    """The proto form of an admin user (never their hash)."""
    return pb.AdminUser(
        id=user.id,
        email=user.email,
        role=_ROLE_TO_PB[user.role],
        created_at=timestamp(user.created_at),
        active=user.active,
    )


def tenant_from_pb(message: pb.Tenant) -> Tenant:
    """A tenant value carrying the fields of a change (only the masked ones are used)."""
    return Tenant(
        id=message.id,
        slug=message.slug,
        name=message.name,
        active=message.active,
        commission_bps=message.commission_bps,
        branding=Branding(
            message.branding.primary_color,
            message.branding.secondary_color,
            message.branding.logo_url,
            message.branding.font,
        ),
        allowed_origins=tuple(message.allowed_origins),
        timezone=message.timezone,
        policy=BookingPolicy(
            min_notice_days=message.policy.min_notice_days,
            max_advance_days=message.policy.max_advance_days,
            hold_minutes=message.policy.hold_minutes,
            reminder_days=message.policy.reminder_days,
            couple_cancel_days=message.policy.couple_cancel_days,
            max_live_holds_per_email=message.policy.max_live_holds_per_email,
            max_live_holds_per_address=message.policy.max_live_holds_per_address,
        ),
        currency=message.currency,
        contact_email=message.contact_email,
        # Unset: pay in full (what "payment_policy" in the mask then sets).
        payment_policy=PaymentPolicy.from_proto(message.payment_policy),
    )


def _who(signed: SignedIn) -> pb.VerifyTokenResponse:
    return pb.VerifyTokenResponse(
        user_id=signed.user_id,
        email=signed.email,
        role=_ROLE_TO_PB[signed.role],
        tenant_id=signed.tenant_id,
        expires_at=timestamp(signed.expires_at),
        credential=_CREDENTIAL_TO_PB[signed.credential],
    )


class TenantServicer(pb_grpc.TenantServiceServicer):
    """Tenants, keys, secrets, admins and sign-in."""

    def __init__(
        self,
        directory: TenantDirectory,
        identity: Identity,
        team: AdminTeam,
        *,
        changes: ChangeFanout | None = None,
    ) -> None:
        self._directory = directory
        self.identity = identity
        self._team = team
        self._changes = changes

    async def WatchChanges(  # type: ignore[override]  # writes with context.write, returns nothing
        self, request: pb.WatchChangesRequest, context: grpc.aio.ServicerContext
    ) -> None:
        """The tenants whose data changed, as a stream (mais_runtime/change_feed.py)."""
        await serve_changes(self._changes, context, pb.WatchChangesResponse)

    async def GetTenant(
        self, request: pb.GetTenantRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetTenantResponse:
        """Reads one tenant's settings."""
        return pb.GetTenantResponse(tenant=tenant_to_pb(await self._directory.get(request.tenant_id)))

    async def UpdateTenant(
        self, request: pb.UpdateTenantRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateTenantResponse:
        """Changes the fields named in update_mask; platform-owned ones need the platform role."""
        role = Role.PLATFORM_ADMIN if request.actor_role == pb.ROLE_PLATFORM_ADMIN else Role.TENANT_ADMIN
        tenant = await self._directory.update(
            request.tenant_id,
            tenant_from_pb(request.tenant),
            list(request.update_mask),
            role,
            request.expected_version,
            request.commission_percent,
        )
        return pb.UpdateTenantResponse(tenant=tenant_to_pb(tenant))

    async def RotateApiKeys(
        self, request: pb.RotateApiKeysRequest, context: grpc.aio.ServicerContext
    ) -> pb.RotateApiKeysResponse:
        """Issues a new key pair; the previous public key works on for the grace period."""
        grace = request.grace_seconds if request.HasField("grace_seconds") else None
        rotation = await self._directory.rotate_keys(request.tenant_id, grace)
        return pb.RotateApiKeysResponse(
            public_key=rotation.keys.public_key,
            secret_key=rotation.keys.secret_key,
            previous_key_expires_at=timestamp(rotation.previous_expires_at),
        )

    async def SetStripeAccount(
        self, request: pb.SetStripeAccountRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetStripeAccountResponse:
        """Records the tenant's Connect account and onboarding state."""
        state = _CONNECT_FROM_PB.get(request.connect_state)
        if state is None:
            raise ValidationError.of("connect_state", "is required")
        tenant = await self._directory.set_stripe_account(request.tenant_id, request.stripe_account_id, state)
        return pb.SetStripeAccountResponse(tenant=tenant_to_pb(tenant))

    async def PutTenantSecret(
        self, request: pb.PutTenantSecretRequest, context: grpc.aio.ServicerContext
    ) -> pb.PutTenantSecretResponse:
        """Seals a secret with AES-256-GCM under the newest ring key."""
        info = await self._directory.put_secret(request.tenant_id, request.name, request.value)
        return pb.PutTenantSecretResponse(key_id=info.key_id, updated_at=timestamp(info.updated_at))

    async def GetTenantSecret(
        self, request: pb.GetTenantSecretRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetTenantSecretResponse:
        """Opens a stored secret, whichever ring key sealed it."""
        info = await self._directory.get_secret(request.tenant_id, request.name)
        return pb.GetTenantSecretResponse(
            value=info.value, key_id=info.key_id, updated_at=timestamp(info.updated_at)
        )

    async def DescribeTenantSecret(
        self, request: pb.DescribeTenantSecretRequest, context: grpc.aio.ServicerContext
    ) -> pb.DescribeTenantSecretResponse:
        """A stored secret's metadata, never its value."""
        info = await self._directory.describe_secret(request.tenant_id, request.name)
        return pb.DescribeTenantSecretResponse(
            name=info.name, key_id=info.key_id, updated_at=timestamp(info.updated_at)
        )

    async def CreateTenant(
        self, request: pb.CreateTenantRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateTenantResponse:
        """Creates a tenant, its key pair and its first admin; the keys are shown only here."""
        created = await self._directory.create(
            slug=request.slug,
            name=request.name,
            commission_bps=request.commission_bps,
            commission_percent=request.commission_percent,
            admin_email=request.admin_email,
            admin_password=request.admin_password,
            timezone=request.timezone,
            currency=request.currency,
        )
        return pb.CreateTenantResponse(
            tenant=tenant_to_pb(created.tenant),
            public_key=created.keys.public_key,
            secret_key=created.keys.secret_key,
            admin_email=created.admin_email,
            admin_password=created.generated_password,
        )

    async def ListTenants(
        self, request: pb.ListTenantsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListTenantsResponse:
        """One page of tenants, ordered by slug; with a query, only those it finds."""
        tenants, next_token = await self._directory.list_tenants(
            request.page_size, request.page_token, request.query
        )
        return pb.ListTenantsResponse(tenants=[tenant_to_pb(t) for t in tenants], next_page_token=next_token)

    async def CountTenants(
        self, request: pb.CountTenantsRequest, context: grpc.aio.ServicerContext
    ) -> pb.CountTenantsResponse:
        """How many tenants, active ones and ones onboarded on Connect."""
        total, active, onboarded = await self._directory.count()
        return pb.CountTenantsResponse(total=total, active=active, connect_onboarded=onboarded)

    async def ResolvePublicKey(
        self, request: pb.ResolvePublicKeyRequest, context: grpc.aio.ServicerContext
    ) -> pb.ResolvePublicKeyResponse:
        """The tenant of a live or in-grace public key; INVALID_TENANT_KEY or TENANT_INACTIVE."""
        tenant = await self._directory.resolve_public_key(request.public_key)
        return pb.ResolvePublicKeyResponse(tenant=tenant_to_pb(tenant))

    async def ResolveTenantSlug(
        self, request: pb.ResolveTenantSlugRequest, context: grpc.aio.ServicerContext
    ) -> pb.ResolveTenantSlugResponse:
        """The tenant behind a slug (inactive ones too) and its newest working public key; NOT_FOUND."""
        tenant, public_key = await self._directory.resolve_slug(request.slug)
        return pb.ResolveTenantSlugResponse(tenant=tenant_to_pb(tenant), public_key=public_key)

    async def ResolveStripeAccount(
        self, request: pb.ResolveStripeAccountRequest, context: grpc.aio.ServicerContext
    ) -> pb.ResolveStripeAccountResponse:
        """The tenant of a Connect account."""
        tenant = await self._directory.resolve_stripe_account(request.stripe_account_id)
        return pb.ResolveStripeAccountResponse(tenant=tenant_to_pb(tenant))

    async def CheckWidgetOrigin(
        self, request: pb.CheckWidgetOriginRequest, context: grpc.aio.ServicerContext
    ) -> pb.CheckWidgetOriginResponse:
        """Whether an active tenant allows this widget origin (CORS preflights)."""
        allowed = await self._directory.widget_origin_allowed(request.origin)
        return pb.CheckWidgetOriginResponse(allowed=allowed)

    async def SignIn(self, request: pb.SignInRequest, context: grpc.aio.ServicerContext) -> pb.SignInResponse:
        """A signed token for the right email and password; RATE_LIMITED past the failure limit."""
        signed = await self.identity.sign_in(request.email, request.password, request.client_ip)
        return pb.SignInResponse(
            token=signed.token,
            expires_at=timestamp(signed.expires_at),
            role=_ROLE_TO_PB[signed.role],
            tenant_id=signed.tenant_id,
            email=signed.email,
            user_id=signed.user_id,
        )

    async def VerifyToken(
        self, request: pb.VerifyTokenRequest, context: grpc.aio.ServicerContext
    ) -> pb.VerifyTokenResponse:
        """Who a token speaks for, or UNAUTHENTICATED."""
        return _who(await self.identity.verify(request.token))

    async def RequestPasswordReset(
        self, request: pb.RequestPasswordResetRequest, context: grpc.aio.ServicerContext
    ) -> pb.RequestPasswordResetResponse:
        """Mails a reset link when the address is an admin's; the answer is always the same."""
        await self.identity.request_reset(request.email)
        return pb.RequestPasswordResetResponse()

    async def ResetPassword(
        self, request: pb.ResetPasswordRequest, context: grpc.aio.ServicerContext
    ) -> pb.ResetPasswordResponse:
        """Sets a new password with a single-use token."""
        await self.identity.reset_password(request.token, request.new_password)
        return pb.ResetPasswordResponse()

    async def EnsurePlatformAdmin(
        self, request: pb.EnsurePlatformAdminRequest, context: grpc.aio.ServicerContext
    ) -> pb.EnsurePlatformAdminResponse:
        """A platform admin with this email and password exists afterwards."""
        user_id, created = await self.identity.ensure_platform_admin(request.email, request.password)
        return pb.EnsurePlatformAdminResponse(user_id=user_id, created=created)

    async def ListAdminUsers(
        self, request: pb.ListAdminUsersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAdminUsersResponse:
        """One page of the tenant's admin users, invited ones included, oldest first."""
        users, next_token = await self._team.list_admins(
            request.tenant_id, request.page_size, request.page_token
        )
        return pb.ListAdminUsersResponse(
            users=[admin_user_to_pb(u) for u in users], next_page_token=next_token
        )

    async def InviteAdminUser(
        self, request: pb.InviteAdminUserRequest, context: grpc.aio.ServicerContext
    ) -> pb.InviteAdminUserResponse:
        """Invites an admin: an inactive user and a mailed set-password link."""
        user = await self._team.invite(
            request.tenant_id, request.email, request.invited_by_user_id, request.request_id
        )
        return pb.InviteAdminUserResponse(user=admin_user_to_pb(user))

    async def RemoveAdminUser(
        self, request: pb.RemoveAdminUserRequest, context: grpc.aio.ServicerContext
    ) -> pb.RemoveAdminUserResponse:
        """Removes an admin user; their tokens stop at once. Never the last active admin."""
        await self._team.remove(request.tenant_id, request.user_id)
        return pb.RemoveAdminUserResponse()

    async def SignOut(
        self, request: pb.SignOutRequest, context: grpc.aio.ServicerContext
    ) -> pb.SignOutResponse:
        """Revokes the token."""
        await self.identity.sign_out(request.token)
        return pb.SignOutResponse()

    async def ChangePassword(
        self, request: pb.ChangePasswordRequest, context: grpc.aio.ServicerContext
    ) -> pb.ChangePasswordResponse:
        """Changes the caller's password; every other sign-in ends and a fresh token is answered."""
        signed = await self.identity.change_password(
            request.token, request.current_password, request.new_password
        )
        return pb.ChangePasswordResponse(token=signed.token, expires_at=timestamp(signed.expires_at))
