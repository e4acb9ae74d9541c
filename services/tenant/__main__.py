"""python -m services.tenant: read config, wire, serve.

Environment (besides the common MAIS_* settings): MAIS_TOKEN_SIGNING_KEY signs admin tokens,
MAIS_SECRET_KEYS is the AES-256-GCM key ring for tenant secrets, and MAIS_ADMIN_EMAIL with
MAIS_ADMIN_PASSWORD ensure the bootstrap platform admin at start. See services/tenant/settings.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
from mais.tenant.v1 import tenant_service_pb2, tenant_service_pb2_grpc

from mais_runtime.db import Database
from mais_runtime.errors import DomainError
from mais_runtime.mail import MailSettings, mailer_from_settings
from mais_runtime.outbox import OutboxDispatcher
from mais_runtime.server import ServiceRuntime, main, run_service
from services.tenant import store
from services.tenant.api import TenantServicer
from services.tenant.credentials import Passwords, Tokens
from services.tenant.directory import TenantDirectory
from services.tenant.domain import SignInLimit
from services.tenant.identity import Identity, ResetSettings
from services.tenant.keyring import KeyRing
from services.tenant.settings import TenantSettings

log = logging.getLogger("mais.tenant")

SWEEP_SECONDS = 60.0


def build(runtime: ServiceRuntime, settings: TenantSettings) -> tuple[TenantDirectory, Identity]:
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
    directory = TenantDirectory(
        runtime.db,
        passwords,
        keyring,
        default_grace_seconds=settings.key_grace_seconds,
        max_grace_seconds=settings.key_grace_max_seconds,
    )
    identity = Identity(
        runtime.db,
        passwords,
        Tokens(signing_key, timedelta(seconds=settings.token_ttl_seconds)),
        SignInLimit(settings.signin_max_failures, timedelta(seconds=settings.signin_window_seconds)),
        ResetSettings(settings.reset_token_ttl_seconds, settings.reset_mails_per_hour, settings.public_url),
    )
    return directory, identity


async def serve() -> None:
    """Runs the tenant service until SIGTERM."""
    settings = TenantSettings()
    parts: dict[str, object] = {}

    async def setup(runtime: ServiceRuntime) -> None:
        directory, identity = build(runtime, settings)
        parts["servicer"] = TenantServicer(directory, identity)
        await _bootstrap_admin(identity, settings)
        mail_settings = MailSettings(mais_data_dir=settings.data_dir)
        runtime.background.append(OutboxDispatcher(runtime.db, mailer_from_settings(mail_settings)).run)
        runtime.background.append(_sweeper(runtime.db, settings.signin_window_seconds))

    def register(server: grpc.aio.Server, runtime: ServiceRuntime) -> None:
        servicer = parts["servicer"]
        assert isinstance(servicer, TenantServicer)
        tenant_service_pb2_grpc.add_TenantServiceServicer_to_server(servicer, server)

    await run_service(
        name="tenant",
        settings=settings,
        services=[tenant_service_pb2.DESCRIPTOR.services_by_name["TenantService"]],
        register=register,
        migrations=Path(__file__).parent / "migrations",
        extra_setup=setup,
    )


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


def _sweeper(db: Database, window_seconds: int) -> Callable[[asyncio.Event], Coroutine[Any, Any, None]]:
    """A background job that keeps the limiting and reset tables small (see store.sweep)."""

    async def sweep(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with db.platform_transaction() as conn:
                    await store.sweep(conn, window_seconds)
            except Exception:
                log.warning("housekeeping sweep failed; will retry", exc_info=True)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=SWEEP_SECONDS)

    return sweep


if __name__ == "__main__":
    main(serve)
