"""REST routes of the tenants context (see ../shared/DESIGN.md, public REST contract): admin
sign-in, sign-out, password change and reset, platform administration of tenants, a tenant admin's
own settings, team, key rotation and secrets. Rules (commission arithmetic, limits, who may do what
to whom) are the tenant service's; these routes map HTTP to its RPCs."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import grpc
from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response
from mais.tenant.v1 import tenant_service_pb2 as pb
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from pydantic.alias_generators import to_camel

from gateway.auth import (
    ADMIN_COOKIE,
    AdminContext,
    TenantContext,
    any_admin,
    bearer_token,
    came_with_cookie,
    client_ip,
    csrf_token,
    platform_admin,
    public_tenant,
    signed_in_admin,
    signed_in_tenant_admin,
    tenant_admin,
)
from gateway.errors import ApiError
from gateway.payment_terms import changed_terms, terms_json, with_fresh_read
from gateway.read_cache import EDGE_TTL_HEADER, EDGE_TTL_MS
from mais_runtime.errors import FieldViolation
from mais_runtime.payment_policy import PaymentPolicy
from mais_runtime.proto_time import json_time as _time
from mais_runtime.tenancy import is_tenant_id

router = APIRouter(tags=["tenants"])

AnyAdmin = Annotated[AdminContext, Depends(any_admin)]
PlatformAdmin = Annotated[AdminContext, Depends(platform_admin)]
TenantAdmin = Annotated[AdminContext, Depends(tenant_admin)]
# A person, not the tenant's secret key: team changes, passwords, sign-out, key rotation.
SignedInTenantAdmin = Annotated[AdminContext, Depends(signed_in_tenant_admin)]
SignedInAdmin = Annotated[AdminContext, Depends(signed_in_admin)]
UserId = Annotated[str, Path(max_length=64)]
PublicTenant = Annotated[TenantContext, Depends(public_tenant)]
TenantId = Annotated[str, Path(max_length=64)]
# The JSON bounds only keep numbers representable in their proto fields (a larger one would fail to
# serialise); the tenant service's own rules answer with the precise per-field ranges.
Int32 = Annotated[StrictInt, Field(ge=-(2**31), le=2**31 - 1)]
SecretName = Annotated[str, Path(max_length=64)]

_ROLE_NAMES = {pb.ROLE_TENANT_ADMIN: "tenant_admin", pb.ROLE_PLATFORM_ADMIN: "platform_admin"}
_CONNECT_NAMES = {
    pb.CONNECT_STATE_UNSPECIFIED: "not_started",
    pb.CONNECT_STATE_NOT_STARTED: "not_started",
    pb.CONNECT_STATE_PENDING: "pending",
    pb.CONNECT_STATE_ONBOARDED: "onboarded",
}


class _Body(BaseModel):
    """camelCase JSON bodies; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=False)


class LoginBody(_Body):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class ForgotPasswordBody(_Body):
    email: str = Field(max_length=320)


class ResetPasswordBody(_Body):
    token: str = Field(min_length=1, max_length=200)
    new_password: str = Field(max_length=1024)


class ChangePasswordBody(_Body):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class InviteBody(_Body):
    email: str = Field(max_length=320)


class BrandingBody(_Body):
    primary_color: str | None = Field(default=None, max_length=16)
    secondary_color: str | None = Field(default=None, max_length=16)
    logo_url: str | None = Field(default=None, max_length=600)
    font: str | None = Field(default=None, max_length=64)


class PolicyBody(_Body):
    min_notice_days: Int32 | None = None
    max_advance_days: Int32 | None = None
    hold_minutes: Int32 | None = None
    reminder_days: Int32 | None = None
    couple_cancel_days: Int32 | None = None
    # 0: the platform default (the answer's policyInEffect says what applies).
    max_live_holds_per_email: Int32 | None = None
    max_live_holds_per_address: Int32 | None = None


