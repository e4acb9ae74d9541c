"""The demo data `make run` ensures and prints: a platform admin and a demo tenant (slug `demo`)
with its admin, keys and a small catalog (two packages and an add-on), ready to book.

The demo tenant must be payable to sell (checkout refuses a tenant whose Stripe Connect onboarding is
not complete): on the local Stripe sandbox it is onboarded at start, as its admin would through the
onboarding link; with real Stripe keys the lines printed say that its admin must onboard first.

The platform admin comes from MAIS_ADMIN_EMAIL / MAIS_ADMIN_PASSWORD when set (the stack's options
carry them; `python -m tools.stack run` copies them from its environment), otherwise from a
password generated once and kept in `<data>/secrets/demo-admin.json`. The demo tenant's keys and admin
password are shown by the API only when created, so they are kept in `<data>/secrets/demo-tenant.json`
and printed again on every later run. Everything goes to the tenant service over gRPC with the
stack's internal credential; running it twice changes nothing.

The demo site (tools/stack/demo_site.py, a wedding business's own page on another origin) embeds
the demo tenant's widget: its origin is added to the tenant's allowed widget origins (beside any
the admin added), so the platform lets that page frame the booking app.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import grpc
import httpx
from mais.catalog.v1 import catalog_service_pb2 as catalog_pb
from mais.catalog.v1 import catalog_service_pb2_grpc as catalog_grpc
from mais.payments.v1 import payments_service_pb2 as payments_pb
from mais.payments.v1 import payments_service_pb2_grpc as payments_grpc
from mais.tenant.v1 import tenant_service_pb2 as pb
from mais.tenant.v1 import tenant_service_pb2_grpc as pb_grpc

from mais_runtime.interceptors import INTERNAL_TOKEN_HEADER
from mais_runtime.rpc_errors import from_rpc_error
from services.tenant.domain import generate_password
from tools.stack.demo_site import HostSite
from tools.stack.launcher import Stack
from tools.stack.secret_files import read_private, write_private

DEMO_ADMIN_EMAIL = "admin@mais.local"
DEMO_SLUG = "demo"
DEMO_TENANT_ADMIN = "owner@demo.mais.local"
RPC_TIMEOUT = 10.0
# How long the sandbox's account.updated may take to come back through the gateway to payments.
ONBOARDING_WAIT_SECONDS = 30.0


def _read(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    return dict(json.loads(read_private(path)))


def _write(path: Path, data: dict[str, Any]) -> None:
    write_private(path, json.dumps(data, indent=2))


def platform_admin_credentials(env: dict[str, str], secrets_dir: Path) -> tuple[str, str, bool]:
    """(email, password, from_environment): MAIS_ADMIN_EMAIL/PASSWORD as the stack passes them to its
    processes, else the ones generated once."""
    email, password = env.get("MAIS_ADMIN_EMAIL", ""), env.get("MAIS_ADMIN_PASSWORD", "")
    if email and password:
        return email, password, True
    path = secrets_dir / "demo-admin.json"
    saved = _read(path)
    if saved is None:
        saved = {"email": DEMO_ADMIN_EMAIL, "password": generate_password()}
        _write(path, saved)
    return str(saved["email"]), str(saved["password"]), False


def ensure_demo(stack: Stack) -> list[str]:
    """Ensures the demo admin and tenant exist and returns the lines to print about them."""
    secrets_dir = stack.data_dir / "secrets"
    email, password, from_env = platform_admin_credentials(stack.options.env, secrets_dir)
    metadata = ((INTERNAL_TOKEN_HEADER, stack.internal_token),)
    lines = ["", "demo:"]
    with grpc.insecure_channel(f"127.0.0.1:{stack.ports.tenant}") as channel:
        tenants = pb_grpc.TenantServiceStub(channel)
        tenants.EnsurePlatformAdmin(
            pb.EnsurePlatformAdminRequest(email=email, password=password),
            metadata=metadata,
            timeout=RPC_TIMEOUT,
        )
        lines.append(f"  platform admin:  {email}" + ("" if from_env else f" / {password}"))
        if from_env:
            lines.append("                   (password from MAIS_ADMIN_PASSWORD)")
        lines += _ensure_demo_tenant(tenants, metadata, secrets_dir / "demo-tenant.json")
    saved = _read(secrets_dir / "demo-tenant.json")
    if saved is not None:
        with grpc.insecure_channel(f"127.0.0.1:{stack.ports.catalog}") as channel:
            _ensure_demo_catalog(catalog_grpc.CatalogServiceStub(channel), metadata, str(saved["tenant_id"]))
        lines += _ensure_demo_onboarded(stack, metadata, str(saved["tenant_id"]))
    lines += [
        f"  dashboard:       {stack.public_url}/admin/  (sign in as either admin above)",
        f"  sign in:         POST {stack.url}/v1/auth/login",
        f"  public API:      {stack.url}/v1/packages  (header X-Tenant-Key)",
    ]
    return lines


def _ensure_demo_tenant(
    tenants: pb_grpc.TenantServiceStub, metadata: tuple[tuple[str, str], ...], path: Path
) -> list[str]:
    saved = _read(path)
    if saved is None:
        try:
            created = tenants.CreateTenant(
                pb.CreateTenantRequest(
                    slug=DEMO_SLUG,
                    name="Rose & Oak Weddings",
                    commission_bps=1000,
                    admin_email=DEMO_TENANT_ADMIN,
                    timezone="America/New_York",
                    currency="usd",
                ),
                metadata=metadata,
                timeout=RPC_TIMEOUT,
            )
        except grpc.RpcError as error:
            if isinstance(error, grpc.Call) and from_rpc_error(error).reason == "SLUG_TAKEN":
                # The tenant exists but this data folder lost its keys: say how to get new ones.
                return [
                    f"  demo tenant:     {DEMO_SLUG} exists, but its keys are not in {path};",
                    "                   sign in as its admin and POST /v1/tenant-admin/api-keys/rotate",
                ]
            raise
        saved = {
            "tenant_id": created.tenant.id,
            "public_key": created.public_key,
            "secret_key": created.secret_key,
            "admin_email": created.admin_email,
            "admin_password": created.admin_password,
        }
        _write(path, saved)
    return [
        f"  demo tenant:     {DEMO_SLUG} ({saved['tenant_id']})",
        f"  public key:      {saved['public_key']}",
        f"  secret key:      {saved['secret_key']}",
        f"  tenant admin:    {saved['admin_email']} / {saved['admin_password']}",
    ]


def _ensure_demo_onboarded(stack: Stack, metadata: tuple[tuple[str, str], ...], tenant_id: str) -> list[str]:
    """Completes the demo tenant's Connect onboarding on the sandbox (never on real Stripe, where only
    the business can onboard itself); the lines to print about it."""
    with grpc.insecure_channel(f"127.0.0.1:{stack.ports.tenant}") as channel:
        tenants = pb_grpc.TenantServiceStub(channel)

        def onboarded() -> bool:
            tenant = tenants.GetTenant(
                pb.GetTenantRequest(tenant_id=tenant_id), metadata=metadata, timeout=RPC_TIMEOUT
            ).tenant
            return bool(tenant.connect_state == pb.CONNECT_STATE_ONBOARDED)

        if onboarded():
            return ["  stripe connect:  onboarded"]
        if not stack.uses_sandbox:
            return [
                "  stripe connect:  NOT onboarded: checkout answers 409 TENANT_NOT_ONBOARDED until the",
                "                   tenant admin completes POST /v1/tenant-admin/stripe/connect's link",
            ]
        with grpc.insecure_channel(f"127.0.0.1:{stack.ports.payments}") as channel:
            started = payments_grpc.PaymentsServiceStub(channel).StartConnectOnboarding(
                payments_pb.StartConnectOnboardingRequest(tenant_id=tenant_id),
                metadata=metadata,
                timeout=RPC_TIMEOUT,
            )
        # The sandbox's test control finishes onboarding as the business would on Stripe's pages; its
        # account.updated event reaches payments through the gateway like any webhook.
        answer = httpx.post(
            f"{stack.sandbox_url}/_sandbox/accounts/{started.stripe_account_id}/onboard",
            timeout=RPC_TIMEOUT,
            trust_env=False,
        )
        answer.raise_for_status()
        deadline = time.monotonic() + ONBOARDING_WAIT_SECONDS
        while not onboarded():
            if time.monotonic() > deadline:
                return ["  stripe connect:  onboarding started on the sandbox, not yet recorded"]
            time.sleep(0.2)
    # The same line as on a later run: what is printed says the state, not what this run did.
    return ["  stripe connect:  onboarded"]


def ensure_demo_site(stack: Stack, site: HostSite) -> list[str]:
    """Lets `site` frame the demo tenant's widget (its origin among the allowed ones) and serves
    the demo host page there with the tenant's key and name; the line to print about it."""
    saved = _read(stack.data_dir / "secrets" / "demo-tenant.json")
    if saved is None:
        return ["  try the widget:  no demo tenant keys, so no demo site"]
    metadata = ((INTERNAL_TOKEN_HEADER, stack.internal_token),)
    with grpc.insecure_channel(f"127.0.0.1:{stack.ports.tenant}") as channel:
        name = _allow_widget_origin(
            pb_grpc.TenantServiceStub(channel), metadata, str(saved["tenant_id"]), site.origin
        )
    site.set_host_page("/", stack.public_url, str(saved["public_key"]), business=name)
    return [f"  try the widget:  {site.url}/"]


