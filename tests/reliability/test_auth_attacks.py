"""Attacks on who-is-calling, through Envoy: forged and stale admin tokens, forged Stripe webhooks,
brute force (sign-in and checkout limits), other sites' browsers (CORS), missing security headers, and
the services' internal gRPC ports."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import jwt
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from mais.booking.v1 import booking_service_pb2 as booking_pb
from mais.booking.v1 import booking_service_pb2_grpc as booking_grpc
from mais.catalog.v1 import catalog_service_pb2 as catalog_pb
from mais.catalog.v1 import catalog_service_pb2_grpc as catalog_grpc
from mais.payments.v1 import payments_service_pb2 as payments_pb
from mais.payments.v1 import payments_service_pb2_grpc as payments_grpc
from mais.tenant.v1 import tenant_service_pb2 as tenant_pb
from mais.tenant.v1 import tenant_service_pb2_grpc as tenant_grpc

from gateway.middleware import SECURITY_HEADERS
from tests.e2e.conftest import MakeTenant, client_from_new_address, fresh_client_ip
from tests.reliability.conftest import CHECKOUT_RATE_LIMIT
from tests.reliability.figures import Figures
from tests.reliability.shop import (
    Sandbox,
    Shop,
    a_free_day,
    assert_error,
    booking_as_admin,
    counting,
    open_shop,
    session_of,
    wait_for,
)
from tools.stack.launcher import Stack

CATEGORY = "auth"


@pytest.fixture
def counted(http: httpx.Client, figures: Figures) -> Iterator[httpx.Client]:
    """The public client, each answer counted under "auth" (a 5xx or a non-envelope error fails)."""
    with counting(http, figures, CATEGORY) as client:
        yield client


@pytest.fixture(scope="module")
def shop(api: httpx.Client, make_tenant: MakeTenant) -> Shop:
    return open_shop(api, make_tenant, "auth")


# --- admin tokens --------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims_of(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def _forge(claims: dict[str, Any], key: str, **changes: Any) -> str:
    body = {**claims, **changes}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm="HS256")


def _forged_tokens(stack: Stack, genuine: str) -> dict[str, str]:
    """Tokens that must all be refused; those signed with the platform's real key prove that the
    signature alone is not enough (expiry, audience and issuer are checked too)."""
    key = (stack.data_dir / "secrets" / "token-signing-key").read_text().strip()
    claims = _claims_of(genuine)
    now = int(time.time())
    header, payload, signature = genuine.split(".")
    promoted = _b64(json.dumps({**claims, "role": "platform_admin", "tid": ""}).encode())
    unsigned = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return {
        "expired": _forge(claims, key, iat=now - 7200, exp=now - 60),
        "tampered-payload": f"{header}.{promoted}.{signature}",
        "tampered-signature": f"{header}.{payload}.{signature[:-4]}AAAA",
        "alg-none": f"{unsigned}.{_b64(json.dumps(claims).encode())}.",
        "alg-none-promoted": f"{unsigned}.{promoted}.",
        "wrong-audience": _forge(claims, key, aud="mais.widget"),
        "no-audience": _forge(claims, key, aud=None),
        "wrong-issuer": _forge(claims, key, iss="someone.else"),
        "no-expiry": _forge(claims, key, exp=None),
        "other-key": _forge(claims, "not-the-platform-key-" + "x" * 40),
        "unknown-user": _forge(claims, key, sub=str(uuid.uuid4())),
        "hs512": jwt.encode(claims, key, algorithm="HS512"),
        "garbage": "not.a.token",
    }


def test_forged_expired_and_misdirected_tokens_are_all_refused_with_401(
    stack: Stack, counted: httpx.Client, shop: Shop, platform_token: str
) -> None:
    genuine = shop.tenant.admin_token
    assert counted.get("/v1/auth/me", headers=shop.tenant.admin_headers()).status_code == 200
    for name, token in {
        **_forged_tokens(stack, genuine),
        **{f"platform-{k}": v for k, v in _forged_tokens(stack, platform_token).items()},
    }.items():
        headers = {"Authorization": f"Bearer {token}"}
        for path in ("/v1/auth/me", "/v1/tenant-admin/settings", "/v1/admin/tenants"):
            answer = counted.get(path, headers=headers)
            assert answer.status_code == 401, f"{name} on {path}: {answer.status_code} {answer.text}"
            assert_error(answer, 401, "UNAUTHENTICATED")


# --- webhooks ------------------------------------------------------------------------------------


def _signed(payload: bytes, secret: str, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def test_forged_stale_and_altered_webhooks_are_refused_with_400_and_process_nothing(
    stack: Stack, counted: httpx.Client, shop: Shop, figures: Figures
) -> None:
    sandbox = Sandbox(stack)
    started = counted.post(
        "/v1/bookings/checkout", json=shop.checkout_body(a_free_day()), headers=shop.tenant.public_headers()
    )
    assert started.status_code == 201, started.text
    booking_id, session = started.json()["bookingId"], session_of(started.json()["checkoutUrl"])
    sandbox.hold_deliveries()
    try:
        assert sandbox.pay(started.json()["checkoutUrl"]).status_code == 200
        event = sandbox.event_for(session, "checkout.session.completed")
        payload = json.dumps(event).encode()
        secret = stack.options.webhook_secret
        now = int(time.time())
        altered = json.dumps(
            {**event, "data": {"object": {**event["data"]["object"], "amount_total": 1}}}
        ).encode()
        attempts = {
            "wrong secret": (payload, _signed(payload, "whsec_" + "0" * 32, now)),
            "stale timestamp": (payload, _signed(payload, secret, now - 3600)),
            "body changed after signing": (altered, _signed(payload, secret, now)),
            "no v1 signature": (payload, f"t={now},v0=abc"),
            "empty header": (payload, ""),
        }
        for name, (body, header) in attempts.items():
            answer = counted.post(
                "/v1/webhooks/stripe",
                content=body,
                headers={"Stripe-Signature": header, "content-type": "application/json"},
            )
            assert answer.status_code == 400, f"{name}: {answer.status_code} {answer.text}"
            assert_error(answer, 400, "INVALID_SIGNATURE")
        events = counted.get("/v1/tenant-admin/payments/events", headers=shop.tenant.admin_headers()).json()
        assert all(e["stripeEventId"] != event["id"] for e in events["items"]), "a refused event was stored"
        assert booking_as_admin(counted, shop, booking_id)["status"] == "HELD"
    finally:
        sandbox.release_deliveries()
        sandbox.close()
    # The genuine delivery, released now, is what confirms the booking.
    wait_for(
        lambda: booking_as_admin(counted, shop, booking_id)["status"] == "CONFIRMED", "the genuine event"
    )


# --- rate limits ---------------------------------------------------------------------------------


def test_repeated_failed_sign_ins_are_limited_with_429_and_retry_after(
    stack: Stack, figures: Figures, shop: Shop
) -> None:
    with client_from_new_address(stack) as client:
        for _ in range(5):
            wrong = client.post(
                "/v1/auth/login", json={"email": shop.tenant.admin_email, "password": "wrong-pass"}
            )
            figures.request(CATEGORY, wrong.status_code)
            assert_error(wrong, 401, "UNAUTHENTICATED")
        limited = client.post(
            "/v1/auth/login", json={"email": shop.tenant.admin_email, "password": shop.tenant.admin_password}
        )
        figures.request(CATEGORY, limited.status_code)
        assert_error(limited, 429, "RATE_LIMITED")
        assert int(limited.headers["Retry-After"]) > 0


def test_a_burst_of_checkouts_from_one_address_is_limited_with_429_and_retry_after_across_gateways(
    stack: Stack, api: httpx.Client, make_tenant: MakeTenant, figures: Figures
) -> None:
    shop = open_shop(api, make_tenant, "rate")
    # Above the checkout limit, so that it is the rate limit this test meets, not the bound on live holds.
    raised = api.patch(
        "/v1/tenant-admin/settings",
        json={"policy": {"maxLiveHoldsPerAddress": 100}},
        headers=shop.tenant.admin_headers(),
    )
    assert raised.status_code == 200, raised.text
    ip = fresh_client_ip()
    replicas = [f"http://127.0.0.1:{p}" for p in (stack.ports.gateway, *stack.ports.extra_gateways)]
    answers = []
    # Alternating between the two gateway replicas: the count is shared, not per process.
    for n in range(CHECKOUT_RATE_LIMIT + 1):
        answer = httpx.post(
            f"{replicas[n % 2]}/v1/bookings/checkout",
            json=shop.checkout_body(a_free_day()),
            headers={**shop.tenant.public_headers(), "X-Forwarded-For": ip},
            timeout=20,
        )
        figures.request(CATEGORY, answer.status_code)
        answers.append(answer)
    assert [a.status_code for a in answers[:-1]] == [201] * CHECKOUT_RATE_LIMIT, [
        a.text for a in answers[-3:]
    ]
    assert_error(answers[-1], 429, "RATE_LIMITED")
    assert int(answers[-1].headers["Retry-After"]) > 0
    # Another couple (another address) is not held back by the first one's burst.
    other = httpx.post(
        f"{replicas[0]}/v1/bookings/checkout",
        json=shop.checkout_body(a_free_day()),
        headers={**shop.tenant.public_headers(), "X-Forwarded-For": fresh_client_ip()},
        timeout=20,
    )
    figures.request(CATEGORY, other.status_code)
    assert other.status_code == 201, other.text


# --- browsers: CORS ------------------------------------------------------------------------------

WIDGET_SITE = "https://bella-weddings.example"
EVIL_SITE = "https://evil.example"


@pytest.fixture(scope="module")
def widget_shop(api: httpx.Client, make_tenant: MakeTenant) -> Shop:
    shop = open_shop(api, make_tenant, "cors")
    answer = api.patch(
        "/v1/tenant-admin/settings",
        json={"allowedOrigins": [WIDGET_SITE]},
        headers=shop.tenant.admin_headers(),
    )
    assert answer.status_code == 200, answer.text
    return shop


def _preflight(http: httpx.Client, path: str, origin: str, method: str = "POST") -> httpx.Response:
    return http.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type,x-tenant-key",
        },
    )


def test_a_preflight_is_allowed_only_from_a_tenants_configured_origin_and_only_for_widget_routes(
    counted: httpx.Client, widget_shop: Shop
) -> None:
    allowed = wait_for(
        lambda: (r := _preflight(counted, "/v1/bookings/checkout", WIDGET_SITE)).status_code == 204 and r,
        "the new origin to be known",
        timeout=5,
    )
    assert allowed.headers["access-control-allow-origin"] == WIDGET_SITE
    assert "x-tenant-key" in allowed.headers["access-control-allow-headers"].lower()
    assert "POST" in allowed.headers["access-control-allow-methods"]
    for path, origin in [
        ("/v1/bookings/checkout", EVIL_SITE),
        ("/v1/bookings/checkout", "null"),
        ("/v1/bookings/checkout", WIDGET_SITE + ".evil.example"),
        ("/v1/tenant-admin/settings", WIDGET_SITE),
        ("/v1/admin/tenants", WIDGET_SITE),
        ("/v1/auth/login", WIDGET_SITE),
    ]:
        refused = _preflight(counted, path, origin)
        assert refused.status_code == 403, f"{path} from {origin}: {refused.status_code}"
        assert "access-control-allow-origin" not in refused.headers
        assert_error(refused, 403, "ORIGIN_NOT_ALLOWED")


def test_a_widget_call_is_answered_for_its_tenants_origin_and_refused_from_any_other(
    counted: httpx.Client, widget_shop: Shop, shop: Shop
) -> None:
    ok = counted.get("/v1/tenant", headers={**widget_shop.tenant.public_headers(), "Origin": WIDGET_SITE})
    assert ok.status_code == 200, ok.text
    assert ok.headers["access-control-allow-origin"] == WIDGET_SITE
    assert "Origin" in ok.headers["vary"]
    day = a_free_day()
    for key_of, origin in ((widget_shop, EVIL_SITE), (shop, WIDGET_SITE)):
        # Another site, or another tenant's site using this tenant's public key: nothing runs.
        body = key_of.checkout_body(day)
        refused = counted.post(
            "/v1/bookings/checkout", json=body, headers={**key_of.tenant.public_headers(), "Origin": origin}
        )
        assert_error(refused, 403, "ORIGIN_NOT_ALLOWED")
        assert "access-control-allow-origin" not in refused.headers
        free = counted.get("/v1/availability", params={"date": day}, headers=key_of.tenant.public_headers())
        assert free.json()["available"] is True
    # Without a browser's Origin (a server, a script) the key alone decides.
    assert (
        "access-control-allow-origin"
        not in counted.get("/v1/tenant", headers=widget_shop.tenant.public_headers()).headers
    )


def test_admin_answers_never_carry_cors_headers(counted: httpx.Client, widget_shop: Shop) -> None:
    answer = counted.get(
        "/v1/tenant-admin/settings", headers={**widget_shop.tenant.admin_headers(), "Origin": WIDGET_SITE}
    )
    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers


# --- security headers ----------------------------------------------------------------------------


def test_every_answer_carries_the_security_headers_including_the_proxys_own(
    counted: httpx.Client, api: httpx.Client, shop: Shop
) -> None:
    spec = api.get("/openapi.json").json()
    answers = [
        counted.get(path, headers=shop.tenant.public_headers())
        for path, item in spec["paths"].items()
        if "get" in item and "{" not in path
    ]
    answers += [
        counted.get("/v1/no-such-route"),
        counted.delete("/health"),
        counted.post("/v1/auth/login", content=b"{", headers={"content-type": "application/json"}),
        counted.post("/v1/auth/login", content=b"x" * (1024 * 1024 + 1)),
        counted.get("/health", headers={"X-Filler": "x" * 40_000}),
        _preflight(counted, "/v1/bookings/checkout", EVIL_SITE),
        counted.get("/metrics"),
        counted.get("/openapi.json"),
    ]
    assert len(answers) > 15
    for answer in answers:
        for name, value in SECURITY_HEADERS:
            got = answer.headers.get(name.decode())
            assert got == value.decode(), (
                f"{answer.request.method} {answer.request.url.path} "
                f"({answer.status_code}): {name.decode()}={got!r}"
            )


# --- internal gRPC -------------------------------------------------------------------------------


def _calls(tenant_id: str) -> dict[str, tuple[Any, Any, Any]]:
    """One real RPC per service: (stub class, method name, request)."""
    return {
        "tenant": (
            tenant_grpc.TenantServiceStub,
            "GetTenant",
            tenant_pb.GetTenantRequest(tenant_id=tenant_id),
        ),
        "catalog": (
            catalog_grpc.CatalogServiceStub,
            "ListPackages",
            catalog_pb.ListPackagesRequest(tenant_id=tenant_id),
        ),
        "booking": (
            booking_grpc.BookingServiceStub,
            "ListBookings",
            booking_pb.ListBookingsRequest(tenant_id=tenant_id),
        ),
        "payments": (
            payments_grpc.PaymentsServiceStub,
            "ListEvents",
            payments_pb.ListEventsRequest(tenant_id=tenant_id),
        ),
    }


def test_internal_grpc_ports_refuse_callers_without_the_internal_credential(
    stack: Stack, shop: Shop, figures: Figures
) -> None:
    for service, (stub_class, method, request) in _calls(shop.tenant.id).items():
        with grpc.insecure_channel(f"127.0.0.1:{getattr(stack.ports, service)}") as channel:
            call = getattr(stub_class(channel), method)
            for metadata in ((), (("x-mais-internal", "guessed"),), (("x-mais-internal", ""),)):
                with pytest.raises(grpc.RpcError) as refused:
                    call(request, metadata=metadata, timeout=5)
                figures.request(CATEGORY, 401)
                assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, (service, metadata)
            reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
            with pytest.raises(grpc.RpcError) as hidden:
                list(
                    reflection.ServerReflectionInfo(
                        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
                    )
                )
            assert hidden.value.code() == grpc.StatusCode.UNAUTHENTICATED, service
            # The genuine credential gets through (the refusals above are the credential's doing).
            call(request, metadata=(("x-mais-internal", stack.internal_token),), timeout=5)


def test_the_public_entry_does_not_route_to_internal_grpc_services(
    stack: Stack, counted: httpx.Client, shop: Shop
) -> None:
    for path in (
        "/mais.tenant.v1.TenantService/ListTenants",
        "/mais.booking.v1.BookingService/ListBookings",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ):
        answer = counted.post(
            path,
            content=b"\x00\x00\x00\x00\x00",
            headers={
                "content-type": "application/grpc",
                "te": "trailers",
                "x-mais-internal": stack.internal_token,
            },
        )
        assert_error(answer, 404, "NOT_FOUND")
    # Even a real gRPC client with the real credential gets no gRPC service at the public entry.
    with grpc.insecure_channel(f"127.0.0.1:{stack.ports.public}") as channel:
        stub = tenant_grpc.TenantServiceStub(channel)
        with pytest.raises(grpc.RpcError):
            stub.ListTenants(
                tenant_pb.ListTenantsRequest(),
                metadata=(("x-mais-internal", stack.internal_token),),
                timeout=5,
            )


def test_service_ports_listen_on_loopback_only(stack: Stack) -> None:
    listening = _listening_addresses()
    for service in ("tenant", "catalog", "booking", "payments", "payments_webhooks"):
        port = getattr(stack.ports, service)
        hosts = {host for host, p in listening if p == port}
        assert hosts == {"127.0.0.1"}, f"{service} listens on {hosts}"


def _listening_addresses() -> set[tuple[str, int]]:
    """(host, port) of every listening TCP socket, IPv4-mapped IPv6 addresses shown as IPv4."""
    found = set()
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            parts = line.split()
            if parts[3] != "0A":  # LISTEN
                continue
            address, port = parts[1].rsplit(":", 1)
            raw = bytes.fromhex(address)
            # The kernel prints each 32-bit word in host (little-endian) order.
            ordered = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            ip = ipaddress.ip_address(ordered)
            if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
                ip = ip.ipv4_mapped
            found.add((str(ip), int(port, 16)))
    return found