class SettingsBody(_Body):
    """What a tenant admin may change about their own business."""

    name: str | None = Field(default=None, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    currency: str | None = Field(default=None, max_length=8)
    # Reply-To of the business's emails.
    contact_email: str | None = Field(default=None, max_length=320)
    branding: BrandingBody | None = None
    allowed_origins: list[Annotated[str, Field(max_length=300)]] | None = Field(default=None, max_length=50)
    policy: PolicyBody | None = None
    # Deposit and balance terms (mais_runtime.payment_policy's JSON); any subset of its fields.
    payment_policy: dict[str, Any] | None = None
    # The version last read; when sent, a concurrent change is refused with VERSION_CONFLICT.
    version: StrictInt | None = Field(default=None, ge=1, le=2**63 - 1)


class TenantPatchBody(SettingsBody):
    """A platform admin may also change activation and commission."""

    active: bool | None = None
    # Passed on as written; the tenant service checks the range and precision.
    commission_percent: Decimal | None = None


class CreateTenantBody(_Body):
    slug: str = Field(max_length=64)
    name: str = Field(max_length=200)
    commission_percent: Decimal
    admin_email: str = Field(max_length=320)
    admin_password: str | None = Field(default=None, max_length=1024)
    timezone: str | None = Field(default=None, max_length=64)
    currency: str | None = Field(default=None, max_length=8)


class RotateKeysBody(_Body):
    # How long the previous public key keeps working; 0 revokes it now; absent: the default (24 h).
    grace_seconds: StrictInt | None = Field(default=None, ge=0, le=2**31 - 1)


class SecretBody(_Body):
    value: str = Field(min_length=1, max_length=8192)


# --- JSON shapes -----------------------------------------------------------------------------


def tenant_json(tenant: pb.Tenant) -> dict[str, Any]:
    """The public JSON of a tenant."""
    return {
        "id": tenant.id,
        "slug": tenant.slug,
        "name": tenant.name,
        "active": tenant.active,
        "commissionBps": tenant.commission_bps,
        "commissionPercent": float(tenant.commission_percent or 0),
        "stripeAccountId": tenant.stripe_account_id or None,
        "connectState": _CONNECT_NAMES.get(tenant.connect_state, "not_started"),
        "branding": {
            "primaryColor": tenant.branding.primary_color,
            "secondaryColor": tenant.branding.secondary_color,
            "logoUrl": tenant.branding.logo_url or None,
            "font": tenant.branding.font,
        },
        "allowedOrigins": list(tenant.allowed_origins),
        "timezone": tenant.timezone,
        "policy": {
            "minNoticeDays": tenant.policy.min_notice_days,
            "maxAdvanceDays": tenant.policy.max_advance_days,
            "holdMinutes": tenant.policy.hold_minutes,
            "reminderDays": tenant.policy.reminder_days,
            "coupleCancelDays": tenant.policy.couple_cancel_days,
            "maxLiveHoldsPerEmail": tenant.policy.max_live_holds_per_email,
            "maxLiveHoldsPerAddress": tenant.policy.max_live_holds_per_address,
        },
        # What applies (0 above means the platform default).
        "policyInEffect": {
            "holdMinutes": tenant.policy.hold_minutes,
            "maxLiveHoldsPerEmail": tenant.policy.effective_max_live_holds_per_email,
            "maxLiveHoldsPerAddress": tenant.policy.effective_max_live_holds_per_address,
        },
        "contactEmail": tenant.contact_email or None,
        "paymentPolicy": terms_json(tenant.payment_policy),
        "currency": tenant.currency,
        "createdAt": _time(tenant.created_at),
        "version": tenant.version,
    }


def _tenant_path_id(tenant_id: str) -> str:
    # An id that cannot exist is simply not found (no hint about id formats).
    if not is_tenant_id(tenant_id):
        raise ApiError("NOT_FOUND", "tenant not found")
    return tenant_id


def _null(field: str) -> ApiError:
    return ApiError("VALIDATION_ERROR", f"{field} cannot be null", [FieldViolation(field, "cannot be null")])


def _change(body: SettingsBody) -> tuple[pb.Tenant, list[str], str]:
    """The proto change, its update mask and the commission percent as written, from the fields the
    body actually carried."""
    change = pb.Tenant()
    mask: list[str] = []
    percent = ""
    sent = body.model_fields_set
    for field in ("name", "timezone", "currency", "contact_email"):
        if field in sent:
            value = getattr(body, field)
            if value is None:
                raise _null(to_camel(field))
            setattr(change, field, value)
            mask.append(field)
    if "allowed_origins" in sent:
        change.allowed_origins.extend(body.allowed_origins or [])
        mask.append("allowed_origins")
    for group, sub_body in (("branding", body.branding), ("policy", body.policy)):
        if group in sent and sub_body is not None:
            for field in sub_body.model_fields_set:
                value = getattr(sub_body, field)
                if value is None:
                    raise _null(f"{group}.{to_camel(field)}")
                setattr(getattr(change, group), field, value)
                mask.append(f"{group}.{field}")
    if isinstance(body, TenantPatchBody):
        if "active" in sent and body.active is not None:
            change.active = body.active
            mask.append("active")
        if "commission_percent" in sent and body.commission_percent is not None:
            percent = str(body.commission_percent)
            mask.append("commission_percent")
    if not mask and "payment_policy" not in sent:
        raise ApiError("VALIDATION_ERROR", "the body names no field to change")
    return change, mask, percent


async def _update_tenant(
    request: Request, tenant_id: str, body: SettingsBody, role: pb.Role.ValueType
) -> pb.Tenant:
    """UpdateTenant with the body's fields. Payment terms change field by field in JSON but are
    stored whole, so they are applied to the terms as read, written with that read's version."""
    change, mask, percent = _change(body)
    tenants = request.app.state.clients.tenant

    async def write(version: int) -> pb.Tenant:
        answer = await tenants.UpdateTenant(
            pb.UpdateTenantRequest(
                tenant_id=tenant_id,
                tenant=change,
                update_mask=mask,
                actor_role=role,
                expected_version=version,
                commission_percent=percent,
            )
        )
        return answer.tenant  # type: ignore[no-any-return]

    if "payment_policy" not in body.model_fields_set:
        return await write(body.version or 0)
    if body.payment_policy is None:
        raise _null("paymentPolicy")
    mask.append("payment_policy")

    async def read_change_write() -> pb.Tenant:
        current = (await tenants.GetTenant(pb.GetTenantRequest(tenant_id=tenant_id))).tenant
        terms = PaymentPolicy.from_proto(current.payment_policy)
        change.payment_policy.CopyFrom(changed_terms(terms, body.payment_policy))
        return await write(body.version or current.version)

    return await with_fresh_read(read_change_write, retry=not body.version)


# --- public ------------------------------------------------------------------------------------


@router.get("/v1/tenant", summary="The business behind the public key (for the widget)")
async def public_profile(ctx: PublicTenant, response: Response) -> dict[str, Any]:
    """Name, branding, timezone, currency and booking policy; nothing about money or accounts."""
    response.headers[EDGE_TTL_HEADER] = str(EDGE_TTL_MS)  # the edge may keep it as briefly (ADR 0026)
    full = tenant_json(ctx.tenant)
    return {key: full[key] for key in ("slug", "name", "branding", "timezone", "currency", "policy")}


# --- sign-in ---------------------------------------------------------------------------------


@router.post("/v1/auth/login", summary="Sign an admin in")
async def login(request: Request, body: LoginBody) -> dict[str, Any]:
    """`{email, password}` → `{token, expiresAt, role, tenantId}`; 401 for a wrong pair, 429 with
    Retry-After past a limit: 5 failures in 15 minutes for the account from this client address, or
    (not from an address the account signed in from before) many failures from this address or
    against the account from anywhere (ADR 0014)."""
    answer = await _sign_in(request, body)
    return {"token": answer.token, **_signed_in_json(answer)}


@router.post("/v1/auth/session", summary="Sign an admin in to the dashboards (a session cookie)")
async def start_session(request: Request, body: LoginBody, response: Response) -> dict[str, Any]:
    """The same sign-in, limits and refusals as `/v1/auth/login`, but the token goes into the HttpOnly
    `mais_admin` cookie (SameSite=Strict, for the token's lifetime) instead of the answer, which carries
    the `csrfToken` every change made with the cookie must send as `X-CSRF-Token`."""
    answer = await _sign_in(request, body)
    response.headers.append("Set-Cookie", _session_cookie(request, answer.token, _lifetime(answer)))
    return {
        **_signed_in_json(answer),
        "csrfToken": csrf_token(request.app.state.settings.internal_token, answer.token),
    }


@router.delete("/v1/auth/session", status_code=204, summary="Sign out of the dashboards")
async def end_session(request: Request) -> Response:
    """Revokes the session's token on every gateway at once and clears the cookie (a request that
    comes with a token no longer valid gets its 401 with the cookie cleared as well)."""
    clear = _session_cookie(request, "", 0)
    try:
        await signed_in_admin(request)
    except ApiError as refused:
        if refused.code == "UNAUTHENTICATED":
            refused.headers["Set-Cookie"] = clear
        raise
    await request.app.state.clients.tenant.SignOut(pb.SignOutRequest(token=bearer_token(request)))
    return Response(status_code=204, headers={"Set-Cookie": clear})


async def _sign_in(request: Request, body: LoginBody) -> pb.SignInResponse:
    answer: pb.SignInResponse = await request.app.state.clients.tenant.SignIn(
        pb.SignInRequest(email=body.email, password=body.password, client_ip=client_ip(request))
    )
    return answer


def _signed_in_json(answer: pb.SignInResponse) -> dict[str, Any]:
    return {
        "expiresAt": _time(answer.expires_at),
        "role": _ROLE_NAMES.get(answer.role, "tenant_admin"),
        "tenantId": answer.tenant_id or None,
        "email": answer.email,
    }


def _lifetime(answer: pb.SignInResponse | pb.ChangePasswordResponse) -> int:
    """Whole seconds until the token expires (the cookie's Max-Age)."""
    left = answer.expires_at.ToDatetime(tzinfo=UTC) - datetime.now(UTC)
    return max(0, int(left.total_seconds()))


def _session_cookie(request: Request, token: str, max_age: int) -> str:
    """The Set-Cookie value of the session cookie (Secure when the platform is served over https)."""
    cookie = f"{ADMIN_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}"
    if request.app.state.settings.public_url.strip().lower().startswith("https://"):
        cookie += "; Secure"
    return cookie


@router.post("/v1/auth/forgot-password", status_code=202, summary="Ask for a password reset link")
async def forgot_password(request: Request, body: ForgotPasswordBody) -> dict[str, str]:
    """Always the same answer, whether or not the address has an account."""
    await request.app.state.clients.tenant.RequestPasswordReset(
        pb.RequestPasswordResetRequest(email=body.email, client_ip=client_ip(request))
    )
    return {
        "status": "accepted",
        "message": "If this address has an admin account, a reset link is on its way.",
    }


@router.post("/v1/auth/reset-password", summary="Set a new password with a reset token")
async def reset_password(request: Request, body: ResetPasswordBody) -> dict[str, str]:
    """Works once per token (a reset's within an hour, an invitation's within a week); earlier
    sign-in tokens stop working, the account's sign-in lock is lifted, an invited admin is active."""
    await request.app.state.clients.tenant.ResetPassword(
        pb.ResetPasswordRequest(token=body.token, new_password=body.new_password)
    )
    return {"status": "ok"}


@router.post("/v1/auth/logout", status_code=204, summary="Sign out (the token stops working)")
async def logout(request: Request, _: SignedInAdmin) -> Response:
    """Revokes the bearer token (or the session cookie's, then clearing it) on every gateway at once;
    other sign-ins stay."""
    await request.app.state.clients.tenant.SignOut(pb.SignOutRequest(token=bearer_token(request)))
    if came_with_cookie(request):
        return Response(status_code=204, headers={"Set-Cookie": _session_cookie(request, "", 0)})
    return Response(status_code=204)


@router.post("/v1/auth/password", summary="Change the signed-in admin's password")
async def change_password(
    request: Request, body: ChangePasswordBody, response: Response, _: SignedInAdmin
) -> dict[str, Any]:
    """`{currentPassword, newPassword}` → a fresh `{token, expiresAt}`; every other sign-in (and the
    token used for this call) ends. Made with the session cookie, the fresh token replaces the cookie
    instead (the answer carries `{expiresAt, csrfToken}`, never the token)."""
    answer = await request.app.state.clients.tenant.ChangePassword(
        pb.ChangePasswordRequest(
            token=bearer_token(request),
            current_password=body.current_password,
            new_password=body.new_password,
        )
    )
    if came_with_cookie(request):
        response.headers.append("Set-Cookie", _session_cookie(request, answer.token, _lifetime(answer)))
        return {
            "expiresAt": _time(answer.expires_at),
            "csrfToken": csrf_token(request.app.state.settings.internal_token, answer.token),
        }
    return {"token": answer.token, "expiresAt": _time(answer.expires_at)}


@router.get("/v1/auth/me", summary="Who the bearer token (or the session cookie) belongs to")
async def me(request: Request, admin: AnyAdmin) -> dict[str, Any]:
    """The signed-in admin, with their tenant for a tenant admin; with the session cookie, also the
    session's `csrfToken` (a reloaded dashboard gets it back here)."""
    body: dict[str, Any] = {
        "userId": admin.user_id,
        "email": admin.email,
        "role": admin.role,
        "tenantId": admin.tenant_id or None,
        "credential": admin.credential,
    }
    if came_with_cookie(request):
        body["csrfToken"] = csrf_token(request.app.state.settings.internal_token, bearer_token(request))
    if admin.tenant_id:
        answer = await request.app.state.clients.tenant.GetTenant(
            pb.GetTenantRequest(tenant_id=admin.tenant_id)
        )
        body["tenant"] = tenant_json(answer.tenant)
    return body


# --- platform administration -----------------------------------------------------------------


@router.get("/v1/admin/tenants", summary="List tenants (platform admin)")
async def list_tenants(
    request: Request,
    _: PlatformAdmin,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str, Query(max_length=200)] = "",
    q: Annotated[str, Query(max_length=400)] = "",
) -> dict[str, Any]:
    """Tenants by slug, `limit` at a time; pass `nextCursor` back as `cursor` (with the same `q`) for
    the next page. `q` (trimmed, at most 100 characters) keeps the tenants whose name, slug or an
    admin's email contains it, in any case."""
    answer = await request.app.state.clients.tenant.ListTenants(
        pb.ListTenantsRequest(page_size=limit, page_token=cursor, query=q)
    )
    return {
        "items": [tenant_json(t) for t in answer.tenants],
        "nextCursor": answer.next_page_token or None,
    }


