"""Integration suites: a real PostgreSQL (embedded, or DATABASE_URL's server) for the session,
with every service's role and schema provisioned as the stack would."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mais_runtime.db import Database
from mais_runtime.migrations import apply_migrations
from mais_runtime.provision import SERVICES, provision
from tools.stack.launcher import Ports, Stack, StackOptions
from tools.stack.pgserver import EmbeddedPostgres

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Cluster:
    """A provisioned database: the admin URL and one login URL per service role."""

    admin_url: str
    role_urls: dict[str, str]


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One PostgreSQL for the whole integration session, provisioned like the stack does."""
    data_dir = tmp_path_factory.mktemp("pg")
    passwords = {s: secrets.token_urlsafe(16) for s in SERVICES}
    server = None
    admin_url = os.environ.get("DATABASE_URL", "")
    if not admin_url:
        server = EmbeddedPostgres(data_dir, Ports.free().postgres, durable=False)
        server.start()
        admin_url = server.admin_url
    asyncio.run(provision(admin_url, passwords))
    helper = Stack(StackOptions(data_dir=data_dir, ports=Ports(), database_url=admin_url))
    helper.admin_database_url = admin_url
    (data_dir / "roles.json").write_text(json.dumps(passwords))
    try:
        yield Cluster(admin_url, {s: helper.role_url(s, passwords[s]) for s in SERVICES})
    finally:
        if server:
            server.stop("immediate")


async def service_database(cluster: Cluster, service: str) -> Database:
    """The service's own pool (as its role) with its migrations applied."""
    db = Database(
        cluster.role_urls[service], schema=service, application_name=f"test-{service}", pool_size=20
    )
    await apply_migrations(db, REPO / "services" / service / "migrations")
    return db


@pytest.fixture
async def tenant_db(cluster: Cluster) -> AsyncIterator[Database]:
    """The tenant service's database, migrated."""
    db = await service_database(cluster, "tenant")
    yield db
    await db.close()
