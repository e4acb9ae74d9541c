"""Creates each service's login role and schema with an administrator's connection.

Each service gets a role `mais_<service>` that owns schema `<service>` and has no privilege on
any other service's schema; the service then applies its own migrations as that role. Safe to
run twice and from two processes at once (an advisory lock serialises it).
"""

from __future__ import annotations

import asyncpg

SERVICES = ("tenant", "catalog", "booking", "payments")


# Extensions a service's migrations need: booking's exclusion constraint over (tenant, resource, time)
# needs btree_gist for `=` inside a gist index (services/booking/migrations/006_time_slots.sql).
EXTENSIONS: dict[str, tuple[str, ...]] = {"booking": ("btree_gist",)}


def role_name(service: str) -> str:
    """The login role of a service."""
    return f"mais_{service}"


async def provision(admin_url: str, passwords: dict[str, str], *, timeout: float = 10.0) -> None:
    """Ensures, for every service in `passwords`, its role (with that password) and its schema."""
    conn = await asyncpg.connect(admin_url, timeout=timeout)
    try:
        await conn.execute("SELECT pg_advisory_lock(hashtextextended('mais.provision', 0))")
        database = await conn.fetchval("SELECT current_database()")
        # Nobody but its owner may create objects in public; services live in their own schemas.
        await conn.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        for service, password in passwords.items():
            role = role_name(service)
            exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
            verb = "ALTER" if exists else "CREATE"
            # Identifiers are ours (SERVICES); the password goes through quote_literal server-side.
            quoted = await conn.fetchval("SELECT quote_literal($1)", password)
            await conn.execute(
                f"{verb} ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS "
                f"CONNECTION LIMIT 100 PASSWORD {quoted}"
            )
            await conn.execute(f"GRANT CONNECT ON DATABASE {_ident(database)} TO {role}")
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {service} AUTHORIZATION {role}")
            await conn.execute(f"REVOKE ALL ON SCHEMA {service} FROM PUBLIC")
            await conn.execute(f"ALTER ROLE {role} SET search_path = {service}")
            for extension in EXTENSIONS.get(service, ()):
                # Created by the administrator (a service's role may not), in the service's own schema.
                await conn.execute(f"CREATE EXTENSION IF NOT EXISTS {extension} WITH SCHEMA {service}")
        await conn.execute("SELECT pg_advisory_unlock(hashtextextended('mais.provision', 0))")
    finally:
        await conn.close()


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