@router.post("/v1/admin/tenants", status_code=201, summary="Create a tenant (platform admin)")
async def create_tenant(request: Request, body: CreateTenantBody, _: PlatformAdmin) -> dict[str, Any]:
    """The tenant, its keys and its first admin; the secret key (and a generated password) are
    shown only in this answer."""
    answer = await request.app.state.clients.tenant.CreateTenant(
        pb.CreateTenantRequest(
            slug=body.slug,
            name=body.name,
            commission_percent=str(body.commission_percent),
            admin_email=body.admin_email,
            admin_password=body.admin_password or "",
            timezone=body.timezone or "",
            currency=body.currency or "",
        )
    )
    admin: dict[str, str] = {"email": answer.admin_email}
    if answer.admin_password:
        admin["password"] = answer.admin_password
    return {
        "tenant": tenant_json(answer.tenant),
        "publicKey": answer.public_key,
        "secretKey": answer.secret_key,
        "admin": admin,
    }


@router.get("/v1/admin/tenants/{tenant_id}", summary="Read a tenant (platform admin)")
async def get_tenant(request: Request, tenant_id: TenantId, _: PlatformAdmin) -> dict[str, Any]:
    """One tenant, active or not."""
    answer = await request.app.state.clients.tenant.GetTenant(
        pb.GetTenantRequest(tenant_id=_tenant_path_id(tenant_id))
    )
    return tenant_json(answer.tenant)


