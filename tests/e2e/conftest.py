"""End-to-end suites: the whole platform as real processes (embedded PostgreSQL, four services,
two gateways, Envoy, the Stripe sandbox) on free 127.0.0.1 ports, once per session.

Shared fixtures for every context's suite: `platform_token` (a platform admin's bearer token) and
`make_tenant()` (a fresh tenant with its keys and a signed-in admin, unique slug per call).
"""

from __future__ import annotations

import email
import email.policy
import itertools
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tools.stack.launcher import Ports, Stack, StackOptions

PLATFORM_ADMIN_EMAIL = "platform-admin@mais.test"
PLATFORM_ADMIN_PASSWORD = "Platform-" + secrets.token_urlsafe(18)


def stack_options(data_dir: Path, **env: str) -> StackOptions:
    """The test stacks' options: two gateways behind Envoy, throw-away data, processes restarted by hand
    (a test that stops one starts it again), a known platform admin; `env` adds or overrides settings."""
    return StackOptions(
        data_dir=data_dir,
        ports=Ports.free(gateways=2),
        database_url=os.environ.get("DATABASE_URL") or None,
        durable=False,
        restart=False,
        gateways=2,
        # MAIS_PGBOUNCER=1 runs the suite (and the reliability suite, which shares these options) with
        # PgBouncer in front of PostgreSQL.
        pgbouncer=os.environ.get("MAIS_PGBOUNCER", "").strip().lower() in ("1", "true", "yes"),
        env={
            "MAIS_SIGNIN_WINDOW_SECONDS": "900",
            # The bootstrap platform admin (the tenant service ensures it at start).
            "MAIS_ADMIN_EMAIL": PLATFORM_ADMIN_EMAIL,
            "MAIS_ADMIN_PASSWORD": PLATFORM_ADMIN_PASSWORD,
            # Cheap argon2id so that many sign-ins stay fast; production keeps the sane defaults.
            "MAIS_ARGON2_TIME_COST": "1",
            "MAIS_ARGON2_MEMORY_KIB": "8192",
            "MAIS_ARGON2_PARALLELISM": "1",
            # The sandbox's webhook retries after 0.1 s, 0.2 s, 0.4 s ... (Stripe's schedule, compressed):
            # a failed delivery comes back within seconds, with room for a restarted service to return.
            "STRIPE_SANDBOX_RETRY_SCALE": "0.1",
            **env,
        },
    )


@pytest.fixture(scope="session")
def stack(data_root: Path) -> Iterator[Stack]:
    """The running platform; tests that stop a process must start it again."""
    # Every e2e checkout comes from 127.0.0.1; the checkout limit has its own test in
    # tests/reliability/test_auth_attacks.py.
    # Owed balances are swept every second (not every minute) so notices show within a test's wait.
    options = stack_options(
        data_root / "stack", MAIS_CHECKOUT_RATE_LIMIT="0", MAIS_SCHEDULE_SWEEP_SECONDS="1"
    )
    with Stack(options).running(timeout=120) as running:
        yield running


@pytest.fixture
def http(stack: Stack) -> Iterator[httpx.Client]:
    """An HTTP client on the public entry (Envoy)."""
    with httpx.Client(base_url=stack.url, timeout=10.0) as client:
        yield client


T = TypeVar("T")


def eventually(check: Callable[[], T], timeout: float, interval: float = 0.1) -> T:
    """Polls `check` until it returns something truthy or `timeout` seconds pass; returns the last
    result either way (assert on it)."""
    deadline = time.monotonic() + timeout
    result = check()
    while not result and time.monotonic() < deadline:
        time.sleep(interval)
        result = check()
    return result


_source_hosts = itertools.count(2)
_client_ips = itertools.count(1)


def fresh_client_ip() -> str:
    """A client IP no other request of the session used (198.18.0.0/15, the benchmarking range)."""
    n = next(_client_ips)
    return f"198.{18 + n // 65536 % 2}.{n // 256 % 256}.{n % 256}"


@pytest.fixture
def gateways(stack: Stack) -> Iterator[list[httpx.Client]]:
    """One client per gateway process, bypassing Envoy: what one replica does, the other must see.
    Without Envoy in front, a test names the client IP itself with X-Forwarded-For."""
    ports = [stack.ports.gateway, *stack.ports.extra_gateways]
    clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0) for port in ports]
    try:
        yield clients
    finally:
        for client in clients:
            client.close()


def client_from_new_address(stack: Stack) -> httpx.Client:
    """A client whose connections come from a loopback address no other test uses (127.0.0.N), so
    the per-IP sign-in limit of one test never locks out another. Close it after use."""
    n = next(_source_hosts)
    address = f"127.0.{n // 250}.{n % 250 + 2}"
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=stack.url, timeout=10.0, transport=transport)


