"""PgBouncer in front of PostgreSQL (`StackOptions.pgbouncer`, `MAIS_PGBOUNCER=1`): Debian's `pgbouncer`
in transaction mode on 127.0.0.1 and its own recorded port, its configuration and user list rendered
into the data folder from the services' roles and their passwords (the user list is private, 0600).

Behind it the services run with `MAIS_DB_TRANSACTION_POOLER=true` (mais_runtime/db.py: no named
prepared statements, search_path and the timeouts sent as SET LOCAL with every BEGIN, the tenant scope
always transaction-local), while what needs a session of its own — LISTEN (the change feeds, catalog's
cache) and migrations (a session advisory lock) — logs in directly with `MAIS_DATABASE_DIRECT_URL`.

Pool sizes (per service role, i.e. per database/user pair): `POOL_SIZE` server connections, plus
`RESERVE_POOL_SIZE` for a burst that waited `RESERVE_POOL_TIMEOUT_SECONDS`; so PostgreSQL sees at most
`len(roles) * (POOL_SIZE + RESERVE_POOL_SIZE)` connections from PgBouncer however many replicas run,
while up to `MAX_CLIENT_CONNECTIONS` service connections are accepted. A client waits at most
`QUERY_WAIT_TIMEOUT_SECONDS` for a server connection, then is refused (the pool's own timeout is 5 s)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from tools.stack.pgserver import SERVER_USER
from tools.stack.secret_files import write_private

BINARY = "/usr/sbin/pgbouncer"
POOL_SIZE = 20
RESERVE_POOL_SIZE = 5
RESERVE_POOL_TIMEOUT_SECONDS = 1
MAX_CLIENT_CONNECTIONS = 2000
QUERY_WAIT_TIMEOUT_SECONDS = 5
# A server connection unused this long is closed (PostgreSQL's count falls back when load does).
SERVER_IDLE_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class PgBouncerConfig:
    """Where PgBouncer listens and what it forwards to."""

    port: int
    server_host: str
    server_port: int
    database: str
    # role name -> password (the services' login roles).
    passwords: dict[str, str]


def binary() -> str:
    """The pgbouncer executable (Debian's package; `make` installs it)."""
    found = BINARY if os.access(BINARY, os.X_OK) else shutil.which("pgbouncer")
    if not found:
        raise RuntimeError("pgbouncer is not installed (run make, or apt-get install pgbouncer)")
    return found


def config_from_admin_url(admin_url: str, port: int, passwords: dict[str, str]) -> PgBouncerConfig:
    """The configuration for a PostgreSQL given by its administrator's URL (host, port, database)."""
    parts = urlsplit(admin_url)
    database = parts.path.lstrip("/") or "postgres"
    return PgBouncerConfig(port, parts.hostname or "127.0.0.1", parts.port or 5432, database, passwords)


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def render(config: PgBouncerConfig, folder: Path, *, pool_size: int = POOL_SIZE) -> Path:
    """Writes `pgbouncer.ini` and `pgbouncer-users.txt` (both 0600) into `folder`; returns the .ini.
    `pool_size`: server connections per role (tests use 1 to force every transaction onto one)."""
    if not 1 <= pool_size <= 200:
        raise ValueError(f"pool_size must be 1 to 200: {pool_size}")
    for name, value in [("database", config.database), ("server host", config.server_host)]:
        if not value.replace("_", "").replace("-", "").replace(".", "").isalnum():
            raise ValueError(f"PgBouncer {name} must be a plain name: {value!r}")
    users = folder / "pgbouncer-users.txt"
    write_private(
        users,
        "".join(f"{_quoted(role)} {_quoted(password)}\n" for role, password in config.passwords.items()),
    )
    ini = f"""\
;; Rendered by tools/stack/pgbouncer.py at every start; edits are overwritten.
[databases]
{config.database} = host={config.server_host} port={config.server_port} dbname={config.database}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {config.port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {users}
pool_mode = transaction
default_pool_size = {pool_size}
min_pool_size = 0
reserve_pool_size = {RESERVE_POOL_SIZE if pool_size > 1 else 0}
reserve_pool_timeout = {RESERVE_POOL_TIMEOUT_SECONDS}
max_client_conn = {MAX_CLIENT_CONNECTIONS}
max_user_connections = {pool_size + (RESERVE_POOL_SIZE if pool_size > 1 else 0)}
query_wait_timeout = {QUERY_WAIT_TIMEOUT_SECONDS}
server_idle_timeout = {SERVER_IDLE_TIMEOUT_SECONDS}
server_connect_timeout = 5
server_login_retry = 1
;; Transaction mode hands a server connection back at COMMIT and runs no reset query: nothing of a
;; session may outlive a transaction, so the services keep every setting transaction-local (SET LOCAL,
;; set_config(..., true)); tests/integration/test_pgbouncer.py proves it without a reset to hide a leak.
ignore_startup_parameters = extra_float_digits
log_connections = 0
log_disconnections = 0
log_pooler_errors = 1
stats_period = 60
"""
    path = folder / "pgbouncer.ini"
    write_private(path, ini)
    return path


def argv(ini: Path) -> list[str]:
    """The command line: in the foreground (its log goes to the process's log file); under root as the
    embedded PostgreSQL's unprivileged user (PgBouncer refuses to run as root; it reads its files first)."""
    command = [binary()]
    if os.geteuid() == 0:
        command += ["-u", SERVER_USER]
    return [*command, str(ini)]


def pooled_url(role_url: str, port: int) -> str:
    """A service's login URL with PgBouncer's address in place of PostgreSQL's."""
    parts = urlsplit(role_url)
    user = quote(unquote(parts.username or ""), safe="")
    password = quote(unquote(parts.password or ""), safe="")
    return f"{parts.scheme}://{user}:{password}@127.0.0.1:{port}{parts.path}"