@router.patch("/v1/admin/tenants/{tenant_id}", summary="Change a tenant (platform admin)")
async def patch_tenant(
    request: Request,
    body: TenantPatchBody,
    tenant_id: TenantId,
    _: PlatformAdmin,
) -> dict[str, Any]:
    """Any subset of the settings, plus `active` and `commissionPercent`."""
    tenant = await _update_tenant(request, _tenant_path_id(tenant_id), body, pb.ROLE_PLATFORM_ADMIN)
    return tenant_json(tenant)


@router.delete("/v1/admin/tenants/{tenant_id}", summary="Deactivate a tenant (platform admin)")
async def deactivate_tenant(request: Request, tenant_id: TenantId, _: PlatformAdmin) -> dict[str, Any]:
    """Stops the tenant's public API and its admins' sign-in; nothing is deleted (PATCH
    `{"active": true}` brings it back)."""
    answer = await request.app.state.clients.tenant.UpdateTenant(
        pb.UpdateTenantRequest(
            tenant_id=_tenant_path_id(tenant_id),
            tenant=pb.Tenant(active=False),
            update_mask=["active"],
            actor_role=pb.ROLE_PLATFORM_ADMIN,
        )
    )
    return tenant_json(answer.tenant)


# --- a tenant admin's own business -----------------------------------------------------------