def _allow_widget_origin(
    tenants: pb_grpc.TenantServiceStub, metadata: tuple[tuple[str, str], ...], tenant_id: str, origin: str
) -> str:
    """Adds `origin` to the tenant's allowed widget origins unless it is there; the tenant's name.
    A concurrent settings change (VERSION_CONFLICT) is read again, never overwritten."""
    for _ in range(3):
        tenant = tenants.GetTenant(
            pb.GetTenantRequest(tenant_id=tenant_id), metadata=metadata, timeout=RPC_TIMEOUT
        ).tenant
        if origin.lower() in tenant.allowed_origins:
            return str(tenant.name)
        change = pb.Tenant(allowed_origins=[*tenant.allowed_origins, origin.lower()])
        try:
            tenants.UpdateTenant(
                pb.UpdateTenantRequest(
                    tenant_id=tenant_id,
                    tenant=change,
                    update_mask=["allowed_origins"],
                    actor_role=pb.ROLE_TENANT_ADMIN,
                    expected_version=tenant.version,
                ),
                metadata=metadata,
                timeout=RPC_TIMEOUT,
            )
        except grpc.RpcError as error:
            if isinstance(error, grpc.Call) and from_rpc_error(error).reason == "VERSION_CONFLICT":
                continue
            raise
        return str(tenant.name)
    raise RuntimeError("the demo tenant's settings kept changing while adding the demo site's origin")