def platform_admin_token(stack: Stack) -> str:
    """A bearer token of the platform admin the stack bootstraps from MAIS_ADMIN_EMAIL/PASSWORD."""
    with httpx.Client(base_url=stack.url, timeout=10.0) as client:
        for _ in range(3):
            answer = client.post(
                "/v1/auth/login", json={"email": PLATFORM_ADMIN_EMAIL, "password": PLATFORM_ADMIN_PASSWORD}
            )
            # 503 is "try again" (a busy machine can miss the sign-in's deadline); nothing else is.
            if answer.status_code != 503:
                break
            time.sleep(1.0)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


@pytest.fixture(scope="session")
def platform_token(stack: Stack) -> str:
    """The platform admin's bearer token on the session's stack."""
    return platform_admin_token(stack)


@dataclass
class TenantHandle:
    """A tenant made for a test, with everything needed to call the API as it."""

    id: str
    slug: str
    public_key: str
    secret_key: str
    admin_email: str
    admin_password: str
    admin_token: str
    body: dict[str, Any]

    def public_headers(self) -> dict[str, str]:
        """Headers of a public (widget) call."""
        return {"X-Tenant-Key": self.public_key}

    def admin_headers(self) -> dict[str, str]:
        """Headers of a tenant-admin call."""
        return {"Authorization": f"Bearer {self.admin_token}"}


MakeTenant = Callable[..., TenantHandle]


def onboard(stack: Stack, tenant: TenantHandle, timeout: float = 20.0) -> str:
    """Stripe Connect onboarding of `tenant` as its admin does it (payments makes the account and a
    link, the sandbox completes it, account.updated comes back through Envoy); its account id once
    MAIS records the tenant as onboarded. Checkout refuses a tenant until then."""
    headers = tenant.admin_headers()
    with httpx.Client(base_url=stack.url, timeout=10.0) as client:
        started = client.post("/v1/tenant-admin/stripe/connect", headers=headers)
        assert started.status_code == 200, started.text
        account = str(started.json()["stripeAccountId"])
        done = httpx.post(f"{stack.sandbox_url}/_sandbox/accounts/{account}/onboard", timeout=10.0)
        assert done.status_code < 300, done.text
        onboarded = eventually(
            lambda: (
                client.get("/v1/tenant-admin/stripe/connect", headers=headers).json()["connectState"]
                == "onboarded"
            ),
            timeout,
        )
    assert onboarded, "the tenant's onboarding was not recorded"
    return account


@pytest.fixture(scope="session")
def make_tenant(stack: Stack, platform_token: str) -> MakeTenant:
    """A factory: `make_tenant(prefix="t", commission_percent=10, onboarded=True, **more_body)` creates an
    active tenant with a unique slug through `POST /v1/admin/tenants`, signs its admin in, completes its
    Stripe Connect onboarding unless `onboarded=False` (a tenant must be payable to sell), and returns a
    TenantHandle."""
    return tenant_maker(stack, platform_token)


def tenant_maker(stack: Stack, platform_token: str) -> MakeTenant:
    """`make_tenant` on any stack (a module's own one too), with its platform admin's token."""

    def make(
        prefix: str = "t", commission_percent: float = 10, onboarded: bool = True, **more: Any
    ) -> TenantHandle:
        slug = f"{prefix}-{secrets.token_hex(4)}"
        email = f"admin@{slug}.example"
        password = "Admin-" + secrets.token_urlsafe(18)
        body = {
            "slug": slug,
            "name": f"Tenant {slug}",
            "commissionPercent": commission_percent,
            "adminEmail": email,
            "adminPassword": password,
            **more,
        }
        with httpx.Client(base_url=stack.url, timeout=10.0) as client:
            created = client.post(
                "/v1/admin/tenants", json=body, headers={"Authorization": f"Bearer {platform_token}"}
            )
            assert created.status_code == 201, created.text
            login = client.post("/v1/auth/login", json={"email": email, "password": password})
            assert login.status_code == 200, login.text
        answer = created.json()
        tenant = TenantHandle(
            id=answer["tenant"]["id"],
            slug=slug,
            public_key=answer["publicKey"],
            secret_key=answer["secretKey"],
            admin_email=email,
            admin_password=password,
            admin_token=login.json()["token"],
            body=answer,
        )
        if onboarded:
            onboard(stack, tenant)
        return tenant

    return make


def mails_to(stack: Stack, address: str) -> list[email.message.EmailMessage]:
    """Every message the stack's mail sink holds for `address` (with or without a display name), in
    file-name order."""
    folder: Path = stack.data_dir / "mail"
    found = []
    for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if parseaddr(str(message["To"]))[1] == address:
            assert isinstance(message, email.message.EmailMessage)
            found.append(message)
    return found