@router.get("/v1/tenant-admin/settings", summary="The signed-in tenant's settings")
async def get_settings(request: Request, admin: TenantAdmin) -> dict[str, Any]:
    """The tenant of the token (never one named by the request), with its newest working public key
    (`publicKey`: public by nature; the dashboard's embed snippet and widget preview use it)."""
    answer = await request.app.state.clients.tenant.GetTenant(pb.GetTenantRequest(tenant_id=admin.tenant_id))
    return await _settings_json(request, answer.tenant)


async def _settings_json(request: Request, tenant: pb.Tenant) -> dict[str, Any]:
    body = tenant_json(tenant)
    try:
        keys = await request.app.state.clients.tenant.ResolveTenantSlug(
            pb.ResolveTenantSlugRequest(slug=tenant.slug)
        )
        body["publicKey"] = keys.public_key or None
    except grpc.aio.AioRpcError as error:
        if error.code() != grpc.StatusCode.NOT_FOUND:  # no working key (all revoked): none to show
            raise
        body["publicKey"] = None
    return body


@router.patch("/v1/tenant-admin/settings", summary="Change the signed-in tenant's settings")
async def patch_settings(request: Request, body: SettingsBody, admin: TenantAdmin) -> dict[str, Any]:
    """Name, contact email, branding, allowed origins, timezone, currency, booking policy, payment
    terms (`paymentPolicy`: any subset of its fields, the rest kept); any subset."""
    tenant = await _update_tenant(request, admin.tenant_id, body, pb.ROLE_TENANT_ADMIN)
    return await _settings_json(request, tenant)