# What the demo tenant sells: enough to try a checkout at once.
DEMO_PACKAGES = (
    ("elopement", "Elopement", "Two hours, an officiant and a photographer for the two of you.", 180_000),
    ("full-day", "Full day", "Ceremony and reception for up to 120 guests, from noon to midnight.", 650_000),
)
DEMO_ADD_ON = ("flowers", "Bouquet and boutonniere", 15_000)


def _ensure_demo_catalog(
    catalog: catalog_grpc.CatalogServiceStub, metadata: tuple[tuple[str, str], ...], tenant_id: str
) -> None:
    """Creates the demo catalog when the demo tenant sells nothing yet (so an admin's own changes
    are never overwritten)."""
    existing = catalog.ListPackages(
        catalog_pb.ListPackagesRequest(tenant_id=tenant_id, page_size=1),
        metadata=metadata,
        timeout=RPC_TIMEOUT,
    )
    if existing.packages:
        return
    package_ids = []
    for order, (slug, title, description, cents) in enumerate(DEMO_PACKAGES):
        created = catalog.CreatePackage(
            catalog_pb.CreatePackageRequest(
                tenant_id=tenant_id,
                package=catalog_pb.Package(
                    slug=slug,
                    title=title,
                    description=description,
                    price_cents=cents,
                    active=True,
                    sort_order=order,
                ),
            ),
            metadata=metadata,
            timeout=RPC_TIMEOUT,
        )
        package_ids.append(created.package.id)
    slug, title, cents = DEMO_ADD_ON
    catalog.CreateAddOn(
        catalog_pb.CreateAddOnRequest(
            tenant_id=tenant_id,
            add_on=catalog_pb.AddOn(
                slug=slug, title=title, price_cents=cents, active=True, package_ids=package_ids
            ),
        ),
        metadata=metadata,
        timeout=RPC_TIMEOUT,
    )
