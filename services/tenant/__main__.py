"""python -m services.tenant: read config, wire, serve.

Environment (besides the common MAIS_* settings): MAIS_TOKEN_SIGNING_KEY signs admin tokens,
MAIS_SECRET_KEYS is the AES-256-GCM key ring for tenant secrets, and MAIS_ADMIN_EMAIL with
MAIS_ADMIN_PASSWORD ensure the bootstrap platform admin at start. See services/tenant/settings.py.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from datetime import timedelta
from pathlib import Path

import grpc
from mais.tenant.v1 import tenant_service_pb2, tenant_service_pb2_grpc

from mais_runtime.background import every
from mais_runtime.change_feed import ChangeHub
from mais_runtime.errors import DomainError
from mais_runtime.mail import MailSettings, mailer_from_settings
from mais_runtime.outbox import OutboxDispatcher
from mais_runtime.server import ServiceRuntime, main, run_service
from services.tenant.api import TenantServicer
from services.tenant.credentials import Passwords, Tokens
from services.tenant.directory import TenantDirectory
from services.tenant.domain import SignInLimits
from services.tenant.identity import Identity, ResetSettings
from services.tenant.keyring import KeyRing
from services.tenant.settings import TenantSettings
from services.tenant.store import TenantStore
from services.tenant.team import AdminTeam, InviteSettings

CHANGES_CHANNEL = "mais_tenant_changes"

log = logging.getLogger("mais.tenant")

SWEEP_SECONDS = 60.0


def signin_limits(settings: TenantSettings) -> SignInLimits:
    """The sign-in limits the settings name."""
    return SignInLimits(
        pair_failures=settings.signin_max_failures,
        window=timedelta(seconds=settings.signin_window_seconds),
        address_failures=settings.signin_address_max_failures,
        account_failures=settings.signin_account_max_failures,
        account_window=timedelta(seconds=settings.signin_account_window_seconds),
        backoff_base=timedelta(seconds=settings.signin_backoff_base_seconds),
        backoff_max=timedelta(seconds=settings.signin_backoff_max_seconds),
    )


def build(runtime: ServiceRuntime, settings: TenantSettings) -> TenantServicer:
    """The composition root: every object the servicer needs is built here."""
    passwords = Passwords(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )
    signing_key = settings.token_signing_key
    if not signing_key:
        # Still serves (a lone service in a test); its tokens die with the process.
        log.warning("MAIS_TOKEN_SIGNING_KEY is not set; using a random key for this process only")
        signing_key = secrets.token_urlsafe(48)
    keyring = KeyRing.parse(settings.secret_keys)
    if not keyring.current_key_id:
        log.warning("MAIS_SECRET_KEYS is not set; tenant secrets cannot be stored")
    store = TenantStore(runtime.db)
    directory = TenantDirectory(
        store,
        passwords,
        keyring,
        default_grace_seconds=settings.key_grace_seconds,
        max_grace_seconds=settings.key_grace_max_seconds,
    )
    identity = Identity(
        store,
        passwords,
        Tokens(signing_key, timedelta(seconds=settings.token_ttl_seconds)),
        signin_limits(settings),
        ResetSettings(settings.reset_token_ttl_seconds, settings.reset_mails_per_hour, settings.public_url),
    )
    team = AdminTeam(store, InviteSettings(settings.invite_ttl_seconds, settings.public_url))
    # Tenants (settings, allowed origins) and API keys notify at commit (migration 008).
    changes = ChangeHub(
        settings.session_database_url,  # LISTEN: never through a pooler
        CHANGES_CHANNEL,
        application_name="mais-tenant-changes",
        connect_timeout_seconds=settings.db_connect_timeout_seconds,
    )
    runtime.background.append(changes.run)
    return TenantServicer(directory, identity, team, changes=changes.fanout)


async def serve() -> None:
    """Runs the tenant service until SIGTERM."""
    settings = TenantSettings()
    parts: dict[str, object] = {}
    mailer = mailer_from_settings(MailSettings(mais_data_dir=settings.data_dir))

    async def setup(runtime: ServiceRuntime) -> None:
        servicer = build(runtime, settings)
        parts["servicer"] = servicer
        await _bootstrap_admin(servicer.identity, settings)
        runtime.background.append(OutboxDispatcher(runtime.db, mailer).run)
        store = TenantStore(runtime.db)
        # Failures are kept as long as the longest limit looks back.
        kept = timedelta(seconds=max(settings.signin_window_seconds, settings.signin_account_window_seconds))

        async def sweep() -> None:
            async with store.platform() as tx:
                await tx.sweep(kept)

        runtime.background.append(every(SWEEP_SECONDS, sweep, name="tenant housekeeping sweep"))

    def register(server: grpc.aio.Server, runtime: ServiceRuntime) -> None:
        servicer = parts["servicer"]
        assert isinstance(servicer, TenantServicer)
        tenant_service_pb2_grpc.add_TenantServiceServicer_to_server(servicer, server)

    try:
        await run_service(
            name="tenant",
            settings=settings,
            services=[tenant_service_pb2.DESCRIPTOR.services_by_name["TenantService"]],
            register=register,
            migrations=Path(__file__).parent / "migrations",
            extra_setup=setup,
        )
    finally:
        with contextlib.suppress(Exception):
            await mailer.close()


async def _bootstrap_admin(identity: Identity, settings: TenantSettings) -> None:
    """Ensures the platform admin named by MAIS_ADMIN_EMAIL / MAIS_ADMIN_PASSWORD, when both are set."""
    if not (settings.admin_email and settings.admin_password):
        return
    try:
        _, created = await identity.ensure_platform_admin(settings.admin_email, settings.admin_password)
    except DomainError as error:
        # The message names the rule that failed, never the password.
        log.error("bootstrap platform admin not ensured: %s", error.message)
        return
    log.info("bootstrap platform admin %s", "created" if created else "present")


if __name__ == "__main__":
    main(serve)