@router.post("/v1/tenant-admin/api-keys/rotate", summary="Issue a new key pair")
async def rotate_keys(
    request: Request,
    admin: SignedInTenantAdmin,
    body: Annotated[RotateKeysBody | None, Body()] = None,
) -> dict[str, Any]:
    """A new public and secret key (the secret shown only here); the old pair keeps working for
    `graceSeconds` (default 24 h, 0 to revoke it now). Pairs rotated out earlier keep the grace they
    were given. Needs a person's sign-in: a leaked secret key cannot renew itself."""
    message = pb.RotateApiKeysRequest(tenant_id=admin.tenant_id)
    if body is not None and body.grace_seconds is not None:
        message.grace_seconds = body.grace_seconds
    answer = await request.app.state.clients.tenant.RotateApiKeys(message)
    return {
        "publicKey": answer.public_key,
        "secretKey": answer.secret_key,
        "previousKeyExpiresAt": _time(answer.previous_key_expires_at),
    }


@router.put("/v1/tenant-admin/secrets/{name}", summary="Store a secret (e.g. a calendar credential)")
async def put_secret(
    request: Request,
    body: SecretBody,
    name: SecretName,
    admin: TenantAdmin,
) -> dict[str, Any]:
    """Sealed with AES-256-GCM; the value is never shown again, only when and under which key."""
    answer = await request.app.state.clients.tenant.PutTenantSecret(
        pb.PutTenantSecretRequest(tenant_id=admin.tenant_id, name=name, value=body.value)
    )
    return {"name": name, "keyId": answer.key_id, "updatedAt": _time(answer.updated_at)}


@router.get("/v1/tenant-admin/secrets/{name}", summary="Whether a secret is stored")
async def describe_secret(request: Request, name: SecretName, admin: TenantAdmin) -> dict[str, Any]:
    """The secret's metadata (never its value); 404 when this tenant has none by that name."""
    answer = await request.app.state.clients.tenant.DescribeTenantSecret(
        pb.DescribeTenantSecretRequest(tenant_id=admin.tenant_id, name=name)
    )
    return {"name": answer.name, "keyId": answer.key_id, "updatedAt": _time(answer.updated_at)}


# --- a tenant's team -------------------------------------------------------------------------


def _user_json(user: pb.AdminUser) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "role": _ROLE_NAMES.get(user.role, "tenant_admin"),
        "active": user.active,
        "createdAt": _time(user.created_at),
    }


@router.get("/v1/tenant-admin/users", summary="The business's admin users")
async def list_users(
    request: Request,
    admin: TenantAdmin,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str, Query(max_length=400)] = "",
) -> dict[str, Any]:
    """Admins oldest first, invited ones (`active: false`) included."""
    answer = await request.app.state.clients.tenant.ListAdminUsers(
        pb.ListAdminUsersRequest(tenant_id=admin.tenant_id, page_size=limit, page_token=cursor)
    )
    return {"items": [_user_json(u) for u in answer.users], "nextCursor": answer.next_page_token or None}


@router.post("/v1/tenant-admin/users", status_code=201, summary="Invite an admin user")
async def invite_user(
    request: Request,
    body: InviteBody,
    admin: SignedInTenantAdmin,
    idempotency_key: Annotated[str, Header(max_length=128)] = "",
) -> dict[str, Any]:
    """Mails the address a link to set a password; the user is inactive until then. Sending the same
    `Idempotency-Key` again answers the same and mails nothing more."""
    answer = await request.app.state.clients.tenant.InviteAdminUser(
        pb.InviteAdminUserRequest(
            tenant_id=admin.tenant_id,
            email=body.email,
            invited_by_user_id=admin.user_id,
            request_id=idempotency_key,
        )
    )
    return _user_json(answer.user)


@router.delete("/v1/tenant-admin/users/{user_id}", status_code=204, summary="Remove an admin user")
async def remove_user(request: Request, user_id: UserId, admin: SignedInTenantAdmin) -> Response:
    """Their tokens stop at once; 409 for the business's last active admin."""
    await request.app.state.clients.tenant.RemoveAdminUser(
        pb.RemoveAdminUserRequest(tenant_id=admin.tenant_id, user_id=user_id)
    )
    return Response(status_code=204)
